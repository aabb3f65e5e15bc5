// dev/cuda/embedding.cu: kernels/cuda/embedding.cuh against kernels/cpu/embedding.h.
// The backward's hard case is repeated tokens, so the batches here are skewed:
// a few ids take most positions, as in real text.
#include "harness.h"

#include "../../kernels/cpu/embedding.h"
#include "../../kernels/cuda/embedding.cuh"

// Ids V·u³: low ids repeat a lot, high ids rarely.
static std::vector<int> embedding_skewed_tokens(int N, int V, uint64_t seed) {
    std::vector<float> u = random_floats(N, seed, 0.0f, 1.0f);
    std::vector<int> tok(N);
    for (int i = 0; i < N; i++) tok[i] = std::min(V - 1, (int)(V * u[i] * u[i] * u[i]));
    return tok;
}

template <typename floatX>
static void embedding_case(HarnessRun* run, const char* label, int N, int V, int C, bool bench) {
    std::string tag = std::string(label) + " <" + dtype_name<floatX>() + "> N=" + std::to_string(N) +
                      " V=" + std::to_string(V) + " C=" + std::to_string(C);
    std::vector<float> wte = rounded<floatX>(random_floats((size_t)V * C, 1));
    std::vector<float> dout = rounded<floatX>(random_floats((size_t)N * C, 2));
    std::vector<float> dwte0 = random_floats((size_t)V * C, 3);  // backward adds into what is there
    std::vector<int> tok = embedding_skewed_tokens(N, V, 4);

    std::vector<float> out_ref((size_t)N * C), dwte_ref = dwte0;
    embedding_forward(out_ref.data(), tok.data(), wte.data(), N, C);
    embedding_backward(dwte_ref.data(), dout.data(), tok.data(), N, C);

    DeviceArray<floatX> d_wte((size_t)V * C), d_out((size_t)N * C), d_dout((size_t)N * C);
    DeviceArray<float> d_dwte((size_t)V * C);
    DeviceArray<int> d_tok(N), d_plan(embedding_plan_max_ints(N));
    upload(d_wte.ptr, wte);
    upload(d_dout.ptr, dout);
    upload(d_dwte.ptr, dwte0);
    upload_ints(d_tok.ptr, tok);
    embedding_forward_gpu(d_out.ptr, d_tok.ptr, d_wte.ptr, N, C);
    check_close(run, "forward " + tag, download(d_out.ptr, d_out.n), out_ref, 0.0, 0.0);  // a copy: exact

    EmbeddingBackwardPlan plan;
    embedding_backward_plan(&plan, tok.data(), N);
    upload_ints(d_plan.ptr, plan.packed);
    embedding_backward_gpu(d_dwte.ptr, d_dout.ptr, d_plan.ptr, N, plan.U, C);
    // same values summed in the same order; only where the running sum starts differs
    check_close(run, "backward " + tag, download(d_dwte.ptr, d_dwte.n), dwte_ref, 1e-6, 1e-5);

    if (!bench) return;
    report_bandwidth(*run, "forward " + tag, time_ms([&] { embedding_forward_gpu(d_out.ptr, d_tok.ptr, d_wte.ptr, N, C); }),
                     2.0 * N * C * sizeof(floatX) + N * sizeof(int));
    double ms = time_ms([&] { embedding_backward_gpu(d_dwte.ptr, d_dout.ptr, d_plan.ptr, N, plan.U, C); });
    report_bandwidth(*run, "backward " + tag + " U=" + std::to_string(plan.U), ms,
                     (double)N * C * sizeof(floatX) + 2.0 * plan.U * C * sizeof(float));
    double t0 = now_ms();
    for (int i = 0; i < 10; i++) embedding_backward_plan(&plan, tok.data(), N);
    printf("  time %-50s %9.3f ms (host, per batch)\n", "backward plan (grouping by token)", (now_ms() - t0) / 10);
}

static void embedding_harness(HarnessRun* run) {
    printf("embedding: forward (lookup) and backward (deterministic scatter-add by token)\n");
    embedding_case<float>(run, "small", 300, 97, 70, false);
    embedding_case<bf16>(run, "small", 300, 97, 70, false);
    if (!run->full) return;
    for (const TrainerShape& s : TRAINER_SHAPES) {
        embedding_case<float>(run, s.name, s.B * s.T, s.V, s.C, false);
        embedding_case<bf16>(run, s.name, s.B * s.T, s.V, s.C, true);
    }
}

#ifndef CUDA_HARNESS_NO_MAIN
int main(int argc, char** argv) { return harness_main(argc, argv, "embedding", embedding_harness); }
#endif
