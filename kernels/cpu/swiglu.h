// kernels/cpu/swiglu.h: the SwiGLU gate, out = silu(a) * b, silu(a) = a·σ(a).
// h13 is the fused output of the w1 and w3 projections, (N, 2·H): a = h13[:, :H], b = h13[:, H:].
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bf16.h"

// out is (N, H)
inline void swiglu_forward(float* out, const float* h13, int N, int H) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* a = h13 + (size_t)n * 2 * H;
        const float* b = a + H;
        float* o = out + (size_t)n * H;
        for (int i = 0; i < H; i++) {
            float sig = 1.0f / (1.0f + expf(-a[i]));
            o[i] = a[i] * sig * b[i];
        }
    }
}

// dh13 (N, 2·H) is overwritten. d silu(a)/da = σ(a)(1 + a(1 − σ(a))).
// dh13 may be h13 itself: each entry is read before its place is written,
// which spares the trainer a second (N, 2·H) buffer and its memory traffic.
inline void swiglu_backward(float* dh13, const float* dout, const float* h13, int N, int H) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* a = h13 + (size_t)n * 2 * H;
        const float* b = a + H;
        const float* d = dout + (size_t)n * H;
        float* da = dh13 + (size_t)n * 2 * H;
        float* db = da + H;
        for (int i = 0; i < H; i++) {
            float sig = 1.0f / (1.0f + expf(-a[i]));
            float silu = a[i] * sig;
            da[i] = d[i] * b[i] * sig * (1.0f + a[i] * (1.0f - sig));
            db[i] = d[i] * silu;
        }
    }
}

// ----------------------------------------------------------------------------
// Fast versions (vectorised exp), same contracts as swiglu_forward / swiglu_backward.

#include "simd.h"

// One row: o[0, H) = silu(a) · b.
inline void swiglu_row(float* o, const float* a, const float* b, int H) {
    using namespace simd;
    const vf one = vset1(1.0f), zero = vzero();
    int i = 0;
    for (; i + W <= H; i += W) {
        vf av = vload(a + i);
        vf sig = vdiv(one, vadd(one, vexp(vsub(zero, av))));
        vstore(o + i, vmul(vmul(av, sig), vload(b + i)));
    }
    for (; i < H; i++) {
        float sig = 1.0f / (1.0f + sexp(-a[i]));
        o[i] = a[i] * sig * b[i];
    }
}

// Rows [n0, n1) of swiglu_forward_fast, by the calling thread.
inline void swiglu_forward_rows(float* out, const float* h13, int H, int n0, int n1) {
    for (int n = n0; n < n1; n++)
        swiglu_row(out + (size_t)n * H, h13 + (size_t)n * 2 * H, h13 + (size_t)n * 2 * H + H, H);
}

// Rows the whole-tensor kernels hand to one thread at a time.
constexpr int SWIGLU_ROWS = 64;

inline void swiglu_forward_fast(float* out, const float* h13, int N, int H) {
    #pragma omp parallel for schedule(static)
    for (int n0 = 0; n0 < N; n0 += SWIGLU_ROWS) swiglu_forward_rows(out, h13, H, n0, std::min(N, n0 + SWIGLU_ROWS));
}

// One row of the backward: da, db [0, H) from d = ∂L/∂out and a, b; da, db may be a, b.
inline void swiglu_backward_row(float* da, float* db, const float* d, const float* a, const float* b, int H) {
    using namespace simd;
    const vf one = vset1(1.0f), zero = vzero();
    int i = 0;
    for (; i + W <= H; i += W) {
        vf av = vload(a + i), dv = vload(d + i);
        vf sig = vdiv(one, vadd(one, vexp(vsub(zero, av))));
        vf dsilu = vmul(sig, vfmadd(av, vsub(one, sig), one));  // σ(a)(1 + a(1 − σ(a)))
        vstore(da + i, vmul(vmul(dv, vload(b + i)), dsilu));
        vstore(db + i, vmul(dv, vmul(av, sig)));
    }
    for (; i < H; i++) {
        const float av = a[i], bv = b[i];  // both before either write (dh13 may be h13)
        float sig = 1.0f / (1.0f + sexp(-av));
        da[i] = d[i] * bv * sig * (1.0f + av * (1.0f - sig));
        db[i] = d[i] * av * sig;
    }
}

inline void swiglu_backward_fast(float* dh13, const float* dout, const float* h13, int N, int H) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* a = h13 + (size_t)n * 2 * H;
        float* da = dh13 + (size_t)n * 2 * H;
        swiglu_backward_row(da, da + H, dout + (size_t)n * H, a, a + H, H);
    }
}

// The two for the trainers' bf16 runs, their outputs stored as bf16 bits
// (bf16.h): out and dh13 feed nothing but bf16 products (w2's and w13's),
// which pack the same words from these as from the fp32 outputs, at half the
// bytes. The backward's goes over h13 itself: row n's dh13 into the first
// half of row n's memory (its rows 4·H uint16 apart), once the row is read
// (bf16_store_over). The forward's rows [n0, n1), by the calling thread:
inline void swiglu_forward_rows(uint16_t* out, const float* h13, int H, int n0, int n1) {
    static thread_local std::vector<float> o;
    o.resize(H);
    for (int n = n0; n < n1; n++) {
        swiglu_row(o.data(), h13 + (size_t)n * 2 * H, h13 + (size_t)n * 2 * H + H, H);
        bf16_store_row(out + (size_t)n * H, o.data(), H);
    }
}

inline void swiglu_forward_fast(uint16_t* out, const float* h13, int N, int H) {
    #pragma omp parallel for schedule(static)
    for (int n0 = 0; n0 < N; n0 += SWIGLU_ROWS) swiglu_forward_rows(out, h13, H, n0, std::min(N, n0 + SWIGLU_ROWS));
}

inline void swiglu_backward_fast_bf16(float* h13, const float* dout, int N, int H) {
    #pragma omp parallel
    {
        std::vector<float> dab(2 * H);
        #pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            float* a = h13 + (size_t)n * 2 * H;
            swiglu_backward_row(dab.data(), dab.data() + H, dout + (size_t)n * H, a, a + H, H);
            bf16_store_over(a, dab.data(), 2 * H);
        }
    }
}

// SwiGLU as the epilogue of the product that writes h13 (matmul.h's
// gemm::RowEpilogue, ctx a SwigluRows): swiglu_forward_fast on rows [n0, n1)
// as the product finishes them; out is fp32, or bf16 bits with bf16 set.
struct SwigluRows {
    float* out;
    const float* h13;
    int H;
    bool bf16;
};
inline void swiglu_rows(void* ctx, int n0, int n1) {
    const SwigluRows& a = *(const SwigluRows*)ctx;
    if (a.bf16)
        swiglu_forward_rows((uint16_t*)a.out, a.h13, a.H, n0, n1);
    else
        swiglu_forward_rows(a.out, a.h13, a.H, n0, n1);
}
