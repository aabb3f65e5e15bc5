// tests/test_kernels.cpp: every CPU kernel in kernels/cpu/ against a naive
// double-precision reference written here (forward) and against central finite
// differences of that reference (backward).
//
// Backward checks use the scalar objective L = Σ out·R with a fixed random R, so
// the kernel is handed dout = R and must produce ∂L/∂input. The differences are
// taken in double on the double reference with step h = 1e-6: truncation
// (~h²·L''') and rounding (~1e-16·|L|/h) errors are both below 1e-8, far under
// the float kernel's own error, so a mismatch is the kernel's.
//
// Tolerances, checked per entry as |got − want| <= atol + rtol·|want|:
//   forward   rtol = atol = 1e-5   float sums of at most ~100 O(1) terms err by ~1e-6
//   backward  rtol = 1e-4, atol = 1e-5
// Ops that are exact in float (embedding, the scatter-add order, aliasing) are
// checked bit for bit; AdamW and the RoPE tables state their own bounds.
//
// Accumulate-vs-overwrite: outputs documented as "+=" are pre-filled with random
// values that must survive under the added gradient; outputs documented as
// overwritten are pre-filled with NaN, so any entry the kernel skips (or reads
// before writing) fails.
#include <catch2/catch.hpp>

#include "kernel_test_util.h"

#include <algorithm>
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
#include "../kernels/cpu/crossentropy.h"
#include "../kernels/cpu/embedding.h"
#include "../kernels/cpu/matmul.h"
#include "../kernels/cpu/residual.h"
#include "../kernels/cpu/rmsnorm.h"
#include "../kernels/cpu/rope.h"
#include "../kernels/cpu/swiglu.h"

namespace {

constexpr double FWD_RTOL = 1e-5, FWD_ATOL = 1e-5;
constexpr double BWD_RTOL = 1e-4, BWD_ATOL = 1e-5;
const float NaN = std::numeric_limits<float>::quiet_NaN();

// ---------------------------------------------------------------- double references

// out (N, OC) = inp (N, C) · wᵀ, w is (OC, C)
vecd matmul_ref(const vecd& inp, const vecd& w, int N, int C, int OC) {
    vecd out((size_t)N * OC);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int c = 0; c < C; c++) s += inp[(size_t)n * C + c] * w[(size_t)o * C + c];
            out[(size_t)n * OC + o] = s;
        }
    return out;
}

// y = x / sqrt(mean(x²) + eps) * w per row; rstd (N) if given
vecd rmsnorm_ref(const vecd& inp, const vecd& w, int N, int C, double eps, vecd* rstd = nullptr) {
    vecd out((size_t)N * C);
    if (rstd) rstd->assign(N, 0.0);
    for (int n = 0; n < N; n++) {
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += inp[(size_t)n * C + i] * inp[(size_t)n * C + i];
        double r = 1.0 / std::sqrt(ss / C + eps);
        for (int i = 0; i < C; i++) out[(size_t)n * C + i] = inp[(size_t)n * C + i] * r * w[i];
        if (rstd) (*rstd)[n] = r;
    }
    return out;
}

// out (N, C) = wte[tok[n]]
vecd embedding_ref(const std::vector<int>& tok, const vecd& wte, int N, int C) {
    vecd out((size_t)N * C);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < C; i++) out[(size_t)n * C + i] = wte[(size_t)tok[n] * C + i];
    return out;
}

// Interleaved RoPE on the q and k heads of qkv (B, T, (NH + 2·NKV)·HS): pair
// (x[2i], x[2i+1]) rotated by t·theta^(-2i/HS). Angles from exp/log, not pow,
// so the reference does not share rope_precompute's formula.
vecd rope_ref(vecd qkv, int B, int T, int NH, int NKV, int HS, double theta) {
    int row = (NH + 2 * NKV) * HS;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH + NKV; h++)
                for (int i = 0; i < HS / 2; i++) {
                    double ang = t * std::exp(-(2.0 * i / HS) * std::log(theta));
                    double* x = &qkv[((size_t)b * T + t) * row + (size_t)h * HS];
                    double x0 = x[2 * i], x1 = x[2 * i + 1];
                    x[2 * i] = x0 * std::cos(ang) - x1 * std::sin(ang);
                    x[2 * i + 1] = x0 * std::sin(ang) + x1 * std::cos(ang);
                }
    return qkv;
}

