// common/run.h: one training run's bookkeeping, the part of a trainer's main
// that no model needs to know about and that every trainer does the same way:
// the tokenizer and data, resuming from a checkpoint, the startup lines after
// the model's own, the log and its config record, timing the steps, the last
// good checkpoint (named when a step goes non-finite), the --time budget, and
// the closing lines and report. The model calls (build, load, forward,
// backward, update, evaluate, generate, save) stay in each trainer's main,
// which calls these between them: parse, build, load, loop, finish.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../tokenizer/tokenizer.h"
#include "checkpoint.h"
#include "dataloader.h"
#include "dist.h"
#include "logger.h"
#include "report.h"
#include "report_html.h"
#include "rng.h"
#include "schedule.h"
#include "trainer.h"
#include "util.h"

// ---- before the model: data, tokenizer, the sampling stream -----------------

struct TrainData {
    Tokenizer tok;
    bool have_tok = false;  // false: loss only, no bits/byte and no samples
    DataLoader train, val;
    int val_batches = 0;    // per evaluation: -m, at most the whole validation set
};

inline void train_data_open(TrainData* d, const TrainerOptions& o, const std::vector<ArgSpec>& specs, int V,
                            const BatchPlan& bp) {
    d->have_tok = load_training_tokenizer(&d->tok, o, arg_was_set(specs, "--tokenizer"), V);
    dataloader_init(&d->train, o.train_glob, bp.B, bp.T, V, true, (uint64_t)o.seed, "train data");
    dataloader_init(&d->val, o.val_glob, bp.B, bp.T, V, false, 0, "val data");
    d->val_batches = std::min<int>(o.val_batches, (int)(d->val.windows.size() / bp.B));
}

// What evaluation takes for bits/byte: the tokenizer, or none.
inline const Tokenizer* train_data_tokenizer(const TrainData& d) { return d.have_tok ? &d.tok : nullptr; }

// The sampling stream, apart from the init's and the data order's. Every
// trainer seeds it the same way, so the same seed samples the same text on
// the CPU and the GPU, and a checkpoint carries it across trainers.
inline Rng sampling_rng(const TrainerOptions& o) { return rng_make((uint64_t)o.seed ^ 0x5DEECE66Dull); }

// The OpenMP threads the CPU trainers run on (1 without OpenMP).
inline int run_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// ---- -e: where the run starts ---------------------------------------------

// A checkpoint with optimizer state was loaded: the data and the sampling
// stream go on where it stopped, and so does the --time clock (*prior_s).
// Returns the step to start at.
inline int resume_run(const TrainState& st, const TrainerOptions& o, DataLoader* train, Rng* rng, double* prior_s) {
    restore_train_state(st, o.load, train, rng);
    *prior_s = st.elapsed_s;
    printf("resumed from %s at step %d\n", o.load.c_str(), (int)st.step);
    return (int)st.step;
}

// A file with parameters only (no optimizer state): training starts over.
inline void print_params_only(const std::string& path) {
    printf("initialised parameters from %s (no optimizer state: starting at step 0)\n", path.c_str());
}

// A checkpoint at or past -x leaves nothing to train: say so rather than
// write a final checkpoint and report over the one given.
inline void check_steps_left(const TrainerOptions& o, int start_step) {
    if (start_step >= o.max_steps)
        die("checkpoint %s is at step %d, -x is %d: nothing to do", o.load.c_str(), start_step, o.max_steps);
}

// ---- the run ---------------------------------------------------------------

struct Run {
    const TrainerOptions* o = nullptr;
    const Dist* dist = nullptr;
    BatchPlan bp{};
    int start_step = 0;
    double prior_s = 0;          // training time the checkpoint had used (--time)
    double flops_per_step = 0;   // for MFU
    int threads = 0;             // CPU threads; 0: a GPU run, which prints and logs none
    Logger log;                  // <out>/log.jsonl, written by rank 0 only
    TimeBudget budget;
    std::string last_ckpt;       // named when a step goes non-finite
    int last_saved = -1;         // step of the last checkpoint written
    double step_start_ms = 0;
    double total_ms = 0;         // over the timed steps: all but the first, which pays for allocation
    int timed_steps = 0;
};

