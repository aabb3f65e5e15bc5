// kernels/cpu/matmul_amx.h: the GEMM's AMX bf16 path (part of matmul.h,
// included by it), for Intel's Advanced Matrix Extensions (Sapphire Rapids and
// later): eight tile registers of 16 rows × 64 bytes, and TDPBF16PS, which
// adds a 16×32 bf16 tile times a 32×16 one into a 16×16 fp32 tile, 16K
// multiply-adds an instruction.
//
// A micro-kernel call computes a 32×32 tile of Cm as 2×2 accumulator tiles
// (tmm0-3) from two tiles of A (tmm4-5) and two of Bm (tmm6-7), 32 depths
// (16 pair words) per step. What the tiles load, with the depth padded with
// zeros to a multiple of 32 (kw a multiple of 16 words):
//   A  (tile row = a row of Cm, 16 pair words of depth):
//      packed row-major, word [r·kw + q] = (A(r, 2q), A(r, 2q+1)), so a tile
//      of rows r..r+15 and words q..q+15 is one tileloadd with stride 4·kw.
//   Bm (tile row = a pair of depths, 16 columns as pair words: the "VNNI"
//      layout): the 32-column pair panels of matmul_plain.h, word [q·32 + j],
//      so the two column halves are tileloadd at +0 and +16 words, stride 128.
// Cm's tiles are loaded from and stored to Cm itself with stride 4·ldc.
//
// Only a CPU with AMX runs the real micro-kernel. micro_emulated does what the
// tiles do, in plain C++ with the same packed operands and steps, so the
// packing and the driver are tested on any CPU with AVX-512 (gemm::Isa::amx_emulated).
#pragma once

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")

namespace gemm {
namespace amx {

constexpr int MR = 32, NR = 32;
constexpr int TILE_WORDS = 16;  // pair words in a 64-byte tile row: 32 depths

// Rows [r0, r1) of A's packed block from word q0 on (and the zero padding),
// from fp32 values or bf16 bits (plain::pair_at).
template <class T>
void pack_A_rows_plain(uint32_t* dst, const T* src, long s_r, long s_k, int r0, int r1, int q0, int kc, int kw) {
    const int kp = (kc + 1) / 2;
    for (int r = r0; r < r1; r++)
        for (int q = q0; q < kw; q++)
            dst[(size_t)r * kw + q] =
                q < kp ? plain::pair_at(src + (long)r * s_r + (long)(2 * q) * s_k, s_k, 2 * q + 1 < kc) : 0u;
}

// A's block, rows × depth kc, as tile rows (the layout above); rows up to the
// next multiple of MR are zero. From fp32 values or bf16 bits (a bf16
// producer's output: the same words; avx512::row_pairs, line_pairs).
template <class T>
void pack_A_from(uint32_t* dst, const T* src, long s_r, long s_k, int rows, int kc, int kw) {
    const int rows_padded = (rows + MR - 1) / MR * MR;
    const int qv = kc / 32 * 16;  // words whose both depths exist, in whole vectors
    if (s_k == 1) {               // a row's depths adjacent (forward, dinp): 32 values make 16 words
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < qv; q += 16)
                _mm512_storeu_si512((__m512i*)(dst + (size_t)r * kw + q), avx512::row_pairs(src + r * s_r + 2 * q));
        pack_A_rows_plain(dst, src, s_r, s_k, 0, rows, qv, kc, kw);
    } else if (s_r == 1) {        // rows adjacent (dweight's doutᵀ): 16 rows × 16 words at a time, transposed
        // Across the rows first: the 32 source lines of 16 words are read along
        // their length, and the same block 32 words on is prefetched meanwhile
        // (lines a row of dout apart, which the hardware does not prefetch), to
        // L2: a dout row of 4 KB (w13's) puts all 32 lines in one L1 set. Packing
        // llama-5M's doutᵀ from memory, one thread on a Zen 4 (build/bench_pack,
        // the amx_emulated path runs these packers): qkv's 2.0-3.0 ms down the
        // depth a 16-row strip at a time, as before, 1.5-1.8 this way; w13's
        // 2.9-4.0 and 2.1-2.5. (16, 32 and 64 words ahead measured alike.)
        const int rv = rows / 16 * 16;
        for (int q0 = 0; q0 < qv; q0 += 16)
            for (int r0 = 0; r0 < rv; r0 += 16) {
                if (q0 + 32 < qv && kc >= 256)
                    for (int i = 0; i < 32; i++)
                        _mm_prefetch((const char*)(src + (long)(2 * (q0 + 32) + i) * s_k + r0), _MM_HINT_T1);
                __m512i v[16];
                for (int i = 0; i < 16; i++) {
                    const T* s = src + (long)(2 * (q0 + i)) * s_k + r0;
                    v[i] = avx512::line_pairs(s, s + s_k);
                }
                avx512::transpose16x16(v);
                for (int r = 0; r < 16; r++) _mm512_storeu_si512((__m512i*)(dst + (size_t)(r0 + r) * kw + q0), v[r]);
            }
        pack_A_rows_plain(dst, src, s_r, s_k, 0, rv, qv, kc, kw);
        pack_A_rows_plain(dst, src, s_r, s_k, rv, rows, 0, kc, kw);
    } else {
        pack_A_rows_plain(dst, src, s_r, s_k, 0, rows, 0, kc, kw);
    }
    memset(dst + (size_t)rows * kw, 0, (size_t)(rows_padded - rows) * kw * sizeof(uint32_t));
}

// The table's packers; Bm's are the 32-column pair panels, padded in depth to kw words.
inline void pack_A(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_A_from((uint32_t*)dst, src, s_r, s_k, rows, kc, kw);
}
inline void pack_B(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    avx512::pack_pairs((uint32_t*)dst, NR, src, s_r, s_k, rows, kc, kw);
}
inline void pack_A16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    pack_A_from((uint32_t*)dst, src, s_r, s_k, rows, kc, kw);
}
inline void pack_B16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    avx512::pack_pairs((uint32_t*)dst, NR, src, s_r, s_k, rows, kc, kw);
}

