// train_llama.cpp: train a Llama-architecture language model on the CPU.
//
// Read top to bottom: config, parameter layout, activation layout, forward,
// backward, AdamW update, learning-rate schedule, evaluation and sampling,
// checkpoints, then main. Every forward and backward pass is written out by
// hand from the kernels in kernels/cpu/ (one op per file); there is no autograd.
// The step runs their fast versions: the packed GEMM, tiled (flash) attention
// that keeps no (T, T) probabilities, the classifier fused with its loss and
// backward a chunk of rows at a time, the residual add fused into RMSNorm, and
// vectorised RoPE, SwiGLU and AdamW. --profile prints the time of each.
//
// Model: token embedding; per layer pre-norm RMSNorm → attention with RoPE and
// grouped-query heads → residual → RMSNorm → SwiGLU MLP → residual; final
// RMSNorm; output head tied to the embedding (or separate with --untied);
// mean cross-entropy loss.
//
// Shape letters, the same in every file: B batch, T time, C channels (dim),
// NH query heads, NKV key/value heads, HS head size (C/NH), H MLP hidden size,
// V vocabulary, L layers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sys/mman.h>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#include "common/args.h"
#include "common/checkpoint.h"
#include "common/dataloader.h"
#include "common/dist.h"
#include "common/evaluate.h"
#include "common/hf.h"
#include "common/llama2c.h"
#include "common/logger.h"
#include "common/optimizer.h"
#include "common/prune.h"
#include "common/report.h"
#include "common/report_html.h"
#include "common/rng.h"
#include "common/run.h"
#include "common/safetensors.h"
#include "common/sampler.h"
#include "common/trainer.h"
#include "common/util.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_bf16.h"
#include "kernels/cpu/classifier.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/peak.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/swiglu.h"
#include "tokenizer/tokenizer.h"

// ----------------------------------------------------------------------------
// Config

struct LlamaConfig {
    int V = 0;        // vocabulary size
    int C = 0;        // model dim
    int L = 0;        // layers
    int NH = 0;       // query heads
    int NKV = 0;      // key/value heads (divides NH)
    int H = 0;        // SwiGLU hidden size
    int maxT = 0;     // longest sequence (length of the RoPE tables)
    int tied = 1;     // output head shares the token embedding
    float rope_theta = 10000.0f;
    float norm_eps = 1e-5f;
};

struct ModelPreset {
    const char* name;
    LlamaConfig config;
};

// {V, C, L, NH, NKV, H, maxT, tied}
static const ModelPreset MODEL_PRESETS[] = {
    {"llama-5M", {4096, 256, 6, 4, 4, 512, 256, 1}},  // 4.98M parameters, tied
    {"llama-1M", {4096, 128, 4, 4, 2, 256, 256, 1}},  // 1.03M parameters, tied
};

// Checks that the shape is buildable; `where` says where it came from.
static void config_validate(const LlamaConfig& c, const char* where) {
    if (c.V < 2 || c.C < 2 || c.L < 1 || c.NH < 1 || c.NKV < 1 || c.H < 1 || c.maxT < 1)
        die("%s: every model size must be positive (vocab %d, dim %d, layers %d, heads %d, kv-heads %d, hidden %d, seq-len %d)",
            where, c.V, c.C, c.L, c.NH, c.NKV, c.H, c.maxT);
    if (c.C % c.NH != 0) die("%s: dim %d is not divisible by heads %d", where, c.C, c.NH);
    if ((c.C / c.NH) % 2 != 0) die("%s: head size %d must be even for RoPE", where, c.C / c.NH);
    if (c.NH % c.NKV != 0) die("%s: kv-heads %d must divide heads %d", where, c.NKV, c.NH);
    if (!(c.rope_theta > 0.0f)) die("%s: rope theta must be positive, got %g", where, c.rope_theta);
}

// The config lives in the checkpoint header at CKPT_CONFIG_OFFSET, in this order.
static void config_to_header(const LlamaConfig& c, int* header) {
    int* h = header + CKPT_CONFIG_OFFSET;
    h[0] = c.V; h[1] = c.C; h[2] = c.L; h[3] = c.NH; h[4] = c.NKV; h[5] = c.H; h[6] = c.maxT; h[7] = c.tied;
    memcpy(&h[8], &c.rope_theta, sizeof(float));
    memcpy(&h[9], &c.norm_eps, sizeof(float));
}

static LlamaConfig config_from_header(const int* header) {
    const int* h = header + CKPT_CONFIG_OFFSET;
    LlamaConfig c;
    c.V = h[0]; c.C = h[1]; c.L = h[2]; c.NH = h[3]; c.NKV = h[4]; c.H = h[5]; c.maxT = h[6]; c.tied = h[7];
    memcpy(&c.rope_theta, &h[8], sizeof(float));
    memcpy(&c.norm_eps, &h[9], sizeof(float));
    return c;
}

// ----------------------------------------------------------------------------
// Large blobs ask for transparent huge pages (where the kernel gives them on
// request, as with THP "madvise"): the GEMM packers walk activations and
// gradients with strides of kilobytes, and 2 MB pages keep those walks out
// of the TLB's misses. Only the 2 MB-aligned inside of the blob is advised.

static void advise_huge_pages(void* p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = 2u << 20;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (e > a) madvise((void*)a, e - a, MADV_HUGEPAGE);  // advice only: failure changes nothing
#else
    (void)p;
    (void)bytes;
#endif
}

// ----------------------------------------------------------------------------
// Parameters: one allocation, a struct of pointers into it.
// q, k and v share one matrix per layer (one matmul instead of three), and so
// do the SwiGLU's w1 and w3. Layers are stacked inside each tensor.

constexpr int NUM_PARAM_TENSORS = 9;
struct ParameterTensors {
    float* wte;        // (V, C)
    float* rms_att;    // (L, C)
    float* wqkv;       // (L, (NH + 2·NKV)·HS, C): rows of wq, then wk, then wv
    float* wo;         // (L, C, NH·HS)
    float* rms_ffn;    // (L, C)
    float* w13;        // (L, 2·H, C): rows of w1, then w3
    float* w2;         // (L, C, H)
    float* rms_final;  // (C)
    float* wcls;       // (V, C); points at wte when tied
};
// AdamW decays the matrices only, never the norms or the embedding.
static const bool PARAM_DECAY[NUM_PARAM_TENSORS] = {false, false, true, true, false, true, true, false, true};

static void param_sizes(size_t* sizes, const LlamaConfig& c) {
    size_t HS = c.C / c.NH, QKV = (c.NH + 2 * c.NKV) * HS;
    sizes[0] = (size_t)c.V * c.C;
    sizes[1] = (size_t)c.L * c.C;
    sizes[2] = (size_t)c.L * QKV * c.C;
    sizes[3] = (size_t)c.L * c.C * c.NH * HS;
    sizes[4] = (size_t)c.L * c.C;
    sizes[5] = (size_t)c.L * 2 * c.H * c.C;
    sizes[6] = (size_t)c.L * c.C * c.H;
    sizes[7] = (size_t)c.C;
    sizes[8] = c.tied ? 0 : (size_t)c.V * c.C;
}

