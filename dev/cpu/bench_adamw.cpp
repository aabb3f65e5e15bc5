// dev/cpu/bench_adamw.cpp: the shipped optimizer kernels (kernels/cpu/adamw.h,
// included, not copied) on llama-5M's 4.98M parameters, plain against fast:
// the gradient norm and the AdamW update; agreement, ms and GB/s (the update
// reads p, g, m, v and writes p, m, v: 28 bytes per parameter).
//   make build/bench_adamw && build/bench_adamw                (all threads, wall clock)
//   build/bench_adamw --cpu-time                               (1 thread, CPU time)
#include <cmath>
#include <cstdio>
#include <vector>

#include "../../kernels/cpu/adamw.h"
#include "bench_common.h"

int main(int argc, char** argv) {
    BenchClock clk = bench_clock(argc, argv);
    const size_t n = 4980000;  // llama-5M
    std::vector<float> p(n), g(n), m(n, 0.0f), v(n, 0.0f), p2, m2, v2;
    bench_fill(p, 1);
    bench_fill(g, 2);
    p2 = p;
    m2 = m;
    v2 = v;
    printf("threads %d, clock %s; %zu parameters (llama-5M)\n", bench_threads(),
           clk.cpu ? "thread CPU time (best)" : "wall (median)", n);
    printf("%-18s %10s %10s %9s %10s %9s\n", "kernel", "plain ms", "fast ms", "speedup", "fast GB/s", "rel err");
    double np = 0.0, nf = 0.0;
    double tp = clk.time_s(9, [&] { np = grad_norm_squared(g.data(), n); });
    double tf = clk.time_s(9, [&] { nf = grad_norm_squared_fast(g.data(), n); });
    printf("%-18s %10.3f %10.3f %8.2fx %10.1f %9.1e\n", "grad norm", tp * 1e3, tf * 1e3, tp / tf, 4.0 * n / tf / 1e9,
           std::fabs(nf - np) / np);
    int t1 = 0, t2 = 0;  // each run is the next step, the same sequence for both
    tp = clk.time_s(9, [&] {
        adamw_update(p.data(), g.data(), m.data(), v.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, ++t1, 0.5f);
    });
    tf = clk.time_s(9, [&] {
        adamw_update_fast(p2.data(), g.data(), m2.data(), v2.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, ++t2, 0.5f);
    });
    printf("%-18s %10.3f %10.3f %8.2fx %10.1f %9.1e\n", "adamw update", tp * 1e3, tf * 1e3, tp / tf, 28.0 * n / tf / 1e9,
           bench_max_err(p2, p));
    return 0;
}
