// kernels/cpu/bf16.h: fp32 to bfloat16, the one rounding every bf16 path
// shares: the GEMM's packers (matmul.h) round their operands with it, and the
// kernels that store an activation or a gradient as bf16 for those products
// (the trainers' bf16 runs: rmsnorm, swiglu, attention's backward, the
// classifier) round with it too, so a product packs the same words from
// either.
#pragma once
#include <cstdint>
#include <cstring>

// The bf16 bits of x rounded to nearest even, as vcvtneps2bf16 rounds; a NaN
// stays a (quiet) NaN instead of rounding into infinity.
inline uint32_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet = (u | 0x00400000u) >> 16;
    return (u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded;
}

// dst[0, n) = the bf16 bits of src[0, n). (The compiler vectorises the loop.)
inline void bf16_store_row(uint16_t* dst, const float* src, int n) {
    for (int i = 0; i < n; i++) dst[i] = (uint16_t)bf16_bits(src[i]);
}

// The bf16 bits of src[0, n) into the first 2·n bytes of an fp32 row, dst:
// how the trainers' bf16 runs keep a row where its fp32 values were. dst may
// be src (a row rounded in place). Through a small buffer and memcpy, 64
// values at a time, so no value is overwritten before it is read and no
// pointer of one type reads another's.
inline void bf16_store_over(float* dst, const float* src, int n) {
    uint16_t buf[64];
    char* bytes = (char*)dst;
    for (int i = 0; i < n; i += 64) {
        const int m = n - i < 64 ? n - i : 64;
        bf16_store_row(buf, src + i, m);
        memcpy(bytes + 2 * (size_t)i, buf, 2 * (size_t)m);
    }
}