// Causal GQA attention; out (B, T, NH·HS), att (B, NH, T, T) with zeros above the diagonal.
vecd attention_ref(const vecd& qkv, int B, int T, int NH, int NKV, int HS, vecd* att = nullptr) {
    int row = (NH + 2 * NKV) * HS;
    double scale = 1.0 / std::sqrt((double)HS);
    vecd out((size_t)B * T * NH * HS, 0.0);
    if (att) att->assign((size_t)B * NH * T * T, 0.0);
    vecd p(T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int kvh = h / (NH / NKV);
            for (int t = 0; t < T; t++) {
                const double* q = &qkv[((size_t)b * T + t) * row + (size_t)h * HS];
                double maxs = -INFINITY;
                for (int j = 0; j <= t; j++) {
                    const double* k = &qkv[((size_t)b * T + j) * row + (size_t)(NH + kvh) * HS];
                    double s = 0.0;
                    for (int i = 0; i < HS; i++) s += q[i] * k[i];
                    p[j] = s * scale;
                    maxs = std::max(maxs, p[j]);
                }
                double sum = 0.0;
                for (int j = 0; j <= t; j++) { p[j] = std::exp(p[j] - maxs); sum += p[j]; }
                for (int j = 0; j <= t; j++) {
                    p[j] /= sum;
                    if (att) (*att)[(((size_t)b * NH + h) * T + t) * T + j] = p[j];
                    const double* v = &qkv[((size_t)b * T + j) * row + (size_t)(NH + NKV + kvh) * HS];
                    double* o = &out[((size_t)b * T + t) * NH * HS + (size_t)h * HS];
                    for (int i = 0; i < HS; i++) o[i] += p[j] * v[i];
                }
            }
        }
    return out;
}

// out (N, H) = silu(a)·b, h13 rows [a (H) | b (H)]
vecd swiglu_ref(const vecd& h13, int N, int H) {
    vecd out((size_t)N * H);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < H; i++) {
            double a = h13[(size_t)n * 2 * H + i], b = h13[(size_t)n * 2 * H + H + i];
            out[(size_t)n * H + i] = a / (1.0 + std::exp(-a)) * b;
        }
    return out;
}

// losses (N) = −log softmax(logits)[target]; probs (N, V) if given
vecd crossentropy_ref(const vecd& logits, const std::vector<int>& tg, int N, int V, vecd* probs = nullptr) {
    vecd losses(N);
    if (probs) probs->assign((size_t)N * V, 0.0);
    for (int n = 0; n < N; n++) {
        const double* x = &logits[(size_t)n * V];
        double maxv = -INFINITY;
        for (int i = 0; i < V; i++) maxv = std::max(maxv, x[i]);
        double sum = 0.0;
        for (int i = 0; i < V; i++) sum += std::exp(x[i] - maxv);
        double lse = maxv + std::log(sum);
        losses[n] = lse - x[tg[n]];
        if (probs)
            for (int i = 0; i < V; i++) (*probs)[(size_t)n * V + i] = std::exp(x[i] - lse);
    }
    return losses;
}

// One AdamW step in double, per adamw.h.
void adamw_ref(vecd& p, const vecd& g_raw, vecd& m, vecd& v, double lr, double b1, double b2, double eps,
               double wd, int t, double grad_scale) {
    for (size_t i = 0; i < p.size(); i++) {
        double g = g_raw[i] * grad_scale;
        p[i] *= 1.0 - lr * wd;
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        double mhat = m[i] / (1.0 - std::pow(b1, t));
        double vhat = v[i] / (1.0 - std::pow(b2, t));
        p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
}

}  // namespace

// ======================================================================== matmul

TEST_CASE("matmul_forward equals inp·Wᵀ in double on ragged, block-aligned and larger shapes", "[matmul]") {
    struct Shape { int N, C, OC; };
    // (4,16,64) is exactly one full 4×64 block; 67, 130, 70 leave ragged edge blocks, and
    // 63, 127 leave a ragged block one column short of full.
    const Shape shapes[] = {{7, 13, 67}, {1, 1, 1}, {4, 16, 64}, {9, 5, 130}, {5, 70, 3}, {8, 63, 127}, {70, 40, 130}};
    std::mt19937 rng(101);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C << " OC=" << s.OC);
        vecf inp = random_vec(rng, (size_t)s.N * s.C, -1, 1), w = random_vec(rng, (size_t)s.OC * s.C, -1, 1);
        vecf out((size_t)s.N * s.OC, NaN);
        matmul_forward(out.data(), inp.data(), w.data(), s.N, s.C, s.OC);
        check_close("out", out, matmul_ref(to_double(inp), to_double(w), s.N, s.C, s.OC), FWD_RTOL, FWD_ATOL);
    }
}

