// common/trainer.h: the plumbing every trainer shares and no model needs to
// know about: the training flags (data, batch, schedule, optimizer, cadence of
// eval/sample/checkpoint), how they combine, the optional tokenizer, and
// carrying the data position and RNG through a checkpoint.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "../kernels/cpu/attention_bf16.h"
#include "../kernels/cpu/matmul.h"
#include "../tokenizer/tokenizer.h"
#include "args.h"
#include "checkpoint.h"
#include "dataloader.h"
#include "dist.h"
#include "optimizer.h"
#include "report.h"
#include "rng.h"
#include "schedule.h"
#include "util.h"

struct TrainerOptions {
    std::string train_glob = "data/tinystories/train_*.bin";
    std::string val_glob = "data/tinystories/val_*.bin";
    std::string tokenizer = "data/tinystories/tokenizer.bin";
    std::string out_dir = "out";
    std::string load;
    int B = 16, T = 0, total_batch = 0;
    Schedule sched;
    AdamWConfig opt;
    int max_steps = 1000, warmup = 10;
    std::string time;       // --time DURATION, "" = none
    double time_s = 0;      // --time in seconds (resolve_time_budget)
    int val_every = 100, val_batches = 20, sample_every = 200, gen_tokens = 128, ckpt_every = 500;
    float temperature = 0.8f;
    int top_k = 40;
    int seed = 1337;
    float peak_gflops = 0.0f;  // 0: the CPU trainers measure it at start (kernels/cpu/peak.h)
    std::string peak_basis;    // where peak_gflops came from, for the banner ("" = --peak-gflops)
};

// --precision auto|fp32|bf16 (--bf16 is --precision bf16): what the CPU
// trainers' matmuls (kernels/cpu/matmul.h) and attention's products
// (kernels/cpu/attention_bf16.h) multiply. Weights, gradients, AdamW, norms
// and the softmax stay fp32 in every mode, and every product accumulates in fp32.
struct PrecisionOption {
    std::string precision = "auto";
    bool bf16 = false;  // --bf16
};

inline void add_precision_flags(std::vector<ArgSpec>& specs, PrecisionOption* p) {
    specs.push_back({nullptr, "--precision", ARG_STRING, &p->precision,
                     "operands of the matmuls and attention's products: bf16 (rounded, fp32 accumulation), fp32, or "
                     "auto = bf16 where this CPU's bf16 path is faster than fp32 (AMX tiles, Zen 4's avx512_bf16), "
                     "else fp32"});
    specs.push_back({nullptr, "--bf16", ARG_BOOL, &p->bf16, "the same as --precision bf16"});
}

// Whether the matmuls run on bf16 operands on this machine; dies on a value
// it does not know or on --bf16 with --precision fp32.
inline bool resolve_precision(const PrecisionOption& p) {
    if (p.precision != "auto" && p.precision != "fp32" && p.precision != "bf16")
        die("--precision %s: expected auto, fp32 or bf16", p.precision.c_str());
    if (p.bf16 && p.precision == "fp32") die("--bf16 and --precision fp32 contradict each other: give one");
    if (p.bf16 || p.precision == "bf16") return true;
    if (p.precision == "fp32") return false;
    return gemm::bf16_is_faster(gemm::active_isa());
}

// The banner's line: the GEMM path, its precision (and attention's, in bf16), and why when auto chose it.
inline std::string describe_precision(const PrecisionOption& p, bool bf16) {
    std::string line = gemm::describe(bf16);
    if (bf16) {
        const gemm::Kernels& att = attn_bf16::kernels(gemm::active_isa());
        const bool same = &att == &gemm::kernels_for(gemm::active_isa(), true);
        line += std::string("; attention's products on ") + (same ? "the same kernels" : att.what);
    }
    if (p.precision == "auto" && !p.bf16)
        line += bf16 ? " | --precision auto: bf16 is faster than fp32 on this CPU"
                     : " | --precision auto: fp32 (bf16 is not faster on this CPU)";
    return line;
}

