// dev/cpu/bench_classifier.cpp: the output head with its loss, forward and
// backward, as the trainer runs it: the plain chain (matmul_forward →
// crossentropy_forward → crossentropy_backward → matmul_backward, which keeps
// all (N, V) logits) against the fused, chunked classifier_forward_backward
// (kernels/cpu/classifier.h, included, not copied). Agreement of losses, dx
// and dW; ms, GFLOP/s (6·N·C·V for the three products), % of peak. Then the
// fused classifier on bf16 operands (what --precision auto runs where bf16 is
// the faster, on the active GEMM path): ms, GFLOP/s, % of the bf16 peak, its
// speed against the fp32 fused one, and its largest difference from the fp32
// reference (bf16 rounding: ~1e-2 is expected, not a mismatch).
//   make build/bench_classifier && build/bench_classifier      (all threads, wall clock)
//   build/bench_classifier --cpu-time                          (1 thread, CPU time)
#include <cstdio>
#include <vector>

#include "../../kernels/cpu/classifier.h"
#include "../../kernels/cpu/crossentropy.h"
#include "bench_common.h"

struct Shape {
    const char* name;
    int N, C, V;
};

int main(int argc, char** argv) {
    BenchClock clk = bench_clock(argc, argv);
    const Shape shapes[] = {{"llama-5M B16 T256", 4096, 256, 4096}, {"llama-1M B16 T256", 4096, 128, 4096}};
    double peak = bench_peak(clk), peak16 = bench_peak_bf16(clk);
    printf("threads %d, clock %s, measured FMA peak %.1f GFLOP/s, bf16 peak %.1f GFLOP/s\n", bench_threads(),
           clk.cpu ? "thread CPU time (best)" : "wall (median)", peak / 1e9, peak16 / 1e9);
    printf("bf16 products on the %s path: %s\n", gemm::isa_name(gemm::active_isa()),
           gemm::kernels_for(gemm::active_isa(), true).what);
    printf("%-22s %10s %10s %9s %10s %8s %12s %10s | %8s %8s %7s %8s %8s\n", "shape (N, C, V)", "plain ms", "fused ms",
           "speedup", "GFLOP/s", "% peak", "scratch MB", "max err", "bf16 ms", "GFLOP/s", "% peak", "vs fp32",
           "max err");
    for (const Shape& s : shapes) {
        std::vector<float> x((size_t)s.N * s.C), w((size_t)s.V * s.C), logits((size_t)s.N * s.V);
        std::vector<float> chunk((size_t)std::min(s.N, CLASSIFIER_CHUNK) * s.V);
        std::vector<float> loss_ref(s.N), dx_ref((size_t)s.N * s.C), dw_ref(w.size());
        std::vector<float> loss(s.N), dx((size_t)s.N * s.C), dw(w.size());
        std::vector<int> tgt(s.N);
        bench_fill(x, 1);
        bench_fill(w, 2);
        for (int i = 0; i < s.N; i++) tgt[i] = (i * 7919) % s.V;
        const float dloss = 1.0f / s.N;
        auto plain = [&] {
            std::fill(dx_ref.begin(), dx_ref.end(), 0.0f);
            std::fill(dw_ref.begin(), dw_ref.end(), 0.0f);
            matmul_forward(logits.data(), x.data(), w.data(), s.N, s.C, s.V);
            crossentropy_forward(loss_ref.data(), logits.data(), logits.data(), tgt.data(), s.N, s.V);
            crossentropy_backward(logits.data(), logits.data(), tgt.data(), dloss, s.N, s.V);
            matmul_backward(dx_ref.data(), dw_ref.data(), logits.data(), x.data(), w.data(), s.N, s.C, s.V);
        };
        auto fused = [&] {
            std::fill(dw.begin(), dw.end(), 0.0f);
            classifier_forward_backward(loss.data(), dx.data(), dw.data(), chunk.data(), x.data(), w.data(), tgt.data(),
                                        dloss, s.N, s.C, s.V);
        };
        double tp = clk.time_s(3, plain), tf = clk.time_s(5, fused);
        // the largest difference of the fused run's losses, dx and dW from the plain chain's
        auto max_err = [&] {
            return std::max(bench_max_err(loss, loss_ref), std::max(bench_max_err(dx, dx_ref), bench_max_err(dw, dw_ref)));
        };
        double err = max_err();
        auto fused16 = [&] {
            std::fill(dw.begin(), dw.end(), 0.0f);
            classifier_forward_backward(loss.data(), dx.data(), dw.data(), chunk.data(), x.data(), w.data(), tgt.data(),
                                        dloss, s.N, s.C, s.V, true);
        };
        double tb = clk.time_s(5, fused16);
        double err16 = max_err();
        double flops = 6.0 * s.N * s.C * s.V;
        printf("%-22s %10.2f %10.2f %8.2fx %10.1f %7.1f%% %5.0f vs %-4.0f %10.1e | %8.2f %8.1f %6.1f%% %7.2fx %8.1e%s\n",
               s.name, tp * 1e3, tf * 1e3, tp / tf, flops / tf / 1e9, 100 * flops / tf / peak, chunk.size() * 4 / 1e6,
               logits.size() * 4 / 1e6, err, tb * 1e3, flops / tb / 1e9, peak16 > 0 ? 100 * flops / tb / peak16 : 0.0,
               tf / tb, err16, err > 1e-4 || err16 > 2e-2 ? "  MISMATCH" : "");
    }
    return 0;
}
