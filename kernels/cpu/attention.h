// kernels/cpu/attention.h: causal multi-head attention with grouped-query heads.
// qkv is the fused projection, (B, T, (NH + 2·NKV)·HS): per row NH query heads,
// then NKV key heads, then NKV value heads; q and k already carry RoPE.
// Query head h reads kv head h / (NH / NKV).
//
// attention_forward / attention_backward are the plain version: they keep the
// softmax probabilities, (B, NH, T, T), and are the reference the tiled
// version is tested against.
// attention_forward_flash / attention_backward_flash are the fast version
// (FlashAttention-2 on the CPU): queries in tiles of BQ rows meet keys in
// tiles of BK columns, the softmax is computed online (a running max and sum
// per row), and only one BQ×BK tile of scores exists at a time per thread.
// Forward keeps the log-sum-exp of each row, (B, NH, T), and backward
// recomputes the probabilities from it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "rope.h"
#include "simd.h"

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

// ----------------------------------------------------------------------------
// Tiled (flash) attention

namespace attn {

constexpr int BQ = 48;             // query rows per tile
constexpr int BK = 48;             // key columns per tile
constexpr int RB = 6;              // rows of a register tile
constexpr int CW = 16;             // columns of a register tile
constexpr int NV = CW / simd::W;   // ... in vectors: 6×2 accumulators on AVX2, as the GEMM's micro-kernel
static_assert(BQ % RB == 0 && BK % RB == 0 && BK % CW == 0, "tiles hold whole register tiles");
// a partial key tile (nkp <= BK - CW) read as Pᵀ with its key count rounded up to RB stays inside the BQ×BK buffer
static_assert(BQ * (BK - CW) + RB <= BQ * BK, "padded transposed reads stay inside a tile");

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

// Cm (M×N, row stride ldc) (+)= A · Bm over depth K, where A(m, k) = A[m·sam + k·sak]
// and Bm (K×N) has rows of stride ldb. M is a multiple of RB, N of CW: the
// callers pad their tiles with zeros, so there is no edge case here.
inline void tile_gemm(int M, int N, int K, const float* A, long sam, long sak, const float* Bm, long ldb, float* Cm,
                      long ldc, bool accumulate) {
    using namespace simd;
    for (int i = 0; i < M; i += RB)
        for (int j = 0; j < N; j += CW) {
            vf acc[RB][NV];
            #pragma GCC unroll 6
            for (int r = 0; r < RB; r++)
                #pragma GCC unroll 16
                for (int v = 0; v < NV; v++) acc[r][v] = accumulate ? vload(Cm + (i + r) * ldc + j + v * W) : vzero();
            const float* a = A + i * sam;
            const float* b = Bm + j;
            for (int k = 0; k < K; k++, b += ldb) {
                vf bv[NV];
                #pragma GCC unroll 16
                for (int v = 0; v < NV; v++) bv[v] = vload(b + v * W);
                #pragma GCC unroll 6
                for (int r = 0; r < RB; r++) {
                    vf av = vset1(a[r * sam + k * sak]);
                    #pragma GCC unroll 16
                    for (int v = 0; v < NV; v++) acc[r][v] = vfmadd(av, bv[v], acc[r][v]);
                }
            }
            #pragma GCC unroll 6
            for (int r = 0; r < RB; r++)
                #pragma GCC unroll 16
                for (int v = 0; v < NV; v++) vstore(Cm + (i + r) * ldc + j + v * W, acc[r][v]);
        }
}

// dst (rows × ld) = n rows of HS floats from src (row stride `stride`),
// zero-padded to ld columns and to `rows` rows.
inline void pack_rows(float* dst, int ld, int rows, const float* src, long stride, int n, int HS) {
    for (int r = 0; r < rows; r++) {
        float* d = dst + (size_t)r * ld;
        if (r < n) {
            memcpy(d, src + r * stride, HS * sizeof(float));
            for (int i = HS; i < ld; i++) d[i] = 0.0f;
        } else {
            memset(d, 0, ld * sizeof(float));
        }
    }
}

// The transpose: dst (HS × ld), dst[d·ld + j] = row j of src, element d;
// columns n..ld-1 are zero.
inline void pack_cols(float* dst, int ld, const float* src, long stride, int n, int HS) {
    int j0 = 0;
#if defined(__AVX2__) && defined(__FMA__)
    for (; j0 + 8 <= n; j0 += 8)  // 8×8 blocks through registers
        for (int d0 = 0; d0 + 8 <= HS; d0 += 8) {
            __m256 v[8];
            for (int j = 0; j < 8; j++) v[j] = _mm256_loadu_ps(src + (j0 + j) * stride + d0);
            simd::transpose8x8(v);
            for (int d = 0; d < 8; d++) _mm256_storeu_ps(dst + (size_t)(d0 + d) * ld + j0, v[d]);
        }
    if (HS % 8)  // the last HS % 8 elements of the rows done above
        for (int d = HS / 8 * 8; d < HS; d++)
            for (int j = 0; j < j0; j++) dst[(size_t)d * ld + j] = src[j * stride + d];
#endif
    for (int d = 0; d < HS; d++) {
        float* o = dst + (size_t)d * ld;
        for (int j = j0; j < n; j++) o[j] = src[j * stride + d];
        for (int j = n; j < ld; j++) o[j] = 0.0f;
    }
}

// One query row of a score tile, s[0, n): its first jmax entries hold q·k for
// the keys the row sees (unscaled), the rest are masked. They become
// p = exp(scale·s − m') under the row's new running max m' (the rest zero),
// and the running max m and sum l are updated. Returns the factor that
// rescales the row's output so far (1 when the max did not move).
inline float softmax_online_row(float* s, int n, int jmax, float scale, float& m, float& l) {
    using namespace simd;
    if (jmax <= 0) {  // no key of this tile is visible to this row
        memset(s, 0, n * sizeof(float));
        return 1.0f;
    }
    vf vm = vset1(-INFINITY);
    int j = 0;
    for (; j + W <= jmax; j += W) vm = vmax(vm, vload(s + j));
    float mx = vhmax(vm);
    for (; j < jmax; j++) mx = std::max(mx, s[j]);
    mx = std::max(m, mx * scale);       // scale > 0 keeps the argmax
    const float alpha = sexp(m - mx);  // rescales what was summed under the old max
    const vf vs = vset1(scale), vmx = vset1(mx);
    vf vl = vzero();
    for (j = 0; j + W <= jmax; j += W) {
        vf p = vexp(vsub(vmul(vload(s + j), vs), vmx));
        vstore(s + j, p);
        vl = vadd(vl, p);
    }
    float sum = vsum(vl);
    for (; j < jmax; j++) { s[j] = sexp(s[j] * scale - mx); sum += s[j]; }
    for (; j < n; j++) s[j] = 0.0f;
    l = l * alpha + sum;
    m = mx;
    return alpha;
}

// Backward's row of a tile, n entries, jmax visible: p holds q·k and becomes
// p = exp(scale·q·k − L) with L the row's log-sum-exp; ds holds do·v and
// becomes p ∘ (do·v − D) · scale with D = do·o. Masked entries are zero in both.
inline void softmax_grad_row(float* p, float* ds, int n, int jmax, float scale, float L, float D) {
    using namespace simd;
    int j = 0;
    if (jmax > 0) {
        const vf vs = vset1(scale), vL = vset1(L), vD = vset1(D);
        for (; j + W <= jmax; j += W) {
            vf pv = vexp(vsub(vmul(vload(p + j), vs), vL));
            vstore(p + j, pv);
            vstore(ds + j, vmul(vmul(pv, vsub(vload(ds + j), vD)), vs));
        }
        for (; j < jmax; j++) {
            p[j] = sexp(p[j] * scale - L);
            ds[j] = p[j] * (ds[j] - D) * scale;
        }
    }
    for (; j < n; j++) { p[j] = 0.0f; ds[j] = 0.0f; }
}

// dst[0, n) = a · src[0, n); dst may be src (rescaling an output row in place).
inline void scale_row(float* dst, const float* src, int n, float a) {
    using namespace simd;
    const vf va = vset1(a);
    int i = 0;
    for (; i + W <= n; i += W) vstore(dst + i, vmul(vload(src + i), va));
    for (; i < n; i++) dst[i] = src[i] * a;
}

// Σ a[i]·b[i] over [0, n): backward's D = do·o of a query row.
inline float dot_row(const float* a, const float* b, int n) {
    using namespace simd;
    vf acc = vzero();
    int i = 0;
    for (; i + W <= n; i += W) acc = vfmadd(vload(a + i), vload(b + i), acc);
    float sum = vsum(acc);
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

// Per-thread scratch, grown on demand; it carries nothing from one call to the next.
inline float* scratch(size_t n) {
    static thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

// Backward's store of one dq or dk row (HS floats) of position t: a copy, or,
// given rope tables (rope.h's expanded cos2, sin2), the inverse rotation,
// which is rope's backward: the gradient for q or k as they were before RoPE.
inline void store_grad_row(float* dst, const float* src, int t, int HS, const float* cos2, const float* sin2) {
    if (cos2)
        rope_row(dst, src, t, cos2, sin2, HS, -1.0f);
    else
        memcpy(dst, src, HS * sizeof(float));
}

}  // namespace attn

// out is (B, T, NH·HS); lse is (B, NH, T): log Σ_j exp(s_tj) per query row,
// with s = q·k / sqrt(HS), which is all backward needs to rebuild p.
// A task is one (batch, kv head): its keys and values are packed once and
// serve every query head of the group.
inline void attention_forward_flash(float* out, float* lse, const float* qkv, int B, int T, int NH, int NKV, int HS) {
    using namespace attn;
    using namespace simd;
    const int row = (NH + 2 * NKV) * HS, group = NH / NKV;
    const int HSp = round_up(HS, CW), Tp = round_up(T, BK);
    const float scale = 1.0f / sqrtf((float)HS);
    // each task is computed by one thread in a fixed order, so the result does
    // not depend on which thread that is
    #pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < B; b++)
        for (int kvh = 0; kvh < NKV; kvh++) {
            float* Kt = scratch((size_t)HS * Tp + 2 * (size_t)Tp * HSp + (size_t)BQ * BK + (size_t)BQ * HSp + 2 * BQ);
            float* Vp = Kt + (size_t)HS * Tp;   // (Tp, HSp)
            float* Qp = Vp + (size_t)Tp * HSp;  // (Tp, HSp), one head at a time
            float* S = Qp + (size_t)Tp * HSp;   // (BQ, BK) scores, then probabilities
            float* O = S + (size_t)BQ * BK;     // (BQ, HSp) unnormalised output rows
            float* m = O + (size_t)BQ * HSp;    // (BQ) running max
            float* l = m + BQ;                  // (BQ) running sum
            const float* base = qkv + (size_t)b * T * row;
            pack_cols(Kt, Tp, base + (NH + kvh) * HS, row, T, HS);
            pack_rows(Vp, HSp, Tp, base + (NH + NKV + kvh) * HS, row, T, HS);
            for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                pack_rows(Qp, HSp, Tp, base + h * HS, row, T, HS);
                for (int i0 = 0; i0 < T; i0 += BQ) {
                    const int nq = std::min(BQ, T - i0), nqp = round_up(nq, RB);
                    memset(O, 0, (size_t)nqp * HSp * sizeof(float));
                    for (int r = 0; r < nqp; r++) { m[r] = -INFINITY; l[r] = 0.0f; }
                    for (int j0 = 0; j0 < i0 + nq; j0 += BK) {  // causal: no key after the last query
                        const int nk = std::min(BK, i0 + nq - j0), nkp = round_up(nk, CW);
                        tile_gemm(nqp, nkp, HS, Qp + (size_t)i0 * HSp, HSp, 1, Kt + j0, Tp, S, nkp, false);
                        for (int r = 0; r < nqp; r++) {
                            const int jmax = r < nq ? std::min(nk, i0 + r - j0 + 1) : 0;  // keys j0..i0+r
                            const float alpha = softmax_online_row(S + (size_t)r * nkp, nkp, jmax, scale, m[r], l[r]);
                            if (alpha != 1.0f) scale_row(O + (size_t)r * HSp, O + (size_t)r * HSp, HSp, alpha);
                        }
                        tile_gemm(nqp, HSp, nkp, S, nkp, 1, Vp + (size_t)j0 * HSp, HSp, O, HSp, true);
                    }
                    for (int r = 0; r < nq; r++) {
                        scale_row(out + ((size_t)b * T + i0 + r) * NH * HS + h * HS, O + (size_t)r * HSp, HS,
                                  1.0f / l[r]);
                        lse[((size_t)b * NH + h) * T + i0 + r] = m[r] + logf(l[r]);
                    }
                }
            }
        }
}

// dqkv (B, T, (NH + 2·NKV)·HS) is overwritten with ∂L/∂qkv, from dout (B, T, NH·HS),
// the forward's qkv, out and lse. With P rebuilt as exp(s − lse):
//   dV += Pᵀ dO,  dP = dO Vᵀ,  dS = P ∘ (dP − D) · scale  where D_t = do_t · o_t,
//   dQ += dS K,   dK += dSᵀ Q.
// A task is one (batch, kv head): every query head of the group adds into the
// same dk, dv, so they stay inside one task, and no two tasks write one value.
// dqkv may be qkv itself: a task packs all the q, k and v it reads before it
// writes, and writes only its own batch's rows and its own heads' columns.
// Given rope tables (cos2, sin2: rope_expand_tables', T rows at least), dq
// and dk are written rotated back, which is rope_backward_fast's work done as
// they are stored (bit for bit the same), so the trainer makes no pass of its
// own over dqkv; q and k in qkv are the rotated ones the forward read.
inline void attention_backward_flash(float* dqkv, const float* dout, const float* qkv, const float* out,
                                     const float* lse, int B, int T, int NH, int NKV, int HS,
                                     const float* rope_cos2 = nullptr, const float* rope_sin2 = nullptr) {
    using namespace attn;
    using namespace simd;
    const int row = (NH + 2 * NKV) * HS, group = NH / NKV;
    const int HSp = round_up(HS, CW), Tp = round_up(T, BK);
    const float scale = 1.0f / sqrtf((float)HS);
    static_assert(BQ == BK, "query and key tiles share one padded length Tp");
    #pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < B; b++)
        for (int kvh = 0; kvh < NKV; kvh++) {
            const size_t head = (size_t)Tp * HSp;  // one head's padded (Tp, HSp) rows
            float* Kt = scratch(3 * head + 3 * (size_t)group * head + (size_t)group * Tp + 2 * (size_t)BQ * BK +
                                2 * (size_t)BK * HSp);
            float* Kp = Kt + head;                 // (Tp, HSp)
            float* Vt = Kp + head;                 // (HS, Tp)
            float* Qp = Vt + head;                 // (group, Tp, HSp)
            float* dOp = Qp + group * head;        // (group, Tp, HSp)
            float* dQ = dOp + group * head;        // (group, Tp, HSp)
            float* D = dQ + group * head;          // (group, Tp)
            float* S = D + (size_t)group * Tp;     // (BQ, BK) p
            float* dP = S + (size_t)BQ * BK;       // (BQ, BK) dp, then ds
            float* dK = dP + (size_t)BQ * BK;      // (BK, HSp)
            float* dV = dK + (size_t)BK * HSp;     // (BK, HSp)
            const float* base = qkv + (size_t)b * T * row;
            pack_cols(Kt, Tp, base + (NH + kvh) * HS, row, T, HS);
            pack_rows(Kp, HSp, Tp, base + (NH + kvh) * HS, row, T, HS);
            pack_cols(Vt, Tp, base + (NH + NKV + kvh) * HS, row, T, HS);
            for (int g = 0; g < group; g++) {
                const int h = kvh * group + g;
                pack_rows(Qp + g * head, HSp, Tp, base + h * HS, row, T, HS);
                pack_rows(dOp + g * head, HSp, Tp, dout + (size_t)b * T * NH * HS + h * HS, NH * HS, T, HS);
                for (int t = 0; t < T; t++)
                    D[g * Tp + t] = dot_row(out + ((size_t)b * T + t) * NH * HS + h * HS,
                                            dOp + g * head + (size_t)t * HSp, HS);
            }
            memset(dQ, 0, group * head * sizeof(float));
            for (int j0 = 0; j0 < T; j0 += BK) {
                const int nk = std::min(BK, T - j0), nkp = round_up(nk, CW);
                memset(dK, 0, (size_t)BK * HSp * sizeof(float));
                memset(dV, 0, (size_t)BK * HSp * sizeof(float));
                for (int g = 0; g < group; g++) {
                    const float* lse_h = lse + ((size_t)b * NH + kvh * group + g) * T;
                    const float* Qg = Qp + g * head;
                    const float* dOg = dOp + g * head;
                    for (int i0 = j0; i0 < T; i0 += BQ) {  // causal: only queries at or after j0
                        const int nq = std::min(BQ, T - i0), nqp = round_up(nq, RB);
                        tile_gemm(nqp, nkp, HS, Qg + (size_t)i0 * HSp, HSp, 1, Kt + j0, Tp, S, nkp, false);
                        tile_gemm(nqp, nkp, HS, dOg + (size_t)i0 * HSp, HSp, 1, Vt + j0, Tp, dP, nkp, false);
                        for (int r = 0; r < nqp; r++) {
                            const int jmax = r < nq ? std::min(nk, i0 + r - j0 + 1) : 0;
                            softmax_grad_row(S + (size_t)r * nkp, dP + (size_t)r * nkp, nkp, jmax, scale,
                                             r < nq ? lse_h[i0 + r] : 0.0f, r < nq ? D[g * Tp + i0 + r] : 0.0f);
                        }
                        // dV (keys × HS) += Pᵀ dO: A(m = key j, k = query r) = P[r·nkp + j]. The
                        // key count is rounded up to whole register tiles: rows nkp..nkr-1 of dV
                        // and dK read past the end of P's rows (into the next, or the spare end
                        // of the BQ×BK buffer) and are never copied out.
                        const int nkr = round_up(nkp, RB);
                        tile_gemm(nkr, HSp, nqp, S, 1, nkp, dOg + (size_t)i0 * HSp, HSp, dV, HSp, true);
                        tile_gemm(nkr, HSp, nqp, dP, 1, nkp, Qg + (size_t)i0 * HSp, HSp, dK, HSp, true);
                        tile_gemm(nqp, HSp, nkp, dP, nkp, 1, Kp + (size_t)j0 * HSp, HSp,
                                  dQ + g * head + (size_t)i0 * HSp, HSp, true);
                    }
                }
                for (int j = 0; j < nk; j++) {
                    float* d = dqkv + ((size_t)b * T + j0 + j) * row;
                    store_grad_row(d + (NH + kvh) * HS, dK + (size_t)j * HSp, j0 + j, HS, rope_cos2, rope_sin2);
                    memcpy(d + (NH + NKV + kvh) * HS, dV + (size_t)j * HSp, HS * sizeof(float));
                }
            }
            for (int g = 0; g < group; g++)
                for (int t = 0; t < T; t++)
                    store_grad_row(dqkv + ((size_t)b * T + t) * row + (kvh * group + g) * HS,
                                   dQ + g * head + (size_t)t * HSp, t, HS, rope_cos2, rope_sin2);
        }
}
