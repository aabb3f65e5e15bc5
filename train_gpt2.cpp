// train_gpt2.cpp: train GPT-2 on the CPU, reading and writing llm.c's files.
//
// Read top to bottom: config, parameter layout, activation layout, forward,
// backward, AdamW update, evaluation and sampling, model files and
// checkpoints, then main. Every forward and backward pass is written out by
// hand from the kernels in kernels/cpu/ (one op per file); there is no autograd.
// It uses the same fast kernels as train_llama.cpp where GPT-2 has the op:
// tiled attention that keeps no (T, T) probabilities, the classifier fused
// with its loss and backward, backward matmuls that overwrite their dinp, and
// the vectorised AdamW.
//
// Model (GPT-2, as llm.c's train_gpt2.c): token embedding + learned position
// embedding; per layer pre-LayerNorm → fused QKV projection with bias → causal
// multi-head attention → output projection with bias → residual → LayerNorm →
// MLP of 4·C with biases and GELU (tanh approximation) → residual; final
// LayerNorm; output head tied to the token embedding; mean cross-entropy.
//
// The vocabulary is padded to Vp, a multiple of 128, as llm.c does, so that
// llm.c's model files load unchanged: wte has Vp rows, but only the first V
// are the vocabulary. The head multiplies by those V rows only, so the padded
// rows never reach a logit, the softmax or the loss, and get no gradient.
//
// Files: -e reads llm.c's model file (gpt2_124M.bin: magic 20240326, version 3,
// fp32) or our checkpoint (with AdamW state, for exact resume). Every
// checkpoint is written both ways: ckpt_NNNNNN.bin (ours) and model_NNNNNN.bin
// (llm.c's), like llm.c's own state_ and model_ files. Data are llm.c's token
// shards (magic 20240520), e.g. from `build/prepro --gpt2`.
//
// Shape letters, the same in every file: B batch, T time, C channels, NH heads,
// HS head size (C/NH), V vocabulary, Vp padded vocabulary, L layers, maxT the
// longest sequence (rows of wpe).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
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
#include "common/llmc_model.h"
#include "common/logger.h"
#include "common/optimizer.h"
#include "common/prune.h"
#include "common/report.h"
#include "common/report_html.h"
#include "common/rng.h"
#include "common/run.h"
#include "common/sampler.h"
#include "common/trainer.h"
#include "common/util.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_bf16.h"
#include "kernels/cpu/bias.h"
#include "kernels/cpu/classifier.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/peak.h"
#include "kernels/cpu/position.h"
#include "kernels/cpu/residual.h"
#include "tokenizer/tokenizer.h"

// ----------------------------------------------------------------------------
// Config

struct GPT2Config {
    int maxT = 0;  // longest sequence: rows of the position embedding
    int V = 0;     // vocabulary size
    int Vp = 0;    // V padded (llm.c: up to a multiple of 128); rows of wte
    int L = 0;     // layers
    int NH = 0;    // heads
    int C = 0;     // channels
    float norm_eps = 1e-5f;
};

// llm.c pads the vocabulary to a multiple of 128 (50257 → 50304).
static int padded_vocab(int V) { return (V + 127) / 128 * 128; }

struct ModelPreset {
    const char* name;
    GPT2Config config;
};

// {maxT, V, Vp, L, NH, C}
static const ModelPreset MODEL_PRESETS[] = {
    {"gpt2-124M", {1024, 50257, 50304, 12, 12, 768}},  // 124.48M parameters (OpenAI's GPT-2 small)
    {"gpt2-tiny", {64, 500, 512, 2, 4, 64}},           // 0.14M parameters, for tests
};

// Checks that the shape is buildable; `where` says where it came from.
static void config_validate(const GPT2Config& c, const char* where) {
    if (c.maxT < 1 || c.V < 1 || c.L < 1 || c.NH < 1 || c.C < 1)
        die("%s: every model size must be positive (seq-len %d, vocab %d, layers %d, heads %d, dim %d)", where, c.maxT,
            c.V, c.L, c.NH, c.C);
    if (c.Vp < c.V) die("%s: padded vocab %d is smaller than the vocab %d", where, c.Vp, c.V);
    if (c.C % c.NH != 0) die("%s: dim %d is not divisible by heads %d", where, c.C, c.NH);
}

// The config lives in the checkpoint header at CKPT_CONFIG_OFFSET, in this order.
static void config_to_header(const GPT2Config& c, int* header) {
    int* h = header + CKPT_CONFIG_OFFSET;
    h[0] = c.maxT; h[1] = c.V; h[2] = c.Vp; h[3] = c.L; h[4] = c.NH; h[5] = c.C;
    memcpy(&h[6], &c.norm_eps, sizeof(float));
}

static GPT2Config config_from_header(const int* header) {
    const int* h = header + CKPT_CONFIG_OFFSET;
    GPT2Config c;
    c.maxT = h[0]; c.V = h[1]; c.Vp = h[2]; c.L = h[3]; c.NH = h[4]; c.C = h[5];
    memcpy(&c.norm_eps, &h[6], sizeof(float));
    return c;
}

static GPT2Config config_from_llmc(const LlmcShape& s) {
    GPT2Config c;
    c.maxT = s.maxT; c.V = s.V; c.Vp = s.Vp; c.L = s.L; c.NH = s.NH; c.C = s.C;
    return c;
}

static LlmcShape llmc_shape(const GPT2Config& c) {
    LlmcShape s;
    s.maxT = c.maxT; s.V = c.V; s.Vp = c.Vp; s.L = c.L; s.NH = c.NH; s.C = c.C;
    return s;
}