// What the tiles compute, one TDPBF16PS at a time, in plain C++: for each 16
// words of depth, every C tile adds A tile × B tile, each pair of depths as
// the high product then the low one, fp32 rounding after each.
inline void micro_emulated(int kw, const void* Ap_, const void* Bp_, float* c, long ldc, bool accumulate) {
    const uint32_t* Ap = (const uint32_t*)Ap_;
    const uint32_t* Bp = (const uint32_t*)Bp_;
    float acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = accumulate ? c[i * ldc + j] : 0.0f;
    for (int q0 = 0; q0 < kw; q0 += TILE_WORDS)
        for (int i = 0; i < MR; i++)
            for (int q = q0; q < q0 + TILE_WORDS; q++) {
                const uint32_t a = Ap[(size_t)i * kw + q];
                for (int j = 0; j < NR; j++) {
                    const uint32_t b = Bp[(size_t)q * NR + j];
                    acc[i][j] = fmaf(bf16_low(a), bf16_low(b), fmaf(bf16_high(a), bf16_high(b), acc[i][j]));
                }
            }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) c[i * ldc + j] = acc[i][j];
}

inline const Kernels bf16_emulated = {"AMX bf16 tiles EMULATED in C++ (a test path: slow), 32x32 tiles", MR, NR,
                                      true, TILE_WORDS, pack_A, pack_B, micro_emulated, nullptr, nullptr,
                                      pack_A16, pack_B16};

}  // namespace amx
}  // namespace gemm

#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,amx-tile,amx-bf16")

namespace gemm {
namespace amx {

// The tile palette every thread loads before its first tile instruction: all
// eight tiles 16 rows × 64 bytes.
struct alignas(64) TileConfig {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];  // bytes per row of each tile
    uint8_t rows[16];
};

inline void thread_begin() {
    TileConfig cfg = {};
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
}

inline void thread_end() { _tile_release(); }

// One 32×32 tile of Cm from kw pair words of depth (a multiple of 16).
inline void micro(int kw, const void* Ap_, const void* Bp_, float* c, long ldc, bool accumulate) {
    const uint32_t* Ap = (const uint32_t*)Ap_;
    const uint32_t* Bp = (const uint32_t*)Bp_;
    const long sa = 4L * kw, sb = 4L * NR, sc = 4L * ldc;  // strides in bytes
    if (accumulate) {
        _tile_loadd(0, c, sc);
        _tile_loadd(1, c + 16, sc);
        _tile_loadd(2, c + 16 * ldc, sc);
        _tile_loadd(3, c + 16 * ldc + 16, sc);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (int q = 0; q < kw; q += TILE_WORDS) {
        _tile_loadd(4, Ap + q, sa);                 // rows 0-15
        _tile_loadd(5, Ap + 16 * (size_t)kw + q, sa);  // rows 16-31
        _tile_loadd(6, Bp + (size_t)q * NR, sb);       // columns 0-15
        _tile_loadd(7, Bp + (size_t)q * NR + 16, sb);  // columns 16-31
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, c, sc);
    _tile_stored(1, c + 16, sc);
    _tile_stored(2, c + 16 * ldc, sc);
    _tile_stored(3, c + 16 * ldc + 16, sc);
}

inline const Kernels bf16 = {"AMX bf16 tiles (TDPBF16PS), 32x32 tiles", MR, NR, true, TILE_WORDS, pack_A, pack_B,
                             micro, thread_begin, thread_end, pack_A16, pack_B16};

}  // namespace amx
}  // namespace gemm

#pragma GCC pop_options
#endif  // __x86_64__
