// train_llama.cu: train the Llama of train_llama.cpp on one NVIDIA GPU.
//
// Same model, command line, data loader, tokenizer, log and checkpoint format
// as the CPU trainer, whose code this file includes (without its main) instead
// of repeating it: the config and presets, the parameter layout (one fp32 blob
// in param_sizes/point_parameters order, so a checkpoint moves between the two
// trainers both ways), init, checkpoint I/O and the FLOP count all run on the
// host model struct (Llama) that this trainer keeps next to the device memory.
// New here: device memory, the forward and backward written out with the
// kernels in kernels/cuda/ (one op per file) and cuBLAS for the matmuls, and
// the fused AdamW. Read top to bottom: device model, forward, classifier,
// backward, update, evaluation and sampling, checkpoints, then main.
//
// Precision. The templates below take floatX, the compute type:
//   bf16 (default): activations and the weights the matmuls read are bf16;
//     fp32 master weights, fp32 gradients (cuBLAS accumulates the weight
//     gradients straight into them) and fp32 AdamW moments.
//   float (--fp32): everything float, cuBLAS in true FP32 (no TF32), so one
//     step matches the CPU trainer up to summation order (~1e-5 relative).
// Reductions everywhere are deterministic (no atomics): a rerun is bit-identical.
//
// Several GPUs (make train_llama_cu_mpi: -DUSE_MPI -DUSE_NCCL): one process
// per GPU, launched by mpirun, data parallel as the CPU trainers are with MPI
// (common/dist.h): each rank takes B/N rows of every micro-batch, the
// gradients are summed with ncclAllReduce, each rank keeps the AdamW moments
// of its own equal-size shard (ZeRO-1) and the updated master weights are
// all-gathered with ncclAllGather. MPI starts the ranks and carries the NCCL
// id, the checkpoint's gathered moments and the loss sums; rank 0 writes.
//
// Shape letters as in train_llama.cpp: B batch, T time, C channels, NH query
// heads, NKV key/value heads, HS head size, H MLP hidden size, V vocabulary, L layers.
#define TRAIN_LLAMA_NO_MAIN
// train_llama.cpp's CPU matmul unrolls with `#pragma GCC unroll`, which nvcc's
// front end does not know (warning 1675) and drops: the CPU kernels compiled
// into this binary only serve as references in the tests. Its main-only
// helpers are unused here (-Wunused-function).
#pragma nv_diag_suppress 1675
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "train_llama.cpp"
#pragma GCC diagnostic pop
#pragma nv_diag_default 1675

#include <functional>
#include <type_traits>

#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_tc.cuh"
#include "kernels/cuda/classifier.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/swiglu.cuh"

#ifdef USE_NCCL
#include <nccl.h>
inline void nccl_check(ncclResult_t r, const char* call, const char* file, int line) {
    if (r != ncclSuccess) die("%s:%d: %s failed: %s", file, line, call, ncclGetErrorString(r));
}
#define NCCL_CHECK(call) nccl_check((call), #call, __FILE__, __LINE__)
using NcclComm = ncclComm_t;
#else
using NcclComm = void*;  // single-GPU builds have no communicator
#endif

// ----------------------------------------------------------------------------
// Device memory: one allocation per group, a struct of pointers into it.

// Tensors of mixed types carved from one cudaMalloc; each starts 256-byte
// aligned (cuBLAS and the 16-byte vector loads of the attention want it).
struct DeviceBlob {
    std::vector<std::function<void(char*)>> assign;
    size_t bytes = 0;
    template <typename T>
    void add(T** ptr, size_t count) {
        size_t offset = bytes;
        assign.push_back([ptr, offset](char* base) { *ptr = reinterpret_cast<T*>(base + offset); });
        bytes += (count * sizeof(T) + 255) / 256 * 256;
    }
    void* commit(const char* what) {
        char* base = (char*)cuda_malloc_check(bytes, what);
        for (auto& f : assign) f(base);
        return base;
    }
};

// The parameter tensors of train_llama.cpp's ParameterTensors, in any element type.
template <typename T>
struct ParamViews {
    T* wte;        // (V, C)
    T* rms_att;    // (L, C)
    T* wqkv;       // (L, (NH + 2·NKV)·HS, C)
    T* wo;         // (L, C, NH·HS)
    T* rms_ffn;    // (L, C)
    T* w13;        // (L, 2·H, C)
    T* w2;         // (L, C, H)
    T* rms_final;  // (C)
    T* wcls;       // (V, C); = wte when tied
};

// Views into a blob laid out like the host model's (point_parameters), at the
// same offsets: the layout is defined once, in train_llama.cpp.
template <typename T>
static ParamViews<T> views_like_host(T* base, const Llama& host) {
    const ParameterTensors& h = host.params;
    const float* o = host.params_memory;
    return {base + (h.wte - o), base + (h.rms_att - o), base + (h.wqkv - o), base + (h.wo - o), base + (h.rms_ffn - o),
            base + (h.w13 - o), base + (h.w2 - o), base + (h.rms_final - o), base + (h.wcls - o)};
}

