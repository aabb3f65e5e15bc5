// dev/cpu/bench_gpt2_kernels.cpp: the kernels GPT-2 adds (kernels/cpu/
// layernorm.h, gelu.h, bias.h, position.h; included, not copied), fast path
// against its plain _ref version on GPT-2 124M's shapes: time, speed-up,
// memory bandwidth of the fast path, and their largest disagreement. Then the
// cost of the bias inside matmul_forward_bias / matmul_backward_bias.
//   make build/bench_gpt2_kernels && build/bench_gpt2_kernels          (all threads)
//   OMP_NUM_THREADS=1 build/bench_gpt2_kernels                          (one core)
//   build/bench_gpt2_kernels --quick                                    (B=4, T=64 only)
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "../../kernels/cpu/bias.h"
#include "../../kernels/cpu/gelu.h"
#include "../../kernels/cpu/layernorm.h"
#include "../../kernels/cpu/position.h"
#include "bench_common.h"

// One kernel at one shape: `fast` and `ref` each fill their output (`out_fast`, `out_ref`
// must be restored by `reset` before every run); bytes is the traffic one call must move.
struct Case {
    std::string name;
    double bytes;
    std::function<void()> reset, fast, ref;
    const std::vector<float>* out_fast;
    const std::vector<float>* out_ref;
};

static void run_case(const Case& k) {
    double t_fast = bench_median_s(7, [&] { k.reset(); k.fast(); });
    double t_ref = bench_median_s(7, [&] { k.reset(); k.ref(); });
    double t_reset = bench_median_s(7, [&] { k.reset(); });
    t_fast = std::max(t_fast - t_reset, 1e-9);
    t_ref = std::max(t_ref - t_reset, 1e-9);
    k.reset();
    k.fast();
    std::vector<float> got = *k.out_fast;
    k.reset();
    k.ref();
    double err = bench_max_err(got, *k.out_ref);
    printf("%-34s %9.3f %9.3f %7.1fx %8.1f %10.1e%s\n", k.name.c_str(), t_fast * 1e3, t_ref * 1e3, t_ref / t_fast,
           k.bytes / t_fast / 1e9, err, err > 1e-4 ? "  MISMATCH" : "");
}

