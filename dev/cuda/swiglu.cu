// dev/cuda/swiglu.cu: kernels/cuda/swiglu.cuh against kernels/cpu/swiglu.h.
#include "harness.h"

#include "../../kernels/cpu/swiglu.h"
#include "../../kernels/cuda/swiglu.cuh"

template <typename floatX>
static void swiglu_case(HarnessRun* run, const char* label, int N, int H, bool bench) {
    std::string tag = std::string(label) + " <" + dtype_name<floatX>() + "> N=" + std::to_string(N) +
                      " H=" + std::to_string(H);
    size_t NH2 = (size_t)N * 2 * H, NH1 = (size_t)N * H;
    std::vector<float> h13 = rounded<floatX>(random_floats(NH2, 1, -4.0f, 4.0f));
    std::vector<float> dout = rounded<floatX>(random_floats(NH1, 2));
    std::vector<float> out_ref(NH1), dh13_ref(NH2);
    swiglu_forward(out_ref.data(), h13.data(), N, H);
    swiglu_backward(dh13_ref.data(), dout.data(), h13.data(), N, H);

    DeviceArray<floatX> d_h13(NH2), d_out(NH1), d_dout(NH1), d_dh13(NH2);
    upload(d_h13.ptr, h13);
    upload(d_dout.ptr, dout);
    swiglu_forward_gpu(d_out.ptr, d_h13.ptr, N, H);
    check_scaled(run, "forward " + tag, download(d_out.ptr, NH1), out_ref, out_rtol<floatX>());
    swiglu_backward_gpu(d_dh13.ptr, d_dout.ptr, d_h13.ptr, N, H);
    check_scaled(run, "backward " + tag, download(d_dh13.ptr, NH2), dh13_ref, out_rtol<floatX>());

    if (!bench) return;
    double x = sizeof(floatX);
    report_bandwidth(*run, "forward " + tag, time_ms([&] { swiglu_forward_gpu(d_out.ptr, d_h13.ptr, N, H); }),
                     3.0 * NH1 * x);
    report_bandwidth(*run, "backward " + tag,
                     time_ms([&] { swiglu_backward_gpu(d_dh13.ptr, d_dout.ptr, d_h13.ptr, N, H); }), 5.0 * NH1 * x);
}

static void swiglu_harness(HarnessRun* run) {
    printf("swiglu: silu(a) * b over the fused w1/w3 output, forward and backward\n");
    swiglu_case<float>(run, "small", 37, 70, false);
    swiglu_case<bf16>(run, "small", 37, 70, false);
    if (!run->full) return;
    for (const TrainerShape& s : TRAINER_SHAPES) {
        swiglu_case<float>(run, s.name, s.B * s.T, s.H, false);
        swiglu_case<bf16>(run, s.name, s.B * s.T, s.H, true);
    }
}

#ifndef CUDA_HARNESS_NO_MAIN
int main(int argc, char** argv) { return harness_main(argc, argv, "swiglu", swiglu_harness); }
#endif