// ----------------------------------------------------------------------------
// Parameters: one allocation, a struct of pointers into it, in llm.c's order
// and layout (so an llm.c model file is this blob after its header).
// Layers are stacked inside each tensor; matrices are (out, in).

constexpr int NUM_PARAM_TENSORS = 16;
struct ParameterTensors {
    float* wte;       // (Vp, C) token embedding, also the output head (rows < V)
    float* wpe;       // (maxT, C) position embedding
    float* ln1w;      // (L, C)
    float* ln1b;      // (L, C)
    float* qkvw;      // (L, 3·C, C): rows of wq, then wk, then wv
    float* qkvb;      // (L, 3·C)
    float* attprojw;  // (L, C, C)
    float* attprojb;  // (L, C)
    float* ln2w;      // (L, C)
    float* ln2b;      // (L, C)
    float* fcw;       // (L, 4·C, C)
    float* fcb;       // (L, 4·C)
    float* fcprojw;   // (L, C, 4·C)
    float* fcprojb;   // (L, C)
    float* lnfw;      // (C)
    float* lnfb;      // (C)
};
// AdamW decays the 2-D tensors (both embeddings and the weight matrices), as
// llm.c and nanoGPT do; never biases or LayerNorm parameters.
static const bool PARAM_DECAY[NUM_PARAM_TENSORS] = {true,  true,  false, false, true,  false, true,  false,
                                                    false, false, true,  false, true,  false, false, false};

// In size_t to lay out the blob, or in double to check a file's header
// before allocating (where a corrupt header's sizes must not wrap around).
template <typename Num>
static void param_sizes(Num* sizes, const GPT2Config& c) {
    Num C = c.C, L = c.L, Vp = c.Vp, maxT = c.maxT;
    Num s[NUM_PARAM_TENSORS] = {Vp * C, maxT * C, L * C,     L * C,     L * 3 * C * C,     L * 3 * C, L * C * C, L * C,
                                L * C,  L * C,    L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C,     C,         C};
    memcpy(sizes, s, sizeof s);
}

static void point_parameters(ParameterTensors* p, float* memory, const size_t* sizes) {
    float** ptrs[NUM_PARAM_TENSORS] = {&p->wte,  &p->wpe,  &p->ln1w, &p->ln1b,    &p->qkvw,    &p->qkvb,
                                       &p->attprojw, &p->attprojb, &p->ln2w, &p->ln2b, &p->fcw, &p->fcb,
                                       &p->fcprojw, &p->fcprojb, &p->lnfw, &p->lnfb};
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = memory;
        memory += sizes[i];
    }
}

// The linear layers' matrices, which --sparsity prunes (common/prune.h): each
// layer's qkvw, attprojw, fcw and fcprojw. The head is the token embedding
// (tied), which is never pruned, and neither are biases and LayerNorms.
static void prune_ranges(Pruner* pr, const size_t* sizes, const GPT2Config& c) {
    size_t offset = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        if (i == 4 || i == 6 || i == 10 || i == 12)
            for (int l = 0; l < c.L; l++) prune_add_range(pr, offset + l * (sizes[i] / c.L), sizes[i] / c.L);
        offset += sizes[i];
    }
}

// ----------------------------------------------------------------------------
// Activations: what forward keeps for backward, one allocation sized for (B, T).

struct ActivationTensors {
    float* encoded;    // (B, T, C) wte[token] + wpe[t] = residual stream into layer 0
    float* ln1;        // (L, B, T, C) LayerNorm before attention
    float* ln1_mean;   // (L, B, T)
    float* ln1_rstd;   // (L, B, T)
    float* qkv;        // (L, B, T, 3·C)
    float* lse;        // (L, B, NH, T) log-sum-exp of each attention row: backward rebuilds p from it
    float* atty;       // (L, B, T, C) attention output before the projection
    float* res_att;    // (L, B, T, C) residual stream after attention
    float* ln2;        // (L, B, T, C) LayerNorm before the MLP
    float* ln2_mean;   // (L, B, T)
    float* ln2_rstd;   // (L, B, T)
    float* fch;        // (L, B, T, 4·C) MLP hidden layer before GELU
    float* fch_gelu;   // (L, B, T, 4·C) after GELU
    float* res_ffn;    // (L, B, T, C) residual stream after the MLP = next layer's input
    float* lnf;        // (B, T, C) final LayerNorm
    float* lnf_mean;   // (B, T)
    float* lnf_rstd;   // (B, T)
    // (B, T, V) logits of a forward without targets (sampling, tests); training
    // never touches it, so its pages are never faulted in by a training run
    float* logits;
    float* cls_chunk;  // (min(B·T, CLASSIFIER_CHUNK), V) one chunk of logits, then of their gradient
    float* dlnf;       // (B, T, C) ∂(mean loss)/∂lnf, left by a training forward for backward
    float* losses;     // (B, T)
    float* scratch;    // (B, T, C) projection output before the residual add
};
constexpr int NUM_ACT_TENSORS = 22;

