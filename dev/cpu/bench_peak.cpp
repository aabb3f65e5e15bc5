// dev/cpu/bench_peak.cpp: the machine's measured peaks, the denominators of
// every "% of peak" and MFU the benchmarks print: what the CPU has and which
// GEMM path runs, an FMA-throughput probe (independent FMA chains on
// registers, measure_peak_flops in bench_common.h) on 1 thread and on all
// threads, the bf16 probes the CPU allows (vdpbf16ps; TDPBF16PS on AMX
// tiles), the GEMM's own micro-kernels alone (see micro_probe), and OpenBLAS
// sgemm on a large square product when built with -DHAVE_OPENBLAS.
//   make build/bench_peak && build/bench_peak           (prints a table)
//   build/bench_peak --gflops                           (prints only the all-threads FMA probe, for scripts)
//   build/bench_peak --gflops-bf16                      (the same for the active path's bf16 probe, 0 if none)
//   LLM_ISA=avx2 build/bench_peak                       (the probes of another path)
#include <cstdio>
#include <cstring>
#include <vector>

#include "bench_common.h"
#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

// The active path's micro-kernel alone, the work of a depth-256 product
// (the llama-5M forward's): every thread calls it on its own packed panels,
// which stay in L1/L2, for every MR×NR tile of a 64 MB Cm of its own, row
// stride 1,024 floats. With cold set the tiles are written to that matrix,
// which no cache holds, as a step's large products write their outputs; else
// all to one tile that stays in L1. probe vs hot: what the micro-kernel loses
// to its own loop and stores; hot vs cold: what writing outputs to memory costs it.
static double micro_probe(const gemm::Kernels& kn, bool cold) {
    const int kw = kn.bf16 ? 128 : 256, ldc = 1024, rows = (16 << 20) / ldc;
    const int apanels = 12, bpanels = ldc / kn.NR;
    const uint32_t one = kn.bf16 ? 0x3f803f80u : 0x3f800000u;  // 1.0 (a pair of bf16 1.0s): no overflow
    double flops = 0.0, t = 0.0;
    #pragma omp parallel reduction(+ : flops) reduction(max : t)
    {
        const size_t a_words = (size_t)apanels * kn.MR * kw, b_words = (size_t)bpanels * kn.NR * kw;
        uint32_t* A = (uint32_t*)aligned_alloc(64, (a_words + b_words) * 4);
        float* C = (float*)aligned_alloc(64, (size_t)rows * ldc * 4);
        if (!A || !C) abort();
        uint32_t* B = A + a_words;
        for (size_t i = 0; i < a_words + b_words; i++) A[i] = one;
        memset(C, 0, (size_t)rows * ldc * 4);  // its pages exist before the clock starts
        if (kn.thread_begin) kn.thread_begin();
        long calls = 0;
        const double t0 = bench_now_s();
        for (int r = 0; r + kn.MR <= rows; r += kn.MR)
            for (int j = 0; j < bpanels; j++, calls++)
                kn.micro(kw, A + (size_t)(calls % apanels) * kn.MR * kw, B + (size_t)j * kn.NR * kw,
                         cold ? C + (size_t)r * ldc + (size_t)j * kn.NR : C, cold ? ldc : kn.NR, false);
        t = bench_now_s() - t0;
        if (kn.thread_end) kn.thread_end();
        flops = 2.0 * kn.MR * kn.NR * (kn.bf16 ? 2 * kw : kw) * calls;
        free(A);
        free(C);
    }
    return flops / t;
}

static void print_micro_probe(bool bf16, double peak, int threads) {
    const gemm::Kernels& kn = gemm::kernels_for(gemm::active_isa(), bf16);
    const double hot = micro_probe(kn, false), cold = micro_probe(kn, true);
    printf("micro-kernel %s (%s), depth 256, %d threads: %.1f GFLOP/s writing one hot tile (%.0f%% of the probe), "
           "%.1f writing across 64 MB a thread (%.0f%%)\n", bf16 ? "bf16" : "fp32", kn.what, threads, hot / 1e9,
           100 * hot / peak, cold / 1e9, 100 * cold / peak);
}

int main(int argc, char** argv) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    if (argc > 1 && !strcmp(argv[1], "--gflops")) {
        printf("%.0f\n", measure_peak_flops() / 1e9);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--gflops-bf16")) {  // 0 without avx512_bf16
        printf("%.0f\n", measure_peak_bf16(false) / 1e9);
        return 0;
    }
    const CpuFeatures& f = cpu_features();
    printf("CPU: %s (%s); avx2+fma %s, avx512 %s, avx512_bf16 %s, amx_bf16 %s\n", f.brand.c_str(), f.vendor.c_str(),
           f.avx2_fma ? "yes" : "no", f.avx512 ? "yes" : "no", f.avx512_bf16 ? "yes" : "no",
           f.amx_bf16 ? "yes" : "no");  // why not: the AMX probe's line below
    printf("GEMM path: %s (best here: %s)\n", gemm::isa_name(gemm::active_isa()), gemm::isa_name(gemm::best_isa()));
    double all = measure_peak_flops();
    double one = all;
#ifdef _OPENMP
    omp_set_num_threads(1);
    one = measure_peak_flops();
    omp_set_num_threads(threads);
#endif
    printf("FMA probe: %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on %d threads\n", one / 1e9, all / 1e9, threads);
    print_micro_probe(false, all, threads);
#if defined(__x86_64__)
    if (f.avx512_bf16) {
        double dp = measure_peak(bf16_probe_avx512, false);
        printf("bf16 dot-product probe (vdpbf16ps): %.1f GFLOP/s on %d threads (%.2fx the FMA probe)\n", dp / 1e9,
               threads, dp / all);
        if (gemm::active_isa() == gemm::Isa::avx512_bf16) print_micro_probe(true, dp, threads);
    } else
        printf("bf16 dot-product probe: skipped, no avx512_bf16 on this CPU\n");
    if (f.amx_bf16) {
        double amx = measure_peak(amx_probe, false);
        printf("AMX probe (TDPBF16PS on tiles): %.1f GFLOP/s on %d threads (%.2fx the FMA probe)\n", amx / 1e9,
               threads, amx / all);
        if (gemm::active_isa() == gemm::Isa::amx) print_micro_probe(true, amx, threads);
    } else {
        printf("AMX probe: skipped, %s\n", gemm::isa_unsupported(gemm::Isa::amx).c_str());
    }
#endif
#ifdef HAVE_OPENBLAS
    const int n = 2048;
    std::vector<float> a((size_t)n * n), b((size_t)n * n), c((size_t)n * n);
    bench_fill(a, 1);
    bench_fill(b, 2);
    double t = bench_median_s(5, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                    c.data(), n);
    });
    double f = 2.0 * n * n * n / t;
    printf("OpenBLAS sgemm %dx%dx%d: %.1f GFLOP/s on %d threads (%.0f%% of the probe)\n", n, n, n, f / 1e9, threads,
           100 * f / all);
#endif
    return 0;
}
