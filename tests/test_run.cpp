// tests/test_run.cpp: common/run.h, the run bookkeeping the three trainers'
// mains share: the eval/sample/checkpoint cadences, the step-time average
// that leaves the first step out, the config record of the log, the
// checkpoint a non-finite step names, and both CPU trainers dying the same way.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "../common/run.h"
#include "test_util.h"

using Catch::Matchers::Contains;

static std::string read_text(const std::string& path) {
    std::vector<char> bytes = read_all_bytes(path);
    return std::string(bytes.begin(), bytes.end());
}

// A run of B=4, T=16 over two micro-batches, writing into `out`.
static TrainerOptions options_into(const std::string& out) {
    TrainerOptions o;
    o.out_dir = out;
    o.max_steps = o.sched.max_steps = 8;
    return o;
}
static const BatchPlan PLAN = {4, 16, 128, 2};

TEST_CASE("cadences: eval at 0 and every -v, samples from -s on, checkpoints every -n; 0 = only at the end", "[run]") {
    TrainerOptions o;
    o.val_every = 10;
    o.sample_every = 5;
    o.ckpt_every = 4;
    Dist dist;
    Run run = run_make(o, PLAN, dist, 0, 0.0, 1e6, 1);
    CHECK(run_eval_due(run, 0));
    CHECK(run_eval_due(run, 20));
    CHECK_FALSE(run_eval_due(run, 5));
    CHECK_FALSE(run_sample_due(run, 0));  // an untrained model's sample says nothing
    CHECK(run_sample_due(run, 5));
    CHECK_FALSE(run_sample_due(run, 6));
    CHECK(run_ckpt_due(run, 8));
    CHECK_FALSE(run_ckpt_due(run, 6));
    o.val_every = o.sample_every = o.ckpt_every = 0;
    for (int step = 0; step < 30; step++) {
        CHECK_FALSE(run_eval_due(run, step));
        CHECK_FALSE(run_sample_due(run, step));
        CHECK_FALSE(run_ckpt_due(run, step));
    }
}

TEST_CASE("the config record keeps the trainers' fact order; shape and threads only where given", "[run]") {
    TempDir dir;
    Dist dist;
    std::vector<ArgSpec> specs;
    TrainerOptions o = options_into(dir.path);
    add_train_flags(specs, &o);

    Run cpu = run_make(o, PLAN, dist, 3, 1.5, 1e6, 2);
    run_start(&cpu, "train_x", specs, "V=64 C=32", 1234);
    logger_close(&cpu.log);
    std::string cpu_line = read_text(dir / "log.jsonl");
    CHECK_THAT(cpu_line, Contains("{\"config\": {\"trainer\": \"train_x\", \"shape\": \"V=64 C=32\", \"params\": 1234, "
                                  "\"tokens_per_step\": 128, \"start_step\": 3, \"threads\": 2, \"prior_time_s\": 1.500, "));

    TempDir dir2;
    o.out_dir = dir2.path;
    Run gpu = run_make(o, PLAN, dist, 0, 0.0, 1e6, 0);  // the GPU trainer: no shape, no threads
    run_start(&gpu, "train_y", specs, "", 99);
    logger_close(&gpu.log);
    CHECK_THAT(read_text(dir2 / "log.jsonl"), Contains("{\"config\": {\"trainer\": \"train_y\", \"params\": 99, "
                                                       "\"tokens_per_step\": 128, \"start_step\": 0, \"prior_time_s\": 0.000, "));
}

TEST_CASE("the step-time average leaves out the run's first step; one log record per step", "[run]") {
    TempDir dir;
    Dist dist;
    std::vector<ArgSpec> specs;
    TrainerOptions o = options_into(dir.path);
    Schedule sched = o.sched;
    Run run = run_make(o, PLAN, dist, 5, 0.0, 1e6, 1);  // resumed at step 5: that is its first step
    run_start(&run, "train_x", specs, "", 10);
    for (int step = 5; step < 8; step++) {
        REQUIRE(step < run_total_steps(&run, &sched, step));
        run_step_start(&run);
        run_step_done(&run, step, 2.5, 1e-3f, 0.5f);
        CHECK(run.timed_steps == step - 5);
    }
    CHECK(run_total_steps(&run, &sched, 8) == 8);  // -x ends the loop
    logger_close(&run.log);
    std::string log = read_text(dir / "log.jsonl");
    CHECK_THAT(log, Contains("{\"step\": 6, \"loss\": 2.500000"));
    CHECK_THAT(log, Contains("{\"step\": 8, \"loss\": 2.500000"));
    CHECK_THAT(log, !Contains("{\"step\": 9,"));
}

TEST_CASE("a checkpoint written becomes the one a non-finite step names", "[run]") {
    TempDir dir;
    Dist dist;
    std::vector<ArgSpec> specs;
    TrainerOptions o = options_into(dir.path);
    Run run = run_make(o, PLAN, dist, 0, 0.0, 1e6, 1);
    CHECK(run.last_ckpt == "(none)");
    o.load = "old/ckpt_000004.bin";
    CHECK(run_make(o, PLAN, dist, 4, 0.0, 1e6, 1).last_ckpt == "old/ckpt_000004.bin");

    run_start(&run, "train_x", specs, "", 10);
    std::string path = run_file(run, "ckpt", 12);
    CHECK(path == dir / "ckpt_000012.bin");
    run_saved(&run, 12, path);
    CHECK(run.last_ckpt == path);
    CHECK(run.last_saved == 12);
    CHECK(path_exists(dir / "report.html"));  // redrawn with every checkpoint
    logger_close(&run.log);
}

TEST_CASE("both CPU trainers stop on a non-finite step and name the last checkpoint written", "[run]") {
    PatternShards data(64);
    std::string flags = data.flags() + " -b 4 -t 16 -z \"\" -x 5 -v 0 -n 1 --grad-clip 0 -l 1e30";  // step 1's update overflows the weights
    const std::string trainers[] = {
        "./train_llama --vocab 64 --dim 32 --layers 2 --heads 4 --kv-heads 2 --hidden 48 --seq-len 16",
        "./train_gpt2 --model gpt2-tiny --vocab 64"};
    for (const std::string& trainer : trainers) {
        TempDir out;
        RunResult r = run_command("OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 " + trainer + flags + " -o " + out.path);
        INFO(r.output);
        CHECK(r.status == 1);
        CHECK_THAT(r.output, Contains("error: step 2: "));
        CHECK_THAT(r.output, Contains("; stopping. The last good checkpoint is " + (out / "ckpt_000001.bin")));
    }
}