TEST_CASE("matmul_backward adds the finite-difference gradients into pre-filled dinp and dweight", "[matmul]") {
    struct Shape { int N, C, OC; };
    const Shape shapes[] = {{7, 13, 67}, {1, 1, 1}, {4, 16, 64}, {9, 5, 130}, {5, 70, 3}, {4, 63, 63}};
    std::mt19937 rng(102);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C << " OC=" << s.OC);
        int N = s.N, C = s.C, OC = s.OC;
        vecf inp = random_vec(rng, (size_t)N * C, -1, 1), w = random_vec(rng, (size_t)OC * C, -1, 1);
        vecf R = random_vec(rng, (size_t)N * OC, -1, 1);
        vecf dinp = random_vec(rng, inp.size(), -1, 1), dw = random_vec(rng, w.size(), -1, 1);
        vecd dinp0 = to_double(dinp), dw0 = to_double(dw);
        matmul_backward(dinp.data(), dw.data(), R.data(), inp.data(), w.data(), N, C, OC);

        vecd inpd = to_double(inp), wd = to_double(w), Rd = to_double(R);
        vecd gi = fd_grad([&](const vecd& x) { return matmul_ref(x, wd, N, C, OC); }, inpd, Rd);
        vecd gw = fd_grad([&](const vecd& x) { return matmul_ref(inpd, x, N, C, OC); }, wd, Rd);
        check_close("dinp (pre-filled + grad)", dinp, add(dinp0, gi), BWD_RTOL, BWD_ATOL);
        check_close("dweight (pre-filled + grad)", dw, add(dw0, gw), BWD_RTOL, BWD_ATOL);
    }
}

TEST_CASE("matmul_backward on N=70 C=40 OC=130 matches the exact products and sampled finite differences",
          "[matmul]") {
    const int N = 70, C = 40, OC = 130;
    std::mt19937 rng(103);
    vecf inp = random_vec(rng, (size_t)N * C, -1, 1), w = random_vec(rng, (size_t)OC * C, -1, 1);
    vecf R = random_vec(rng, (size_t)N * OC, -1, 1);
    vecf dinp = random_vec(rng, inp.size(), -1, 1), dw = random_vec(rng, w.size(), -1, 1);
    vecd dinp0 = to_double(dinp), dw0 = to_double(dw);
    matmul_backward(dinp.data(), dw.data(), R.data(), inp.data(), w.data(), N, C, OC);
    vecd inpd = to_double(inp), wd = to_double(w), Rd = to_double(R);

    // the layer is linear, so dinp = R·W and dweight = Rᵀ·inp are its exact gradients
    vecd want_dinp = dinp0, want_dw = dw0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int o = 0; o < OC; o++) want_dinp[(size_t)n * C + c] += Rd[(size_t)n * OC + o] * wd[(size_t)o * C + c];
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++)
            for (int n = 0; n < N; n++) want_dw[(size_t)o * C + c] += Rd[(size_t)n * OC + o] * inpd[(size_t)n * C + c];
    check_close("dinp vs pre-filled + R·W", dinp, want_dinp, BWD_RTOL, BWD_ATOL);
    check_close("dweight vs pre-filled + Rᵀ·inp", dw, want_dw, BWD_RTOL, BWD_ATOL);

    // and finite differences at 100 random entries of each, a check independent of the formulas above
    std::vector<size_t> ii(100), iw(100);
    for (size_t& i : ii) i = rng() % inp.size();
    for (size_t& i : iw) i = rng() % w.size();
    vecd gi = fd_grad_at([&](const vecd& x) { return matmul_ref(x, wd, N, C, OC); }, inpd, Rd, ii);
    vecd gw = fd_grad_at([&](const vecd& x) { return matmul_ref(inpd, x, N, C, OC); }, wd, Rd, iw);
    vecf got_i(ii.size()), got_w(iw.size());
    for (size_t k = 0; k < ii.size(); k++) { got_i[k] = dinp[ii[k]]; gi[k] += dinp0[ii[k]]; }
    for (size_t k = 0; k < iw.size(); k++) { got_w[k] = dw[iw[k]]; gw[k] += dw0[iw[k]]; }
    check_close("dinp sampled vs finite differences", got_i, gi, BWD_RTOL, BWD_ATOL);
    check_close("dweight sampled vs finite differences", got_w, gw, BWD_RTOL, BWD_ATOL);
}

TEST_CASE("matmul_backward with one output null updates only the other", "[matmul]") {
    const int N = 7, C = 13, OC = 67;
    std::mt19937 rng(104);
    vecf inp = random_vec(rng, (size_t)N * C, -1, 1), w = random_vec(rng, (size_t)OC * C, -1, 1);
    vecf R = random_vec(rng, (size_t)N * OC, -1, 1);
    vecf dinp_both = random_vec(rng, inp.size(), -1, 1), dw_both = random_vec(rng, w.size(), -1, 1);
    vecf dinp_only = dinp_both, dw_only = dw_both;
    matmul_backward(dinp_both.data(), dw_both.data(), R.data(), inp.data(), w.data(), N, C, OC);
    matmul_backward(dinp_only.data(), nullptr, R.data(), inp.data(), w.data(), N, C, OC);
    matmul_backward(nullptr, dw_only.data(), R.data(), inp.data(), w.data(), N, C, OC);
    check_equal("dinp with dweight null", dinp_only, dinp_both);
    check_equal("dweight with dinp null", dw_only, dw_both);
}

