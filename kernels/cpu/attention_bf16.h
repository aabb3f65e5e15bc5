// kernels/cpu/attention_bf16.h: flash attention (attention.h's tiled version)
// with its products on the GEMM's bf16 kernels, for the trainers' bf16 runs
// (--precision bf16, or auto where bf16 is faster). The same tiles, the same
// online softmax (attn::softmax_online_row, attn::softmax_grad_row), the same
// task split over (batch, kv head); what changes is the multiply: the seven
// products (Q·Kᵀ and P·V forward; Q·Kᵀ, dO·Vᵀ, Pᵀ·dO, dSᵀ·Q, dS·K backward)
// are packed bf16 operands on the active GEMM path's micro-kernel, with fp32
// accumulation: vdpbf16ps on avx512_bf16, TDPBF16PS tiles on AMX.
//
// q, k, v and dO are rounded to bf16 once per task, when they are packed; P
// and dS, the fp32 tiles the softmax leaves, are rounded when they are packed
// as the next product's operand. Scores, the softmax, its running max and sum,
// the output rows, lse and every gradient accumulate in fp32. This is what
// flash attention does on GPUs in bf16; the tests hold it to the fp32 kernels
// within bf16's rounding, and test_llama's 200-step run holds the loss.
//
// The layouts are the GEMM's (matmul_plain.h, matmul_amx.h): an A operand is
// panels of MR rows, a B operand panels of NR columns, both kw words deep and
// zero-padded, so one packing per operand serves the micro-kernel directly.
// The functions taking `const gemm::Kernels&` run on any path, fp32 ones too;
// the tests use that to check every path against the plain one. The trainers
// run them on attn_bf16::kernels(path): the GEMM's bf16 table, but 16×16
// tiles on avx512_bf16, whose 12-row panels would pad 64 rows to 72.
#pragma once
#include "attention.h"
#include "matmul.h"

namespace attn_bf16 {

constexpr int BT = 64;  // query rows and key columns per tile: whole 16-row AMX tiles, 32 depths per tile row

// The bf16 kernels attention's products run on for GEMM path isa. BT-sized
// operands fill 16×16 tiles exactly (matmul_avx512.h's bf16_16x16: the same
// bits as the GEMM's 12×32 tiles, less padding); AMX's 32×32 tiles and the
// other paths' panels are taken as the GEMM has them.
inline const gemm::Kernels& kernels(gemm::Isa isa) {
#if defined(__x86_64__)
    if (isa == gemm::Isa::avx512_bf16) return gemm::avx512::bf16_16x16;
#endif
    return gemm::kernels_for(isa, true);
}

// Sizes of packed blocks for one path's kernels, in 4-byte words. Every block
// is padded to 16 words so the next starts 64-byte aligned (the vector
// micro-kernels load B with aligned loads), plus the packers' slack.
struct Packing {
    const gemm::Kernels& kn;
    int kw(int depth) const { return attn::round_up(kn.bf16 ? (depth + 1) / 2 : depth, kn.word_align); }
    int rows(int m) const { return attn::round_up(m, kn.MR); }  // rows of C a product with m rows writes
    int cols(int n) const { return attn::round_up(n, kn.NR); }  // ... columns, for n columns
    size_t a_words(int m, int depth) const { return attn::round_up(rows(m) * kw(depth) + gemm::PACK_SLACK, 16); }
    size_t b_words(int n, int depth) const { return attn::round_up(cols(n) * kw(depth) + gemm::PACK_SLACK, 16); }
    // X(r, k) = src[r·s_r + k·s_k], `m` rows × depth, as an A or a B operand; src fp32 or bf16 bits
    void A(uint32_t* dst, gemm::Src src, long s_r, long s_k, int m, int depth) const {
        gemm::pack(kn, true, dst, src, s_r, s_k, m, depth, kw(depth));
    }
    void B(uint32_t* dst, gemm::Src src, long s_r, long s_k, int n, int depth) const {
        gemm::pack(kn, false, dst, src, s_r, s_k, n, depth, kw(depth));
    }
    // What a product on a tile of the causal diagonal (query i sees key j <= i,
    // queries and keys from the same position) may leave out, as it only adds
    // zeros there: `scores`, C's tiles wholly above the diagonal (rows queries,
    // columns keys; the softmax rows zero those entries); `keys_to_row`, the
    // depth past a row panel's last visible key (rows queries, depth keys);
    // `queries_from_row`, the depth before a panel's first query (rows keys,
    // depth queries). The depth is cut only on the vector paths' layouts,
    // where a panel's words are depth-major, so part of the depth is a
    // contiguous run of it (AMX's tile rows are the whole depth apart).
    enum class Diagonal { none, scores, keys_to_row, queries_from_row };

