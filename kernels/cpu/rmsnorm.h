// kernels/cpu/rmsnorm.h: RMSNorm, y = x / sqrt(mean(x²) + eps) * weight, over the last dim.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "bf16.h"

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

// ----------------------------------------------------------------------------
// Fast versions: vectorised, the residual add fused in, dweight in one pass.

#include <algorithm>
#include <vector>

#include "simd.h"

// One row: y = x·r·w with r = 1/sqrt(mean(x²) + eps); returns r.
inline float rmsnorm_row(float* y, const float* x, const float* w, int C, float eps) {
    using namespace simd;
    vf vss = vzero();
    int i = 0;
    for (; i + W <= C; i += W) { vf v = vload(x + i); vss = vfmadd(v, v, vss); }
    float ss = vsum(vss);
    for (; i < C; i++) ss += x[i] * x[i];
    const float r = 1.0f / sqrtf(ss / C + eps);
    const vf vr = vset1(r);
    for (i = 0; i + W <= C; i += W) vstore(y + i, vmul(vmul(vload(x + i), vr), vload(w + i)));
    for (; i < C; i++) y[i] = x[i] * r * w[i];
    return r;
}

// Same contract as rmsnorm_forward.
inline void rmsnorm_forward_fast(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                                 float eps) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        rstd[n] = rmsnorm_row(out + (size_t)n * C, inp + (size_t)n * C, weight, C, eps);
}

// As rmsnorm_forward_fast, with out stored as bf16 bits (bf16.h): the trainers'
// bf16 runs keep the norms' outputs this way, as nothing but bf16 products
// reads them (the backward reads inp and rstd). The same bits as rounding
// rmsnorm_forward_fast's out.
inline void rmsnorm_forward_fast(uint16_t* out, float* rstd, const float* inp, const float* weight, int N, int C,
                                 float eps) {
    #pragma omp parallel
    {
        std::vector<float> y(C);
        #pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            rstd[n] = rmsnorm_row(y.data(), inp + (size_t)n * C, weight, C, eps);
            bf16_store_row(out + (size_t)n * C, y.data(), C);
        }
    }
}

// res[0, C) = x + y
inline void residual_row(float* res, const float* x, const float* y, int C) {
    using namespace simd;
    int i = 0;
    for (; i + W <= C; i += W) vstore(res + i, vadd(vload(x + i), vload(y + i)));
    for (; i < C; i++) res[i] = x[i] + y[i];
}

// The residual add and the RMSNorm that follows it in one pass over the rows:
// res (N, C) = x + y, then out = rmsnorm(res) as rmsnorm_forward. res may alias x.
inline void residual_rmsnorm_forward(float* res, float* out, float* rstd, const float* x, const float* y,
                                     const float* weight, int N, int C, float eps) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float* rr = res + (size_t)n * C;
        residual_row(rr, x + (size_t)n * C, y + (size_t)n * C, C);
        rstd[n] = rmsnorm_row(out + (size_t)n * C, rr, weight, C, eps);
    }
}

// The same, out stored as bf16 bits, as rmsnorm_forward_fast's bf16 form.
inline void residual_rmsnorm_forward(float* res, uint16_t* out, float* rstd, const float* x, const float* y,
                                     const float* weight, int N, int C, float eps) {
    #pragma omp parallel
    {
        std::vector<float> o(C);
        #pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            float* rr = res + (size_t)n * C;
            residual_row(rr, x + (size_t)n * C, y + (size_t)n * C, C);
            rstd[n] = rmsnorm_row(o.data(), rr, weight, C, eps);
            bf16_store_row(out + (size_t)n * C, o.data(), C);
        }
    }
}

// Same contract as rmsnorm_backward (dinp and dweight accumulate), in one pass
// over the rows: each fixed block of RMSNORM_ROWS rows sums its share of
// dweight, and the blocks are added in block order, so the result is the same
// for any thread count.
constexpr int RMSNORM_ROWS = 32;
inline void rmsnorm_backward_fast(float* dinp, float* dweight, const float* dout, const float* inp,
                                  const float* weight, const float* rstd, int N, int C) {
    using namespace simd;
    const int nblocks = (N + RMSNORM_ROWS - 1) / RMSNORM_ROWS;
    static thread_local std::vector<float> partial;
    partial.assign((size_t)nblocks * C, 0.0f);
    float* part = partial.data();
    #pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        float* pw = part + (size_t)blk * C;
        for (int n = blk * RMSNORM_ROWS; n < std::min(N, (blk + 1) * RMSNORM_ROWS); n++) {
            const float* x = inp + (size_t)n * C;
            const float* dy = dout + (size_t)n * C;
            float* dx = dinp + (size_t)n * C;
            const float r = rstd[n];
            vf vdot = vzero();
            int i = 0;
            for (; i + W <= C; i += W) vdot = vfmadd(vmul(vload(dy + i), vload(weight + i)), vload(x + i), vdot);
            float d = vsum(vdot);
            for (; i < C; i++) d += dy[i] * weight[i] * x[i];
            const float k = d * r * r * r / C;
            const vf vr = vset1(r), vk = vset1(k);
            for (i = 0; i + W <= C; i += W) {
                vf xv = vload(x + i), dyv = vload(dy + i);
                vstore(dx + i, vadd(vload(dx + i), vsub(vmul(vmul(vr, vload(weight + i)), dyv), vmul(xv, vk))));
                vstore(pw + i, vfmadd(vmul(dyv, xv), vr, vload(pw + i)));
            }
            for (; i < C; i++) {
                dx[i] += r * weight[i] * dy[i] - x[i] * k;
                pw[i] += dy[i] * x[i] * r;
            }
        }
    }
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < C; i++) {
        float acc = 0.0f;
        for (int blk = 0; blk < nblocks; blk++) acc += part[(size_t)blk * C + i];
        dweight[i] += acc;
    }
}
