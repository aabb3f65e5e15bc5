// dev/cuda/matmul.cu: the cuBLAS matmuls (kernels/cuda/matmul.cuh) against
// kernels/cpu/matmul.h, at every projection of the trainer.
#include "harness.h"

#include "../../kernels/cpu/matmul.h"
#include "../../kernels/cuda/classifier.cuh"  // classifier_chunk_rows
#include "../../kernels/cuda/matmul.cuh"

template <typename floatX>
static void matmul_case(HarnessRun* run, const CublasContext& ctx, const std::string& label, int N, int C, int OC,
                        bool check, bool bench) {
    std::string tag = label + " <" + dtype_name<floatX>() + "> N=" + std::to_string(N) + " C=" + std::to_string(C) +
                      " OC=" + std::to_string(OC);
    size_t NC = (size_t)N * C, NO = (size_t)N * OC, OCC = (size_t)OC * C;
    std::vector<float> inp = rounded<floatX>(random_floats(NC, 1));
    std::vector<float> weight = rounded<floatX>(random_floats(OCC, 2, -0.1f, 0.1f));
    std::vector<float> dout = rounded<floatX>(random_floats(NO, 3));

    DeviceArray<floatX> d_inp(NC), d_w(OCC), d_out(NO), d_dout(NO), d_dinp(NC);
    DeviceArray<float> d_dw(OCC);
    upload(d_inp.ptr, inp);
    upload(d_w.ptr, weight);
    upload(d_dout.ptr, dout);
    if (check) {
        std::vector<float> dinp0 = rounded<floatX>(random_floats(NC, 4));
        std::vector<float> dweight0 = random_floats(OCC, 5);  // the fp32 gradient is accumulated into
        std::vector<float> out_ref(NO), dinp_ref(NC, 0.0f), dinp_acc_ref = dinp0, dweight_ref = dweight0;
        matmul_forward(out_ref.data(), inp.data(), weight.data(), N, C, OC);
        matmul_backward(dinp_ref.data(), dweight_ref.data(), dout.data(), inp.data(), weight.data(), N, C, OC);
        matmul_backward(dinp_acc_ref.data(), nullptr, dout.data(), inp.data(), weight.data(), N, C, OC);
        matmul_forward_gpu(ctx, d_out.ptr, d_inp.ptr, d_w.ptr, N, C, OC);
        check_scaled(run, "forward " + tag, download(d_out.ptr, NO), out_ref, out_rtol<floatX>());
        upload(d_dw.ptr, dweight0);
        matmul_backward_gpu(ctx, d_dinp.ptr, d_dw.ptr, d_dout.ptr, d_inp.ptr, d_w.ptr, N, C, OC, false);
        check_scaled(run, "backward dinp " + tag, download(d_dinp.ptr, NC), dinp_ref, out_rtol<floatX>());
        // fp32 output from identical inputs: only the summation order differs
        check_scaled(run, "backward dweight += " + tag, download(d_dw.ptr, OCC), dweight_ref, 1e-4);
        upload(d_dinp.ptr, dinp0);
        matmul_backward_gpu(ctx, d_dinp.ptr, (float*)nullptr, d_dout.ptr, d_inp.ptr, d_w.ptr, N, C, OC, true);
        check_scaled(run, "backward dinp += " + tag, download(d_dinp.ptr, NC), dinp_acc_ref, out_rtol<floatX>());
    }
    if (!bench) return;
    double flops = 2.0 * N * C * OC, peak = peak_flops<floatX>(run->dev);
    report_flops("forward " + tag, time_ms([&] { matmul_forward_gpu(ctx, d_out.ptr, d_inp.ptr, d_w.ptr, N, C, OC); }),
                 flops, peak);
    report_flops("backward (dinp + dweight) " + tag, time_ms([&] {
                     matmul_backward_gpu(ctx, d_dinp.ptr, d_dw.ptr, d_dout.ptr, d_inp.ptr, d_w.ptr, N, C, OC, false);
                 }),
                 2.0 * flops, peak);
}

// Every projection of one layer plus the classifier, as the trainer calls them.
template <typename floatX>
static void matmul_trainer_shape(HarnessRun* run, const CublasContext& ctx, const TrainerShape& s, bool check,
                                 bool bench) {
    int BT = s.B * s.T, HS = s.C / s.NH, QKV = (s.NH + 2 * s.NKV) * HS;
    std::string name = s.name;
    matmul_case<floatX>(run, ctx, name + " qkv", BT, s.C, QKV, check, bench);
    matmul_case<floatX>(run, ctx, name + " wo", BT, s.NH * HS, s.C, check, bench);
    matmul_case<floatX>(run, ctx, name + " w13", BT, s.C, 2 * s.H, check, bench);
    matmul_case<floatX>(run, ctx, name + " w2", BT, s.H, s.C, check, bench);
    // the trainer runs the classifier on chunks of rows
    matmul_case<floatX>(run, ctx, name + " classifier", classifier_chunk_rows(BT, s.V), s.C, s.V, check, bench);
}

static void matmul_harness(HarnessRun* run) {
    printf("matmul: cuBLAS, floatX operands, fp32 accumulation and fp32 weight gradient\n");
    CublasContext ctx;
    cublas_create(&ctx);
    matmul_case<float>(run, ctx, "small", 37, 50, 29, true, false);
    matmul_case<bf16>(run, ctx, "small", 37, 50, 29, true, false);
    if (run->full) {
        // the CPU reference is checked at llama-5M; at 124M the products only differ in size
        matmul_trainer_shape<float>(run, ctx, TRAINER_SHAPES[0], true, false);
        matmul_trainer_shape<bf16>(run, ctx, TRAINER_SHAPES[0], true, true);
        matmul_trainer_shape<bf16>(run, ctx, TRAINER_SHAPES[1], false, true);
        matmul_trainer_shape<float>(run, ctx, TRAINER_SHAPES[1], false, true);
    }
    cublas_destroy(&ctx);
}

#ifndef CUDA_HARNESS_NO_MAIN
int main(int argc, char** argv) { return harness_main(argc, argv, "matmul", matmul_harness); }
#endif