static void point_parameters(ParameterTensors* p, float* memory, const size_t* sizes, bool tied) {
    float** ptrs[NUM_PARAM_TENSORS] = {&p->wte, &p->rms_att, &p->wqkv, &p->wo, &p->rms_ffn,
                                       &p->w13, &p->w2, &p->rms_final, &p->wcls};
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = memory;
        memory += sizes[i];
    }
    if (tied) p->wcls = p->wte;
}

// The linear layers' matrices, which --sparsity prunes (common/prune.h): each
// layer's wqkv, wo, w13 and w2, and the head when it is not the embedding.
static void prune_ranges(Pruner* pr, const size_t* sizes, const LlamaConfig& c) {
    size_t offset = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        bool per_layer = i == 2 || i == 3 || i == 5 || i == 6;
        if (per_layer)
            for (int l = 0; l < c.L; l++) prune_add_range(pr, offset + l * (sizes[i] / c.L), sizes[i] / c.L);
        if (i == 8 && sizes[i] > 0) prune_add_range(pr, offset, sizes[i]);
        offset += sizes[i];
    }
}

// ----------------------------------------------------------------------------
// Activations: what forward keeps for backward, one allocation sized for (B, T).

struct ActivationTensors {
    float* encoded;    // (B, T, C) embedding output = residual stream into layer 0
    float* ln1;        // (L, B, T, C) RMSNorm before attention (bf16 runs: bf16 bits, act_floats)
    float* ln1_rstd;   // (L, B, T)
    float* qkv;        // (L, B, T, QKV) q and k after RoPE
    float* lse;        // (L, B, NH, T) log-sum-exp of each attention row: backward rebuilds p from it
    float* atty;       // (L, B, T, NH·HS) attention output before wo
    float* res_att;    // (L, B, T, C) residual stream after attention
    float* ln2;        // (L, B, T, C) RMSNorm before the MLP (bf16 runs: bf16 bits)
    float* ln2_rstd;   // (L, B, T)
    float* h13;        // (L, B, T, 2·H) w1 and w3 outputs
    float* hgate;      // (L, B, T, H) silu(w1 x) * w3 x (bf16 runs: bf16 bits)
    float* res_ffn;    // (L, B, T, C) residual stream after the MLP = next layer's input
    float* lnf;        // (B, T, C) final RMSNorm (bf16 runs: bf16 bits)
    float* lnf_rstd;   // (B, T)
    float* logits;     // (B, T, V) logits of a forward without targets; training never touches it
    float* cls_chunk;  // (min(B·T, CLASSIFIER_CHUNK), V) one chunk of logits, then of their gradient
    float* dlnf;       // (B, T, C) ∂(mean loss)/∂lnf, left by a training forward for backward
    float* losses;     // (B, T)
    float* scratch;    // (B, T, C) projection output before the residual add
};
constexpr int NUM_ACT_TENSORS = 19;

// Floats that n values of a tensor take: n, or, in bf16 runs for the ones kept
// as bf16 bits (ln1, ln2, hgate, lnf: product_input below), half of n rounded
// up, so each layer's slice starts 4-byte aligned.
static size_t act_floats(size_t n, bool bits) { return bits ? (n + 1) / 2 : n; }

static void act_sizes(size_t* s, const LlamaConfig& c, int B, int T, bool bf16) {
    size_t BT = (size_t)B * T, L = c.L, HS = c.C / c.NH, QKV = (c.NH + 2 * c.NKV) * HS;
    size_t chunk = std::min(BT, (size_t)CLASSIFIER_CHUNK);
    size_t ln = act_floats(BT * c.C, bf16), gate = act_floats(BT * c.H, bf16);
    size_t sizes[NUM_ACT_TENSORS] = {BT * c.C, L * ln, L * BT, L * BT * QKV, L * B * c.NH * T,
                                     L * BT * c.NH * HS, L * BT * c.C, L * ln, L * BT, L * BT * 2 * c.H,
                                     L * gate, L * BT * c.C, ln, BT, BT * c.V, chunk * c.V, BT * c.C,
                                     BT, BT * c.C};
    memcpy(s, sizes, sizeof sizes);
}

// Gradients of activations: reused layer after layer, so sized for one layer.
struct GradScratch {
    float* dresidual;  // (B, T, C) ∂L/∂ residual stream at the current point
    float* dln;        // (B, T, C) ∂L/∂ an RMSNorm output
    float* datty;      // (B, T, NH·HS)
    float* dhgate;     // (B, T, H); ∂L/∂h13 and ∂L/∂qkv have no buffers: backward writes them over the layer's h13, qkv
    float* dwcls;      // (V, C) ∂(mean loss)/∂wcls, left by a training forward; backward adds it to the grads
};
constexpr int NUM_GRAD_SCRATCH = 5;

// ----------------------------------------------------------------------------
// Per-kernel time, on with --profile. Each kernel is a parallel region that
// joins before it returns, so the time between two laps is that kernel's.
// Both the wall time and the process's CPU time are kept: on a machine shared
// with other work, one thread's CPU time is close to its unloaded wall time.

struct KernelProfile {
    bool on = false;
    double last = 0.0, last_cpu = 0.0;
    std::vector<std::string> names;
    std::vector<double> ms, cpu_ms;
    int steps = 0;
};

static double process_cpu_ms() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void prof_start(KernelProfile* p) {
    if (!p->on) return;
    p->last = now_ms();
    p->last_cpu = process_cpu_ms();
}

// Adds the time since the previous lap to `name`.
static void prof_lap(KernelProfile* p, const char* name) {
    if (!p->on) return;
    double t = now_ms(), c = process_cpu_ms();
    size_t i = 0;
    while (i < p->names.size() && p->names[i] != name) i++;
    if (i == p->names.size()) {
        p->names.push_back(name);
        p->ms.push_back(0.0);
        p->cpu_ms.push_back(0.0);
    }
    p->ms[i] += t - p->last;
    p->cpu_ms[i] += c - p->last_cpu;
    p->last = t;
    p->last_cpu = c;
}

static void prof_reset(KernelProfile* p) {
    std::fill(p->ms.begin(), p->ms.end(), 0.0);
    std::fill(p->cpu_ms.begin(), p->cpu_ms.end(), 0.0);
    p->steps = 0;
}

static void prof_print(const KernelProfile& p) {
    if (p.steps == 0) return;
    double total = 0.0, total_cpu = 0.0;
    for (size_t i = 0; i < p.ms.size(); i++) { total += p.ms[i]; total_cpu += p.cpu_ms[i]; }
    printf("profile: mean per step over %d steps (the first step is left out); cpu = CPU time of all threads\n",
           p.steps);
    for (size_t i = 0; i < p.names.size(); i++)
        printf("  %-18s %8.1f ms %5.1f%% | cpu %8.1f ms\n", p.names[i].c_str(), p.ms[i] / p.steps,
               100.0 * p.ms[i] / total, p.cpu_ms[i] / p.steps);
    printf("  %-18s %8.1f ms        | cpu %8.1f ms\n", "total", total / p.steps, total_cpu / p.steps);
}

