// kernels/cpu/position.h: learned absolute position embedding (GPT-2's wpe),
// added to the token embedding: out[b, t] += wpe[t].
//
// position_backward sums the batch for each position in batch order, from
// zero, by one thread, and position_backward_ref is the same sum as a plain
// loop: the two agree to the bit for any thread count.
#pragma once
#include <cstddef>

// ----------------------------------------------------------------------------
// Plain reference

// out is (B, T, C); wpe is (maxT, C) with maxT >= T, of which rows 0..T-1 are read.
inline void position_forward_ref(float* out, const float* wpe, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < C; i++) out[((size_t)b * T + t) * C + i] += wpe[(size_t)t * C + i];
}

// dwpe (maxT, C) += Σ_b dout[b, t] for t < T; rows T.. are untouched.
inline void position_backward_ref(float* dwpe, const float* dout, int B, int T, int C) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++) {
            float s = 0.0f;
            for (int b = 0; b < B; b++) s += dout[((size_t)b * T + t) * C + i];
            dwpe[(size_t)t * C + i] += s;
        }
}

// ----------------------------------------------------------------------------
// Fast path: threads split the positions (backward) or (b, t) rows (forward);
// backward sums in blocks of POS_BLOCK channels held in local accumulators.

constexpr int POS_BLOCK = 128;
// Below this many elements the work takes less than waking the other threads.
constexpr long POS_PARALLEL_MIN = 1 << 15;

inline void position_forward(float* out, const float* wpe, int B, int T, int C) {
    #pragma omp parallel for collapse(2) schedule(static) if ((long)B * T * C >= POS_PARALLEL_MIN)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float* o = out + ((size_t)b * T + t) * C;
            const float* w = wpe + (size_t)t * C;
            #pragma omp simd
            for (int i = 0; i < C; i++) o[i] += w[i];
        }
}

inline void position_backward(float* dwpe, const float* dout, int B, int T, int C) {
    #pragma omp parallel for schedule(static) if ((long)B * T * C >= POS_PARALLEL_MIN)
    for (int t = 0; t < T; t++) {
        float* dw = dwpe + (size_t)t * C;
        for (int c0 = 0; c0 < C; c0 += POS_BLOCK) {
            const int nc = C - c0 < POS_BLOCK ? C - c0 : POS_BLOCK;
            float s[POS_BLOCK] = {0.0f};
            for (int b = 0; b < B; b++) {
                const float* d = dout + ((size_t)b * T + t) * C + c0;
                #pragma omp simd
                for (int i = 0; i < nc; i++) s[i] += d[i];
            }
            for (int i = 0; i < nc; i++) dw[c0 + i] += s[i];
        }
    }
}