// ======================================================================== rmsnorm

TEST_CASE("rmsnorm_forward equals x/sqrt(mean(x²)+eps)·w in double, rstd included", "[rmsnorm]") {
    struct Shape { int N, C; };
    const Shape shapes[] = {{7, 13}, {1, 5}, {4, 67}, {2, 3}};
    const float eps = 1e-5f;
    std::mt19937 rng(201);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C);
        vecf inp = random_vec(rng, (size_t)s.N * s.C, -1, 1), w = random_vec(rng, s.C, 0.5f, 1.5f);
        vecf out((size_t)s.N * s.C, NaN), rstd(s.N, NaN);
        rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), s.N, s.C, eps);
        vecd rstd_ref;
        vecd out_ref = rmsnorm_ref(to_double(inp), to_double(w), s.N, s.C, eps, &rstd_ref);
        check_close("out", out, out_ref, FWD_RTOL, FWD_ATOL);
        check_close("rstd", rstd, rstd_ref, FWD_RTOL, 0.0);
    }
}

TEST_CASE("rmsnorm_backward adds the finite-difference gradients into pre-filled dinp and dweight", "[rmsnorm]") {
    struct Shape { int N, C; };
    const Shape shapes[] = {{7, 13}, {1, 5}, {4, 67}, {2, 3}};
    const float eps = 1e-5f;
    std::mt19937 rng(202);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C);
        int N = s.N, C = s.C;
        vecf inp = random_vec(rng, (size_t)N * C, -1, 1), w = random_vec(rng, C, 0.5f, 1.5f);
        vecf R = random_vec(rng, (size_t)N * C, -1, 1);
        vecf out((size_t)N * C), rstd(N);
        rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), N, C, eps);
        vecf dinp = random_vec(rng, inp.size(), -1, 1), dw = random_vec(rng, w.size(), -1, 1);
        vecd dinp0 = to_double(dinp), dw0 = to_double(dw);
        rmsnorm_backward(dinp.data(), dw.data(), R.data(), inp.data(), w.data(), rstd.data(), N, C);

        vecd inpd = to_double(inp), wd = to_double(w), Rd = to_double(R);
        vecd gi = fd_grad([&](const vecd& x) { return rmsnorm_ref(x, wd, N, C, eps); }, inpd, Rd);
        vecd gw = fd_grad([&](const vecd& x) { return rmsnorm_ref(inpd, x, N, C, eps); }, wd, Rd);
        check_close("dinp (pre-filled + grad)", dinp, add(dinp0, gi), BWD_RTOL, BWD_ATOL);
        check_close("dweight (pre-filled + grad)", dw, add(dw0, gw), BWD_RTOL, BWD_ATOL);
    }
}

// ======================================================================== embedding

TEST_CASE("embedding_forward copies each token's row exactly", "[embedding]") {
    struct Shape { int N, C, V; };
    const Shape shapes[] = {{9, 13, 5}, {1, 1, 1}, {40, 67, 7}};
    std::mt19937 rng(301);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C << " V=" << s.V);
        vecf wte = random_vec(rng, (size_t)s.V * s.C, -1, 1);
        std::vector<int> tok = random_tokens(rng, s.N, s.V);
        vecf out((size_t)s.N * s.C, NaN), want((size_t)s.N * s.C);
        embedding_forward(out.data(), tok.data(), wte.data(), s.N, s.C);
        for (int n = 0; n < s.N; n++)
            for (int i = 0; i < s.C; i++) want[(size_t)n * s.C + i] = wte[(size_t)tok[n] * s.C + i];
        check_equal("out", out, want);
    }
}

