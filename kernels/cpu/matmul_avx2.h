// kernels/cpu/matmul_avx2.h: the GEMM's AVX2+FMA path (part of matmul.h,
// included by it), compiled for that ISA by the target pragma below whatever
// the build's -march, and run only where cpu_features() finds AVX2 and FMA.
//   tiles: MR×NR = 6×16, 12 ymm accumulators of the 16 registers
//   bf16: no instruction for it; the plain emulation on the same tiles
#pragma once

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace gemm {
namespace avx2 {

constexpr int MR = 6, NR = 16;

// One 6×16 tile from kc values of depth.
inline void micro_fp32(int kc, const void* Ap_, const void* Bp_, float* c, long ldc, bool accumulate) {
    const float* Ap = (const float*)Ap_;
    const float* Bp = (const float*)Bp_;
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
}

// A's 6-row panels. The stores write 8 floats where a panel needs 6: each
// one's last two floats are overwritten by the next, and the driver keeps
// PACK_SLACK floats after the block for the very last.
inline void pack_A_fp32(void* dst_, const float* src, long s_r, long s_k, int rows, int kc, int) {
    float* dst = (float*)dst_;
    int p0 = 0;  // panels done by the first vector path
    if (s_r == 1 && rows >= MR) {
        // A transposed operand (dweight's doutᵀ): a line of the source holds
        // one depth of every panel. Take PACK_KB lines at a time (they stay in
        // L1) and deal them out to the full panels, 6 values per line and
        // panel, so both the reads and the writes stay within a few pages.
        const __m256i mask = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
        const int full = rows / MR;
        for (int k0 = 0; k0 < kc; k0 += PACK_KB) {
            const int k1 = std::min(k0 + PACK_KB, kc);
            for (int p = 0; p < full; p++) {
                float* d = dst + (size_t)p * MR * kc;
                const float* s = src + (long)k0 * s_k + p * MR;
                int k = k0;
                for (; k + 1 < k1; k++, s += s_k)  // the 2 extra floats land in depth k+1's slot, written next
                    _mm256_storeu_ps(d + k * MR, _mm256_maskload_ps(s, mask));
                if (k1 < kc) _mm256_storeu_ps(d + k * MR, _mm256_maskload_ps(s, mask));
                else _mm256_maskstore_ps(d + k * MR, mask, _mm256_maskload_ps(s, mask));  // the panel's last depth
            }
        }
        p0 = full;
    }
    for (int p = p0; p * MR < rows; p++) {
        float* d = dst + (size_t)p * MR * kc;
        const float* s = src + (long)p * MR * s_r;
        const int mr = std::min(MR, rows - p * MR);
        int k0 = 0;  // depth done by the vector path
        if (mr == MR && s_k == 1) {  // 6 rows × 8 depths → 8 columns of 6, by one 8×8 transpose
            for (; k0 + 8 <= kc; k0 += 8) {
                __m256 v[8];
                for (int r = 0; r < MR; r++) v[r] = _mm256_loadu_ps(s + r * s_r + k0);
                v[6] = v[7] = _mm256_setzero_ps();
                simd::transpose8x8(v);
                for (int j = 0; j < 8; j++) _mm256_storeu_ps(d + (k0 + j) * MR, v[j]);
            }
        }
        plain::pack_panel_fp32(d, MR, s, s_r, s_k, mr, k0, kc);
    }
}

// Bm's 16-column panels.
inline void pack_B_fp32(void* dst_, const float* src, long s_r, long s_k, int rows, int kc, int) {
    float* dst = (float*)dst_;
    for (int p = 0; p * NR < rows; p++) {
        float* d = dst + (size_t)p * NR * kc;
        const float* s = src + (long)p * NR * s_r;
        const int nr = std::min(NR, rows - p * NR);
        int k0 = 0;  // depth done by a vector path
        if (nr == NR && s_r == 1) {  // rows of Bm contiguous: a copy
            for (; k0 < kc; k0++) {
                _mm256_store_ps(d + k0 * NR, _mm256_loadu_ps(s + k0 * s_k));
                _mm256_store_ps(d + k0 * NR + 8, _mm256_loadu_ps(s + k0 * s_k + 8));
            }
        } else if (nr == NR && s_k == 1) {  // 8 columns × 8 depths → 8 rows of 8, by one transpose
            for (; k0 + 8 <= kc; k0 += 8)
                for (int h = 0; h < NR; h += 8) {
                    __m256 v[8];
                    for (int j = 0; j < 8; j++) v[j] = _mm256_loadu_ps(s + (h + j) * s_r + k0);
                    simd::transpose8x8(v);
                    for (int k = 0; k < 8; k++) _mm256_store_ps(d + (k0 + k) * NR + h, v[k]);
                }
        }
        plain::pack_panel_fp32(d, NR, s, s_r, s_k, nr, k0, kc);
    }
}

inline void pack_A_bf16(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    plain::pack_pairs_rest((uint32_t*)dst, MR, src, s_r, s_k, rows, kc, kw, 0, 0);
}
inline void pack_B_bf16(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw) {
    plain::pack_pairs_rest((uint32_t*)dst, NR, src, s_r, s_k, rows, kc, kw, 0, 0);
}

inline void pack_A16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    plain::pack_pairs_rest((uint32_t*)dst, MR, src, s_r, s_k, rows, kc, kw, 0, 0);
}
inline void pack_B16(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw) {
    plain::pack_pairs_rest((uint32_t*)dst, NR, src, s_r, s_k, rows, kc, kw, 0, 0);
}

inline const Kernels fp32 = {"AVX2 FMA, 6x16 tiles", MR, NR, false, 1, pack_A_fp32, pack_B_fp32,
                             micro_fp32, nullptr, nullptr, nullptr, nullptr};
inline const Kernels bf16 = {"bf16 emulated on AVX2 (no bf16 instruction: slower than fp32), 6x16 tiles", MR, NR,
                             true, 1, pack_A_bf16, pack_B_bf16, plain::micro_bf16<MR, NR>, nullptr, nullptr,
                             pack_A16, pack_B16};

}  // namespace avx2
}  // namespace gemm

#pragma GCC pop_options
#endif  // __x86_64__
