// kernels/cpu/matvec.h: a linear layer on one position, out = weight · x (+ bias),
// the product incremental decoding runs for every new token.
//   out (OC) = weight (OC, C) · x (C) + bias (OC)      weight in PyTorch's (out, in) layout
// The GEMM of matmul.h would pack the whole weight matrix for a single row of
// output: its packing is paid back by reuse across rows, and one row has none.
// Here each output is one dot product straight from the weight rows, so the
// weights are read once, in order, and nothing is written but out; threads
// split the output rows. Forward only: nothing trains on one position.
//
// matvec_forward_ref is the plain loop the fast version is tested against.
#pragma once
#include <cstddef>

#include "simd.h"

// ----------------------------------------------------------------------------
// Plain reference

// out is (OC), x is (C), weight is (OC, C), bias is (OC) or null.
inline void matvec_forward_ref(float* out, const float* x, const float* weight, const float* bias, int C, int OC) {
    for (int o = 0; o < OC; o++) {
        const float* w = weight + (size_t)o * C;
        float s = bias ? bias[o] : 0.0f;
        for (int i = 0; i < C; i++) s += w[i] * x[i];
        out[o] = s;
    }
}

// ----------------------------------------------------------------------------
// Fast path

// Below this many multiply-adds the product takes less than waking the other threads.
constexpr long MATVEC_PARALLEL_MIN = 1 << 15;

// a · b over n floats, in four independent vector accumulators so that the
// FMAs do not wait on each other's latency.
inline float dot_fast(const float* a, const float* b, int n) {
    using namespace simd;
    vf s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
    int i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        s0 = vfmadd(vload(a + i), vload(b + i), s0);
        s1 = vfmadd(vload(a + i + W), vload(b + i + W), s1);
        s2 = vfmadd(vload(a + i + 2 * W), vload(b + i + 2 * W), s2);
        s3 = vfmadd(vload(a + i + 3 * W), vload(b + i + 3 * W), s3);
    }
    for (; i + W <= n; i += W) s0 = vfmadd(vload(a + i), vload(b + i), s0);
    float s = vsum(vadd(vadd(s0, s1), vadd(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// Same contract as matvec_forward_ref.
inline void matvec_forward(float* out, const float* x, const float* weight, const float* bias, int C, int OC) {
    #pragma omp parallel for schedule(static) if ((long)OC * C >= MATVEC_PARALLEL_MIN)
    for (int o = 0; o < OC; o++) out[o] = dot_fast(weight + (size_t)o * C, x, C) + (bias ? bias[o] : 0.0f);
}
