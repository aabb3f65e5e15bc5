// kernels/cpu/matmul.h: the three matrix products of a linear layer without bias.
//   forward:  out  (N, OC)  = inp (N, C) · weightᵀ      weight is (OC, C), PyTorch's layout
//   backward: dinp (N, C)  += dout (N, OC) · weight
//             dweight (OC, C) += doutᵀ · inp
// All three are the same loop nest, out(M, NC) (+)= A(M, K) · Bm(K, NC), with Bm's
// rows contiguous so the innermost loop runs over contiguous memory and vectorises.
// Only A's strides differ, so one blocked routine serves all three. This is the
// plain, correct version; a packed AVX-512 GEMM is the job of the CPU-speed issue.
#pragma once
#include <vector>

namespace matmul_detail {
constexpr int MR = 4;   // rows of out per block: 4 rows × 64 columns = 16 AVX-512 accumulators
constexpr int NR = 64;  // columns of out per block

// out[m*ldo + j] (+)= sum_k A[m*sam + k*sak] * Bm[k*ldb + j]  for m < M, j < NC
inline void gemm(float* out, int ldo, const float* A, long sam, long sak, const float* Bm, int ldb,
                 int M, int K, int NC, bool accumulate) {
    int mblocks = (M + MR - 1) / MR, nblocks = (NC + NR - 1) / NR;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int mb = 0; mb < mblocks; mb++) {
        for (int nb = 0; nb < nblocks; nb++) {
            int m0 = mb * MR, j0 = nb * NR;
            if (m0 + MR <= M && j0 + NR <= NC) {
                // full block: fixed trip counts let the compiler keep acc in registers
                float acc[MR][NR] = {};
                for (int k = 0; k < K; k++) {
                    const float* b = Bm + (long)k * ldb + j0;
                    for (int r = 0; r < MR; r++) {
                        float a = A[(m0 + r) * sam + k * sak];
                        for (int j = 0; j < NR; j++) acc[r][j] += a * b[j];
                    }
                }
                for (int r = 0; r < MR; r++) {
                    float* o = out + (long)(m0 + r) * ldo + j0;
                    for (int j = 0; j < NR; j++) o[j] = accumulate ? o[j] + acc[r][j] : acc[r][j];
                }
            } else {
                // ragged edge block: same arithmetic with bounds
                int mr = M - m0 < MR ? M - m0 : MR, nr = NC - j0 < NR ? NC - j0 : NR;
                float acc[MR][NR] = {};
                for (int k = 0; k < K; k++) {
                    const float* b = Bm + (long)k * ldb + j0;
                    for (int r = 0; r < mr; r++) {
                        float a = A[(m0 + r) * sam + k * sak];
                        for (int j = 0; j < nr; j++) acc[r][j] += a * b[j];
                    }
                }
                for (int r = 0; r < mr; r++) {
                    float* o = out + (long)(m0 + r) * ldo + j0;
                    for (int j = 0; j < nr; j++) o[j] = accumulate ? o[j] + acc[r][j] : acc[r][j];
                }
            }
        }
    }
}
}  // namespace matmul_detail

// out is (N, OC), inp is (N, C), weight is (OC, C)
inline void matmul_forward(float* out, const float* inp, const float* weight, int N, int C, int OC) {
    // weightᵀ (C, OC) makes the inner loop contiguous; the copy is OC·C work
    // against N·OC·C for the product, so it costs ~1/N of the matmul.
    std::vector<float> wt((size_t)C * OC);
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (int o = 0; o < OC; o++) wt[(size_t)c * OC + o] = weight[(size_t)o * C + c];
    matmul_detail::gemm(out, OC, inp, C, 1, wt.data(), OC, N, C, OC, false);
}

// dinp (N, C) += dout · weight; dweight (OC, C) += doutᵀ · inp. Either output may be null.
inline void matmul_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                            const float* weight, int N, int C, int OC) {
    if (dinp) matmul_detail::gemm(dinp, C, dout, OC, 1, weight, C, N, OC, C, true);
    if (dweight) matmul_detail::gemm(dweight, C, dout, 1, OC, inp, C, OC, N, C, true);
}