static void act_sizes(size_t* s, const GPT2Config& c, int B, int T) {
    size_t BT = (size_t)B * T, L = c.L, C = c.C;
    size_t chunk = std::min(BT, (size_t)CLASSIFIER_CHUNK);
    size_t sizes[NUM_ACT_TENSORS] = {BT * C,     L * BT * C, L * BT,     L * BT,     L * BT * 3 * C,
                                     L * B * c.NH * T,       L * BT * C, L * BT * C, L * BT * C,
                                     L * BT,     L * BT,     L * BT * 4 * C,         L * BT * 4 * C,
                                     L * BT * C, BT * C,     BT,         BT,         BT * c.V,
                                     chunk * c.V,            BT * C,     BT,         BT * C};
    memcpy(s, sizes, sizeof sizes);
}

// Gradients of activations: reused layer after layer, so sized for one layer.
struct GradScratch {
    float* dresidual;  // (B, T, C) ∂L/∂ residual stream at the current point
    float* dln;        // (B, T, C) ∂L/∂ a LayerNorm output
    float* dqkv;       // (B, T, 3·C)
    float* datty;      // (B, T, C)
    float* dfch;       // (B, T, 4·C) ∂L/∂ GELU output, then (in place) ∂L/∂ its input
    float* dwcls;      // (V, C) ∂(mean loss)/∂ the head (wte's first V rows), left by a training forward
};
constexpr int NUM_GRAD_SCRATCH = 6;

// ----------------------------------------------------------------------------
// The model

struct GPT2 {
    GPT2Config config;
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
    bool cls_grad_ready = false;   // the last forward left dlnf and dwcls for backward
    bool bf16 = false;             // matmuls and attention's products on bf16 operands, fp32 accumulation
    Pruner pruner;                 // sparsity mask of the linear layers (--sparsity); empty mask = dense
    std::vector<int> inputs, targets;
    float mean_loss = 0.0f;
    int64_t step = 0;              // optimizer steps done
};

static void gpt2_build(GPT2* model, const GPT2Config& config) {
    config_validate(config, "model config");
    model->config = config;
    param_sizes(model->param_sizes, config);
    model->num_params = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) model->num_params += model->param_sizes[i];
    model->params_memory = (float*)calloc_check(model->num_params * sizeof(float), "parameters");
    model->grads_memory = (float*)calloc_check(model->num_params * sizeof(float), "gradients");
    point_parameters(&model->params, model->params_memory, model->param_sizes);
    point_parameters(&model->grads, model->grads_memory, model->param_sizes);
    prune_ranges(&model->pruner, model->param_sizes, config);
}

static void gpt2_free(GPT2* model) {
    free(model->params_memory);
    free(model->grads_memory);
    free(model->m_memory);
    free(model->v_memory);
    free(model->acts_memory);
    free(model->grad_scratch_memory);
}

// Init as llm.c's train_gpt2.py: N(0, 0.02) for the embeddings and matrices,
// the two projections that write into the residual stream (attprojw, fcprojw)
// scaled by 1/sqrt(2L) so the stream's variance does not grow with depth;
// biases 0, LayerNorm weights 1; the padded vocabulary rows 0.
static void gpt2_init_params(GPT2* model, uint64_t seed) {
    Rng rng = rng_make(seed);
    const GPT2Config& c = model->config;
    float* mem = model->params_memory;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        bool is_ln_weight = i == 2 || i == 8 || i == 14;
        float std = (i == 6 || i == 12) ? 0.02f / sqrtf(2.0f * c.L) : 0.02f;
        size_t n = i == 0 ? (size_t)c.V * c.C : model->param_sizes[i];  // wte's padded rows stay 0 (calloc)
        for (size_t j = 0; j < n; j++) mem[j] = is_ln_weight ? 1.0f : PARAM_DECAY[i] ? std * rng_normal(&rng) : 0.0f;
        mem += model->param_sizes[i];
    }
}

static void gpt2_alloc_activations(GPT2* model, int B, int T) {
    const GPT2Config& c = model->config;
    if (T > c.maxT) die("sequence length T=%d exceeds the model's seq-len %d", T, c.maxT);
    size_t sizes[NUM_ACT_TENSORS], total = 0;
    act_sizes(sizes, c, B, T);
    for (size_t s : sizes) total += s;
    model->acts_memory = (float*)malloc_check(total * sizeof(float), "activations");
    ActivationTensors& a = model->acts;
    float** ptrs[NUM_ACT_TENSORS] = {&a.encoded, &a.ln1,     &a.ln1_mean, &a.ln1_rstd, &a.qkv,       &a.lse,
                                     &a.atty,    &a.res_att, &a.ln2,      &a.ln2_mean, &a.ln2_rstd,  &a.fch,
                                     &a.fch_gelu, &a.res_ffn, &a.lnf,     &a.lnf_mean, &a.lnf_rstd,  &a.logits,
                                     &a.cls_chunk, &a.dlnf,  &a.losses,   &a.scratch};
    float* p = model->acts_memory;
    for (int i = 0; i < NUM_ACT_TENSORS; i++) { *ptrs[i] = p; p += sizes[i]; }

    size_t BT = (size_t)B * T, C = c.C;
    size_t gsizes[NUM_GRAD_SCRATCH] = {BT * C, BT * C, BT * 3 * C, BT * C, BT * 4 * C, (size_t)c.V * C};
    total = 0;
    for (size_t s : gsizes) total += s;
    model->grad_scratch_memory = (float*)malloc_check(total * sizeof(float), "activation gradients");
    GradScratch& g = model->gs;
    float** gptrs[NUM_GRAD_SCRATCH] = {&g.dresidual, &g.dln, &g.dqkv, &g.datty, &g.dfch, &g.dwcls};
    p = model->grad_scratch_memory;
    for (int i = 0; i < NUM_GRAD_SCRATCH; i++) { *gptrs[i] = p; p += gsizes[i]; }
    model->B = B;
    model->T = T;
}

