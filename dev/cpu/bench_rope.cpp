// dev/cpu/bench_rope.cpp: the shipped RoPE kernels (kernels/cpu/rope.h,
// included, not copied) on the trainer's qkv buffer, plain against fast
// (rotation as two vector products on expanded tables): agreement, ms, GB/s
// (q and k read and written in place).
//   make build/bench_rope && build/bench_rope                  (all threads, wall clock)
//   build/bench_rope --cpu-time                                (1 thread, CPU time)
#include <cstdio>
#include <vector>

#include "../../kernels/cpu/rope.h"
#include "bench_common.h"

int main(int argc, char** argv) {
    BenchClock clk = bench_clock(argc, argv);
    const int B = 16, T = 256, NH = 4, NKV = 4, HS = 64;  // llama-5M
    const size_t n = (size_t)B * T * (NH + 2 * NKV) * HS;
    std::vector<float> qkv(n), a(n), b(n), fc((size_t)T * HS / 2), fs(fc.size()), c2((size_t)T * HS), s2(c2.size());
    bench_fill(qkv, 1);
    rope_precompute(fc.data(), fs.data(), T, HS, 10000.0f);
    rope_expand_tables(c2.data(), s2.data(), fc.data(), fs.data(), T, HS);
    printf("threads %d, clock %s; B=%d T=%d NH=%d NKV=%d HS=%d (llama-5M)\n", bench_threads(),
           clk.cpu ? "thread CPU time (best)" : "wall (median)", B, T, NH, NKV, HS);
    printf("%-12s %10s %10s %9s %10s %9s\n", "pass", "plain ms", "fast ms", "speedup", "fast GB/s", "max err");
    const double bytes = 2.0 * B * T * (NH + NKV) * HS * 4;
    // agreement on one rotation of the same input
    a = qkv;
    b = qkv;
    rope_forward(a.data(), fc.data(), fs.data(), B, T, NH, NKV, HS);
    rope_forward_fast(b.data(), c2.data(), s2.data(), B, T, NH, NKV, HS);
    double err_f = bench_max_err(b, a);
    rope_backward(a.data(), fc.data(), fs.data(), B, T, NH, NKV, HS);
    rope_backward_fast(b.data(), c2.data(), s2.data(), B, T, NH, NKV, HS);
    double err_b = bench_max_err(b, a);
    // timing: each run rotates the buffer again (rotations keep it bounded)
    for (int pass = 0; pass < 2; pass++) {
        double tp = clk.time_s(9, [&] {
            if (pass == 0) rope_forward(a.data(), fc.data(), fs.data(), B, T, NH, NKV, HS);
            else rope_backward(a.data(), fc.data(), fs.data(), B, T, NH, NKV, HS);
        });
        double tf = clk.time_s(9, [&] {
            if (pass == 0) rope_forward_fast(b.data(), c2.data(), s2.data(), B, T, NH, NKV, HS);
            else rope_backward_fast(b.data(), c2.data(), s2.data(), B, T, NH, NKV, HS);
        });
        printf("%-12s %10.3f %10.3f %8.2fx %10.1f %9.1e\n", pass == 0 ? "forward" : "backward", tp * 1e3, tf * 1e3,
               tp / tf, bytes / tf / 1e9, pass == 0 ? err_f : err_b);
    }
    return 0;
}