TEST_CASE("embedding_backward scatter-adds repeated tokens in token order, the same for any thread count",
          "[embedding]") {
    struct Shape { int N, C, V; };
    // V < N forces repeats; V=9 leaves some rows untouched, which must keep their pre-filled values.
    const Shape shapes[] = {{23, 13, 4}, {1, 1, 1}, {50, 67, 9}};
    std::mt19937 rng(302);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C << " V=" << s.V);
        int N = s.N, C = s.C, V = s.V;
        vecf wte = random_vec(rng, (size_t)V * C, -1, 1);
        std::vector<int> tok = random_tokens(rng, N, V);
        tok[N - 1] = tok[0];  // a guaranteed repeat, first and last token
        vecf R = random_vec(rng, (size_t)N * C, -1, 1);
        vecf dwte0 = random_vec(rng, wte.size(), -1, 1);

        // naive float scatter-add in token order: the kernel promises exactly this sum order
        vecf want = dwte0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < C; i++) want[(size_t)tok[n] * C + i] += R[(size_t)n * C + i];

        for (int nth : {1, 3, 7, 16}) {
            INFO("threads=" << nth);
            vecf dwte = dwte0;
            with_threads(nth, [&] { embedding_backward(dwte.data(), R.data(), tok.data(), N, C); });
            check_equal("dwte vs naive float scatter-add", dwte, want);
        }
        vecf dwte = dwte0;
        embedding_backward(dwte.data(), R.data(), tok.data(), N, C);
        check_equal("dwte with default threads", dwte, want);

        // and the gradient itself, by finite differences of the double gather
        vecd Rd = to_double(R);
        vecd g = fd_grad([&](const vecd& x) { return embedding_ref(tok, x, N, C); }, to_double(wte), Rd);
        check_close("dwte vs pre-filled + finite differences", dwte, add(to_double(dwte0), g), BWD_RTOL, BWD_ATOL);
    }
}

// ======================================================================== rope

TEST_CASE("rope_precompute equals cos/sin of t·theta^(-2i/HS) in double, at long positions too", "[rope]") {
    struct Case { int T, HS; float theta; };
    // T=8192: a float angle t·freq would be off by ~5e-4 there; the tables must be correctly rounded.
    const Case cases[] = {{5, 6, 10000.0f}, {1, 2, 10000.0f}, {8192, 64, 10000.0f}, {300, 8, 500000.0f}};
    for (const Case& c : cases) {
        INFO("T=" << c.T << " HS=" << c.HS << " theta=" << c.theta);
        size_t n = (size_t)c.T * (c.HS / 2);
        vecf fc(n, NaN), fs(n, NaN);
        rope_precompute(fc.data(), fs.data(), c.T, c.HS, c.theta);
        vecd wc(n), ws(n);
        for (int t = 0; t < c.T; t++)
            for (int i = 0; i < c.HS / 2; i++) {
                double ang = t * std::exp(-(2.0 * i / c.HS) * std::log((double)c.theta));
                wc[(size_t)t * (c.HS / 2) + i] = std::cos(ang);
                ws[(size_t)t * (c.HS / 2) + i] = std::sin(ang);
            }
        // float rounding of a value in [-1, 1] is at most 2^-25 ≈ 3e-8; allow 1e-7
        check_close("freq_cos", fc, wc, 0.0, 1e-7);
        check_close("freq_sin", fs, ws, 0.0, 1e-7);
    }
}

namespace {
struct RopeShape { int B, T, NH, NKV, HS; float theta; };
const RopeShape rope_shapes[] = {
    {2, 5, 4, 2, 6, 10000.0f}, {1, 1, 2, 1, 8, 10000.0f}, {2, 9, 3, 3, 2, 10000.0f}, {1, 7, 4, 1, 8, 500000.0f}};
}  // namespace

