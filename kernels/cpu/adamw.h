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
