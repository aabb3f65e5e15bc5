// tests/test_kernels_gpt2.cpp: the kernels GPT-2 adds to kernels/cpu/
// (layernorm, gelu, bias and the bias-adding matmuls, position) against a
// naive double-precision reference written here (forward) and against central
// finite differences of that reference (backward), the way test_kernels.cpp
// checks the Llama kernels. Both the shipped fast path and its plain _ref
// version are checked, on shapes that take the serial and the parallel path,
// with vector tails.
//
// Backward checks use the scalar objective L = Σ out·R with a fixed random R,
// so the kernel is handed dout = R and must produce ∂L/∂input; differences are
// taken in double on the double reference with step h = 1e-6.
//
// Tolerances, per entry |got − want| <= atol + rtol·|want|:
//   forward   rtol = atol = 1e-5;   backward  rtol = 1e-4, atol = 1e-5
// Sums the kernels promise to take in a fixed order (bias, position, the
// LayerNorm parameter gradients) are checked bit for bit against that order
// and across thread counts.
//
// Accumulate-vs-overwrite: "+=" outputs are pre-filled with random values that
// must survive under the added gradient; overwritten outputs are pre-filled
// with NaN, so an entry the kernel skips (or reads before writing) fails.
#include <catch2/catch.hpp>

#include "kernel_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../kernels/cpu/bias.h"
#include "../kernels/cpu/gelu.h"
#include "../kernels/cpu/layernorm.h"
#include "../kernels/cpu/position.h"

namespace {

constexpr double FWD_RTOL = 1e-5, FWD_ATOL = 1e-5;
constexpr double BWD_RTOL = 1e-4, BWD_ATOL = 1e-5;
const float NaN = std::numeric_limits<float>::quiet_NaN();

// ---------------------------------------------------------------- helpers

// `count` distinct-ish random indices below n (all of them when n <= count).
std::vector<size_t> sample_indices(std::mt19937& rng, size_t n, size_t count) {
    std::vector<size_t> idx;
    if (n <= count) {
        idx.resize(n);
        std::iota(idx.begin(), idx.end(), (size_t)0);
    } else {
        for (size_t k = 0; k < count; k++) idx.push_back(rng() % n);
    }
    return idx;
}

vecf pick(const vecf& v, const std::vector<size_t>& idx) {
    vecf out;
    for (size_t i : idx) out.push_back(v[i]);
    return out;
}

vecd pick(const vecd& v, const std::vector<size_t>& idx) {
    vecd out;
    for (size_t i : idx) out.push_back(v[i]);
    return out;
}

// ---------------------------------------------------------------- double references

// y = (x − mean) / sqrt(var + eps) · w + b per row, var the biased variance; mean, rstd (N) if given
vecd layernorm_ref(const vecd& inp, const vecd& w, const vecd& b, int N, int C, double eps, vecd* mean = nullptr,
                   vecd* rstd = nullptr) {
    vecd out((size_t)N * C);
    if (mean) mean->assign(N, 0.0);
    if (rstd) rstd->assign(N, 0.0);
    for (int n = 0; n < N; n++) {
        const double* x = &inp[(size_t)n * C];
        double m = 0.0, v = 0.0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        double r = 1.0 / std::sqrt(v / C + eps);
        for (int i = 0; i < C; i++) out[(size_t)n * C + i] = (x[i] - m) * r * w[i] + b[i];
        if (mean) (*mean)[n] = m;
        if (rstd) (*rstd)[n] = r;
    }
    return out;
}

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }

// out (N, OC) = inp (N, C) · wᵀ + bias
vecd linear_ref(const vecd& inp, const vecd& w, const vecd& bias, int N, int C, int OC) {
    vecd out((size_t)N * OC);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias[o];
            for (int c = 0; c < C; c++) s += inp[(size_t)n * C + c] * w[(size_t)o * C + c];
            out[(size_t)n * OC + o] = s;
        }
    return out;
}

// out (B, T, C) = x + wpe[t]; wpe is (maxT, C)
vecd position_ref(const vecd& x, const vecd& wpe, int B, int T, int C) {
    vecd out = x;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < C; i++) out[((size_t)b * T + t) * C + i] += wpe[(size_t)t * C + i];
    return out;
}

