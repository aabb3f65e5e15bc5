// dev/cuda/attention.cu: the flash-style attention kernels against
// kernels/cpu/attention.h (which stores the (T, T) probabilities): the plain
// kernels (kernels/cuda/attention.cuh) for fp32 and bf16, and the tensor-core
// ones (kernels/cuda/attention_tc.cuh) for bf16. Backward is checked on the
// kernel's own forward output and lse, as the trainer runs it.
#include "harness.h"

#include "../../kernels/cpu/attention.h"
#include "../../kernels/cuda/attention_tc.cuh"

enum AttentionImpl { ATT_PLAIN, ATT_TENSOR_CORES };

template <typename floatX>
static void attention_run_forward(AttentionImpl impl, floatX* out, float* lse, const floatX* qkv, int B, int T,
                                  int NH, int NKV, int HS) {
    if constexpr (std::is_same<floatX, bf16>::value)
        if (impl == ATT_TENSOR_CORES) return attention_forward_tc_gpu(out, lse, qkv, B, T, NH, NKV, HS);
    attention_forward_gpu(out, lse, qkv, B, T, NH, NKV, HS);
}

template <typename floatX>
static void attention_run_backward(AttentionImpl impl, floatX* dqkv, float* D, const floatX* dout, const floatX* qkv,
                                   const floatX* out, const float* lse, int B, int T, int NH, int NKV, int HS) {
    if constexpr (std::is_same<floatX, bf16>::value)
        if (impl == ATT_TENSOR_CORES) return attention_backward_tc_gpu(dqkv, D, dout, qkv, out, lse, B, T, NH, NKV, HS);
    attention_backward_gpu(dqkv, D, dout, qkv, out, lse, B, T, NH, NKV, HS);
}

template <typename floatX>
static void attention_case(HarnessRun* run, AttentionImpl impl, const char* label, int B, int T, int NH, int NKV,
                           int HS, bool check, bool bench) {
    std::string tag = std::string(label) + (impl == ATT_TENSOR_CORES ? " tensor-core" : " plain") + " <" +
                      dtype_name<floatX>() + "> B=" + std::to_string(B) + " T=" + std::to_string(T) + " NH=" +
                      std::to_string(NH) + " NKV=" + std::to_string(NKV) + " HS=" + std::to_string(HS);
    int row = (NH + 2 * NKV) * HS;
    size_t nqkv = (size_t)B * T * row, nout = (size_t)B * T * NH * HS;
    // ±2: scores of a few units, so the softmax is far from uniform
    std::vector<float> qkv = rounded<floatX>(random_floats(nqkv, 1, -2.0f, 2.0f));
    std::vector<float> dout = rounded<floatX>(random_floats(nout, 2));

    DeviceArray<floatX> d_qkv(nqkv), d_out(nout), d_dout(nout), d_dqkv(nqkv);
    DeviceArray<float> d_lse((size_t)B * NH * T), d_D((size_t)B * NH * T);
    upload(d_qkv.ptr, qkv);
    upload(d_dout.ptr, dout);
    attention_run_forward(impl, d_out.ptr, d_lse.ptr, d_qkv.ptr, B, T, NH, NKV, HS);
    if (check) {
        std::vector<float> out_ref(nout), att((size_t)B * NH * T * T), dqkv_ref(nqkv);
        attention_forward(out_ref.data(), att.data(), qkv.data(), B, T, NH, NKV, HS);
        attention_backward(dqkv_ref.data(), dout.data(), qkv.data(), att.data(), B, T, NH, NKV, HS);
        // lse against the CPU's probabilities: p(t, 0) = exp(s(t, 0) − lse(t))
        std::vector<float> lse = download(d_lse.ptr, (size_t)B * NH * T), p0(lse.size()), p0_ref(lse.size());
        float scale = 1.0f / sqrtf((float)HS);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < T; t++) {
                    size_t i = ((size_t)b * NH + h) * T + t;
                    const float* q = &qkv[((size_t)b * T + t) * row + h * HS];
                    const float* k = &qkv[((size_t)b * T) * row + (NH + h / (NH / NKV)) * HS];
                    float s = 0.0f;
                    for (int d = 0; d < HS; d++) s += q[d] * k[d];
                    p0[i] = expf(s * scale - lse[i]);
                    p0_ref[i] = att[i * T];
                }
        check_scaled(run, "forward lse " + tag, p0, p0_ref, 1e-4);
        check_scaled(run, "forward out " + tag, download(d_out.ptr, nout), out_ref, out_rtol<floatX>());
        attention_run_backward(impl, d_dqkv.ptr, d_D.ptr, d_dout.ptr, d_qkv.ptr, d_out.ptr, d_lse.ptr, B, T, NH, NKV, HS);
        std::vector<float> dqkv = download(d_dqkv.ptr, nqkv);
        // dq, dk, dv have different scales: judge each part against its own
        const char* part_name[3] = {"dq", "dk", "dv"};
        int part_begin[4] = {0, NH * HS, (NH + NKV) * HS, row};
        for (int part = 0; part < 3; part++) {
            std::vector<float> g, r;
            for (size_t bt = 0; bt < (size_t)B * T; bt++)
                for (int c = part_begin[part]; c < part_begin[part + 1]; c++) {
                    g.push_back(dqkv[bt * row + c]);
                    r.push_back(dqkv_ref[bt * row + c]);
                }
            check_scaled(run, std::string("backward ") + part_name[part] + " " + tag, g, r, 2 * out_rtol<floatX>());
        }
    }
    if (!bench) return;
    // useful FLOPs: q·kᵀ and p·v over the causal half; backward does 2.5× forward's (FlashAttention's convention)
    double fwd = 4.0 * B * NH * (double)T * T * HS / 2;
    double peak = impl == ATT_TENSOR_CORES ? run->dev.peak_bf16 : run->dev.peak_fp32;
    report_flops("forward " + tag,
                 time_ms([&] { attention_run_forward(impl, d_out.ptr, d_lse.ptr, d_qkv.ptr, B, T, NH, NKV, HS); }),
                 fwd, peak);
    report_flops("backward " + tag, time_ms([&] {
                     attention_run_backward(impl, d_dqkv.ptr, d_D.ptr, d_dout.ptr, d_qkv.ptr, d_out.ptr, d_lse.ptr, B,
                                            T, NH, NKV, HS);
                 }),
                 2.5 * fwd, peak);
}

