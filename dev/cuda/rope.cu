// dev/cuda/rope.cu: kernels/cuda/rope.cuh against kernels/cpu/rope.h.
#include "harness.h"

#include "../../kernels/cpu/rope.h"
#include "../../kernels/cuda/rope.cuh"

template <typename floatX>
static void rope_case(HarnessRun* run, const char* label, int B, int T, int NH, int NKV, int HS, bool bench) {
    std::string tag = std::string(label) + " <" + dtype_name<floatX>() + "> B=" + std::to_string(B) + " T=" +
                      std::to_string(T) + " NH=" + std::to_string(NH) + " NKV=" + std::to_string(NKV) +
                      " HS=" + std::to_string(HS);
    size_t n = (size_t)B * T * (NH + 2 * NKV) * HS, half = (size_t)T * (HS / 2);
    std::vector<float> cosv(half), sinv(half);
    rope_precompute(cosv.data(), sinv.data(), T, HS, 10000.0f);
    std::vector<float> x = rounded<floatX>(random_floats(n, 1));
    std::vector<float> fwd_ref = x, bwd_ref = x;
    rope_forward(fwd_ref.data(), cosv.data(), sinv.data(), B, T, NH, NKV, HS);
    rope_backward(bwd_ref.data(), cosv.data(), sinv.data(), B, T, NH, NKV, HS);

    DeviceArray<floatX> d_x(n);
    DeviceArray<float> d_cos(half), d_sin(half);
    upload(d_cos.ptr, cosv);
    upload(d_sin.ptr, sinv);
    upload(d_x.ptr, x);
    rope_forward_gpu(d_x.ptr, d_cos.ptr, d_sin.ptr, B, T, NH, NKV, HS);
    check_scaled(run, "forward " + tag, download(d_x.ptr, n), fwd_ref, out_rtol<floatX>());
    upload(d_x.ptr, x);
    rope_backward_gpu(d_x.ptr, d_cos.ptr, d_sin.ptr, B, T, NH, NKV, HS);
    check_scaled(run, "backward " + tag, download(d_x.ptr, n), bwd_ref, out_rtol<floatX>());

    if (!bench) return;
    // q and k are read and written; v is untouched
    double bytes = 2.0 * B * T * (NH + NKV) * HS * sizeof(floatX) + 2.0 * half * sizeof(float);
    report_bandwidth(*run, "forward " + tag,
                     time_ms([&] { rope_forward_gpu(d_x.ptr, d_cos.ptr, d_sin.ptr, B, T, NH, NKV, HS); }), bytes);
}

static void rope_harness(HarnessRun* run) {
    printf("rope: rotation of q and k inside the fused qkv buffer, forward and backward\n");
    rope_case<float>(run, "small", 2, 13, 4, 2, 16, false);
    rope_case<bf16>(run, "small", 2, 13, 4, 2, 16, false);
    if (!run->full) return;
    for (const TrainerShape& s : TRAINER_SHAPES) {
        rope_case<float>(run, s.name, s.B, s.T, s.NH, s.NKV, s.C / s.NH, false);
        rope_case<bf16>(run, s.name, s.B, s.T, s.NH, s.NKV, s.C / s.NH, true);
    }
}

#ifndef CUDA_HARNESS_NO_MAIN
int main(int argc, char** argv) { return harness_main(argc, argv, "rope", rope_harness); }
#endif
