// tests/kernel_test_util.h: what every kernel test uses: seeded random inputs,
// double-precision comparisons that report the worst entry, central finite
// differences and running a kernel at a chosen thread count. Include it after
// <catch2/catch.hpp>.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

using vecf = std::vector<float>;
using vecd = std::vector<double>;

// Uniform in [lo, hi) from the raw 32-bit stream: std::uniform_real_distribution
// is not specified bit for bit across standard libraries, this is.
inline vecf random_vec(std::mt19937& rng, size_t n, float lo, float hi) {
    vecf v(n);
    for (float& x : v) x = lo + (hi - lo) * (float)((rng() >> 8) * (1.0 / 16777216.0));
    return v;
}

inline std::vector<int> random_tokens(std::mt19937& rng, size_t n, int V) {
    std::vector<int> t(n);
    for (int& x : t) x = (int)(rng() % (uint32_t)V);
    return t;
}

inline vecd to_double(const vecf& v) { return vecd(v.begin(), v.end()); }

inline vecd add(const vecd& a, const vecd& b) {
    vecd c(a.size());
    for (size_t i = 0; i < a.size(); i++) c[i] = a[i] + b[i];
    return c;
}

inline double dot(const vecd& a, const vecd& b) {
    double s = 0.0;
    for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
    return s;
}

// Every entry must satisfy |got − want| <= atol + rtol·|want| (NaN never does).
// On failure reports how many entries are off and the worst one.
inline void check_close(const char* what, const float* got, const double* want, size_t n, double rtol, double atol) {
    size_t bad = 0, worst = 0;
    double worst_ratio = -1.0;  // err / limit at the worst entry; NaN once a NaN is seen
    for (size_t i = 0; i < n; i++) {
        double err = std::fabs((double)got[i] - want[i]);
        double lim = atol + rtol * std::fabs(want[i]);
        if (!(err <= lim)) bad++;
        double r = err / lim;
        if (!std::isnan(worst_ratio) && !(r <= worst_ratio)) { worst_ratio = r; worst = i; }
    }
    if (n == 0) { CHECK(bad == 0); return; }
    INFO(what << ": " << bad << " of " << n << " entries out of tolerance (rtol " << rtol << ", atol " << atol
              << "); worst [" << worst << "] got " << got[worst] << ", want " << want[worst]
              << ", err/limit " << worst_ratio);
    CHECK(bad == 0);
}

inline void check_close(const char* what, const vecf& got, const vecd& want, double rtol, double atol) {
    REQUIRE(got.size() == want.size());
    check_close(what, got.data(), want.data(), got.size(), rtol, atol);
}

// Bit-for-bit equality (NaN never equals).
inline void check_equal(const char* what, const vecf& got, const vecf& want) {
    REQUIRE(got.size() == want.size());
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < got.size(); i++)
        if (!(got[i] == want[i])) { if (bad == 0) first = i; bad++; }
    if (got.empty()) return;
    INFO(what << ": " << bad << " of " << got.size() << " entries differ; first [" << first << "] got "
              << got[first] << ", want " << want[first]);
    CHECK(bad == 0);
}

// ∂L/∂x_i for L(x) = Σ_k f(x)_k · R_k by central differences in double, at the
// indices idx (f maps a vecd to a vecd of R's size).
template <class F>
inline vecd fd_grad_at(const F& f, vecd x, const vecd& R, const std::vector<size_t>& idx) {
    const double h = 1e-6;
    vecd g(idx.size());
    for (size_t k = 0; k < idx.size(); k++) {
        size_t i = idx[k];
        double x0 = x[i];
        x[i] = x0 + h;
        double lp = dot(f(x), R);
        x[i] = x0 - h;
        double lm = dot(f(x), R);
        x[i] = x0;
        g[k] = (lp - lm) / (2.0 * h);
    }
    return g;
}

template <class F>
inline vecd fd_grad(const F& f, const vecd& x, const vecd& R) {
    std::vector<size_t> idx(x.size());
    std::iota(idx.begin(), idx.end(), (size_t)0);
    return fd_grad_at(f, x, R, idx);
}

// Runs fn with n OpenMP threads, then restores the previous count.
template <class F>
inline void with_threads(int n, const F& fn) {
#ifdef _OPENMP
    int prev = omp_get_max_threads();
    omp_set_num_threads(n);
    fn();
    omp_set_num_threads(prev);
#else
    (void)n;
    fn();
#endif
}
