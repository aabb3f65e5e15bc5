// tests/cuda/test_cuda.cu: the CUDA side against the CPU side, run by `make test_cuda`.
//   1. every kernel against its CPU kernel: the dev/cuda harnesses' checks at
//      their small shapes (the same code, included, not repeated);
//   2. the GPU trainer in --fp32 against the CPU trainer: one step from the same
//      weights and batch gives the same loss and gradients (~1e-5), the same
//      AdamW update, and the same logits for sampling; bf16 stays close to fp32;
//   3. determinism, and checkpoints crossing between the trainers both ways, in
//      process and through the real binaries (./train_llama_cu, ./train_llama).
// Without a CUDA device it prints "skipped: no CUDA device" and exits 0.
// Each check prints one line; the last line is "test_cuda: N passed, N failed".
#define CUDA_HARNESS_NO_MAIN
#include "../../dev/cuda/adamw.cu"
#include "../../dev/cuda/attention.cu"
#include "../../dev/cuda/classifier.cu"
#include "../../dev/cuda/embedding.cu"
#include "../../dev/cuda/matmul.cu"
#include "../../dev/cuda/rmsnorm.cu"
#include "../../dev/cuda/rope.cu"
#include "../../dev/cuda/swiglu.cu"

#define TRAIN_LLAMA_CU_NO_MAIN
#include "../../train_llama.cu"

#include "../../common/shard.h"
#include "../test_util.h"

static void expect(HarnessRun* run, bool ok, const std::string& what) {
    if (ok) run->passed++;
    else run->failed++;
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
}

static const char* PARAM_NAMES[NUM_PARAM_TENSORS] = {"wte", "rms_att", "wqkv", "wo", "rms_ffn",
                                                     "w13", "w2", "rms_final", "wcls"};

// The blob cut into its tensors (train_llama.cpp's layout).
static std::vector<std::vector<float>> split_params(const std::vector<float>& blob, const size_t* sizes) {
    std::vector<std::vector<float>> out;
    size_t off = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        out.emplace_back(blob.begin() + off, blob.begin() + off + sizes[i]);
        off += sizes[i];
    }
    return out;
}

static double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return aa == 0 && bb == 0 ? 1.0 : ab / sqrt(aa * bb + 1e-300);
}

// A small model that still has every feature: GQA, two layers, T not a multiple of a tile.
static LlamaConfig test_config(bool tied) {
    LlamaConfig c;
    c.V = 300; c.C = 64; c.L = 2; c.NH = 4; c.NKV = 2; c.H = 96; c.maxT = 48; c.tied = tied ? 1 : 0;
    return c;
}

struct TestBatch {
    int B = 3, T = 37;
    std::vector<int> inputs, targets;
    explicit TestBatch(int V, uint64_t seed) {
        inputs = random_ints((size_t)B * T, seed, V);
        targets = random_ints((size_t)B * T, seed + 1, V);
        for (int i = 0; i < 20; i++) inputs[i] = 7;  // a repeated token for the embedding backward
    }
};

// One GPU step (forward, loss, backward) from the CPU model's weights; returns the mean loss.
template <typename floatX>
static float gpu_step_from(LlamaGpu<floatX>* gpu, const Llama& cpu, const TestBatch& b) {
    memcpy(gpu->host.params_memory, cpu.params_memory, cpu.num_params * sizeof(float));
    gpu_upload_params(gpu);
    gpu_zero_grad(gpu);
    gpu_forward(gpu, b.inputs.data(), b.targets.data(), b.B, b.T);
    gpu_classifier(gpu, b.B, b.T, 1.0f);
    gpu_backward(gpu, b.B, b.T);
    return (float)(gpu_loss_sum(gpu, b.B, b.T) / ((size_t)b.B * b.T));
}