    // C (rows(M) × cols(N), row stride ldc) = (accumulate ? C : 0) + A · B over `depth`.
    // C's padding rows and columns are written too: the callers' buffers hold them.
    void product(int M, int N, int depth, const uint32_t* Ap, const uint32_t* Bp, float* C, long ldc,
                 bool accumulate, Diagonal diag = Diagonal::none) const {
        const int w = kw(depth), per = kn.bf16 ? 2 : 1;  // depths a word holds
        const bool cut = kn.word_align == 1;
        for (int jr = 0; jr < N; jr += kn.NR)
            for (int ir = 0; ir < M; ir += kn.MR) {
                if (diag == Diagonal::scores && jr >= ir + kn.MR) continue;
                int q0 = 0, q1 = w;  // words of depth that can be non-zero (ir is even: MR is)
                if (cut && diag == Diagonal::keys_to_row)
                    q1 = std::min(w, (std::min(depth, ir + kn.MR) + per - 1) / per);
                if (cut && diag == Diagonal::queries_from_row) q0 = std::min(w - 1, ir / per);
                kn.micro(q1 - q0, Ap + (size_t)ir * w + (size_t)q0 * kn.MR, Bp + (size_t)jr * w + (size_t)q0 * kn.NR,
                         C + (size_t)ir * ldc + jr, ldc, accumulate);
            }
    }
};

// Per-thread packing and tile buffers, 64-byte aligned, grown on demand.
inline uint32_t* scratch(size_t words) {
    static thread_local gemm::Workspace ws;
    return ws.get(words);
}

// Runs task(b, kvh) for every (batch, kv head) on the team's threads, each
// thread with kn's per-thread state (AMX: the tile configuration) set up
// around its tasks. A task is computed by one thread in a fixed order, so the
// results do not depend on which thread that is.
template <class F>
void for_each_task(const gemm::Kernels& kn, int B, int NKV, const F& task) {
    #pragma omp parallel
    {
        if (kn.thread_begin) kn.thread_begin();
        #pragma omp for collapse(2) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int kvh = 0; kvh < NKV; kvh++) task(b, kvh);
        if (kn.thread_end) kn.thread_end();
    }
}

// out is (B, T, NH·HS), lse (B, NH, T), as attention_forward_flash. qkv may
// be fp32 or bf16 bits (gemm::Src: the trainers' bf16 runs store it so, as
// only these bf16 products read it), its rows ldq elements apart (0: packed,
// (NH + 2·NKV)·HS).
inline void forward(const gemm::Kernels& kn, float* out, float* lse, gemm::Src qkv, int B, int T, int NH, int NKV,
                    int HS, long ldq = 0) {
    const Packing pk{kn};
    const int row = (NH + 2 * NKV) * HS, group = NH / NKV, ntiles = (T + BT - 1) / BT;
    const long ld = ldq ? ldq : row;
    const int Mp = pk.rows(BT), ldS = pk.cols(BT), ldO = pk.cols(HS);
    const size_t kb = pk.b_words(BT, HS), vb = pk.b_words(HS, BT), qa = pk.a_words(BT, HS), pa = pk.a_words(BT, BT);
    const size_t words = ntiles * (kb + vb) + qa + pa + (size_t)Mp * ldS + (size_t)Mp * ldO + 2 * (size_t)Mp;
    const float scale = 1.0f / sqrtf((float)HS);
    for_each_task(kn, B, NKV, [&](int b, int kvh) {
        uint32_t* Kb = scratch(words);    // per key tile: Kᵀ as B (depth HS, columns keys)
        uint32_t* Vb = Kb + ntiles * kb;  // per key tile: V as B (depth keys, columns HS)
        uint32_t* Qa = Vb + ntiles * vb;  // the query tile as A (rows queries, depth HS)
        uint32_t* Pa = Qa + qa;           // P as A (rows queries, depth keys)
        float* S = (float*)(Pa + pa);     // (Mp, ldS) scores, then probabilities
        float* O = S + (size_t)Mp * ldS;  // (Mp, ldO) unnormalised output rows
        float* m = O + (size_t)Mp * ldO;  // (Mp) running max
        float* l = m + Mp;                // (Mp) running sum
        const gemm::Src base = qkv.at((long)b * T * ld);
        for (int jt = 0; jt < ntiles; jt++) {
            const int j0 = jt * BT, nk = std::min(BT, T - j0);
            pk.B(Kb + jt * kb, base.at(j0 * ld + (NH + kvh) * HS), ld, 1, nk, HS);
            pk.B(Vb + jt * vb, base.at(j0 * ld + (NH + NKV + kvh) * HS), 1, ld, HS, nk);
        }
        for (int h = kvh * group; h < (kvh + 1) * group; h++)
            for (int i0 = 0; i0 < T; i0 += BT) {
                const int nq = std::min(BT, T - i0);
                pk.A(Qa, base.at(i0 * ld + h * HS), ld, 1, nq, HS);
                memset(O, 0, (size_t)Mp * ldO * sizeof(float));
                for (int r = 0; r < Mp; r++) { m[r] = -INFINITY; l[r] = 0.0f; }
                for (int j0 = 0; j0 < i0 + nq; j0 += BT) {  // causal: no key after the last query
                    const int nk = std::min(BT, T - j0);
                    const bool diag = j0 == i0;
                    pk.product(nq, nk, HS, Qa, Kb + (j0 / BT) * kb, S, ldS, false,
                               diag ? Packing::Diagonal::scores : Packing::Diagonal::none);
                    for (int r = 0; r < nq; r++) {
                        const int jmax = std::min(nk, i0 + r - j0 + 1);  // keys j0..i0+r
                        const float alpha = attn::softmax_online_row(S + (size_t)r * ldS, ldS, jmax, scale,
                                                                      m[r], l[r]);
                        if (alpha != 1.0f) attn::scale_row(O + (size_t)r * ldO, O + (size_t)r * ldO, HS, alpha);
                    }
                    pk.A(Pa, S, ldS, 1, nq, nk);
                    pk.product(nq, HS, nk, Pa, Vb + (j0 / BT) * vb, O, ldO, true,
                               diag ? Packing::Diagonal::keys_to_row : Packing::Diagonal::none);
                }
                for (int r = 0; r < nq; r++) {
                    attn::scale_row(out + ((size_t)b * T + i0 + r) * NH * HS + h * HS, O + (size_t)r * ldO, HS,
                                    1.0f / l[r]);
                    lse[((size_t)b * NH + h) * T + i0 + r] = m[r] + logf(l[r]);
                }
            }
    });
}

// dqkv (B, T, (NH + 2·NKV)·HS) is overwritten with ∂L/∂qkv, as attention_backward_flash;
// it may be qkv itself, as there: a task packs everything it reads before its first write.
// Rope tables, as there: dq and dk are written rotated back (rope's backward).
// With dqkv16 set, ∂L/∂qkv goes there instead, as bf16 bits (bf16.h), its
// rows ldq apart as qkv's, and dqkv is not written: the trainers' bf16 runs
// feed it to nothing but qkv's bf16 products, which pack the same words from
// it at half the bytes. It may be qkv itself (bf16 bits then), as dqkv may.
// qkv and ldq as forward's.
inline void backward(const gemm::Kernels& kn, float* dqkv, const float* dout, gemm::Src qkv, const float* out,
                     const float* lse, int B, int T, int NH, int NKV, int HS, const float* rope_cos2 = nullptr,
                     const float* rope_sin2 = nullptr, uint16_t* dqkv16 = nullptr, long ldq = 0) {
    const Packing pk{kn};
    const int row = (NH + 2 * NKV) * HS, group = NH / NKV, ntiles = (T + BT - 1) / BT;
    const long ld = ldq ? ldq : row, ldd = dqkv16 ? ld : row;  // rows of qkv, of dqkv or dqkv16
    const int Mp = pk.rows(BT), ldS = pk.cols(BT), ldO = pk.cols(HS);
    const size_t kb = pk.b_words(BT, HS), hb = pk.b_words(HS, BT);  // Kᵀ or Vᵀ tiles; K, Q or dO tiles as B
    const size_t qa = pk.a_words(BT, HS), sa = pk.a_words(BT, BT);  // Q or dO tiles as A; P, Pᵀ, dS, dSᵀ
    const size_t per_head = 2 * qa + 2 * hb;                          // a query tile's Q and dO, as A and as B
    const size_t acc = (size_t)Mp * ldO;                              // an (Mp, ldO) fp32 accumulator
    const size_t words = ntiles * (2 * kb + hb) + (size_t)group * ntiles * (per_head + acc) + 3 * sa +
                         (size_t)group * ntiles * BT + 2 * (size_t)Mp * ldS + 2 * acc + HS;
    const float scale = 1.0f / sqrtf((float)HS);
    for_each_task(kn, B, NKV, [&](int b, int kvh) {
        uint32_t* Kb = scratch(words);       // per key tile: Kᵀ as B (depth HS)
        uint32_t* Vb = Kb + ntiles * kb;     // per key tile: Vᵀ as B (depth HS)
        uint32_t* Kk = Vb + ntiles * kb;     // per key tile: K as B (depth keys)
        uint32_t* H = Kk + ntiles * hb;      // per head and query tile: Qa, dOa, Qb, dOb
        float* dQ = (float*)(H + (size_t)group * ntiles * per_head);  // per head and query tile (Mp, ldO)
        uint32_t* Pt = (uint32_t*)(dQ + (size_t)group * ntiles * acc);  // Pᵀ as A (rows keys, depth queries)
        uint32_t* dSt = Pt + sa;             // dSᵀ as A
        uint32_t* dSa = dSt + sa;            // dS as A (rows queries, depth keys)
        float* D = (float*)(dSa + sa);       // per head (ntiles·BT): do·o of each query row
        float* S = D + (size_t)group * ntiles * BT;  // (Mp, ldS) q·k, then p
        float* dP = S + (size_t)Mp * ldS;    // (Mp, ldS) do·v, then ds
        float* dK = dP + (size_t)Mp * ldS;   // (Mp, ldO) this key tile's dk rows
        float* dV = dK + acc;                // ... dv rows
        float* grow = dV + acc;              // (HS) a dq or dk row rotated back, on its way to bf16
        // a gradient row g of position t to element `at` of dqkv (or dqkv16), rotated back by rope if asked
        auto store = [&](size_t at, const float* g, int t, bool rotate) {
            if (!dqkv16) {
                attn::store_grad_row(dqkv + at, g, t, HS, rotate ? rope_cos2 : nullptr, rope_sin2);
                return;
            }
            if (rotate && rope_cos2) {
                attn::store_grad_row(grow, g, t, HS, rope_cos2, rope_sin2);
                g = grow;
            }
            bf16_store_row(dqkv16 + at, g, HS);
        };
        // query tile it of head g of the group: Q and dO as A, then Q and dO as B
        enum { Q_A, DO_A, Q_B, DO_B };
        auto tile = [&](int g, int it, int which) {
            const size_t at[4] = {0, qa, 2 * qa, 2 * qa + hb};
            return H + ((size_t)g * ntiles + it) * per_head + at[which];
        };
        const gemm::Src base = qkv.at((long)b * T * ld);
        for (int jt = 0; jt < ntiles; jt++) {
            const int j0 = jt * BT, nk = std::min(BT, T - j0);
            const gemm::Src k = base.at(j0 * ld + (NH + kvh) * HS);
            pk.B(Kb + jt * kb, k, ld, 1, nk, HS);
            pk.B(Vb + jt * kb, base.at(j0 * ld + (NH + NKV + kvh) * HS), ld, 1, nk, HS);
            pk.B(Kk + jt * hb, k, 1, ld, HS, nk);
        }
        for (int g = 0; g < group; g++) {
            const int h = kvh * group + g;
            for (int it = 0; it < ntiles; it++) {
                const int i0 = it * BT, nq = std::min(BT, T - i0);
                const gemm::Src q = base.at(i0 * ld + h * HS);
                const float* d = dout + ((size_t)b * T + i0) * NH * HS + h * HS;
                pk.A(tile(g, it, Q_A), q, ld, 1, nq, HS);
                pk.A(tile(g, it, DO_A), d, NH * HS, 1, nq, HS);
                pk.B(tile(g, it, Q_B), q, 1, ld, HS, nq);
                pk.B(tile(g, it, DO_B), d, 1, NH * HS, HS, nq);
                memset(dQ + ((size_t)g * ntiles + it) * acc, 0, acc * sizeof(float));
                for (int r = 0; r < nq; r++)
                    D[(size_t)g * ntiles * BT + i0 + r] =
                        attn::dot_row(out + ((size_t)b * T + i0 + r) * NH * HS + h * HS, d + (size_t)r * NH * HS, HS);
            }
        }
        for (int jt = 0; jt < ntiles; jt++) {
            const int j0 = jt * BT, nk = std::min(BT, T - j0);
            memset(dK, 0, 2 * acc * sizeof(float));  // dK and dV
            for (int g = 0; g < group; g++) {
                const float* lse_h = lse + ((size_t)b * NH + kvh * group + g) * T;
                for (int it = jt; it < ntiles; it++) {  // causal: only queries at or after j0
                    const int i0 = it * BT, nq = std::min(BT, T - i0);
                    using Dg = Packing::Diagonal;
                    const bool diag = it == jt;
                    const Dg scores = diag ? Dg::scores : Dg::none, from_row = diag ? Dg::queries_from_row : Dg::none;
                    pk.product(nq, nk, HS, tile(g, it, Q_A), Kb + jt * kb, S, ldS, false, scores);
                    pk.product(nq, nk, HS, tile(g, it, DO_A), Vb + jt * kb, dP, ldS, false, scores);
                    for (int r = 0; r < nq; r++)
                        attn::softmax_grad_row(S + (size_t)r * ldS, dP + (size_t)r * ldS, ldS,
                                               std::min(nk, i0 + r - j0 + 1), scale, lse_h[i0 + r],
                                               D[(size_t)g * ntiles * BT + i0 + r]);
                    pk.A(Pt, S, 1, ldS, nk, nq);    // dV += Pᵀ dO
                    pk.product(nk, HS, nq, Pt, tile(g, it, DO_B), dV, ldO, true, from_row);
                    pk.A(dSt, dP, 1, ldS, nk, nq);  // dK += dSᵀ Q
                    pk.product(nk, HS, nq, dSt, tile(g, it, Q_B), dK, ldO, true, from_row);
                    pk.A(dSa, dP, ldS, 1, nq, nk);  // dQ += dS K
                    pk.product(nq, HS, nk, dSa, Kk + jt * hb, dQ + ((size_t)g * ntiles + it) * acc, ldO, true,
                               diag ? Dg::keys_to_row : Dg::none);
                }
            }
            for (int j = 0; j < nk; j++) {
                const size_t d = ((size_t)b * T + j0 + j) * ldd;
                store(d + (NH + kvh) * HS, dK + (size_t)j * ldO, j0 + j, true);
                store(d + (NH + NKV + kvh) * HS, dV + (size_t)j * ldO, j0 + j, false);
            }
        }
        for (int g = 0; g < group; g++)
            for (int t = 0; t < T; t++)
                store(((size_t)b * T + t) * ldd + (kvh * group + g) * HS,
                      dQ + ((size_t)g * ntiles + t / BT) * acc + (size_t)(t % BT) * ldO, t, true);
    });
}

}  // namespace attn_bf16

