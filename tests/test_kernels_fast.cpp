// tests/test_kernels_fast.cpp: every fast or fused CPU kernel against the plain
// kernel it replaces (same file in kernels/cpu/, already tested against double
// references in test_kernels.cpp), on odd shapes: sizes that are not multiples
// of the vector width or of a tile, T = 1, tails. Kernels with a backward are
// also checked against central finite differences of a double reference.
//
// Tolerances, per entry |got − want| <= atol + rtol·|want|:
//   fast vs plain   rtol = atol = 2e-5   both are float; they differ in summation
//                                        order and in exp (vector exp is ~2 ulp)
//   finite diffs    rtol = 1e-4, atol = 1e-5, as in test_kernels.cpp
#include <catch2/catch.hpp>

#include "kernel_test_util.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../kernels/cpu/adamw.h"
#include "../kernels/cpu/attention.h"
#include "../kernels/cpu/attention_bf16.h"
#include "../kernels/cpu/classifier.h"
#include "../kernels/cpu/crossentropy.h"
#include "../kernels/cpu/matmul.h"
#include "../kernels/cpu/rmsnorm.h"
#include "../kernels/cpu/rope.h"
#include "../kernels/cpu/simd.h"
#include "../kernels/cpu/swiglu.h"

namespace {

constexpr double CMP_RTOL = 2e-5, CMP_ATOL = 2e-5;
constexpr double BWD_RTOL = 1e-4, BWD_ATOL = 1e-5;
const float NaN = std::numeric_limits<float>::quiet_NaN();

// fast vs plain, both float
void check_same(const char* what, const vecf& got, const vecf& want) {
    check_close(what, got, to_double(want), CMP_RTOL, CMP_ATOL);
}

// Causal GQA attention in double; out (B, T, NH·HS).
vecd attention_ref(const vecd& qkv, int B, int T, int NH, int NKV, int HS) {
    int row = (NH + 2 * NKV) * HS, group = NH / NKV;
    vecd out((size_t)B * T * NH * HS, 0.0), p(T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double* q = &qkv[((size_t)b * T + t) * row + h * HS];
                double mx = -1e300, sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    const double* k = &qkv[((size_t)b * T + j) * row + (NH + h / group) * HS];
                    double s = 0.0;
                    for (int i = 0; i < HS; i++) s += q[i] * k[i];
                    p[j] = s / std::sqrt((double)HS);
                    mx = std::max(mx, p[j]);
                }
                for (int j = 0; j <= t; j++) { p[j] = std::exp(p[j] - mx); sum += p[j]; }
                double* o = &out[((size_t)b * T + t) * NH * HS + h * HS];
                for (int j = 0; j <= t; j++) {
                    const double* v = &qkv[((size_t)b * T + j) * row + (NH + NKV + h / group) * HS];
                    for (int i = 0; i < HS; i++) o[i] += p[j] / sum * v[i];
                }
            }
    return out;
}

}  // namespace

// ======================================================================== attention

namespace {
struct AttShape { int B, T, NH, NKV, HS; };
// T=1; T below, at and across the 48-row tiles (47, 48, 49, 97, 130, 200); GQA 4/2,
// MQA, MHA; head sizes that are and are not multiples of the vector width
const AttShape att_shapes[] = {{3, 1, 2, 1, 8},   {2, 5, 4, 2, 6},    {1, 47, 3, 3, 10}, {1, 48, 2, 1, 16},
                               {2, 49, 4, 2, 12}, {1, 97, 2, 1, 16},  {1, 130, 4, 1, 64}, {2, 200, 2, 2, 34}};
}  // namespace