static void test_trainer_step(HarnessRun* run, bool tied) {
    const char* head = tied ? "tied" : "untied";
    printf("trainer (%s head): one step on the GPU against the CPU trainer\n", head);
    LlamaConfig c = test_config(tied);
    TestBatch b(c.V, 21);
    Llama cpu;
    llama_build(&cpu, c);
    llama_init_params(&cpu, 11);
    float loss_cpu = llama_forward(&cpu, b.inputs.data(), b.targets.data(), b.B, b.T);
    llama_zero_grad(&cpu);
    llama_backward(&cpu, b.B, b.T, 1.0f);
    std::vector<float> g_cpu(cpu.grads_memory, cpu.grads_memory + cpu.num_params);
    auto g_cpu_t = split_params(g_cpu, cpu.param_sizes);

    // --fp32: the same numbers up to summation order
    LlamaGpu<float> g32;
    gpu_build(&g32, c, false);
    float loss32 = gpu_step_from(&g32, cpu, b);
    check_close(run, std::string("fp32 loss, ") + head, {loss32}, {loss_cpu}, 0.0, 1e-5);
    std::vector<float> grads32 = download(g32.grads, g32.num_params);
    auto g32_t = split_params(grads32, cpu.param_sizes);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++)
        if (cpu.param_sizes[i])
            check_scaled(run, std::string("fp32 gradient ") + PARAM_NAMES[i] + ", " + head, g32_t[i], g_cpu_t[i], 1e-4);

    // the sampler's logits: the last row of a (1, T) forward
    {
        int T = b.T;
        llama_forward(&cpu, b.inputs.data(), nullptr, 1, T);
        std::vector<float> ref(cpu.acts.logits + (size_t)(T - 1) * c.V, cpu.acts.logits + (size_t)T * c.V), got(c.V);
        gpu_forward(&g32, b.inputs.data(), nullptr, 1, T);
        gpu_logits_row(&g32, T - 1, got.data());
        check_scaled(run, std::string("fp32 logits of the last position, ") + head, got, ref, 1e-4);
    }

    // AdamW from identical gradients: the same update
    CUDA_CHECK(cudaMemcpy(g32.grads, cpu.grads_memory, cpu.num_params * sizeof(float), cudaMemcpyHostToDevice));
    AdamWConfig opt;
    float norm_cpu = llama_update(&cpu, 1e-3f, opt);
    float norm_gpu = gpu_update(&g32, 1e-3f, opt);
    check_close(run, std::string("gradient norm, ") + head, {norm_gpu}, {norm_cpu}, 0.0, 1e-5);
    std::vector<float> p_cpu(cpu.params_memory, cpu.params_memory + cpu.num_params);
    check_close(run, std::string("parameters after AdamW, ") + head, download(g32.params, g32.num_params), p_cpu, 1e-7,
                1e-5);

    // bf16: the same direction, close loss (both attention kernels)
    for (bool simple : {false, true}) {
        std::string what = std::string("bf16") + (simple ? " (plain attention)" : " (tensor-core attention)") + ", " + head;
        LlamaGpu<bf16> g16;
        gpu_build(&g16, c, simple);
        float loss16 = gpu_step_from(&g16, cpu, b);
        LlamaGpu<float> ref32;  // fp32 from the same (updated) weights
        gpu_build(&ref32, c, false);
        float loss_ref = gpu_step_from(&ref32, cpu, b);
        check_close(run, what + " loss within 1% of fp32", {loss16}, {loss_ref}, 0.0, 1e-2);
        auto t16 = split_params(download(g16.grads, g16.num_params), cpu.param_sizes);
        auto t32 = split_params(download(ref32.grads, ref32.num_params), cpu.param_sizes);
        double worst = 1.0;
        for (int i = 0; i < NUM_PARAM_TENSORS; i++)
            if (cpu.param_sizes[i]) worst = std::min(worst, cosine(t16[i], t32[i]));
        char buf[64];
        snprintf(buf, sizeof buf, " (worst %.5f)", worst);
        expect(run, worst > 0.99, what + " gradients: cosine with fp32 > 0.99 for every tensor" + buf);
        gpu_free(&ref32);
        gpu_free(&g16);
    }
    gpu_free(&g32);
    llama_free(&cpu);
}

