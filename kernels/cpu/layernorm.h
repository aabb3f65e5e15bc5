// kernels/cpu/layernorm.h: LayerNorm over the last dim,
// y = (x − mean(x)) / sqrt(var(x) + eps) · weight + bias, var the biased (1/C) variance.
//
// The fast path (layernorm_forward / layernorm_backward) differs from the plain
// reference (the _ref functions) in two ways only:
//   - row reductions are `omp simd` reductions, which lets the compiler keep
//     several partial sums in vector lanes (a plain float loop must add in
//     order, one element at a time);
//   - dweight and dbias are summed over rows in blocks of LN_BLOCK channels
//     held in local accumulators, so the inner loop runs along contiguous
//     memory instead of striding down a column. Each channel is still summed
//     over rows in row order by exactly one thread, so the result is the same
//     for any thread count.
#pragma once
#include <cmath>
#include <cstddef>

// ----------------------------------------------------------------------------
// Plain reference

// out, inp are (N, C); weight, bias are (C); mean, rstd are (N).
// mean and rstd are cached: backward needs both and recomputing them costs two
// reductions per row. The variance is taken around the mean in a second pass,
// not as E[x²] − E[x]², which cancels badly when |mean| ≫ std.
inline void layernorm_forward_ref(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                  const float* bias, int N, int C, float eps) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* x = inp + (size_t)n * C;
        float m = 0.0f;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        float var = 0.0f;
        for (int i = 0; i < C; i++) { float d = x[i] - m; var += d * d; }
        float r = 1.0f / sqrtf(var / C + eps);
        float* y = out + (size_t)n * C;
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * r * weight[i] + bias[i];
        mean[n] = m;
        rstd[n] = r;
    }
}

// dinp (N, C) += ∂L/∂inp; dweight, dbias (C) += ∂L/∂weight, ∂L/∂bias, each the
// row sum taken from zero and then added.
// With xhat_i = (x_i − mean)·rstd and g_i = dy_i·w_i:
//   dx_i = rstd · (g_i − mean_j(g_j) − xhat_i · mean_j(g_j·xhat_j))
inline void layernorm_backward_ref(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                   const float* weight, const float* mean, const float* rstd, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* x = inp + (size_t)n * C;
        const float* dy = dout + (size_t)n * C;
        float* dx = dinp + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        float gmean = 0.0f, gxmean = 0.0f;
        for (int i = 0; i < C; i++) {
            float g = dy[i] * weight[i];
            gmean += g;
            gxmean += g * (x[i] - m) * r;
        }
        gmean /= C;
        gxmean /= C;
        for (int i = 0; i < C; i++) {
            float xhat = (x[i] - m) * r;
            dx[i] += r * (dy[i] * weight[i] - gmean - xhat * gxmean);
        }
    }
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < C; i++) {
        float dw = 0.0f, db = 0.0f;
        for (int n = 0; n < N; n++) {
            float dy = dout[(size_t)n * C + i];
            dw += dy * (inp[(size_t)n * C + i] - mean[n]) * rstd[n];
            db += dy;
        }
        dweight[i] += dw;
        dbias[i] += db;
    }
}

// ----------------------------------------------------------------------------
// Fast path: same signatures and contracts as the reference.

constexpr int LN_BLOCK = 64;  // channels per dweight/dbias task: 2 × 256 B of accumulators
// Below this many elements the work takes less than waking the other threads
// (and far less when the machine is shared and a thread must wait its turn).
constexpr long LN_PARALLEL_MIN = 1 << 15;

inline void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                              const float* bias, int N, int C, float eps) {
    #pragma omp parallel for schedule(static) if ((long)N * C >= LN_PARALLEL_MIN)
    for (int n = 0; n < N; n++) {
        const float* x = inp + (size_t)n * C;
        float* y = out + (size_t)n * C;
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < C; i++) sum += x[i];
        float m = sum / C;
        float var = 0.0f;
        #pragma omp simd reduction(+ : var)
        for (int i = 0; i < C; i++) { float d = x[i] - m; var += d * d; }
        float r = 1.0f / sqrtf(var / C + eps);
        #pragma omp simd
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * r * weight[i] + bias[i];
        mean[n] = m;
        rstd[n] = r;
    }
}

inline void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                               const float* weight, const float* mean, const float* rstd, int N, int C) {
    #pragma omp parallel if ((long)N * C >= LN_PARALLEL_MIN)
    {
        // nowait: the channel loop below reads only inputs and writes only dweight, dbias
        #pragma omp for schedule(static) nowait
        for (int n = 0; n < N; n++) {
            const float* x = inp + (size_t)n * C;
            const float* dy = dout + (size_t)n * C;
            float* dx = dinp + (size_t)n * C;
            const float m = mean[n], r = rstd[n];
            float gsum = 0.0f, gxsum = 0.0f;
            #pragma omp simd reduction(+ : gsum, gxsum)
            for (int i = 0; i < C; i++) {
                float g = dy[i] * weight[i];
                gsum += g;
                gxsum += g * (x[i] - m) * r;
            }
            const float gmean = gsum / C, gxmean = gxsum / C;
            #pragma omp simd
            for (int i = 0; i < C; i++) dx[i] += r * (dy[i] * weight[i] - gmean - (x[i] - m) * r * gxmean);
        }
        const int blocks = (C + LN_BLOCK - 1) / LN_BLOCK;
        #pragma omp for schedule(static)
        for (int blk = 0; blk < blocks; blk++) {
            const int c0 = blk * LN_BLOCK, nc = C - c0 < LN_BLOCK ? C - c0 : LN_BLOCK;
            float dw[LN_BLOCK] = {0.0f}, db[LN_BLOCK] = {0.0f};
            for (int n = 0; n < N; n++) {
                const float* x = inp + (size_t)n * C + c0;
                const float* dy = dout + (size_t)n * C + c0;
                const float m = mean[n], r = rstd[n];
                #pragma omp simd
                for (int i = 0; i < nc; i++) {
                    dw[i] += dy[i] * (x[i] - m) * r;
                    db[i] += dy[i];
                }
            }
            for (int i = 0; i < nc; i++) {
                dweight[c0 + i] += dw[i];
                dbias[c0 + i] += db[i];
            }
        }
    }
}
