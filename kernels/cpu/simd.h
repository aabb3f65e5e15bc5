// kernels/cpu/simd.h: the few vector operations the fused kernels are written
// in, one definition per ISA, chosen at build time by -march:
//   AVX2+FMA: W = 8 floats per vector (__m256), also on AVX-512 machines
//   plain:    W = 1 (a float), so the same kernel source is its own scalar fallback
// There is no 16-wide version: the kernels written in these operations are
// bound by memory or by exp rather than by FMA width, one 8-wide path is
// what the tests run on every machine we have, and GCC 12's AVX-512
// intrinsics are not all -Wall clean (GCC bug 105593). The GEMM has its own
// paths for each ISA, picked at run time (matmul.h).
// A kernel walks its rows W floats at a time and finishes any tail with the
// same operations on W = 1 values (the s* functions below), so every ISA runs
// one code path that the tests exercise.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace simd {

// exp on one float with the vector version's range handling: below -87.3 it
// returns 0 (the vector polynomial has no denormals to give), so a masked
// score of -inf and a very negative one both vanish.
inline float sexp(float x) { return x < -87.3f ? 0.0f : expf(x < 88.0f ? x : 88.0f); }

#if defined(__AVX2__) && defined(__FMA__)
constexpr int W = 8;
using vf = __m256;
inline vf vzero() { return _mm256_setzero_ps(); }
inline vf vset1(float x) { return _mm256_set1_ps(x); }
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf vfmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf vsqrt(vf a) { return _mm256_sqrt_ps(a); }
inline float vsum(vf a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
inline float vhmax(vf a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
inline vf vswap_pairs(vf a) { return _mm256_permute_ps(a, 0xB1); }
inline vf vround(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf vpow2i(vf n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
inline vf vzero_below(vf y, vf x, float lo) { return _mm256_and_ps(y, _mm256_cmp_ps(x, _mm256_set1_ps(lo), _CMP_GE_OQ)); }
#else
constexpr int W = 1;
using vf = float;
inline vf vzero() { return 0.0f; }
inline vf vset1(float x) { return x; }
inline vf vload(const float* p) { return *p; }
inline void vstore(float* p, vf v) { *p = v; }
inline vf vadd(vf a, vf b) { return a + b; }
inline vf vsub(vf a, vf b) { return a - b; }
inline vf vmul(vf a, vf b) { return a * b; }
inline vf vdiv(vf a, vf b) { return a / b; }
inline vf vfmadd(vf a, vf b, vf c) { return a * b + c; }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }
inline vf vmin(vf a, vf b) { return a < b ? a : b; }
inline vf vsqrt(vf a) { return sqrtf(a); }
inline float vsum(vf a) { return a; }
inline float vhmax(vf a) { return a; }
inline vf vswap_pairs(vf a) { return a; }  // a lone float has no pair: callers need W >= 2
#endif

#if defined(__AVX2__) && defined(__FMA__)
// e^x to about 1 ulp (Cephes' expf polynomial): x = n·ln2 + r with |r| <= ln2/2,
// e^r by a degree-6 polynomial, times 2^n. Inputs are clamped to [-87.3, 88];
// below -87.3 (where e^x would be denormal) the result is 0, like sexp.
inline vf vexp(vf x) {
    vf xc = vmin(vmax(x, vset1(-87.3f)), vset1(88.0f));
    vf n = vround(vmul(xc, vset1(1.44269504088896341f)));
    vf r = vfmadd(n, vset1(-0.693359375f), xc);  // ln2 in two parts: n·hi is exact
    r = vfmadd(n, vset1(2.12194440e-4f), r);
    vf p = vset1(1.9875691500e-4f);
    p = vfmadd(p, r, vset1(1.3981999507e-3f));
    p = vfmadd(p, r, vset1(8.3334519073e-3f));
    p = vfmadd(p, r, vset1(4.1665795894e-2f));
    p = vfmadd(p, r, vset1(1.6666665459e-1f));
    p = vfmadd(p, r, vset1(5.0000001201e-1f));
    p = vfmadd(p, vmul(r, r), vadd(r, vset1(1.0f)));
    return vzero_below(vmul(p, vpow2i(n)), x, -87.3f);
}
#else
inline vf vexp(vf x) { return sexp(x); }
#endif

#if defined(__x86_64__)
// In-register transpose of an 8×8 block: r[i] holds row i before, column i after.
// Compiled for AVX2 whatever the build's -march, for the AVX2 GEMM packers
// (matmul_avx2.h), which run only where the CPU has it.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
inline void transpose8x8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}
#pragma GCC pop_options
#endif

}  // namespace simd