inline Run run_make(const TrainerOptions& o, const BatchPlan& bp, const Dist& dist, int start_step, double prior_s,
                    double flops_per_step, int threads) {
    Run run;
    run.o = &o;
    run.dist = &dist;
    run.bp = bp;
    run.start_step = start_step;
    run.prior_s = prior_s;
    run.flops_per_step = flops_per_step;
    run.threads = threads;
    run.last_ckpt = o.load.empty() ? "(none)" : o.load;
    return run;
}

// The startup lines after the model's: the data, then the batch, schedule and length of the run.
inline void print_run_plan(const Run& run, const TrainData& d) {
    const TrainerOptions& o = *run.o;
    const BatchPlan& bp = run.bp;
    printf("train: %zu tokens in %zu shard(s), %zu windows | val: %zu tokens, %d batches per eval\n",
           d.train.num_tokens, d.train.paths.size(), d.train.windows.size(), d.val.num_tokens, d.val_batches);
    std::string threads = run.threads > 0 ? " | " + std::to_string(run.threads) + " threads" : "";
    printf("batch: B=%d T=%d, %d micro-step(s) per step = %d tokens | lr %g warmup %d %s to %g | %s%s\n", bp.B, bp.T,
           bp.accum, bp.total_batch, o.sched.lr, o.warmup, o.sched.kind.c_str(), o.sched.lr * o.sched.final_frac,
           steps_text(o).c_str(), threads.c_str());
}

inline void print_mfu_basis(const Run& run) {
    const std::string& basis = run.o->peak_basis;
    printf("MFU is against %.0f GFLOP/s (%s); %.2f GFLOP per step\n", run.o->peak_gflops,
           basis.empty() ? "--peak-gflops" : (basis + ", measured at start; --peak-gflops sets it").c_str(),
           run.flops_per_step / 1e9);
}

// With several ranks: how the batch and the AdamW state are split. `ranks`
// names them ("2 ranks (MPI)", "2 GPUs (NCCL)"), `unit` one of them.
inline void print_data_parallel(const Run& run, size_t num_params, const char* ranks, const char* unit) {
    const Dist& dist = *run.dist;
    if (dist.world <= 1) return;
    printf("data parallel: %s, %d of the B=%d rows each; ZeRO-1: AdamW state %.1f MB per %s (%.1f MB in all)\n",
           ranks, dist_rows(dist, run.bp.B), run.bp.B, 2.0 * dist_shard_size(dist) * sizeof(float) / 1e6, unit,
           2.0 * num_params * sizeof(float) / 1e6);
}

// Opens the log (rank 0 writes everything), records the config with the
// trainer's facts (`shape` "" for none) and starts the --time clock.
inline void run_start(Run* run, const char* trainer, const std::vector<ArgSpec>& specs, const std::string& shape,
                      size_t num_params) {
    if (dist_root(*run->dist)) logger_open(&run->log, run->o->out_dir);
    std::vector<std::pair<std::string, std::string>> facts;
    if (!shape.empty()) facts.push_back({"shape", json_string(shape)});
    facts.push_back({"params", std::to_string(num_params)});
    facts.push_back({"tokens_per_step", std::to_string(run->bp.total_batch)});
    facts.push_back({"start_step", std::to_string(run->start_step)});
    if (run->threads > 0) facts.push_back({"threads", std::to_string(run->threads)});
    facts.push_back({"prior_time_s", fmt("%.3f", run->prior_s)});
    report_config(&run->log, trainer, specs, facts);
    run->budget = time_budget_start(*run->o, run->start_step, run->prior_s);
}

