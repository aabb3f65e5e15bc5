// kernels/cuda/common.cuh: what every CUDA kernel file and the GPU trainer share:
// checked CUDA/cuBLAS calls, the compute type (float or bf16, a template
// parameter everywhere: the trainer's --fp32 switch picks the instantiation),
// conversions, and warp/block reductions.
//
// Reductions are written so that the order of additions depends only on the
// shapes, never on timing: no atomics, fixed block counts where a grid reduces.
// A rerun gives bit-identical results.
#pragma once
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include "../../common/util.h"

// ----------------------------------------------------------------------------
// Checked calls: the message names the call, file, line and CUDA's error string.

inline void cuda_check(cudaError_t err, const char* call, const char* file, int line) {
    if (err != cudaSuccess)
        die("%s:%d: %s failed: %s (%s)", file, line, call, cudaGetErrorString(err), cudaGetErrorName(err));
}
#define CUDA_CHECK(call) cuda_check((call), #call, __FILE__, __LINE__)

inline void cublas_check(cublasStatus_t st, const char* call, const char* file, int line) {
    if (st != CUBLAS_STATUS_SUCCESS) die("%s:%d: %s failed: %s", file, line, call, cublasGetStatusString(st));
}
#define CUBLAS_CHECK(call) cublas_check((call), #call, __FILE__, __LINE__)

// Kernel launches return nothing; this catches a bad launch configuration at
// the launch site (an error inside the kernel surfaces at the next sync).
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

// Number of usable CUDA devices; 0 when there is none or no driver, with the
// reason in *why (this is how --help and the tests run on a machine without a GPU).
inline int cuda_device_count(const char** why) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        *why = cudaGetErrorString(err);
        (void)cudaGetLastError();  // clear the sticky error so later calls start clean
        return 0;
    }
    *why = n == 0 ? "no device found" : "";
    return n;
}

// ----------------------------------------------------------------------------
// The compute type. floatX is float (exact mode) or bf16 (mixed precision);
// accumulation is always in float.

typedef __nv_bfloat16 bf16;

__host__ __device__ inline float to_float(float x) { return x; }
__host__ __device__ inline float to_float(bf16 x) { return __bfloat162float(x); }

template <typename T> __host__ __device__ inline T from_float(float x);
template <> __host__ __device__ inline float from_float<float>(float x) { return x; }
template <> __host__ __device__ inline bf16 from_float<bf16>(float x) { return __float2bfloat16(x); }  // round to nearest even

template <typename T> inline cudaDataType_t cuda_dtype();
template <> inline cudaDataType_t cuda_dtype<float>() { return CUDA_R_32F; }
template <> inline cudaDataType_t cuda_dtype<bf16>() { return CUDA_R_16BF; }

template <typename T> inline const char* dtype_name();
template <> inline const char* dtype_name<float>() { return "fp32"; }
template <> inline const char* dtype_name<bf16>() { return "bf16"; }

inline unsigned ceil_div(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

// ----------------------------------------------------------------------------
// Reductions

__device__ inline float warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffff, v, off);
    return v;
}

__device__ inline float warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, off));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread
// gets the result. `shared` holds 32 floats. Warps are combined in warp order.
__device__ inline float block_sum(float v, float* shared) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_sum(v);
    __syncthreads();  // `shared` may still be read by a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : 0.0f;
    return warp_sum(v);
}

// ----------------------------------------------------------------------------
// Copies between precisions (fp32 master weights → compute copy, and back for tests)

template <typename Tout, typename Tin>
__global__ void convert_kernel(Tout* out, const Tin* inp, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = from_float<Tout>(to_float(inp[i]));
}

template <typename Tout, typename Tin>
inline void convert_gpu(Tout* out, const Tin* inp, size_t n) {
    if (n == 0) return;
    unsigned blocks = ceil_div(n, 256) < 65536u ? ceil_div(n, 256) : 65536u;
    convert_kernel<<<blocks, 256>>>(out, inp, n);
    CUDA_CHECK_LAUNCH();
}

// cudaMalloc that names what it was for when the device is out of memory.
inline void* cuda_malloc_check(size_t bytes, const char* what) {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess)
        die("cannot allocate %zu bytes of GPU memory for %s: %s", bytes, what, cudaGetErrorString(err));
    return p;
}