// ----------------------------------------------------------------------------
// Forward. inputs and targets are (B, T). With targets, returns the mean loss;
// a training forward (grad) also runs the classifier's backward, chunk by
// chunk while its logits are at hand, and leaves ∂(mean loss)/∂lnf and
// ∂(mean loss)/∂wte[:V] for gpt2_backward. Without targets, leaves the logits
// in acts.logits.

static float gpt2_forward_pass(GPT2* model, const int* inputs, const int* targets, int B, int T, bool grad) {
    if (!model->acts_memory) gpt2_alloc_activations(model, B, T);
    if ((size_t)B * T > (size_t)model->B * model->T || T > model->T)
        die("forward with B=%d, T=%d but activations were sized for B=%d, T=%d", B, T, model->B, model->T);
    const GPT2Config& c = model->config;
    const int V = c.V, C = c.C, L = c.L, NH = c.NH, HS = C / NH;
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
    embedding_forward(a.encoded, inputs, p.wte, (int)BT, C);
    position_forward(a.encoded, p.wpe, B, T, C);
    const float* x = a.encoded;  // the residual stream entering the layer
    for (int l = 0; l < L; l++) {
        float* ln1 = a.ln1 + l * BT * C;
        float* ln1_mean = a.ln1_mean + l * BT;
        float* ln1_rstd = a.ln1_rstd + l * BT;
        float* qkv = a.qkv + l * BT * 3 * C;
        float* lse = a.lse + (size_t)l * B * NH * T;
        float* atty = a.atty + l * BT * C;
        float* res_att = a.res_att + l * BT * C;
        float* ln2 = a.ln2 + l * BT * C;
        float* ln2_mean = a.ln2_mean + l * BT;
        float* ln2_rstd = a.ln2_rstd + l * BT;
        float* fch = a.fch + l * BT * 4 * C;
        float* fch_gelu = a.fch_gelu + l * BT * 4 * C;
        float* res_ffn = a.res_ffn + l * BT * C;
        // attention block
        layernorm_forward(ln1, ln1_mean, ln1_rstd, x, p.ln1w + l * C, p.ln1b + l * C, (int)BT, C, c.norm_eps);
        matmul_forward_bias(qkv, ln1, p.qkvw + (size_t)l * 3 * C * C, p.qkvb + l * 3 * C,
                            (int)BT, C, 3 * C, model->bf16);
        attention_forward_flash(atty, lse, qkv, B, T, NH, NH, HS, model->bf16);
        matmul_forward_bias(a.scratch, atty, p.attprojw + (size_t)l * C * C, p.attprojb + l * C,
                            (int)BT, C, C, model->bf16);
        residual_forward(res_att, x, a.scratch, BT * C);
        // MLP block
        layernorm_forward(ln2, ln2_mean, ln2_rstd, res_att, p.ln2w + l * C, p.ln2b + l * C, (int)BT, C, c.norm_eps);
        matmul_forward_bias(fch, ln2, p.fcw + (size_t)l * 4 * C * C, p.fcb + l * 4 * C,
                            (int)BT, C, 4 * C, model->bf16);
        gelu_forward(fch_gelu, fch, BT * 4 * C);
        matmul_forward_bias(a.scratch, fch_gelu, p.fcprojw + (size_t)l * C * 4 * C, p.fcprojb + l * C,
                            (int)BT, 4 * C, C, model->bf16);
        residual_forward(res_ffn, res_att, a.scratch, BT * C);
        x = res_ffn;
    }
    layernorm_forward(a.lnf, a.lnf_mean, a.lnf_rstd, x, p.lnfw, p.lnfb, (int)BT, C, c.norm_eps);
    // the head: the first V rows of wte; the padded rows are not part of the
    // vocabulary, so they reach no logit and get no gradient
    if (!targets) {
        matmul_forward(a.logits, a.lnf, p.wte, (int)BT, C, V, model->bf16);
        return 0.0f;
    }
    if (grad) memset(model->gs.dwcls, 0, (size_t)V * C * sizeof(float));
    // each of the BT losses enters the mean with weight 1/BT
    classifier_forward_backward(a.losses, grad ? a.dlnf : nullptr, grad ? model->gs.dwcls : nullptr, a.cls_chunk,
                                a.lnf, p.wte, targets, 1.0f / BT, (int)BT, C, V, model->bf16);
    model->cls_grad_ready = grad;
    double sum = 0.0;
    for (size_t i = 0; i < BT; i++) sum += a.losses[i];
    model->mean_loss = (float)(sum / BT);
    return model->mean_loss;
}

static float gpt2_forward(GPT2* model, const int* inputs, const int* targets, int B, int T) {
    return gpt2_forward_pass(model, inputs, targets, B, T, targets != nullptr);
}

// ----------------------------------------------------------------------------
// Backward: after a forward with targets, adds ∂(loss_scale · mean loss)/∂θ
// into model->grads. loss_scale is 1/accum_steps under gradient accumulation.

static void gpt2_zero_grad(GPT2* model) { memset(model->grads_memory, 0, model->num_params * sizeof(float)); }