static void attention_harness(HarnessRun* run) {
    printf("attention: causal, GQA, flash-style (online softmax, no (T, T) tensor), forward and backward\n");
    // T not a multiple of any tile; GQA; every compiled head size
    for (int HS : {16, 32, 64, 128}) {
        attention_case<float>(run, ATT_PLAIN, "small", 2, 77, 4, 2, HS, true, false);
        attention_case<bf16>(run, ATT_PLAIN, "small", 2, 77, 4, 2, HS, true, false);
        attention_case<bf16>(run, ATT_TENSOR_CORES, "small", 2, 77, 4, 2, HS, true, false);
    }
    attention_case<bf16>(run, ATT_TENSOR_CORES, "tiny", 1, 1, 2, 1, 64, true, false);  // a single position
    if (!run->full) return;
    for (const TrainerShape& s : TRAINER_SHAPES) {
        int HS = s.C / s.NH;
        // the CPU reference at the trainer's T and heads, one sequence (it stores (T, T) per head)
        attention_case<float>(run, ATT_PLAIN, s.name, 1, s.T, s.NH, s.NKV, HS, true, false);
        attention_case<bf16>(run, ATT_TENSOR_CORES, s.name, 1, s.T, s.NH, s.NKV, HS, true, false);
        attention_case<bf16>(run, ATT_TENSOR_CORES, s.name, s.B, s.T, s.NH, s.NKV, HS, false, true);
        attention_case<bf16>(run, ATT_PLAIN, s.name, s.B, s.T, s.NH, s.NKV, HS, false, true);
        attention_case<float>(run, ATT_PLAIN, s.name, s.B, s.T, s.NH, s.NKV, HS, false, true);
    }
}

#ifndef CUDA_HARNESS_NO_MAIN
int main(int argc, char** argv) { return harness_main(argc, argv, "attention", attention_harness); }
#endif
