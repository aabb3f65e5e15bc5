// sample/decode.h: incremental decoding with a key/value cache for both of our
// models, the loader that picks the model from the checkpoint, and evaluation
// of a token stream in windows of the model's seq-len. build/sample and
// tests/test_sample.cpp both use it.
//
// The model code is the trainers' own: train_llama.cpp and train_gpt2.cpp are
// included without their main. Each defines ParameterTensors, MODEL_PRESETS,
// config_from_header, ... for its own model, so each goes into a namespace of
// its own, llama:: and gpt2:: (export/models.h, which build/export and the
// tests use too).
//
// Decoding. A prefill runs the trainer's own forward on the prompt, one
// batched pass, and copies each layer's keys and values (Llama's after RoPE)
// into the cache, (L, maxT, NKV·HS) each. Every token after that costs one
// position: its embedding goes through each layer as a single row (matvec.h),
// attends to the cache (attention_decode.h) and adds its own key and value.
//
// The window. The cache holds at most maxT positions (the model has seen no
// longer sequence, and GPT-2 has no position embedding beyond it). When a
// token arrives and the cache is full, the oldest half is dropped: the last
// maxT/2 tokens and the new one are prefilled again at positions 0, 1, ...
// So the logits are always those of the trainer's forward over exactly the
// tokens in `window`, at the price of one batched prefill of maxT/2 + 1
// tokens every maxT/2 + 1 tokens, instead of a full forward per token.
#pragma once
#include "../export/models.h"  // both trainers' model code, in namespaces llama:: and gpt2::
#include "../kernels/cpu/attention_decode.h"
#include "../kernels/cpu/matvec.h"

// ----------------------------------------------------------------------------
// The decoder: one model of either kind, its cache and one position's activations

// A forward of a few positions of a small model is too little work to share:
// one llama-5M position is ~5M multiply-adds (~1 ms on one core) spread over
// ~45 kernels, and every kernel that wakes a second thread pays a fork and a
// barrier. On our 2-core machine, shared with other work, two threads made
// llama-5M's generation 2-61x slower than one (README.md). So a forward of n
// positions uses all threads only when n · parameters reaches this; below it,
// one thread. The prefill of a long prompt and --eval's windows use all.
constexpr double DECODE_PARALLEL_MIN_WORK = 64e6;

// Sets the OpenMP team size of the parallel regions that follow; returns the previous one.
inline int set_threads(int n) {
#ifdef _OPENMP
    int prev = omp_get_max_threads();
    omp_set_num_threads(n);
    return prev;
#else
    (void)n;
    return 1;
#endif
}

// The decoder's own memory, one allocation (decoder_setup), named views into it.
constexpr int NUM_DECODE_TENSORS = 11;
struct DecodeTensors {
    float* k_cache;  // (L, maxT, NKV·HS) keys of the window's positions (Llama: after RoPE)
    float* v_cache;  // (L, maxT, NKV·HS) values
    float* logits;   // (V) next-token logits after the last token of the window
    // one position's activations
    float* x;        // (C) residual stream
    float* xn;       // (C) normed input of a block
    float* qkv;      // ((NH + 2·NKV)·HS)
    float* atty;     // (NH·HS) attention output before the projection
    float* hidden;   // (2·H) Llama's w1 and w3 outputs; (4·C) GPT-2's MLP
    float* hgate;    // (H) Llama's SwiGLU output
    float* proj;     // (C) a block's output before the residual add
    float* att;      // (NH, maxT) attention scores
};

struct Decoder {
    int kind = 0;           // CKPT_KIND_LLAMA or CKPT_KIND_GPT2: which of the two models below is in use
    llama::Llama llama;
    gpt2::GPT2 gpt2;
    int V = 0, maxT = 0, L = 0, C = 0, NH = 0, NKV = 0, HS = 0;
    float* memory = nullptr;  // everything in t
    DecodeTensors t;
    std::vector<int> window;  // the tokens at cache positions 0..size-1
    int slides = 0;           // times the window slid (re-prefills after the cache filled)
    int max_threads = 1;      // OpenMP threads a large forward gets (DECODE_PARALLEL_MIN_WORK)
};

// What the tail of the window keeps when the cache is full (see the top of the file).
inline int window_keep(int maxT) { return maxT / 2; }

