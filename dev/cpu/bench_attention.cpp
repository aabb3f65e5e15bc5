// dev/cpu/bench_attention.cpp: the shipped attention kernels
// (kernels/cpu/attention.h, included, not copied) on the trainers' shapes:
// the plain version (keeps (B, NH, T, T) probabilities) against the tiled
// flash version, forward and backward: agreement, ms, GFLOP/s, % of peak.
// FLOPs count the causal half only: forward 2·2·B·NH·HS·T(T+1)/2 (q·k and p·v),
// backward twice that, as the trainer's MFU does.
//   make build/bench_attention && build/bench_attention       (all threads, wall clock)
//   build/bench_attention --cpu-time                           (1 thread, CPU time)
#include <cstdio>
#include <vector>

#include "../../kernels/cpu/attention.h"
#include "bench_common.h"

struct Shape {
    const char* name;
    int B, T, NH, NKV, HS;
};

int main(int argc, char** argv) {
    BenchClock clk = bench_clock(argc, argv);
    const Shape shapes[] = {
        {"llama-5M B16 T256", 16, 256, 4, 4, 64},
        {"llama-1M B16 T256 (GQA 4/2)", 16, 256, 4, 2, 32},
        {"llama-5M B4 T1024", 4, 1024, 4, 4, 64},
        {"llama-5M B64 T64", 64, 64, 4, 4, 64},
    };
    double peak = bench_peak(clk);
    printf("threads %d, clock %s, measured FMA peak %.1f GFLOP/s\n", bench_threads(),
           clk.cpu ? "thread CPU time (best)" : "wall (median)", peak / 1e9);
    printf("%-30s %-10s %10s %10s %9s %10s %10s %8s\n", "shape", "pass", "plain ms", "flash ms", "speedup",
           "GFLOP/s", "% peak", "max err");
    for (const Shape& s : shapes) {
        const size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
        std::vector<float> qkv(n), dout(no), out_ref(no), out(no), att((size_t)s.B * s.NH * s.T * s.T),
            lse((size_t)s.B * s.NH * s.T), dq_ref(n), dq(n);
        bench_fill(qkv, 1);
        bench_fill(dout, 2);
        const double fwd_flops = 4.0 * s.B * s.NH * s.HS * (double)s.T * (s.T + 1) / 2;
        double tp = clk.time_s(3, [&] { attention_forward(out_ref.data(), att.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS); });
        double tf = clk.time_s(5, [&] { attention_forward_flash(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS); });
        double err = bench_max_err(out, out_ref);
        printf("%-30s %-10s %10.2f %10.2f %8.1fx %10.1f %9.1f%% %8.1e%s\n", s.name, "forward", tp * 1e3, tf * 1e3, tp / tf,
               fwd_flops / tf / 1e9, 100 * fwd_flops / tf / peak, err, err > 1e-4 ? "  MISMATCH" : "");
        tp = clk.time_s(3, [&] {
            attention_backward(dq_ref.data(), dout.data(), qkv.data(), att.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        });
        tf = clk.time_s(5, [&] {
            attention_backward_flash(dq.data(), dout.data(), qkv.data(), out.data(), lse.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        });
        err = bench_max_err(dq, dq_ref);
        printf("%-30s %-10s %10.2f %10.2f %8.1fx %10.1f %9.1f%% %8.1e%s\n", s.name, "backward", tp * 1e3, tf * 1e3,
               tp / tf, 2 * fwd_flops / tf / 1e9, 100 * 2 * fwd_flops / tf / peak, err, err > 1e-4 ? "  MISMATCH" : "");
    }
    return 0;
}