TEST_CASE("attention_forward_flash matches attention_forward, and its lse is the log of the softmax sum",
          "[attention][fast]") {
    std::mt19937 rng(1501);
    for (const AttShape& s : att_shapes) {
        INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
        size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
        vecf qkv = random_vec(rng, n, -2, 2);
        vecf out_ref(no), att((size_t)s.B * s.NH * s.T * s.T);
        attention_forward(out_ref.data(), att.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        vecf out(no, NaN), lse((size_t)s.B * s.NH * s.T, NaN);
        attention_forward_flash(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        check_same("out", out, out_ref);
        // p_tj = exp(s_tj − lse_t) must rebuild the plain kernel's probabilities
        int row = (s.NH + 2 * s.NKV) * s.HS, group = s.NH / s.NKV;
        vecf p_fast(att.size(), 0.0f);
        for (int b = 0; b < s.B; b++)
            for (int h = 0; h < s.NH; h++)
                for (int t = 0; t < s.T; t++)
                    for (int j = 0; j <= t; j++) {
                        double d = 0.0;
                        for (int i = 0; i < s.HS; i++)
                            d += (double)qkv[((size_t)b * s.T + t) * row + h * s.HS + i] *
                                 qkv[((size_t)b * s.T + j) * row + (s.NH + h / group) * s.HS + i];
                        p_fast[(((size_t)b * s.NH + h) * s.T + t) * s.T + j] =
                            (float)std::exp(d / std::sqrt((double)s.HS) - lse[((size_t)b * s.NH + h) * s.T + t]);
                    }
        check_same("exp(s − lse) vs att", p_fast, att);
    }
}

TEST_CASE("attention_backward_flash matches attention_backward and the finite-difference gradient",
          "[attention][fast]") {
    std::mt19937 rng(1502);
    for (const AttShape& s : att_shapes) {
        INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
        int B = s.B, T = s.T, NH = s.NH, NKV = s.NKV, HS = s.HS;
        size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, no = (size_t)B * T * NH * HS;
        vecf qkv = random_vec(rng, n, -2, 2), R = random_vec(rng, no, -1, 1);
        vecf out(no), att((size_t)B * NH * T * T), dref(n);
        attention_forward(out.data(), att.data(), qkv.data(), B, T, NH, NKV, HS);
        attention_backward(dref.data(), R.data(), qkv.data(), att.data(), B, T, NH, NKV, HS);
        vecf fout(no), lse((size_t)B * NH * T), dqkv(n, NaN);
        attention_forward_flash(fout.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
        attention_backward_flash(dqkv.data(), R.data(), qkv.data(), fout.data(), lse.data(), B, T, NH, NKV, HS);
        check_same("dqkv vs attention_backward", dqkv, dref);
        if (n <= 4000) {  // finite differences cost two forwards per input
            vecd g = fd_grad([&](const vecd& x) { return attention_ref(x, B, T, NH, NKV, HS); }, to_double(qkv),
                             to_double(R));
            check_close("dqkv vs finite differences", dqkv, g, BWD_RTOL, BWD_ATOL);
        }
    }
}

TEST_CASE("flash attention gives the same bits with 1 and 2 threads", "[attention][fast]") {
    std::mt19937 rng(1503);
    int B = 3, T = 97, NH = 4, NKV = 2, HS = 16;
    size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, no = (size_t)B * T * NH * HS;
    vecf qkv = random_vec(rng, n, -2, 2), R = random_vec(rng, no, -1, 1);
    vecf out[2], lse[2], dqkv[2];
    for (int k = 0; k < 2; k++) {
        out[k].assign(no, NaN);
        lse[k].assign((size_t)B * NH * T, NaN);
        dqkv[k].assign(n, NaN);
        with_threads(k + 1, [&] {
            attention_forward_flash(out[k].data(), lse[k].data(), qkv.data(), B, T, NH, NKV, HS);
            attention_backward_flash(dqkv[k].data(), R.data(), qkv.data(), out[k].data(), lse[k].data(), B, T, NH,
                                     NKV, HS);
        });
    }
    check_equal("out", out[1], out[0]);
    check_equal("lse", lse[1], lse[0]);
    check_equal("dqkv", dqkv[1], dqkv[0]);
}

// ======================================================================== simd

TEST_CASE("vexp and sexp are within 3 ulp of exp and give exactly 0 below -87.3 and at -inf", "[simd][fast]") {
    using namespace simd;
    double worst = 0.0;
    for (float x0 = -87.0f; x0 < 88.0f; x0 += 0.01234f) {
        float in[W], out[W];
        for (int i = 0; i < W; i++) in[i] = x0 + 0.001f * i;
        vstore(out, vexp(vload(in)));
        for (int i = 0; i < W; i++) {
            if (in[i] > 88.0f) continue;
            double want = std::exp((double)in[i]);
            worst = std::max(worst, std::fabs(out[i] - want) / want);
            worst = std::max(worst, std::fabs(sexp(in[i]) - want) / want);
        }
    }
    INFO("worst relative error " << worst);
    CHECK(worst < 3 * 5.97e-8);
    float lo[W], out[W];
    for (int i = 0; i < W; i++) lo[i] = i % 2 ? -INFINITY : -87.5f - i;
    vstore(out, vexp(vload(lo)));
    for (int i = 0; i < W; i++) CHECK(out[i] == 0.0f);
    CHECK(sexp(-INFINITY) == 0.0f);
}

// ======================================================================== matmul

// Float sums of K products in two orders differ by ~K·eps: the tolerance grows with depth K.
static void matmul_close(const char* what, const vecf& got, const vecf& plain, int K) {
    double tol = 1e-6 + 2e-7 * K;
    check_close(what, got, to_double(plain), tol, tol);
}

// Runs fn on every GEMM path (gemm::Isa) this CPU runs, with a line for each
// it cannot; fp32 only on the paths with their own fp32 kernels (avx512_bf16
// and the AMX paths multiply fp32 on avx512's). Restores the path after.
template <typename F>
static void for_each_gemm_path(bool bf16, const F& fn) {
    const gemm::Isa before = gemm::active_isa();
    for (gemm::Isa isa : gemm::ALL_ISAS) {
        if (!bf16 && (isa == gemm::Isa::avx512_bf16 || isa == gemm::Isa::amx || isa == gemm::Isa::amx_emulated))
            continue;
        if (!gemm::set_isa(isa)) {
            WARN("skipped: the " << gemm::isa_name(isa) << " GEMM path (" << gemm::isa_unsupported(isa) << ")");
            continue;
        }
        INFO("GEMM path " << gemm::isa_name(isa));
        fn();
    }
    gemm::set_isa(before);
}

TEST_CASE("matmul kernels on ragged shapes match the plain loops, and give the same bits on 1 and 2 threads",
          "[matmul][fast]") {
    struct Shape { int N, C, OC; };
    // 1 row, 1 column, depths below, at and past the 1024-deep packed block, tiles past NC
    const Shape shapes[] = {{1, 1, 1}, {1, 37, 5}, {13, 7, 45}, {97, 300, 33}, {7, 513, 70}, {300, 64, 2100}, {150, 260, 4}, {1100, 20, 13}};
    for_each_gemm_path(false, [&] {
        std::mt19937 rng(1601);
        for (const Shape& s : shapes) {
            INFO("N=" << s.N << " C=" << s.C << " OC=" << s.OC);
            vecf inp = random_vec(rng, (size_t)s.N * s.C, -1, 1), w = random_vec(rng, (size_t)s.OC * s.C, -1, 1);
            vecf dout = random_vec(rng, (size_t)s.N * s.OC, -1, 1);
            vecf dinp0 = random_vec(rng, inp.size(), -1, 1), dw0 = random_vec(rng, w.size(), -1, 1);
            vecf out_ref(dout.size()), dinp_ref = dinp0, dw_ref = dw0;
            matmul_forward_ref(out_ref.data(), inp.data(), w.data(), s.N, s.C, s.OC);
            matmul_backward_ref(dinp_ref.data(), dw_ref.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC);
            vecf out[2], dinp[2], dw[2], dset[2];
            for (int k = 0; k < 2; k++)
                with_threads(k + 1, [&] {
                    out[k].assign(dout.size(), NaN);
                    matmul_forward(out[k].data(), inp.data(), w.data(), s.N, s.C, s.OC);
                    dinp[k] = dinp0;
                    dw[k] = dw0;
                    matmul_backward(dinp[k].data(), dw[k].data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC);
                    // set_dinp overwrites dinp (NaN must not survive) and still adds into dweight
                    dset[k].assign(inp.size(), NaN);
                    vecf dw2 = dw0;
                    matmul_backward_set_dinp(dset[k].data(), dw2.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC);
                    check_equal("set_dinp's dweight vs matmul_backward's", dw2, dw[k]);
                });
            matmul_close("out", out[0], out_ref, s.C);
            matmul_close("dinp", dinp[0], dinp_ref, s.OC);
            matmul_close("dweight", dw[0], dw_ref, s.N);
            vecf dset_plus = dset[0];
            for (size_t i = 0; i < dset_plus.size(); i++) dset_plus[i] += dinp0[i];
            matmul_close("set_dinp + prefill vs matmul_backward", dset_plus, dinp[0], s.OC);
            check_equal("out, 2 threads vs 1", out[1], out[0]);
            check_equal("dinp, 2 threads vs 1", dinp[1], dinp[0]);
            check_equal("dweight, 2 threads vs 1", dw[1], dw[0]);
            check_equal("set_dinp, 2 threads vs 1", dset[1], dset[0]);
        }
    });
}

// A row epilogue that records what it saw: each row's values when it was called, and how often.
struct RowsSeen {
    const float* C;
    int N;
    vecf snap;
    std::vector<std::atomic<int>> calls;
    RowsSeen(const float* c, int M, int N_) : C(c), N(N_), snap((size_t)M * N_, NaN), calls(M) {}
    static void fn(void* ctx, int i0, int i1) {
        RowsSeen& r = *(RowsSeen*)ctx;
        for (int i = i0; i < i1; i++) {
            r.calls[i]++;
            std::copy(r.C + (size_t)i * r.N, r.C + (size_t)(i + 1) * r.N, r.snap.begin() + (size_t)i * r.N);
        }
    }
};

TEST_CASE("a product's row epilogue runs once on every row, after the row's last write, fp32 and bf16, every path",
          "[matmul][fast]") {
    struct Shape { int M, NCOLS, K; };
    // rows finished in the tasks (one column block, depth within or past one packed block), and after them:
    // columns past one packed block (NC), a few rows whose columns are split among tasks, no depth at all
    const Shape shapes[] = {{1000, 96, 64}, {300, 64, 1100}, {50, 2100, 30}, {5, 300, 20}, {7, 5, 0}, {97, 33, 300}};
    for (bool bf16 : {false, true})
        for_each_gemm_path(bf16, [&] {
            std::mt19937 rng(1606);
            for (const Shape& s : shapes)
                for (int threads : {1, 2}) {
                    INFO("bf16 " << bf16 << " M=" << s.M << " NCOLS=" << s.NCOLS << " K=" << s.K << " threads "
                                 << threads);
                    vecf A = random_vec(rng, (size_t)s.M * std::max(s.K, 1), -1, 1);
                    vecf Bm = random_vec(rng, (size_t)std::max(s.K, 1) * s.NCOLS, -1, 1);
                    vecf want((size_t)s.M * s.NCOLS, NaN), got(want.size(), NaN);
                    RowsSeen seen(got.data(), s.M, s.NCOLS);
                    with_threads(threads, [&] {
                        gemm::sgemm(s.M, s.NCOLS, s.K, A.data(), std::max(s.K, 1), 1, Bm.data(), s.NCOLS, 1,
                                    want.data(), s.NCOLS, false, bf16);
                        gemm::sgemm(s.M, s.NCOLS, s.K, A.data(), std::max(s.K, 1), 1, Bm.data(), s.NCOLS, 1,
                                    got.data(), s.NCOLS, false, bf16, {RowsSeen::fn, &seen});
                    });
                    int once = 0;
                    for (auto& c : seen.calls) once += c == 1;
                    CHECK(once == s.M);
                    check_equal("product with an epilogue vs without", got, want);
                    check_equal("rows as the epilogue saw them vs final", seen.snap, want);
                }
        });
    // the trainer's two: RoPE after qkv's product, SwiGLU after w13's, the same bits as after it
    std::mt19937 rng(1607);
    const int B = 3, T = 37, NH = 4, NKV = 2, HS = 8, H = 24, C = 16, QKV = (NH + 2 * NKV) * HS, N = B * T;
    vecf fc((size_t)T * HS / 2), fs(fc.size()), c2((size_t)T * HS), s2(c2.size());
    rope_precompute(fc.data(), fs.data(), T, HS, 10000.0f);
    rope_expand_tables(c2.data(), s2.data(), fc.data(), fs.data(), T, HS);
    const vecf inp = random_vec(rng, (size_t)N * C, -1, 1), wqkv = random_vec(rng, (size_t)QKV * C, -1, 1),
               w13 = random_vec(rng, (size_t)2 * H * C, -1, 1);
    // bf16 runs leave bf16 bits in fp32 buffers: compare the words
    auto same_words = [](const vecf& a, const vecf& b) {
        return a.size() == b.size() && memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    for (bool bf16 : {false, true}) {
        INFO("bf16 " << bf16);
        vecf qkv((size_t)N * QKV), qkv_e(qkv.size()), h13((size_t)N * 2 * H), h13_e(h13.size());
        vecf hg((size_t)N * H, NaN), hg_e(hg.size(), NaN);
        matmul_forward(qkv.data(), inp.data(), wqkv.data(), N, C, QKV, bf16);
        if (bf16)
            rope_forward_fast_bf16(qkv.data(), c2.data(), s2.data(), B, T, NH, NKV, HS);
        else
            rope_forward_fast(qkv.data(), c2.data(), s2.data(), B, T, NH, NKV, HS);
        RopeRows rope{qkv_e.data(), c2.data(), s2.data(), T, NH, NKV, HS, bf16};
        with_threads(2, [&] {
            matmul_forward(qkv_e.data(), inp.data(), wqkv.data(), N, C, QKV, bf16, {rope_rows, &rope});
        });
        CHECK(same_words(qkv_e, qkv));  // qkv after rope_rows
        matmul_forward(h13.data(), inp.data(), w13.data(), N, C, 2 * H, bf16);
        if (bf16)
            swiglu_forward_fast((uint16_t*)hg.data(), h13.data(), N, H);
        else
            swiglu_forward_fast(hg.data(), h13.data(), N, H);
        SwigluRows sw{hg_e.data(), h13_e.data(), H, bf16};
        with_threads(2, [&] {
            matmul_forward(h13_e.data(), inp.data(), w13.data(), N, C, 2 * H, bf16, {swiglu_rows, &sw});
        });
        CHECK(same_words(h13_e, h13));
        CHECK(same_words(hg_e, hg));  // hgate after swiglu_rows
    }
}

TEST_CASE("bf16_round rounds to nearest even and keeps infinities and NaN", "[matmul][bf16]") {
    // bf16 keeps 8 significant bits: steps of 2^-7 just above 1
    CHECK(gemm::bf16_round(1.0f) == 1.0f);
    CHECK(gemm::bf16_round(1.0f + 0x1p-8f) == 1.0f);                      // halfway, to the even neighbour below
    CHECK(gemm::bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);        // halfway, to the even neighbour above
    CHECK(gemm::bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f); // past halfway, up
    CHECK(gemm::bf16_round(-1.0f - 0x1p-8f - 0x1p-20f) == -1.0f - 0x1p-7f);
    CHECK(gemm::bf16_round(INFINITY) == INFINITY);
    CHECK(gemm::bf16_round(-INFINITY) == -INFINITY);
    CHECK(gemm::bf16_round(3.4e38f) == INFINITY);                         // above the largest bf16: overflows, as RNE does
    CHECK(std::isnan(gemm::bf16_round(NaN)));
    uint32_t low_nan_bits = 0x7f800001u;                            // a NaN whose payload is all in the dropped half
    float low_nan;
    memcpy(&low_nan, &low_nan_bits, 4);
    CHECK(std::isnan(gemm::bf16_round(low_nan)));
}

TEST_CASE("bf16 matmuls equal the plain loops on bf16-rounded operands, the same bits on 1 and 2 threads",
          "[matmul][bf16]") {
    struct Shape { int N, C, OC; };
    // odd depths (a padded pair), 1 row and column, tails of every packer's vector path, tiles past NC,
    // depths past the 1024-deep block, AMX's 32-row tiles and 16×16 transposes whole and cut
    const Shape shapes[] = {{1, 1, 1}, {1, 37, 5}, {13, 7, 45}, {97, 300, 33}, {7, 513, 70}, {300, 64, 2100},
                            {150, 260, 4}, {1100, 20, 13}, {64, 96, 128}, {40, 1030, 48}, {1060, 33, 81}};
    for_each_gemm_path(true, [&] {
        std::mt19937 rng(1607);
        auto rounded = [](const vecf& v) { vecf r(v); for (float& x : r) x = gemm::bf16_round(x); return r; };
        for (const Shape& s : shapes) {
            INFO("N=" << s.N << " C=" << s.C << " OC=" << s.OC);
            vecf inp = random_vec(rng, (size_t)s.N * s.C, -1, 1), w = random_vec(rng, (size_t)s.OC * s.C, -1, 1);
            vecf dout = random_vec(rng, (size_t)s.N * s.OC, -1, 1);
            vecf dinp0 = random_vec(rng, inp.size(), -1, 1), dw0 = random_vec(rng, w.size(), -1, 1);
            // the reference multiplies the rounded operands; the accumulators stay fp32
            vecf inp_r = rounded(inp), w_r = rounded(w), dout_r = rounded(dout);
            vecf out_ref(dout.size()), dinp_ref = dinp0, dw_ref = dw0;
            matmul_forward_ref(out_ref.data(), inp_r.data(), w_r.data(), s.N, s.C, s.OC);
            matmul_backward_ref(dinp_ref.data(), dw_ref.data(), dout_r.data(), inp_r.data(), w_r.data(), s.N, s.C, s.OC);
            vecf out[2], dinp[2], dw[2];
            for (int k = 0; k < 2; k++)
                with_threads(k + 1, [&] {
                    out[k].assign(dout.size(), NaN);
                    matmul_forward(out[k].data(), inp.data(), w.data(), s.N, s.C, s.OC, true);
                    dinp[k] = dinp0;
                    dw[k] = dw0;
                    matmul_backward(dinp[k].data(), dw[k].data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC, true);
                });
            matmul_close("out", out[0], out_ref, s.C);
            matmul_close("dinp", dinp[0], dinp_ref, s.OC);
            matmul_close("dweight", dw[0], dw_ref, s.N);
            check_equal("out, 2 threads vs 1", out[1], out[0]);
            check_equal("dinp, 2 threads vs 1", dinp[1], dinp[0]);
            check_equal("dweight, 2 threads vs 1", dw[1], dw[0]);
            // and it is a different product from fp32's: the rounding really happens
            vecf out32(dout.size());
            matmul_forward(out32.data(), inp.data(), w.data(), s.N, s.C, s.OC);
            if (s.C >= 7) CHECK(out32 != out[0]);
        }
    });
}

namespace {
// The bf16 bits of every value (bf16.h), as a bf16 producer stores them
std::vector<uint16_t> bits16(const vecf& v) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); i++) h[i] = (uint16_t)bf16_bits(v[i]);
    return h;
}
}  // namespace

TEST_CASE("products from bf16 bits (gemm::Src) give the bits of products from the fp32 values, on every path",
          "[matmul][bf16]") {
    struct Shape { int N, C, OC; };
    // as above: odd depths, tails of the 16-bit packers' vector paths (32 depths, 12 and 16 rows), AMX tiles
    const Shape shapes[] = {{1, 1, 1}, {1, 37, 5}, {13, 7, 45}, {97, 300, 33}, {7, 513, 70}, {300, 64, 2100},
                            {150, 260, 4}, {1100, 20, 13}, {64, 96, 128}, {40, 1030, 48}, {1060, 33, 81}};
    auto run = [&](bool bf16) {
        std::mt19937 rng(1611);
        for (const Shape& s : shapes) {
            INFO("bf16 products " << bf16 << " N=" << s.N << " C=" << s.C << " OC=" << s.OC);
            vecf inp = random_vec(rng, (size_t)s.N * s.C, -1, 1), w = random_vec(rng, (size_t)s.OC * s.C, -1, 1);
            vecf dout = random_vec(rng, (size_t)s.N * s.OC, -1, 1), dw0 = random_vec(rng, w.size(), -1, 1);
            // fp32 products widen the bits: they equal products of the rounded values
            if (!bf16)
                for (vecf* v : {&inp, &dout})
                    for (float& x : *v) x = gemm::bf16_round(x);
            const std::vector<uint16_t> inp16 = bits16(inp), dout16 = bits16(dout);
            vecf out(dout.size(), NaN), out16(dout.size(), NaN), dinp(inp.size(), NaN), dinp16(inp.size(), NaN);
            vecf dw = dw0, dw16 = dw0, dwmix = dw0;
            matmul_forward(out.data(), inp.data(), w.data(), s.N, s.C, s.OC, bf16);
            matmul_forward(out16.data(), inp16.data(), w.data(), s.N, s.C, s.OC, bf16);
            matmul_backward_set_dinp(dinp.data(), dw.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC, bf16);
            matmul_backward_set_dinp(dinp16.data(), dw16.data(), dout16.data(), inp16.data(), w.data(), s.N, s.C,
                                     s.OC, bf16);
            matmul_backward(nullptr, dwmix.data(), dout.data(), inp16.data(), w.data(), s.N, s.C, s.OC, bf16);
            check_equal("out from bf16 inp", out16, out);
            check_equal("dinp from bf16 dout", dinp16, dinp);
            check_equal("dweight from bf16 dout and inp", dw16, dw);
            check_equal("dweight from fp32 dout and bf16 inp", dwmix, dw);
            // dout's rows 2·OC apart, NaN bits between them (never read), as the trainers' in-place gradients
            std::vector<uint16_t> wide((size_t)s.N * 2 * s.OC, 0xffff);
            for (int n = 0; n < s.N; n++)
                for (int o = 0; o < s.OC; o++) wide[(size_t)n * 2 * s.OC + o] = dout16[(size_t)n * s.OC + o];
            vecf dinpw(inp.size(), NaN), dww = dw0;
            matmul_backward_set_dinp(dinpw.data(), dww.data(), wide.data(), inp16.data(), w.data(), s.N, s.C, s.OC,
                                     bf16, 2L * s.OC);
            check_equal("dinp from bf16 dout, rows 2·OC apart", dinpw, dinp);
            check_equal("dweight from bf16 dout, rows 2·OC apart", dww, dw);
        }
    };
    for_each_gemm_path(true, [&] { run(true); });
    for_each_gemm_path(false, [&] { run(false); });
}

// ======================================================================== attention on the GEMM's kernels

namespace {
// T across the 64-row tiles (1, 63, 64, 65, 130, 200); GQA, MQA, MHA; head sizes
// below, at and past a 32-depth AMX tile row, odd ones (a padded pair)
const AttShape tile_shapes[] = {{3, 1, 2, 1, 8},   {2, 5, 4, 2, 6},    {1, 63, 3, 3, 10}, {1, 64, 2, 1, 32},
                                {2, 65, 4, 2, 12}, {1, 130, 4, 1, 64}, {2, 200, 2, 2, 34}, {1, 97, 2, 1, 33}};

// Random inputs for shape s and what the plain kernels make of them
struct PlainAttention {
    vecf qkv, R, out, dqkv;  // R: the upstream gradient, (B, T, NH·HS)
    PlainAttention(const AttShape& s, std::mt19937& rng) {
        size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
        qkv = random_vec(rng, n, -2, 2);
        R = random_vec(rng, no, -1, 1);
        out.resize(no);
        dqkv.resize(n);
        vecf att((size_t)s.B * s.NH * s.T * s.T);
        attention_forward(out.data(), att.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        attention_backward(dqkv.data(), R.data(), qkv.data(), att.data(), s.B, s.T, s.NH, s.NKV, s.HS);
    }
};

// Runs attn_bf16's forward and backward on kernels kn; out, lse, dqkv start as NaN
void attention_on(const gemm::Kernels& kn, const AttShape& s, const vecf& qkv, const vecf& R, vecf& out, vecf& lse,
                  vecf& dqkv) {
    out.assign(R.size(), NaN);
    lse.assign((size_t)s.B * s.NH * s.T, NaN);
    dqkv.assign(qkv.size(), NaN);
    attn_bf16::forward(kn, out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
    attn_bf16::backward(kn, dqkv.data(), R.data(), qkv.data(), out.data(), lse.data(), s.B, s.T, s.NH, s.NKV, s.HS);
}

// bf16 operands: every entry within frac of the tensor's largest magnitude
void check_bf16_close(const char* what, const vecf& got, const vecf& want, double frac) {
    double big = 0.0;
    for (float x : want) big = std::max(big, (double)std::fabs(x));
    check_close(what, got, to_double(want), frac, frac * big);
}
}  // namespace

TEST_CASE("flash attention on the GEMM's fp32 kernels matches attention_forward and attention_backward",
          "[attention][matmul][fast]") {
    for_each_gemm_path(false, [&] {
        std::mt19937 rng(1701);
        for (const AttShape& s : tile_shapes) {
            INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
            const PlainAttention ref(s, rng);
            vecf out, lse, dqkv;
            attention_on(gemm::kernels_for(gemm::active_isa(), false), s, ref.qkv, ref.R, out, lse, dqkv);
            check_same("out", out, ref.out);
            check_same("dqkv", dqkv, ref.dqkv);
        }
    });
}

TEST_CASE("bf16 flash attention: within bf16 rounding of fp32, the same on every path, the same bits on 1 and 2 threads",
          "[attention][matmul][fast]") {
    // The plain path's bf16 products (matmul_plain.h's emulation of vdpbf16ps) are the reference the others match.
    std::vector<vecf> plain_out, plain_dqkv;
    for_each_gemm_path(true, [&] {
        std::mt19937 rng(1702);
        for (size_t si = 0; si < std::size(tile_shapes); si++) {
            const AttShape& s = tile_shapes[si];
            INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
            const PlainAttention ref(s, rng);
            const vecf &qkv = ref.qkv, &R = ref.R, &out_ref = ref.out, &dref = ref.dqkv;
            const size_t n = qkv.size(), no = R.size();
            vecf out[2], lse[2], dqkv[2];
            for (int k = 0; k < 2; k++)
                with_threads(k + 1, [&] {
                    out[k].assign(no, NaN);
                    lse[k].assign((size_t)s.B * s.NH * s.T, NaN);
                    dqkv[k].assign(n, NaN);
                    attention_forward_flash(out[k].data(), lse[k].data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS,
                                            true);
                    attention_backward_flash(dqkv[k].data(), R.data(), qkv.data(), out[k].data(), lse[k].data(), s.B,
                                             s.T, s.NH, s.NKV, s.HS, true);
                });
            check_bf16_close("out vs fp32", out[0], out_ref, 1e-2);
            check_bf16_close("dqkv vs fp32", dqkv[0], dref, 1e-2);
            if (s.HS >= 8) CHECK(out[0] != out_ref);  // the rounding really happens
            check_equal("out, 2 threads vs 1", out[1], out[0]);
            check_equal("lse, 2 threads vs 1", lse[1], lse[0]);
            check_equal("dqkv, 2 threads vs 1", dqkv[1], dqkv[0]);
            if (gemm::active_isa() == gemm::Isa::plain) {
                plain_out.push_back(out[0]);
                plain_dqkv.push_back(dqkv[0]);
            } else if (si < plain_out.size()) {
                check_close("out vs the plain path's", out[0], to_double(plain_out[si]), 1e-4, 1e-5);
                check_close("dqkv vs the plain path's", dqkv[0], to_double(plain_dqkv[si]), 1e-4, 1e-5);
            }
        }
    });
}

TEST_CASE("bf16 flash attention on its own tiles (16x16 on avx512_bf16) gives the GEMM tiles' bits", "[attention][fast]") {
    // attn_bf16::kernels may pick tiles that fit attention's 64-row blocks better than the GEMM's; each
    // output is the same sum in the same order, so the bits must not move.
    bool any = false;
    for_each_gemm_path(true, [&] {
        const gemm::Kernels &own = attn_bf16::kernels(gemm::active_isa()),
                            &mm = gemm::kernels_for(gemm::active_isa(), true);
        if (&own == &mm) return;
        any = true;
        INFO(own.what << " against " << mm.what);
        std::mt19937 rng(1705);
        for (const AttShape& s : tile_shapes) {
            INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
            const size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
            const vecf qkv = random_vec(rng, n, -2, 2), R = random_vec(rng, no, -1, 1);
            vecf out[2], lse[2], dqkv[2];
            attention_on(mm, s, qkv, R, out[0], lse[0], dqkv[0]);
            attention_on(own, s, qkv, R, out[1], lse[1], dqkv[1]);
            check_equal("out", out[1], out[0]);
            check_equal("lse", lse[1], lse[0]);
            check_equal("dqkv", dqkv[1], dqkv[0]);
        }
    });
    if (!any) WARN("skipped: no GEMM path on this CPU gives attention tiles of its own (avx512_bf16 does)");
}

TEST_CASE("flash attention backward in place (dqkv over qkv, as the trainer runs it): the same bits, fp32 and bf16",
          "[attention][fast]") {
    auto run = [&](bool bf16) {
        std::mt19937 rng(1704);
        for (const AttShape& s : tile_shapes) {
            INFO("bf16 " << bf16 << " B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV
                         << " HS=" << s.HS);
            const size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
            const vecf qkv = random_vec(rng, n, -2, 2), R = random_vec(rng, no, -1, 1);
            vecf out(no, NaN), lse((size_t)s.B * s.NH * s.T, NaN), dqkv(n, NaN);
            attention_forward_flash(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS, bf16);
            attention_backward_flash(dqkv.data(), R.data(), qkv.data(), out.data(), lse.data(), s.B, s.T, s.NH,
                                     s.NKV, s.HS, bf16);
            vecf inplace = qkv;
            with_threads(2, [&] {
                attention_backward_flash(inplace.data(), R.data(), inplace.data(), out.data(), lse.data(), s.B, s.T,
                                         s.NH, s.NKV, s.HS, bf16);
            });
            check_equal("dqkv in place", inplace, dqkv);
        }
    };
    run(false);
    for_each_gemm_path(true, [&] { run(true); });
}

TEST_CASE("flash attention backward with rope tables: the bits of backward then rope_backward_fast (fp32; bf16 all paths)",
          "[attention][rope][fast]") {
    auto run = [&](bool bf16) {
        std::mt19937 rng(1705);
        for (const AttShape& s : tile_shapes) {
            if (s.HS % 2) continue;  // RoPE rotates pairs
            INFO("bf16 " << bf16 << " B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV
                         << " HS=" << s.HS);
            const size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
            const vecf qkv = random_vec(rng, n, -2, 2), R = random_vec(rng, no, -1, 1);
            vecf fc((size_t)s.T * s.HS / 2), fs(fc.size()), c2((size_t)s.T * s.HS), s2(c2.size());
            rope_precompute(fc.data(), fs.data(), s.T, s.HS, 10000.0f);
            rope_expand_tables(c2.data(), s2.data(), fc.data(), fs.data(), s.T, s.HS);
            vecf out(no, NaN), lse((size_t)s.B * s.NH * s.T, NaN), want(n, NaN), got(n, NaN);
            attention_forward_flash(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS, bf16);
            attention_backward_flash(want.data(), R.data(), qkv.data(), out.data(), lse.data(), s.B, s.T, s.NH,
                                     s.NKV, s.HS, bf16);
            rope_backward_fast(want.data(), c2.data(), s2.data(), s.B, s.T, s.NH, s.NKV, s.HS);
            attention_backward_flash(got.data(), R.data(), qkv.data(), out.data(), lse.data(), s.B, s.T, s.NH, s.NKV,
                                     s.HS, bf16, c2.data(), s2.data());
            check_equal("dqkv", got, want);
        }
    };
    run(false);
    for_each_gemm_path(true, [&] { run(true); });
}

// ======================================================================== rmsnorm

namespace {
struct NormShape { int N, C; };
const NormShape norm_shapes[] = {{1, 1}, {5, 7}, {33, 64}, {70, 259}, {3, 17}};

// y = x / sqrt(mean(x²) + eps) · w in double
vecd rmsnorm_ref(const vecd& x, const vecd& w, int N, int C, double eps) {
    vecd y(x.size());
    for (int n = 0; n < N; n++) {
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += x[(size_t)n * C + i] * x[(size_t)n * C + i];
        double r = 1.0 / std::sqrt(ss / C + eps);
        for (int i = 0; i < C; i++) y[(size_t)n * C + i] = x[(size_t)n * C + i] * r * w[i];
    }
    return y;
}
}  // namespace

TEST_CASE("rmsnorm_forward_fast and residual_rmsnorm_forward match rmsnorm_forward (after the add)",
          "[rmsnorm][fast]") {
    std::mt19937 rng(1701);
    for (const NormShape& s : norm_shapes) {
        INFO("N=" << s.N << " C=" << s.C);
        size_t n = (size_t)s.N * s.C;
        vecf x = random_vec(rng, n, -2, 2), y = random_vec(rng, n, -2, 2), w = random_vec(rng, s.C, 0.5f, 1.5f);
        vecf out_ref(n), rstd_ref(s.N);
        rmsnorm_forward(out_ref.data(), rstd_ref.data(), x.data(), w.data(), s.N, s.C, 1e-5f);
        vecf out(n, NaN), rstd(s.N, NaN);
        rmsnorm_forward_fast(out.data(), rstd.data(), x.data(), w.data(), s.N, s.C, 1e-5f);
        check_same("out", out, out_ref);
        check_same("rstd", rstd, rstd_ref);

        vecf sum(n);
        for (size_t i = 0; i < n; i++) sum[i] = x[i] + y[i];
        rmsnorm_forward(out_ref.data(), rstd_ref.data(), sum.data(), w.data(), s.N, s.C, 1e-5f);
        vecf res(n, NaN);
        residual_rmsnorm_forward(res.data(), out.data(), rstd.data(), x.data(), y.data(), w.data(), s.N, s.C, 1e-5f);
        check_equal("res = x + y", res, sum);
        check_same("out after the add", out, out_ref);
        check_same("rstd after the add", rstd, rstd_ref);
        // res may alias x
        vecf xa = x;
        residual_rmsnorm_forward(xa.data(), out.data(), rstd.data(), xa.data(), y.data(), w.data(), s.N, s.C, 1e-5f);
        check_equal("res in place of x", xa, sum);
    }
}

TEST_CASE("rmsnorm_backward_fast matches rmsnorm_backward and finite differences, the same on 1 and 2 threads",
          "[rmsnorm][fast]") {
    std::mt19937 rng(1702);
    for (const NormShape& s : norm_shapes) {
        INFO("N=" << s.N << " C=" << s.C);
        int N = s.N, C = s.C;
        size_t n = (size_t)N * C;
        vecf x = random_vec(rng, n, -2, 2), w = random_vec(rng, C, 0.5f, 1.5f), R = random_vec(rng, n, -1, 1);
        vecf out(n), rstd(N);
        rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
        vecf dx0 = random_vec(rng, n, -1, 1), dw0 = random_vec(rng, C, -1, 1);
        vecf dx_ref = dx0, dw_ref = dw0;
        rmsnorm_backward(dx_ref.data(), dw_ref.data(), R.data(), x.data(), w.data(), rstd.data(), N, C);
        vecf dx[2], dw[2];
        for (int k = 0; k < 2; k++) {
            dx[k] = dx0;
            dw[k] = dw0;
            with_threads(k + 1, [&] {
                rmsnorm_backward_fast(dx[k].data(), dw[k].data(), R.data(), x.data(), w.data(), rstd.data(), N, C);
            });
        }
        check_same("dinp (pre-filled)", dx[0], dx_ref);
        check_same("dweight (pre-filled)", dw[0], dw_ref);
        check_equal("dinp, 2 threads vs 1", dx[1], dx[0]);
        check_equal("dweight, 2 threads vs 1", dw[1], dw[0]);
        if (n <= 3000) {
            vecf dxz(n, 0.0f), dwz(C, 0.0f);
            rmsnorm_backward_fast(dxz.data(), dwz.data(), R.data(), x.data(), w.data(), rstd.data(), N, C);
            vecd wd = to_double(w), xd = to_double(x);
            vecd gx = fd_grad([&](const vecd& v) { return rmsnorm_ref(v, wd, N, C, 1e-5); }, xd, to_double(R));
            vecd gw = fd_grad([&](const vecd& v) { return rmsnorm_ref(xd, v, N, C, 1e-5); }, wd, to_double(R));
            check_close("dinp vs finite differences", dxz, gx, BWD_RTOL, BWD_ATOL);
            check_close("dweight vs finite differences", dwz, gw, BWD_RTOL, BWD_ATOL);
        }
    }
}

// ======================================================================== swiglu

TEST_CASE("swiglu fast forward and backward match the plain kernels and finite differences, in place too", "[swiglu][fast]") {
    struct Shape { int N, H; };
    const Shape shapes[] = {{1, 1}, {7, 13}, {3, 67}, {40, 64}};
    std::mt19937 rng(1801);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " H=" << s.H);
        size_t n = (size_t)s.N * s.H;
        vecf h13 = random_vec(rng, 2 * n, -6, 6), R = random_vec(rng, n, -1, 1);
        vecf out_ref(n), out(n, NaN), d_ref(2 * n), d(2 * n, NaN);
        swiglu_forward(out_ref.data(), h13.data(), s.N, s.H);
        swiglu_forward_fast(out.data(), h13.data(), s.N, s.H);
        check_same("out", out, out_ref);
        swiglu_backward(d_ref.data(), R.data(), h13.data(), s.N, s.H);
        swiglu_backward_fast(d.data(), R.data(), h13.data(), s.N, s.H);
        check_same("dh13", d, d_ref);
        // in place, as the trainer runs them (dh13 over h13): the same bits
        vecf inplace = h13, inplace_fast = h13;
        swiglu_backward(inplace.data(), R.data(), inplace.data(), s.N, s.H);
        swiglu_backward_fast(inplace_fast.data(), R.data(), inplace_fast.data(), s.N, s.H);
        check_equal("dh13 in place (plain)", inplace, d_ref);
        check_equal("dh13 in place (fast)", inplace_fast, d);
        auto ref = [&](const vecd& v) {
            vecd o(n);
            for (int r = 0; r < s.N; r++)
                for (int i = 0; i < s.H; i++) {
                    double a = v[(size_t)r * 2 * s.H + i], b = v[(size_t)r * 2 * s.H + s.H + i];
                    o[(size_t)r * s.H + i] = a / (1.0 + std::exp(-a)) * b;
                }
            return o;
        };
        check_close("dh13 vs finite differences", d, fd_grad(ref, to_double(h13), to_double(R)), BWD_RTOL, BWD_ATOL);
    }
}

// ======================================================================== rope

TEST_CASE("rope fast forward and backward match rope_forward and rope_backward", "[rope][fast]") {
    struct Shape { int B, T, NH, NKV, HS; };
    // head sizes below, at, between and above the vector widths (2, 6, 8, 18, 64)
    const Shape shapes[] = {{2, 5, 4, 2, 6}, {1, 1, 2, 1, 2}, {2, 9, 3, 3, 18}, {1, 7, 4, 1, 8}, {2, 33, 4, 4, 64}};
    std::mt19937 rng(1901);
    for (const Shape& s : shapes) {
        INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
        size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS;
        vecf fc((size_t)s.T * (s.HS / 2)), fs(fc.size()), c2((size_t)s.T * s.HS), s2(c2.size());
        rope_precompute(fc.data(), fs.data(), s.T, s.HS, 10000.0f);
        rope_expand_tables(c2.data(), s2.data(), fc.data(), fs.data(), s.T, s.HS);
        vecf x = random_vec(rng, n, -1, 1);
        vecf a = x, b = x;
        rope_forward(a.data(), fc.data(), fs.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        rope_forward_fast(b.data(), c2.data(), s2.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        check_same("forward", b, a);
        a = x;
        b = x;
        rope_backward(a.data(), fc.data(), fs.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        rope_backward_fast(b.data(), c2.data(), s2.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        check_same("backward", b, a);
        // the backward is the gradient of Σ rope(x)·R: finite differences of a
        // double rotation by the same (float) tables
        if (n <= 2000) {
            vecf R = random_vec(rng, n, -1, 1), g = R;
            rope_backward_fast(g.data(), c2.data(), s2.data(), s.B, s.T, s.NH, s.NKV, s.HS);
            const int row = (s.NH + 2 * s.NKV) * s.HS;
            auto fwd = [&](vecd v) {
                for (int bt = 0; bt < s.B * s.T; bt++)
                    for (int h = 0; h < s.NH + s.NKV; h++)
                        for (int i = 0; i < s.HS / 2; i++) {
                            double c = fc[(size_t)(bt % s.T) * (s.HS / 2) + i], sn = fs[(size_t)(bt % s.T) * (s.HS / 2) + i];
                            double* p = &v[(size_t)bt * row + h * s.HS + 2 * i];
                            double x0 = p[0], x1 = p[1];
                            p[0] = x0 * c - x1 * sn;
                            p[1] = x0 * sn + x1 * c;
                        }
                return v;
            };
            check_close("backward vs finite differences", g, fd_grad(fwd, to_double(x), to_double(R)), BWD_RTOL, BWD_ATOL);
        }
        // v is untouched
        const int row = (s.NH + 2 * s.NKV) * s.HS;
        size_t moved = 0;
        for (size_t i = 0; i < n; i++)
            if ((int)(i % row) >= (s.NH + s.NKV) * s.HS && b[i] != x[i]) moved++;
        CHECK(moved == 0);
    }
}

// ======================================================================== classifier

namespace {
// losses (N) = logsumexp(x·Wᵀ) − (x·Wᵀ)[target], in double
vecd classifier_ref(const vecd& x, const vecd& w, const std::vector<int>& tgt, int N, int C, int V) {
    vecd loss(N), z(V);
    for (int n = 0; n < N; n++) {
        double mx = -1e300, sum = 0.0;
        for (int v = 0; v < V; v++) {
            double s = 0.0;
            for (int i = 0; i < C; i++) s += x[(size_t)n * C + i] * w[(size_t)v * C + i];
            z[v] = s;
            mx = std::max(mx, s);
        }
        for (int v = 0; v < V; v++) sum += std::exp(z[v] - mx);
        loss[n] = std::log(sum) + mx - z[tgt[n]];
    }
    return loss;
}
}  // namespace

TEST_CASE("classifier_forward_backward matches matmul + crossentropy + matmul_backward, and finite differences",
          "[classifier][fast]") {
    struct Shape { int N, C, V; };
    // one row, a chunk of CLASSIFIER_CHUNK (1024) rows plus a tail, vocabularies off the vector width
    static_assert(CLASSIFIER_CHUNK < 1030, "the last shape spans more than one chunk");
    const Shape shapes[] = {{1, 3, 5}, {9, 16, 37}, {600, 24, 70}, {1030, 8, 17}};
    std::mt19937 rng(2001);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C << " V=" << s.V);
        int N = s.N, C = s.C, V = s.V;
        vecf x = random_vec(rng, (size_t)N * C, -1, 1), w = random_vec(rng, (size_t)V * C, -1, 1);
        std::vector<int> tgt = random_tokens(rng, N, V);
        const float dloss = 1.0f / N;
        // the plain chain
        vecf logits((size_t)N * V), loss_ref(N), dx_ref((size_t)N * C, 0.0f), dw0 = random_vec(rng, w.size(), -1, 1);
        vecf dw_ref = dw0;
        matmul_forward(logits.data(), x.data(), w.data(), N, C, V);
        crossentropy_forward(loss_ref.data(), logits.data(), logits.data(), tgt.data(), N, V);
        crossentropy_backward(logits.data(), logits.data(), tgt.data(), dloss, N, V);
        matmul_backward(dx_ref.data(), dw_ref.data(), logits.data(), x.data(), w.data(), N, C, V);
        // fused
        vecf chunk((size_t)std::min(N, CLASSIFIER_CHUNK) * V), loss(N, NaN), dx((size_t)N * C, NaN), dw = dw0;
        classifier_forward_backward(loss.data(), dx.data(), dw.data(), chunk.data(), x.data(), w.data(), tgt.data(),
                                    dloss, N, C, V);
        check_same("losses", loss, loss_ref);
        check_same("dx (overwritten)", dx, dx_ref);
        check_same("dW (accumulated)", dw, dw_ref);
        // loss only: same losses, gradients untouched
        vecf loss2(N, NaN);
        classifier_forward_backward(loss2.data(), nullptr, nullptr, chunk.data(), x.data(), w.data(), tgt.data(),
                                    dloss, N, C, V);
        check_equal("losses without gradients", loss2, loss);
        if ((size_t)N * C + (size_t)V * C <= 800) {
            vecf dxz((size_t)N * C, NaN), dwz((size_t)V * C, 0.0f);
            classifier_forward_backward(loss.data(), dxz.data(), dwz.data(), chunk.data(), x.data(), w.data(),
                                        tgt.data(), dloss, N, C, V);
            vecd Rl(N, dloss), xd = to_double(x), wd = to_double(w);
            vecd gx = fd_grad([&](const vecd& v) { return classifier_ref(v, wd, tgt, N, C, V); }, xd, Rl);
            vecd gw = fd_grad([&](const vecd& v) { return classifier_ref(xd, v, tgt, N, C, V); }, wd, Rl);
            check_close("dx vs finite differences", dxz, gx, BWD_RTOL, BWD_ATOL);
            check_close("dW vs finite differences", dwz, gw, BWD_RTOL, BWD_ATOL);
        }
    }
}

TEST_CASE("kernels with bf16 outputs store the bf16 bits of their fp32 outputs", "[bf16][fast]") {
    std::mt19937 rng(1613);
    auto check_bits = [](const char* what, const std::vector<uint16_t>& got, const vecf& want) {
        INFO(what);
        const std::vector<uint16_t> w = bits16(want);
        size_t bad = 0;
        for (size_t i = 0; i < w.size(); i++) bad += got[i] != w[i];
        CHECK(bad == 0);
    };
    SECTION("bf16_store_row and bf16_store_over (in place and from another row), NaN and infinities too") {
        vecf x = random_vec(rng, 203, -3, 3);
        x[5] = NaN;
        x[6] = INFINITY;
        x[7] = -INFINITY;
        x[8] = 3.4e38f;
        std::vector<uint16_t> h(x.size());
        bf16_store_row(h.data(), x.data(), (int)x.size());
        for (size_t i = 0; i < x.size(); i++) {
            uint32_t u = (uint32_t)h[i] << 16;
            float f;
            memcpy(&f, &u, 4);
            if (std::isnan(x[i]))
                CHECK(std::isnan(f));
            else
                CHECK(f == gemm::bf16_round(x[i]));
        }
        vecf y = x, z(x.size(), 7.0f);
        bf16_store_over(y.data(), y.data(), (int)y.size());
        CHECK(memcmp(y.data(), h.data(), h.size() * sizeof(uint16_t)) == 0);
        bf16_store_over(z.data(), x.data(), (int)x.size());
        CHECK(memcmp(z.data(), h.data(), h.size() * sizeof(uint16_t)) == 0);
    }
    SECTION("rmsnorm_forward_fast and residual_rmsnorm_forward") {
        for (const NormShape& s : norm_shapes) {
            INFO("N=" << s.N << " C=" << s.C);
            vecf x = random_vec(rng, (size_t)s.N * s.C, -2, 2), y = random_vec(rng, x.size(), -2, 2);
            vecf w = random_vec(rng, s.C, 0.5, 1.5), out(x.size()), rstd(s.N), rstd16(s.N), res(x.size()), res16(x.size());
            std::vector<uint16_t> out16(x.size());
            rmsnorm_forward_fast(out.data(), rstd.data(), x.data(), w.data(), s.N, s.C, 1e-5f);
            rmsnorm_forward_fast(out16.data(), rstd16.data(), x.data(), w.data(), s.N, s.C, 1e-5f);
            check_bits("rmsnorm out", out16, out);
            check_equal("rmsnorm rstd", rstd16, rstd);
            residual_rmsnorm_forward(res.data(), out.data(), rstd.data(), x.data(), y.data(), w.data(), s.N, s.C, 1e-5f);
            residual_rmsnorm_forward(res16.data(), out16.data(), rstd16.data(), x.data(), y.data(), w.data(), s.N, s.C,
                                     1e-5f);
            check_bits("residual_rmsnorm out", out16, out);
            check_equal("residual_rmsnorm res", res16, res);
            check_equal("residual_rmsnorm rstd", rstd16, rstd);
        }
    }
    SECTION("swiglu_forward_fast and swiglu_backward_fast_bf16 (over h13, a row in the first half of each row)") {
        for (int N : {1, 5, 33})
            for (int H : {1, 7, 64, 129}) {
                INFO("N=" << N << " H=" << H);
                vecf h13 = random_vec(rng, (size_t)N * 2 * H, -4, 4), d = random_vec(rng, (size_t)N * H, -1, 1);
                vecf out((size_t)N * H), dh13(h13.size());
                std::vector<uint16_t> out16(out.size()), dh16(h13.size());
                swiglu_forward_fast(out.data(), h13.data(), N, H);
                swiglu_forward_fast(out16.data(), h13.data(), N, H);
                check_bits("swiglu out", out16, out);
                swiglu_backward_fast(dh13.data(), d.data(), h13.data(), N, H);
                vecf over = h13;
                swiglu_backward_fast_bf16(over.data(), d.data(), N, H);
                for (int n = 0; n < N; n++)
                    memcpy(&dh16[(size_t)n * 2 * H], &over[(size_t)n * 2 * H], 2 * H * sizeof(uint16_t));
                check_bits("swiglu dh13", dh16, dh13);
            }
    }
    SECTION("bf16 flash attention's backward, with rope tables, and from qkv as bf16 bits, on every path") {
        for_each_gemm_path(true, [&] {
            for (const AttShape& s : tile_shapes) {
                if (s.HS % 2) continue;
                INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
                const size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS, no = (size_t)s.B * s.T * s.NH * s.HS;
                const vecf qkv = random_vec(rng, n, -2, 2), R = random_vec(rng, no, -1, 1);
                vecf fc((size_t)s.T * s.HS / 2), fs(fc.size()), c2((size_t)s.T * s.HS), s2(c2.size());
                rope_precompute(fc.data(), fs.data(), s.T, s.HS, 10000.0f);
                rope_expand_tables(c2.data(), s2.data(), fc.data(), fs.data(), s.T, s.HS);
                vecf out(no), lse((size_t)s.B * s.NH * s.T), dqkv(n, NaN);
                std::vector<uint16_t> d16(n);
                attention_forward_flash(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS, true);
                attention_backward_flash(dqkv.data(), R.data(), qkv.data(), out.data(), lse.data(), s.B, s.T, s.NH,
                                         s.NKV, s.HS, true, c2.data(), s2.data());
                const gemm::Kernels& kn = gemm::kernels_for(gemm::active_isa(), true);
                attn_bf16::backward(kn, nullptr, R.data(), qkv.data(), out.data(), lse.data(), s.B, s.T, s.NH, s.NKV,
                                    s.HS, c2.data(), s2.data(), d16.data());
                check_bits("dqkv", d16, dqkv);
                // qkv as the trainer's bf16 runs keep it: rope_forward_fast_bf16's bits, a row in the first
                // half of each fp32 row; attention from them gives the bits it gives from fp32 after rope
                const int row = (s.NH + 2 * s.NKV) * s.HS;
                vecf roped = qkv, inplace = qkv;
                rope_forward_fast(roped.data(), c2.data(), s2.data(), s.B, s.T, s.NH, s.NKV, s.HS);
                rope_forward_fast_bf16(inplace.data(), c2.data(), s2.data(), s.B, s.T, s.NH, s.NKV, s.HS);
                std::vector<uint16_t> rows16((size_t)s.B * s.T * row);
                for (int bt = 0; bt < s.B * s.T; bt++)
                    memcpy(&rows16[(size_t)bt * row], &inplace[(size_t)bt * row], row * sizeof(uint16_t));
                check_bits("rope_forward_fast_bf16", rows16, roped);
                const uint16_t* q16 = (const uint16_t*)inplace.data();
                vecf out2(no, NaN), lse2(lse.size(), NaN);
                attention_forward_flash(out.data(), lse.data(), roped.data(), s.B, s.T, s.NH, s.NKV, s.HS, true);
                attention_forward_flash(out2.data(), lse2.data(), q16, 2L * row, s.B, s.T, s.NH, s.NKV, s.HS);
                check_equal("out from bf16 qkv", out2, out);
                check_equal("lse from bf16 qkv", lse2, lse);
                attn_bf16::backward(kn, nullptr, R.data(), roped.data(), out.data(), lse.data(), s.B, s.T, s.NH,
                                    s.NKV, s.HS, c2.data(), s2.data(), d16.data());
                // in place, as the trainer runs it: dqkv's bits where qkv's were
                attention_backward_flash((uint16_t*)inplace.data(), 2L * row, R.data(), out.data(), lse.data(), s.B,
                                         s.T, s.NH, s.NKV, s.HS, c2.data(), s2.data());
                for (int bt = 0; bt < s.B * s.T; bt++)
                    memcpy(&rows16[(size_t)bt * row], &inplace[(size_t)bt * row], row * sizeof(uint16_t));
                CHECK(rows16 == d16);
            }
        });
    }
    SECTION("the classifier's bf16 dlogits: the bits of the unfused bf16 chain") {
        struct Shape { int N, C, V; };
        const Shape shapes[] = {{1, 3, 5}, {9, 16, 37}, {600, 24, 70}, {1030, 8, 17}};
        for_each_gemm_path(true, [&] {
            for (const Shape& sh : shapes) {
                const int N = sh.N, C = sh.C, V = sh.V;
                INFO("N=" << N << " C=" << C << " V=" << V);
                vecf x = random_vec(rng, (size_t)N * C, -1, 1), w = random_vec(rng, (size_t)V * C, -1, 1);
                std::vector<int> tgt = random_tokens(rng, N, V);
                const float dloss = 1.0f / N;
                // chunk by chunk as the fused kernel, dlogits kept fp32: the products round them when they pack
                vecf logits((size_t)CLASSIFIER_CHUNK * V), loss_ref(N), dx_ref((size_t)N * C), dw0 = random_vec(rng, w.size(), -1, 1);
                vecf dw_ref = dw0;
                for (int n0 = 0; n0 < N; n0 += CLASSIFIER_CHUNK) {
                    const int rows = std::min(CLASSIFIER_CHUNK, N - n0);
                    matmul_forward(logits.data(), x.data() + (size_t)n0 * C, w.data(), rows, C, V, true);
                    for (int r = 0; r < rows; r++)
                        loss_ref[n0 + r] = classifier_row(logits.data() + (size_t)r * V, tgt[n0 + r], true, dloss, V);
                    matmul_backward_set_dinp(dx_ref.data() + (size_t)n0 * C, dw_ref.data(), logits.data(),
                                             x.data() + (size_t)n0 * C, w.data(), rows, C, V, true);
                }
                const std::vector<uint16_t> x16 = bits16(x);
                vecf chunk((size_t)std::min(N, CLASSIFIER_CHUNK) * V), loss(N, NaN), dx((size_t)N * C, NaN), dw = dw0;
                classifier_forward_backward(loss.data(), dx.data(), dw.data(), chunk.data(), x16.data(), w.data(),
                                            tgt.data(), dloss, N, C, V, true);
                check_equal("losses", loss, loss_ref);
                check_equal("dx", dx, dx_ref);
                check_equal("dW", dw, dw_ref);
            }
        });
    }
}

// ======================================================================== adamw

TEST_CASE("adamw_update_fast matches adamw_update over several steps, with and without decay, odd sizes",
          "[adamw][fast]") {
    std::mt19937 rng(2101);
    for (size_t n : {(size_t)1, (size_t)7, (size_t)37, (size_t)1000}) {
        for (float wd : {0.0f, 0.1f}) {
            INFO("n=" << n << " weight_decay=" << wd);
            vecf p = random_vec(rng, n, -1, 1), m(n, 0.0f), v(n, 0.0f);
            vecf pf = p, mf = m, vf_ = v;
            for (int t = 1; t <= 5; t++) {
                vecf g = random_vec(rng, n, -1, 1);
                adamw_update(p.data(), g.data(), m.data(), v.data(), n, 1e-2f, 0.9f, 0.95f, 1e-8f, wd, t, 0.7f);
                adamw_update_fast(pf.data(), g.data(), mf.data(), vf_.data(), n, 1e-2f, 0.9f, 0.95f, 1e-8f, wd, t, 0.7f);
            }
            check_same("params", pf, p);
            check_same("m", mf, m);
            check_same("v", vf_, v);
        }
    }
}

TEST_CASE("grad_norm_squared_fast equals the plain sum to double rounding, the same bits on 1 and 2 threads",
          "[adamw][fast]") {
    std::mt19937 rng(2102);
    for (size_t n : {(size_t)1, (size_t)9, (size_t)16385, (size_t)100003}) {
        INFO("n=" << n);
        vecf g = random_vec(rng, n, -1, 1);
        double plain = grad_norm_squared(g.data(), n), fast[2];
        for (int k = 0; k < 2; k++) with_threads(k + 1, [&] { fast[k] = grad_norm_squared_fast(g.data(), n); });
        CHECK(std::fabs(fast[0] - plain) <= 1e-12 * plain);
        CHECK(fast[1] == fast[0]);
    }
}
