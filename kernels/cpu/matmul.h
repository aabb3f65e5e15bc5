// kernels/cpu/matmul.h: the three matrix products of a linear layer without bias.
//   forward:  out  (N, OC)  = inp (N, C) · weightᵀ      weight is (OC, C), PyTorch's layout
//   backward: dinp (N, C)  += dout (N, OC) · weight
//             dweight (OC, C) += doutᵀ · inp
// All three are one product, Cm(M, NC) (+)= A(M, K) · Bm(K, NC), where A and Bm
// are read through strides: a transposed operand is just other strides, so no
// layout ever needs a transposing copy.
//
// The fast path (sgemm below) is a packed, cache-blocked GEMM in the BLIS
// manner: a KC×NC block of Bm is packed into NR-wide column panels that stay in
// L2/L3, an MC×KC block of A into MR-tall row panels that stay in L1/L2, and a
// register-blocked micro-kernel computes one MR×NR tile of Cm at a time with
// every accumulator in a register. Packing is also where the strides are
// resolved, so the micro-kernel only ever sees contiguous memory; on AVX2 the
// packers move 8×8 blocks through registers (simd::transpose8x8).
//   AVX-512: MR×NR = 12×32, 24 zmm accumulators (of 32 registers)
//   AVX2:    MR×NR = 6×16,  12 ymm accumulators (of 16)
//   plain:   MR×NR = 4×16,  left to the compiler
// The ISA is chosen at build time by -march (the Makefile uses -march=native).
//
// With bf16 set (the trainers' --bf16), the same driver packs both operands
// rounded to bfloat16, two depths to a 32-bit word, and the micro-kernel is
// vdpbf16ps (avx512_bf16: 32 multiply-adds an instruction, twice fp32's) with
// fp32 accumulators; a plain fallback does the same arithmetic elsewhere.
//
// matmul_forward_ref / matmul_backward_ref are the plain loops the fast path is
// tested and benchmarked against.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "simd.h"

// ----------------------------------------------------------------------------
// Plain reference

// out is (N, OC), inp is (N, C), weight is (OC, C)
inline void matmul_forward_ref(float* out, const float* inp, const float* weight, int N, int C, int OC) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float acc = 0.0f;
            for (int c = 0; c < C; c++) acc += inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
            out[(size_t)n * OC + o] = acc;
        }
}

// dinp (N, C) += dout · weight; dweight (OC, C) += doutᵀ · inp. Either output may be null.
inline void matmul_backward_ref(float* dinp, float* dweight, const float* dout, const float* inp,
                                const float* weight, int N, int C, int OC) {
    if (dinp) {
        #pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) {
                float d = dout[(size_t)n * OC + o];
                for (int c = 0; c < C; c++) dinp[(size_t)n * C + c] += d * weight[(size_t)o * C + c];
            }
    }
    if (dweight) {
        #pragma omp parallel for schedule(static)
        for (int o = 0; o < OC; o++)
            for (int n = 0; n < N; n++) {
                float d = dout[(size_t)n * OC + o];
                for (int c = 0; c < C; c++) dweight[(size_t)o * C + c] += d * inp[(size_t)n * C + c];
            }
    }
}

// ----------------------------------------------------------------------------
// Packed GEMM

namespace gemm {

#if defined(__AVX512F__)
constexpr int MR = 12, NR = 32;
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int MR = 6, NR = 16;
#else
constexpr int MR = 4, NR = 16;
#endif
// Depth of a packed block. An NR-wide Bm panel is then KC·NR·4 = 64 KB and
// streams from L2 (fast enough for the micro-kernel's 64 B per 12 FMAs),
// and every product of the trainers up to a depth of 1024 is one block, so
// Cm is written once instead of read and rewritten per block.
constexpr int KC = 1024;
constexpr int MC = 144;   // most rows of A per task (a multiple of every MR): a 576 KB packed block, in L2/L3
constexpr int NC = 2048;  // columns of Bm packed at once: KC·NC·4 = 8 MB, shared by the threads through L3

#if defined(__AVX512F__)
// Writes a tile's 12×2 accumulators to c (row stride ldc), added to what is there with accumulate.
inline void store_tile(__m512 (&acc)[MR][2], float* c, long ldc, bool accumulate) {
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        float* cr = c + r * ldc;
        if (accumulate) {
            acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(cr));
            acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(cr + 16));
        }
        _mm512_storeu_ps(cr, acc[r][0]);
        _mm512_storeu_ps(cr + 16, acc[r][1]);
    }
}
#endif

