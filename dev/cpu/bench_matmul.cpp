// dev/cpu/bench_matmul.cpp: the shipped matmul kernels (kernels/cpu/matmul.h,
// included, not copied) on the trainers' real shapes: agreement with the plain
// reference, GFLOP/s, % of the measured FMA peak, and OpenBLAS sgemm on the
// same product when built with -DHAVE_OPENBLAS (make bench_matmul does if the
// library is installed).
//   make bench_matmul && build/bench_matmul            (all threads)
//   OMP_NUM_THREADS=1 build/bench_matmul               (one core)
#include <cstdio>
#include <cstring>
#include <string>

#include "../../kernels/cpu/matmul.h"
#include "bench_common.h"
#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

struct Shape {
    const char* name;
    int N, C, OC;
};

int main(int argc, char** argv) {
    // llama-5M at B=16, T=256 (N = 4096 tokens); --quick shrinks N for a smoke run
    int N = (argc > 1 && !strcmp(argv[1], "--quick")) ? 512 : 4096;
    Shape shapes[] = {
        {"qkv   (llama-5M)", N, 256, 768},  {"wo    (llama-5M)", N, 256, 256}, {"w13   (llama-5M)", N, 256, 1024},
        {"w2    (llama-5M)", N, 512, 256},  {"cls   (llama-5M)", N, 256, 4096},
        {"qkv   (gpt2-124M, B4 T64)", 256, 768, 2304}, {"fc    (gpt2-124M, B4 T64)", 256, 768, 3072},
        {"cls   (gpt2-124M, B4 T64)", 256, 768, 50304},
    };
    double peak = measure_peak_flops();
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("threads %d, measured FMA peak %.0f GFLOP/s\n", threads, peak / 1e9);
    printf("%-28s %-8s %10s %10s %7s %10s %7s %10s\n", "shape (N, C, OC)", "product", "ms", "GFLOP/s", "%peak",
           "BLAS GF/s", "vs BLAS", "max err");
    for (const Shape& s : shapes) {
        std::vector<float> inp((size_t)s.N * s.C), w((size_t)s.OC * s.C), dout((size_t)s.N * s.OC);
        bench_fill(inp, 1);
        bench_fill(w, 2);
        bench_fill(dout, 3);
        double flops = 2.0 * s.N * s.C * s.OC;
        for (int which = 0; which < 3; which++) {
            const char* prod = which == 0 ? "fwd" : which == 1 ? "dinp" : "dweight";
            std::vector<float> out(which == 0 ? (size_t)s.N * s.OC : which == 1 ? (size_t)s.N * s.C : (size_t)s.OC * s.C, 0.0f);
            std::vector<float> ref = out;
            auto fast = [&]() {
                if (which == 0) matmul_forward(out.data(), inp.data(), w.data(), s.N, s.C, s.OC);
                else if (which == 1) { std::fill(out.begin(), out.end(), 0.0f); matmul_backward(out.data(), nullptr, dout.data(), inp.data(), w.data(), s.N, s.C, s.OC); }
                else { std::fill(out.begin(), out.end(), 0.0f); matmul_backward(nullptr, out.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC); }
            };
            double t = bench_median_s(5, fast);
            // reference once, on a shape small enough to be quick
            if (which == 0) matmul_forward_ref(ref.data(), inp.data(), w.data(), s.N, s.C, s.OC);
            else if (which == 1) matmul_backward_ref(ref.data(), nullptr, dout.data(), inp.data(), w.data(), s.N, s.C, s.OC);
            else matmul_backward_ref(nullptr, ref.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC);
            double err = bench_max_err(out, ref);
            double blas = 0.0;
#ifdef HAVE_OPENBLAS
            std::vector<float> bo = out;
            double tb = bench_median_s(5, [&]() {
                if (which == 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.N, s.OC, s.C, 1.0f, inp.data(), s.C, w.data(), s.C, 0.0f, bo.data(), s.OC);
                else if (which == 1)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.N, s.C, s.OC, 1.0f, dout.data(), s.OC, w.data(), s.C, 1.0f, bo.data(), s.C);
                else
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.OC, s.C, s.N, 1.0f, dout.data(), s.OC, inp.data(), s.C, 1.0f, bo.data(), s.C);
            });
            blas = flops / tb;
#endif
            char label[64];
            snprintf(label, sizeof label, "%s", s.name);
            printf("%-28s %-8s %10.2f %10.1f %6.1f%% %10.1f %6.0f%% %10.1e%s\n", label, prod, t * 1e3, flops / t / 1e9,
                   100 * flops / t / peak, blas / 1e9, blas > 0 ? 100 * (flops / t) / blas : 0.0, err,
                   err > 1e-3 ? "  MISMATCH" : "");
        }
    }
    return 0;
}
