// common/optimizer.h: one optimizer step over a trainer's parameter blob:
// global gradient-norm clipping, then AdamW tensor by tensor, with weight
// decay only where the trainer's mask says (matrices, not norms or embeddings).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "../kernels/cpu/adamw.h"

struct AdamWConfig {
    float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
    float weight_decay = 0.1f;
    float grad_clip = 1.0f;  // max global norm; <= 0 disables clipping
};

// sizes[i], decay[i] describe the num_tensors tensors laid end to end in the
// blobs; t is the 1-based step. Returns the gradient norm before clipping.
inline float optimizer_step(float* params, const float* grads, float* m, float* v, const size_t* sizes,
                            const bool* decay, int num_tensors, float lr, const AdamWConfig& opt, int t) {
    size_t total = 0;
    for (int i = 0; i < num_tensors; i++) total += sizes[i];
    float norm = (float)sqrt(grad_norm_squared(grads, total));
    // PyTorch's clip_grad_norm_: coefficient max_norm / (norm + 1e-6), never above 1
    float scale = 1.0f;
    if (opt.grad_clip > 0.0f) scale = fminf(1.0f, opt.grad_clip / (norm + 1e-6f));
    size_t offset = 0;
    for (int i = 0; i < num_tensors; i++) {
        adamw_update(params + offset, grads + offset, m + offset, v + offset, sizes[i], lr, opt.beta1, opt.beta2,
                     opt.eps, decay[i] ? opt.weight_decay : 0.0f, t, scale);
        offset += sizes[i];
    }
    return norm;
}

// optimizer_step with the vectorised kernels (grad_norm_squared_fast,
// adamw_update_fast) over the shard [begin, end) of the blob: m and v hold
// that shard's moments only (m[0] is the moment of parameter `begin`). One
// process updates the whole blob (0, total); with MPI each rank updates its
// own shard (ZeRO-1, common/dist.h). The norm, and so the clipping, is over
// the whole gradient, which every rank holds; it does not depend on the
// thread count. The same update as optimizer_step to float rounding.
inline float optimizer_step_shard(float* params, const float* grads, float* m, float* v, const size_t* sizes,
                                  const bool* decay, int num_tensors, float lr, const AdamWConfig& opt, int t,
                                  size_t begin, size_t end) {
    size_t total = 0;
    for (int i = 0; i < num_tensors; i++) total += sizes[i];
    float norm = (float)sqrt(grad_norm_squared_fast(grads, total));
    float scale = 1.0f;
    if (opt.grad_clip > 0.0f) scale = fminf(1.0f, opt.grad_clip / (norm + 1e-6f));
    size_t offset = 0;
    for (int i = 0; i < num_tensors; i++) {
        size_t lo = std::max(offset, begin), hi = std::min(offset + sizes[i], end);  // the tensor's part in the shard
        if (lo < hi)
            adamw_update_fast(params + lo, grads + lo, m + (lo - begin), v + (lo - begin), hi - lo, lr, opt.beta1,
                              opt.beta2, opt.eps, decay[i] ? opt.weight_decay : 0.0f, t, scale);
        offset += sizes[i];
    }
    return norm;
}

inline float optimizer_step_fast(float* params, const float* grads, float* m, float* v, const size_t* sizes,
                                 const bool* decay, int num_tensors, float lr, const AdamWConfig& opt, int t) {
    size_t total = 0;
    for (int i = 0; i < num_tensors; i++) total += sizes[i];
    return optimizer_step_shard(params, grads, m, v, sizes, decay, num_tensors, lr, opt, t, 0, total);
}