static void gpt2_backward(GPT2* model, int B, int T, float loss_scale) {
    if (!model->cls_grad_ready) die("backward needs a training forward with targets just before it");
    const GPT2Config& c = model->config;
    const int V = c.V, C = c.C, L = c.L, NH = c.NH, HS = C / NH;
    const size_t BT = (size_t)B * T;
    ParameterTensors p = model->params, g = model->grads;
    ActivationTensors a = model->acts;
    GradScratch gs = model->gs;

    // head: the forward left its gradients for loss scale 1; only wte's first V rows are the head
    const float* dlnf = classifier_scale_grads(g.wte, gs.dwcls, a.dlnf, gs.dln, loss_scale, (int)BT, C, V);
    // final norm; the last layer's output is the residual stream there
    memset(gs.dresidual, 0, BT * C * sizeof(float));
    const float* x_last = a.res_ffn + (size_t)(L - 1) * BT * C;
    layernorm_backward(gs.dresidual, g.lnfw, g.lnfb, dlnf, x_last, p.lnfw, a.lnf_mean, a.lnf_rstd, (int)BT, C);

    for (int l = L - 1; l >= 0; l--) {
        const float* x = l == 0 ? a.encoded : a.res_ffn + (size_t)(l - 1) * BT * C;
        float* ln1 = a.ln1 + l * BT * C;
        float* ln1_mean = a.ln1_mean + l * BT;
        float* ln1_rstd = a.ln1_rstd + l * BT;
        float* qkv = a.qkv + l * BT * 3 * C;
        float* lse = a.lse + (size_t)l * B * NH * T;
        float* atty = a.atty + l * BT * C;
        float* res_att = a.res_att + l * BT * C;
        float* ln2 = a.ln2 + l * BT * C;
        float* ln2_mean = a.ln2_mean + l * BT;
        float* ln2_rstd = a.ln2_rstd + l * BT;
        float* fch = a.fch + l * BT * 4 * C;
        float* fch_gelu = a.fch_gelu + l * BT * 4 * C;
        // MLP block. dresidual holds ∂L/∂res_ffn; the residual add passes it
        // unchanged both to the projection's output and to res_att.
        matmul_backward_bias_set_dinp(gs.dfch, g.fcprojw + (size_t)l * C * 4 * C, g.fcprojb + l * C, gs.dresidual,
                                      fch_gelu, p.fcprojw + (size_t)l * C * 4 * C, (int)BT, 4 * C, C, model->bf16);
        gelu_backward(gs.dfch, fch, gs.dfch, BT * 4 * C);
        matmul_backward_bias_set_dinp(gs.dln, g.fcw + (size_t)l * 4 * C * C, g.fcb + l * 4 * C, gs.dfch, ln2,
                                      p.fcw + (size_t)l * 4 * C * C, (int)BT, C, 4 * C, model->bf16);
        layernorm_backward(gs.dresidual, g.ln2w + l * C, g.ln2b + l * C, gs.dln, res_att, p.ln2w + l * C, ln2_mean,
                           ln2_rstd, (int)BT, C);
        // attention block. dresidual now holds ∂L/∂res_att.
        matmul_backward_bias_set_dinp(gs.datty, g.attprojw + (size_t)l * C * C, g.attprojb + l * C, gs.dresidual,
                                      atty, p.attprojw + (size_t)l * C * C, (int)BT, C, C, model->bf16);
        attention_backward_flash(gs.dqkv, gs.datty, qkv, atty, lse, B, T, NH, NH, HS, model->bf16);
        matmul_backward_bias_set_dinp(gs.dln, g.qkvw + (size_t)l * 3 * C * C, g.qkvb + l * 3 * C, gs.dqkv, ln1,
                                      p.qkvw + (size_t)l * 3 * C * C, (int)BT, C, 3 * C, model->bf16);
        layernorm_backward(gs.dresidual, g.ln1w + l * C, g.ln1b + l * C, gs.dln, x, p.ln1w + l * C, ln1_mean,
                           ln1_rstd, (int)BT, C);
        // dresidual now holds ∂L/∂x, the gradient flowing into the layer below
    }
    // x = wte[token] + wpe[t]: the add passes dresidual to both tables
    embedding_backward(g.wte, gs.dresidual, model->inputs.data(), (int)BT, C);
    position_backward(g.wpe, gs.dresidual, B, T, C);
}

// ----------------------------------------------------------------------------
// Update: global gradient-norm clipping, then AdamW over each parameter tensor
// (decay on 2-D tensors only, PARAM_DECAY). Returns the gradient norm before clipping.

// With MPI the gradients are first summed over the ranks; each rank updates
// its shard of the parameters (the moments it holds) and the shards are
// all-gathered (ZeRO-1, common/dist.h).

// The part of the blob whose AdamW moments this process holds: all of it, or its MPI shard.
static size_t optimizer_begin(const GPT2* m) { return m->dist ? m->dist->shard_begin : 0; }
static size_t optimizer_end(const GPT2* m) { return m->dist ? m->dist->shard_end : m->num_params; }

static void gpt2_alloc_optimizer(GPT2* model) {
    if (model->m_memory) return;
    size_t bytes = (optimizer_end(model) - optimizer_begin(model)) * sizeof(float);
    model->m_memory = (float*)calloc_check(bytes, "AdamW m");
    model->v_memory = (float*)calloc_check(bytes, "AdamW v");
    model->pruner.moment_begin = optimizer_begin(model);
    model->pruner.moment_end = optimizer_end(model);
}

