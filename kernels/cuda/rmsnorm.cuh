// kernels/cuda/rmsnorm.cuh: RMSNorm on the GPU (kernels/cpu/rmsnorm.h), and the
// residual add fused in front of it: every RMSNorm after the first reads the
// residual stream that the add just wrote, so one pass does both.
//   y = x / sqrt(mean(x²) + eps) * weight
// One warp per row; sums in float whatever floatX is.
#pragma once
#include "common.cuh"

constexpr int RMSNORM_ROWS_PER_BLOCK = 8;   // warps per block in the row kernels
constexpr int RMSNORM_DW_ROWS = 256;        // rows summed by one block of the dweight reduction

// out, inp are (N, C); weight is (C); rstd is (N).
// rstd is cached: backward needs it and recomputing costs a reduction per row.
template <typename floatX>
__global__ void rmsnorm_forward_kernel(floatX* out, float* rstd, const floatX* inp, const floatX* weight,
                                       int N, int C, float eps) {
    int row = blockIdx.x * RMSNORM_ROWS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const floatX* x = inp + (size_t)row * C;
    float ss = 0.0f;
    for (int i = lane; i < C; i += 32) {
        float v = to_float(x[i]);
        ss += v * v;
    }
    float r = 1.0f / sqrtf(warp_sum(ss) / C + eps);
    floatX* y = out + (size_t)row * C;
    for (int i = lane; i < C; i += 32) y[i] = from_float<floatX>(to_float(x[i]) * r * to_float(weight[i]));
    if (lane == 0) rstd[row] = r;
}

template <typename floatX>
inline void rmsnorm_forward_gpu(floatX* out, float* rstd, const floatX* inp, const floatX* weight, int N, int C,
                                float eps) {
    rmsnorm_forward_kernel<<<ceil_div(N, RMSNORM_ROWS_PER_BLOCK), 32 * RMSNORM_ROWS_PER_BLOCK>>>(out, rstd, inp, weight,
                                                                                                 N, C, eps);
    CUDA_CHECK_LAUNCH();
}

// residual = inp1 + inp2, then out = rmsnorm(residual); all (N, C).
// The norm reads the sum as stored (rounded to floatX), the same value
// backward will read from `residual`.
template <typename floatX>
__global__ void residual_rmsnorm_forward_kernel(floatX* residual, floatX* out, float* rstd, const floatX* inp1,
                                                const floatX* inp2, const floatX* weight, int N, int C, float eps) {
    int row = blockIdx.x * RMSNORM_ROWS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    size_t base = (size_t)row * C;
    float ss = 0.0f;
    for (int i = lane; i < C; i += 32) {
        floatX s = from_float<floatX>(to_float(inp1[base + i]) + to_float(inp2[base + i]));
        residual[base + i] = s;
        float v = to_float(s);
        ss += v * v;
    }
    float r = 1.0f / sqrtf(warp_sum(ss) / C + eps);
    // each lane rereads only the elements it wrote itself
    for (int i = lane; i < C; i += 32)
        out[base + i] = from_float<floatX>(to_float(residual[base + i]) * r * to_float(weight[i]));
    if (lane == 0) rstd[row] = r;
}

template <typename floatX>
inline void residual_rmsnorm_forward_gpu(floatX* residual, floatX* out, float* rstd, const floatX* inp1,
                                         const floatX* inp2, const floatX* weight, int N, int C, float eps) {
    residual_rmsnorm_forward_kernel<<<ceil_div(N, RMSNORM_ROWS_PER_BLOCK), 32 * RMSNORM_ROWS_PER_BLOCK>>>(
        residual, out, rstd, inp1, inp2, weight, N, C, eps);
    CUDA_CHECK_LAUNCH();
}

// dinp (N, C) += ∂L/∂inp. With y_i = x_i r w_i and r = (mean(x²)+eps)^-1/2:
//   dx_i = r w_i dy_i - x_i r³/C · Σ_j dy_j w_j x_j
template <typename floatX>
__global__ void rmsnorm_backward_dinp_kernel(floatX* dinp, const floatX* dout, const floatX* inp, const floatX* weight,
                                             const float* rstd, int N, int C) {
    int row = blockIdx.x * RMSNORM_ROWS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    size_t base = (size_t)row * C;
    float r = rstd[row];
    float dot = 0.0f;
    for (int i = lane; i < C; i += 32) dot += to_float(dout[base + i]) * to_float(weight[i]) * to_float(inp[base + i]);
    float k = warp_sum(dot) * r * r * r / C;
    for (int i = lane; i < C; i += 32) {
        float d = r * to_float(weight[i]) * to_float(dout[base + i]) - to_float(inp[base + i]) * k;
        dinp[base + i] = from_float<floatX>(to_float(dinp[base + i]) + d);
    }
}

// dweight sums over rows, in two deterministic stages. Stage 1: block
// (blockIdx.x, blockIdx.y) sums rows [y·RMSNORM_DW_ROWS, +RMSNORM_DW_ROWS) of
// 32 channels into partial (chunks, C); its 8 thread rows are combined in order.
template <typename floatX>
__global__ void rmsnorm_dweight_partial_kernel(float* partial, const floatX* dout, const floatX* inp,
                                               const float* rstd, int N, int C) {
    __shared__ float sums[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * RMSNORM_DW_ROWS, r1 = min(N, r0 + RMSNORM_DW_ROWS);
    float acc = 0.0f;
    if (c < C)
        for (int n = r0 + threadIdx.y; n < r1; n += 8)
            acc += to_float(dout[(size_t)n * C + c]) * to_float(inp[(size_t)n * C + c]) * rstd[n];
    sums[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float s = 0.0f;
        for (int i = 0; i < 8; i++) s += sums[i][threadIdx.x];
        partial[(size_t)blockIdx.y * C + c] = s;
    }
}

// Stage 2: dweight (C) += Σ over chunks of partial, in chunk order.
__global__ void rmsnorm_dweight_reduce_kernel(float* dweight, const float* partial, int chunks, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = 0.0f;
    for (int i = 0; i < chunks; i++) s += partial[(size_t)i * C + c];
    dweight[c] += s;
}

// Floats of scratch rmsnorm_backward_gpu needs for (N, C).
inline size_t rmsnorm_scratch_floats(int N, int C) { return (size_t)ceil_div(N, RMSNORM_DW_ROWS) * C; }

// dinp (N, C) += ∂L/∂inp (floatX); dweight (C) += ∂L/∂weight (float, the fp32 gradient).
// scratch holds rmsnorm_scratch_floats(N, C) floats.
template <typename floatX>
inline void rmsnorm_backward_gpu(floatX* dinp, float* dweight, float* scratch, const floatX* dout, const floatX* inp,
                                 const floatX* weight, const float* rstd, int N, int C) {
    rmsnorm_backward_dinp_kernel<<<ceil_div(N, RMSNORM_ROWS_PER_BLOCK), 32 * RMSNORM_ROWS_PER_BLOCK>>>(
        dinp, dout, inp, weight, rstd, N, C);
    CUDA_CHECK_LAUNCH();
    int chunks = (int)ceil_div(N, RMSNORM_DW_ROWS);
    rmsnorm_dweight_partial_kernel<<<dim3(ceil_div(C, 32), chunks), dim3(32, 8)>>>(scratch, dout, inp, rstd, N, C);
    CUDA_CHECK_LAUNCH();
    rmsnorm_dweight_reduce_kernel<<<ceil_div(C, 256), 256>>>(dweight, scratch, chunks, C);
    CUDA_CHECK_LAUNCH();
}
