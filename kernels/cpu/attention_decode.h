// kernels/cpu/attention_decode.h: causal attention for one new position
// against a key/value cache, with grouped-query heads: the attention step of
// incremental decoding. The new position is the last of the T cached ones
// (its own key and value are already in the cache), so it sees all T.
//   q       (NH·HS)       the new position's queries (after RoPE, for Llama)
//   k_cache (T, NKV·HS)   keys of positions 0..T-1 (after RoPE, for Llama)
//   v_cache (T, NKV·HS)   values
//   out     (NH·HS)       Σ_j softmax_j(q·k_j / sqrt(HS)) v_j, per head
//   att     (NH, T)       scratch: the scores, then their exponentials
// Query head h reads kv head h / (NH / NKV), as in attention.h, so out equals
// the last row of attention_forward on the same T positions.
// Forward only: nothing trains on one position.
//
// attention_decode_forward_ref is the plain loop the fast version is tested against.
#pragma once
#include <cmath>
#include <cstddef>

#include "matvec.h"
#include "simd.h"

// ----------------------------------------------------------------------------
// Plain reference

inline void attention_decode_forward_ref(float* out, float* att, const float* q, const float* k_cache,
                                         const float* v_cache, int T, int NH, int NKV, int HS) {
    const int KV = NKV * HS, group = NH / NKV;
    const float scale = 1.0f / sqrtf((float)HS);
    for (int h = 0; h < NH; h++) {
        const float* qh = q + h * HS;
        const int kvh = h / group;
        float* p = att + (size_t)h * T;
        float maxv = -INFINITY;
        for (int j = 0; j < T; j++) {
            const float* k = k_cache + (size_t)j * KV + kvh * HS;
            float s = 0.0f;
            for (int i = 0; i < HS; i++) s += qh[i] * k[i];
            p[j] = s * scale;
            if (p[j] > maxv) maxv = p[j];
        }
        float sum = 0.0f;
        for (int j = 0; j < T; j++) { p[j] = expf(p[j] - maxv); sum += p[j]; }
        float* o = out + h * HS;
        for (int i = 0; i < HS; i++) o[i] = 0.0f;
        for (int j = 0; j < T; j++) {
            const float* v = v_cache + (size_t)j * KV + kvh * HS;
            float w = p[j] / sum;
            for (int i = 0; i < HS; i++) o[i] += w * v[i];
        }
    }
}

// ----------------------------------------------------------------------------
// Fast path: the dot products and the weighted sum of values in vectors,
// threads over heads once there is enough work to be worth waking them.

constexpr long ATTENTION_DECODE_PARALLEL_MIN = 1 << 14;

// Same contract as attention_decode_forward_ref.
inline void attention_decode_forward(float* out, float* att, const float* q, const float* k_cache,
                                     const float* v_cache, int T, int NH, int NKV, int HS) {
    const int KV = NKV * HS, group = NH / NKV;
    const float scale = 1.0f / sqrtf((float)HS);
    #pragma omp parallel for schedule(static) if ((long)NH * T * HS >= ATTENTION_DECODE_PARALLEL_MIN)
    for (int h = 0; h < NH; h++) {
        using namespace simd;
        const float* qh = q + h * HS;
        const int kvh = h / group;
        float* p = att + (size_t)h * T;
        float maxv = -INFINITY;
        for (int j = 0; j < T; j++) {
            p[j] = dot_fast(qh, k_cache + (size_t)j * KV + kvh * HS, HS) * scale;
            if (p[j] > maxv) maxv = p[j];
        }
        float sum = 0.0f;
        for (int j = 0; j < T; j++) { p[j] = expf(p[j] - maxv); sum += p[j]; }
        const float inv = 1.0f / sum;
        float* o = out + h * HS;
        for (int i = 0; i < HS; i++) o[i] = 0.0f;
        for (int j = 0; j < T; j++) {
            const float* v = v_cache + (size_t)j * KV + kvh * HS;
            const vf w = vset1(p[j] * inv);
            int i = 0;
            for (; i + W <= HS; i += W) vstore(o + i, vfmadd(w, vload(v + i), vload(o + i)));
            for (; i < HS; i++) o[i] += p[j] * inv * v[i];
        }
    }
}