static void test_determinism(HarnessRun* run) {
    printf("determinism: two bf16 steps from the same state give bit-identical gradients\n");
    LlamaConfig c = test_config(true);
    TestBatch b(c.V, 31);
    Llama cpu;
    llama_build(&cpu, c);
    llama_init_params(&cpu, 5);
    LlamaGpu<bf16> g;
    gpu_build(&g, c, false);
    gpu_step_from(&g, cpu, b);
    std::vector<float> first = download(g.grads, g.num_params);
    gpu_step_from(&g, cpu, b);
    std::vector<float> second = download(g.grads, g.num_params);
    expect(run, memcmp(first.data(), second.data(), first.size() * sizeof(float)) == 0, "bf16 gradients, bit for bit");
    gpu_free(&g);
    llama_free(&cpu);
}

// A checkpoint written by one trainer loads in the other with every float intact.
static void test_checkpoint_in_process(HarnessRun* run) {
    printf("checkpoints: GPU → CPU and CPU → GPU, in process\n");
    LlamaConfig c = test_config(false);
    TestBatch b(c.V, 41);
    TempDir dir;
    Llama cpu;
    llama_build(&cpu, c);
    llama_init_params(&cpu, 9);
    LlamaGpu<bf16> g;
    gpu_build(&g, c, false);
    gpu_step_from(&g, cpu, b);
    AdamWConfig opt;
    gpu_update(&g, 1e-3f, opt);  // moments and step worth saving
    gpu_save_checkpoint(&g, dir / "gpu.bin", TrainState{1, 77, 0, 3, 1337, (uint64_t)b.T});
    Llama back;
    llama_build(&back, c);
    TrainState st;
    bool resumed = llama_load_checkpoint(&back, dir / "gpu.bin", &st);
    expect(run, resumed && st.step == 1 && st.rng_state == 77 && st.data_index == 3, "GPU checkpoint: CPU reads its train state");
    std::vector<float> p = download(g.params, g.num_params), m = download(g.m, g.num_params), v = download(g.v, g.num_params);
    expect(run, !memcmp(p.data(), back.params_memory, p.size() * 4) && !memcmp(m.data(), back.m_memory, m.size() * 4) &&
                    !memcmp(v.data(), back.v_memory, v.size() * 4),
           "GPU checkpoint: CPU loads the fp32 master weights and moments bit for bit");

    llama_save_checkpoint(&back, dir / "cpu.bin", st);
    LlamaGpu<float> g2;
    gpu_build(&g2, c, false);
    TrainState st2;
    bool resumed2 = gpu_load_checkpoint(&g2, dir / "cpu.bin", &st2);
    std::vector<float> p2 = download(g2.params, g2.num_params), m2 = download(g2.m, g2.num_params);
    expect(run, resumed2 && g2.step == 1 && !memcmp(p2.data(), back.params_memory, p2.size() * 4) &&
                    !memcmp(m2.data(), back.m_memory, m2.size() * 4),
           "CPU checkpoint: GPU loads weights, moments and step bit for bit");
    gpu_free(&g2);
    gpu_free(&g);
    llama_free(&back);
    llama_free(&cpu);
}