// ----------------------------------------------------------------------------
// The model

struct Llama {
    LlamaConfig config;
    size_t param_sizes[NUM_PARAM_TENSORS];
    size_t num_params = 0;
    float* params_memory = nullptr;
    float* grads_memory = nullptr;
    float* m_memory = nullptr;     // AdamW moments, allocated at the first update: of the whole blob,
    float* v_memory = nullptr;     // or with MPI of this rank's shard only (ZeRO-1, common/dist.h)
    Dist* dist = nullptr;          // the MPI ranks training this model together; null = one process
    ParameterTensors params, grads;
    // activations, allocated at the first forward for (B, T); smaller batches fit too
    int B = 0, T = 0;
    float* acts_memory = nullptr;
    ActivationTensors acts;
    float* grad_scratch_memory = nullptr;
    GradScratch gs;
    float* rope_cos = nullptr;     // (maxT, HS/2)
    float* rope_sin = nullptr;
    float* rope_cos2 = nullptr;    // (maxT, HS): the same tables, one entry per float (rope_expand_tables)
    float* rope_sin2 = nullptr;
    bool cls_grad_ready = false;   // the last forward left dlnf and dwcls for backward
    bool bf16 = false;             // matmuls and attention's products on bf16 operands, fp32 accumulation
    bool acts_bf16 = false;        // the activations were laid out for a bf16 run (act_sizes)
    Pruner pruner;                 // sparsity mask of the linear layers (--sparsity); empty mask = dense
    std::vector<int> inputs, targets;
    float mean_loss = 0.0f;
    int64_t step = 0;              // optimizer steps done
    KernelProfile prof;
};

// bf16 runs store the tensors that feed nothing but bf16 products as bf16
// bits, bf16_bits of the fp32 values, where fp32 runs store those values:
// ln1, ln2, hgate and lnf from the start of their buffers; qkv after RoPE and
// then ∂L/∂qkv, and ∂L/∂h13, each row in the first half of its own fp32 row
// (rows 2·QKV and 4·H uint16 apart); the classifier's dlogits likewise. The
// products pack the same words from either (gemm::Src), so the run computes
// exactly what it did from fp32 buffers, and their packers read half the bytes.
// Such a buffer is read through this, as uint16 from its start.
static gemm::Src product_input(const Llama* model, const float* buf) {
    return model->bf16 ? gemm::Src((const uint16_t*)buf) : gemm::Src(buf);
}

// The residual add, res = x + y, and the RMSNorm after it, out stored as the
// products read it (product_input): the forward does this after every block.
static void residual_norm(const Llama* model, float* res, float* out, float* rstd, const float* x, const float* y,
                          const float* weight, int N) {
    const int C = model->config.C;
    const float eps = model->config.norm_eps;
    if (model->bf16)
        residual_rmsnorm_forward(res, (uint16_t*)out, rstd, x, y, weight, N, C, eps);
    else
        residual_rmsnorm_forward(res, out, rstd, x, y, weight, N, C, eps);
}

static void llama_build(Llama* model, const LlamaConfig& config) {
    config_validate(config, "model config");
    model->config = config;
    param_sizes(model->param_sizes, config);
    model->num_params = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) model->num_params += model->param_sizes[i];
    model->params_memory = (float*)calloc_check(model->num_params * sizeof(float), "parameters");
    model->grads_memory = (float*)calloc_check(model->num_params * sizeof(float), "gradients");
    advise_huge_pages(model->params_memory, model->num_params * sizeof(float));
    advise_huge_pages(model->grads_memory, model->num_params * sizeof(float));
    point_parameters(&model->params, model->params_memory, model->param_sizes, config.tied);
    point_parameters(&model->grads, model->grads_memory, model->param_sizes, config.tied);
    prune_ranges(&model->pruner, model->param_sizes, config);
    int HS = config.C / config.NH;
    model->rope_cos = (float*)malloc_check((size_t)config.maxT * HS / 2 * sizeof(float), "rope table");
    model->rope_sin = (float*)malloc_check((size_t)config.maxT * HS / 2 * sizeof(float), "rope table");
    rope_precompute(model->rope_cos, model->rope_sin, config.maxT, HS, config.rope_theta);
    model->rope_cos2 = (float*)malloc_check((size_t)config.maxT * HS * sizeof(float), "rope table");
    model->rope_sin2 = (float*)malloc_check((size_t)config.maxT * HS * sizeof(float), "rope table");
    rope_expand_tables(model->rope_cos2, model->rope_sin2, model->rope_cos, model->rope_sin, config.maxT, HS);
}

static void llama_free(Llama* model) {
    free(model->params_memory);
    free(model->grads_memory);
    free(model->m_memory);
    free(model->v_memory);
    free(model->acts_memory);
    free(model->grad_scratch_memory);
    free(model->rope_cos);
    free(model->rope_sin);
    free(model->rope_cos2);
    free(model->rope_sin2);
}

// Init as GPT-2/llm.c: N(0, 0.02) for matrices and the embedding, the two
// projections that write into the residual stream (wo, w2) scaled by
// 1/sqrt(2L) so the stream's variance does not grow with depth; norms at 1.
static void llama_init_params(Llama* model, uint64_t seed) {
    Rng rng = rng_make(seed);
    const LlamaConfig& c = model->config;
    float* mem = model->params_memory;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        bool is_norm = i == 1 || i == 4 || i == 7;
        float std = (i == 3 || i == 6) ? 0.02f / sqrtf(2.0f * c.L) : 0.02f;
        for (size_t j = 0; j < model->param_sizes[i]; j++) mem[j] = is_norm ? 1.0f : std * rng_normal(&rng);
        mem += model->param_sizes[i];
    }
}

static void llama_alloc_activations(Llama* model, int B, int T) {
    const LlamaConfig& c = model->config;
    if (T > c.maxT) die("sequence length T=%d exceeds the model's seq-len %d", T, c.maxT);
    size_t sizes[NUM_ACT_TENSORS], total = 0;
    act_sizes(sizes, c, B, T, model->bf16);
    model->acts_bf16 = model->bf16;
    for (size_t s : sizes) total += s;
    model->acts_memory = (float*)malloc_check(total * sizeof(float), "activations");
    advise_huge_pages(model->acts_memory, total * sizeof(float));
    float** ptrs[NUM_ACT_TENSORS] = {
        &model->acts.encoded, &model->acts.ln1, &model->acts.ln1_rstd, &model->acts.qkv, &model->acts.lse,
        &model->acts.atty, &model->acts.res_att, &model->acts.ln2, &model->acts.ln2_rstd, &model->acts.h13,
        &model->acts.hgate, &model->acts.res_ffn, &model->acts.lnf, &model->acts.lnf_rstd, &model->acts.logits,
        &model->acts.cls_chunk, &model->acts.dlnf, &model->acts.losses, &model->acts.scratch};
    float* p = model->acts_memory;
    for (int i = 0; i < NUM_ACT_TENSORS; i++) { *ptrs[i] = p; p += sizes[i]; }

    size_t BT = (size_t)B * T, HS = c.C / c.NH;
    size_t gsizes[NUM_GRAD_SCRATCH] = {BT * c.C, BT * c.C, BT * c.NH * HS, BT * c.H, (size_t)c.V * c.C};
    total = 0;
    for (size_t s : gsizes) total += s;
    model->grad_scratch_memory = (float*)malloc_check(total * sizeof(float), "activation gradients");
    advise_huge_pages(model->grad_scratch_memory, total * sizeof(float));
    float** gptrs[NUM_GRAD_SCRATCH] = {&model->gs.dresidual, &model->gs.dln, &model->gs.datty,
                                       &model->gs.dhgate, &model->gs.dwcls};
    p = model->grad_scratch_memory;
    for (int i = 0; i < NUM_GRAD_SCRATCH; i++) { *gptrs[i] = p; p += gsizes[i]; }
    model->B = B;
    model->T = T;
}

