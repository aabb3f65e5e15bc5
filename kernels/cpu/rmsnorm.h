// kernels/cpu/rmsnorm.h: RMSNorm, y = x / sqrt(mean(x²) + eps) * weight, over the last dim.
#pragma once
#include <cmath>

// out, inp are (N, C); weight is (C); rstd is (N).
// rstd is cached: backward needs it and recomputing costs a reduction per row.
inline void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight,
                            int N, int C, float eps) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* x = inp + (size_t)n * C;
        float ss = 0.0f;
        for (int i = 0; i < C; i++) ss += x[i] * x[i];
        float r = 1.0f / sqrtf(ss / C + eps);
        float* y = out + (size_t)n * C;
        for (int i = 0; i < C; i++) y[i] = x[i] * r * weight[i];
        rstd[n] = r;
    }
}

// dinp (N, C) += ∂L/∂inp; dweight (C) += ∂L/∂weight.
// With y_i = x_i r w_i and r = (mean(x²)+eps)^-1/2:
//   dx_i = r w_i dy_i - x_i r³/C · Σ_j dy_j w_j x_j
inline void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                             const float* weight, const float* rstd, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* x = inp + (size_t)n * C;
        const float* dy = dout + (size_t)n * C;
        float* dx = dinp + (size_t)n * C;
        float r = rstd[n];
        float dot = 0.0f;
        for (int i = 0; i < C; i++) dot += dy[i] * weight[i] * x[i];
        float k = dot * r * r * r / C;
        for (int i = 0; i < C; i++) dx[i] += r * weight[i] * dy[i] - x[i] * k;
    }
    // dweight sums over rows; splitting by channel keeps threads apart and the sum order fixed.
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < C; i++) {
        float acc = 0.0f;
        for (int n = 0; n < N; n++) acc += dout[(size_t)n * C + i] * inp[(size_t)n * C + i] * rstd[n];
        dweight[i] += acc;
    }
}