// The trainers' calls, taking bf16 as matmul_forward does: with it set, on
// the active GEMM path's bf16 kernels (attn_bf16::kernels); without,
// attention.h's fp32 kernels.
inline void attention_forward_flash(float* out, float* lse, const float* qkv, int B, int T, int NH, int NKV, int HS,
                                    bool bf16) {
    if (!bf16) return attention_forward_flash(out, lse, qkv, B, T, NH, NKV, HS);
    attn_bf16::forward(attn_bf16::kernels(gemm::active_isa()), out, lse, qkv, B, T, NH, NKV, HS);
}

// With rope tables (rope.h's expanded cos2, sin2) dq and dk come out rotated
// back, as attention_backward_flash (attention.h) says; null for none (GPT-2).
inline void attention_backward_flash(float* dqkv, const float* dout, const float* qkv, const float* out,
                                     const float* lse, int B, int T, int NH, int NKV, int HS, bool bf16,
                                     const float* rope_cos2 = nullptr, const float* rope_sin2 = nullptr) {
    if (!bf16) return attention_backward_flash(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, rope_cos2, rope_sin2);
    attn_bf16::backward(attn_bf16::kernels(gemm::active_isa()), dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS,
                        rope_cos2, rope_sin2);
}

// The trainers' bf16 runs: qkv16 is qkv as bf16 bits, its rows ldq apart
// (rope_forward_fast_bf16 leaves each in the first half of its fp32 row);
// the backward overwrites it with ∂L/∂qkv as bf16 bits, in the same places,
// which only qkv's bf16 products read (attn_bf16::backward). In place, the
// task that writes a row's heads has just read them, from cache.
inline void attention_forward_flash(float* out, float* lse, const uint16_t* qkv16, long ldq, int B, int T, int NH,
                                    int NKV, int HS) {
    attn_bf16::forward(attn_bf16::kernels(gemm::active_isa()), out, lse, qkv16, B, T, NH, NKV, HS, ldq);
}

inline void attention_backward_flash(uint16_t* qkv16, long ldq, const float* dout, const float* out, const float* lse,
                                     int B, int T, int NH, int NKV, int HS, const float* rope_cos2 = nullptr,
                                     const float* rope_sin2 = nullptr) {
    attn_bf16::backward(attn_bf16::kernels(gemm::active_isa()), nullptr, dout, qkv16, out, lse, B, T, NH, NKV,
                        HS, rope_cos2, rope_sin2, qkv16, ldq);
}
