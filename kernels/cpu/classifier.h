// kernels/cpu/classifier.h: the output head fused with softmax, cross-entropy
// and their backward, a chunk of rows at a time:
//   logits = x · Wᵀ → p = softmax(logits) → loss = −log p[target]
//   → dlogits = (p − onehot(target))·dloss → dx = dlogits · W, dW += dlogitsᵀ · x
// Only one chunk of logits, (rows, V), exists at a time (the plain path,
// matmul_forward + crossentropy_forward/backward + matmul_backward, keeps all
// (N, V) of them), and it is still in cache when the two products read it back.
#pragma once
#include <algorithm>
#include <cmath>

#include "matmul.h"
#include "simd.h"

// Rows of the logits chunk: (1024, V) floats of scratch. Large enough that
// dW's product has depth 1024 (the (V, C) gradient is read and written once
// per chunk) and that W, which both products pack anew for every chunk, is
// packed few times (bf16, llama-5M B16 T256 on a Zen 4: 512 rows took 101-116
// ms, 1024 87-101, 2048 82-98); small enough that the chunk stays in a 32 MB
// L3 for V up to ~8k.
constexpr int CLASSIFIER_CHUNK = 1024;

// One row of logits x (V): returns the loss and, with grad, overwrites x with
// dlogits = (softmax − onehot(target))·dloss; with bf16 too, as their bf16
// bits in the row's first 2·V bytes (bf16_store_over), for bf16 products.
inline float classifier_row(float* x, int target, bool grad, float dloss, int V, bool bf16 = false) {
    using namespace simd;
    const float xt = x[target];
    vf vm = vset1(-INFINITY);
    int i = 0;
    for (; i + W <= V; i += W) vm = vmax(vm, vload(x + i));
    float maxv = vhmax(vm);
    for (; i < V; i++) maxv = std::max(maxv, x[i]);
    const vf vmx = vset1(maxv);
    vf vs = vzero();
    float sum = 0.0f;
    if (grad) {
        for (i = 0; i + W <= V; i += W) {
            vf e = vexp(vsub(vload(x + i), vmx));
            vstore(x + i, e);
            vs = vadd(vs, e);
        }
        sum = vsum(vs);
        for (; i < V; i++) { x[i] = sexp(x[i] - maxv); sum += x[i]; }
        const float k = dloss / sum;
        const vf vk = vset1(k);
        for (i = 0; i + W <= V; i += W) vstore(x + i, vmul(vload(x + i), vk));
        for (; i < V; i++) x[i] *= k;
        x[target] -= dloss;
        if (bf16) bf16_store_over(x, x, V);
    } else {
        for (i = 0; i + W <= V; i += W) vs = vadd(vs, vexp(vsub(vload(x + i), vmx)));
        sum = vsum(vs);
        for (; i < V; i++) sum += sexp(x[i] - maxv);
    }
    // −log p[target] from the logits, not from p: no log(0) when p underflows
    return logf(sum) + maxv - xt;
}

// x is (N, C), W is (V, C), targets and losses are (N); logits is scratch of
// (min(N, CLASSIFIER_CHUNK), V) floats. Always writes losses. With dx non-null
// also dx (N, C) = ∂(dloss·Σ losses)/∂x (overwritten) and dW (V, C) += ∂/∂W.
// bf16: the three products on bf16-rounded operands (matmul.h); the softmax
// stays fp32, and dlogits are stored as bf16 bits in place (classifier_row),
// which the two backward products pack as they would the fp32 values, from
// half the bytes. x may be fp32 or bf16 bits (gemm::Src).
inline void classifier_forward_backward(float* losses, float* dx, float* dW, float* logits, gemm::Src x,
                                        const float* W, const int* targets, float dloss, int N, int C, int V,
                                        bool bf16 = false) {
    for (int n0 = 0; n0 < N; n0 += CLASSIFIER_CHUNK) {
        const int rows = std::min(CLASSIFIER_CHUNK, N - n0);
        const gemm::Src xc = x.at((long)n0 * C);
        matmul_forward(logits, xc, W, rows, C, V, bf16);
        #pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++)
            losses[n0 + r] = classifier_row(logits + (size_t)r * V, targets[n0 + r], dx != nullptr, dloss, V, bf16);
        if (!dx) continue;
        // bf16: dlogits (rows, V) as bf16 bits, a row every 2·V of them
        const gemm::Src dlogits = bf16 ? gemm::Src((const uint16_t*)logits) : gemm::Src(logits);
        matmul_backward_set_dinp(dx + (size_t)n0 * C, dW, dlogits, xc, W, rows, C, V, bf16, bf16 ? 2L * V : 0);
    }
}

// A training step's forward runs classifier_forward_backward for loss scale 1
// (it does not know the scale yet); its backward, with loss_scale s (1 / the
// accumulation steps), takes those gradients to s: dW (V, C) += s·dW1, and
// returns ∂/∂x at scale s: dx1 (N, C) itself when s is 1, else s·dx1 written
// to dx_scaled (N, C).
inline const float* classifier_scale_grads(float* dW, const float* dW1, const float* dx1, float* dx_scaled,
                                           float s, int N, int C, int V) {
    const size_t VC = (size_t)V * C, NC = (size_t)N * C;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < VC; i++) dW[i] += s * dW1[i];
    if (s == 1.0f) return dx1;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < NC; i++) dx_scaled[i] = s * dx1[i];
    return dx_scaled;
}
