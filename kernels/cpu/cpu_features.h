// kernels/cpu/cpu_features.h: what this CPU and its OS let a process run,
// read once at start-up, so one build picks the fastest GEMM path at run time
// (kernels/cpu/matmul.h) instead of the build machine's -march.
//
// An instruction set is usable when the CPU has it (cpuid) AND the OS saves
// its registers on a context switch (XCR0, read by xgetbv): AVX needs the
// SSE and AVX state bits, AVX-512 also the opmask and upper-ZMM bits, AMX the
// tile config and tile data bits. AMX's 8 KB of tile data is one more step
// on Linux: a process must ask for it (arch_prctl ARCH_REQ_XCOMP_PERM), or its
// first tile instruction is killed with SIGILL.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

struct CpuFeatures {
    bool avx2_fma = false;     // AVX2 and FMA3 (Haswell, Zen 1 and later)
    bool avx512 = false;       // AVX-512 F, BW, DQ and VL (Skylake-SP, Zen 4)
    bool avx512_bf16 = false;  // vdpbf16ps, vcvtne2ps2bf16 (Cooper Lake, Sapphire Rapids, Zen 4)
    bool amx_bf16 = false;     // AMX tiles and TDPBF16PS, with the OS's permission (Sapphire Rapids and later)
    std::string amx_refused;   // why AMX is not usable though the CPU has it ("" otherwise)
    std::string vendor;        // "GenuineIntel", "AuthenticAMD", ...
    std::string brand;         // the model name /proc/cpuinfo shows
};

#if defined(__x86_64__)
namespace cpu_detail {

inline void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

inline uint64_t xgetbv0() {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

// Linux's arch_prctl codes for the AMX permission (asm/prctl.h; spelled out
// here because older headers lack them) and the tile data's state component.
constexpr int ARCH_GET_XCOMP_PERM = 0x1022;
constexpr int ARCH_REQ_XCOMP_PERM = 0x1023;
constexpr int XFEATURE_XTILEDATA = 18;

// Asks Linux for the tile data state; "" on success, else why not.
inline std::string request_amx_permission() {
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
        return "the kernel refused arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) (Linux 5.16 or later is needed)";
    unsigned long granted = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &granted) != 0 || !(granted & (1ul << XFEATURE_XTILEDATA)))
        return "the kernel did not grant the tile data state";
    return "";
}

inline CpuFeatures detect() {
    CpuFeatures f;
    unsigned r[4];
    cpuid(0, 0, r);
    const unsigned max_leaf = r[0];
    char vendor[13] = {};
    memcpy(vendor, &r[1], 4);  // EBX, EDX, ECX spell the vendor
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    f.vendor = vendor;
    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000004u) {
        char brand[49] = {};
        for (unsigned i = 0; i < 3; i++) {
            cpuid(0x80000002u + i, 0, r);
            memcpy(brand + 16 * i, r, 16);
        }
        f.brand = brand;
        size_t b = f.brand.find_first_not_of(' ');
        f.brand = b == std::string::npos ? "" : f.brand.substr(b);
    }
    if (max_leaf < 7) return f;
    cpuid(1, 0, r);
    const bool fma = r[2] & (1u << 12), osxsave = r[2] & (1u << 27), avx = r[2] & (1u << 28);
    if (!osxsave || !avx) return f;
    const uint64_t xcr0 = xgetbv0();
    const bool os_avx = (xcr0 & 0x6) == 0x6;           // SSE and AVX state
    const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;      // ... and opmask, ZMM_Hi256, Hi16_ZMM
    const bool os_amx = (xcr0 & 0x60000) == 0x60000;   // XTILECFG and XTILEDATA
    cpuid(7, 0, r);
    const unsigned ebx7 = r[1], edx7 = r[3], max_sub7 = r[0];
    f.avx2_fma = os_avx && fma && (ebx7 & (1u << 5));
    const unsigned avx512_fbwdqvl = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    f.avx512 = f.avx2_fma && os_avx512 && (ebx7 & avx512_fbwdqvl) == avx512_fbwdqvl;
    if (max_sub7 >= 1) {
        cpuid(7, 1, r);
        f.avx512_bf16 = f.avx512 && (r[0] & (1u << 5));
    }
    const bool cpu_amx = (edx7 & (1u << 24)) && (edx7 & (1u << 22));  // AMX-TILE and AMX-BF16
    if (cpu_amx && f.avx512_bf16) {
        if (!os_amx) f.amx_refused = "the OS has not enabled the tile state (XCR0)";
        else f.amx_refused = request_amx_permission();
        f.amx_bf16 = f.amx_refused.empty();
    }
    return f;
}

}  // namespace cpu_detail
#endif

// This CPU's features, detected on the first call (which also asks Linux for
// the AMX permission, once per process, before any thread could need it).
inline const CpuFeatures& cpu_features() {
#if defined(__x86_64__)
    static const CpuFeatures f = cpu_detail::detect();
#else
    static const CpuFeatures f;
#endif
    return f;
}
