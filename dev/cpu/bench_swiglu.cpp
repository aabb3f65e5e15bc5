// dev/cpu/bench_swiglu.cpp: the shipped SwiGLU kernels (kernels/cpu/swiglu.h,
// included, not copied) at the trainer's shape, plain against fast
// (vectorised exp): agreement, ms and GB/s (bound by memory: each tensor
// read or written once).
//   make build/bench_swiglu && build/bench_swiglu              (all threads, wall clock)
//   build/bench_swiglu --cpu-time                              (1 thread, CPU time)
#include <cstdio>
#include <vector>

#include "../../kernels/cpu/swiglu.h"
#include "bench_common.h"

int main(int argc, char** argv) {
    BenchClock clk = bench_clock(argc, argv);
    const int N = 4096, H = 512;  // llama-5M, B=16, T=256
    const size_t n = (size_t)N * H;
    std::vector<float> h13(2 * n), out(n), out2(n), dout(n), d(2 * n), d2(2 * n);
    bench_fill(h13, 1);
    for (float& v : h13) v *= 4.0f;
    bench_fill(dout, 2);
    printf("threads %d, clock %s; N=%d H=%d (llama-5M, B=16, T=256)\n", bench_threads(),
           clk.cpu ? "thread CPU time (best)" : "wall (median)", N, H);
    printf("%-12s %10s %10s %9s %10s %9s\n", "pass", "plain ms", "fast ms", "speedup", "fast GB/s", "max err");
    double tp = clk.time_s(9, [&] { swiglu_forward(out.data(), h13.data(), N, H); });
    double tf = clk.time_s(9, [&] { swiglu_forward_fast(out2.data(), h13.data(), N, H); });
    printf("%-12s %10.3f %10.3f %8.2fx %10.1f %9.1e\n", "forward", tp * 1e3, tf * 1e3, tp / tf, 3.0 * n * 4 / tf / 1e9,
           bench_max_err(out2, out));
    tp = clk.time_s(9, [&] { swiglu_backward(d.data(), dout.data(), h13.data(), N, H); });
    tf = clk.time_s(9, [&] { swiglu_backward_fast(d2.data(), dout.data(), h13.data(), N, H); });
    printf("%-12s %10.3f %10.3f %8.2fx %10.1f %9.1e\n", "backward", tp * 1e3, tf * 1e3, tp / tf, 5.0 * n * 4 / tf / 1e9,
           bench_max_err(d2, d));
    return 0;
}
