// dev/cpu/bench_peak.cpp: the machine's measured peaks, the denominators of
// every "% of peak" and MFU the benchmarks print: what the CPU has and which
// GEMM path runs, an FMA-throughput probe (independent FMA chains on
// registers, measure_peak_flops in bench_common.h) on 1 thread and on all
// threads, the bf16 probes the CPU allows (vdpbf16ps; TDPBF16PS on AMX
// tiles), and OpenBLAS sgemm on a large square product when built with
// -DHAVE_OPENBLAS.
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
#if defined(__x86_64__)
    if (f.avx512_bf16) {
        double dp = measure_peak(bf16_probe_avx512, false);
        printf("bf16 dot-product probe (vdpbf16ps): %.1f GFLOP/s on %d threads (%.2fx the FMA probe)\n", dp / 1e9,
               threads, dp / all);
    } else
        printf("bf16 dot-product probe: skipped, no avx512_bf16 on this CPU\n");
    if (f.amx_bf16) {
        double amx = measure_peak(amx_probe, false);
        printf("AMX probe (TDPBF16PS on tiles): %.1f GFLOP/s on %d threads (%.2fx the FMA probe)\n", amx / 1e9,
               threads, amx / all);
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