static float gpt2_update(GPT2* model, float lr, const AdamWConfig& opt) {
    gpt2_alloc_optimizer(model);
    model->step++;
    if (model->dist) dist_allreduce_sum(model->dist, model->grads_memory, model->num_params);
    prune_before_update(model->pruner, model->grads_memory);
    float norm = optimizer_step_shard(model->params_memory, model->grads_memory, model->m_memory, model->v_memory,
                                      model->param_sizes, PARAM_DECAY, NUM_PARAM_TENSORS, lr, opt, (int)model->step,
                                      optimizer_begin(model), optimizer_end(model));
    prune_after_update(model->pruner, model->params_memory, model->m_memory, model->v_memory);
    if (model->dist) dist_allgather_shards(model->dist, model->params_memory);
    return norm;
}

// ----------------------------------------------------------------------------
// Evaluation and sampling

static EvalResult gpt2_evaluate(GPT2* model, DataLoader* val, int batches, const Tokenizer* tok) {
    return evaluate_val(
        val, batches, tok,
        [&](const int* inputs, const int* targets, int B, int T) {
            gpt2_forward_pass(model, inputs, targets, B, T, false);
            double nll = 0.0;
            for (int j = 0; j < B * T; j++) nll += model->acts.losses[j];
            return nll;
        },
        model->dist);
}

static std::string gpt2_generate(GPT2* model, const Tokenizer& tok, int num_tokens, float temperature, int top_k,
                                 Rng* rng) {
    const int V = model->config.V;
    return generate_text(tok, model->T, V, num_tokens, temperature, top_k, rng, [&](const int* tokens, int len) {
        gpt2_forward(model, tokens, nullptr, 1, len);
        return (const float*)model->acts.logits + (size_t)(len - 1) * V;
    });
}

// ----------------------------------------------------------------------------
// Model files and checkpoints

// llm.c's model file: parameters only, fp32, in the blob's own order.
static void gpt2_save_llmc(const GPT2* model, const std::string& path) {
    llmc_write(path, llmc_shape(model->config), model->params_memory, model->num_params);
}

// Our checkpoint: parameters, and AdamW state with the train state once there is one.
// With MPI every rank calls it: rank 0 gathers the moments' shards and writes.
static void gpt2_save_checkpoint(const GPT2* model, const std::string& path, const TrainState& state) {
    int header[CKPT_HEADER_INTS] = {0};
    header[0] = CKPT_MAGIC;
    header[1] = CKPT_VERSION;
    header[2] = CKPT_KIND_GPT2;
    header[3] = model->m_memory ? 1 : 0;
    config_to_header(model->config, header);
    checkpoint_save_sharded(path, header, model->params_memory, model->num_params, model->m_memory, model->v_memory,
                            &state, &model->pruner, model->dist);
}

// The shape stored in a model file of either kind; dies on anything else.
static GPT2Config gpt2_read_file_config(const std::string& path) {
    int magic = file_magic(path);
    if (magic == LLMC_MODEL_MAGIC) {
        GPT2Config c = config_from_llmc(llmc_read_header(path));
        // the size must match before the model is allocated: a corrupt header could ask for terabytes
        double sizes[NUM_PARAM_TENSORS], n = 0.0;
        param_sizes(sizes, c);
        for (double x : sizes) n += x;
        llmc_check_size(path, n);
        return c;
    }
    if (magic == CKPT_MAGIC) {
        int header[CKPT_HEADER_INTS];
        checkpoint_read_header(path, header, CKPT_KIND_GPT2);
        return config_from_header(header);
    }
    die("%s: bad magic %d, expected %d (llm.c GPT-2 model file) or %d (checkpoint of this engine)", path.c_str(), magic,
        LLMC_MODEL_MAGIC, CKPT_MAGIC);
}

// Loads parameters from either kind of file into a model built from
// gpt2_read_file_config(path), and optimizer state if the file has it;
// returns whether it did.
static bool gpt2_load(GPT2* model, const std::string& path, TrainState* state) {
    if (file_magic(path) == LLMC_MODEL_MAGIC) {
        llmc_read_params(path, model->params_memory, model->num_params);
        return false;
    }
    // with MPI each rank keeps the moments of its own shard, so a checkpoint
    // written by any number of ranks resumes on any number
    gpt2_alloc_optimizer(model);
    bool resumed = checkpoint_load_sharded(path, model->num_params, model->params_memory, model->m_memory,
                                           model->v_memory, state, &model->pruner, model->dist);
    if (resumed) model->step = state->step;
    return resumed;
}

// ----------------------------------------------------------------------------
// FLOPs per token for MFU: 6 per weight per token for every matmul (2 forward,
// 4 backward), plus attention's q·k and p·v: 2·2·T·HS per head forward,
// halved because the mask is causal, ×3 for backward.

static double gpt2_flops_per_token(const GPT2Config& c, int T) {
    double C = c.C;
    double matmul_params = c.L * 12.0 * C * C + (double)c.V * C;
    double attention = c.L * 6.0 * T * C;
    return 6.0 * matmul_params + attention;
}

#ifndef TRAIN_GPT2_NO_MAIN
// ----------------------------------------------------------------------------
// Command line and main loop

struct ModelOptions {
    std::string model = "gpt2-124M";
    GPT2Config shape;  // from flags; 0 = from the preset or the model file
};

static const char* SUMMARY =
    "Trains GPT-2 on the CPU from llm.c token shards, e.g. from build/prepro --gpt2 (see README.md).\n"
    "Model presets: --model gpt2-124M (124.5M params) or gpt2-tiny (tests); shape flags override the preset.\n"
    "-e FILE initialises from llm.c's model file (gpt2_124M.bin) or resumes from one of our checkpoints.\n"
    "Checkpoints are written as ckpt_NNNNNN.bin (ours, with optimizer state) and model_NNNNNN.bin (llm.c's).\n"
    "LLM_ISA=plain|avx2|avx512|avx512_bf16|amx in the environment forces the GEMM's instruction set (default: the best\n"
    "this CPU has; the banner's matmuls: line says which).";

