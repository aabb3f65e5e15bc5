// kernels/cpu/matmul_avx512.h: the GEMM's AVX-512 paths (part of matmul.h,
// included by it), compiled for their ISA by the target pragmas below
// whatever the build's -march, and run only where cpu_features() finds them.
//   fp32:        MR×NR = 12×32, 24 zmm accumulators of the 32 registers
//   avx512_bf16: the same tiles on vdpbf16ps, 32 multiply-adds an
//                instruction where vfmadd231ps does 16; without the
//                instruction bf16 runs the plain emulation on these tiles.
//                Attention's products (attention_bf16.h) take 16×16 tiles
//                of it instead (bf16_16x16).
// The bf16 packers here (pairs of fp32 rounded to bf16 in vector registers)
// need only AVX-512F, and the AMX path packs with them too.
#pragma once

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")

namespace gemm {
namespace avx512 {

constexpr int MR = 12, NR = 32;

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

// Starts fetching a tile's 12 rows of c (two lines each) before the depth
// loop, so that the stores (and the reads, when accumulating) after it find
// them in cache instead of each waiting on memory: the outputs of the large
// products are megabytes that were last touched a layer ago.
inline void prefetch_tile(const float* c, long ldc) {
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char*)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char*)(c + r * ldc + 16), _MM_HINT_T0);
    }
}

// At depth step q < 2·MR of a call, every other step: the two lines of one
// row of the tile to the right, c + NR, which the driver (matmul.h: a row
// panel's tiles left to right) computes next. Twelve rows at a time at the
// start of a call (prefetch_tile) reach only this call's own tile in time;
// spread over the loop, the next tile's lines arrive while this one
// computes. In-process alternating runs of the 12 llama-5M layer products
// (bf16): 2-5% faster in two sets of 30 reps, ~1% in a third.
inline void prefetch_next_row(const float* c, long ldc, int q) {
    if (q < 2 * MR && !(q & 1)) {
        const float* p = c + NR + (q / 2) * ldc;
        _mm_prefetch((const char*)p, _MM_HINT_T0);
        _mm_prefetch((const char*)(p + 16), _MM_HINT_T0);
    }
}