TEST_CASE("rope_forward rotates interleaved pairs of q and k like the double reference and leaves v alone",
          "[rope]") {
    std::mt19937 rng(401);
    for (const RopeShape& s : rope_shapes) {
        INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
        size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS;
        vecf fc((size_t)s.T * (s.HS / 2)), fs(fc.size());
        rope_precompute(fc.data(), fs.data(), s.T, s.HS, s.theta);
        vecf qkv = random_vec(rng, n, -1, 1);
        vecd want = rope_ref(to_double(qkv), s.B, s.T, s.NH, s.NKV, s.HS, s.theta);
        rope_forward(qkv.data(), fc.data(), fs.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        check_close("qkv after rope_forward", qkv, want, FWD_RTOL, FWD_ATOL);
    }
}

TEST_CASE("rope_backward is the transpose of rope_forward: finite differences, <Rx,y> = <x,Rᵀy>, round trip",
          "[rope]") {
    std::mt19937 rng(402);
    for (const RopeShape& s : rope_shapes) {
        INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
        int B = s.B, T = s.T, NH = s.NH, NKV = s.NKV, HS = s.HS;
        size_t n = (size_t)B * T * (NH + 2 * NKV) * HS;
        vecf fc((size_t)T * (HS / 2)), fs(fc.size());
        rope_precompute(fc.data(), fs.data(), T, HS, s.theta);
        vecf x = random_vec(rng, n, -1, 1), R = random_vec(rng, n, -1, 1);

        // in place on dqkv = dout; v's gradient passes through unchanged
        vecf dqkv = R;
        rope_backward(dqkv.data(), fc.data(), fs.data(), B, T, NH, NKV, HS);
        vecd g = fd_grad([&](const vecd& v) { return rope_ref(v, B, T, NH, NKV, HS, s.theta); }, to_double(x),
                         to_double(R));
        check_close("dqkv vs finite differences", dqkv, g, BWD_RTOL, BWD_ATOL);

        // <rope(x), y> == <x, rope_backward(y)>, both dot products in double
        vecf rx = x;
        rope_forward(rx.data(), fc.data(), fs.data(), B, T, NH, NKV, HS);
        double lhs = dot(to_double(rx), to_double(R)), rhs = dot(to_double(x), to_double(dqkv));
        INFO("<Rx,y> = " << lhs << ", <x,Rᵀy> = " << rhs);
        CHECK(std::fabs(lhs - rhs) <= 1e-5 * std::sqrt((double)n));

        // forward then backward is the identity to float rounding
        rope_backward(rx.data(), fc.data(), fs.data(), B, T, NH, NKV, HS);
        check_close("rope_backward(rope_forward(x)) vs x", rx, to_double(x), 1e-6, 1e-6);
    }
}

// ======================================================================== attention

namespace {
struct AttShape { int B, T, NH, NKV, HS; };
// GQA (4/2), plain MHA (NH=NKV), MQA (NKV=1), T=1, and a longer T with two threads' worth of (b, kvh)
const AttShape att_shapes[] = {{2, 5, 4, 2, 6}, {1, 7, 3, 3, 8}, {2, 4, 4, 1, 6}, {3, 1, 2, 1, 8}, {2, 17, 4, 2, 8}};
}  // namespace

TEST_CASE("attention_forward equals causal GQA softmax attention in double, att included", "[attention]") {
    std::mt19937 rng(501);
    for (const AttShape& s : att_shapes) {
        INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
        size_t n = (size_t)s.B * s.T * (s.NH + 2 * s.NKV) * s.HS;
        vecf qkv = random_vec(rng, n, -2, 2);
        vecf out((size_t)s.B * s.T * s.NH * s.HS, NaN), att((size_t)s.B * s.NH * s.T * s.T, NaN);
        attention_forward(out.data(), att.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        vecd att_ref;
        vecd out_ref = attention_ref(to_double(qkv), s.B, s.T, s.NH, s.NKV, s.HS, &att_ref);
        check_close("out", out, out_ref, FWD_RTOL, FWD_ATOL);
        check_close("att (zeros above the diagonal)", att, att_ref, FWD_RTOL, FWD_ATOL);
    }
}

TEST_CASE("attention_backward overwrites dqkv with the finite-difference gradient", "[attention]") {
    std::mt19937 rng(502);
    for (const AttShape& s : att_shapes) {
        INFO("B=" << s.B << " T=" << s.T << " NH=" << s.NH << " NKV=" << s.NKV << " HS=" << s.HS);
        int B = s.B, T = s.T, NH = s.NH, NKV = s.NKV, HS = s.HS;
        size_t n = (size_t)B * T * (NH + 2 * NKV) * HS;
        vecf qkv = random_vec(rng, n, -2, 2);
        vecf R = random_vec(rng, (size_t)B * T * NH * HS, -1, 1);
        vecf out((size_t)B * T * NH * HS), att((size_t)B * NH * T * T);
        attention_forward(out.data(), att.data(), qkv.data(), B, T, NH, NKV, HS);
        vecf dqkv(n, NaN);
        attention_backward(dqkv.data(), R.data(), qkv.data(), att.data(), B, T, NH, NKV, HS);
        vecd g = fd_grad([&](const vecd& x) { return attention_ref(x, B, T, NH, NKV, HS); }, to_double(qkv),
                         to_double(R));
        check_close("dqkv vs finite differences", dqkv, g, BWD_RTOL, BWD_ATOL);
    }
}

// ======================================================================== swiglu

TEST_CASE("swiglu_forward equals silu(a)·b in double", "[swiglu]") {
    struct Shape { int N, H; };
    const Shape shapes[] = {{7, 13}, {1, 1}, {3, 67}};
    std::mt19937 rng(601);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " H=" << s.H);
        vecf h13 = random_vec(rng, (size_t)s.N * 2 * s.H, -4, 4);
        vecf out((size_t)s.N * s.H, NaN);
        swiglu_forward(out.data(), h13.data(), s.N, s.H);
        check_close("out", out, swiglu_ref(to_double(h13), s.N, s.H), FWD_RTOL, FWD_ATOL);
    }
}

TEST_CASE("swiglu_backward overwrites dh13 with the finite-difference gradient", "[swiglu]") {
    struct Shape { int N, H; };
    const Shape shapes[] = {{7, 13}, {1, 1}, {3, 67}};
    std::mt19937 rng(602);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " H=" << s.H);
        int N = s.N, H = s.H;
        vecf h13 = random_vec(rng, (size_t)N * 2 * H, -4, 4);
        vecf R = random_vec(rng, (size_t)N * H, -1, 1);
        vecf dh13(h13.size(), NaN);
        swiglu_backward(dh13.data(), R.data(), h13.data(), N, H);
        vecd g = fd_grad([&](const vecd& x) { return swiglu_ref(x, N, H); }, to_double(h13), to_double(R));
        check_close("dh13 vs finite differences", dh13, g, BWD_RTOL, BWD_ATOL);
    }
}