// One MR×NR tile: c (row stride ldc) = (accumulate ? c : 0) + Ap · Bp,
// where Ap holds kc columns of MR values and Bp kc rows of NR values.
inline void micro_kernel(int kc, const float* Ap, const float* Bp, float* c, long ldc, bool accumulate) {
#if defined(__AVX512F__)
    __m512 acc[MR][2];
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(Bp + k * NR);
        __m512 b1 = _mm512_load_ps(Bp + k * NR + 16);
        #pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(Ap[k * MR + r]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    store_tile(acc, c, ldc, accumulate);
#elif defined(__AVX2__) && defined(__FMA__)
    if (accumulate) {  // c is read only after the k loop: start fetching it now so the wait overlaps the FMAs
        #pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            _mm_prefetch((const char*)(c + r * ldc), _MM_HINT_T0);
            _mm_prefetch((const char*)(c + r * ldc + NR - 1), _MM_HINT_T0);
        }
    }
    __m256 acc[MR][2];
    #pragma GCC unroll 6
    for (int r = 0; r < MR; r++) { acc[r][0] = _mm256_setzero_ps(); acc[r][1] = _mm256_setzero_ps(); }
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(Bp + k * NR);
        __m256 b1 = _mm256_load_ps(Bp + k * NR + 8);
        #pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 a = _mm256_broadcast_ss(Ap + k * MR + r);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    #pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        float* cr = c + r * ldc;
        if (accumulate) {
            acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(cr));
            acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(cr + 8));
        }
        _mm256_storeu_ps(cr, acc[r][0]);
        _mm256_storeu_ps(cr + 8, acc[r][1]);
    }
#else
    float acc[MR][NR] = {};
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) acc[r][j] += Ap[k * MR + r] * Bp[k * NR + j];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
#endif
}

// The AVX2 packers write 8 floats where a 6-tall A panel needs 6: each store's
// last two floats are overwritten by the next one, and the packing buffers
// keep PACK_SLACK floats after every panel block for the very last store.
constexpr int PACK_SLACK = 8;
// Source rows per step of the transposed-A packer: rows 4 KB apart share an
// L1 set, and 8 of them fit its 8 ways.
constexpr int PACK_KB = 8;