static void bench_shape(int B, int T) {
    const int C = 768, BT = B * T;
    char tag[32];
    snprintf(tag, sizeof tag, " (B%d T%d)", B, T);
    std::vector<float> x((size_t)BT * C), w(C), b(C), dout((size_t)BT * C), h((size_t)BT * 4 * C), dh(h.size());
    std::vector<float> wpe((size_t)T * C);
    bench_fill(x, 1); bench_fill(w, 2); bench_fill(b, 3); bench_fill(dout, 4); bench_fill(h, 5); bench_fill(dh, 6);
    bench_fill(wpe, 7);
    for (float& v : h) v *= 3.0f;  // GELU's inputs span its bend and both tails
    std::vector<float> out(x.size()), out2(x.size()), mean(BT), rstd(BT), mean2(BT), rstd2(BT);
    std::vector<float> dx(x.size()), dx2(x.size()), dw(C), db(C), dw2(C), db2(C);
    std::vector<float> g(h.size()), g2(h.size());
    std::vector<float> bias3(4 * C), dbias3(4 * C), dbias3b(4 * C);
    bench_fill(bias3, 8);
    std::vector<float> dwpe(wpe.size()), dwpe2(wpe.size());
    const double f = sizeof(float);
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), BT, C, 1e-5f);

    std::vector<Case> cases = {
        {std::string("layernorm fwd") + tag, f * 2 * BT * C, [] {},
         [&] { layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), BT, C, 1e-5f); },
         [&] { layernorm_forward_ref(out2.data(), mean2.data(), rstd2.data(), x.data(), w.data(), b.data(), BT, C, 1e-5f); },
         &out, &out2},
        {std::string("layernorm bwd") + tag, f * 4 * BT * C,
         [&] { std::fill(dx.begin(), dx.end(), 0.0f); std::fill(dx2.begin(), dx2.end(), 0.0f);
               std::fill(dw.begin(), dw.end(), 0.0f); std::fill(dw2.begin(), dw2.end(), 0.0f);
               std::fill(db.begin(), db.end(), 0.0f); std::fill(db2.begin(), db2.end(), 0.0f); },
         [&] { layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(), rstd.data(), BT, C); },
         [&] { layernorm_backward_ref(dx2.data(), dw2.data(), db2.data(), dout.data(), x.data(), w.data(), mean.data(), rstd.data(), BT, C); },
         &dx, &dx2},
        {std::string("gelu fwd") + tag, f * 2 * h.size(), [] {},
         [&] { gelu_forward(g.data(), h.data(), h.size()); }, [&] { gelu_forward_ref(g2.data(), h.data(), h.size()); },
         &g, &g2},
        {std::string("gelu bwd") + tag, f * 3 * h.size(), [] {},
         [&] { gelu_backward(g.data(), h.data(), dh.data(), h.size()); },
         [&] { gelu_backward_ref(g2.data(), h.data(), dh.data(), h.size()); }, &g, &g2},
        {std::string("bias fwd, fc") + tag, f * 2 * h.size(), [&] { g = h; g2 = h; },
         [&] { bias_forward(g.data(), bias3.data(), BT, 4 * C); },
         [&] { bias_forward_ref(g2.data(), bias3.data(), BT, 4 * C); }, &g, &g2},
        {std::string("bias bwd, fc") + tag, f * h.size(),
         [&] { std::fill(dbias3.begin(), dbias3.end(), 0.0f); std::fill(dbias3b.begin(), dbias3b.end(), 0.0f); },
         [&] { bias_backward(dbias3.data(), dh.data(), BT, 4 * C); },
         [&] { bias_backward_ref(dbias3b.data(), dh.data(), BT, 4 * C); }, &dbias3, &dbias3b},
        {std::string("position fwd") + tag, f * 2 * BT * C, [&] { out = x; out2 = x; },
         [&] { position_forward(out.data(), wpe.data(), B, T, C); },
         [&] { position_forward_ref(out2.data(), wpe.data(), B, T, C); }, &out, &out2},
        {std::string("position bwd") + tag, f * BT * C,
         [&] { std::fill(dwpe.begin(), dwpe.end(), 0.0f); std::fill(dwpe2.begin(), dwpe2.end(), 0.0f); },
         [&] { position_backward(dwpe.data(), dout.data(), B, T, C); },
         [&] { position_backward_ref(dwpe2.data(), dout.data(), B, T, C); }, &dwpe, &dwpe2},
    };
    for (const Case& k : cases) run_case(k);

    // The bias inside a linear layer: fc (C → 4C) with and without it.
    std::vector<float> wfc((size_t)4 * C * C), dwfc(wfc.size(), 0.0f), dln(x.size(), 0.0f);
    bench_fill(wfc, 9);
    double t_mm = bench_median_s(5, [&] { matmul_forward(g.data(), x.data(), wfc.data(), BT, C, 4 * C); });
    double t_mmb = bench_median_s(5, [&] { matmul_forward_bias(g.data(), x.data(), wfc.data(), bias3.data(), BT, C, 4 * C); });
    double t_bw = bench_median_s(5, [&] { matmul_backward(dln.data(), dwfc.data(), dh.data(), x.data(), wfc.data(), BT, C, 4 * C); });
    double t_bwb = bench_median_s(5, [&] {
        matmul_backward_bias(dln.data(), dwfc.data(), dbias3.data(), dh.data(), x.data(), wfc.data(), BT, C, 4 * C);
    });
    printf("%-34s %9.3f ms with bias, %9.3f ms without: bias costs %.1f%%\n", (std::string("fc fwd") + tag).c_str(),
           t_mmb * 1e3, t_mm * 1e3, 100 * (t_mmb - t_mm) / t_mm);
    printf("%-34s %9.3f ms with bias, %9.3f ms without: bias costs %.1f%%\n", (std::string("fc bwd") + tag).c_str(),
           t_bwb * 1e3, t_bw * 1e3, 100 * (t_bwb - t_bw) / t_bw);
}

int main(int argc, char** argv) {
    bool quick = argc > 1 && !strcmp(argv[1], "--quick");
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("GPT-2 124M shapes (C=768, MLP 4C), %d threads; times are medians, ms\n", threads);
    printf("%-34s %9s %9s %8s %8s %10s\n", "kernel (shape)", "fast", "ref", "speedup", "GB/s", "max err");
    bench_shape(4, 64);
    if (!quick) bench_shape(4, 1024);
    return 0;
}
