// dev/cpu/bench_common.h: timing, agreement checks and the measured peak
// shared by the CPU kernel benchmarks. Peak is measured, not assumed.
//
// Two clocks: the median wall time over all threads (the default), and with
// --cpu-time the best CPU time of one thread (run with OMP_NUM_THREADS=1). On
// a machine shared with other work the wall clock also counts the time a
// thread sat descheduled; the thread's CPU time does not, so the second clock
// still gives the kernel's own speed there.
#pragma once
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../../kernels/cpu/matmul.h"  // gemm::bf16_round, for the bf16 references
#include "../../kernels/cpu/peak.h"    // the probes: fma_probe, bf16_probe

inline double bench_now_s() {
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

// Seconds of CPU time the calling thread has run.
inline double bench_thread_cpu_s() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
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

// Fastest of `reps` runs of f by the calling thread's CPU time, after one
// warm-up run. Only meaningful on one thread: other threads are not counted.
template <typename F>
double bench_min_cpu_s(int reps, F f) {
    f();
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        double t0 = bench_thread_cpu_s();
        f();
        best = std::min(best, bench_thread_cpu_s() - t0);
    }
    return best;
}

inline bool bench_has_flag(int argc, char** argv, const char* flag) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], flag)) return true;
    return false;
}

// The clock a benchmark times with: wall (median) or, with --cpu-time, one thread's CPU time (best).
struct BenchClock {
    bool cpu = false;
    template <typename F>
    double time_s(int reps, F f) const {
        return cpu ? bench_min_cpu_s(reps, f) : bench_median_s(reps, f);
    }
};

inline BenchClock bench_clock(int argc, char** argv) {
    BenchClock c;
    c.cpu = bench_has_flag(argc, argv, "--cpu-time");
#ifdef _OPENMP
    if (c.cpu) omp_set_num_threads(1);
#endif
    return c;
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

inline std::vector<float> bf16_rounded(const std::vector<float>& v) {
    std::vector<float> r(v);
    for (float& x : r) x = gemm::bf16_round(x);
    return r;
}

// The best of three runs of a probe (fma_probe or bf16_probe), in FLOP/s: on
// all threads by the wall clock (every thread runs the probe), or with cpu on
// the calling thread alone by its CPU time (a core's peak while this thread has it).
inline double measure_peak(double (*probe)(long), bool cpu) {
    if (!cpu) return probe_all_threads(probe, 20000000);
    double best = 0.0;
    for (int trial = 0; trial < 3; trial++) {
        const double t0 = bench_thread_cpu_s();
        const double flops = probe(20000000);
        best = std::max(best, flops / (bench_thread_cpu_s() - t0));
    }
    return best;
}

// Peak fp32 FLOP/s on all threads by the wall clock, and of one thread by its CPU time.
inline double measure_peak_flops() { return measure_peak(fma_probe, false); }
inline double measure_peak_flops_cpu() { return measure_peak(fma_probe, true); }
// The bf16 peak of the active path (AMX or vdpbf16ps), the same two ways; 0 without either.
inline double measure_peak_bf16(bool cpu) { return measure_peak(bf16_probe, cpu); }

// The peak a benchmark's "% of peak" is against, on the same clock it times with.
inline double bench_peak(const BenchClock& clk) { return clk.cpu ? measure_peak_flops_cpu() : measure_peak_flops(); }
inline double bench_peak_bf16(const BenchClock& clk) { return measure_peak_bf16(clk.cpu); }

inline int bench_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
