// kernels/cuda/matmul.cuh: the three products of a linear layer without bias
// (kernels/cpu/matmul.h), through cuBLAS: floatX operands, fp32 accumulation
// (CUBLAS_COMPUTE_32F: tensor cores for bf16, plain FP32 — no TF32 — for float,
// so the --fp32 mode matches the CPU), and the weight gradient accumulated
// straight into the fp32 gradient buffer.
//   forward:  out  (N, OC)  = inp (N, C) · weightᵀ      weight is (OC, C), PyTorch's layout
//   backward: dinp (N, C)   = dout (N, OC) · weight     (or += with accumulate)
//             dweight (OC, C) += doutᵀ · inp
// cuBLAS is column-major: a row-major (R, K) matrix is its column-major (K, R)
// transpose, so each product below is written for the transposes.
#pragma once
#include "common.cuh"

constexpr size_t CUBLAS_WORKSPACE_BYTES = (size_t)32 << 20;  // what cuBLAS asks for on Hopper

// A cuBLAS handle with its own workspace; create once, pass to the matmuls.
struct CublasContext {
    cublasHandle_t handle = nullptr;
    void* workspace = nullptr;
};

inline void cublas_create(CublasContext* ctx) {
    CUBLAS_CHECK(cublasCreate(&ctx->handle));
    CUDA_CHECK(cudaMalloc(&ctx->workspace, CUBLAS_WORKSPACE_BYTES));
    CUBLAS_CHECK(cublasSetWorkspace(ctx->handle, ctx->workspace, CUBLAS_WORKSPACE_BYTES));
    // default math: no TF32 for float (the --fp32 comparison needs real FP32), tensor cores for bf16
    CUBLAS_CHECK(cublasSetMathMode(ctx->handle, CUBLAS_DEFAULT_MATH));
}

inline void cublas_destroy(CublasContext* ctx) {
    if (ctx->handle) CUBLAS_CHECK(cublasDestroy(ctx->handle));
    if (ctx->workspace) CUDA_CHECK(cudaFree(ctx->workspace));
    ctx->handle = nullptr;
    ctx->workspace = nullptr;
}

// out (N, OC) = inp (N, C) · weightᵀ.  Column-major: outᵀ (OC×N) = weight (OC×C, stored as C×OC: op T) · inpᵀ (C×N).
template <typename floatX>
inline void matmul_forward_gpu(const CublasContext& ctx, floatX* out, const floatX* inp, const floatX* weight, int N,
                               int C, int OC) {
    const float one = 1.0f, zero = 0.0f;
    cudaDataType_t t = cuda_dtype<floatX>();
    CUBLAS_CHECK(cublasGemmEx(ctx.handle, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, weight, t, C, inp, t, C, &zero, out,
                              t, OC, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// dinp (N, C) = (or += with accumulate_dinp) dout (N, OC) · weight (OC, C)
//   column-major: dinpᵀ (C×N) = weightᵀ (C×OC, op N) · doutᵀ (OC×N, op N)
// dweight (OC, C) += doutᵀ · inp (N, C), accumulated in float
//   column-major: dweightᵀ (C×OC) += inpᵀ (C×N, op N) · dout (N×OC: doutᵀ stored, op T)
// Either output may be null.
template <typename floatX>
inline void matmul_backward_gpu(const CublasContext& ctx, floatX* dinp, float* dweight, const floatX* dout,
                                const floatX* inp, const floatX* weight, int N, int C, int OC, bool accumulate_dinp) {
    const float one = 1.0f, zero = 0.0f;
    cudaDataType_t t = cuda_dtype<floatX>();
    if (dinp)
        CUBLAS_CHECK(cublasGemmEx(ctx.handle, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, &one, weight, t, C, dout, t, OC,
                                  accumulate_dinp ? &one : &zero, dinp, t, C, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT));
    if (dweight)
        CUBLAS_CHECK(cublasGemmEx(ctx.handle, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, &one, inp, t, C, dout, t, OC, &one,
                                  dweight, CUDA_R_32F, C, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