// The fast path and its plain reference, for tests that run both.
struct LayernormImpl {
    const char* name;
    void (*forward)(float*, float*, float*, const float*, const float*, const float*, int, int, float);
    void (*backward)(float*, float*, float*, const float*, const float*, const float*, const float*, const float*, int,
                     int);
};
const LayernormImpl layernorm_impls[] = {{"fast", layernorm_forward, layernorm_backward},
                                         {"ref", layernorm_forward_ref, layernorm_backward_ref}};

struct GeluImpl {
    const char* name;
    void (*forward)(float*, const float*, size_t);
    void (*backward)(float*, const float*, const float*, size_t);
};
const GeluImpl gelu_impls[] = {{"fast", gelu_forward, gelu_backward}, {"ref", gelu_forward_ref, gelu_backward_ref}};

}  // namespace

// ======================================================================== layernorm

namespace {
struct LnShape { int N, C; float offset; };
// tails (13, 67), one row, GPT-2 124M's row (768), a shape above LN_PARALLEL_MIN
// (600·64) and rows whose mean (1000) dwarfs their spread, where E[x²] − E[x]² would cancel
const LnShape ln_shapes[] = {{7, 13, 0.0f}, {1, 5, 0.0f}, {4, 67, 0.5f}, {3, 768, 0.0f}, {600, 64, 0.0f}, {5, 40, 1000.0f}};
}  // namespace

TEST_CASE("layernorm_forward equals (x−mean)/sqrt(var+eps)·w+b in double, mean and rstd included", "[layernorm]") {
    const float eps = 1e-5f;
    std::mt19937 rng(1101);
    for (const LayernormImpl& impl : layernorm_impls)
        for (const LnShape& s : ln_shapes) {
            INFO(impl.name << ": N=" << s.N << " C=" << s.C << " offset=" << s.offset);
            vecf inp = random_vec(rng, (size_t)s.N * s.C, -1, 1);
            for (float& x : inp) x += s.offset;
            vecf w = random_vec(rng, s.C, 0.5f, 1.5f), b = random_vec(rng, s.C, -0.5f, 0.5f);
            vecf out((size_t)s.N * s.C, NaN), mean(s.N, NaN), rstd(s.N, NaN);
            impl.forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), s.N, s.C, eps);
            vecd mean_ref, rstd_ref;
            vecd out_ref = layernorm_ref(to_double(inp), to_double(w), to_double(b), s.N, s.C, eps, &mean_ref, &rstd_ref);
            // a float mean of values near 1000 is good to ~1e-4 absolute, which the
            // normalised output magnifies by rstd ~ 1.7: those rows get 1e-3 / 3e-4
            double atol = s.offset > 100 ? 1e-3 : FWD_ATOL;
            check_close("out", out, out_ref, FWD_RTOL, atol);
            check_close("mean", mean, mean_ref, FWD_RTOL, FWD_ATOL);
            check_close("rstd", rstd, rstd_ref, s.offset > 100 ? 3e-4 : FWD_RTOL, 0.0);
        }
}

TEST_CASE("layernorm_backward adds the finite-difference gradients into pre-filled dinp, dweight, dbias",
          "[layernorm]") {
    const float eps = 1e-5f;
    std::mt19937 rng(1102);
    for (const LayernormImpl& impl : layernorm_impls)
        for (const LnShape& s : ln_shapes) {
            if (s.offset > 100) continue;  // the forward test covers the offset rows
            INFO(impl.name << ": N=" << s.N << " C=" << s.C);
            int N = s.N, C = s.C;
            vecf inp = random_vec(rng, (size_t)N * C, -1, 1);
            vecf w = random_vec(rng, C, 0.5f, 1.5f), b = random_vec(rng, C, -0.5f, 0.5f);
            vecf R = random_vec(rng, (size_t)N * C, -1, 1);
            vecf out((size_t)N * C), mean(N), rstd(N);
            impl.forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C, eps);
            vecf dinp = random_vec(rng, inp.size(), -1, 1), dw = random_vec(rng, C, -1, 1), db = random_vec(rng, C, -1, 1);
            vecd dinp0 = to_double(dinp), dw0 = to_double(dw), db0 = to_double(db);
            impl.backward(dinp.data(), dw.data(), db.data(), R.data(), inp.data(), w.data(), mean.data(), rstd.data(), N, C);

            vecd inpd = to_double(inp), wd = to_double(w), bd = to_double(b), Rd = to_double(R);
            // every entry on the small shapes; 200 sampled rows' entries on the large ones (FD is O(size²))
            std::vector<size_t> ii = sample_indices(rng, inp.size(), 200);
            vecd gi = fd_grad_at([&](const vecd& x) { return layernorm_ref(x, wd, bd, N, C, eps); }, inpd, Rd, ii);
            vecd gw = fd_grad([&](const vecd& x) { return layernorm_ref(inpd, x, bd, N, C, eps); }, wd, Rd);
            vecd gb = fd_grad([&](const vecd& x) { return layernorm_ref(inpd, wd, x, N, C, eps); }, bd, Rd);
            check_close("dinp (pre-filled + grad)", pick(dinp, ii), add(pick(dinp0, ii), gi), BWD_RTOL, BWD_ATOL);
            // dweight and dbias sum N terms of O(1): float rounding grows like sqrt(N)·1e-7·N
            check_close("dweight (pre-filled + grad)", dw, add(dw0, gw), BWD_RTOL, BWD_ATOL * std::max(1, N / 50));
            check_close("dbias (pre-filled + grad)", db, add(db0, gb), BWD_RTOL, BWD_ATOL * std::max(1, N / 50));
        }
}