// ----------------------------------------------------------------------------
// Forward. inputs and targets are (B, T). With targets, returns the mean loss;
// a training forward (grad) also runs the classifier's backward, chunk by
// chunk while its logits are at hand, and leaves ∂(mean loss)/∂lnf and
// ∂(mean loss)/∂wcls for llama_backward. Without targets, leaves the logits
// in acts.logits.

static float llama_forward_pass(Llama* model, const int* inputs, const int* targets, int B, int T, bool grad) {
    if (model->acts_memory && model->acts_bf16 != model->bf16) {  // the precision changed: lay them out anew
        const int B0 = model->B, T0 = model->T;
        free(model->acts_memory);
        free(model->grad_scratch_memory);
        llama_alloc_activations(model, B0, T0);
    }
    if (!model->acts_memory) llama_alloc_activations(model, B, T);
    if ((size_t)B * T > (size_t)model->B * model->T || T > model->T)
        die("forward with B=%d, T=%d but activations were sized for B=%d, T=%d", B, T, model->B, model->T);
    const LlamaConfig& c = model->config;
    const int V = c.V, C = c.C, L = c.L, NH = c.NH, NKV = c.NKV, H = c.H, HS = C / NH;
    const int QKV = (NH + 2 * NKV) * HS;
    const size_t BT = (size_t)B * T;
    for (size_t i = 0; i < BT; i++)
        if (inputs[i] < 0 || inputs[i] >= V) die("input token %d at position %zu is outside vocab [0, %d)", inputs[i], i, V);
    if (targets)
        for (size_t i = 0; i < BT; i++)
            if (targets[i] < 0 || targets[i] >= V) die("target token %d at position %zu is outside vocab [0, %d)", targets[i], i, V);
    model->inputs.assign(inputs, inputs + BT);
    if (targets) model->targets.assign(targets, targets + BT);
    model->cls_grad_ready = false;

    ParameterTensors p = model->params;
    ActivationTensors a = model->acts;
    KernelProfile* prof = &model->prof;
    prof_start(prof);
    embedding_forward(a.encoded, inputs, p.wte, (int)BT, C);
    prof_lap(prof, "embedding");
    const bool bf16 = model->bf16;  // the products' inputs are stored as bf16 bits (product_input)
    if (bf16)
        rmsnorm_forward_fast((uint16_t*)a.ln1, a.ln1_rstd, a.encoded, p.rms_att, (int)BT, C, c.norm_eps);
    else
        rmsnorm_forward_fast(a.ln1, a.ln1_rstd, a.encoded, p.rms_att, (int)BT, C, c.norm_eps);
    prof_lap(prof, "residual+rmsnorm");
    const float* x = a.encoded;  // the residual stream entering the layer
    for (int l = 0; l < L; l++) {
        float* ln1 = a.ln1 + l * act_floats(BT * C, bf16);
        float* qkv = a.qkv + l * BT * QKV;
        float* lse = a.lse + (size_t)l * B * NH * T;
        float* atty = a.atty + l * BT * NH * HS;
        float* res_att = a.res_att + l * BT * C;
        float* ln2 = a.ln2 + l * act_floats(BT * C, bf16);
        float* ln2_rstd = a.ln2_rstd + l * BT;
        float* h13 = a.h13 + l * BT * 2 * H;
        float* hgate = a.hgate + l * act_floats(BT * H, bf16);
        float* res_ffn = a.res_ffn + l * BT * C;
        // attention block; ln1 was written by the previous layer's last residual add.
        // RoPE runs on qkv's rows as the product finishes them, while they are in
        // cache (gemm::RowEpilogue); bf16 runs keep qkv after RoPE as bf16 bits,
        // each row in the first half of its fp32 row.
        RopeRows rope{qkv, model->rope_cos2, model->rope_sin2, T, NH, NKV, HS, bf16};
        matmul_forward(qkv, product_input(model, ln1), p.wqkv + (size_t)l * QKV * C, (int)BT, C, QKV, bf16,
                       {rope_rows, &rope});
        prof_lap(prof, "matmul qkv + rope");
        if (bf16)
            attention_forward_flash(atty, lse, (const uint16_t*)qkv, 2L * QKV, B, T, NH, NKV, HS);
        else
            attention_forward_flash(atty, lse, qkv, B, T, NH, NKV, HS, false);
        prof_lap(prof, "attention fwd");
        matmul_forward(a.scratch, atty, p.wo + (size_t)l * C * NH * HS, (int)BT, NH * HS, C, bf16);
        prof_lap(prof, "matmul wo");
        residual_norm(model, res_att, ln2, ln2_rstd, x, a.scratch, p.rms_ffn + l * C, (int)BT);
        prof_lap(prof, "residual+rmsnorm");
        // MLP block: SwiGLU on h13's rows as the product finishes them
        SwigluRows swiglu{hgate, h13, H, bf16};
        matmul_forward(h13, product_input(model, ln2), p.w13 + (size_t)l * 2 * H * C, (int)BT, C, 2 * H, bf16,
                       {swiglu_rows, &swiglu});
        prof_lap(prof, "matmul w13 + swiglu");
        matmul_forward(a.scratch, product_input(model, hgate), p.w2 + (size_t)l * C * H, (int)BT, H, C, bf16);
        prof_lap(prof, "matmul w2");
        // the residual add, then the norm that reads it: the next layer's ln1, or lnf after the last layer
        bool last = l == L - 1;
        residual_norm(model, res_ffn, last ? a.lnf : a.ln1 + (l + 1) * act_floats(BT * C, bf16),
                      last ? a.lnf_rstd : a.ln1_rstd + (l + 1) * BT, res_att, a.scratch,
                      last ? p.rms_final : p.rms_att + (l + 1) * C, (int)BT);
        prof_lap(prof, "residual+rmsnorm");
        x = res_ffn;
    }
    if (!targets) {
        matmul_forward(a.logits, product_input(model, a.lnf), p.wcls, (int)BT, C, V, bf16);
        return 0.0f;
    }
    if (grad) memset(model->gs.dwcls, 0, (size_t)V * C * sizeof(float));
    // each of the BT losses enters the mean with weight 1/BT
    classifier_forward_backward(a.losses, grad ? a.dlnf : nullptr, grad ? model->gs.dwcls : nullptr, a.cls_chunk,
                                product_input(model, a.lnf), p.wcls, targets, 1.0f / BT, (int)BT, C, V, bf16);
    model->cls_grad_ready = grad;
    prof_lap(prof, "classifier");
    double sum = 0.0;
    for (size_t i = 0; i < BT; i++) sum += a.losses[i];
    model->mean_loss = (float)(sum / BT);
    return model->mean_loss;
}

