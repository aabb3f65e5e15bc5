// kernels/cpu/bias.h: the bias of a linear layer, and the bias-adding variants
// of the matmul kernels that GPT-2's linear layers use:
//   forward:  out (N, OC) = inp (N, C) · weightᵀ + bias
//   backward: dinp += dout · weight, dweight += doutᵀ · inp, dbias += Σ_n dout
//             (the _set_dinp variant overwrites dinp instead)
// kernels/cpu/matmul.h has no bias; these compose its kernels (through their
// public signatures) with the bias add and the bias gradient below.
//
// bias_backward sums each column over rows in row order, from zero, by one
// thread; bias_backward_ref is the same sum as a plain loop, so the two agree
// to the bit for any thread count. The fast version walks rows in blocks of
// BIAS_BLOCK columns with local accumulators, so its inner loop is contiguous.
#pragma once
#include <cstddef>

#include "matmul.h"

// ----------------------------------------------------------------------------
// Plain reference

// out (N, OC) += bias (OC) on every row.
inline void bias_forward_ref(float* out, const float* bias, int N, int OC) {
    for (int n = 0; n < N; n++)
        for (int j = 0; j < OC; j++) out[(size_t)n * OC + j] += bias[j];
}

// dbias (OC) += Σ_n dout (N, OC), each column summed from zero in row order.
inline void bias_backward_ref(float* dbias, const float* dout, int N, int OC) {
    for (int j = 0; j < OC; j++) {
        float s = 0.0f;
        for (int n = 0; n < N; n++) s += dout[(size_t)n * OC + j];
        dbias[j] += s;
    }
}

// ----------------------------------------------------------------------------
// Fast path

constexpr int BIAS_BLOCK = 128;  // columns per task: 512 B of accumulators
// Below this many elements the work takes less than waking the other threads.
constexpr long BIAS_PARALLEL_MIN = 1 << 15;

inline void bias_forward(float* out, const float* bias, int N, int OC) {
    #pragma omp parallel for schedule(static) if ((long)N * OC >= BIAS_PARALLEL_MIN)
    for (int n = 0; n < N; n++) {
        float* o = out + (size_t)n * OC;
        #pragma omp simd
        for (int j = 0; j < OC; j++) o[j] += bias[j];
    }
}

inline void bias_backward(float* dbias, const float* dout, int N, int OC) {
    const int blocks = (OC + BIAS_BLOCK - 1) / BIAS_BLOCK;
    #pragma omp parallel for schedule(static) if ((long)N * OC >= BIAS_PARALLEL_MIN)
    for (int blk = 0; blk < blocks; blk++) {
        const int j0 = blk * BIAS_BLOCK, nj = OC - j0 < BIAS_BLOCK ? OC - j0 : BIAS_BLOCK;
        float s[BIAS_BLOCK] = {0.0f};
        for (int n = 0; n < N; n++) {
            const float* d = dout + (size_t)n * OC + j0;
            #pragma omp simd
            for (int j = 0; j < nj; j++) s[j] += d[j];
        }
        for (int j = 0; j < nj; j++) dbias[j0 + j] += s[j];
    }
}

// ----------------------------------------------------------------------------
// Linear layers with bias

// out (N, OC) = inp (N, C) · weight (OC, C)ᵀ + bias (OC); bias may be null.
// bf16: the product on bf16-rounded operands (matmul.h); the bias stays fp32.
inline void matmul_forward_bias(float* out, const float* inp, const float* weight, const float* bias,
                                int N, int C, int OC, bool bf16 = false) {
    matmul_forward(out, inp, weight, N, C, OC, bf16);
    if (bias) bias_forward(out, bias, N, OC);
}

// dinp (N, C) += dout · weight; dweight (OC, C) += doutᵀ · inp; dbias (OC) += Σ_n dout.
// Any of the three outputs may be null.
inline void matmul_backward_bias(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                 const float* weight, int N, int C, int OC, bool bf16 = false) {
    matmul_backward(dinp, dweight, dout, inp, weight, N, C, OC, bf16);
    if (dbias) bias_backward(dbias, dout, N, OC);
}

// As matmul_backward_bias, but dinp (N, C) is overwritten with dout · weight
// instead of added to, which spares the caller a memset of dinp; dweight and
// dbias accumulate.
inline void matmul_backward_bias_set_dinp(float* dinp, float* dweight, float* dbias, const float* dout,
                                          const float* inp, const float* weight, int N, int C, int OC,
                                          bool bf16 = false) {
    matmul_backward_set_dinp(dinp, dweight, dout, inp, weight, N, C, OC, bf16);
    if (dbias) bias_backward(dbias, dout, N, OC);
}
