// dev/cuda/harness.h: what the kernel harnesses in dev/cuda/ share. Each
// harness includes the kernel that ships (kernels/cuda/X.cuh) and the CPU
// kernel (kernels/cpu/X.h) as its reference, checks that they agree for both
// compute types, then times the shipped kernel at the trainer's shapes and
// prints achieved bandwidth or FLOP/s against the device's peak.
//
// A harness is `void X_harness(HarnessRun* run)` plus a main behind
// CUDA_HARNESS_NO_MAIN, so tests/cuda/test_cuda.cu includes the same files and
// runs the same checks (at the small shapes only, run->full = false).
//
//   ./build/cuda/X           checks at small and trainer shapes, then timings
//   ./build/cuda/X --check   checks at small shapes only (what test_cuda runs)
#pragma once
// The CPU kernels unroll with `#pragma GCC unroll`, which nvcc's front end does
// not know (warning 1675) and drops: they only serve as references here.
#pragma nv_diag_suppress 1675
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../../common/report.h"  // now_ms
#include "../../common/rng.h"
#include "../../kernels/cuda/common.cuh"

// ----------------------------------------------------------------------------
// The device and its peaks

struct DeviceInfo {
    std::string name;
    int major = 0, minor = 0, sms = 0;
    double mem_bw = 0.0;     // bytes/s, from the memory clock and bus width
    double peak_bf16 = 0.0;  // FLOP/s, dense bf16 on tensor cores
    double peak_fp32 = 0.0;  // FLOP/s, FP32 FMA on CUDA cores
    const char* peak_source = "";
};

inline DeviceInfo device_info() {
    DeviceInfo d;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.sms = prop.multiProcessorCount;
    int mem_khz = 0, bus_bits = 0, clock_khz = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0));
    CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0));
    CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0));
    d.mem_bw = 2.0 * mem_khz * 1e3 * bus_bits / 8.0;  // double data rate
    // Datasheet numbers for the parts this project targets; others are
    // estimated from SMs × boost clock × per-SM throughput of the generation.
    if (d.major == 9 && d.sms == 132) {
        d.peak_bf16 = 989.4e12, d.peak_fp32 = 66.9e12, d.peak_source = "datasheet, H100 SXM / H200";
    } else if (d.major == 9 && d.sms == 114) {
        d.peak_bf16 = 756.5e12, d.peak_fp32 = 51.2e12, d.peak_source = "datasheet, H100 PCIe";
    } else if (d.major == 8 && d.minor == 0 && d.sms == 108) {
        d.peak_bf16 = 312e12, d.peak_fp32 = 19.5e12, d.peak_source = "datasheet, A100";
    } else {
        double per_sm_bf16 = d.major >= 9 ? 4096 : (d.major == 8 && d.minor == 0) ? 2048 : 512;
        double per_sm_fp32 = (d.major == 8 && d.minor == 0) ? 128 : 256;
        d.peak_bf16 = per_sm_bf16 * d.sms * clock_khz * 1e3;
        d.peak_fp32 = per_sm_fp32 * d.sms * clock_khz * 1e3;
        d.peak_source = "estimated from SMs x clock";
    }
    return d;
}

inline void print_device(const DeviceInfo& d) {
    printf("device: %s, sm_%d%d, %d SMs | peaks: %.0f GB/s memory, %.0f TFLOP/s bf16 dense, %.1f TFLOP/s fp32 (%s)\n",
           d.name.c_str(), d.major, d.minor, d.sms, d.mem_bw / 1e9, d.peak_bf16 / 1e12, d.peak_fp32 / 1e12,
           d.peak_source);
}

template <typename floatX> inline double peak_flops(const DeviceInfo& d);
template <> inline double peak_flops<float>(const DeviceInfo& d) { return d.peak_fp32; }
template <> inline double peak_flops<bf16>(const DeviceInfo& d) { return d.peak_bf16; }