// Packs rows [i0, i0+mc) × depth [p0, p0+kc) of A into MR-tall panels,
// zero-padding the last panel so the micro-kernel never needs a row tail.
inline void pack_A(float* Ap, const float* A, long sam, long sak, int i0, int mc, int p0, int kc) {
    int ir0 = 0;  // panels done by the vector path
#if defined(__AVX512F__)
    if (sam == 1 && mc >= MR) {
        // A transposed operand (dweight's doutᵀ): as the AVX2 path below, PACK_KB
        // source rows at a time dealt out to every full panel, 12 values a row
        // and panel by one masked load and store
        const __mmask16 mask = (__mmask16)((1u << MR) - 1);
        const int full = mc / MR * MR;
        for (int k0 = 0; k0 < kc; k0 += PACK_KB) {
            const int k1 = k0 + PACK_KB < kc ? k0 + PACK_KB : kc;
            for (int ir = 0; ir < full; ir += MR) {
                float* dst = Ap + (size_t)ir * kc;
                const float* src = A + (long)(p0 + k0) * sak + i0 + ir;
                for (int k = k0; k < k1; k++, src += sak)
                    _mm512_mask_storeu_ps(dst + k * MR, mask, _mm512_maskz_loadu_ps(mask, src));
            }
        }
        ir0 = full;
    }
#elif defined(__AVX2__) && defined(__FMA__)
    if (sam == 1 && mc >= MR) {
        // A transposed operand: a row of the source holds one depth of every
        // panel. Take PACK_KB source rows at a time (they stay in L1) and deal
        // them out to the full panels, 6 values per row and panel, so both
        // the reads and the writes stay within a few pages.
        const __m256i mask = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
        const int full = mc / MR * MR;
        for (int k0 = 0; k0 < kc; k0 += PACK_KB) {
            const int k1 = k0 + PACK_KB < kc ? k0 + PACK_KB : kc;
            for (int ir = 0; ir < full; ir += MR) {
                float* dst = Ap + (size_t)ir * kc;
                const float* src = A + (long)(p0 + k0) * sak + i0 + ir;
                int k = k0;
                for (; k + 1 < k1; k++, src += sak)  // the 2 extra floats land in depth k+1's slot, written next
                    _mm256_storeu_ps(dst + k * MR, _mm256_maskload_ps(src, mask));
                if (k1 < kc) _mm256_storeu_ps(dst + k * MR, _mm256_maskload_ps(src, mask));
                else _mm256_maskstore_ps(dst + k * MR, mask, _mm256_maskload_ps(src, mask));  // the panel's last depth
            }
        }
        ir0 = full;
    }
#endif
    for (int ir = ir0; ir < mc; ir += MR) {
        float* dst = Ap + (size_t)ir * kc;
        int mr = mc - ir < MR ? mc - ir : MR;
        int k0 = 0;  // depth done by the vector path
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
        if (mr == MR && sak == 1) {  // 6 rows × 8 depths → 8 columns of 6, by one 8×8 transpose
            const float* src[MR];
            for (int r = 0; r < MR; r++) src[r] = A + (i0 + ir + r) * sam + p0;
            for (; k0 + 8 <= kc; k0 += 8) {
                __m256 v[8];
                for (int r = 0; r < MR; r++) v[r] = _mm256_loadu_ps(src[r] + k0);
                v[6] = v[7] = _mm256_setzero_ps();
                simd::transpose8x8(v);
                for (int j = 0; j < 8; j++) _mm256_storeu_ps(dst + (k0 + j) * MR, v[j]);
            }
        }
#endif
        if (sak == 1) {  // rows of A contiguous: walk along k
            for (int r = 0; r < MR; r++) {
                if (r < mr) {
                    const float* src = A + (i0 + ir + r) * sam + p0;
                    for (int k = k0; k < kc; k++) dst[k * MR + r] = src[k];
                } else {
                    for (int k = k0; k < kc; k++) dst[k * MR + r] = 0.0f;
                }
            }
        } else {         // columns of A contiguous (a transposed operand): walk along m
            for (int k = k0; k < kc; k++) {
                const float* src = A + (p0 + k) * sak + (long)(i0 + ir) * sam;
                for (int r = 0; r < MR; r++) dst[k * MR + r] = r < mr ? src[r * sam] : 0.0f;
            }
        }
    }
}

// Packs one NR-wide panel, columns [j0, j0+nr) × depth [p0, p0+kc) of Bm, zero-padded to NR.
inline void pack_B_panel(float* Bp, const float* Bm, long sbk, long sbn, int j0, int nr, int p0, int kc) {
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
    if (nr == NR && sbn == 1) {
        for (int k = 0; k < kc; k++) {
            const float* src = Bm + (p0 + k) * sbk + j0;
            _mm256_store_ps(Bp + k * NR, _mm256_loadu_ps(src));
            _mm256_store_ps(Bp + k * NR + 8, _mm256_loadu_ps(src + 8));
        }
        return;
    }
    if (nr == NR && sbk == 1) {  // 8 columns × 8 depths → 8 rows of 8, by one transpose
        int k0 = 0;
        for (; k0 + 8 <= kc; k0 += 8)
            for (int h = 0; h < NR; h += 8) {
                __m256 v[8];
                for (int j = 0; j < 8; j++) v[j] = _mm256_loadu_ps(Bm + (long)(j0 + h + j) * sbn + p0 + k0);
                simd::transpose8x8(v);
                for (int k = 0; k < 8; k++) _mm256_store_ps(Bp + (k0 + k) * NR + h, v[k]);
            }
        for (int j = 0; j < NR; j++) {
            const float* src = Bm + (long)(j0 + j) * sbn + p0;
            for (int k = k0; k < kc; k++) Bp[k * NR + j] = src[k];
        }
        return;
    }
#endif
    if (sbn == 1) {  // rows of Bm contiguous
        for (int k = 0; k < kc; k++) {
            const float* src = Bm + (p0 + k) * sbk + j0;
            for (int j = 0; j < NR; j++) Bp[k * NR + j] = j < nr ? src[j] : 0.0f;
        }
    } else {         // columns contiguous (weightᵀ in the forward pass): walk along k
        for (int j = 0; j < NR; j++) {
            if (j < nr) {
                const float* src = Bm + (long)(j0 + j) * sbn + (long)p0 * sbk;
                for (int k = 0; k < kc; k++) Bp[k * NR + j] = src[k * sbk];
            } else {
                for (int k = 0; k < kc; k++) Bp[k * NR + j] = 0.0f;
            }
        }
    }
}