// Shape from the preset, overridden by explicit shape flags.
static GPT2Config resolve_config(const ModelOptions& o, const std::vector<ArgSpec>& specs) {
    const ModelPreset* preset = nullptr;
    for (const ModelPreset& p : MODEL_PRESETS)
        if (o.model == p.name) preset = &p;
    if (!preset) {
        std::string names;
        for (const ModelPreset& p : MODEL_PRESETS) names += std::string(" ") + p.name;
        die("unknown --model '%s'; presets:%s", o.model.c_str(), names.c_str());
    }
    GPT2Config c = preset->config;
    if (arg_was_set(specs, "--vocab")) { c.V = o.shape.V; c.Vp = padded_vocab(c.V); }
    if (arg_was_set(specs, "--dim")) c.C = o.shape.C;
    if (arg_was_set(specs, "--layers")) c.L = o.shape.L;
    if (arg_was_set(specs, "--heads")) c.NH = o.shape.NH;
    if (arg_was_set(specs, "--seq-len")) c.maxT = o.shape.maxT;
    return c;
}

// With -e, the file's shape rules; a shape flag, if given, must agree with it
// (and --model means every field of that preset must).
static void check_config_matches(const GPT2Config& file, const GPT2Config& flags, const std::vector<ArgSpec>& specs,
                                 const std::string& path) {
    bool preset = arg_was_set(specs, "--model");
    struct { const char* flag; const char* name; long a, b; } fields[] = {
        {"--vocab", "vocab", file.V, flags.V}, {"--vocab", "padded vocab", file.Vp, flags.Vp},
        {"--dim", "dim", file.C, flags.C}, {"--layers", "layers", file.L, flags.L},
        {"--heads", "heads", file.NH, flags.NH}, {"--seq-len", "seq-len", file.maxT, flags.maxT}};
    for (const auto& f : fields)
        if ((preset || arg_was_set(specs, f.flag)) && f.a != f.b)
            die("model file %s has %s=%ld but the flags ask for %s=%ld (drop the shape flags to use the file's)",
                path.c_str(), f.name, f.a, f.name, f.b);
}

// The trainer's defaults where GPT-2's differ from common/trainer.h's: llm.c's
// CPU batch (B=4, T=64), and the data `build/prepro --gpt2 --out data/tinyshakespeare_gpt2` writes.
static TrainerOptions gpt2_default_options() {
    TrainerOptions o;
    o.B = 4;
    o.T = 64;
    o.sched.lr = 3e-4f;
    o.train_glob = "data/tinyshakespeare_gpt2/train_*.bin";
    o.val_glob = "data/tinyshakespeare_gpt2/val_*.bin";
    o.tokenizer = "../shared/data/gpt2";
    return o;
}

// The model's shape: preset + flags, or the file given with -e (whose shape
// flags must then agree). Also settles -t against the model's seq-len.
static GPT2Config choose_config(const ModelOptions& mo, TrainerOptions* o, const std::vector<ArgSpec>& specs) {
    GPT2Config config = resolve_config(mo, specs);
    if (!o->load.empty()) {
        GPT2Config file = gpt2_read_file_config(o->load);
        config_validate(file, o->load.c_str());
        check_config_matches(file, config, specs, o->load);
        config = file;
        if (arg_was_set(specs, "--seq") && o->T > config.maxT)
            die("%s: the model's longest sequence (seq-len) is %d, -t asks for %d", o->load.c_str(), config.maxT, o->T);
    }
    config_validate(config, "model config");
    if (!arg_was_set(specs, "--seq")) o->T = std::min(o->T, config.maxT);  // the default 64 fits any model
    return config;
}

// Fresh parameters, or the -e file's; with a checkpoint's optimizer state the
// data loader and RNG resume where it left off. Returns the first step to run.
static int start_model(GPT2* model, const TrainerOptions& o, DataLoader* train, Rng* rng, double* prior_s) {
    if (o.load.empty()) {
        gpt2_init_params(model, (uint64_t)o.seed);
        return 0;
    }
    TrainState st;
    int start_step = 0;
    if (gpt2_load(model, o.load, &st)) start_step = resume_run(st, o, train, rng, prior_s);
    else print_params_only(o.load);
    check_steps_left(o, start_step);
    return start_step;
}