// Sizes the cache and the buffers for the model already built in d (d->kind
// says which), and the trainer's activations for one sequence of maxT.
inline void decoder_setup(Decoder* d) {
    int H = 0, hidden = 0;
    if (d->kind == CKPT_KIND_LLAMA) {
        const llama::LlamaConfig& c = d->llama.config;
        d->V = c.V; d->maxT = c.maxT; d->L = c.L; d->C = c.C; d->NH = c.NH; d->NKV = c.NKV;
        H = c.H;
        hidden = 2 * c.H;
        llama::llama_alloc_activations(&d->llama, 1, c.maxT);
    } else if (d->kind == CKPT_KIND_GPT2) {
        const gpt2::GPT2Config& c = d->gpt2.config;
        d->V = c.V; d->maxT = c.maxT; d->L = c.L; d->C = c.C; d->NH = c.NH; d->NKV = c.NH;
        hidden = 4 * c.C;
        gpt2::gpt2_alloc_activations(&d->gpt2, 1, c.maxT);
    } else {
        die("decoder_setup: unknown model kind %d", d->kind);
    }
    d->HS = d->C / d->NH;
    size_t cache = (size_t)d->L * d->maxT * d->NKV * d->HS;
    size_t sizes[NUM_DECODE_TENSORS] = {cache, cache, (size_t)d->V, (size_t)d->C, (size_t)d->C,
                                        (size_t)(d->NH + 2 * d->NKV) * d->HS, (size_t)d->NH * d->HS, (size_t)hidden,
                                        (size_t)H, (size_t)d->C, (size_t)d->NH * d->maxT};
    size_t total = 0;
    for (size_t n : sizes) total += n;
    d->memory = (float*)calloc_check(total * sizeof(float), "KV cache and decoding buffers");
    float** ptrs[NUM_DECODE_TENSORS] = {&d->t.k_cache, &d->t.v_cache, &d->t.logits, &d->t.x,    &d->t.xn,  &d->t.qkv,
                                        &d->t.atty,    &d->t.hidden,  &d->t.hgate,  &d->t.proj, &d->t.att};
    float* p = d->memory;
    for (int i = 0; i < NUM_DECODE_TENSORS; i++) { *ptrs[i] = p; p += sizes[i]; }
    d->window.clear();
    d->slides = 0;
#ifdef _OPENMP
    d->max_threads = omp_get_max_threads();
#endif
}

inline void decoder_free(Decoder* d) {
    if (d->kind == CKPT_KIND_LLAMA) llama::llama_free(&d->llama);
    if (d->kind == CKPT_KIND_GPT2) gpt2::gpt2_free(&d->gpt2);
    free(d->memory);
    d->memory = nullptr;
    d->kind = 0;
}

inline size_t decoder_num_params(const Decoder& d) {
    return d.kind == CKPT_KIND_LLAMA ? d.llama.num_params : d.gpt2.num_params;
}

// OpenMP threads for a forward of n positions (DECODE_PARALLEL_MIN_WORK).
inline int decoder_threads(const Decoder& d, int n) {
    return (double)n * decoder_num_params(d) >= DECODE_PARALLEL_MIN_WORK ? d.max_threads : 1;
}

// One line naming the model and its shape.
inline std::string decoder_describe(const Decoder& d) {
    char buf[512];
    if (d.kind == CKPT_KIND_LLAMA) {
        const llama::LlamaConfig& c = d.llama.config;
        snprintf(buf, sizeof buf,
                 "llama: vocab %d, dim %d, layers %d, heads %d, kv-heads %d, hidden %d, seq-len %d, %s head, %.2fM parameters",
                 c.V, c.C, c.L, c.NH, c.NKV, c.H, c.maxT, c.tied ? "tied" : "untied", d.llama.num_params / 1e6);
    } else {
        const gpt2::GPT2Config& c = d.gpt2.config;
        snprintf(buf, sizeof buf, "gpt2: vocab %d (padded %d), dim %d, layers %d, heads %d, seq-len %d, %.2fM parameters",
                 c.V, c.Vp, c.C, c.L, c.NH, c.maxT, d.gpt2.num_params / 1e6);
    }
    return buf;
}

