// kernels/cpu/matmul_plain.h: the GEMM's portable path (part of matmul.h,
// included by it): packers and micro-kernels in plain C++ that any CPU runs.
// It is the "plain" ISA of the dispatch, and every vector path finishes what
// its vector code leaves (row and depth tails) with these same packers, and
// runs bf16 on these micro-kernels where it lacks a bf16 instruction.
//
// The packed layouts every path shares (a panel is `width` rows of X, where
// X(r, k) = src[r·s_r + k·s_k] is A or, for Bm, its transpose):
//   fp32: value [k·width + r] of a panel, kc deep;
//   bf16: pair word [q·width + r] = (X(r, 2q), X(r, 2q+1)) in its low and high
//         half, kw >= (kc+1)/2 words deep, the depth past kc zero.
#pragma once

namespace gemm {
namespace plain {

// One panel, depth [k0, kc): rows past `rows` (a short last panel) are zero.
// Walks the source in its memory order: along k when rows are contiguous in
// depth, along r otherwise.
inline void pack_panel_fp32(float* dst, int width, const float* src, long s_r, long s_k, int rows, int k0, int kc) {
    if (s_k == 1) {
        for (int r = 0; r < width; r++) {
            if (r < rows) {
                const float* s = src + r * s_r;
                for (int k = k0; k < kc; k++) dst[k * width + r] = s[k];
            } else {
                for (int k = k0; k < kc; k++) dst[k * width + r] = 0.0f;
            }
        }
    } else {
        for (int k = k0; k < kc; k++) {
            const float* s = src + k * s_k;
            for (int r = 0; r < width; r++) dst[k * width + r] = r < rows ? s[r * s_r] : 0.0f;
        }
    }
}

// All panels of `rows` rows × depth kc.
inline void pack_panels_fp32(float* dst, int width, const float* src, long s_r, long s_k, int rows, int kc) {
    for (int p = 0; p * width < rows; p++)
        pack_panel_fp32(dst + (size_t)p * width * kc, width, src + (long)p * width * s_r, s_r, s_k,
                        std::min(width, rows - p * width), 0, kc);
}

// The pair word of depths k and k+1 at x, depth k+1 being x[s_k] (zero if
// !has_hi): from fp32 values, rounded to bf16; from bf16 bits (bf16_bits of
// each value, as a bf16 producer stores them), as they are. The same word
// from a value and from its bits.
inline uint32_t pair_at(const float* x, long s_k, bool has_hi) { return bf16_pair(x[0], has_hi ? x[s_k] : 0.0f); }
inline uint32_t pair_at(const uint16_t* x, long s_k, bool has_hi) {
    return x[0] | (has_hi ? (uint32_t)x[s_k] << 16 : 0u);
}

// bf16 pair words of panels [0, panels): what a vector path left, i.e. every
// word of panels [p_done, panels) and words [q_done, kw) of panels [0, p_done).
// src is fp32 values or bf16 bits (pair_at).
template <class T>
void pack_pairs_rest(uint32_t* dst, int width, const T* src, long s_r, long s_k, int rows, int kc, int kw,
                     int p_done, int q_done) {
    const int kp = (kc + 1) / 2;  // words that hold depth; the rest of kw is zero padding
    const int panels = (rows + width - 1) / width;
    for (int p = 0; p < panels; p++)
        for (int q = p < p_done ? q_done : 0; q < kw; q++) {
            const int k = 2 * q;
            for (int i = 0; i < width; i++) {
                const int r = p * width + i;
                uint32_t w = 0;
                if (r < rows && q < kp) w = pair_at(src + (long)r * s_r + (long)k * s_k, s_k, k + 1 < kc);
                dst[(size_t)p * kw * width + (size_t)q * width + i] = w;
            }
        }
}

// One MR×NR tile from kc fp32 values of depth; left to the compiler's vectoriser.
template <int MR, int NR>
void micro_fp32(int kc, const void* Ap_, const void* Bp_, float* c, long ldc, bool accumulate) {
    const float* Ap = (const float*)Ap_;
    const float* Bp = (const float*)Bp_;
    float acc[MR][NR] = {};
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) acc[r][j] += Ap[k * MR + r] * Bp[k * NR + j];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
}

// One MR×NR tile from kw pair words of depth, the arithmetic of vdpbf16ps on
// widened values: a product of two bf16 is exact in fp32, so this rounds as
// the instruction does (the high halves' product first, then the low's, each
// added with one rounding).
template <int MR, int NR>
void micro_bf16(int kw, const void* Ap_, const void* Bp_, float* c, long ldc, bool accumulate) {
    const uint32_t* Ap = (const uint32_t*)Ap_;
    const uint32_t* Bp = (const uint32_t*)Bp_;
    float acc[MR][NR] = {};
    for (int q = 0; q < kw; q++)
        for (int r = 0; r < MR; r++) {
            const uint32_t a = Ap[q * MR + r];
            for (int j = 0; j < NR; j++) {
                const uint32_t b = Bp[q * NR + j];
                acc[r][j] = fmaf(bf16_low(a), bf16_low(b), fmaf(bf16_high(a), bf16_high(b), acc[r][j]));
            }
        }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
}

// The plain path's tiles: small enough that the compiler keeps them in registers.
constexpr int MR = 4, NR = 16;

inline void pack_A_fp32(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int) {
    pack_panels_fp32((float*)dst, MR, src, s_r, s_k, rows, kc);
}
inline void pack_B_fp32(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int) {
    pack_panels_fp32((float*)dst, NR, src, s_r, s_k, rows, kc);
}
inline void pack_A_bf16(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs_rest((uint32_t*)dst, MR, src, s_r, s_k, rows, kc, kw, 0, 0);
}
inline void pack_B_bf16(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs_rest((uint32_t*)dst, NR, src, s_r, s_k, rows, kc, kw, 0, 0);
}

inline void pack_A16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs_rest((uint32_t*)dst, MR, src, s_r, s_k, rows, kc, kw, 0, 0);
}
inline void pack_B16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs_rest((uint32_t*)dst, NR, src, s_r, s_k, rows, kc, kw, 0, 0);
}

inline const Kernels fp32 = {"plain C++, 4x16 tiles", MR, NR, false, 1, pack_A_fp32, pack_B_fp32,
                             micro_fp32<MR, NR>, nullptr, nullptr, nullptr, nullptr};
inline const Kernels bf16 = {"plain C++ bf16 emulation (slower than fp32), 4x16 tiles", MR, NR, true, 1,
                             pack_A_bf16, pack_B_bf16, micro_bf16<MR, NR>, nullptr, nullptr, pack_A16, pack_B16};

}  // namespace plain
}  // namespace gemm