TEST_CASE("layernorm fast path gives the same bits for any thread count; dweight, dbias sum in row order",
          "[layernorm]") {
    const int N = 600, C = 100;  // above LN_PARALLEL_MIN, C not a multiple of LN_BLOCK
    const float eps = 1e-5f;
    std::mt19937 rng(1103);
    vecf inp = random_vec(rng, (size_t)N * C, -2, 2), w = random_vec(rng, C, 0.5f, 1.5f), b = random_vec(rng, C, -1, 1);
    vecf R = random_vec(rng, (size_t)N * C, -1, 1);
    vecf dinp0 = random_vec(rng, inp.size(), -1, 1), dw0 = random_vec(rng, C, -1, 1), db0 = random_vec(rng, C, -1, 1);
    vecf out1, mean1, rstd1, dinp1, dw1, db1;
    for (int nth : {1, 2, 3, 7}) {
        INFO("threads=" << nth);
        vecf out((size_t)N * C, NaN), mean(N, NaN), rstd(N, NaN), dinp = dinp0, dw = dw0, db = db0;
        with_threads(nth, [&] {
            layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C, eps);
            layernorm_backward(dinp.data(), dw.data(), db.data(), R.data(), inp.data(), w.data(), mean.data(),
                               rstd.data(), N, C);
        });
        if (nth == 1) {
            out1 = out; mean1 = mean; rstd1 = rstd; dinp1 = dinp; dw1 = dw; db1 = db;
            // dbias is Σ_n dout in row order from zero, then added: exactly the naive float sum
            vecf want = db0;
            for (int i = 0; i < C; i++) {
                float sum = 0.0f;
                for (int n = 0; n < N; n++) sum += R[(size_t)n * C + i];
                want[i] += sum;
            }
            check_equal("dbias vs the naive row-order float sum", db, want);
            continue;
        }
        check_equal("out", out, out1);
        check_equal("mean", mean, mean1);
        check_equal("rstd", rstd, rstd1);
        check_equal("dinp", dinp, dinp1);
        check_equal("dweight", dw, dw1);
        check_equal("dbias", db, db1);
    }
}

// ======================================================================== gelu

namespace {
// x values that reach every regime: around 0, the bend, the tails where tanh saturates,
// and far tails where the fast path's exp underflows to 0 or is clamped (|2u| > 87 from |x| ≈ 8.6)
vecf gelu_inputs(std::mt19937& rng, size_t n) {
    vecf x = random_vec(rng, n, -6, 6);
    const float special[] = {0.0f, -0.0f, 1e-20f, -1e-20f, 1e-4f, -3.0f, 3.0f, -8.5f, 8.7f, -9.0f, 10.0f,
                             -30.0f, 30.0f, -1e3f, 1e3f, -1e6f};
    for (size_t i = 0; i < n && i < sizeof special / sizeof special[0]; i++) x[(i * 7919) % n] = special[i];
    return x;
}
}  // namespace