// ----------------------------------------------------------------------------
// Loading: the kind comes from the file (our checkpoint's header, or llm.c's
// GPT-2 model file); a checkpoint's optimizer state, if any, is not read.

inline void decoder_load(Decoder* d, const std::string& path) {
    const char* p = path.c_str();
    int magic = file_magic(path);  // dies if the file is missing or a directory
    if (magic == LLMC_MODEL_MAGIC) {
        d->kind = CKPT_KIND_GPT2;
        gpt2::gpt2_build(&d->gpt2, gpt2::gpt2_read_file_config(path));  // checks the size before allocating
        llmc_read_params(path, d->gpt2.params_memory, d->gpt2.num_params);
    } else if (magic == CKPT_MAGIC) {
        int header[CKPT_HEADER_INTS];
        FILE* f = fopen_check(p, "rb");
        fread_check(header, sizeof(int), CKPT_HEADER_INTS, f, p);
        fclose(f);
        int kind = header[2];
        if (kind != CKPT_KIND_LLAMA && kind != CKPT_KIND_GPT2)
            die("%s: unknown model kind %d in the checkpoint header, expected %d (llama) or %d (gpt2)", p, kind,
                CKPT_KIND_LLAMA, CKPT_KIND_GPT2);
        checkpoint_read_header(path, header, kind);  // version and the optimizer flag
        d->kind = kind;
        if (kind == CKPT_KIND_LLAMA) {
            llama::LlamaConfig c = llama::config_from_header(header);
            llama::config_validate(c, p);
            llama::llama_build(&d->llama, c);
            checkpoint_load(path, d->llama.num_params, d->llama.params_memory, nullptr, nullptr, nullptr);
        } else {
            gpt2::GPT2Config c = gpt2::config_from_header(header);
            gpt2::config_validate(c, p);
            gpt2::gpt2_build(&d->gpt2, c);
            checkpoint_load(path, d->gpt2.num_params, d->gpt2.params_memory, nullptr, nullptr, nullptr);
        }
    } else {
        die("%s: bad magic %d, expected %d (checkpoint of this engine) or %d (llm.c GPT-2 model file)", p, magic,
            CKPT_MAGIC, LLMC_MODEL_MAGIC);
    }
    decoder_setup(d);
}

// ----------------------------------------------------------------------------
// The trainer's forward on one sequence

// Logits (n, V) of the trainer's forward over tokens[0..n), n <= maxT.
// The pointer is into the trainer's activations: valid until the next forward.
inline const float* decoder_forward(Decoder* d, const int* tokens, int n) {
    if (n < 1 || n > d->maxT) die("forward over %d tokens, expected 1..%d", n, d->maxT);
    if (d->kind == CKPT_KIND_LLAMA) {
        llama::llama_forward(&d->llama, tokens, nullptr, 1, n);
        return d->llama.acts.logits;
    }
    gpt2::gpt2_forward(&d->gpt2, tokens, nullptr, 1, n);
    return d->gpt2.acts.logits;
}

