// kernels/cuda/swiglu.cuh: the SwiGLU gate on the GPU (kernels/cpu/swiglu.h),
// out = silu(a) * b with silu(a) = a·σ(a). h13 is the fused output of the w1
// and w3 projections, (N, 2·H): a = h13[:, :H], b = h13[:, H:].
#pragma once
#include "common.cuh"

// out is (N, H); one thread per output element.
template <typename floatX>
__global__ void swiglu_forward_kernel(floatX* out, const floatX* h13, int N, int H) {
    size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * H) return;
    size_t n = idx / H, i = idx % H;
    float a = to_float(h13[n * 2 * H + i]), b = to_float(h13[n * 2 * H + H + i]);
    float sig = 1.0f / (1.0f + expf(-a));
    out[idx] = from_float<floatX>(a * sig * b);
}

template <typename floatX>
inline void swiglu_forward_gpu(floatX* out, const floatX* h13, int N, int H) {
    swiglu_forward_kernel<<<ceil_div((size_t)N * H, 256), 256>>>(out, h13, N, H);
    CUDA_CHECK_LAUNCH();
}

// dh13 (N, 2·H) is overwritten. d silu(a)/da = σ(a)(1 + a(1 − σ(a))).
template <typename floatX>
__global__ void swiglu_backward_kernel(floatX* dh13, const floatX* dout, const floatX* h13, int N, int H) {
    size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * H) return;
    size_t n = idx / H, i = idx % H;
    float a = to_float(h13[n * 2 * H + i]), b = to_float(h13[n * 2 * H + H + i]);
    float d = to_float(dout[idx]);
    float sig = 1.0f / (1.0f + expf(-a));
    float silu = a * sig;
    dh13[n * 2 * H + i] = from_float<floatX>(d * b * sig * (1.0f + a * (1.0f - sig)));
    dh13[n * 2 * H + H + i] = from_float<floatX>(d * silu);
}

template <typename floatX>
inline void swiglu_backward_gpu(floatX* dh13, const floatX* dout, const floatX* h13, int N, int H) {
    swiglu_backward_kernel<<<ceil_div((size_t)N * H, 256), 256>>>(dh13, dout, h13, N, H);
    CUDA_CHECK_LAUNCH();
}