// The loop's bound, asked before every step: -x, or with --time the latest
// estimate of the steps that fit, which the schedule then runs over.
inline int run_total_steps(Run* run, Schedule* sched, int step) {
    return time_budget_steps(&run->budget, sched, step, run->dist);
}

// The cadences of -v, -s and -n (0 = only at the end).
inline bool run_eval_due(const Run& run, int step) { return run.o->val_every > 0 && step % run.o->val_every == 0; }
inline bool run_sample_due(const Run& run, int step) {
    return run.o->sample_every > 0 && step > 0 && step % run.o->sample_every == 0;
}
inline bool run_ckpt_due(const Run& run, int step) { return run.o->ckpt_every > 0 && step % run.o->ckpt_every == 0; }

inline void run_step_start(Run* run) { run->step_start_ms = now_ms(); }

// A non-finite loss or gradient norm ends the run: everything after it would
// be garbage, so it stops and names the checkpoint to go back to.
inline void run_check_finite(const Run& run, int step, const char* what, double v) {
    if (!std::isfinite(v))
        die("step %d: %s is %f; stopping. The last good checkpoint is %s", step + 1, what, v, run.last_ckpt.c_str());
}

// After the update of step `step` (0-based): its time, the average, and the step's line and log record.
inline void run_step_done(Run* run, int step, double loss, float lr, float norm) {
    double ms = now_ms() - run->step_start_ms;
    if (step > run->start_step) {  // the first step pays for allocation
        run->total_ms += ms;
        run->timed_steps++;
    }
    double avg_ms = run->timed_steps ? run->total_ms / run->timed_steps : ms;
    report_step(&run->log, StepStats{step + 1, run->budget.total, loss, lr, norm, ms, avg_ms, run->bp.total_batch,
                                     run->flops_per_step, run->o->peak_gflops, time_budget_elapsed(run->budget)});
}

// <out>/PREFIX_NNNNNN.bin
inline std::string run_file(const Run& run, const char* prefix, int step) {
    char name[64];
    snprintf(name, sizeof name, "/%s_%06d.bin", prefix, step);
    return run.o->out_dir + name;
}

// What a checkpoint records besides the model: the step, the data position,
// the sampling stream, and the training time of a --time run.
inline TrainState run_train_state(const Run& run, int step, const Rng& rng, const DataLoader& train) {
    return make_train_state(step, rng, train, time_budget_checkpoint_s(run.budget));
}

// After a checkpoint was written: it is the one to go back to, and the report
// is redrawn so it is never older than the last checkpoint. `note` follows the path.
inline void run_saved(Run* run, int step, const std::string& path, const std::string& note = "") {
    run->last_ckpt = path;
    run->last_saved = step;
    if (dist_root(*run->dist)) report_write(run->o->out_dir);
    printf("checkpoint: %s%s\n", path.c_str(), note.c_str());
}

// After the final evaluation and sample: the report, the averages, and with
// several ranks the time they spent talking (`comm` says on what).
inline void run_finish(Run* run, int step, const char* comm, bool with_mfu) {
    const TrainerOptions& o = *run->o;
    const Dist& dist = *run->dist;
    if (dist_root(dist)) report_write(o.out_dir);
    printf("report: %s/report.html\n", o.out_dir.c_str());
    if (run->timed_steps) {
        double avg_ms = run->total_ms / run->timed_steps;
        std::string mfu = with_mfu ? fmt(", MFU %.1f%%", 100.0 * run->flops_per_step / (avg_ms / 1e3) / (o.peak_gflops * 1e9)) : "";
        printf("done: %d steps, average %.0f ms/step, %.0f tok/s%s\n", step - run->start_step, avg_ms,
               run->bp.total_batch / (avg_ms / 1e3), mfu.c_str());
    }
    if (dist.world > 1 && step > run->start_step)  // per step run here: -x is no step count under --time
        printf("communication: %.1f ms/step on rank 0 (%s)\n", dist.comm_ms / (step - run->start_step), comm);
    logger_close(&run->log);
}
