// dev/cpu/bench_matmul.cpp: the shipped matmul kernels (kernels/cpu/matmul.h,
// included, not copied) on the trainers' real shapes: agreement with the plain
// reference, GFLOP/s, % of the measured FMA peak, and OpenBLAS sgemm on the
// same product with the same thread count when built with -DHAVE_OPENBLAS
// (make build/bench_matmul does that if the library is installed), and the
// bf16 path (operands rounded to bf16 as they are packed, fp32 accumulation)
// against the plain loops on rounded operands and against the bf16 peak.
// Both columns run on the GEMM path the trainers would pick here (the best
// this CPU has, kernels/cpu/matmul.h); LLM_ISA picks another, so on an AMX
// machine the bf16 column is AMX, and LLM_ISA=avx512_bf16 gives vdpbf16ps's.
//   make build/bench_matmul && build/bench_matmul          (all threads, wall clock)
//   build/bench_matmul --cpu-time                           (1 thread, CPU time: for a busy machine)
//   build/bench_matmul --quick                              (N = 512 rows: a smoke run)
//   LLM_ISA=avx2 build/bench_matmul                         (another path: plain, avx2, avx512, avx512_bf16, amx)
#include <cstdio>
#include <cstring>
#include <string>

#include "../../kernels/cpu/matmul.h"
#include "bench_common.h"
#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

struct Shape {
    const char* name;
    int N, C, OC;
};