TEST_CASE("gelu_forward equals 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))) in double, also in place", "[gelu]") {
    std::mt19937 rng(1201);
    // tails below and above the vector width, and a size above GELU_PARALLEL_MIN
    for (const GeluImpl& impl : gelu_impls)
        for (size_t n : {(size_t)1, (size_t)7, (size_t)13, (size_t)37, (size_t)1037, (size_t)40003}) {
            INFO(impl.name << ": N=" << n);
            vecf x = gelu_inputs(rng, n), out(n, NaN);
            impl.forward(out.data(), x.data(), n);
            vecd want(n);
            for (size_t i = 0; i < n; i++) want[i] = gelu_ref(x[i]);
            check_close("out", out, want, FWD_RTOL, FWD_ATOL);
            vecf buf = x;
            impl.forward(buf.data(), buf.data(), n);
            check_equal("out aliasing inp", buf, out);
        }
}

TEST_CASE("gelu_backward overwrites dinp with dout·gelu'(x) from finite differences, also in place", "[gelu]") {
    std::mt19937 rng(1202);
    for (const GeluImpl& impl : gelu_impls)
        for (size_t n : {(size_t)1, (size_t)7, (size_t)13, (size_t)37, (size_t)1037, (size_t)40003}) {
            INFO(impl.name << ": N=" << n);
            vecf x = gelu_inputs(rng, n), R = random_vec(rng, n, -1, 1), dinp(n, NaN);
            impl.backward(dinp.data(), x.data(), R.data(), n);
            // elementwise, so each entry's finite difference needs only its own x
            vecd want(n);
            const double h = 1e-6;
            for (size_t i = 0; i < n; i++) want[i] = R[i] * (gelu_ref(x[i] + h) - gelu_ref(x[i] - h)) / (2 * h);
            check_close("dinp vs finite differences", dinp, want, BWD_RTOL, BWD_ATOL);
            vecf buf = R;
            impl.backward(buf.data(), x.data(), buf.data(), n);
            check_equal("dinp aliasing dout", buf, dinp);
        }
}

// ======================================================================== bias and the bias-adding matmuls

TEST_CASE("bias_forward adds the bias to every row; bias_backward is the row-order column sum, any thread count",
          "[bias]") {
    struct Shape { int N, OC; };
    // tails, one row, and 300·130 above BIAS_PARALLEL_MIN with a ragged last block
    const Shape shapes[] = {{7, 13}, {1, 1}, {5, 200}, {300, 130}, {64, 2304}};
    std::mt19937 rng(1301);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " OC=" << s.OC);
        vecf out0 = random_vec(rng, (size_t)s.N * s.OC, -1, 1), bias = random_vec(rng, s.OC, -1, 1);
        vecf want = out0;
        for (int n = 0; n < s.N; n++)
            for (int j = 0; j < s.OC; j++) want[(size_t)n * s.OC + j] += bias[j];  // one float add: exact to compare
        vecf out = out0, out_ref = out0;
        bias_forward(out.data(), bias.data(), s.N, s.OC);
        bias_forward_ref(out_ref.data(), bias.data(), s.N, s.OC);
        check_equal("out", out, want);
        check_equal("out (ref)", out_ref, want);

        vecf R = random_vec(rng, (size_t)s.N * s.OC, -1, 1), db0 = random_vec(rng, s.OC, -1, 1);
        vecf db_ref = db0;
        bias_backward_ref(db_ref.data(), R.data(), s.N, s.OC);
        for (int nth : {1, 2, 3, 7}) {
            INFO("threads=" << nth);
            vecf db = db0;
            with_threads(nth, [&] { bias_backward(db.data(), R.data(), s.N, s.OC); });
            check_equal("dbias vs bias_backward_ref", db, db_ref);
        }
        vecd want_db = to_double(db0);
        for (int n = 0; n < s.N; n++)
            for (int j = 0; j < s.OC; j++) want_db[j] += R[(size_t)n * s.OC + j];
        check_close("dbias vs the double sum", db_ref, want_db, BWD_RTOL, BWD_ATOL * std::max(1, s.N / 50));
    }
}