inline void add_train_flags(std::vector<ArgSpec>& specs, TrainerOptions* o) {
    std::vector<ArgSpec> common = {
        {"-i", "--train", ARG_STRING, &o->train_glob, "train shards (glob)"},
        {"-j", "--val", ARG_STRING, &o->val_glob, "validation shards (glob)"},
        {"-z", "--tokenizer", ARG_STRING, &o->tokenizer, "tokenizer file or GPT-2 vocab dir, for bits/byte and samples (\"\" = none)"},
        {"-o", "--out", ARG_STRING, &o->out_dir, "output dir: log.jsonl and checkpoints"},
        {"-e", "--load", ARG_STRING, &o->load, "checkpoint to resume or initialise from"},
        {"-b", "--batch", ARG_INT, &o->B, "micro-batch size B (sequences)"},
        {"-t", "--seq", ARG_INT, &o->T, "sequence length T of a batch (0 = the model's seq-len)"},
        {"-d", "--total-batch", ARG_INT, &o->total_batch, "tokens per optimizer step, a multiple of B*T (0 = B*T)"},
        {"-l", "--lr", ARG_FLOAT, &o->sched.lr, "peak learning rate"},
        {"-u", "--warmup", ARG_INT, &o->warmup, "warmup steps"},
        {"-q", "--final-lr-frac", ARG_FLOAT, &o->sched.final_frac, "final learning rate as a fraction of -l"},
        {nullptr, "--schedule", ARG_STRING, &o->sched.kind, "learning-rate schedule: cosine or wsd"},
        {nullptr, "--decay-frac", ARG_FLOAT, &o->sched.decay_frac, "wsd: fraction of steps spent decaying"},
        {"-c", "--weight-decay", ARG_FLOAT, &o->opt.weight_decay, "AdamW weight decay (matrices only)"},
        {nullptr, "--beta1", ARG_FLOAT, &o->opt.beta1, "AdamW beta1"},
        {nullptr, "--beta2", ARG_FLOAT, &o->opt.beta2, "AdamW beta2"},
        {nullptr, "--eps", ARG_FLOAT, &o->opt.eps, "AdamW epsilon"},
        {nullptr, "--grad-clip", ARG_FLOAT, &o->opt.grad_clip, "max global gradient norm (0 = off)"},
        {"-x", "--steps", ARG_INT, &o->max_steps, "optimizer steps to train"},
        {nullptr, "--time", ARG_STRING, &o->time, "train for a wall-clock DURATION (90s, 10m, 2h, 1h30m): the lr schedule runs over time, then a full val eval; -x caps steps only if given"},
        {"-v", "--val-every", ARG_INT, &o->val_every, "evaluate every N steps (0 = only at the end)"},
        {"-m", "--val-batches", ARG_INT, &o->val_batches, "validation batches per evaluation"},
        {"-s", "--sample-every", ARG_INT, &o->sample_every, "print a sample every N steps (0 = only at the end)"},
        {"-g", "--gen-tokens", ARG_INT, &o->gen_tokens, "tokens to generate per sample"},
        {nullptr, "--temperature", ARG_FLOAT, &o->temperature, "sampling temperature (0 = greedy)"},
        {nullptr, "--top-k", ARG_INT, &o->top_k, "sample among the k likeliest tokens (0 = all)"},
        {"-n", "--ckpt-every", ARG_INT, &o->ckpt_every, "write a checkpoint every N steps (and at the end)"},
        {nullptr, "--seed", ARG_INT, &o->seed, "seed for init, data order and sampling"},
        {nullptr, "--peak-gflops", ARG_FLOAT, &o->peak_gflops, "peak GFLOP/s for MFU; 0 = measure it at start: a probe of the instructions the matmuls use (FMA for fp32; vdpbf16ps or AMX tiles for bf16) on the run's threads"},
    };
    specs.insert(specs.end(), common.begin(), common.end());
}

// B, T and gradient accumulation, checked against the model's longest sequence.
struct BatchPlan {
    int B, T;
    int total_batch;  // tokens per optimizer step
    int accum;        // micro-batches per step
};

