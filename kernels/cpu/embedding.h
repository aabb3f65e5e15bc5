// kernels/cpu/embedding.h: token embedding lookup.
#pragma once
#include <cstddef>
#ifdef _OPENMP
#include <omp.h>
#endif

// out is (N, C), inp is (N) token ids, wte is (V, C).
inline void embedding_forward(float* out, const int* inp, const float* wte, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float* w = wte + (size_t)inp[n] * C;
        float* o = out + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = w[i];
    }
}

// dwte (V, C) += scatter of dout (N, C) by token id. Repeated tokens add into
// the same row, so threads split the channels instead of the tokens: no races,
// and every row is summed in token order, the same on every run.
inline void embedding_backward(float* dwte, const float* dout, const int* inp, int N, int C) {
    #pragma omp parallel
    {
        #ifdef _OPENMP
        int nth = omp_get_num_threads(), tid = omp_get_thread_num();
        #else
        int nth = 1, tid = 0;
        #endif
        int per = (C + nth - 1) / nth;
        int c0 = tid * per, c1 = c0 + per < C ? c0 + per : C;
        for (int n = 0; n < N; n++) {
            float* dw = dwte + (size_t)inp[n] * C;
            const float* d = dout + (size_t)n * C;
            for (int i = c0; i < c1; i++) dw[i] += d[i];
        }
    }
}