static float llama_forward(Llama* model, const int* inputs, const int* targets, int B, int T) {
    return llama_forward_pass(model, inputs, targets, B, T, targets != nullptr);
}

// ----------------------------------------------------------------------------
// Backward: after a forward with targets, adds ∂(loss_scale · mean loss)/∂θ
// into model->grads. loss_scale is 1/accum_steps under gradient accumulation.
// It uses up the forward's activations (∂L/∂h13 and ∂L/∂qkv are written over
// h13 and qkv), so each backward needs a forward of its own.

static void llama_zero_grad(Llama* model) { memset(model->grads_memory, 0, model->num_params * sizeof(float)); }

static void llama_backward(Llama* model, int B, int T, float loss_scale) {
    if (!model->cls_grad_ready) die("backward needs a training forward with targets just before it");
    const LlamaConfig& c = model->config;
    const int V = c.V, C = c.C, L = c.L, NH = c.NH, NKV = c.NKV, H = c.H, HS = C / NH;
    const int QKV = (NH + 2 * NKV) * HS;
    const size_t BT = (size_t)B * T;
    ParameterTensors p = model->params, g = model->grads;
    ActivationTensors a = model->acts;
    GradScratch gs = model->gs;
    const bool bf16 = model->bf16;
    KernelProfile* prof = &model->prof;
    prof_start(prof);

    // classifier: the forward left its gradients for loss scale 1
    const float* dlnf = classifier_scale_grads(g.wcls, gs.dwcls, a.dlnf, gs.dln, loss_scale, (int)BT, C, V);
    prof_lap(prof, "classifier");
    memset(gs.dresidual, 0, BT * C * sizeof(float));
    rmsnorm_backward_fast(gs.dresidual, g.rms_final, dlnf, a.res_ffn + (size_t)(L - 1) * BT * C, p.rms_final,
                          a.lnf_rstd, (int)BT, C);
    prof_lap(prof, "rmsnorm bwd");

    for (int l = L - 1; l >= 0; l--) {
        const float* x = l == 0 ? a.encoded : a.res_ffn + (size_t)(l - 1) * BT * C;
        float* ln1 = a.ln1 + l * act_floats(BT * C, bf16);
        float* ln1_rstd = a.ln1_rstd + l * BT;
        float* qkv = a.qkv + l * BT * QKV;
        float* lse = a.lse + (size_t)l * B * NH * T;
        float* atty = a.atty + l * BT * NH * HS;
        float* res_att = a.res_att + l * BT * C;
        float* ln2 = a.ln2 + l * act_floats(BT * C, bf16);
        float* ln2_rstd = a.ln2_rstd + l * BT;
        float* h13 = a.h13 + l * BT * 2 * H;
        float* hgate = a.hgate + l * act_floats(BT * H, bf16);
        // MLP block. dresidual holds ∂L/∂res_ffn; the residual add passes it
        // unchanged both to w2's output and to res_att.
        matmul_backward_set_dinp(gs.dhgate, g.w2 + (size_t)l * C * H, gs.dresidual, product_input(model, hgate),
                                 p.w2 + (size_t)l * C * H, (int)BT, H, C, bf16);
        prof_lap(prof, "matmul w2");
        // ∂L/∂h13 over h13 itself: nothing reads the forward's h13 after this.
        // bf16 runs store it as bf16 bits, a row in the first half of each row of h13.
        if (bf16)
            swiglu_backward_fast_bf16(h13, gs.dhgate, (int)BT, H);
        else
            swiglu_backward_fast(h13, gs.dhgate, h13, (int)BT, H);
        prof_lap(prof, "swiglu");
        matmul_backward_set_dinp(gs.dln, g.w13 + (size_t)l * 2 * H * C, product_input(model, h13),
                                 product_input(model, ln2), p.w13 + (size_t)l * 2 * H * C, (int)BT, C, 2 * H, bf16,
                                 bf16 ? 4L * H : 0);
        prof_lap(prof, "matmul w13");
        rmsnorm_backward_fast(gs.dresidual, g.rms_ffn + l * C, gs.dln, res_att, p.rms_ffn + l * C, ln2_rstd, (int)BT, C);
        prof_lap(prof, "rmsnorm bwd");
        // attention block. dresidual now holds ∂L/∂res_att.
        matmul_backward_set_dinp(gs.datty, g.wo + (size_t)l * C * NH * HS, gs.dresidual, atty,
                                 p.wo + (size_t)l * C * NH * HS, (int)BT, NH * HS, C, bf16);
        prof_lap(prof, "matmul wo");
        // ∂L/∂qkv over qkv itself: attention reads what it needs of qkv
        // before it writes (bf16 runs: as bf16 bits, where the forward left
        // qkv's). RoPE's backward happens as attention stores dq and dk (the
        // rope tables): they come out as the gradients for q and k before RoPE.
        if (bf16)
            attention_backward_flash((uint16_t*)qkv, 2L * QKV, gs.datty, atty, lse, B, T, NH, NKV, HS,
                                     model->rope_cos2, model->rope_sin2);
        else
            attention_backward_flash(qkv, gs.datty, qkv, atty, lse, B, T, NH, NKV, HS, false, model->rope_cos2,
                                     model->rope_sin2);
        prof_lap(prof, "attention bwd");
        matmul_backward_set_dinp(gs.dln, g.wqkv + (size_t)l * QKV * C, product_input(model, qkv),
                                 product_input(model, ln1), p.wqkv + (size_t)l * QKV * C, (int)BT, C, QKV, bf16,
                                 bf16 ? 2L * QKV : 0);
        prof_lap(prof, "matmul qkv");
        rmsnorm_backward_fast(gs.dresidual, g.rms_att + l * C, gs.dln, x, p.rms_att + l * C, ln1_rstd, (int)BT, C);
        prof_lap(prof, "rmsnorm bwd");
        // dresidual now holds ∂L/∂x, the gradient flowing into the layer below
    }
    embedding_backward(g.wte, gs.dresidual, model->inputs.data(), (int)BT, C);
    prof_lap(prof, "embedding");
    model->cls_grad_ready = false;  // the activations are used up
}

// ----------------------------------------------------------------------------
// Update: global gradient-norm clipping, then AdamW over each parameter tensor
// (decay on matrices only, PARAM_DECAY). Returns the gradient norm before clipping.
// With MPI the gradients are first summed over the ranks; each rank updates
// its shard of the parameters (the moments it holds) and the shards are
// all-gathered (ZeRO-1, common/dist.h).