// ----------------------------------------------------------------------------
// The bf16 path: the same blocking, with both operands rounded to bfloat16 as
// they are packed and multiplied with fp32 accumulation. On avx512_bf16,
// vdpbf16ps does 32 multiply-adds per instruction where vfmadd231ps does 16,
// which doubles the GEMM's peak; master weights, gradients and every other op
// stay fp32. A packed word holds two bf16 values adjacent in depth (k even in
// the low half, k+1 in the high half), the pair vdpbf16ps multiplies and adds:
//   Ap word [q·MR + r] = (A[r][2q], A[r][2q+1]),  Bp word [q·NR + j] = (B[2q][j], B[2q+1][j])
// so a panel of depth kc is (kc+1)/2 words deep, an odd depth padded with zero.

// The bf16 bits of x rounded to nearest even, as vcvtneps2bf16 rounds; a NaN
// stays a (quiet) NaN instead of rounding into infinity.
inline uint32_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u | 0x00400000u) >> 16;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// x rounded to the nearest bf16, as a float: what the bf16 path multiplies.
inline float bf16_round(float x) {
    uint32_t u = bf16_bits(x) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

inline uint32_t bf16_pair(float lo, float hi) { return bf16_bits(lo) | (bf16_bits(hi) << 16); }

// What the bf16 path runs on in this build, for the trainers' start-up line.
inline const char* bf16_description() {
#if defined(__AVX512F__) && defined(__AVX512BF16__)
    return "bf16 operands, fp32 accumulation (avx512_bf16 vdpbf16ps)";
#else
    return "bf16 operands, fp32 accumulation, EMULATED: this build has no avx512_bf16, so it is slower than fp32";
#endif
}

#if defined(__AVX512F__)
// x >> 16 in every lane. The zero-masked form because GCC 12's plain
// _mm512_srli_epi32 trips -Wmaybe-uninitialized in its own header (bug 105593).
inline __m512i srl16(__m512i x) { return _mm512_maskz_srli_epi32((__mmask16)0xffff, x, 16); }
// 16 lanes of fp32 rounded to bf16, the result in the high half of each lane
// (the low half is garbage): bf16_bits(x) << 16, vectorised.
inline __m512i bf16_round_high(__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i odd = _mm512_and_si512(srl16(u), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
}
// Pair words of two 16-float vectors: lane j = (lo[j], hi[j]).
inline __m512i bf16_pairs_of(__m512 lo, __m512 hi) {
    return _mm512_or_si512(srl16(bf16_round_high(lo)),
                           _mm512_and_si512(bf16_round_high(hi), _mm512_set1_epi32((int)0xffff0000u)));
}
// Pair words of 32 consecutive floats: word t = (s[2t], s[2t+1]).
inline __m512i bf16_pairs_contiguous(const float* s) {
    const __m512i odd_halves = _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33,
                                                31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_permutex2var_epi16(bf16_round_high(_mm512_loadu_ps(s)), odd_halves,
                                     bf16_round_high(_mm512_loadu_ps(s + 16)));
}
#endif

// Packs `rows` rows × depth kc of a strided operand into panels of pair
// words, X(r, k) = src[r·s_r + k·s_k]: row r goes to panel r / width, and
// word [q·width + r % width] of it is (X(r, 2q), X(r, 2q+1)); a panel is
// (kc+1)/2 · width words, rows past `rows` and the depth past kc are zero.
// A's panels are this with width MR, Bm's with width NR (its columns are the
// "rows" here). Every path walks the source in its memory order, one row or
// one line of depth at a time across all panels: a walk down one panel with a
// stride of kilobytes would map every read to the same L1 set.
inline void pack_pairs(uint32_t* dst, int width, const float* src, long s_r, long s_k, int rows, int kc) {
    const int kp = (kc + 1) / 2;
    const int panels = (rows + width - 1) / width;
    const size_t panel_words = (size_t)kp * width;
    int pv = 0, qv = 0;  // panels [0, pv) × pairs [0, qv) are done by a vector path
#if defined(__AVX512F__)
    if (s_k == 1) {
        // pairs adjacent in memory: 32 floats of a row make 16 words, dealt out down its panel
        qv = kc / 32 * 16;
        pv = panels;
        for (int r = 0; r < panels * width; r++) {
            uint32_t* d = dst + (size_t)(r / width) * panel_words + r % width;
            if (r >= rows) {
                for (int q = 0; q < qv; q++) d[(size_t)q * width] = 0;
                continue;
            }
            const float* sr = src + (long)r * s_r;
            alignas(64) uint32_t w[16];
            for (int q = 0; q < qv; q += 16) {
                _mm512_store_si512((__m512i*)w, bf16_pairs_contiguous(sr + 2 * q));
                for (int t = 0; t < 16; t++) d[(size_t)(q + t) * width] = w[t];
            }
        }
    } else if (s_r == 1 && (width % 16 == 0 || width == 12)) {
        // rows contiguous: two lines of depth make `width` words of each full panel
        qv = kc / 2;
        pv = rows / width;
        const __mmask16 m12 = 0x0fff;
        for (int q = 0; q < qv; q++) {
            const float* s0 = src + (long)(2 * q) * s_k;
            const float* s1 = s0 + s_k;
            for (int p = 0; p < pv; p++) {
                uint32_t* d = dst + (size_t)p * panel_words + (size_t)q * width;
                const int r0 = p * width;
                if (width == 12)
                    _mm512_mask_storeu_epi32(d, m12, bf16_pairs_of(_mm512_maskz_loadu_ps(m12, s0 + r0),
                                                                   _mm512_maskz_loadu_ps(m12, s1 + r0)));
                else
                    for (int r = 0; r < width; r += 16)
                        _mm512_storeu_si512((__m512i*)(d + r), bf16_pairs_of(_mm512_loadu_ps(s0 + r0 + r),
                                                                             _mm512_loadu_ps(s1 + r0 + r)));
            }
        }
    }
#endif
    // the rest, one word at a time: the depth tail of the vector panels, then whole remaining panels
    for (int p = 0; p < panels; p++)
        for (int q = p < pv ? qv : 0; q < kp; q++) {
            const int k = 2 * q;
            for (int i = 0; i < width; i++) {
                const int r = p * width + i;
                uint32_t w = 0;
                if (r < rows) {
                    const float* x = src + (long)r * s_r + (long)k * s_k;
                    w = bf16_pair(x[0], k + 1 < kc ? x[s_k] : 0.0f);
                }
                dst[(size_t)p * panel_words + (size_t)q * width + i] = w;
            }
        }
}

// One MR×NR tile from kp pair-words of depth: c (row stride ldc) = (accumulate ? c : 0) + Ap · Bp.
inline void micro_kernel_bf16(int kp, const uint32_t* Ap, const uint32_t* Bp, float* c, long ldc, bool accumulate) {
#if defined(__AVX512F__) && defined(__AVX512BF16__)
    __m512 acc[MR][2];
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
    for (int q = 0; q < kp; q++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const __m512i*)(Bp + q * NR));
        __m512bh b1 = (__m512bh)_mm512_load_si512((const __m512i*)(Bp + q * NR + 16));
        #pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)Ap[q * MR + r]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
        }
    }
    store_tile(acc, c, ldc, accumulate);
