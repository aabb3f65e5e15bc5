// kernels/cuda/rope.cuh: rotary position embedding on the GPU (kernels/cpu/rope.h),
// interleaved pairs: pair i of a head, (x[2i], x[2i+1]), is rotated by angle
// t · theta^(-2i/HS) at position t. The tables come from the CPU's
// rope_precompute (in double), copied to the device once.
#pragma once
#include "common.cuh"

// Rotates q and k in place inside the fused qkv buffer, (B, T, (NH + 2·NKV)·HS);
// v is left alone. freq_cos, freq_sin are (T, HS/2). One thread per pair.
// sign = +1 rotates forward, -1 applies the inverse (transpose) rotation.
template <typename floatX>
__global__ void rope_kernel(floatX* qkv, const float* freq_cos, const float* freq_sin, int B, int T, int NH, int NKV,
                            int HS, float sign) {
    int half = HS / 2, heads = NH + NKV;
    size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * T * heads * half) return;
    int i = idx % half;
    int h = (idx / half) % heads;
    size_t bt = idx / ((size_t)half * heads);
    int t = bt % T;
    floatX* x = qkv + bt * (NH + 2 * NKV) * HS + (size_t)h * HS;
    float c = freq_cos[(size_t)t * half + i], s = sign * freq_sin[(size_t)t * half + i];
    float x0 = to_float(x[2 * i]), x1 = to_float(x[2 * i + 1]);
    x[2 * i] = from_float<floatX>(x0 * c - x1 * s);
    x[2 * i + 1] = from_float<floatX>(x0 * s + x1 * c);
}

template <typename floatX>
inline void rope_forward_gpu(floatX* qkv, const float* freq_cos, const float* freq_sin, int B, int T, int NH, int NKV,
                             int HS) {
    rope_kernel<<<ceil_div((size_t)B * T * (NH + NKV) * (HS / 2), 256), 256>>>(qkv, freq_cos, freq_sin, B, T, NH, NKV,
                                                                              HS, 1.0f);
    CUDA_CHECK_LAUNCH();
}

// The rotation is orthogonal: its backward is the inverse rotation of the gradient, in place on dqkv.
template <typename floatX>
inline void rope_backward_gpu(floatX* dqkv, const float* freq_cos, const float* freq_sin, int B, int T, int NH,
                              int NKV, int HS) {
    rope_kernel<<<ceil_div((size_t)B * T * (NH + NKV) * (HS / 2), 256), 256>>>(dqkv, freq_cos, freq_sin, B, T, NH,
                                                                              NKV, HS, -1.0f);
    CUDA_CHECK_LAUNCH();
}