// Activations (what forward keeps for backward) and their gradients, sized for (B, T).
template <typename floatX>
struct ActivationsGpu {
    floatX* encoded;    // (B, T, C) embedding output = residual stream into layer 0
    floatX* ln1;        // (L, B, T, C) RMSNorm before attention
    float* ln1_rstd;    // (L, B, T)
    floatX* qkv;        // (L, B, T, QKV) q and k after RoPE
    floatX* atty;       // (L, B, T, NH·HS) attention output before wo
    float* lse;         // (L, B, NH, T) log-sum-exp of each attention row: backward
                        // recomputes the (T, T) probabilities from it instead of storing them
    floatX* res_att;    // (L, B, T, C) residual stream after attention
    floatX* ln2;        // (L, B, T, C) RMSNorm before the MLP
    float* ln2_rstd;    // (L, B, T)
    floatX* h13;        // (L, B, T, 2·H) w1 and w3 outputs
    floatX* hgate;      // (L, B, T, H) silu(w1 x) * w3 x
    floatX* res_ffn;    // (L, B, T, C) residual stream after the MLP = next layer's input
    floatX* lnf;        // (B, T, C) final RMSNorm
    float* lnf_rstd;    // (B, T)
    floatX* logits;     // (chunk, V) one chunk of rows: logits, then their gradient (in place)
    float* losses;      // (B, T)
    floatX* scratch;    // (B, T, C) projection output before the residual add
    // gradients of activations, reused layer after layer (the CPU's GradScratch)
    floatX* dresidual;  // (B, T, C) ∂L/∂ residual stream at the current point
    floatX* dln;        // (B, T, C) ∂L/∂ an RMSNorm output
    floatX* dqkv;       // (B, T, QKV)
    floatX* datty;      // (B, T, NH·HS)
    floatX* dh13;       // (B, T, 2·H)
    floatX* dhgate;     // (B, T, H)
    float* att_D;       // (B, NH, T) attention backward's Σ do∘o per row
    float* rms_scratch; // RMSNorm dweight partial sums
    int* inputs;        // (B, T)
    int* targets;       // (B, T)
    int* emb_plan;      // the embedding backward's grouping of positions by token
};

template <typename floatX>
struct LlamaGpu {
    Llama host;                    // train_llama.cpp's model on the host: config, layout, rope tables,
                                   // init and checkpoint I/O (its grads are unused)
    size_t num_params = 0;
    float* params = nullptr;       // (num_params) fp32 master weights, the checkpoint's blob order
    floatX* params_x = nullptr;    // the compute copy; the master itself when floatX is float
    float* grads = nullptr;        // (num_params) fp32
    float* m = nullptr;            // AdamW moments, fp32: of the whole blob, or with NCCL of this rank's shard
    float* v = nullptr;
    Dist* dist = nullptr;          // the ranks training together (null: this GPU alone)
#ifdef USE_NCCL
    ncclComm_t nccl = nullptr;
    size_t shard_chunk = 0;        // every rank's shard size; params is padded to world·shard_chunk floats
#endif
    float* norm = nullptr;         // [0] Σ g², then NORM_BLOCKS partial sums
    ParamViews<floatX> p;          // views of params_x
    ParameterTensors g;            // views of grads
    float* rope_cos = nullptr;     // (maxT, HS/2)
    float* rope_sin = nullptr;
    int B = 0, T = 0, chunk = 0;   // activations sized for (B, T); classifier rows per chunk
    void* acts_memory = nullptr;
    ActivationsGpu<floatX> a;
    std::vector<int> inputs;       // host copy of the last forward's inputs, for the embedding backward
    std::vector<float> losses;     // host copy of the last classifier's losses
    EmbeddingBackwardPlan plan;
    CublasContext cublas;
    bool attn_simple = false;      // bf16: the plain attention kernels instead of the tensor-core ones
    int64_t step = 0;              // optimizer steps done
};

constexpr bool is_fp32(const float*) { return true; }
constexpr bool is_fp32(const bf16*) { return false; }

// The part of the blob whose moments this GPU holds: all of it, or its NCCL shard.
template <typename floatX>
static size_t moments_begin(const LlamaGpu<floatX>* m) { return m->dist ? m->dist->shard_begin : 0; }
template <typename floatX>
static size_t moments_end(const LlamaGpu<floatX>* m) { return m->dist ? m->dist->shard_end : m->num_params; }