#else
    // Without avx512_bf16: the same arithmetic on widened values. A product of
    // two bf16 is exact in fp32, so this rounds as vdpbf16ps does (high half
    // first, then the low half, each added with one rounding).
    auto lo = [](uint32_t w) { uint32_t u = w << 16; float f; memcpy(&f, &u, 4); return f; };
    auto hi = [](uint32_t w) { uint32_t u = w & 0xffff0000u; float f; memcpy(&f, &u, 4); return f; };
    float acc[MR][NR] = {};
    for (int q = 0; q < kp; q++)
        for (int r = 0; r < MR; r++) {
            const uint32_t a = Ap[q * MR + r];
            for (int j = 0; j < NR; j++) {
                const uint32_t b = Bp[q * NR + j];
                acc[r][j] = fmaf(lo(a), lo(b), fmaf(hi(a), hi(b), acc[r][j]));
            }
        }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
#endif
}

// Packing buffers, grown on demand and kept per calling thread: they hold no
// state between calls (every call packs before it reads), they only spare a
// multi-megabyte allocation and its page faults on each of ~100 calls a step.
struct Workspace {
    float* data = nullptr;
    size_t floats = 0;
    ~Workspace() { free(data); }
    float* get(size_t n) {
        if (n > floats) {
            free(data);
            data = (float*)aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
            if (!data) abort();
            floats = n;
        }
        return data;
    }
};