// The part of the blob whose AdamW moments this process holds: all of it, or its MPI shard.
static size_t optimizer_begin(const Llama* m) { return m->dist ? m->dist->shard_begin : 0; }
static size_t optimizer_end(const Llama* m) { return m->dist ? m->dist->shard_end : m->num_params; }

static void llama_alloc_optimizer(Llama* model) {
    if (model->m_memory) return;
    size_t bytes = (optimizer_end(model) - optimizer_begin(model)) * sizeof(float);
    model->m_memory = (float*)calloc_check(bytes, "AdamW m");
    model->v_memory = (float*)calloc_check(bytes, "AdamW v");
    advise_huge_pages(model->m_memory, bytes);
    advise_huge_pages(model->v_memory, bytes);
    model->pruner.moment_begin = optimizer_begin(model);
    model->pruner.moment_end = optimizer_end(model);
}

static float llama_update(Llama* model, float lr, const AdamWConfig& opt) {
    llama_alloc_optimizer(model);
    model->step++;
    prof_start(&model->prof);
    if (model->dist) dist_allreduce_sum(model->dist, model->grads_memory, model->num_params);
    prune_before_update(model->pruner, model->grads_memory);
    float norm = optimizer_step_shard(model->params_memory, model->grads_memory, model->m_memory, model->v_memory,
                                      model->param_sizes, PARAM_DECAY, NUM_PARAM_TENSORS, lr, opt, (int)model->step,
                                      optimizer_begin(model), optimizer_end(model));
    prune_after_update(model->pruner, model->params_memory, model->m_memory, model->v_memory);
    if (model->dist) dist_allgather_shards(model->dist, model->params_memory);
    prof_lap(&model->prof, "adamw");
    return norm;
}

// ----------------------------------------------------------------------------
// Evaluation and sampling

static EvalResult llama_evaluate(Llama* model, DataLoader* val, int batches, const Tokenizer* tok) {
    return evaluate_val(
        val, batches, tok,
        [&](const int* inputs, const int* targets, int B, int T) {
            llama_forward_pass(model, inputs, targets, B, T, false);
            double nll = 0.0;
            for (int j = 0; j < B * T; j++) nll += model->acts.losses[j];
            return nll;
        },
        model->dist);
}

static std::string llama_generate(Llama* model, const Tokenizer& tok, int num_tokens, float temperature, int top_k,
                                  Rng* rng) {
    const int V = model->config.V;
    return generate_text(tok, model->T, V, num_tokens, temperature, top_k, rng, [&](const int* tokens, int len) {
        llama_forward(model, tokens, nullptr, 1, len);
        return (const float*)model->acts.logits + (size_t)(len - 1) * V;
    });
}

// ----------------------------------------------------------------------------
// Checkpoints

// With MPI every rank calls it: rank 0 gathers the moments' shards and writes.
static void llama_save_checkpoint(const Llama* model, const std::string& path, const TrainState& state) {
    int header[CKPT_HEADER_INTS] = {0};
    header[0] = CKPT_MAGIC;
    header[1] = CKPT_VERSION;
    header[2] = CKPT_KIND_LLAMA;
    header[3] = model->m_memory ? 1 : 0;
    config_to_header(model->config, header);
    checkpoint_save_sharded(path, header, model->params_memory, model->num_params, model->m_memory, model->v_memory,
                            &state, &model->pruner, model->dist);
}

// Loads parameters, and optimizer state if the file has it; returns whether it did.
// With MPI each rank keeps the moments of its own shard, so a checkpoint
// written by any number of ranks resumes on any number.
static bool llama_load_checkpoint(Llama* model, const std::string& path, TrainState* state) {
    llama_alloc_optimizer(model);
    bool resumed = checkpoint_load_sharded(path, model->num_params, model->params_memory, model->m_memory,
                                           model->v_memory, state, &model->pruner, model->dist);
    if (resumed) model->step = state->step;
    return resumed;
}

// ----------------------------------------------------------------------------
// Hugging Face import: -e DIR, a LlamaForCausalLM directory (config.json +
// model.safetensors, F32, BF16 or F16), e.g. one that build/export wrote.
// The tensor names and the RoPE row permutation are common/hf.h's, shared
// with the export.

static LlamaConfig config_from_hf(const std::string& dir) {
    HfLlamaConfig h = hf_read_llama_config(dir);
    LlamaConfig c;
    c.V = h.V; c.C = h.C; c.L = h.L; c.NH = h.NH; c.NKV = h.NKV; c.H = h.H; c.maxT = h.maxT; c.tied = h.tied;
    c.rope_theta = h.rope_theta;
    c.norm_eps = h.norm_eps;
    return c;
}

static void llama_load_hf(Llama* model, const std::string& dir) {
    std::string path = dir + "/model.safetensors";
    if (!path_exists(path))
        die("%s: no model.safetensors%s", dir.c_str(),
            path_exists(dir + "/model.safetensors.index.json") ? " (a sharded model: merge the shards into one file first)" : "");
    SafetensorsFile sf = safetensors_open(path);
    for (const HfTensor& t : hf_llama_tensors(model->config, model->params))
        hf_tensor_from_hf(t, safetensors_read_f32(sf, t.name, t.hf_shape()).data());
}

// ----------------------------------------------------------------------------
// llama2.c model files as an -e source (common/llama2c.h): parameters only,
// the shape from the file's header, and run.c's fixed rope theta and norm eps.
// Token ids stay the file's: the data must be tokenised with its vocabulary.

static LlamaConfig config_from_llama2c(const Llama2cHeader& h) {
    LlamaConfig c;
    c.V = std::abs(h.vocab_size); c.C = h.dim; c.L = h.n_layers; c.NH = h.n_heads; c.NKV = h.n_kv_heads;
    c.H = h.hidden_dim; c.maxT = h.seq_len; c.tied = h.vocab_size > 0;
    c.rope_theta = LLAMA2C_ROPE_THETA;
    c.norm_eps = LLAMA2C_NORM_EPS;
    return c;
}

// Whether -e PATH is llama2.c's model file: not our checkpoint (magic), and a
// valid llama2.c header whose implied size is exactly the file's. A file that
// is neither dies with both reasons.
static bool load_is_llama2c(const std::string& path, Llama2cHeader* h) {
    long long bytes = file_size_check(path.c_str());
    int magic = 0;
    if (bytes >= (long long)sizeof magic) {
        FILE* f = fopen_check(path.c_str(), "rb");
        fread_check(&magic, sizeof magic, 1, f, path.c_str());
        fclose(f);
    }
    if (magic == CKPT_MAGIC) return false;
    std::string why;
    if (llama2c_probe(path, h, &why)) return true;
    die("%s: bad magic %d, expected %d (not a checkpoint of this engine), and not a llama2.c model file either: %s",
        path.c_str(), magic, CKPT_MAGIC, why.c_str());
}