// ======================================================================== residual

TEST_CASE("residual_forward adds, residual_backward adds dout into both pre-filled gradients", "[residual]") {
    std::mt19937 rng(701);
    for (size_t N : {(size_t)1, (size_t)13, (size_t)1037}) {
        INFO("N=" << N);
        vecf a = random_vec(rng, N, -1, 1), b = random_vec(rng, N, -1, 1), out(N, NaN);
        residual_forward(out.data(), a.data(), b.data(), N);
        vecd want(N);
        for (size_t i = 0; i < N; i++) want[i] = (double)a[i] + b[i];
        // one correctly rounded float add: within 2^-24 relative
        check_close("out", out, want, 6e-8, 0.0);

        vecf R = random_vec(rng, N, -1, 1);
        vecf da = random_vec(rng, N, -1, 1), db = random_vec(rng, N, -1, 1);
        vecd da0 = to_double(da), db0 = to_double(db), ad = to_double(a), bd = to_double(b), Rd = to_double(R);
        residual_backward(da.data(), db.data(), R.data(), N);
        auto fwd = [](const vecd& x, const vecd& y) { return add(x, y); };
        vecd ga = fd_grad([&](const vecd& x) { return fwd(x, bd); }, ad, Rd);
        vecd gb = fd_grad([&](const vecd& y) { return fwd(ad, y); }, bd, Rd);
        check_close("dinp1 (pre-filled + grad)", da, add(da0, ga), BWD_RTOL, BWD_ATOL);
        check_close("dinp2 (pre-filled + grad)", db, add(db0, gb), BWD_RTOL, BWD_ATOL);
    }
}

// ======================================================================== cross-entropy

TEST_CASE("crossentropy_forward equals −log softmax[target] in double, also with probs aliasing logits",
          "[crossentropy]") {
    struct Shape { int N, V; };
    const Shape shapes[] = {{7, 13}, {1, 1}, {5, 67}, {4, 1}};
    std::mt19937 rng(801);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " V=" << s.V);
        vecf logits = random_vec(rng, (size_t)s.N * s.V, -3, 3);
        std::vector<int> tg = random_tokens(rng, s.N, s.V);
        vecf losses(s.N, NaN), probs(logits.size(), NaN);
        crossentropy_forward(losses.data(), probs.data(), logits.data(), tg.data(), s.N, s.V);
        vecd probs_ref;
        vecd losses_ref = crossentropy_ref(to_double(logits), tg, s.N, s.V, &probs_ref);
        check_close("losses", losses, losses_ref, FWD_RTOL, FWD_ATOL);
        check_close("probs", probs, probs_ref, FWD_RTOL, FWD_ATOL);

        // in-place softmax: the target logit is read before it is overwritten, so the result is identical
        vecf buf = logits, losses2(s.N, NaN);
        crossentropy_forward(losses2.data(), buf.data(), buf.data(), tg.data(), s.N, s.V);
        check_equal("losses with probs aliasing logits", losses2, losses);
        check_equal("probs with probs aliasing logits", buf, probs);
    }
}

TEST_CASE("crossentropy_forward is stable for logits near ±1000 and for an underflowing target probability",
          "[crossentropy]") {
    const int N = 3, V = 11;
    std::mt19937 rng(802);
    vecf logits = random_vec(rng, (size_t)N * V, -1, 1);
    for (int i = 0; i < V; i++) {
        logits[i] += 1000.0f;          // row 0: exp would overflow without the max subtracted
        logits[V + i] -= 1000.0f;      // row 1: exp would underflow to a zero sum
        logits[2 * V + i] = 0.0f;      // row 2: the target sits 200 below the rest ...
    }
    std::vector<int> tg = {3, 7, 5};
    logits[2 * V + 5] = -200.0f;       // ... so p[target] = e^-200 underflows in float
    vecf losses(N, NaN), probs(logits.size(), NaN);
    crossentropy_forward(losses.data(), probs.data(), logits.data(), tg.data(), N, V);
    vecd probs_ref;
    vecd losses_ref = crossentropy_ref(to_double(logits), tg, N, V, &probs_ref);
    for (int n = 0; n < N; n++) CHECK(std::isfinite(losses[n]));
    // (logf(sum) + maxv) − x[target] rounds at the scale of |maxv| = 1000, whose float ulp is 6e-5
    check_close("losses", losses, losses_ref, 1e-5, 2e-4);
    check_close("probs", probs, probs_ref, FWD_RTOL, FWD_ATOL);
    CHECK(losses[2] == Approx(200.0 + std::log(10.0)).epsilon(1e-6));
}

