// dev/cpu/bench_rmsnorm.cpp: the shipped RMSNorm kernels (kernels/cpu/rmsnorm.h
// and residual.h, included, not copied) at the trainer's shape: plain against
// fast, agreement, ms and GB/s (these kernels are bound by memory, not FLOPs:
// GB/s counts each tensor read or written once).
//   forward:  residual_forward + rmsnorm_forward   vs  residual_rmsnorm_forward (one pass)
//   backward: rmsnorm_backward                     vs  rmsnorm_backward_fast
//   make build/bench_rmsnorm && build/bench_rmsnorm            (all threads, wall clock)
//   build/bench_rmsnorm --cpu-time                             (1 thread, CPU time)
#include <cstdio>
#include <vector>

#include "../../kernels/cpu/residual.h"
#include "../../kernels/cpu/rmsnorm.h"
#include "bench_common.h"

int main(int argc, char** argv) {
    BenchClock clk = bench_clock(argc, argv);
    const int N = 4096, C = 256;  // llama-5M, B=16, T=256
    const size_t n = (size_t)N * C;
    std::vector<float> x(n), y(n), w(C), res(n), out(n), rstd(N), res2(n), out2(n), rstd2(N);
    std::vector<float> dout(n), dx(n, 0.0f), dw(C, 0.0f), dx2(n, 0.0f), dw2(C, 0.0f);
    bench_fill(x, 1);
    bench_fill(y, 2);
    bench_fill(w, 3);
    bench_fill(dout, 4);
    printf("threads %d, clock %s; N=%d C=%d (llama-5M, B=16, T=256)\n", bench_threads(),
           clk.cpu ? "thread CPU time (best)" : "wall (median)", N, C);
    printf("%-34s %10s %10s %9s %10s %9s\n", "kernel", "plain ms", "fast ms", "speedup", "fast GB/s", "max err");
    double tp = clk.time_s(9, [&] {
        residual_forward(res.data(), x.data(), y.data(), n);
        rmsnorm_forward(out.data(), rstd.data(), res.data(), w.data(), N, C, 1e-5f);
    });
    double tf = clk.time_s(9, [&] {
        residual_rmsnorm_forward(res2.data(), out2.data(), rstd2.data(), x.data(), y.data(), w.data(), N, C, 1e-5f);
    });
    double err = std::max(bench_max_err(out2, out), bench_max_err(res2, res));
    printf("%-34s %10.3f %10.3f %8.2fx %10.1f %9.1e\n", "residual add + rmsnorm forward", tp * 1e3, tf * 1e3, tp / tf,
           4.0 * n * 4 / tf / 1e9, err);
    tp = clk.time_s(9, [&] { rmsnorm_backward(dx.data(), dw.data(), dout.data(), res.data(), w.data(), rstd.data(), N, C); });
    tf = clk.time_s(9, [&] {
        rmsnorm_backward_fast(dx2.data(), dw2.data(), dout.data(), res.data(), w.data(), rstd.data(), N, C);
    });
    // both accumulated over 10 runs from zero: compare the sums
    err = std::max(bench_max_err(dx2, dx), bench_max_err(dw2, dw));
    printf("%-34s %10.3f %10.3f %8.2fx %10.1f %9.1e\n", "rmsnorm backward", tp * 1e3, tf * 1e3, tp / tf,
           4.0 * n * 4 / tf / 1e9, err);
    return 0;
}
