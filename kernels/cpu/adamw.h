// kernels/cpu/adamw.h: global gradient norm and the fused AdamW update.
#pragma once
#include <cmath>
#include <cstddef>

// Σ g² over n values, accumulated in double so the norm of millions of small
// gradients does not lose digits; per-thread partial sums in a fixed order.
inline double grad_norm_squared(const float* g, size_t n) {
    double total = 0.0;
    #pragma omp parallel for reduction(+ : total) schedule(static)
    for (size_t i = 0; i < n; i++) total += (double)g[i] * g[i];
    return total;
}

// One AdamW step over n parameters in a single pass (PyTorch's AdamW):
//   g  = grad · grad_scale                       (grad_scale carries gradient clipping)
//   p *= 1 − lr·weight_decay                     (decoupled decay; pass 0 for norms/embeddings)
//   m  = β1 m + (1−β1) g,   v = β2 v + (1−β2) g²
//   p −= lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps)
// t is the 1-based step count.
inline void adamw_update(float* params, const float* grads, float* m, float* v, size_t n,
                         float lr, float beta1, float beta2, float eps, float weight_decay,
                         int t, float grad_scale) {
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    float step = lr / bc1;
    float decay = 1.0f - lr * weight_decay;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] * decay - step * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

// ----------------------------------------------------------------------------
// Fast versions. The plain loops above do not vectorise: sqrtf may set errno
// and a reduction in double may not be reordered, so the compiler keeps both
// scalar. These spell the vectors out.

#include <vector>

#include "simd.h"

// As grad_norm_squared, in fixed blocks of NORM_BLOCK values, each summed in
// 8 double lanes, the blocks added in order: the same bits on any thread count.
constexpr size_t NORM_BLOCK = 1 << 14;
inline double grad_norm_squared_fast(const float* g, size_t n) {
    const size_t nblocks = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    std::vector<double> partial(nblocks);
    #pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblocks; blk++) {
        const size_t i0 = blk * NORM_BLOCK, i1 = i0 + NORM_BLOCK < n ? i0 + NORM_BLOCK : n;
        double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        size_t i = i0;
        for (; i + 8 <= i1; i += 8)
            for (int j = 0; j < 8; j++) acc[j] += (double)g[i + j] * g[i + j];
        for (; i < i1; i++) acc[0] += (double)g[i] * g[i];
        partial[blk] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
    double total = 0.0;
    for (double s : partial) total += s;
    return total;
}

// Same contract and formula as adamw_update, vectorised.
inline void adamw_update_fast(float* params, const float* grads, float* m, float* v, size_t n, float lr,
                              float beta1, float beta2, float eps, float weight_decay, int t, float grad_scale) {
    using namespace simd;
    const float bc1 = 1.0f - powf(beta1, (float)t);
    const float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    const float step = lr / bc1;
    const float decay = 1.0f - lr * weight_decay;
    const size_t nv = n / W * W;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < nv; i += W) {
        vf g = vmul(vload(grads + i), vset1(grad_scale));
        vf mi = vadd(vmul(vset1(beta1), vload(m + i)), vmul(vset1(1.0f - beta1), g));
        vf vi = vadd(vmul(vset1(beta2), vload(v + i)), vmul(vmul(vset1(1.0f - beta2), g), g));
        vstore(m + i, mi);
        vstore(v + i, vi);
        vf denom = vadd(vdiv(vsqrt(vi), vset1(bc2_sqrt)), vset1(eps));
        vstore(params + i, vsub(vmul(vload(params + i), vset1(decay)), vdiv(vmul(vset1(step), mi), denom)));
    }
    for (size_t i = nv; i < n; i++) {
        float g = grads[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] * decay - step * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}
