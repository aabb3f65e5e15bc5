// kernels/cuda/adamw.cuh: global gradient norm and the fused AdamW update on the
// GPU (kernels/cpu/adamw.h, common/optimizer.h). The fp32 master weights are
// updated and the floatX compute copy is written in the same pass, so the
// weights are read once per step. The norm stays on the device: the update
// reads it there and computes the clip factor itself, with no host round trip.
#pragma once
#include <cstdint>

#include "../../common/optimizer.h"
#include "common.cuh"

// A fixed grid: the partial sums, and so the rounding, do not depend on the device.
constexpr int NORM_BLOCKS = 1024;
constexpr int NORM_THREADS = 512;

// partial (NORM_BLOCKS) = per-block Σ g² over a grid-stride slice of g (n).
__global__ void __launch_bounds__(NORM_THREADS) grad_norm_partial_kernel(float* partial, const float* g, size_t n) {
    __shared__ float shared[32];
    float acc = 0.0f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        acc += g[i] * g[i];
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// out[0] = Σ partial, one block of NORM_BLOCKS threads.
__global__ void __launch_bounds__(NORM_BLOCKS) grad_norm_final_kernel(float* out, const float* partial) {
    __shared__ float shared[32];
    float s = block_sum(partial[threadIdx.x], shared);
    if (threadIdx.x == 0) out[0] = s;
}

// norm_sq[0] = Σ g² over n gradients; partial holds NORM_BLOCKS floats.
inline void grad_norm_squared_gpu(float* norm_sq, float* partial, const float* g, size_t n) {
    grad_norm_partial_kernel<<<NORM_BLOCKS, NORM_THREADS>>>(partial, g, n);
    CUDA_CHECK_LAUNCH();
    grad_norm_final_kernel<<<1, NORM_BLOCKS>>>(norm_sq, partial);
    CUDA_CHECK_LAUNCH();
}

// PyTorch's clip_grad_norm_ coefficient, as in common/optimizer.h: max_norm / (norm + 1e-6), never above 1.
__host__ __device__ inline float grad_clip_scale(float norm, float grad_clip) {
    return grad_clip > 0.0f ? fminf(1.0f, grad_clip / (norm + 1e-6f)) : 1.0f;
}

// One AdamW step (PyTorch's, as kernels/cpu/adamw.h) over n parameters; the
// gradient scale comes from the global norm on the device. params_x (the
// compute copy) may be null when the master weights are the compute weights.
// step = lr / (1 − β1^t), decay = 1 − lr·weight_decay, bc2_sqrt = sqrt(1 − β2^t),
// computed on the host exactly as the CPU does.
template <typename floatX>
__global__ void adamw_kernel(float* params, floatX* params_x, const float* grads, float* m, float* v, size_t n,
                             float beta1, float beta2, float eps, float step, float decay, float bc2_sqrt,
                             const float* norm_sq, float grad_clip) {
    float scale = grad_clip_scale(sqrtf(norm_sq[0]), grad_clip);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = grads[i] * scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float p = params[i] * decay - step * mi / (sqrtf(vi) / bc2_sqrt + eps);
        params[i] = p;
        if (params_x) params_x[i] = from_float<floatX>(p);
    }
}

// t is the 1-based step; norm_sq points at Σ g² on the device (grad_norm_squared_gpu).
template <typename floatX>
inline void adamw_update_gpu(float* params, floatX* params_x, const float* grads, float* m, float* v, size_t n,
                             float lr, float beta1, float beta2, float eps, float weight_decay, int t,
                             const float* norm_sq, float grad_clip) {
    if (n == 0) return;
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    unsigned blocks = ceil_div(n, 256) < 16384u ? ceil_div(n, 256) : 16384u;
    adamw_kernel<<<blocks, 256>>>(params, params_x, grads, m, v, n, beta1, beta2, eps, lr / bc1,
                                  1.0f - lr * weight_decay, bc2_sqrt, norm_sq, grad_clip);
    CUDA_CHECK_LAUNCH();
}

// optimizer_step_shard (common/optimizer.h) on the device: the norm of the
// whole gradient, then AdamW tensor by tensor, with decay where the mask says,
// over the shard [begin, end) of the blob whose moments m and v hold (m[0] is
// parameter begin's; the whole blob on one GPU, this rank's ZeRO-1 shard with
// NCCL). norm_sq and partial are device scratch (1 and NORM_BLOCKS floats);
// read norm_sq afterwards for the norm.
template <typename floatX>
inline void optimizer_step_gpu(float* params, floatX* params_x, const float* grads, float* m, float* v,
                               const size_t* sizes, const bool* decay, int num_tensors, float lr,
                               const AdamWConfig& opt, int t, float* norm_sq, float* partial, size_t begin = 0,
                               size_t end = SIZE_MAX) {
    size_t total = 0;
    for (int i = 0; i < num_tensors; i++) total += sizes[i];
    grad_norm_squared_gpu(norm_sq, partial, grads, total);
    size_t offset = 0;
    for (int i = 0; i < num_tensors; i++) {
        size_t lo = offset > begin ? offset : begin, hi = offset + sizes[i] < end ? offset + sizes[i] : end;
        if (lo < hi)
            adamw_update_gpu(params + lo, params_x ? params_x + lo : nullptr, grads + lo, m + (lo - begin),
                             v + (lo - begin), hi - lo, lr, opt.beta1, opt.beta2, opt.eps,
                             decay[i] ? opt.weight_decay : 0.0f, t, norm_sq, opt.grad_clip);
        offset += sizes[i];
    }
}