static void llama_load_llama2c(Llama* model, const std::string& path, const Llama2cHeader& h) {
    llama2c_read_model(path, llama2c_runs(model->params, h));
}

// ----------------------------------------------------------------------------
// FLOPs per token for MFU: 6 per weight per token for every matmul (2 forward,
// 4 backward), plus attention's q·k and p·v: 2·2·T·HS per head forward,
// halved because the mask is causal, ×3 for backward.

static double llama_flops_per_token(const LlamaConfig& c, int T) {
    double HS = c.C / c.NH, QKV = (c.NH + 2 * c.NKV) * HS;
    double matmul_params = c.L * (QKV * c.C + c.C * c.NH * HS + 3.0 * c.H * c.C) + (double)c.V * c.C;
    double attention = c.L * 6.0 * T * c.NH * HS;
    return 6.0 * matmul_params + attention;
}

// ----------------------------------------------------------------------------
// Model flags and shape, shared with train_llama.cu (which includes this file)

struct ModelOptions {
    std::string model = "llama-5M";
    LlamaConfig shape;  // from flags; 0 = from the preset or the checkpoint
    bool untied = false;
};

static void add_model_flags(std::vector<ArgSpec>& specs, ModelOptions* mo) {
    std::vector<ArgSpec> model_flags = {
        {nullptr, "--model", ARG_STRING, &mo->model, "preset: llama-5M or llama-1M"},
        {nullptr, "--vocab", ARG_INT, &mo->shape.V, "vocabulary size V (0 = preset)"},
        {nullptr, "--dim", ARG_INT, &mo->shape.C, "model dim C (0 = preset)"},
        {nullptr, "--layers", ARG_INT, &mo->shape.L, "layers L (0 = preset)"},
        {nullptr, "--heads", ARG_INT, &mo->shape.NH, "attention heads NH (0 = preset)"},
        {nullptr, "--kv-heads", ARG_INT, &mo->shape.NKV, "key/value heads NKV, divides NH (0 = preset)"},
        {nullptr, "--hidden", ARG_INT, &mo->shape.H, "SwiGLU hidden size H (0 = preset)"},
        {nullptr, "--seq-len", ARG_INT, &mo->shape.maxT, "longest sequence the model takes (0 = preset)"},
        {nullptr, "--rope-theta", ARG_FLOAT, &mo->shape.rope_theta, "RoPE base"},
        {nullptr, "--untied", ARG_BOOL, &mo->untied, "separate output head instead of the tied embedding"},
    };
    specs.insert(specs.end(), model_flags.begin(), model_flags.end());
}

// Shape from the preset, overridden by explicit shape flags.
static LlamaConfig resolve_config(const ModelOptions& o, const std::vector<ArgSpec>& specs) {
    const ModelPreset* preset = nullptr;
    for (const ModelPreset& p : MODEL_PRESETS)
        if (o.model == p.name) preset = &p;
    if (!preset) {
        std::string names;
        for (const ModelPreset& p : MODEL_PRESETS) names += std::string(" ") + p.name;
        die("unknown --model '%s'; presets:%s", o.model.c_str(), names.c_str());
    }
    LlamaConfig c = preset->config;
    if (arg_was_set(specs, "--vocab")) c.V = o.shape.V;
    if (arg_was_set(specs, "--dim")) c.C = o.shape.C;
    if (arg_was_set(specs, "--layers")) c.L = o.shape.L;
    if (arg_was_set(specs, "--heads")) c.NH = o.shape.NH;
    if (arg_was_set(specs, "--kv-heads")) c.NKV = o.shape.NKV;
    if (arg_was_set(specs, "--hidden")) c.H = o.shape.H;
    if (arg_was_set(specs, "--seq-len")) c.maxT = o.shape.maxT;
    if (arg_was_set(specs, "--rope-theta")) c.rope_theta = o.shape.rope_theta;
    if (o.untied) c.tied = 0;
    return c;
}

static bool any_shape_flag(const std::vector<ArgSpec>& specs) {
    const char* names[] = {"--model", "--vocab", "--dim", "--layers", "--heads", "--kv-heads",
                           "--hidden", "--seq-len", "--rope-theta", "--untied"};
    for (const char* n : names)
        if (arg_was_set(specs, n)) return true;
    return false;
}

// With -e, the checkpoint's shape rules; shape flags, if given, must agree.
static void check_config_matches(const LlamaConfig& ck, const LlamaConfig& flags, const std::string& path) {
    struct { const char* name; long a, b; } fields[] = {
        {"vocab", ck.V, flags.V}, {"dim", ck.C, flags.C}, {"layers", ck.L, flags.L}, {"heads", ck.NH, flags.NH},
        {"kv-heads", ck.NKV, flags.NKV}, {"hidden", ck.H, flags.H}, {"seq-len", ck.maxT, flags.maxT},
        {"tied", ck.tied, flags.tied}};
    for (const auto& f : fields)
        if (f.a != f.b)
            die("checkpoint %s has %s=%ld but the flags ask for %s=%ld (drop the shape flags to use the checkpoint's)",
                path.c_str(), f.name, f.a, f.name, f.b);
    if (ck.rope_theta != flags.rope_theta)
        die("checkpoint %s has rope-theta=%g but the flags ask for %g", path.c_str(), ck.rope_theta, flags.rope_theta);
}

// The model shape: preset + flags, or the checkpoint's (flags, if given, must agree).
static LlamaConfig resolve_model_config(const ModelOptions& mo, const TrainerOptions& o,
                                        const std::vector<ArgSpec>& specs) {
    LlamaConfig config = resolve_config(mo, specs);
    if (!o.load.empty()) {
        LlamaConfig ck;
        Llama2cHeader l2c;
        if (hf_is_model_dir(o.load)) {
            ck = config_from_hf(o.load);
        } else if (load_is_llama2c(o.load, &l2c)) {
            ck = config_from_llama2c(l2c);
        } else {
            int header[CKPT_HEADER_INTS];
            checkpoint_read_header(o.load, header, CKPT_KIND_LLAMA);
            ck = config_from_header(header);
        }
        if (any_shape_flag(specs)) check_config_matches(ck, config, o.load);
        config = ck;
    }
    config_validate(config, "model config");
    return config;
}

// The startup line naming the model (train_llama.cu prints it too).
static void print_model(const LlamaConfig& c, size_t num_params) {
    printf("model: vocab %d, dim %d, layers %d, heads %d, kv-heads %d, hidden %d, seq-len %d, %s head, %.2fM parameters\n",
           c.V, c.C, c.L, c.NH, c.NKV, c.H, c.maxT, c.tied ? "tied" : "untied", num_params / 1e6);
}

#ifndef TRAIN_LLAMA_NO_MAIN
// ----------------------------------------------------------------------------
// Command line and main loop