int main(int argc, char** argv) {
    BenchClock clk = bench_clock(argc, argv);
    // llama-5M and llama-1M at B=16, T=256 (N = 4096 tokens); the classifier runs on chunks of 512 rows
    int N = bench_has_flag(argc, argv, "--quick") ? 512 : 4096;
    Shape shapes[] = {
        {"qkv   (llama-5M)", N, 256, 768},  {"wo    (llama-5M)", N, 256, 256}, {"w13   (llama-5M)", N, 256, 1024},
        {"w2    (llama-5M)", N, 512, 256},  {"cls   (512-row chunk)", 512, 256, 4096},
        {"qkv   (llama-1M)", N, 128, 256},  {"w13   (llama-1M)", N, 128, 512}, {"w2    (llama-1M)", N, 256, 128},
        {"qkv   (gpt2-124M, B4 T64)", 256, 768, 2304}, {"fc    (gpt2-124M, B4 T64)", 256, 768, 3072},
        {"cls   (gpt2-124M, B4 T64)", 256, 768, 50304},
    };
    int threads = bench_threads();
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(threads);
#endif
    double peak = bench_peak(clk);
    printf("threads %d, clock %s, measured FMA peak %.1f GFLOP/s\n", threads, clk.cpu ? "thread CPU time (best)" : "wall (median)",
           peak / 1e9);
    double peak_bf16 = bench_peak_bf16(clk);
    printf("GEMM path %s: fp32 on %s; bf16 on %s\n", gemm::isa_name(gemm::active_isa()),
           gemm::kernels_for(gemm::active_isa(), false).what, gemm::kernels_for(gemm::active_isa(), true).what);
    if (peak_bf16 > 0)
        printf("measured bf16 peak %.1f GFLOP/s (%s)\n", peak_bf16 / 1e9,
               gemm::active_isa() == gemm::Isa::amx ? "TDPBF16PS on AMX tiles" : "vdpbf16ps");
    printf("%-28s %-8s %9s %9s %7s %10s %8s %9s | %9s %9s %7s %7s %9s\n", "shape (N, C, OC)", "product", "ms", "GFLOP/s",
           "%peak", "BLAS GF/s", "vs BLAS", "max err", "bf16 ms", "GFLOP/s", "%peak", "vs fp32", "max err");
    double total_ours = 0.0, total_blas = 0.0, total_fp32 = 0.0, total_bf16 = 0.0;
    for (const Shape& s : shapes) {
        std::vector<float> inp((size_t)s.N * s.C), w((size_t)s.OC * s.C), dout((size_t)s.N * s.OC);
        bench_fill(inp, 1);
        bench_fill(w, 2);
        bench_fill(dout, 3);
        double flops = 2.0 * s.N * s.C * s.OC;
        for (int which = 0; which < 3; which++) {
            const char* prod = which == 0 ? "fwd" : which == 1 ? "dinp" : "dweight";
            size_t n_out = which == 0 ? (size_t)s.N * s.OC : which == 1 ? (size_t)s.N * s.C : (size_t)s.OC * s.C;
            std::vector<float> out(n_out, 0.0f), ref(n_out, 0.0f);
            auto product = [&](bool bf16) {
                if (which == 0) matmul_forward(out.data(), inp.data(), w.data(), s.N, s.C, s.OC, bf16);
                else if (which == 1) matmul_backward_set_dinp(out.data(), nullptr, dout.data(), inp.data(), w.data(), s.N, s.C, s.OC, bf16);
                else matmul_backward(nullptr, out.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC, bf16);
            };
            auto plain = [&](const std::vector<float>& i_, const std::vector<float>& w_, const std::vector<float>& d_) {
                std::fill(ref.begin(), ref.end(), 0.0f);
                if (which == 0) matmul_forward_ref(ref.data(), i_.data(), w_.data(), s.N, s.C, s.OC);
                else if (which == 1) matmul_backward_ref(ref.data(), nullptr, d_.data(), i_.data(), w_.data(), s.N, s.C, s.OC);
                else matmul_backward_ref(nullptr, ref.data(), d_.data(), i_.data(), w_.data(), s.N, s.C, s.OC);
            };
            double t = clk.time_s(5, [&] { product(false); });
            double t16 = clk.time_s(5, [&] { product(true); });
            // agreement: one fresh run of each against the plain loops; bf16's
            // against the plain loops on the bf16-rounded operands
            std::fill(out.begin(), out.end(), 0.0f);
            product(false);
            plain(inp, w, dout);
            double err = bench_max_err(out, ref);
            std::fill(out.begin(), out.end(), 0.0f);
            product(true);
            plain(bf16_rounded(inp), bf16_rounded(w), bf16_rounded(dout));
            double err16 = bench_max_err(out, ref);
            double blas = 0.0;
#ifdef HAVE_OPENBLAS
            std::vector<float> bo = out;
            double tb = clk.time_s(5, [&]() {
                if (which == 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.N, s.OC, s.C, 1.0f, inp.data(), s.C, w.data(), s.C, 0.0f, bo.data(), s.OC);
                else if (which == 1)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.N, s.C, s.OC, 1.0f, dout.data(), s.OC, w.data(), s.C, 0.0f, bo.data(), s.C);
                else
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.OC, s.C, s.N, 1.0f, dout.data(), s.OC, inp.data(), s.C, 1.0f, bo.data(), s.C);
            });
            blas = flops / tb;
            if (s.N == N && s.C <= 512 && s.OC <= 1024 && s.C >= 256) { total_ours += t; total_blas += tb; }
#endif
            printf("%-28s %-8s %9.2f %9.1f %6.1f%% %10.1f %7.0f%% %9.1e | %9.2f %9.1f %6.1f%% %6.2fx %9.1e%s\n", s.name,
                   prod, t * 1e3, flops / t / 1e9, 100 * flops / t / peak, blas / 1e9,
                   blas > 0 ? 100 * (flops / t) / blas : 0.0, err, t16 * 1e3, flops / t16 / 1e9,
                   peak_bf16 > 0 ? 100 * flops / t16 / peak_bf16 : 0.0, t / t16, err16,
                   err > 1e-3 || err16 > 1e-3 ? "  MISMATCH" : "");
            if (s.N == N && s.C <= 512 && s.OC <= 1024 && s.C >= 256) { total_fp32 += t; total_bf16 += t16; }
        }
    }
    printf("llama-5M layer products (4 shapes × 3): fp32 %.1f ms, bf16 %.1f ms: bf16 %.2fx faster\n",
           total_fp32 * 1e3, total_bf16 * 1e3, total_fp32 / total_bf16);
    if (total_blas > 0)
        printf("llama-5M layer products (4 shapes × 3): ours %.1f ms, OpenBLAS %.1f ms: %.0f%% of OpenBLAS speed\n",
               total_ours * 1e3, total_blas * 1e3, 100 * total_blas / total_ours);
    return 0;
}
