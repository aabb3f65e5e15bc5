// dev/cpu/bench_attention.cpp: the shipped attention kernels
// (kernels/cpu/attention.h, included, not copied) on the trainers' shapes:
// the plain version (keeps (B, NH, T, T) probabilities) against the tiled
// flash version, forward and backward: agreement, ms, GFLOP/s, % of peak.
// FLOPs count the causal half only: forward 2·2·B·NH·HS·T(T+1)/2 (q·k and p·v),
// backward twice that, as the trainer's MFU does.
// The bf16 columns are the bf16 runs' version (attention_bf16.h: the products
// on the active GEMM path's bf16 kernels; LLM_ISA picks the path), its time,
// GFLOP/s, % of the bf16 peak (build/bench_peak's) and its largest difference
// from the fp32 plain kernel, which bf16 rounding makes ~1e-3, not ~1e-7.
//   make build/bench_attention && build/bench_attention       (all threads, wall clock)
//   build/bench_attention --cpu-time                           (1 thread, CPU time)
#include <algorithm>
#include <cstdio>
#include <vector>

#include "../../kernels/cpu/attention.h"
#include "../../kernels/cpu/attention_bf16.h"
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
    double peak = bench_peak(clk), peak16 = bench_peak_bf16(clk);
    printf("threads %d, clock %s, measured FMA peak %.1f GFLOP/s, bf16 peak %.1f GFLOP/s\n", bench_threads(),
           clk.cpu ? "thread CPU time (best)" : "wall (median)", peak / 1e9, peak16 / 1e9);
    printf("bf16 products on the %s path: %s\n", gemm::isa_name(gemm::active_isa()),
           attn_bf16::kernels(gemm::active_isa()).what);
    printf("%-30s %-9s %9s %9s %8s %8s %7s %8s | %8s %8s %7s %8s %8s\n", "shape", "pass", "plain ms", "flash ms",
           "speedup", "GFLOP/s", "% peak", "max err", "bf16 ms", "GFLOP/s", "% peak", "vs fp32", "max err");
    // one table row: times in s, errors against the plain kernel
    auto row = [&](const char* name, const char* pass, double tp, double tf, double tb, double flops, double err,
                   double err16) {
        printf("%-30s %-9s %9.2f %9.2f %7.1fx %8.1f %6.1f%% %8.1e | %8.2f %8.1f %6.1f%% %7.2fx %8.1e%s\n", name, pass,
               tp * 1e3, tf * 1e3, tp / tf, flops / tf / 1e9, 100 * flops / tf / peak, err, tb * 1e3, flops / tb / 1e9,
               100 * flops / tb / peak16, tf / tb, err16, err > 1e-4 || err16 > 2e-2 ? "  MISMATCH" : "");
    };
    for (const Shape& s : shapes) {
        const size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
        std::vector<float> qkv(n), dout(no), out_ref(no), out(no), att((size_t)s.B * s.NH * s.T * s.T),
            lse((size_t)s.B * s.NH * s.T), dq_ref(n), dq(n), out16(no), lse16(lse.size()), dq16(n);
        bench_fill(qkv, 1);
        bench_fill(dout, 2);
        const double fwd_flops = 4.0 * s.B * s.NH * s.HS * (double)s.T * (s.T + 1) / 2;
        double tp = clk.time_s(3, [&] { attention_forward(out_ref.data(), att.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS); });
        double tf = clk.time_s(5, [&] { attention_forward_flash(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS); });
        double tb = clk.time_s(5, [&] {
            attention_forward_flash(out16.data(), lse16.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS, true);
        });
        row(s.name, "forward", tp, tf, tb, fwd_flops, bench_max_err(out, out_ref), bench_max_err(out16, out_ref));
        tp = clk.time_s(3, [&] {
            attention_backward(dq_ref.data(), dout.data(), qkv.data(), att.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        });
        tf = clk.time_s(5, [&] {
            attention_backward_flash(dq.data(), dout.data(), qkv.data(), out.data(), lse.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        });
        tb = clk.time_s(5, [&] {
            attention_backward_flash(dq16.data(), dout.data(), qkv.data(), out16.data(), lse16.data(), s.B, s.T,
                                     s.NH, s.NKV, s.HS, true);
        });
        row(s.name, "backward", tp, tf, tb, 2 * fwd_flops, bench_max_err(dq, dq_ref), bench_max_err(dq16, dq_ref));
    }
    // Where attention's bf16 products have tiles of their own (attn_bf16::kernels:
    // 16x16 on avx512_bf16), the GEMM's tiles on the same calls, alternating rep
    // by rep, and whether the bits agree (they should: the same sums in the same order).
    const gemm::Kernels &att = attn_bf16::kernels(gemm::active_isa()), &mm = gemm::kernels_for(gemm::active_isa(), true);
    if (&att == &mm) return 0;
    printf("\nattention's tiles (%s) against the GEMM's (%s), the same calls alternating, median of 21:\n", att.what,
           mm.what);
    printf("%-30s %-9s %12s %12s %8s %s\n", "shape", "pass", "GEMM's ms", "own ms", "speedup", "bits");
    for (const Shape& s : shapes) {
        const size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
        std::vector<float> qkv(n), dout(no), out[2], lse[2], dq[2];
        bench_fill(qkv, 1);
        bench_fill(dout, 2);
        const gemm::Kernels* kn[2] = {&mm, &att};
        std::vector<double> tf[2], tb[2];
        for (int k = 0; k < 2; k++) {
            out[k].resize(no);
            lse[k].resize((size_t)s.B * s.NH * s.T);
            dq[k].resize(n);
        }
        for (int rep = 0; rep < 21; rep++)
            for (int k = 0; k < 2; k++) {
                tf[k].push_back(clk.time_s(1, [&] {
                    attn_bf16::forward(*kn[k], out[k].data(), lse[k].data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
                }));
                tb[k].push_back(clk.time_s(1, [&] {
                    attn_bf16::backward(*kn[k], dq[k].data(), dout.data(), qkv.data(), out[k].data(), lse[k].data(),
                                        s.B, s.T, s.NH, s.NKV, s.HS);
                }));
            }
        auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        const bool same_f = out[0] == out[1] && lse[0] == lse[1], same_b = dq[0] == dq[1];
        for (int pass = 0; pass < 2; pass++) {
            const double t0 = median(pass ? tb[0] : tf[0]), t1 = median(pass ? tb[1] : tf[1]);
            printf("%-30s %-9s %12.2f %12.2f %7.2fx %s\n", s.name, pass ? "backward" : "forward", t0 * 1e3, t1 * 1e3,
                   t0 / t1, (pass ? same_b : same_f) ? "same" : "DIFFER");
        }
    }
    return 0;
}