// ----------------------------------------------------------------------------
// The shapes the trainer runs: llama-5M at the default batch, and a ~124M
// Llama (GPT-2 small's size: C 768, 12 layers and heads, SwiGLU H 2048, the
// GPT-2 vocabulary padded to 50304) at T = 1024.

struct TrainerShape {
    const char* name;
    int B, T, C, NH, NKV, H, V;
};
static const TrainerShape TRAINER_SHAPES[] = {
    {"llama-5M", 16, 256, 256, 4, 4, 512, 4096},
    {"llama-124M", 16, 1024, 768, 12, 12, 2048, 50304},
};

// ----------------------------------------------------------------------------
// One run of a harness: its verdicts, and whether to go beyond the small shapes.

struct HarnessRun {
    DeviceInfo dev;
    bool full = true;  // checks at trainer shapes and timings; false = small checks only
    int passed = 0, failed = 0;
};

// Device memory that frees itself.
template <typename T>
struct DeviceArray {
    T* ptr = nullptr;
    size_t n = 0;
    explicit DeviceArray(size_t count) : n(count) { ptr = (T*)cuda_malloc_check(count * sizeof(T), "harness buffer"); }
    ~DeviceArray() { cudaFree(ptr); }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
};

// Uniform values in [lo, hi), from the project's RNG (common/rng.h).
inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
    Rng r = rng_make(seed);
    std::vector<float> v(n);
    for (float& x : v) x = lo + (hi - lo) * rng_uniform(&r);
    return v;
}

inline std::vector<int> random_ints(size_t n, uint64_t seed, int below) {
    Rng r = rng_make(seed);
    std::vector<int> v(n);
    for (int& x : v) x = (int)rng_below(&r, (uint64_t)below);
    return v;
}

// Rounds every value to what floatX can hold, so the CPU reference sees
// exactly the inputs the GPU kernel sees: a check then measures the kernel's
// own error, not the input rounding.
template <typename floatX>
inline std::vector<float> rounded(std::vector<float> v) {
    for (float& x : v) x = to_float(from_float<floatX>(x));
    return v;
}

template <typename floatX>
inline void upload(floatX* dst, const std::vector<float>& src) {
    std::vector<floatX> tmp(src.size());
    for (size_t i = 0; i < src.size(); i++) tmp[i] = from_float<floatX>(src[i]);
    CUDA_CHECK(cudaMemcpy(dst, tmp.data(), tmp.size() * sizeof(floatX), cudaMemcpyHostToDevice));
}

inline void upload_ints(int* dst, const std::vector<int>& src) {
    CUDA_CHECK(cudaMemcpy(dst, src.data(), src.size() * sizeof(int), cudaMemcpyHostToDevice));
}

template <typename floatX>
inline std::vector<float> download(const floatX* src, size_t n) {
    std::vector<floatX> tmp(n);
    CUDA_CHECK(cudaDeviceSynchronize());  // surfaces a kernel's error here, before the copy
    CUDA_CHECK(cudaMemcpy(tmp.data(), src, n * sizeof(floatX), cudaMemcpyDeviceToHost));
    std::vector<float> out(n);
    for (size_t i = 0; i < n; i++) out[i] = to_float(tmp[i]);
    return out;
}

inline double max_abs(const std::vector<float>& v) {
    double m = 0.0;
    for (float x : v) m = std::max(m, (double)fabsf(x));
    return m;
}

