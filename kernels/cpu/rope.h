// kernels/cpu/rope.h: rotary position embedding, interleaved-pair convention
// (Meta's Llama, llama2.c): pair i of a head, (x[2i], x[2i+1]), is rotated by
// angle t · theta^(-2i/HS) at position t.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bf16.h"

// freq_cos, freq_sin are (T, HS/2). Angles are computed in double so that
// long positions do not lose precision before the rounding to float.
inline void rope_precompute(float* freq_cos, float* freq_sin, int T, int HS, float theta) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < HS / 2; i++) {
            double freq = pow((double)theta, -2.0 * i / HS);
            double a = t * freq;
            freq_cos[t * (HS / 2) + i] = (float)cos(a);
            freq_sin[t * (HS / 2) + i] = (float)sin(a);
        }
}

// Rotates q and k in place inside the fused qkv buffer, (B, T, (NH + 2·NKV)·HS):
// the first NH heads of a row are q, the next NKV are k, v is left alone.
// sign = +1 rotates forward; sign = -1 applies the inverse (transpose) rotation.
inline void rope_rotate(float* qkv, const float* freq_cos, const float* freq_sin,
                        int B, int T, int NH, int NKV, int HS, float sign) {
    int row = (NH + 2 * NKV) * HS;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float* fc = freq_cos + t * (HS / 2);
            const float* fs = freq_sin + t * (HS / 2);
            for (int h = 0; h < NH + NKV; h++) {
                float* x = qkv + ((size_t)b * T + t) * row + h * HS;
                for (int i = 0; i < HS / 2; i++) {
                    float c = fc[i], s = sign * fs[i];
                    float x0 = x[2 * i], x1 = x[2 * i + 1];
                    x[2 * i] = x0 * c - x1 * s;
                    x[2 * i + 1] = x0 * s + x1 * c;
                }
            }
        }
}

inline void rope_forward(float* qkv, const float* freq_cos, const float* freq_sin,
                         int B, int T, int NH, int NKV, int HS) {
    rope_rotate(qkv, freq_cos, freq_sin, B, T, NH, NKV, HS, 1.0f);
}

// The rotation is orthogonal, so its backward is the inverse rotation of the
// gradient, done in place on dqkv.
inline void rope_backward(float* dqkv, const float* freq_cos, const float* freq_sin,
                          int B, int T, int NH, int NKV, int HS) {
    rope_rotate(dqkv, freq_cos, freq_sin, B, T, NH, NKV, HS, -1.0f);
}

// ----------------------------------------------------------------------------
// Fast version: the pair rotation as two vector products, x·cos2 ± swap(x)·sin2,
// on tables expanded to one entry per float of a head.

#include "simd.h"

// cos2, sin2 are (T, HS): cos2[t, 2i] = cos2[t, 2i+1] = freq_cos[t, i];
// sin2[t, 2i] = −freq_sin[t, i], sin2[t, 2i+1] = +freq_sin[t, i].
inline void rope_expand_tables(float* cos2, float* sin2, const float* freq_cos, const float* freq_sin, int T, int HS) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < HS / 2; i++) {
            float c = freq_cos[t * (HS / 2) + i], s = freq_sin[t * (HS / 2) + i];
            cos2[(size_t)t * HS + 2 * i] = c;
            cos2[(size_t)t * HS + 2 * i + 1] = c;
            sin2[(size_t)t * HS + 2 * i] = -s;
            sin2[(size_t)t * HS + 2 * i + 1] = s;
        }
}

// One row of one head, HS floats at position t: dst = src rotated by the
// expanded tables' row t, or by its inverse with sign = -1, with
// the arithmetic of rope_rotate_fast, which runs it on every row in place.
// Attention's backward writes dq and dk through it (attention.h), in place of
// a rope_backward_fast pass over all of dqkv. dst may be src: each pair is
// read before it is written.
inline void rope_row(float* dst, const float* src, int t, const float* cos2, const float* sin2, int HS, float sign) {
    using namespace simd;
    const float* c2 = cos2 + (size_t)t * HS;
    const float* s2 = sin2 + (size_t)t * HS;
    const vf vsign = vset1(sign);
    int i = 0;
    for (; W > 1 && i + W <= HS; i += W) {
        vf xv = vload(src + i);
        vstore(dst + i, vfmadd(vmul(vswap_pairs(xv), vload(s2 + i)), vsign, vmul(xv, vload(c2 + i))));
    }
    for (; i < HS; i += 2) {
        float c = c2[i], s = sign * s2[i + 1];
        float x0 = src[i], x1 = src[i + 1];
        dst[i] = x0 * c - x1 * s;
        dst[i + 1] = x0 * s + x1 * c;
    }
}

