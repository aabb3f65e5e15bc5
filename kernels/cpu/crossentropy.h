// kernels/cpu/crossentropy.h: softmax over the vocabulary and cross-entropy loss.
#pragma once
#include <cmath>

// logits is (N, V); probs (N, V) may be the same buffer (softmax in place);
// losses is (N); targets is (N). The max is subtracted before exp for stability.
inline void crossentropy_forward(float* losses, float* probs, const float* logits, const int* targets,
                                 int N, int V) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* x = logits + (size_t)n * V;
        float* p = probs + (size_t)n * V;
        float xt = x[targets[n]];  // read before p overwrites x when they alias
        float maxv = -INFINITY;
        for (int i = 0; i < V; i++) maxv = x[i] > maxv ? x[i] : maxv;
        float sum = 0.0f;
        for (int i = 0; i < V; i++) { p[i] = expf(x[i] - maxv); sum += p[i]; }
        float inv = 1.0f / sum;
        for (int i = 0; i < V; i++) p[i] *= inv;
        // −log p[target] from the logits, not from p: no log(0) when p underflows
        losses[n] = logf(sum) + maxv - xt;
    }
}

// dlogits (N, V) = (probs − onehot(target)) · dloss, where dloss is ∂L/∂losses[n]
// (1/N for a mean loss). dlogits may alias probs.
inline void crossentropy_backward(float* dlogits, const float* probs, const int* targets, float dloss,
                                  int N, int V) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* p = probs + (size_t)n * V;
        float* d = dlogits + (size_t)n * V;
        for (int i = 0; i < V; i++) d[i] = p[i] * dloss;
        d[targets[n]] -= dloss;
    }
}