// Summed NLL (nats) of targets[0..n) after inputs[0..n), one sequence, n <= maxT.
inline double decoder_nll(Decoder* d, const int* inputs, const int* targets, int n) {
    if (n < 1 || n > d->maxT) die("forward over %d tokens, expected 1..%d", n, d->maxT);
    const float* losses;
    if (d->kind == CKPT_KIND_LLAMA) {
        llama::llama_forward_pass(&d->llama, inputs, targets, 1, n, false);
        losses = d->llama.acts.losses;
    } else {
        gpt2::gpt2_forward_pass(&d->gpt2, inputs, targets, 1, n, false);
        losses = d->gpt2.acts.losses;
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += losses[i];
    return sum;
}

// ----------------------------------------------------------------------------
// Prefill and one position

// Fills the cache from tokens (the last maxT of them if there are more) and
// leaves the logits after the last one.
inline void decoder_prefill(Decoder* d, const int* tokens, int n) {
    if (n < 1) die("prefill needs at least one token");
    if (n > d->maxT) {
        tokens += n - d->maxT;
        n = d->maxT;
    }
    int threads = set_threads(decoder_threads(*d, n));
    const float* logits = decoder_forward(d, tokens, n);
    set_threads(threads);
    memcpy(d->t.logits, logits + (size_t)(n - 1) * d->V, (size_t)d->V * sizeof(float));
    // the forward keeps qkv per layer as (n, (NH + 2·NKV)·HS): q heads, then k, then v
    const int QKV = (d->NH + 2 * d->NKV) * d->HS, KV = d->NKV * d->HS;
    const float* qkv = d->kind == CKPT_KIND_LLAMA ? d->llama.acts.qkv : d->gpt2.acts.qkv;
    for (int l = 0; l < d->L; l++)
        for (int t = 0; t < n; t++) {
            const float* row = qkv + ((size_t)l * n + t) * QKV;
            size_t at = ((size_t)l * d->maxT + t) * KV;
            memcpy(d->t.k_cache + at, row + d->NH * d->HS, KV * sizeof(float));
            memcpy(d->t.v_cache + at, row + (d->NH + d->NKV) * d->HS, KV * sizeof(float));
        }
    d->window.assign(tokens, tokens + n);
}

// Stores the new position's k and v (inside qkv) in layer l's cache and
// attends to positions 0..pos; leaves the heads' outputs in d->t.atty.
inline void decode_attention(Decoder* d, int l, int pos) {
    const int KV = d->NKV * d->HS;
    float* kc = d->t.k_cache + (size_t)l * d->maxT * KV;
    float* vc = d->t.v_cache + (size_t)l * d->maxT * KV;
    memcpy(kc + (size_t)pos * KV, d->t.qkv + d->NH * d->HS, KV * sizeof(float));
    memcpy(vc + (size_t)pos * KV, d->t.qkv + (d->NH + d->NKV) * d->HS, KV * sizeof(float));
    attention_decode_forward(d->t.atty, d->t.att, d->t.qkv, kc, vc, pos + 1, d->NH, d->NKV, d->HS);
}

inline void add_into(float* x, const float* y, int C) {
    for (int i = 0; i < C; i++) x[i] += y[i];
}

// Llama at position pos: the trainer's forward (llama_forward_pass) for one row.
inline void llama_decode_position(Decoder* d, int token, int pos) {
    const llama::LlamaConfig& c = d->llama.config;
    const llama::ParameterTensors& p = d->llama.params;
    const int C = c.C, NH = c.NH, NKV = c.NKV, HS = C / NH, H = c.H, QKV = (NH + 2 * NKV) * HS;
    float *x = d->t.x, *xn = d->t.xn, *qkv = d->t.qkv, *proj = d->t.proj;
    memcpy(x, p.wte + (size_t)token * C, C * sizeof(float));
    for (int l = 0; l < c.L; l++) {
        rmsnorm_row(xn, x, p.rms_att + (size_t)l * C, C, c.norm_eps);
        matvec_forward(qkv, xn, p.wqkv + (size_t)l * QKV * C, nullptr, C, QKV);
        // RoPE at this position: the tables' row pos, as one (B, T) = (1, 1) row
        rope_forward_fast(qkv, d->llama.rope_cos2 + (size_t)pos * HS, d->llama.rope_sin2 + (size_t)pos * HS, 1, 1, NH,
                          NKV, HS);
        decode_attention(d, l, pos);
        matvec_forward(proj, d->t.atty, p.wo + (size_t)l * C * NH * HS, nullptr, NH * HS, C);
        add_into(x, proj, C);
        rmsnorm_row(xn, x, p.rms_ffn + (size_t)l * C, C, c.norm_eps);
        matvec_forward(d->t.hidden, xn, p.w13 + (size_t)l * 2 * H * C, nullptr, C, 2 * H);
        swiglu_forward_fast(d->t.hgate, d->t.hidden, 1, H);
        matvec_forward(proj, d->t.hgate, p.w2 + (size_t)l * C * H, nullptr, H, C);
        add_into(x, proj, C);
    }
    rmsnorm_row(xn, x, p.rms_final, C, c.norm_eps);
    matvec_forward(d->t.logits, xn, p.wcls, nullptr, C, c.V);
}

// GPT-2 at position pos: the trainer's forward (gpt2_forward_pass) for one row.
inline void gpt2_decode_position(Decoder* d, int token, int pos) {
    const gpt2::GPT2Config& c = d->gpt2.config;
    const gpt2::ParameterTensors& p = d->gpt2.params;
    const int C = c.C;
    float *x = d->t.x, *xn = d->t.xn, *qkv = d->t.qkv, *proj = d->t.proj;
    float mean, rstd;  // LayerNorm's statistics, which only backward needs
    for (int i = 0; i < C; i++) x[i] = p.wte[(size_t)token * C + i] + p.wpe[(size_t)pos * C + i];
    for (int l = 0; l < c.L; l++) {
        layernorm_forward(xn, &mean, &rstd, x, p.ln1w + (size_t)l * C, p.ln1b + (size_t)l * C, 1, C, c.norm_eps);
        matvec_forward(qkv, xn, p.qkvw + (size_t)l * 3 * C * C, p.qkvb + (size_t)l * 3 * C, C, 3 * C);
        decode_attention(d, l, pos);
        matvec_forward(proj, d->t.atty, p.attprojw + (size_t)l * C * C, p.attprojb + (size_t)l * C, C, C);
        add_into(x, proj, C);
        layernorm_forward(xn, &mean, &rstd, x, p.ln2w + (size_t)l * C, p.ln2b + (size_t)l * C, 1, C, c.norm_eps);
        matvec_forward(d->t.hidden, xn, p.fcw + (size_t)l * 4 * C * C, p.fcb + (size_t)l * 4 * C, C, 4 * C);
        gelu_forward(d->t.hidden, d->t.hidden, (size_t)4 * C);
        matvec_forward(proj, d->t.hidden, p.fcprojw + (size_t)l * C * 4 * C, p.fcprojb + (size_t)l * C, 4 * C, C);
        add_into(x, proj, C);
    }
    layernorm_forward(xn, &mean, &rstd, x, p.lnfw, p.lnfb, 1, C, c.norm_eps);
    // the head is wte's first V rows (the padded rows are not the vocabulary)
    matvec_forward(d->t.logits, xn, p.wte, nullptr, C, c.V);
}

// Appends token to the window and leaves the logits after it: one position,
// or, when the cache is full, a prefill of the window's last maxT/2 tokens
// and this one.
inline void decoder_push(Decoder* d, int token) {
    if (token < 0 || token >= d->V) die("token %d is outside the vocab [0, %d)", token, d->V);
    if (d->window.empty()) die("decoder_push before a prefill");
    if ((int)d->window.size() == d->maxT) {
        int keep = window_keep(d->maxT);
        std::vector<int> w(d->window.end() - keep, d->window.end());
        w.push_back(token);
        decoder_prefill(d, w.data(), (int)w.size());
        d->slides++;
        return;
    }
    int pos = (int)d->window.size();
    int threads = set_threads(decoder_threads(*d, 1));  // every kernel's parallel region below gets this many
    if (d->kind == CKPT_KIND_LLAMA) llama_decode_position(d, token, pos);
    else gpt2_decode_position(d, token, pos);
    set_threads(threads);
    d->window.push_back(token);
}

// ----------------------------------------------------------------------------
// Evaluation of a token stream
//
// The stream is cut into windows of at most maxT predictions: window w has
// inputs ids[s, s + T) and targets ids[s + 1, s + T + 1) with s = w·maxT and
// T = min(maxT, n − 1 − s). Every token but the first is predicted exactly
// once, from the tokens before it in its window (so at most maxT − 1 of
// them; the first target of a window has only one). This is how the trainer's
// validation batches see the text, so the numbers compare with its val loss.

struct EvalTotals {
    double nll = 0.0;     // summed NLL of the targets, nats
    size_t targets = 0;   // tokens predicted
    double bytes = 0.0;   // bytes the targets decode to (<|endoftext|> counts its 13 bytes of text)
    int windows = 0;
};

inline EvalTotals decoder_eval(Decoder* d, const std::vector<int>& ids, const Tokenizer& tok) {
    EvalTotals e;
    for (size_t s = 0; s + 1 < ids.size(); s += d->maxT) {
        int T = (int)std::min<size_t>(d->maxT, ids.size() - 1 - s);
        e.nll += decoder_nll(d, ids.data() + s, ids.data() + s + 1, T);
        e.targets += T;
        for (int t = 0; t < T; t++) e.bytes += tok.tokens[ids[s + 1 + t]].size();
        e.windows++;
    }
    return e;
}