// Cm[i*ldc + j] (+)= Σ_k A[i*sam + k*sak] · Bm[k*sbk + j*sbn]  for i < M, j < NC_, k < K,
// with A and Bm rounded to bf16 when bf16 is set (the bf16 path above).
// Every tile is computed by one thread in a fixed order, so results do not
// depend on the thread count's scheduling.
inline void sgemm(int M, int NCOLS, int K, const float* A, long sam, long sak, const float* Bm, long sbk, long sbn,
                  float* Cm, long ldc, bool accumulate, bool bf16 = false) {
    if (M <= 0 || NCOLS <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) memset(Cm + (size_t)i * ldc, 0, NCOLS * sizeof(float));
        return;
    }
    int nth = 1;
#ifdef _OPENMP
    nth = omp_get_max_threads();
#endif
    static thread_local Workspace ws;
    float* Bp = ws.get((size_t)KC * NC + (size_t)nth * (MC * KC + PACK_SLACK));
    float* Abuf = Bp + (size_t)KC * NC;

    #pragma omp parallel
    {
        int tid = 0, team = 1;  // the team may be smaller than nth (a nested region)
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        float* Ap = Abuf + (size_t)tid * (MC * KC + PACK_SLACK);
        float tile[MR * NR] __attribute__((aligned(64)));
        for (int jc = 0; jc < NCOLS; jc += NC) {
            int nc = NCOLS - jc < NC ? NCOLS - jc : NC;
            int panels = (nc + NR - 1) / NR;
            for (int pc = 0; pc < K; pc += KC) {
                int kc = K - pc < KC ? K - pc : KC;
                int kw = bf16 ? (kc + 1) / 2 : kc;  // depth of a packed panel in 4-byte words
                if (bf16) {  // each thread packs a contiguous run of panels in one walk
                    int p0 = (int)((long)panels * tid / team), p1 = (int)((long)panels * (tid + 1) / team);
                    if (p1 > p0)
                        pack_pairs((uint32_t*)(Bp + (size_t)p0 * kw * NR), NR,
                                   Bm + (long)(jc + p0 * NR) * sbn + (long)pc * sbk, sbn, sbk,
                                   std::min(nc, p1 * NR) - p0 * NR, kc);
                    #pragma omp barrier
                } else {
                    #pragma omp for schedule(static)
                    for (int p = 0; p < panels; p++) {
                        int nr = nc - p * NR < NR ? nc - p * NR : NR;
                        pack_B_panel(Bp + (size_t)p * kc * NR, Bm, sbk, sbn, jc + p * NR, nr, pc, kc);
                    }
                }
                bool acc = accumulate || pc > 0;
                // A task is a block of mcb <= MC rows × a group of panels, and
                // packs its A block once. Row blocks are evened out to a multiple
                // of the thread count, so every thread gets the same work; the
                // columns are split only when there are fewer row blocks than
                // threads (dweight of a small layer), since every column group
                // repacks the same A block.
                int mblocks = (M + MC - 1) / MC;
                mblocks = std::min((mblocks + nth - 1) / nth * nth, (M + MR - 1) / MR);
                int mcb = ((M + mblocks - 1) / mblocks + MR - 1) / MR * MR;
                mblocks = (M + mcb - 1) / mcb;
                int gblocks = std::min(panels, std::max(1, (nth + mblocks - 1) / mblocks));
                int NG = ((panels + gblocks - 1) / gblocks) * NR;
                gblocks = (nc + NG - 1) / NG;
                #pragma omp for schedule(dynamic, 1)
                for (int task = 0; task < mblocks * gblocks; task++) {
                    int ic = (task / gblocks) * mcb, g0 = (task % gblocks) * NG;
                    int mc = M - ic < mcb ? M - ic : mcb;
                    int g1 = g0 + NG < nc ? g0 + NG : nc;
                    if (bf16)
                        pack_pairs((uint32_t*)Ap, MR, A + (long)ic * sam + (long)pc * sak, sam, sak, mc, kc);
                    else
                        pack_A(Ap, A, sam, sak, ic, mc, pc, kc);
                    // one MR×NR tile of Cm, from the packed panels (either precision)
                    auto tile_product = [&](int ir, const float* Bpanel, float* c, long ldc_, bool accumulate_) {
                        if (bf16)
                            micro_kernel_bf16(kw, (const uint32_t*)(Ap + (size_t)ir * kw), (const uint32_t*)Bpanel, c,
                                              ldc_, accumulate_);
                        else
                            micro_kernel(kc, Ap + (size_t)ir * kc, Bpanel, c, ldc_, accumulate_);
                    };
                    for (int jr = g0; jr < g1; jr += NR) {
                        int nr = nc - jr < NR ? nc - jr : NR;
                        const float* Bpanel = Bp + (size_t)(jr / NR) * kw * NR;
                        for (int ir = 0; ir < mc; ir += MR) {
                            int mr = mc - ir < MR ? mc - ir : MR;
                            float* c = Cm + (size_t)(ic + ir) * ldc + jc + jr;
                            if (mr == MR && nr == NR) {
                                tile_product(ir, Bpanel, c, ldc, acc);
                            } else {  // edge tile: compute in full, write back the valid part
                                tile_product(ir, Bpanel, tile, NR, false);
                                for (int r = 0; r < mr; r++)
                                    for (int j = 0; j < nr; j++)
                                        c[r * ldc + j] = acc ? c[r * ldc + j] + tile[r * NR + j] : tile[r * NR + j];
                            }
                        }
                    }
                }
            }
        }
    }
}

}  // namespace gemm

