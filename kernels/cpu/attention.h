// kernels/cpu/attention.h: causal multi-head attention with grouped-query heads.
// qkv is the fused projection, (B, T, (NH + 2·NKV)·HS): per row NH query heads,
// then NKV key heads, then NKV value heads; q and k already carry RoPE.
// Query head h reads kv head h / (NH / NKV).
// This plain version keeps the softmax probabilities, (B, NH, T, T); a tiled
// flash-style version that never stores them belongs to the CPU-speed issue.
#pragma once
#include <cmath>
#include <vector>

// out is (B, T, NH·HS); att is (B, NH, T, T), row t holds p(t, j) for j <= t, zeros after.
inline void attention_forward(float* out, float* att, const float* qkv,
                              int B, int T, int NH, int NKV, int HS) {
    int row = (NH + 2 * NKV) * HS;
    int group = NH / NKV;
    float scale = 1.0f / sqrtf((float)HS);
    #pragma omp parallel for collapse(3) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                int kvh = h / group;
                const float* q = qkv + ((size_t)b * T + t) * row + h * HS;
                float* p = att + (((size_t)b * NH + h) * T + t) * T;
                float maxv = -INFINITY;
                for (int j = 0; j <= t; j++) {
                    const float* k = qkv + ((size_t)b * T + j) * row + (NH + kvh) * HS;
                    float s = 0.0f;
                    for (int i = 0; i < HS; i++) s += q[i] * k[i];
                    s *= scale;
                    p[j] = s;
                    if (s > maxv) maxv = s;
                }
                float sum = 0.0f;
                for (int j = 0; j <= t; j++) { p[j] = expf(p[j] - maxv); sum += p[j]; }
                float inv = 1.0f / sum;
                for (int j = 0; j <= t; j++) p[j] *= inv;
                for (int j = t + 1; j < T; j++) p[j] = 0.0f;
                float* o = out + ((size_t)b * T + t) * NH * HS + h * HS;
                for (int i = 0; i < HS; i++) o[i] = 0.0f;
                for (int j = 0; j <= t; j++) {
                    const float* v = qkv + ((size_t)b * T + j) * row + (NH + NKV + kvh) * HS;
                    for (int i = 0; i < HS; i++) o[i] += p[j] * v[i];
                }
            }
}

// dqkv (B, T, (NH + 2·NKV)·HS) is overwritten with ∂L/∂qkv (post-RoPE q and k).
// With s = scale·q·k, p = softmax(s), o = Σ p v:
//   dp_j = do·v_j,  ds_j = p_j (dp_j − Σ_k p_k dp_k),
//   dq = scale Σ ds_j k_j,  dk_j += scale ds_j q,  dv_j += p_j do.
// All query heads of a group add into the same dk, dv, so threads split over
// (batch, kv head): no two threads ever write the same row.
inline void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att,
                               int B, int T, int NH, int NKV, int HS) {
    int row = (NH + 2 * NKV) * HS;
    int group = NH / NKV;
    float scale = 1.0f / sqrtf((float)HS);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int kvh = 0; kvh < NKV; kvh++) {
            std::vector<float> dp(T);
            // zero this (b, kvh)'s slice: its q heads, its k head, its v head
            for (int t = 0; t < T; t++) {
                float* d = dqkv + ((size_t)b * T + t) * row;
                for (int i = kvh * group * HS; i < (kvh + 1) * group * HS; i++) d[i] = 0.0f;
                for (int i = 0; i < HS; i++) d[(NH + kvh) * HS + i] = 0.0f;
                for (int i = 0; i < HS; i++) d[(NH + NKV + kvh) * HS + i] = 0.0f;
            }
            for (int h = kvh * group; h < (kvh + 1) * group; h++)
                for (int t = 0; t < T; t++) {
                    const float* p = att + (((size_t)b * NH + h) * T + t) * T;
                    const float* dout_t = dout + ((size_t)b * T + t) * NH * HS + h * HS;
                    const float* q = qkv + ((size_t)b * T + t) * row + h * HS;
                    float* dq = dqkv + ((size_t)b * T + t) * row + h * HS;
                    float pdp = 0.0f;
                    for (int j = 0; j <= t; j++) {
                        const float* v = qkv + ((size_t)b * T + j) * row + (NH + NKV + kvh) * HS;
                        float* dv = dqkv + ((size_t)b * T + j) * row + (NH + NKV + kvh) * HS;
                        float s = 0.0f;
                        for (int i = 0; i < HS; i++) { s += dout_t[i] * v[i]; dv[i] += p[j] * dout_t[i]; }
                        dp[j] = s;
                        pdp += p[j] * s;
                    }
                    for (int j = 0; j <= t; j++) {
                        float ds = p[j] * (dp[j] - pdp) * scale;
                        const float* k = qkv + ((size_t)b * T + j) * row + (NH + kvh) * HS;
                        float* dk = dqkv + ((size_t)b * T + j) * row + (NH + kvh) * HS;
                        for (int i = 0; i < HS; i++) { dq[i] += ds * k[i]; dk[i] += ds * q[i]; }
                    }
                }
        }
}