// dist (may be null) shards the moments over the ranks (NCCL builds).
template <typename floatX>
static void gpu_build(LlamaGpu<floatX>* model, const LlamaConfig& config, bool attn_simple, Dist* dist = nullptr) {
    llama_build(&model->host, config);  // validates the config, computes the layout and the rope tables
    const LlamaConfig& c = config;
    int HS = c.C / c.NH;
    if (!attention_supports_head_size(HS))
        die("the GPU attention kernels take head sizes 16, 32, 64 or 128; dim %d / heads %d = %d", c.C, c.NH, HS);
    size_t n = model->num_params = model->host.num_params, padded = n;
#ifdef USE_NCCL
    if (dist && dist->world > 1) {
        model->dist = dist;
        model->shard_chunk = dist_shard_equal(dist, n, 64);
        padded = model->shard_chunk * dist->world;
    }
#else
    (void)dist;
#endif
    size_t nm = moments_end(model) - moments_begin(model);
    model->params = (float*)cuda_malloc_check(padded * sizeof(float), "master weights");
    model->grads = (float*)cuda_malloc_check(n * sizeof(float), "gradients");
    model->m = (float*)cuda_malloc_check(nm * sizeof(float), "AdamW m");
    model->v = (float*)cuda_malloc_check(nm * sizeof(float), "AdamW v");
    CUDA_CHECK(cudaMemset(model->params, 0, padded * sizeof(float)));
    CUDA_CHECK(cudaMemset(model->grads, 0, n * sizeof(float)));
    CUDA_CHECK(cudaMemset(model->m, 0, nm * sizeof(float)));
    CUDA_CHECK(cudaMemset(model->v, 0, nm * sizeof(float)));
    if constexpr (std::is_same<floatX, float>::value) model->params_x = model->params;
    else model->params_x = (floatX*)cuda_malloc_check(n * sizeof(floatX), "compute weights");
    model->norm = (float*)cuda_malloc_check((1 + NORM_BLOCKS) * sizeof(float), "gradient norm");
    model->p = views_like_host(model->params_x, model->host);
    point_parameters(&model->g, model->grads, model->host.param_sizes, c.tied);
    size_t rope_bytes = (size_t)c.maxT * (HS / 2) * sizeof(float);
    model->rope_cos = (float*)cuda_malloc_check(rope_bytes, "rope table");
    model->rope_sin = (float*)cuda_malloc_check(rope_bytes, "rope table");
    CUDA_CHECK(cudaMemcpy(model->rope_cos, model->host.rope_cos, rope_bytes, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(model->rope_sin, model->host.rope_sin, rope_bytes, cudaMemcpyHostToDevice));
    cublas_create(&model->cublas);
    model->attn_simple = attn_simple;
}

template <typename floatX>
static void gpu_free(LlamaGpu<floatX>* model) {
    CUDA_CHECK(cudaFree(model->params));
    if (!is_fp32(model->params_x)) CUDA_CHECK(cudaFree(model->params_x));
    CUDA_CHECK(cudaFree(model->grads));
    CUDA_CHECK(cudaFree(model->m));
    CUDA_CHECK(cudaFree(model->v));
    CUDA_CHECK(cudaFree(model->norm));
    CUDA_CHECK(cudaFree(model->rope_cos));
    CUDA_CHECK(cudaFree(model->rope_sin));
    if (model->acts_memory) CUDA_CHECK(cudaFree(model->acts_memory));
    cublas_destroy(&model->cublas);
    llama_free(&model->host);
}

// Host master weights → device, and the compute copy from them.
template <typename floatX>
static void gpu_upload_params(LlamaGpu<floatX>* model) {
    CUDA_CHECK(cudaMemcpy(model->params, model->host.params_memory, model->num_params * sizeof(float),
                          cudaMemcpyHostToDevice));
    if (!is_fp32(model->params_x)) convert_gpu(model->params_x, model->params, model->num_params);
}

template <typename floatX>
static void gpu_alloc_activations(LlamaGpu<floatX>* model, int B, int T) {
    const LlamaConfig& c = model->host.config;
    if (T > c.maxT) die("sequence length T=%d exceeds the model's seq-len %d", T, c.maxT);
    size_t BT = (size_t)B * T, L = c.L, C = c.C, H = c.H, HS = c.C / c.NH, QKV = (c.NH + 2 * c.NKV) * HS;
    model->chunk = classifier_chunk_rows((int)BT, c.V);
    ActivationsGpu<floatX>& a = model->a;
    DeviceBlob blob;
    blob.add(&a.encoded, BT * C);
    blob.add(&a.ln1, L * BT * C);
    blob.add(&a.ln1_rstd, L * BT);
    blob.add(&a.qkv, L * BT * QKV);
    blob.add(&a.atty, L * BT * c.NH * HS);
    blob.add(&a.lse, L * BT * c.NH);
    blob.add(&a.res_att, L * BT * C);
    blob.add(&a.ln2, L * BT * C);
    blob.add(&a.ln2_rstd, L * BT);
    blob.add(&a.h13, L * BT * 2 * H);
    blob.add(&a.hgate, L * BT * H);
    blob.add(&a.res_ffn, L * BT * C);
    blob.add(&a.lnf, BT * C);
    blob.add(&a.lnf_rstd, BT);
    blob.add(&a.logits, (size_t)model->chunk * c.V);
    blob.add(&a.losses, BT);
    blob.add(&a.scratch, BT * C);
    blob.add(&a.dresidual, BT * C);
    blob.add(&a.dln, BT * C);
    blob.add(&a.dqkv, BT * QKV);
    blob.add(&a.datty, BT * c.NH * HS);
    blob.add(&a.dh13, BT * 2 * H);
    blob.add(&a.dhgate, BT * H);
    blob.add(&a.att_D, BT * c.NH);
    blob.add(&a.rms_scratch, rmsnorm_scratch_floats((int)BT, c.C));
    blob.add(&a.inputs, BT);
    blob.add(&a.targets, BT);
    blob.add(&a.emb_plan, embedding_plan_max_ints((int)BT));
    model->acts_memory = blob.commit("activations");
    model->B = B;
    model->T = T;
}

// ----------------------------------------------------------------------------
// Forward, through the final RMSNorm; the classifier is separate (below).

// Attention on tensor cores for bf16 (unless --attn-simple), the plain kernels for float.
template <typename floatX>
static void attention_forward_dispatch(const LlamaGpu<floatX>* model, floatX* out, float* lse, const floatX* qkv,
                                       int B, int T, int NH, int NKV, int HS) {
    if constexpr (std::is_same<floatX, bf16>::value)
        if (!model->attn_simple) return attention_forward_tc_gpu(out, lse, qkv, B, T, NH, NKV, HS);
    attention_forward_gpu(out, lse, qkv, B, T, NH, NKV, HS);
}

template <typename floatX>
static void attention_backward_dispatch(const LlamaGpu<floatX>* model, floatX* dqkv, float* D, const floatX* dout,
                                        const floatX* qkv, const floatX* out, const float* lse, int B, int T, int NH,
                                        int NKV, int HS) {
    if constexpr (std::is_same<floatX, bf16>::value)
        if (!model->attn_simple) return attention_backward_tc_gpu(dqkv, D, dout, qkv, out, lse, B, T, NH, NKV, HS);
    attention_backward_gpu(dqkv, D, dout, qkv, out, lse, B, T, NH, NKV, HS);
}

// inputs and targets (or null: no loss wanted) are (B, T) on the host. They
// are the only host→device copies of a step, made here, before any kernel of
// the step is queued: a copy from pageable memory waits for the device, and at
// this point the device is idle anyway. The rest of the step queues kernels
// without waiting, up to gpu_loss_sum.
template <typename floatX>
static void gpu_forward(LlamaGpu<floatX>* model, const int* inputs, const int* targets, int B, int T) {
    if (!model->acts_memory) gpu_alloc_activations(model, B, T);
    if ((size_t)B * T > (size_t)model->B * model->T || T > model->T)
        die("forward with B=%d, T=%d but activations were sized for B=%d, T=%d", B, T, model->B, model->T);
    const LlamaConfig& c = model->host.config;
    const int V = c.V, C = c.C, L = c.L, NH = c.NH, NKV = c.NKV, H = c.H, HS = C / NH;
    const int QKV = (NH + 2 * NKV) * HS;
    const size_t BT = (size_t)B * T;
    for (size_t i = 0; i < BT; i++)
        if (inputs[i] < 0 || inputs[i] >= V) die("input token %d at position %zu is outside vocab [0, %d)", inputs[i], i, V);
    model->inputs.assign(inputs, inputs + BT);
    const ActivationsGpu<floatX>& a = model->a;
    const ParamViews<floatX>& p = model->p;
    const CublasContext& cb = model->cublas;
    CUDA_CHECK(cudaMemcpy(a.inputs, inputs, BT * sizeof(int), cudaMemcpyHostToDevice));
    if (targets) {
        for (size_t i = 0; i < BT; i++)
            if (targets[i] < 0 || targets[i] >= V) die("target token %d at position %zu is outside vocab [0, %d)", targets[i], i, V);
        CUDA_CHECK(cudaMemcpy(a.targets, targets, BT * sizeof(int), cudaMemcpyHostToDevice));
    }

    embedding_forward_gpu(a.encoded, a.inputs, p.wte, (int)BT, C);
    rmsnorm_forward_gpu(a.ln1, a.ln1_rstd, a.encoded, p.rms_att, (int)BT, C, c.norm_eps);
    const floatX* x = a.encoded;  // the residual stream entering the layer
    for (int l = 0; l < L; l++) {
        floatX* ln1 = a.ln1 + l * BT * C;
        floatX* qkv = a.qkv + l * BT * QKV;
        floatX* atty = a.atty + l * BT * NH * HS;
        float* lse = a.lse + l * BT * NH;
        floatX* res_att = a.res_att + l * BT * C;
        floatX* ln2 = a.ln2 + l * BT * C;
        float* ln2_rstd = a.ln2_rstd + l * BT;
        floatX* h13 = a.h13 + l * BT * 2 * H;
        floatX* hgate = a.hgate + l * BT * H;
        floatX* res_ffn = a.res_ffn + l * BT * C;
        // attention block (ln1 was written by the previous layer's fused residual + norm)
        matmul_forward_gpu(cb, qkv, ln1, p.wqkv + (size_t)l * QKV * C, (int)BT, C, QKV);
        rope_forward_gpu(qkv, model->rope_cos, model->rope_sin, B, T, NH, NKV, HS);
        attention_forward_dispatch(model, atty, lse, qkv, B, T, NH, NKV, HS);
        matmul_forward_gpu(cb, a.scratch, atty, p.wo + (size_t)l * C * NH * HS, (int)BT, NH * HS, C);
        residual_rmsnorm_forward_gpu(res_att, ln2, ln2_rstd, x, a.scratch, p.rms_ffn + l * C, (int)BT, C, c.norm_eps);
        // MLP block; its residual add is fused with the next norm: the next layer's ln1, or the final one
        matmul_forward_gpu(cb, h13, ln2, p.w13 + (size_t)l * 2 * H * C, (int)BT, C, 2 * H);
        swiglu_forward_gpu(hgate, h13, (int)BT, H);
        matmul_forward_gpu(cb, a.scratch, hgate, p.w2 + (size_t)l * C * H, (int)BT, H, C);
        bool last = l == L - 1;
        residual_rmsnorm_forward_gpu(res_ffn, last ? a.lnf : a.ln1 + (l + 1) * BT * C,
                                     last ? a.lnf_rstd : a.ln1_rstd + (l + 1) * BT, res_att, a.scratch,
                                     last ? p.rms_final : p.rms_att + (l + 1) * C, (int)BT, C, c.norm_eps);
        x = res_ffn;
    }
}

// ----------------------------------------------------------------------------
// Classifier: logits = lnf · wclsᵀ and the loss, chunk by chunk of rows so the
// (B·T, V) logits never exist at once, against the targets gpu_forward copied.
// With grad_scale > 0 the fused kernel also writes dlogits = (softmax − onehot) ·
// grad_scale/(B·T) in place and the chunk's backward runs at once (dlnf rows =
// dlogits · wcls, dwcls += dlogitsᵀ · lnf), the way llm.c does it: the logits
// are never needed again. grad_scale is 1/accum_steps under gradient
// accumulation (the CPU's loss_scale). The losses stay on the device until
// gpu_loss_sum.

template <typename floatX>
static void gpu_classifier(LlamaGpu<floatX>* model, int B, int T, float grad_scale) {
    const LlamaConfig& c = model->host.config;
    const int V = c.V, C = c.C;
    const size_t BT = (size_t)B * T;
    const ActivationsGpu<floatX>& a = model->a;
    bool backward = grad_scale > 0.0f;
    for (size_t r0 = 0; r0 < BT; r0 += model->chunk) {
        int n = (int)std::min<size_t>(model->chunk, BT - r0);
        matmul_forward_gpu(model->cublas, a.logits, a.lnf + r0 * C, model->p.wcls, n, C, V);
        crossentropy_forward_backward_gpu(a.losses + r0, a.logits, a.targets + r0, grad_scale / BT, n, V, backward);
        if (backward)
            matmul_backward_gpu(model->cublas, a.dln + r0 * C, model->g.wcls, a.logits, a.lnf + r0 * C, model->p.wcls,
                                n, C, V, false);
    }
}

// Σ of the last classifier's B·T losses, summed on the host in double as the
// CPU trainer sums them. Waits for the device: the step's one synchronisation.
template <typename floatX>
static double gpu_loss_sum(LlamaGpu<floatX>* model, int B, int T) {
    const size_t BT = (size_t)B * T;
    model->losses.resize(BT);
    CUDA_CHECK(cudaMemcpy(model->losses.data(), model->a.losses, BT * sizeof(float), cudaMemcpyDeviceToHost));
    double sum = 0.0;
    for (size_t i = 0; i < BT; i++) sum += model->losses[i];
    return sum;
}

// Logits of one row of the last forward into out (V floats, host): for sampling.
template <typename floatX>
static void gpu_logits_row(LlamaGpu<floatX>* model, int row, float* out) {
    const LlamaConfig& c = model->host.config;
    matmul_forward_gpu(model->cublas, model->a.logits, model->a.lnf + (size_t)row * c.C, model->p.wcls, 1, c.C, c.V);
    std::vector<floatX> buf(c.V);
    CUDA_CHECK(cudaMemcpy(buf.data(), model->a.logits, c.V * sizeof(floatX), cudaMemcpyDeviceToHost));
    for (int i = 0; i < c.V; i++) out[i] = to_float(buf[i]);
}

// ----------------------------------------------------------------------------
// Backward: after gpu_forward and gpu_classifier with grad_scale > 0 (which
// left ∂L/∂lnf in a.dln and added the classifier's gradient), adds the rest of
// ∂(grad_scale · mean loss)/∂θ into the fp32 gradients.
// The host groups the inputs by token for the embedding backward first, while
// the device is still busy with the forward; the copy of that grouping then
// waits for the forward, and the backward kernels queue behind it.

template <typename floatX>
static void gpu_zero_grad(LlamaGpu<floatX>* model) {
    CUDA_CHECK(cudaMemset(model->grads, 0, model->num_params * sizeof(float)));
}

template <typename floatX>
static void gpu_backward(LlamaGpu<floatX>* model, int B, int T) {
    const LlamaConfig& c = model->host.config;
    const int C = c.C, L = c.L, NH = c.NH, NKV = c.NKV, H = c.H, HS = C / NH;
    const int QKV = (NH + 2 * NKV) * HS;
    const size_t BT = (size_t)B * T;
    const ActivationsGpu<floatX>& a = model->a;
    const ParamViews<floatX>& p = model->p;
    const ParameterTensors& g = model->g;
    const CublasContext& cb = model->cublas;
    embedding_backward_plan(&model->plan, model->inputs.data(), (int)BT);
    CUDA_CHECK(cudaMemcpy(a.emb_plan, model->plan.packed.data(), model->plan.packed.size() * sizeof(int),
                          cudaMemcpyHostToDevice));

    // final norm; the last layer's output is the residual stream there
    CUDA_CHECK(cudaMemset(a.dresidual, 0, BT * C * sizeof(floatX)));
    const floatX* x_last = a.res_ffn + (size_t)(L - 1) * BT * C;
    rmsnorm_backward_gpu(a.dresidual, g.rms_final, a.rms_scratch, a.dln, x_last, p.rms_final, a.lnf_rstd, (int)BT, C);

    for (int l = L - 1; l >= 0; l--) {
        const floatX* x = l == 0 ? a.encoded : a.res_ffn + (size_t)(l - 1) * BT * C;
        const floatX* ln1 = a.ln1 + l * BT * C;
        const float* ln1_rstd = a.ln1_rstd + l * BT;
        const floatX* qkv = a.qkv + l * BT * QKV;
        const floatX* atty = a.atty + l * BT * NH * HS;
        const float* lse = a.lse + l * BT * NH;
        const floatX* res_att = a.res_att + l * BT * C;
        const floatX* ln2 = a.ln2 + l * BT * C;
        const float* ln2_rstd = a.ln2_rstd + l * BT;
        const floatX* h13 = a.h13 + l * BT * 2 * H;
        const floatX* hgate = a.hgate + l * BT * H;
        // MLP block. dresidual holds ∂L/∂res_ffn; the residual add passes it
        // unchanged both to w2's output and to res_att.
        matmul_backward_gpu(cb, a.dhgate, g.w2 + (size_t)l * C * H, a.dresidual, hgate, p.w2 + (size_t)l * C * H,
                            (int)BT, H, C, false);
        swiglu_backward_gpu(a.dh13, a.dhgate, h13, (int)BT, H);
        matmul_backward_gpu(cb, a.dln, g.w13 + (size_t)l * 2 * H * C, a.dh13, ln2, p.w13 + (size_t)l * 2 * H * C,
                            (int)BT, C, 2 * H, false);
        rmsnorm_backward_gpu(a.dresidual, g.rms_ffn + l * C, a.rms_scratch, a.dln, res_att, p.rms_ffn + l * C, ln2_rstd,
                             (int)BT, C);
        // attention block. dresidual now holds ∂L/∂res_att.
        matmul_backward_gpu(cb, a.datty, g.wo + (size_t)l * C * NH * HS, a.dresidual, atty,
                            p.wo + (size_t)l * C * NH * HS, (int)BT, NH * HS, C, false);
        attention_backward_dispatch(model, a.dqkv, a.att_D, a.datty, qkv, atty, lse, B, T, NH, NKV, HS);
        rope_backward_gpu(a.dqkv, model->rope_cos, model->rope_sin, B, T, NH, NKV, HS);
        matmul_backward_gpu(cb, a.dln, g.wqkv + (size_t)l * QKV * C, a.dqkv, ln1, p.wqkv + (size_t)l * QKV * C,
                            (int)BT, C, QKV, false);
        rmsnorm_backward_gpu(a.dresidual, g.rms_att + l * C, a.rms_scratch, a.dln, x, p.rms_att + l * C, ln1_rstd,
                             (int)BT, C);
        // dresidual now holds ∂L/∂x, the gradient flowing into the layer below
    }
    embedding_backward_gpu(g.wte, a.dresidual, a.emb_plan, (int)BT, model->plan.U, C);
}

// ----------------------------------------------------------------------------
// Update: global gradient-norm clipping, then AdamW tensor by tensor (decay on
// matrices only, PARAM_DECAY), writing the compute copy. Returns the norm before clipping.

// With NCCL: the gradients are summed over the ranks first, each rank updates
// its shard, and the master weights are all-gathered (then the compute copy
// is refreshed from them).
template <typename floatX>
static float gpu_update(LlamaGpu<floatX>* model, float lr, const AdamWConfig& opt) {
    model->step++;
#ifdef USE_NCCL
    if (model->dist) {
        double t0 = now_ms();
        NCCL_CHECK(ncclAllReduce(model->grads, model->grads, model->num_params, ncclFloat, ncclSum, model->nccl, 0));
        CUDA_CHECK(cudaDeviceSynchronize());
        model->dist->comm_ms += now_ms() - t0;
    }
#endif
    optimizer_step_gpu(model->params, is_fp32(model->params_x) ? nullptr : model->params_x, model->grads, model->m,
                       model->v, model->host.param_sizes, PARAM_DECAY, NUM_PARAM_TENSORS, lr, opt, (int)model->step,
                       model->norm, model->norm + 1, moments_begin(model), moments_end(model));
#ifdef USE_NCCL
    if (model->dist) {
        double t0 = now_ms();
        float* mine = model->params + (size_t)model->dist->rank * model->shard_chunk;  // in place: NCCL's layout
        NCCL_CHECK(ncclAllGather(mine, model->params, model->shard_chunk, ncclFloat, model->nccl, 0));
        CUDA_CHECK(cudaDeviceSynchronize());
        model->dist->comm_ms += now_ms() - t0;
        if (!is_fp32(model->params_x)) convert_gpu(model->params_x, model->params, model->num_params);
    }
#endif
    float norm_sq = 0.0f;
    CUDA_CHECK(cudaMemcpy(&norm_sq, model->norm, sizeof(float), cudaMemcpyDeviceToHost));
    return sqrtf(norm_sq);
}

// ----------------------------------------------------------------------------
// Evaluation and sampling: common/evaluate.h, as the CPU trainer uses it,
// with the GPU forward.

template <typename floatX>
static EvalResult gpu_evaluate(LlamaGpu<floatX>* model, DataLoader* val, int batches, const Tokenizer* tok) {
    return evaluate_val(
        val, batches, tok,
        [&](const int* inputs, const int* targets, int B, int T) {
            gpu_forward(model, inputs, targets, B, T);
            gpu_classifier(model, B, T, 0.0f);
            return (double)gpu_loss_sum(model, B, T);
        },
        model->dist);
}

template <typename floatX>
static std::string gpu_generate(LlamaGpu<floatX>* model, const Tokenizer& tok, int num_tokens, float temperature,
                                int top_k, Rng* rng) {
    std::vector<float> logits(model->host.config.V);
    return generate_text(tok, model->T, model->host.config.V, num_tokens, temperature, top_k, rng,
                         [&](const int* tokens, int len) {
                             gpu_forward(model, tokens, nullptr, 1, len);
                             gpu_logits_row(model, len - 1, logits.data());
                             return (const float*)logits.data();
                         });
}

// ----------------------------------------------------------------------------
// Checkpoints: the CPU trainer's format and code, through the host model.

// With NCCL every rank calls it: rank 0 gathers the moments' shards (over MPI) and writes.
template <typename floatX>
static void gpu_save_checkpoint(LlamaGpu<floatX>* model, const std::string& path, const TrainState& state) {
    Llama& h = model->host;
    size_t bytes = model->num_params * sizeof(float);
    if (!h.m_memory) {
        h.m_memory = (float*)calloc_check(bytes, "AdamW m");
        h.v_memory = (float*)calloc_check(bytes, "AdamW v");
    }
    CUDA_CHECK(cudaMemcpy(h.params_memory, model->params, bytes, cudaMemcpyDeviceToHost));
    size_t nm = moments_end(model) - moments_begin(model);
    if (model->dist) {
        std::vector<float> m(nm), v(nm);
        CUDA_CHECK(cudaMemcpy(m.data(), model->m, nm * sizeof(float), cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(v.data(), model->v, nm * sizeof(float), cudaMemcpyDeviceToHost));
        dist_gather_shards(*model->dist, m.data(), h.m_memory);
        dist_gather_shards(*model->dist, v.data(), h.v_memory);
        if (!dist_root(*model->dist)) return;
    } else {
        CUDA_CHECK(cudaMemcpy(h.m_memory, model->m, bytes, cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(h.v_memory, model->v, bytes, cudaMemcpyDeviceToHost));
    }
    h.step = model->step;
    llama_save_checkpoint(&h, path, state);
}

// Loads parameters, and optimizer state if the file has it; returns whether it did.
template <typename floatX>
static bool gpu_load_checkpoint(LlamaGpu<floatX>* model, const std::string& path, TrainState* state) {
    // resolve_model_config took the shape from a llama2.c model file: parameters only
    Llama2cHeader l2c;
    if (load_is_llama2c(path, &l2c)) {
        llama_load_llama2c(&model->host, path, l2c);
        gpu_upload_params(model);
        return false;
    }
    bool resumed = llama_load_checkpoint(&model->host, path, state);
    // The GPU update does not hold pruned weights at zero yet: refuse rather than silently densify.
    if (model->host.pruner.num_pruned > 0)
        die("%s has a sparsity mask (%zu pruned weights): sparse training runs on the CPU trainers only", path.c_str(),
            model->host.pruner.num_pruned);
    gpu_upload_params(model);
    if (resumed) {  // the file holds every moment; this GPU takes its shard (all of them alone)
        size_t begin = moments_begin(model), bytes = (moments_end(model) - begin) * sizeof(float);
        CUDA_CHECK(cudaMemcpy(model->m, model->host.m_memory + begin, bytes, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(model->v, model->host.v_memory + begin, bytes, cudaMemcpyHostToDevice));
        model->step = state->step;
    }
    return resumed;
}

#ifndef TRAIN_LLAMA_CU_NO_MAIN

// Command line and main loop

struct GpuOptions {
    bool fp32 = false;         // compute in float: the exact mode
    bool attn_simple = false;  // bf16 with the plain attention kernels
    int device = 0;
};

static const char* SUMMARY =
    "Trains a Llama-architecture model on one NVIDIA GPU from llm.c token shards (see README.md and dev/cuda/README.md).\n"
    "Same model, flags, data, log and checkpoints as ./train_llama (checkpoints resume on either).\n"
    "Computes in bf16 with fp32 master weights and optimizer state; --fp32 computes in fp32 throughout.\n"
    "Model presets: --model llama-5M (4.98M params) or llama-1M; shape flags override the preset.\n"
    "-e FILE resumes from a checkpoint with optimizer state, or initialises from a parameters-only one.";

template <typename floatX>
static void train(const TrainerOptions& o, const std::vector<ArgSpec>& specs, const LlamaConfig& config,
                  const BatchPlan& bp, const GpuOptions& go, TrainData* d, Dist* dist, NcclComm nccl) {
    const int B = bp.B, T = bp.T;
    // with several GPUs this rank trains on rows [row0, row0 + Bl) of every batch
    const int Bl = dist_rows(*dist, B);
    const size_t row0 = (size_t)dist->rank * Bl * T;

    // --- model: fresh, or from the checkpoint
    LlamaGpu<floatX> model;
    gpu_build(&model, config, go.attn_simple, dist);
#ifdef USE_NCCL
    model.nccl = nccl;
#else
    (void)nccl;
#endif
    Rng rng = sampling_rng(o);  // the CPU trainer's sampling stream
    int start_step = 0;
    double prior_s = 0;  // training time the checkpoint had used (--time)
    if (!o.load.empty()) {
        TrainState st;
        if (gpu_load_checkpoint(&model, o.load, &st)) start_step = resume_run(st, o, &d->train, &rng, &prior_s);
        else print_params_only(o.load);
        check_steps_left(o, start_step);
    } else {
        llama_init_params(&model.host, (uint64_t)o.seed);  // on the host: the CPU trainer's exact init
        gpu_upload_params(&model);
    }

    // --- what this run is (threads 0: no CPU threads to report)
    Run run = run_make(o, bp, *dist, start_step, prior_s, llama_flops_per_token(config, T) * bp.total_batch, 0);
    print_model(config, model.num_params);
    print_run_plan(run, *d);
    printf("precision: %s compute, fp32 master weights and AdamW state | attention: %s\n", dtype_name<floatX>(),
           !is_fp32((floatX*)nullptr) && !go.attn_simple ? "tensor cores (WMMA)" : "plain CUDA cores");
    print_mfu_basis(run);
    std::string gpus = std::to_string(dist->world) + " GPUs (NCCL)";
    print_data_parallel(run, model.num_params, gpus.c_str(), "GPU");
    run_start(&run, "train_llama_cu", specs, "", model.num_params);
    Schedule sched = o.sched;  // --time points its max_steps at the running estimate

    auto evaluate = [&](int step) {
        EvalResult r = gpu_evaluate(&model, &d->val, d->val_batches, train_data_tokenizer(*d));
        report_eval(&run.log, step, r.loss, r.bpb);
    };
    auto sample = [&](int step) {
        if (!d->have_tok) return;
        std::string text = gpu_generate(&model, d->tok, o.gen_tokens, o.temperature, o.top_k, &rng);
        report_sample(&run.log, step, text, o.temperature, o.top_k);
    };
    auto save = [&](int step) {
        std::string path = run_file(run, "ckpt", step);
        gpu_save_checkpoint(&model, path, run_train_state(run, step, rng, d->train));
        run_saved(&run, step, path);
    };

    // --- the loop: forward, classifier and backward over the micro-batches, then one update
    int step = start_step;
    for (; step < run_total_steps(&run, &sched, step); step++) {
        if (run_eval_due(run, step)) evaluate(step);
        if (run_sample_due(run, step)) sample(step);

        run_step_start(&run);
        gpu_zero_grad(&model);
        double loss = 0.0;
        for (int micro = 0; micro < bp.accum; micro++) {
            dataloader_next_batch(&d->train);
            gpu_forward(&model, d->train.inputs.data() + row0, d->train.targets.data() + row0, Bl, T);
            gpu_classifier(&model, Bl, T, 1.0f / (bp.accum * dist->world));  // the ranks' gradients are summed
            gpu_backward(&model, Bl, T);
            float l = (float)(gpu_loss_sum(&model, Bl, T) / ((size_t)Bl * T));
            run_check_finite(run, step, "loss", l);
            loss += l / bp.accum;
        }
        loss = dist_sum(*dist, loss) / dist->world;
        float lr = schedule_lr(sched, step);
        float norm = gpu_update(&model, lr, o.opt);  // reads the norm back: the step is done on the device
        run_check_finite(run, step, "gradient norm", norm);
        run_step_done(&run, step, loss, lr, norm);
        if (run_ckpt_due(run, step + 1)) save(step + 1);
    }

    // --- finish: the last checkpoint, evaluation and sample
    if (run.last_saved != step) save(step);
    d->val_batches = final_val_batches(run.budget, d->val, d->val_batches);
    evaluate(step);
    sample(step);
    run_finish(&run, step, "ncclAllReduce of the gradients, ncclAllGather of the weights", true);
    gpu_free(&model);
}

int main(int argc, char** argv) {
    Dist dist;  // one GPU, or this rank of an mpirun over several (train_llama_cu_mpi)
    dist_init(&dist, &argc, &argv);
    TrainerOptions o;
    o.peak_gflops = 989000.0f;  // H100 SXM, dense bf16
    ModelOptions mo;
    GpuOptions go;
    std::vector<ArgSpec> specs;
    add_train_flags(specs, &o);
    for (ArgSpec& a : specs)
        if (a.long_name && !strcmp(a.long_name, "--peak-gflops")) a.help = "peak GFLOP/s for MFU (989000 = H100 SXM dense bf16; > 0)";
    add_model_flags(specs, &mo);
    std::vector<ArgSpec> gpu_flags = {
        {nullptr, "--fp32", ARG_BOOL, &go.fp32, "compute in fp32 throughout (exact comparison with ./train_llama)"},
        {nullptr, "--attn-simple", ARG_BOOL, &go.attn_simple, "bf16: plain CUDA-core attention, not tensor cores"},
        {nullptr, "--device", ARG_INT, &go.device, "CUDA device index"},
    };
    specs.insert(specs.end(), gpu_flags.begin(), gpu_flags.end());
    args_parse(argc, argv, specs, SUMMARY);
    // 0 asks the CPU trainers to measure their peak; a GPU's is a number from its data sheet
    if (o.peak_gflops == 0) die("--peak-gflops 0 (measure at start) is for the CPU trainers: give the GPU's peak");

    // --- the device: a clear message without one (--help above works anywhere)
    const char* why = "";
    int devices = cuda_device_count(&why);
    if (devices == 0) die("no CUDA device (%s): %s trains on a GPU; ./train_llama trains on the CPU", why, argv[0]);
    if (dist.world > 1) go.device = dist_local_rank(dist);  // one GPU per rank on each machine
    if (go.device < 0 || go.device >= devices)
        die("--device %d: there are %d CUDA device(s)%s", go.device, devices,
            dist.world > 1 ? " on this machine (more ranks than GPUs?)" : "");
    CUDA_CHECK(cudaSetDevice(go.device));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, go.device));
    if (prop.major < 8) die("%s is compute capability %d.%d; this trainer needs 8.0 (Ampere) or newer", prop.name, prop.major, prop.minor);
    printf("device: %s (sm_%d%d, %d SMs, %.1f GiB)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
           prop.totalGlobalMem / 1073741824.0);

    // --- the ranks' NCCL communicator: rank 0 makes the id, MPI carries it to the others
    NcclComm nccl = nullptr;
#ifdef USE_NCCL
    if (dist.world > 1) {
        ncclUniqueId id;
        if (dist_root(dist)) NCCL_CHECK(ncclGetUniqueId(&id));
        dist_broadcast(dist, &id, (int)sizeof id);
        NCCL_CHECK(ncclCommInitRank(&nccl, dist.world, id, dist.rank));
    }
#else
    if (dist.world > 1) die("%d MPI ranks, but this binary was built without NCCL (make train_llama_cu_mpi)", dist.world);
#endif

    LlamaConfig config = resolve_model_config(mo, o, specs);
    BatchPlan bp = resolve_batch(&o, config.maxT);
    resolve_time_budget(&o, specs);
    if (dist_root(dist)) ensure_writable_dir(o.out_dir.c_str());
    TrainData d;
    train_data_open(&d, o, specs, config.V, bp);
    if (go.fp32) train<float>(o, specs, config, bp, go, &d, &dist, nccl);
    else train<bf16>(o, specs, config, bp, go, &d, &dist, nccl);
#ifdef USE_NCCL
    if (nccl) NCCL_CHECK(ncclCommDestroy(nccl));
#endif
    dist_finalize(dist);
    return 0;
}
#endif  // TRAIN_LLAMA_CU_NO_MAIN