// Rows whole kernels hand to one thread at a time: enough to amortise a
// call, few enough to balance two threads over B·T of a few thousand.
constexpr int ROPE_ROWS = 64;

// As rope_rotate, from the expanded tables, on rows [r0, r1) of (B·T) (row r
// at position r % T) by the calling thread: every q and k head in place.
inline void rope_rotate_rows(float* qkv, const float* cos2, const float* sin2, int T, int NH, int NKV, int HS,
                             float sign, int r0, int r1) {
    const int row = (NH + 2 * NKV) * HS;
    for (int bt = r0; bt < r1; bt++)
        for (int h = 0; h < NH + NKV; h++) {
            float* x = qkv + (size_t)bt * row + h * HS;
            rope_row(x, x, bt % T, cos2, sin2, HS, sign);
        }
}

// As rope_rotate, from the expanded tables: every q and k row in place.
inline void rope_rotate_fast(float* qkv, const float* cos2, const float* sin2, int B, int T, int NH, int NKV, int HS,
                             float sign) {
    #pragma omp parallel for schedule(static)
    for (int r0 = 0; r0 < B * T; r0 += ROPE_ROWS)
        rope_rotate_rows(qkv, cos2, sin2, T, NH, NKV, HS, sign, r0, std::min(B * T, r0 + ROPE_ROWS));
}

inline void rope_forward_fast(float* qkv, const float* cos2, const float* sin2, int B, int T, int NH, int NKV, int HS) {
    rope_rotate_fast(qkv, cos2, sin2, B, T, NH, NKV, HS, 1.0f);
}

// rope_forward_fast for the trainers' bf16 runs, where only attention's bf16
// products read qkv: each row of qkv is rotated (q and k; v as it is) and
// stored as bf16 bits (bf16.h) in the first half of its own memory, so row r
// of the result is at uint16 offset r·2·(NH + 2·NKV)·HS. The same bits as
// rounding rope_forward_fast's output. (The row is read whole into a buffer
// before bf16_store_over writes any of it.) Here on rows [r0, r1) of (B·T)
// by the calling thread (rope_rotate_rows), below on all of them.
inline void rope_forward_rows_bf16(float* qkv, const float* cos2, const float* sin2, int T, int NH, int NKV, int HS,
                                   int r0, int r1) {
    const int row = (NH + 2 * NKV) * HS, rotated = (NH + NKV) * HS;
    static thread_local std::vector<float> r;
    r.resize(row);
    for (int bt = r0; bt < r1; bt++) {
        float* x = qkv + (size_t)bt * row;
        for (int i = 0; i < NH + NKV; i++) rope_row(r.data() + i * HS, x + i * HS, bt % T, cos2, sin2, HS, 1.0f);
        memcpy(r.data() + rotated, x + rotated, (size_t)(row - rotated) * sizeof(float));
        bf16_store_over(x, r.data(), row);
    }
}

inline void rope_forward_fast_bf16(float* qkv, const float* cos2, const float* sin2, int B, int T, int NH, int NKV,
                                   int HS) {
    #pragma omp parallel for schedule(static)
    for (int r0 = 0; r0 < B * T; r0 += ROPE_ROWS)
        rope_forward_rows_bf16(qkv, cos2, sin2, T, NH, NKV, HS, r0, std::min(B * T, r0 + ROPE_ROWS));
}

// RoPE as the epilogue of the product that writes qkv (matmul.h's
// gemm::RowEpilogue, ctx a RopeRows): rope_forward_fast, or with bf16 set
// rope_forward_fast_bf16, on rows [r0, r1) as the product finishes them.
struct RopeRows {
    float* qkv;
    const float *cos2, *sin2;
    int T, NH, NKV, HS;
    bool bf16;
};
inline void rope_rows(void* ctx, int r0, int r1) {
    const RopeRows& a = *(const RopeRows*)ctx;
    if (a.bf16)
        rope_forward_rows_bf16(a.qkv, a.cos2, a.sin2, a.T, a.NH, a.NKV, a.HS, r0, r1);
    else
        rope_rotate_rows(a.qkv, a.cos2, a.sin2, a.T, a.NH, a.NKV, a.HS, 1.0f, r0, r1);
}

inline void rope_backward_fast(float* dqkv, const float* cos2, const float* sin2, int B, int T, int NH, int NKV,
                               int HS) {
    rope_rotate_fast(dqkv, cos2, sin2, B, T, NH, NKV, HS, -1.0f);
}
