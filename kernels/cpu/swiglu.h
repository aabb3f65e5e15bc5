// kernels/cpu/swiglu.h: the SwiGLU gate, out = silu(a) * b, silu(a) = a·σ(a).
// h13 is the fused output of the w1 and w3 projections, (N, 2·H): a = h13[:, :H], b = h13[:, H:].
#pragma once
#include <cmath>

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

inline void swiglu_forward_fast(float* out, const float* h13, int N, int H) {
    using namespace simd;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* a = h13 + (size_t)n * 2 * H;
        const float* b = a + H;
        float* o = out + (size_t)n * H;
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
}

inline void swiglu_backward_fast(float* dh13, const float* dout, const float* h13, int N, int H) {
    using namespace simd;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* a = h13 + (size_t)n * 2 * H;
        const float* b = a + H;
        const float* d = dout + (size_t)n * H;
        float* da = dh13 + (size_t)n * 2 * H;
        float* db = da + H;
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
}