// One 12×32 tile from kc values of depth.
inline void micro_fp32(int kc, const void* Ap_, const void* Bp_, float* c, long ldc, bool accumulate) {
    const float* Ap = (const float*)Ap_;
    const float* Bp = (const float*)Bp_;
    prefetch_tile(c, ldc);
    __m512 acc[MR][2];
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
    for (int k = 0; k < kc; k++) {
        prefetch_next_row(c, ldc, k);
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
}

// A's 12-row panels. A transposed operand (dweight's doutᵀ, s_r == 1): PACK_KB
// source lines at a time dealt out to every full panel, 12 values a line and
// panel by one masked load and store; the rest by the plain packer.
inline void pack_A_fp32(void* dst_, const float* src, long s_r, long s_k, int rows, int kc, int) {
    float* dst = (float*)dst_;
    int p0 = 0;
    if (s_r == 1 && rows >= MR) {
        const __mmask16 mask = (__mmask16)((1u << MR) - 1);
        const int full = rows / MR;
        for (int k0 = 0; k0 < kc; k0 += PACK_KB) {
            const int k1 = std::min(k0 + PACK_KB, kc);
            for (int p = 0; p < full; p++) {
                float* d = dst + (size_t)p * MR * kc;
                const float* s = src + (long)k0 * s_k + p * MR;
                for (int k = k0; k < k1; k++, s += s_k)
                    _mm512_mask_storeu_ps(d + k * MR, mask, _mm512_maskz_loadu_ps(mask, s));
            }
        }
        p0 = full;
    }
    for (int p = p0; p * MR < rows; p++)
        plain::pack_panel_fp32(dst + (size_t)p * MR * kc, MR, src + (long)p * MR * s_r, s_r, s_k,
                               std::min(MR, rows - p * MR), 0, kc);
}

inline void pack_B_fp32(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int) {
    plain::pack_panels_fp32((float*)dst, NR, src, s_r, s_k, rows, kc);
}

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

// A 16×16 block of 32-bit words transposed in registers: r[i] holds row i
// before, column i after. Pairs of rows interleave by words, then by pairs of
// words, which leaves 4×4 blocks in each 128-bit lane; two rounds of lane
// shuffles then move the blocks to their places.
// (The zero-masked forms of the shuffles, all lanes kept: GCC 12's plain ones
// trip -Wmaybe-uninitialized in its own header, bug 105593.)
inline void transpose16x16(__m512i r[16]) {
    const __mmask16 all16 = 0xffff;
    const __mmask8 all8 = 0xff;
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_maskz_unpacklo_epi32(all16, r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_maskz_unpackhi_epi32(all16, r[2 * i], r[2 * i + 1]);
    }
    __m512i u[16];  // u[4i + e], lane L = column 4L + e of rows 4i..4i+3
    for (int i = 0; i < 4; i++) {
        u[4 * i + 0] = _mm512_maskz_unpacklo_epi64(all8, t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_maskz_unpackhi_epi64(all8, t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_maskz_unpacklo_epi64(all8, t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_maskz_unpackhi_epi64(all8, t[4 * i + 1], t[4 * i + 3]);
    }
    for (int e = 0; e < 4; e++) {  // column 4L + e gathers lane L of u[e], u[4+e], u[8+e], u[12+e]
        __m512i s0 = _mm512_maskz_shuffle_i32x4(all16, u[e], u[4 + e], 0x44);
        __m512i s1 = _mm512_maskz_shuffle_i32x4(all16, u[e], u[4 + e], 0xEE);
        __m512i s2 = _mm512_maskz_shuffle_i32x4(all16, u[8 + e], u[12 + e], 0x44);
        __m512i s3 = _mm512_maskz_shuffle_i32x4(all16, u[8 + e], u[12 + e], 0xEE);
        r[0 + e] = _mm512_maskz_shuffle_i32x4(all16, s0, s2, 0x88);
        r[4 + e] = _mm512_maskz_shuffle_i32x4(all16, s0, s2, 0xDD);
        r[8 + e] = _mm512_maskz_shuffle_i32x4(all16, s1, s3, 0x88);
        r[12 + e] = _mm512_maskz_shuffle_i32x4(all16, s1, s3, 0xDD);
    }
}

// Pair words of 16 lanes from two rows of 16 bf16 bits: lane j = (lo[j], hi[j]).
// (Zero-masked widening: the plain form trips GCC 12's bug 105593 too.)
inline __m512i pairs16_of(__m256i lo, __m256i hi) {
    const __mmask16 all = 0xffff;
    return _mm512_or_si512(_mm512_maskz_cvtepu16_epi32(all, lo),
                           _mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, hi), 16));
}

// What the packers below read, from fp32 values (rounded to bf16 here) or
// from bf16 bits (a bf16 producer's output, bf16_bits of each value: the same
// words, from half the bytes, with nothing to round):
// 16 pair words of one row, depths 2t and 2t+1 of word t adjacent in memory
inline __m512i row_pairs(const float* s) { return bf16_pairs_contiguous(s); }
inline __m512i row_pairs(const uint16_t* s) { return _mm512_loadu_si512(s); }
// the pair words of 16 rows from two lines of depth, or of the rows in mask m (a 12-row panel's)
inline __m512i line_pairs(const float* s0, const float* s1) {
    return bf16_pairs_of(_mm512_loadu_ps(s0), _mm512_loadu_ps(s1));
}
inline __m512i line_pairs(const uint16_t* s0, const uint16_t* s1) {
    return pairs16_of(_mm256_loadu_si256((const __m256i*)s0), _mm256_loadu_si256((const __m256i*)s1));
}
inline __m512i line_pairs(const float* s0, const float* s1, __mmask16 m) {
    return bf16_pairs_of(_mm512_maskz_loadu_ps(m, s0), _mm512_maskz_loadu_ps(m, s1));
}
inline __m512i line_pairs(const uint16_t* s0, const uint16_t* s1, __mmask16 m) {
    return pairs16_of(_mm256_maskz_loadu_epi16(m, s0), _mm256_maskz_loadu_epi16(m, s1));
}

// Packs rows × depth kc into panels of `width` rows of pair words, kw words
// deep (the layout in matmul_plain.h), from fp32 values or bf16 bits. Every
// vector path walks the source in its memory order, one row or one line of
// depth at a time across all panels: a walk down one panel with a stride of
// kilobytes would map every read to the same L1 set. What they leave (tails,
// padding) is plain::pack_pairs_rest.
template <class T>
void pack_pairs(uint32_t* dst, int width, const T* src, long s_r, long s_k, int rows, int kc, int kw) {
    const int panels = (rows + width - 1) / width;
    const size_t panel_words = (size_t)kw * width;
    int pv = 0, qv = 0;  // panels [0, pv) × words [0, qv) are done by a vector path
    if (s_k == 1 && (width % 16 == 0 || width == 12)) {
        // pairs adjacent in memory: 32 values of a row make 16 words; 16 rows of a
        // panel (12 for width 12) at a time, transposed so that each of the 16
        // words goes to its line of the panel as one store
        qv = kc / 32 * 16;
        pv = panels;
        const int group = width == 12 ? 12 : 16;
        const __mmask16 keep = (__mmask16)((1u << group) - 1);
        for (int p = 0; p < panels; p++)
            for (int g = 0; g < width; g += group) {
                const int r0 = p * width + g;
                uint32_t* d = dst + (size_t)p * panel_words + g;
                for (int q = 0; q < qv; q += 16) {
                    __m512i v[16];
                    for (int i = 0; i < 16; i++)
                        v[i] = i < group && r0 + i < rows ? row_pairs(src + (long)(r0 + i) * s_r + 2 * q)
                                                          : _mm512_setzero_si512();
                    transpose16x16(v);
                    for (int t = 0; t < 16; t++) _mm512_mask_storeu_epi32(d + (size_t)(q + t) * width, keep, v[t]);
                }
            }
    } else if (s_r == 1 && (width % 16 == 0 || width == 12)) {
        // rows contiguous: two lines of depth make `width` words of each full panel
        qv = kc / 2;
        pv = rows / width;
        const __mmask16 m12 = 0x0fff;
        // cache lines of a source line's panels, prefetched PACK_AHEAD words on in
        // the GEMM's deep blocks (attention's 64-deep tiles measured no better with it)
        const int span = kc >= 256 ? (pv * width * (int)sizeof(T) + 63) / 64 : 0;
        for (int q = 0; q < qv; q++) {
            const T* s0 = src + (long)(2 * q) * s_k;
            const T* s1 = s0 + s_k;
            if (q + PACK_AHEAD < qv)  // the two source lines PACK_AHEAD pair words on
                for (int l = 0; l < span; l++) {
                    _mm_prefetch((const char*)(s0 + 2 * PACK_AHEAD * s_k) + 64 * l, _MM_HINT_T0);
                    _mm_prefetch((const char*)(s1 + 2 * PACK_AHEAD * s_k) + 64 * l, _MM_HINT_T0);
                }
            for (int p = 0; p < pv; p++) {
                uint32_t* d = dst + (size_t)p * panel_words + (size_t)q * width;
                const int r0 = p * width;
                if (width == 12)
                    _mm512_mask_storeu_epi32(d, m12, line_pairs(s0 + r0, s1 + r0, m12));
                else
                    for (int r = 0; r < width; r += 16)
                        _mm512_storeu_si512((__m512i*)(d + r), line_pairs(s0 + r0 + r, s1 + r0 + r));
            }
        }
    }
    plain::pack_pairs_rest(dst, width, src, s_r, s_k, rows, kc, kw, pv, qv);
}

inline void pack_A_bf16(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs((uint32_t*)dst, MR, src, s_r, s_k, rows, kc, kw);
}
inline void pack_B_bf16(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs((uint32_t*)dst, NR, src, s_r, s_k, rows, kc, kw);
}
inline void pack_A16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs((uint32_t*)dst, MR, src, s_r, s_k, rows, kc, kw);
}
inline void pack_B16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs((uint32_t*)dst, NR, src, s_r, s_k, rows, kc, kw);
}

