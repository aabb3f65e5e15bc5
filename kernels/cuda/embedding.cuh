// kernels/cuda/embedding.cuh: token embedding lookup on the GPU (kernels/cpu/embedding.h).
//
// Backward is a scatter-add by token id, and a text repeats its common tokens
// hundreds of times per batch: one atomic add per (position, channel) would
// pile them onto the same rows and make the sum order depend on timing. The
// positions are instead grouped by token on the host (the batch is there
// anyway), and one thread sums a (token, channel) over its positions in
// position order: no atomics, the same result on every run.
#pragma once
#include <algorithm>
#include <vector>

#include "common.cuh"

// out is (N, C), inp is (N) token ids on the device, wte is (V, C).
template <typename floatX>
__global__ void embedding_forward_kernel(floatX* out, const int* inp, const floatX* wte, int N, int C) {
    size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * C) return;
    size_t n = idx / C, c = idx % C;
    out[idx] = wte[(size_t)inp[n] * C + c];
}

template <typename floatX>
inline void embedding_forward_gpu(floatX* out, const int* inp, const floatX* wte, int N, int C) {
    embedding_forward_kernel<<<ceil_div((size_t)N * C, 256), 256>>>(out, inp, wte, N, C);
    CUDA_CHECK_LAUNCH();
}

// The batch's positions grouped by token, built on the host for each batch.
// packed = [order (N) | seg_start (U+1) | seg_token (U)]: group g is token
// seg_token[g] at positions order[seg_start[g] .. seg_start[g+1]), ascending.
struct EmbeddingBackwardPlan {
    int N = 0, U = 0;  // positions, distinct tokens
    std::vector<int> packed;
};

// Ints the device copy of a plan for N positions may need (U <= N).
inline size_t embedding_plan_max_ints(int N) { return 3 * (size_t)N + 1; }

inline void embedding_backward_plan(EmbeddingBackwardPlan* plan, const int* inp, int N) {
    std::vector<int> order(N);
    for (int n = 0; n < N; n++) order[n] = n;
    // stable: positions of one token stay ascending, so the sum order is fixed
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return inp[a] < inp[b]; });
    std::vector<int> start, token;
    for (int i = 0; i < N; i++)
        if (i == 0 || inp[order[i]] != inp[order[i - 1]]) {
            start.push_back(i);
            token.push_back(inp[order[i]]);
        }
    start.push_back(N);
    plan->N = N;
    plan->U = (int)token.size();
    plan->packed = order;
    plan->packed.insert(plan->packed.end(), start.begin(), start.end());
    plan->packed.insert(plan->packed.end(), token.begin(), token.end());
}

// dwte (V, C) += Σ over positions of dout (N, C), grouped as in the plan.
// Grid: (distinct tokens, channel blocks); a thread owns one (token, channel).
template <typename floatX>
__global__ void embedding_backward_kernel(float* dwte, const floatX* dout, const int* order, const int* seg_start,
                                          const int* seg_token, int C) {
    int g = blockIdx.x;
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.0f;
    for (int i = seg_start[g]; i < seg_start[g + 1]; i++) acc += to_float(dout[(size_t)order[i] * C + c]);
    dwte[(size_t)seg_token[g] * C + c] += acc;
}

// d_plan is the plan's packed array already on the device (see embedding_plan_max_ints).
template <typename floatX>
inline void embedding_backward_gpu(float* dwte, const floatX* dout, const int* d_plan, int N, int U, int C) {
    if (U == 0) return;
    dim3 grid(U, ceil_div(C, 256));
    embedding_backward_kernel<<<grid, 256>>>(dwte, dout, d_plan, d_plan + N, d_plan + N + U + 1, C);
    CUDA_CHECK_LAUNCH();
}
