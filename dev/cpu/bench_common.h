// dev/cpu/bench_common.h: timing, agreement checks and the measured peak
// shared by the CPU kernel benchmarks. Peak is measured, not assumed.
#pragma once
#include <sys/time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

inline double bench_now_s() {
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

// Median wall time of `reps` runs of f, after one warm-up run.
template <typename F>
double bench_median_s(int reps, F f) {
    f();
    std::vector<double> t;
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now_s();
        f();
        t.push_back(bench_now_s() - t0);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

inline void bench_fill(std::vector<float>& v, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (float& x : v) x = d(g);
}

// max |a-b| / (1 + |b|)
inline double bench_max_err(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0.0;
    for (size_t i = 0; i < a.size(); i++) m = std::max(m, fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i])));
    return m;
}

// Peak fp32 FLOP/s on all threads: independent FMA chains on registers, enough
// of them to cover the FMA latency, nothing from memory.
inline double measure_peak_flops() {
    double best = 0.0;
    for (int trial = 0; trial < 3; trial++) {
        const long iters = 20000000;
        double t0 = bench_now_s();
        int nth = 1;
        #pragma omp parallel
        {
#ifdef _OPENMP
            #pragma omp single
            nth = omp_get_num_threads();
#endif
#if defined(__AVX512F__)
            __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
            for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
            for (long it = 0; it < iters; it++)
                #pragma GCC unroll 12
                for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
            float sink = 0.0f;
            for (int i = 0; i < 12; i++) sink += _mm512_reduce_add_ps(a[i]);
            if (sink == 12345.0f) printf(" ");
#elif defined(__AVX2__) && defined(__FMA__)
            __m256 a[12], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
            for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
            for (long it = 0; it < iters; it++)
                #pragma GCC unroll 12
                for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
            float buf[8], sink = 0.0f;
            for (int i = 0; i < 12; i++) { _mm256_storeu_ps(buf, a[i]); sink += buf[0]; }
            if (sink == 12345.0f) printf(" ");
#endif
        }
        double dt = bench_now_s() - t0;
#if defined(__AVX512F__)
        double flops = 2.0 * 16 * 12 * iters * nth;
#else
        double flops = 2.0 * 8 * 12 * iters * nth;
#endif
        best = std::max(best, flops / dt);
    }
    return best;
}
