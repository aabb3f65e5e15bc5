// dev/cuda/rmsnorm.cu: kernels/cuda/rmsnorm.cuh against kernels/cpu/rmsnorm.h
// (and kernels/cpu/residual.h for the fused residual add).
#include "harness.h"

#include "../../kernels/cpu/residual.h"
#include "../../kernels/cpu/rmsnorm.h"
#include "../../kernels/cuda/rmsnorm.cuh"

template <typename floatX>
static void rmsnorm_case(HarnessRun* run, const char* label, int N, int C, bool bench) {
    const float eps = 1e-5f;
    const double tol = out_rtol<floatX>();
    std::string tag = std::string(label) + " <" + dtype_name<floatX>() + "> N=" + std::to_string(N) +
                      " C=" + std::to_string(C);
    size_t NC = (size_t)N * C;
    std::vector<float> inp1 = rounded<floatX>(random_floats(NC, 1, -2.0f, 2.0f));
    std::vector<float> inp2 = rounded<floatX>(random_floats(NC, 2));
    std::vector<float> weight = rounded<floatX>(random_floats(C, 3, 0.5f, 1.5f));
    std::vector<float> dout = rounded<floatX>(random_floats(NC, 4));
    std::vector<float> dinp0 = rounded<floatX>(random_floats(NC, 5));  // backward adds into what is there
    std::vector<float> dweight0 = random_floats(C, 6);

    // reference: the residual sum as the GPU stores it (rounded to floatX), then the norm of it
    std::vector<float> res_ref(NC), out_ref(NC), rstd_ref(N), out1_ref(NC), rstd1_ref(N);
    residual_forward(res_ref.data(), inp1.data(), inp2.data(), NC);
    res_ref = rounded<floatX>(res_ref);
    rmsnorm_forward(out_ref.data(), rstd_ref.data(), res_ref.data(), weight.data(), N, C, eps);
    rmsnorm_forward(out1_ref.data(), rstd1_ref.data(), inp1.data(), weight.data(), N, C, eps);
    std::vector<float> dinp_ref = dinp0, dweight_ref = dweight0;
    rmsnorm_backward(dinp_ref.data(), dweight_ref.data(), dout.data(), inp1.data(), weight.data(), rstd1_ref.data(), N, C);

    DeviceArray<floatX> d_inp1(NC), d_inp2(NC), d_w(C), d_res(NC), d_out(NC), d_dout(NC), d_dinp(NC);
    DeviceArray<float> d_rstd(N), d_dw(C), d_scratch(rmsnorm_scratch_floats(N, C));
    upload(d_inp1.ptr, inp1);
    upload(d_inp2.ptr, inp2);
    upload(d_w.ptr, weight);
    upload(d_dout.ptr, dout);
    upload(d_dinp.ptr, dinp0);
    upload(d_dw.ptr, dweight0);

    rmsnorm_forward_gpu(d_out.ptr, d_rstd.ptr, d_inp1.ptr, d_w.ptr, N, C, eps);
    check_scaled(run, "forward out " + tag, download(d_out.ptr, NC), out1_ref, tol);
    check_close(run, "forward rstd " + tag, download(d_rstd.ptr, N), rstd1_ref, 0.0, 1e-5);
    residual_rmsnorm_forward_gpu(d_res.ptr, d_out.ptr, d_rstd.ptr, d_inp1.ptr, d_inp2.ptr, d_w.ptr, N, C, eps);
    check_scaled(run, "residual forward residual " + tag, download(d_res.ptr, NC), res_ref, 1e-6);
    check_scaled(run, "residual forward out " + tag, download(d_out.ptr, NC), out_ref, tol);
    check_close(run, "residual forward rstd " + tag, download(d_rstd.ptr, N), rstd_ref, 0.0, 1e-5);

    // backward from the reference rstd of inp1, so it is checked on its own
    upload(d_rstd.ptr, rstd1_ref);
    rmsnorm_backward_gpu(d_dinp.ptr, d_dw.ptr, d_scratch.ptr, d_dout.ptr, d_inp1.ptr, d_w.ptr, d_rstd.ptr, N, C);
    check_scaled(run, "backward dinp " + tag, download(d_dinp.ptr, NC), dinp_ref, tol);
    check_scaled(run, "backward dweight " + tag, download(d_dw.ptr, C), dweight_ref, 1e-4);

    if (!bench) return;
    double x = sizeof(floatX);
    report_bandwidth(*run, "forward " + tag,
                     time_ms([&] { rmsnorm_forward_gpu(d_out.ptr, d_rstd.ptr, d_inp1.ptr, d_w.ptr, N, C, eps); }),
                     2.0 * NC * x + 4.0 * N);
    report_bandwidth(*run, "residual forward " + tag, time_ms([&] {
                         residual_rmsnorm_forward_gpu(d_res.ptr, d_out.ptr, d_rstd.ptr, d_inp1.ptr, d_inp2.ptr,
                                                      d_w.ptr, N, C, eps);
                     }),
                     4.0 * NC * x + 4.0 * N);
    // dinp: read dout, inp, dinp, write dinp; dweight: read dout and inp once more
    report_bandwidth(*run, "backward " + tag, time_ms([&] {
                         rmsnorm_backward_gpu(d_dinp.ptr, d_dw.ptr, d_scratch.ptr, d_dout.ptr, d_inp1.ptr, d_w.ptr,
                                              d_rstd.ptr, N, C);
                     }),
                     6.0 * NC * x + 4.0 * N);
}

static void rmsnorm_harness(HarnessRun* run) {
    printf("rmsnorm: forward, residual add + forward, backward\n");
    rmsnorm_case<float>(run, "small", 37, 100, false);
    rmsnorm_case<bf16>(run, "small", 37, 100, false);
    rmsnorm_case<float>(run, "small", 600, 64, false);  // more rows than one dweight chunk
    if (!run->full) return;
    for (const TrainerShape& s : TRAINER_SHAPES) {
        rmsnorm_case<float>(run, s.name, s.B * s.T, s.C, false);
        rmsnorm_case<bf16>(run, s.name, s.B * s.T, s.C, true);
    }
}

#ifndef CUDA_HARNESS_NO_MAIN
int main(int argc, char** argv) { return harness_main(argc, argv, "rmsnorm", rmsnorm_harness); }
#endif