// The real binaries: train on one, resume on the other, both directions.
static void test_binaries(HarnessRun* run) {
    printf("binaries: ./train_llama_cu and ./train_llama resume each other's checkpoints\n");
    if (!path_exists("./train_llama_cu") || !path_exists("./train_llama")) {
        expect(run, false, "./train_llama_cu and ./train_llama are built (make train_llama_cu train_llama)");
        return;
    }
    TempDir dir;
    std::vector<uint32_t> tok(6000);
    for (size_t i = 0; i < tok.size(); i++) tok[i] = (uint32_t)((i * 7 + i / 13) % 64);
    write_shard(dir / "train.bin", tok, 64);
    write_shard(dir / "val.bin", std::vector<uint32_t>(tok.begin(), tok.begin() + 1000), 64);
    // -d 256 = two micro-batches per step: gradient accumulation is covered too
    std::string common = " --vocab 64 --dim 64 --layers 2 --heads 4 --kv-heads 2 --hidden 96 --seq-len 32 -b 4 -t 32"
                         " -d 256 -x 4 -v 0 -m 2 -l 3e-3 -u 1 --seed 5 -z \"\" -i " + (dir / "train.bin") +
                         " -j " + (dir / "val.bin");
    auto last_loss = [](const std::string& out) {
        size_t at = out.rfind("step     4/4 | loss ");
        return at == std::string::npos ? -1.0f : (float)atof(out.c_str() + at + 20);
    };
    RunResult cpu = run_command("./train_llama" + common + " -n 2 -o " + (dir / "cpu"));
    RunResult gpu = run_command("./train_llama_cu --fp32" + common + " -n 2 -o " + (dir / "gpu"));
    expect(run, cpu.status == 0 && gpu.status == 0, "4 steps on each trainer");
    if (cpu.status || gpu.status) printf("%s\n%s\n", cpu.output.c_str(), gpu.output.c_str());
    RunResult gpu_then_cpu = run_command("./train_llama" + common + " -e " + (dir / "gpu/ckpt_000002.bin") + " -o " + (dir / "gc"));
    RunResult cpu_then_gpu = run_command("./train_llama_cu --fp32" + common + " -e " + (dir / "cpu/ckpt_000002.bin") + " -o " + (dir / "cg"));
    expect(run, gpu_then_cpu.status == 0 && gpu_then_cpu.output.find("resumed from") != std::string::npos,
           "the CPU trainer resumes a GPU checkpoint");
    expect(run, cpu_then_gpu.status == 0 && cpu_then_gpu.output.find("resumed from") != std::string::npos,
           "the GPU trainer resumes a CPU checkpoint");
    float l_cpu = last_loss(cpu.output), l_gc = last_loss(gpu_then_cpu.output), l_cg = last_loss(cpu_then_gpu.output);
    char buf[160];
    snprintf(buf, sizeof buf, "step-4 loss agrees across the hand-overs (CPU %.5f, GPU→CPU %.5f, CPU→GPU %.5f)", l_cpu,
             l_gc, l_cg);
    expect(run, l_cpu > 0 && fabsf(l_gc - l_cpu) < 1e-3f * l_cpu && fabsf(l_cg - l_cpu) < 1e-3f * l_cpu, buf);
    RunResult bf = run_command("./train_llama_cu" + common + " -o " + (dir / "bf16"));
    float l_bf = last_loss(bf.output);
    snprintf(buf, sizeof buf, "bf16 run: step-4 loss within 1%% of the CPU's (%.5f vs %.5f)", l_bf, l_cpu);
    expect(run, bf.status == 0 && fabsf(l_bf - l_cpu) < 1e-2f * l_cpu, buf);
}

int main() {
    const char* why = "";
    if (cuda_device_count(&why) == 0) {
        printf("test_cuda: skipped: no CUDA device (%s)\n", why);
        return 0;
    }
    HarnessRun run;
    run.full = false;
    run.dev = device_info();
    print_device(run.dev);
    for (void (*harness)(HarnessRun*) : {embedding_harness, rmsnorm_harness, rope_harness, swiglu_harness,
                                         classifier_harness, matmul_harness, adamw_harness, attention_harness})
        harness(&run);
    test_trainer_step(&run, true);
    test_trainer_step(&run, false);
    test_determinism(&run);
    test_checkpoint_in_process(&run);
    test_binaries(&run);
    printf("test_cuda: %d passed, %d failed\n", run.passed, run.failed);
    return run.failed ? 1 : 0;
}