TEST_CASE("crossentropy_backward writes (probs − onehot)·dloss, the finite-difference gradient, also in place",
          "[crossentropy]") {
    struct Shape { int N, V; };
    const Shape shapes[] = {{7, 13}, {5, 67}, {4, 1}, {3, 11}};
    std::mt19937 rng(803);
    for (const Shape& s : shapes) {
        int N = s.N, V = s.V;
        vecf logits = random_vec(rng, (size_t)N * V, -3, 3);
        std::vector<int> tg = random_tokens(rng, N, V);
        if (V == 11) logits[tg[0]] = -200.0f;  // an underflowed target probability in row 0
        vecf losses(N), probs(logits.size());
        crossentropy_forward(losses.data(), probs.data(), logits.data(), tg.data(), N, V);
        for (float dloss : {1.0f / N, 0.7f}) {
            INFO("N=" << N << " V=" << V << " dloss=" << dloss);
            vecf dlogits(logits.size(), NaN);
            crossentropy_backward(dlogits.data(), probs.data(), tg.data(), dloss, N, V);
            // L = dloss · Σ_n losses[n]: R is dloss in every row
            vecd R(N, (double)dloss);
            vecd g = fd_grad([&](const vecd& x) { return crossentropy_ref(x, tg, N, V); }, to_double(logits), R);
            check_close("dlogits vs finite differences", dlogits, g, BWD_RTOL, BWD_ATOL);

            // dlogits aliasing probs gives the same gradient
            vecf buf = probs;
            crossentropy_backward(buf.data(), buf.data(), tg.data(), dloss, N, V);
            check_equal("dlogits with dlogits aliasing probs", buf, dlogits);

            // and the whole in-place chain: logits → probs → dlogits in one buffer
            vecf one = logits, losses2(N);
            crossentropy_forward(losses2.data(), one.data(), one.data(), tg.data(), N, V);
            crossentropy_backward(one.data(), one.data(), tg.data(), dloss, N, V);
            check_equal("losses of the in-place chain", losses2, losses);
            check_equal("dlogits of the in-place chain", one, dlogits);
        }
    }
}

// ======================================================================== AdamW

TEST_CASE("adamw_update follows the AdamW formula in double for 1 and 10 steps, with and without decay",
          "[adamw]") {
    const size_t n = 1037;
    const float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    for (float wd : {0.0f, 0.1f})
        for (float gs : {1.0f, 0.37f})
            for (int steps : {1, 10}) {
                INFO("weight_decay=" << wd << " grad_scale=" << gs << " steps=" << steps);
                std::mt19937 rng(901);
                vecf p = random_vec(rng, n, -1, 1), m(n, 0.0f), v(n, 0.0f);
                // the reference takes the same float hyperparameters, widened
                vecd pd = to_double(p), md(n, 0.0), vd(n, 0.0);
                for (int t = 1; t <= steps; t++) {
                    vecf g = random_vec(rng, n, -1, 1);
                    for (size_t i = 0; i < n; i += 97) g[i] = 0.0f;          // zero gradients stay finite
                    for (size_t i = 1; i < n; i += 89) g[i] *= 1e-4f;        // and small ones are not swamped
                    adamw_update(p.data(), g.data(), m.data(), v.data(), n, lr, beta1, beta2, eps, wd, t, gs);
                    adamw_ref(pd, to_double(g), md, vd, lr, beta1, beta2, eps, wd, t, gs);
                }
                // a step moves a parameter by ~lr = 1e-2, so 1e-6 is 1e-4 of one update.
                // m sums terms up to (1−β1)·|g| = 0.1 that can cancel to ~1e-5, so its float
                // roundings (~1e-8 each) need an absolute bound; v's terms are all positive.
                check_close("params", p, pd, 1e-6, 1e-6);
                check_close("m", m, md, 1e-5, 1e-7);
                check_close("v", v, vd, 1e-5, 1e-12);
            }
}

TEST_CASE("grad_norm_squared equals the naive double sum of squares", "[adamw]") {
    std::mt19937 rng(902);
    for (size_t n : {(size_t)0, (size_t)1, (size_t)1037, (size_t)100003}) {
        INFO("n=" << n);
        vecf g = random_vec(rng, n, -1, 1);
        for (size_t i = 0; i < n; i += 7) g[i] *= 1e-3f;  // mixed magnitudes
        double want = 0.0;
        for (float x : g) want += (double)x * (double)x;
        double got = grad_norm_squared(g.data(), n);
        INFO("got " << got << ", want " << want);
        // float·float is exact in double; only the summation order differs
        CHECK(std::fabs(got - want) <= 1e-12 * want);
    }
}