int main(int argc, char** argv) {
    Dist dist;  // one process, or this rank of an MPI run (common/dist.h)
    dist_init(&dist, &argc, &argv);
    TrainerOptions o = gpt2_default_options();
    ModelOptions mo;
    std::vector<ArgSpec> specs;
    add_train_flags(specs, &o);
    for (ArgSpec& a : specs)
        if (a.long_name && !strcmp(a.long_name, "--load")) a.help = "llm.c model file to start from, or checkpoint to resume";
    std::vector<ArgSpec> model_flags = {
        {nullptr, "--model", ARG_STRING, &mo.model, "preset: gpt2-124M or gpt2-tiny"},
        {nullptr, "--vocab", ARG_INT, &mo.shape.V, "vocabulary size V, padded to a multiple of 128 (0 = preset)"},
        {nullptr, "--dim", ARG_INT, &mo.shape.C, "channels C (0 = preset)"},
        {nullptr, "--layers", ARG_INT, &mo.shape.L, "layers L (0 = preset)"},
        {nullptr, "--heads", ARG_INT, &mo.shape.NH, "attention heads NH (0 = preset)"},
        {nullptr, "--seq-len", ARG_INT, &mo.shape.maxT, "longest sequence the model takes (0 = preset)"},
    };
    specs.insert(specs.end(), model_flags.begin(), model_flags.end());
    PrecisionOption precision;
    add_precision_flags(specs, &precision);
    PruneConfig prune;
    add_prune_flags(specs, &prune);
    args_parse(argc, argv, specs, SUMMARY);
    const bool bf16 = resolve_precision(precision);  // the matmuls' operands (auto: the faster here)
    enable_flush_to_zero();

    GPT2Config config = choose_config(mo, &o, specs);
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
    if (data.have_tok && data.tok.vocab_size != config.V)
        die("tokenizer %s has %d tokens but the model's vocab is %d; they must be equal", o.tokenizer.c_str(),
            data.tok.vocab_size, config.V);

    // --- model
    GPT2 model;
    gpt2_build(&model, config);
    model.bf16 = bf16;
    model.pruner.config = prune;
    dist_shard(&dist, model.param_sizes, NUM_PARAM_TENSORS);
    model.dist = &dist;
    Rng rng = sampling_rng(o);
    double prior_s = 0;  // training time the checkpoint had used (--time)
    int start_step = start_model(&model, o, &data.train, &rng, &prior_s);

    // --- what this run is
    if (o.peak_gflops == 0) {  // the default: the peak of this run's matmul instructions, summed over the ranks
        o.peak_gflops = (float)dist_sum(dist, peak_gflops(bf16, &o.peak_basis));
        if (dist.world > 1) o.peak_basis += ", summed over " + std::to_string(dist.world) + " ranks";
    }
    Run run = run_make(o, bp, dist, start_step, prior_s, gpt2_flops_per_token(config, T) * bp.total_batch,
                       run_threads());
    printf("model: GPT-2, seq-len %d, vocab %d (padded %d), layers %d, heads %d, dim %d, %.2fM parameters\n",
           config.maxT, config.V, config.Vp, config.L, config.NH, config.C, model.num_params / 1e6);
    print_run_plan(run, data);
    print_mfu_basis(run);
    printf("matmuls: %s\n", describe_precision(precision, bf16).c_str());
    print_data_parallel(run, model.num_params, dist_describe(dist), "rank");
    prune_banner(model.pruner, start_step);
    char shape[160];
    snprintf(shape, sizeof shape, "V=%d C=%d L=%d NH=%d maxT=%d", config.V, config.C, config.L, config.NH, config.maxT);
    run_start(&run, "train_gpt2", specs, shape, model.num_params);

    auto evaluate = [&](int step) {
        EvalResult r = gpt2_evaluate(&model, &data.val, data.val_batches, train_data_tokenizer(data));
        report_eval(&run.log, step, r.loss, r.bpb);
    };
    auto sample = [&](int step) {
        if (!data.have_tok) return;
        std::string text = gpt2_generate(&model, data.tok, o.gen_tokens, o.temperature, o.top_k, &rng);
        report_sample(&run.log, step, text, o.temperature, o.top_k);
    };
    auto save = [&](int step) {  // llm.c's model file beside our checkpoint, for llm.c's tools
        std::string llmc = run_file(run, "model", step);
        if (dist_root(dist)) gpt2_save_llmc(&model, llmc);
        std::string path = run_file(run, "ckpt", step);
        gpt2_save_checkpoint(&model, path, run_train_state(run, step, rng, data.train));
        run_saved(&run, step, path, " (llm.c model file: " + llmc.substr(o.out_dir.size() + 1) + ")");
    };

    // --- the loop: forward and backward over the micro-batches, then one update
    int step = start_step;
    for (; step < run_total_steps(&run, &o.sched, step); step++) {
        if (run_eval_due(run, step)) evaluate(step);
        if (run_sample_due(run, step)) sample(step);

        run_step_start(&run);
        gpt2_zero_grad(&model);
        double loss = 0.0;
        for (int micro = 0; micro < bp.accum; micro++) {
            dataloader_next_batch(&data.train);
            float l = gpt2_forward(&model, data.train.inputs.data() + row0, data.train.targets.data() + row0, Bl, T);
            run_check_finite(run, step, "loss", l);
            loss += l / bp.accum;
            gpt2_backward(&model, Bl, T, 1.0f / (bp.accum * dist.world));  // the ranks' gradients are summed
        }
        loss = dist_sum(dist, loss) / dist.world;
        float lr = schedule_lr(o.sched, step);
        float norm = gpt2_update(&model, lr, o.opt);
        run_check_finite(run, step, "gradient norm", norm);
        prune_step_done(&model.pruner, step + 1, model.params_memory, model.m_memory, model.v_memory, &run.log);
        run_step_done(&run, step, loss, lr, norm);
        if (run_ckpt_due(run, step + 1)) save(step + 1);
    }

    // --- finish: the last checkpoint, evaluation and sample
    if (run.last_saved != step) save(step);
    data.val_batches = final_val_batches(run.budget, data.val, data.val_batches);
    evaluate(step);
    sample(step);
    prune_summary(model.pruner, step, &run.log);
    run_finish(&run, step, "gradient all-reduce and parameter all-gather", false);
    gpt2_free(&model);
    dist_finalize(dist);
    return 0;
}
#endif  // TRAIN_GPT2_NO_MAIN