// Refuses hyperparameters no run can mean: a negative or non-finite learning
// rate trains (badly) instead of failing, so each flag's range is checked
// here, before any data or model is touched. NaN fails every comparison, so
// each test is written as "is inside the range".
inline void check_train_options(const TrainerOptions& o) {
    auto in_range = [](const char* flag, float v, float lo, bool lo_open, float hi, bool hi_open, const char* want) {
        bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
        if (!ok) die("%s must be %s, got %g", flag, want, v);
    };
    const float inf = INFINITY;
    // lr 0 is a use, not a mistake: it runs the data through a model without changing it
    in_range("-l/--lr", o.sched.lr, 0.0f, false, inf, true, "a finite number >= 0");
    in_range("-q/--final-lr-frac", o.sched.final_frac, 0.0f, false, 1.0f, false, "in [0, 1]");
    in_range("--decay-frac", o.sched.decay_frac, 0.0f, false, 1.0f, false, "in [0, 1]");
    in_range("-c/--weight-decay", o.opt.weight_decay, 0.0f, false, inf, true, "a finite number >= 0");
    in_range("--beta1", o.opt.beta1, 0.0f, false, 1.0f, true, "in [0, 1)");
    in_range("--beta2", o.opt.beta2, 0.0f, false, 1.0f, true, "in [0, 1)");
    in_range("--eps", o.opt.eps, 0.0f, true, inf, true, "a finite number > 0");
    in_range("--grad-clip", o.opt.grad_clip, 0.0f, false, inf, true, "a finite number >= 0 (0 = off)");
    in_range("--temperature", o.temperature, 0.0f, false, inf, true, "a finite number >= 0 (0 = greedy)");
    in_range("--peak-gflops", o.peak_gflops, 0.0f, false, inf, true, "a finite number >= 0 (0 = measure at start)");
    auto at_least = [](const char* flag, int v, int lo) {
        if (v < lo) die("%s must be at least %d, got %d", flag, lo, v);
    };
    at_least("-b/--batch", o.B, 1);
    at_least("-t/--seq", o.T, 0);
    at_least("-d/--total-batch", o.total_batch, 0);
    at_least("-x/--steps", o.max_steps, 1);
    at_least("-u/--warmup", o.warmup, 0);
    at_least("-v/--val-every", o.val_every, 0);
    at_least("-m/--val-batches", o.val_batches, 1);
    at_least("-s/--sample-every", o.sample_every, 0);
    at_least("-g/--gen-tokens", o.gen_tokens, 0);
    at_least("--top-k", o.top_k, 0);
    at_least("-n/--ckpt-every", o.ckpt_every, 0);
    if (o.sched.kind != "cosine" && o.sched.kind != "wsd")
        die("--schedule must be cosine or wsd, got '%s'", o.sched.kind.c_str());
}

inline BatchPlan resolve_batch(TrainerOptions* o, int maxT) {
    check_train_options(*o);
    BatchPlan p;
    p.B = o->B;
    p.T = o->T > 0 ? o->T : maxT;
    if (p.T > maxT) die("-t %d exceeds the model's seq-len %d (raise --seq-len)", p.T, maxT);
    p.total_batch = o->total_batch > 0 ? o->total_batch : p.B * p.T;
    if (p.total_batch % (p.B * p.T) != 0)
        die("-d %d (tokens per step) is not a multiple of B*T = %d*%d = %d", p.total_batch, p.B, p.T, p.B * p.T);
    p.accum = p.total_batch / (p.B * p.T);
    o->sched.warmup = o->warmup;
    o->sched.max_steps = o->max_steps;
    return p;
}

