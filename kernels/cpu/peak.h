// kernels/cpu/peak.h: the peak probes, what "% of peak" and MFU are measured
// against. Each runs one instruction set's multiply-adds on registers only
// (independent chains, nothing from memory), so it is the most that ISA can
// issue on this core at its present clock: the FMA probe for fp32 (AVX-512,
// AVX2 or scalar, the active GEMM path's), vdpbf16ps or AMX tiles for bf16.
// The benchmarks in dev/cpu use them (bench_common.h), and the CPU trainers
// measure the peak of their own matmuls' instructions at start (peak_gflops).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "matmul.h"

// The probes below are compiled for each ISA by target pragmas, like the
// GEMM's paths, and run for the path the GEMM runs (gemm::active_isa(), the
// best this CPU has or LLM_ISA's): a "% of peak" is against the peak of the
// instructions the kernel was allowed to use.

// iters × 12 independent FMAs on registers: enough chains to cover the FMA
// latency, nothing from memory. Each returns the FLOPs done.
inline double fma_probe_plain(long iters) {
    float a[12], sink = 0.0f;
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) a[i] = a[i] * 0.999999f + 1e-7f;
    for (int i = 0; i < 12; i++) sink += a[i];
    if (sink == 12345.0f) printf(" ");
    return 2.0 * 12 * iters;
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
inline double fma_probe_avx2(long iters) {
    __m256 a[12], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        #pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
    float buf[8], sink = 0.0f;
    for (int i = 0; i < 12; i++) { _mm256_storeu_ps(buf, a[i]); sink += buf[0]; }
    if (sink == 12345.0f) printf(" ");
    return 2.0 * 8 * 12 * iters;
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")
// Uses a probe's 12 accumulators, so that the compiler keeps the loop that made them.
inline void keep_probe(const __m512 (&a)[12]) {
    // a store, not _mm512_reduce_add_ps: GCC 12's trips -Wuninitialized in its header (bug 105593)
    alignas(64) float lanes[16];
    float sink = 0.0f;
    for (int i = 0; i < 12; i++) { _mm512_store_ps(lanes, a[i]); sink += lanes[0]; }
    if (sink == 12345.0f) printf(" ");
}

inline double fma_probe_avx512(long iters) {
    __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        #pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    keep_probe(a);
    return 2.0 * 16 * 12 * iters;
}

// The bf16 dot-product peak: iters × 12 independent vdpbf16ps on registers,
// 64 FLOPs each (16 lanes × 2 multiply-adds).
inline double bf16_probe_avx512(long iters) {
    __m512 a[12];
    __m512bh b = (__m512bh)_mm512_set1_epi32(0x3f803f80), c = (__m512bh)_mm512_set1_epi32(0x33d633d6);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        #pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbf16_ps(a[i], b, c);
    keep_probe(a);
    return 4.0 * 16 * 12 * iters;
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,amx-tile,amx-bf16")
// The AMX peak: iters/64 × 4 independent TDPBF16PS on register tiles (16×32
// times 32×16 into 16×16: 16,384 FLOPs each), the GEMM micro-kernel's four
// accumulators without its loads. Each thread loads its tile configuration.
inline double amx_probe(long iters) {
    gemm::amx::thread_begin();
    alignas(64) static const uint32_t ones[16 * 16] = {};  // zeros: the sums stay finite
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    const long n = iters / 64;  // a TDPBF16PS is ~16 cycles of work: fewer steps than the vector probes
    for (long it = 0; it < n; it++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    alignas(64) float out[16 * 16];
    _tile_stored(0, out, 64);
    gemm::amx::thread_end();
    if (out[0] == 12345.0f) printf(" ");
    return 4.0 * 16384 * n;
}
#pragma GCC pop_options
#endif  // __x86_64__

// The fp32 FMA probe of the active GEMM path's instruction set.
inline double fma_probe(long iters) {
#if defined(__x86_64__)
    switch (gemm::active_isa()) {
        case gemm::Isa::plain: break;
        case gemm::Isa::avx2: return fma_probe_avx2(iters);
        default: return fma_probe_avx512(iters);
    }
#endif
    return fma_probe_plain(iters);
}

// Whether a path multiplies bf16 on instructions of its own (AMX tiles,
// vdpbf16ps) rather than emulating it on fp32 FMAs.
inline bool bf16_native(gemm::Isa isa) { return isa == gemm::Isa::amx || isa == gemm::Isa::avx512_bf16; }

// The bf16 probe of the active path: AMX tiles, vdpbf16ps, or 0 without either.
inline double bf16_probe(long iters) {
#if defined(__x86_64__)
    if (gemm::active_isa() == gemm::Isa::amx) return amx_probe(iters);
    if (gemm::active_isa() == gemm::Isa::avx512_bf16) return bf16_probe_avx512(iters);
#endif
    (void)iters;
    return 0.0;
}

// The best of three runs of a probe on every thread of the team, in FLOP/s by
// the wall clock; `team`, if given, gets the thread count.
inline double probe_all_threads(double (*probe)(long), long iters, int* team = nullptr) {
    double best = 0.0;
    for (int trial = 0; trial < 3; trial++) {
        double flops = 0.0;
        const auto t0 = std::chrono::steady_clock::now();
        #pragma omp parallel reduction(+ : flops)
        {
            flops += probe(iters);
#ifdef _OPENMP
            if (team) {
                #pragma omp single nowait
                *team = omp_get_num_threads();
            }
#endif
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s > 0) best = std::max(best, flops / s);
    }
    return best;
}

// The peak of this run's matmuls in GFLOP/s, on all of the team's threads by
// the wall clock: the best of three short runs (~15 ms each) of the probe of
// the instructions the active GEMM path multiplies with: AMX tiles or
// vdpbf16ps for bf16, FMA for fp32 and for bf16 where it is emulated on fp32
// FMAs. `what` gets the probe's name and thread count, for the banner.
inline double peak_gflops(bool bf16, std::string* what) {
    const gemm::Isa isa = gemm::active_isa();
    const bool native_bf16 = bf16 && bf16_native(isa);
    int team = 1;
    const double best = probe_all_threads(native_bf16 ? bf16_probe : fma_probe, 5000000, &team);
    if (what) {
        *what = !native_bf16               ? "the fp32 FMA probe"
                : isa == gemm::Isa::amx    ? "the AMX TDPBF16PS probe"
                                           : "the vdpbf16ps probe";
        if (bf16 && !native_bf16) *what += " (bf16 is emulated on FMAs here)";
        *what += " on " + std::to_string(team) + (team == 1 ? " thread" : " threads");
    }
    return best / 1e9;
}