// ----------------------------------------------------------------------------
// The kernels the trainers call

// out is (N, OC), inp is (N, C), weight is (OC, C): Bm(k=c, j=o) = weight[o·C + c]
inline void matmul_forward(float* out, const float* inp, const float* weight, int N, int C, int OC, bool bf16 = false) {
    gemm::sgemm(N, OC, C, inp, C, 1, weight, 1, C, out, OC, false, bf16);
}

// dinp (N, C) += dout (N, OC) · weight (OC, C); dweight (OC, C) += doutᵀ · inp (N, C),
// where A(i=o, k=n) = dout[n·OC + o]. Either output may be null.
inline void matmul_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                            const float* weight, int N, int C, int OC, bool bf16 = false) {
    if (dinp) gemm::sgemm(N, C, OC, dout, OC, 1, weight, C, 1, dinp, C, true, bf16);
    if (dweight) gemm::sgemm(OC, C, N, dout, 1, OC, inp, C, 1, dweight, C, true, bf16);
}

// As matmul_backward, but dinp (N, C) is overwritten with dout · weight instead
// of added to, which spares the caller a memset of dinp; dweight accumulates.
inline void matmul_backward_set_dinp(float* dinp, float* dweight, const float* dout, const float* inp,
                                     const float* weight, int N, int C, int OC, bool bf16 = false) {
    if (dinp) gemm::sgemm(N, C, OC, dout, OC, 1, weight, C, 1, dinp, C, false, bf16);
    if (dweight) gemm::sgemm(OC, C, N, dout, 1, OC, inp, C, 1, dweight, C, true, bf16);
}