static const char* SUMMARY =
    "Trains a Llama-architecture model on the CPU from llm.c token shards (see README.md).\n"
    "Model presets: --model llama-5M (4.98M params) or llama-1M; shape flags override the preset.\n"
    "-e FILE resumes from a checkpoint with optimizer state, or initialises from a parameters-only one\n"
    "or from a llama2.c model file (run.c's format; its token ids, so tokenise the data with its vocabulary);\n"
    "-e DIR initialises from a Hugging Face LlamaForCausalLM directory (config.json + model.safetensors).\n"
    "LLM_ISA=plain|avx2|avx512|avx512_bf16|amx in the environment forces the GEMM's instruction set (default: the best\n"
    "this CPU has; the banner's matmuls: line says which).";

int main(int argc, char** argv) {
    Dist dist;  // one process, or this rank of an MPI run (common/dist.h)
    dist_init(&dist, &argc, &argv);
    TrainerOptions o;
    ModelOptions mo;
    std::vector<ArgSpec> specs;
    add_train_flags(specs, &o);
    bool profile = false;
    add_model_flags(specs, &mo);
    specs.push_back({nullptr, "--profile", ARG_BOOL, &profile, "time every kernel of the training step; print the means at the end"});
    PrecisionOption precision;
    add_precision_flags(specs, &precision);
    PruneConfig prune;
    add_prune_flags(specs, &prune);
    args_parse(argc, argv, specs, SUMMARY);
    const bool bf16 = resolve_precision(precision);  // the matmuls' operands (auto: the faster here)
    enable_flush_to_zero();

    // --- model shape: preset + flags, or the checkpoint's
    LlamaConfig config = resolve_model_config(mo, o, specs);
    BatchPlan bp = resolve_batch(&o, config.maxT);
    resolve_time_budget(&o, specs);
    prune_resolve(&prune, o.max_steps, !o.time.empty());
    const int B = bp.B, T = bp.T;
    // with MPI this rank trains on rows [row0, row0 + Bl) of every batch
    const int Bl = dist_rows(dist, B);
    const size_t row0 = (size_t)dist.rank * Bl * T;

    // --- output dir (rank 0 writes everything), tokenizer, data
    if (dist_root(dist)) ensure_writable_dir(o.out_dir.c_str());
    TrainData data;
    train_data_open(&data, o, specs, config.V, bp);

    // --- model: fresh, or from the checkpoint
    Llama model;
    llama_build(&model, config);
    model.bf16 = bf16;
    model.pruner.config = prune;
    dist_shard(&dist, model.param_sizes, NUM_PARAM_TENSORS);
    model.dist = &dist;
    Rng rng = sampling_rng(o);
    int start_step = 0;
    double prior_s = 0;  // training time the checkpoint had used (--time)
    if (!o.load.empty()) {
        TrainState st;
        Llama2cHeader l2c;
        if (hf_is_model_dir(o.load)) {
            llama_load_hf(&model, o.load);
            printf("initialised parameters from the Hugging Face model %s (starting at step 0)\n", o.load.c_str());
        } else if (load_is_llama2c(o.load, &l2c)) {
            llama_load_llama2c(&model, o.load, l2c);
            printf("initialised parameters from llama2.c model %s (no optimizer state: starting at step 0)\n",
                   o.load.c_str());
        } else if (llama_load_checkpoint(&model, o.load, &st)) {
            start_step = resume_run(st, o, &data.train, &rng, &prior_s);
        } else {
            print_params_only(o.load);
        }
        check_steps_left(o, start_step);
    } else {
        llama_init_params(&model, (uint64_t)o.seed);
    }

    // --- what this run is
    if (o.peak_gflops == 0) {  // the default: the peak of this run's matmul instructions, summed over the ranks
        o.peak_gflops = (float)dist_sum(dist, peak_gflops(bf16, &o.peak_basis));
        if (dist.world > 1) o.peak_basis += ", summed over " + std::to_string(dist.world) + " ranks";
    }
    Run run = run_make(o, bp, dist, start_step, prior_s, llama_flops_per_token(config, T) * bp.total_batch,
                       run_threads());
    print_model(config, model.num_params);
    print_run_plan(run, data);
    print_mfu_basis(run);
    printf("matmuls: %s\n", describe_precision(precision, bf16).c_str());
    print_data_parallel(run, model.num_params, dist_describe(dist), "rank");
    prune_banner(model.pruner, start_step);
    char shape[160];
    snprintf(shape, sizeof shape, "V=%d C=%d L=%d NH=%d NKV=%d H=%d maxT=%d", config.V, config.C, config.L, config.NH, config.NKV, config.H, config.maxT);
    run_start(&run, "train_llama", specs, shape, model.num_params);

    auto evaluate = [&](int step) {
        EvalResult r = llama_evaluate(&model, &data.val, data.val_batches, train_data_tokenizer(data));
        report_eval(&run.log, step, r.loss, r.bpb);
    };
    auto sample = [&](int step) {
        if (!data.have_tok) return;
        std::string text = llama_generate(&model, data.tok, o.gen_tokens, o.temperature, o.top_k, &rng);
        report_sample(&run.log, step, text, o.temperature, o.top_k);
    };
    auto save = [&](int step) {
        std::string path = run_file(run, "ckpt", step);
        llama_save_checkpoint(&model, path, run_train_state(run, step, rng, data.train));
        run_saved(&run, step, path);
    };

    // --- the loop: forward and backward over the micro-batches, then one update
    int step = start_step;
    for (; step < run_total_steps(&run, &o.sched, step); step++) {
        if (run_eval_due(run, step)) evaluate(step);
        if (run_sample_due(run, step)) sample(step);
        model.prof.on = profile;  // evaluation and sampling are not part of the profile

        run_step_start(&run);
        llama_zero_grad(&model);
        double loss = 0.0;
        for (int micro = 0; micro < bp.accum; micro++) {
            dataloader_next_batch(&data.train);
            float l = llama_forward(&model, data.train.inputs.data() + row0, data.train.targets.data() + row0, Bl, T);
            run_check_finite(run, step, "loss", l);
            loss += l / bp.accum;
            llama_backward(&model, Bl, T, 1.0f / (bp.accum * dist.world));  // the ranks' gradients are summed
        }
        loss = dist_sum(dist, loss) / dist.world;
        float lr = schedule_lr(o.sched, step);
        float norm = llama_update(&model, lr, o.opt);
        run_check_finite(run, step, "gradient norm", norm);
        prune_step_done(&model.pruner, step + 1, model.params_memory, model.m_memory, model.v_memory, &run.log);
        run_step_done(&run, step, loss, lr, norm);
        if (step == start_step) prof_reset(&model.prof);  // the first step pays for allocation
        else model.prof.steps++;
        model.prof.on = false;
        if (run_ckpt_due(run, step + 1)) save(step + 1);
    }

    // --- finish: the last checkpoint, evaluation and sample
    if (run.last_saved != step) save(step);
    data.val_batches = final_val_batches(run.budget, data.val, data.val_batches);
    evaluate(step);
    sample(step);
    prune_summary(model.pruner, step, &run.log);
    if (profile) prof_print(model.prof);
    run_finish(&run, step, "gradient all-reduce and parameter all-gather", false);
    llama_free(&model);
    dist_finalize(dist);
    return 0;
}
#endif  // TRAIN_LLAMA_NO_MAIN