TEST_CASE("matmul_forward_bias equals inp·Wᵀ+b in double; a null bias means none", "[bias]") {
    struct Shape { int N, C, OC; };
    const Shape shapes[] = {{7, 13, 67}, {1, 1, 1}, {16, 36, 108}, {9, 70, 130}};
    std::mt19937 rng(1302);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C << " OC=" << s.OC);
        vecf inp = random_vec(rng, (size_t)s.N * s.C, -1, 1), w = random_vec(rng, (size_t)s.OC * s.C, -1, 1);
        vecf bias = random_vec(rng, s.OC, -1, 1);
        vecf out((size_t)s.N * s.OC, NaN), out_nobias((size_t)s.N * s.OC, NaN);
        matmul_forward_bias(out.data(), inp.data(), w.data(), bias.data(), s.N, s.C, s.OC);
        matmul_forward_bias(out_nobias.data(), inp.data(), w.data(), nullptr, s.N, s.C, s.OC);
        vecd inpd = to_double(inp), wd = to_double(w);
        check_close("out", out, linear_ref(inpd, wd, to_double(bias), s.N, s.C, s.OC), FWD_RTOL, FWD_ATOL);
        check_close("out without bias", out_nobias, linear_ref(inpd, wd, vecd(s.OC, 0.0), s.N, s.C, s.OC), FWD_RTOL,
                    FWD_ATOL);
    }
}

TEST_CASE("matmul_backward_bias adds the finite-difference gradients into pre-filled dinp, dweight, dbias",
          "[bias]") {
    struct Shape { int N, C, OC; };
    const Shape shapes[] = {{7, 13, 67}, {1, 1, 1}, {16, 36, 108}, {5, 70, 3}};
    std::mt19937 rng(1303);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C << " OC=" << s.OC);
        int N = s.N, C = s.C, OC = s.OC;
        vecf inp = random_vec(rng, (size_t)N * C, -1, 1), w = random_vec(rng, (size_t)OC * C, -1, 1);
        vecf bias = random_vec(rng, OC, -1, 1), R = random_vec(rng, (size_t)N * OC, -1, 1);
        vecf dinp = random_vec(rng, inp.size(), -1, 1), dw = random_vec(rng, w.size(), -1, 1);
        vecf db = random_vec(rng, OC, -1, 1);
        vecd dinp0 = to_double(dinp), dw0 = to_double(dw), db0 = to_double(db);
        vecf dinp_only = dinp, dw_only = dw, db_only = db;
        matmul_backward_bias(dinp.data(), dw.data(), db.data(), R.data(), inp.data(), w.data(), N, C, OC);

        vecd inpd = to_double(inp), wd = to_double(w), bd = to_double(bias), Rd = to_double(R);
        vecd gi = fd_grad([&](const vecd& x) { return linear_ref(x, wd, bd, N, C, OC); }, inpd, Rd);
        vecd gw = fd_grad([&](const vecd& x) { return linear_ref(inpd, x, bd, N, C, OC); }, wd, Rd);
        vecd gb = fd_grad([&](const vecd& x) { return linear_ref(inpd, wd, x, N, C, OC); }, bd, Rd);
        check_close("dinp (pre-filled + grad)", dinp, add(dinp0, gi), BWD_RTOL, BWD_ATOL);
        check_close("dweight (pre-filled + grad)", dw, add(dw0, gw), BWD_RTOL, BWD_ATOL);
        check_close("dbias (pre-filled + grad)", db, add(db0, gb), BWD_RTOL, BWD_ATOL);

        // each output may be null; the others come out the same
        matmul_backward_bias(dinp_only.data(), nullptr, nullptr, R.data(), inp.data(), w.data(), N, C, OC);
        matmul_backward_bias(nullptr, dw_only.data(), nullptr, R.data(), inp.data(), w.data(), N, C, OC);
        matmul_backward_bias(nullptr, nullptr, db_only.data(), R.data(), inp.data(), w.data(), N, C, OC);
        check_equal("dinp alone", dinp_only, dinp);
        check_equal("dweight alone", dw_only, dw);
        check_equal("dbias alone", db_only, db);
    }
}

