// kernels/cuda/classifier.cuh: the fused classifier tail on the GPU
// (kernels/cpu/crossentropy.h's forward and backward in one pass):
// logits → softmax → loss, and with backward also dlogits, written over the
// logits in place. The probabilities are never stored: backward only needs
// them once, right here. The trainer runs this on chunks of rows (see
// classifier_chunk_rows), so a (B·T, V) tensor never exists at once.
#pragma once
#include "common.cuh"

constexpr int CLASSIFIER_THREADS = 512;

// Combines two (max, Σ exp(x − max)) pairs of an online softmax.
__device__ inline void softmax_combine(float* m, float* s, float m2, float s2) {
    float mx = fmaxf(*m, m2);
    if (mx == -INFINITY) return;  // both empty: stay (-inf, 0), never -inf − -inf = NaN
    *s = *s * expf(*m - mx) + s2 * expf(m2 - mx);
    *m = mx;
}

// One block per row. logits (N, V); losses (N); targets (N).
// With backward, logits[n] is overwritten by (softmax − onehot(target)) · dloss,
// dloss being ∂L/∂losses[n] (loss_scale/(B·T) for a mean loss).
template <typename floatX>
__global__ void __launch_bounds__(CLASSIFIER_THREADS)
    crossentropy_forward_backward_kernel(float* losses, floatX* logits, const int* targets, float dloss, int V,
                                         bool backward) {
    __shared__ float sh_m[32], sh_s[32];
    int n = blockIdx.x, target = targets[n];
    floatX* x = logits + (size_t)n * V;
    // read before any thread overwrites it; the reductions below sync the block
    float x_target = to_float(x[target]);
    // pass 1: each thread's online (max, sum of exp), then warps, then the block in warp order
    float m = -INFINITY, s = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float v = to_float(x[i]);
        if (v > m) {
            s = s * expf(m - v) + 1.0f;
            m = v;
        } else {
            s += expf(v - m);
        }
    }
    for (int off = 16; off > 0; off >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffff, m, off), s2 = __shfl_xor_sync(0xffffffff, s, off);
        softmax_combine(&m, &s, m2, s2);
    }
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) { sh_m[warp] = m; sh_s[warp] = s; }
    __syncthreads();
    m = sh_m[0];
    s = sh_s[0];
    for (int w = 1; w < (int)blockDim.x / 32; w++) softmax_combine(&m, &s, sh_m[w], sh_s[w]);
    // −log p[target] from the logits, not from p: no log(0) when p underflows
    if (threadIdx.x == 0) losses[n] = logf(s) + m - x_target;
    if (!backward) return;
    float inv = 1.0f / s;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float d = expf(to_float(x[i]) - m) * inv * dloss;
        if (i == target) d -= dloss;
        x[i] = from_float<floatX>(d);
    }
}

// dloss is only read when backward is true.
template <typename floatX>
inline void crossentropy_forward_backward_gpu(float* losses, floatX* logits, const int* targets, float dloss, int N,
                                              int V, bool backward) {
    if (N == 0) return;
    crossentropy_forward_backward_kernel<<<N, CLASSIFIER_THREADS>>>(losses, logits, targets, dloss, V, backward);
    CUDA_CHECK_LAUNCH();
}

// Rows per classifier chunk: all of them if the (rows, V) logits fit in about
// 2^27 elements (256 MB in bf16), else a multiple of 128 rows that does.
// Small chunks cost nothing in FLOPs, only a few more matmul launches.
inline int classifier_chunk_rows(int N, int V) {
    const size_t budget = (size_t)1 << 27;
    if ((size_t)N * V <= budget) return N;
    size_t rows = budget / V / 128 * 128;
    return rows < 128 ? 128 : (int)rows;
}