// Both operands of a 16×16 tile (bf16_16x16 below) as 16-wide panels.
inline void pack_16_bf16(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs((uint32_t*)dst, 16, src, s_r, s_k, rows, kc, kw);
}
inline void pack_16_16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_pairs((uint32_t*)dst, 16, src, s_r, s_k, rows, kc, kw);
}

inline const Kernels fp32 = {"AVX-512F FMA, 12x32 tiles", MR, NR, false, 1, pack_A_fp32, pack_B_fp32,
                             micro_fp32, nullptr, nullptr, nullptr, nullptr};
inline const Kernels bf16_emulated = {"bf16 emulated on AVX-512F (no avx512_bf16: slower than fp32), 12x32 tiles",
                                      MR, NR, true, 1, pack_A_bf16, pack_B_bf16, plain::micro_bf16<MR, NR>,
                                      nullptr, nullptr, pack_A16, pack_B16};

}  // namespace avx512
}  // namespace gemm

#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")

namespace gemm {
namespace avx512 {

// One 12×32 tile from kw pair words of depth on vdpbf16ps, fp32 accumulators.
inline void micro_bf16(int kw, const void* Ap_, const void* Bp_, float* c, long ldc, bool accumulate) {
    const uint32_t* Ap = (const uint32_t*)Ap_;
    const uint32_t* Bp = (const uint32_t*)Bp_;
    prefetch_tile(c, ldc);
    __m512 acc[MR][2];
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
    for (int q = 0; q < kw; q++) {
        prefetch_next_row(c, ldc, q);
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
}

inline const Kernels bf16 = {"avx512_bf16 vdpbf16ps, 12x32 tiles", MR, NR, true, 1, pack_A_bf16, pack_B_bf16,
                             micro_bf16, nullptr, nullptr, pack_A16, pack_B16};

// One 16×16 tile from kw pair words of depth: 16 accumulators, a B line and
// 16 broadcast A words a step. Flash attention's products (attention_bf16.h)
// have 64 rows (a tile's queries or keys) or 64 columns: 12-row panels pad
// them to 72, and the causal diagonal's tiles skip only what lies above it
// in 12×32 blocks; 16×16 tiles compute neither. The sum of each output runs
// over the depth in the same order as micro_bf16's, so the bits are the same.
// llama-5M B16 T256 (HS 64), in-process alternating, median of 40: forward
// 3.51 -> 3.25 ms, backward 6.69 -> 5.84 ms a layer (Zen 4, 2 threads).
inline void micro_bf16_16x16(int kw, const void* Ap_, const void* Bp_, float* c, long ldc, bool accumulate) {
    const uint32_t* Ap = (const uint32_t*)Ap_;
    const uint32_t* Bp = (const uint32_t*)Bp_;
    __m512 acc[16];
    #pragma GCC unroll 16
    for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
    for (int q = 0; q < kw; q++) {
        const __m512bh b = (__m512bh)_mm512_load_si512((const __m512i*)(Bp + q * 16));
        #pragma GCC unroll 16
        for (int r = 0; r < 16; r++)
            acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_set1_epi32((int)Ap[q * 16 + r]), b);
    }
    #pragma GCC unroll 16
    for (int r = 0; r < 16; r++) {
        float* cr = c + r * ldc;
        _mm512_storeu_ps(cr, accumulate ? _mm512_add_ps(acc[r], _mm512_loadu_ps(cr)) : acc[r]);
    }
}

inline const Kernels bf16_16x16 = {"avx512_bf16 vdpbf16ps, 16x16 tiles", 16, 16, true, 1, pack_16_bf16, pack_16_bf16,
                                   micro_bf16_16x16, nullptr, nullptr, pack_16_16, pack_16_16};

}  // namespace avx512
}  // namespace gemm

#pragma GCC pop_options
#endif  // __x86_64__