TEST_CASE("matmul_backward_bias_set_dinp overwrites dinp with what matmul_backward_bias adds to zeros",
          "[bias]") {
    struct Shape { int N, C, OC; };
    const Shape shapes[] = {{7, 13, 67}, {1, 1, 1}, {16, 36, 108}, {5, 70, 3}};
    std::mt19937 rng(1304);
    for (const Shape& s : shapes) {
        INFO("N=" << s.N << " C=" << s.C << " OC=" << s.OC);
        int N = s.N, C = s.C, OC = s.OC;
        vecf inp = random_vec(rng, (size_t)N * C, -1, 1), w = random_vec(rng, (size_t)OC * C, -1, 1);
        vecf R = random_vec(rng, (size_t)N * OC, -1, 1);
        vecf dw = random_vec(rng, w.size(), -1, 1), db = random_vec(rng, OC, -1, 1);
        vecf dinp_ref(inp.size(), 0.0f), dw_ref = dw, db_ref = db;
        matmul_backward_bias(dinp_ref.data(), dw_ref.data(), db_ref.data(), R.data(), inp.data(), w.data(), N, C, OC);
        vecf dinp(inp.size(), NaN);  // whatever dinp held must not matter
        matmul_backward_bias_set_dinp(dinp.data(), dw.data(), db.data(), R.data(), inp.data(), w.data(), N, C, OC);
        check_equal("dinp", dinp, dinp_ref);
        check_equal("dweight (accumulated)", dw, dw_ref);
        check_equal("dbias (accumulated)", db, db_ref);
    }
}

// ======================================================================== position

TEST_CASE("position_forward adds wpe[t] to every batch row; rows of wpe past T are not read", "[position]") {
    struct Shape { int B, T, maxT, C; };
    const Shape shapes[] = {{2, 5, 8, 13}, {1, 1, 1, 1}, {3, 16, 16, 67}, {4, 64, 80, 160}};
    std::mt19937 rng(1401);
    for (const Shape& s : shapes) {
        INFO("B=" << s.B << " T=" << s.T << " maxT=" << s.maxT << " C=" << s.C);
        vecf x = random_vec(rng, (size_t)s.B * s.T * s.C, -1, 1), wpe = random_vec(rng, (size_t)s.maxT * s.C, -1, 1);
        for (size_t i = (size_t)s.T * s.C; i < wpe.size(); i++) wpe[i] = NaN;  // must not be read
        vecf want = x;
        for (int b = 0; b < s.B; b++)
            for (int t = 0; t < s.T; t++)
                for (int i = 0; i < s.C; i++) want[((size_t)b * s.T + t) * s.C + i] += wpe[(size_t)t * s.C + i];
        vecf out = x, out_ref = x;
        position_forward(out.data(), wpe.data(), s.B, s.T, s.C);
        position_forward_ref(out_ref.data(), wpe.data(), s.B, s.T, s.C);
        check_equal("out", out, want);
        check_equal("out (ref)", out_ref, want);
    }
}

TEST_CASE("position_backward adds Σ_b dout[b,t] into pre-filled dwpe rows t < T only, the same for any thread count",
          "[position]") {
    struct Shape { int B, T, maxT, C; };
    const Shape shapes[] = {{2, 5, 8, 13}, {1, 1, 1, 1}, {3, 16, 16, 67}, {4, 64, 80, 160}};
    std::mt19937 rng(1402);
    for (const Shape& s : shapes) {
        INFO("B=" << s.B << " T=" << s.T << " maxT=" << s.maxT << " C=" << s.C);
        int B = s.B, T = s.T, C = s.C;
        vecf R = random_vec(rng, (size_t)B * T * C, -1, 1), dwpe0 = random_vec(rng, (size_t)s.maxT * C, -1, 1);
        vecf dwpe_ref = dwpe0;
        position_backward_ref(dwpe_ref.data(), R.data(), B, T, C);
        for (int nth : {1, 2, 3, 7}) {
            INFO("threads=" << nth);
            vecf dwpe = dwpe0;
            with_threads(nth, [&] { position_backward(dwpe.data(), R.data(), B, T, C); });
            check_equal("dwpe vs position_backward_ref", dwpe, dwpe_ref);
        }
        // rows past T keep their pre-filled values exactly
        check_equal("dwpe rows past T", vecf(dwpe_ref.begin() + (size_t)T * C, dwpe_ref.end()),
                    vecf(dwpe0.begin() + (size_t)T * C, dwpe0.end()));
        // and the gradient itself, by finite differences of the double reference
        vecd x = to_double(random_vec(rng, R.size(), -1, 1)), Rd = to_double(R);
        std::vector<size_t> idx = sample_indices(rng, dwpe0.size(), 300);
        vecd g = fd_grad_at([&](const vecd& w) { return position_ref(x, w, B, T, C); }, to_double(dwpe0), Rd, idx);
        check_close("dwpe vs pre-filled + finite differences", pick(dwpe_ref, idx), add(pick(to_double(dwpe0), idx), g),
                    BWD_RTOL, BWD_ATOL);
    }
}