// Loads -z if the file exists. A missing file is an error only when -z was
// given explicitly; the default path may simply not have been prepared.
// A directory is read as GPT-2's vocabulary (encoder.json + vocab.bpe in it);
// a file is our tokenizer.bin or llm.c's gpt2_tokenizer.bin.
inline bool load_training_tokenizer(Tokenizer* tok, const TrainerOptions& o, bool given, int vocab_size) {
    if (!o.tokenizer.empty() && path_exists(o.tokenizer)) {
        std::string err;
        struct stat st;
        bool is_dir = stat(o.tokenizer.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
        bool ok = is_dir ? tokenizer_load_gpt2_dir(tok, o.tokenizer, &err) : tokenizer_load(tok, o.tokenizer, &err);
        if (!ok) die("%s", err.c_str());
        if (tok->vocab_size > vocab_size)
            die("tokenizer %s has %d tokens but the model's vocab is %d", o.tokenizer.c_str(), tok->vocab_size, vocab_size);
        return true;
    }
    if (!o.tokenizer.empty() && given) die("tokenizer file %s not found", o.tokenizer.c_str());
    printf("note: no tokenizer file (%s): training and val loss only, no bits/byte and no samples\n",
           o.tokenizer.empty() ? "-z \"\"" : o.tokenizer.c_str());
    return false;
}

inline TrainState make_train_state(int step, const Rng& rng, const DataLoader& train, double elapsed_s = 0.0) {
    return TrainState{step, rng.state, train.epoch, train.index, train.seed, (uint64_t)train.T, elapsed_s};
}

// Puts the data loader and RNG where the checkpoint left them.
inline void restore_train_state(const TrainState& st, const std::string& path, DataLoader* train, Rng* rng) {
    if (st.data_T != (uint64_t)train->T)
        die("checkpoint %s was trained with -t %llu; its data position means nothing at -t %d (resume with -t %llu)",
            path.c_str(), (unsigned long long)st.data_T, train->T, (unsigned long long)st.data_T);
    if (st.data_seed != train->seed)
        printf("note: resuming with the checkpoint's data order seed %llu (--seed applies to new runs)\n",
               (unsigned long long)st.data_seed);
    train->seed = st.data_seed;
    dataloader_seek(train, st.data_epoch, st.data_index);
    rng->state = st.rng_state;
}

// --time: parses the duration; without an explicit -x the budget alone ends the run.
inline void resolve_time_budget(TrainerOptions* o, const std::vector<ArgSpec>& specs) {
    if (o->time.empty()) return;
    std::string err;
    if (!parse_duration(o->time, &o->time_s, &err)) die("--time '%s': %s", o->time.c_str(), err.c_str());
    if (!arg_was_set(specs, "--steps")) o->max_steps = o->sched.max_steps = BUDGET_NO_CAP;
}

// "1000 steps", "--time 10m00s" or "--time 10m00s, at most 500 steps", for the startup line.
inline std::string format_seconds(double s);
inline std::string steps_text(const TrainerOptions& o) {
    if (o.time_s <= 0) return std::to_string(o.max_steps) + " steps";
    std::string t = "--time " + format_seconds(o.time_s);
    return o.max_steps < BUDGET_NO_CAP ? t + ", at most " + std::to_string(o.max_steps) + " steps" : t;
}

inline std::string format_seconds(double s) {
    char buf[32];
    int whole = (int)s;
    if (whole < 3600) snprintf(buf, sizeof buf, "%dm%02ds", whole / 60, whole % 60);
    else snprintf(buf, sizeof buf, "%dh%02dm%02ds", whole / 3600, whole / 60 % 60, whole % 60);
    return buf;
}

// The run's clock and budget, from the checkpoint's elapsed time (prior_s) on.
inline TimeBudget time_budget_start(const TrainerOptions& o, int start_step, double prior_s) {
    TimeBudget b;
    b.budget_s = o.time_s;
    b.cap = o.max_steps;
    b.prior_s = prior_s;
    b.start_step = b.total = start_step;
    if (b.budget_s <= 0) return b;
    if (prior_s >= b.budget_s)
        die("checkpoint %s has used %s of training, --time is %s: nothing to do", o.load.c_str(),
            format_seconds(prior_s).c_str(), format_seconds(b.budget_s).c_str());
    if (prior_s > 0)
        printf("time budget: %s, %s used by the checkpoint, %s left\n", format_seconds(b.budget_s).c_str(),
               format_seconds(prior_s).c_str(), format_seconds(b.budget_s - prior_s).c_str());
    else
        printf("time budget: %s; the step count is estimated from the steps' timing as they run\n",
               format_seconds(b.budget_s).c_str());
    return b;
}

// Before each step: re-estimates the run's steps (budget_total_steps) and
// points the schedule at them. The loop runs while the step is below it.
// With MPI every rank takes rank 0's estimate: ranks that stopped at
// different steps would wait on each other forever.
inline int time_budget_steps(TimeBudget* b, Schedule* sched, int steps_done, const Dist* dist = nullptr) {
    double now = now_ms();
    if (b->start_ms < 0) b->start_ms = now;
    b->total = budget_total_steps(*b, steps_done, (now - b->start_ms) / 1e3);
    if (dist && b->budget_s > 0) dist_broadcast(*dist, &b->total, (int)sizeof b->total);
    if (b->budget_s > 0) sched->max_steps = b->total;
    return b->total;
}

// Training time so far, resumed runs included: the log's time axis.
inline double time_budget_elapsed(const TimeBudget& b) {
    return b.prior_s + (b.start_ms < 0 ? 0.0 : (now_ms() - b.start_ms) / 1e3);
}

// What the checkpoint records: the time used, in runs that count it (--time,
// or resumed from such a run); 0 otherwise, so that a step-count run's
// checkpoints stay bit-identical however it was split by resumes.
inline double time_budget_checkpoint_s(const TimeBudget& b) {
    return b.budget_s > 0 || b.prior_s > 0 ? time_budget_elapsed(b) : 0.0;
}

// The batches of the last evaluation: a --time run ends on the whole
// validation set, its result; a step-count run keeps -m.
inline int final_val_batches(const TimeBudget& b, const DataLoader& val, int val_batches) {
    if (b.budget_s <= 0) return val_batches;
    int all = (int)(val.windows.size() / val.B);
    printf("final evaluation on the whole validation set: %d batches\n", all);
    return all;
}