// Passes if |gpu − ref| <= atol + rtol·|ref| everywhere (and nothing is NaN);
// prints the worst element either way.
inline bool check_close(HarnessRun* run, const std::string& what, const std::vector<float>& gpu,
                        const std::vector<float>& ref, double atol, double rtol) {
    bool ok = gpu.size() == ref.size();
    double worst = 0.0, worst_err = 0.0;
    size_t at = 0;
    for (size_t i = 0; ok && i < gpu.size(); i++) {
        double err = fabs((double)gpu[i] - ref[i]);
        double ratio = err == 0.0 ? 0.0 : err / (atol + rtol * fabs((double)ref[i]));  // exact checks: 0/0
        if (!(ratio <= worst)) {  // also catches NaN
            worst = std::isnan(ratio) ? INFINITY : ratio;
            worst_err = err;
            at = i;
        }
    }
    ok = ok && worst <= 1.0;
    if (ok) run->passed++;
    else run->failed++;
    if (gpu.size() != ref.size())
        printf("  FAIL %-58s size %zu, reference %zu\n", what.c_str(), gpu.size(), ref.size());
    else
        printf("  %s %-58s max err %.2e at %zu (gpu %.6g, ref %.6g), err/tol %.3f\n", ok ? "ok  " : "FAIL",
               what.c_str(), worst_err, at, gpu.empty() ? 0.0 : gpu[at], ref.empty() ? 0.0 : ref[at], worst);
    return ok;
}

// The tolerance for an output rounded to floatX, relative to the tensor's scale:
// float outputs differ from the CPU by summation order only; bf16 ones by up
// to a couple of roundings at 2^-8.
template <typename floatX> inline double out_rtol();
template <> inline double out_rtol<float>() { return 1e-4; }
template <> inline double out_rtol<bf16>() { return 2e-2; }

// check_close with atol = rtol · max|ref|: small entries are judged against the tensor's scale.
inline bool check_scaled(HarnessRun* run, const std::string& what, const std::vector<float>& gpu,
                         const std::vector<float>& ref, double rtol) {
    return check_close(run, what, gpu, ref, rtol * std::max(max_abs(ref), 1e-30), rtol);
}

// ----------------------------------------------------------------------------
// Timing and reports

// Median over `reps` timed calls of f (after one untimed warm-up), in ms.
template <typename F>
inline double time_ms(F f, int reps = 20) {
    f();
    CUDA_CHECK(cudaDeviceSynchronize());
    cudaEvent_t start, stop;
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    std::vector<float> t(reps);
    for (int i = 0; i < reps; i++) {
        CUDA_CHECK(cudaEventRecord(start));
        f();
        CUDA_CHECK(cudaEventRecord(stop));
        CUDA_CHECK(cudaEventSynchronize(stop));
        CUDA_CHECK(cudaEventElapsedTime(&t[i], start, stop));
    }
    CUDA_CHECK(cudaEventDestroy(start));
    CUDA_CHECK(cudaEventDestroy(stop));
    std::sort(t.begin(), t.end());
    return t[reps / 2];
}

// For memory-bound kernels: bytes is what the kernel must read and write at least once.
inline void report_bandwidth(const HarnessRun& run, const std::string& what, double ms, double bytes) {
    double bw = bytes / (ms * 1e-3);
    printf("  time %-50s %9.3f ms %8.1f GB/s  %5.1f%% of peak bandwidth\n", what.c_str(), ms, bw / 1e9,
           100.0 * bw / run.dev.mem_bw);
}

// For compute-bound kernels: flops is the useful work, peak the device's for this compute type.
inline void report_flops(const std::string& what, double ms, double flops, double peak) {
    double rate = flops / (ms * 1e-3);
    printf("  time %-50s %9.3f ms %8.1f TFLOP/s %5.1f%% of peak\n", what.c_str(), ms, rate / 1e12,
           100.0 * rate / peak);
}

// main() of a harness binary: skips cleanly without a device.
inline int harness_main(int argc, char** argv, const char* name, void (*harness)(HarnessRun*)) {
    HarnessRun run;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check")) run.full = false;
        else die("%s: unknown argument '%s' (the only flag is --check: small-shape checks, no timing)", name, argv[i]);
    }
    const char* why = "";
    if (cuda_device_count(&why) == 0) {
        printf("%s: skipped: no CUDA device (%s)\n", name, why);
        return 0;
    }
    run.dev = device_info();
    print_device(run.dev);
    harness(&run);
    printf("%s: %d passed, %d failed\n", name, run.passed, run.failed);
    return run.failed ? 1 : 0;
}
