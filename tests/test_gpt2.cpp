// tests/test_gpt2.cpp: the GPT-2 trainer against the PyTorch reference, llm.c
// model files both ways, an overfitting check, exact resume, and the errors on
// bad input. The model code is train_gpt2.cpp itself, included without its
// main (as llm.c's test_gpt2.c does), so the test exercises exactly what ships.
#define TRAIN_GPT2_NO_MAIN
// the trainer's helpers for main (schedule, checkpoints, sampling) are static and unused here
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../train_gpt2.cpp"
#pragma GCC diagnostic pop

#include <catch2/catch.hpp>

#include "../common/shard.h"
#include "fixture.h"
#include "test_util.h"

// Written by dev/reference/gpt2_reference.py (PyTorch, float64): the fixture,
// and its initial parameters as an llm.c model file.
static const char* FIXTURE = "tests/fixtures/gpt2_tiny.bin";
static const char* FIXTURE_LLMC = "tests/fixtures/gpt2_tiny_llmc.bin";

// The fixture names the 16 tensors as llm.c's C code does, in the same order as
// our blob, so tensor i of the fixture is tensor i of ParameterTensors.
static const char* const PARAM_NAMES[NUM_PARAM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

struct GPT2Fixture {
    Fixture fx;
    GPT2Config config;
    int B, T;
    float lr;
    AdamWConfig opt;
    int steps;
};

// "config" is [V, Vp, C, L, NH, maxT, B, T]; "hparams" is
// [lr, beta1, beta2, eps, weight_decay, max_norm, norm_eps, n_steps].
static GPT2Fixture load_gpt2_fixture() {
    GPT2Fixture g;
    g.fx = load_fixture(FIXTURE);
    const std::vector<int>& c = g.fx.get("config").i;
    const std::vector<float>& hp = g.fx.get("hparams").f;
    REQUIRE(c.size() == 8);
    REQUIRE(hp.size() == 8);
    g.config.V = c[0]; g.config.Vp = c[1]; g.config.C = c[2]; g.config.L = c[3]; g.config.NH = c[4];
    g.config.maxT = c[5];
    g.B = c[6];
    g.T = c[7];
    g.lr = hp[0];
    g.opt.beta1 = hp[1]; g.opt.beta2 = hp[2]; g.opt.eps = hp[3]; g.opt.weight_decay = hp[4]; g.opt.grad_clip = hp[5];
    g.config.norm_eps = hp[6];
    g.steps = (int)hp[7];
    return g;
}

// Tensor i of a parameter-shaped blob (params, grads) as a vector.
static std::vector<float> tensor(const GPT2& m, const float* blob, int i) {
    size_t off = 0;
    for (int k = 0; k < i; k++) off += m.param_sizes[k];
    return std::vector<float>(blob + off, blob + off + m.param_sizes[i]);
}

// Largest |a − b| / (atol + rtol·|b|) over a tensor: ≤ 1 means within tolerance.
static double worst_ratio(const std::vector<float>& a, const std::vector<float>& b, double atol, double rtol) {
    REQUIRE(a.size() == b.size());
    double worst = 0.0;
    for (size_t i = 0; i < a.size(); i++)
        worst = std::max(worst, fabs((double)a[i] - b[i]) / (atol + rtol * fabs((double)b[i])));
    return worst;
}

static double max_abs(const std::vector<float>& v) {
    double m = 0.0;
    for (float x : v) m = std::max(m, fabs((double)x));
    return m;
}

// ----------------------------------------------------------------------------
// The fixture agrees with itself, so a failure below points at the model.

TEST_CASE("gpt2 fixture: shapes, loss from its logits, norm of its gradients", "[gpt2][fixture]") {
    GPT2Fixture g = load_gpt2_fixture();
    const GPT2Config& c = g.config;
    CHECK(c.Vp == padded_vocab(c.V));
    CHECK(c.Vp > c.V);     // padded rows exist ...
    CHECK(g.T < c.maxT);   // ... and so do wpe rows the batch never reads
    GPT2 model;
    gpt2_build(&model, c);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++)
        for (const char* prefix : {"params.", "grads.", "params_after."}) {
            INFO(prefix << PARAM_NAMES[i]);
            CHECK(g.fx.get(std::string(prefix) + PARAM_NAMES[i]).numel() == model.param_sizes[i]);
        }
    const std::vector<float>& logits = g.fx.get("logits").f;
    const std::vector<int>& targets = g.fx.get("targets").i;
    REQUIRE(logits.size() == (size_t)g.B * g.T * c.V);
    double total = 0.0;
    for (int bt = 0; bt < g.B * g.T; bt++) {
        const float* row = &logits[(size_t)bt * c.V];
        double maxv = *std::max_element(row, row + c.V), sum = 0.0;
        for (int v = 0; v < c.V; v++) sum += exp(row[v] - maxv);
        total += maxv + log(sum) - row[targets[bt]];
    }
    CHECK(fabs(total / (g.B * g.T) - g.fx.get("loss").f[0]) <= 1e-5 * g.fx.get("loss").f[0]);
    double sq = 0.0;
    for (const char* name : PARAM_NAMES)
        for (float x : g.fx.get(std::string("grads.") + name).f) sq += (double)x * x;
    CHECK(fabs(sqrt(sq) - g.fx.get("grad_norms").f[0]) <= 1e-5 * g.fx.get("grad_norms").f[0]);
    gpt2_free(&model);
}

// ----------------------------------------------------------------------------
// The model against the PyTorch reference, starting from the llm.c model file

TEST_CASE("gpt2 matches the PyTorch reference: logits, loss, every gradient, 3 AdamW steps", "[gpt2][reference]") {
    GPT2Fixture g = load_gpt2_fixture();
    const GPT2Config& c = g.config;
    const int B = g.B, T = g.T;

    // the llm.c file the reference wrote holds the fixture's initial parameters, bit for bit
    GPT2Config file = gpt2_read_file_config(FIXTURE_LLMC);
    CHECK(file.V == c.V);
    CHECK(file.Vp == c.Vp);
    CHECK(file.C == c.C);
    CHECK(file.L == c.L);
    CHECK(file.NH == c.NH);
    CHECK(file.maxT == c.maxT);
    GPT2 model;
    gpt2_build(&model, c);
    TrainState st;
    CHECK_FALSE(gpt2_load(&model, FIXTURE_LLMC, &st));
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        INFO("params." << PARAM_NAMES[i] << " from the llm.c file");
        CHECK(tensor(model, model.params_memory, i) == g.fx.get(std::string("params.") + PARAM_NAMES[i]).f);
    }
    const std::vector<int>& tokens = g.fx.get("tokens").i;
    const std::vector<int>& targets = g.fx.get("targets").i;

    // logits over the real vocabulary: fp32 against a float64 reference, values O(1)
    gpt2_forward(&model, tokens.data(), nullptr, B, T);
    std::vector<float> logits(model.acts.logits, model.acts.logits + (size_t)B * T * c.V);
    double r = worst_ratio(logits, g.fx.get("logits").f, 1e-5, 1e-5);
    INFO("logits: worst |error| / (1e-5 + 1e-5·|ref|) = " << r);
    CHECK(r <= 1.0);

    float loss = gpt2_forward(&model, tokens.data(), targets.data(), B, T);
    float ref_loss = g.fx.get("loss").f[0];
    INFO("loss " << loss << " vs reference " << ref_loss);
    CHECK(fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss));

    // every gradient: 1e-4 relative, with an absolute floor of 1e-4 of the
    // tensor's largest gradient (entries near zero have no relative precision)
    gpt2_zero_grad(&model);
    gpt2_backward(&model, B, T, 1.0f);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        std::vector<float> got = tensor(model, model.grads_memory, i);
        const std::vector<float>& want = g.fx.get(std::string("grads.") + PARAM_NAMES[i]).f;
        double rr = worst_ratio(got, want, 1e-4 * max_abs(want), 1e-4);
        INFO("grad " << PARAM_NAMES[i] << ": worst ratio " << rr);
        CHECK(rr <= 1.0);
    }
    // the padded vocabulary rows and the wpe rows past T get exactly nothing
    std::vector<float> dwte = tensor(model, model.grads_memory, 0), dwpe = tensor(model, model.grads_memory, 1);
    CHECK(std::all_of(dwte.begin() + (size_t)c.V * c.C, dwte.end(), [](float x) { return x == 0.0f; }));
    CHECK(std::all_of(dwpe.begin() + (size_t)T * c.C, dwpe.end(), [](float x) { return x == 0.0f; }));

    // AdamW with clipping (steps 0 and 1 clip, step 2 does not), on the same batch
    const std::vector<float>& ref_losses = g.fx.get("losses").f;
    const std::vector<float>& ref_norms = g.fx.get("grad_norms").f;
    for (int s = 0; s < g.steps; s++) {
        float l = gpt2_forward(&model, tokens.data(), targets.data(), B, T);
        gpt2_zero_grad(&model);
        gpt2_backward(&model, B, T, 1.0f);
        float norm = gpt2_update(&model, g.lr, g.opt);
        INFO("step " << s + 1 << ": loss " << l << " vs " << ref_losses[s] << ", norm " << norm << " vs " << ref_norms[s]);
        CHECK(fabs(l - ref_losses[s]) <= 1e-5 * fabs(ref_losses[s]));
        CHECK(fabs(norm - ref_norms[s]) <= 1e-4 * fabs(ref_norms[s]));
    }
    // each step moves a parameter by about lr = 1e-2; compared at 1e-5 absolute
    // and relative, including the padded rows, which only weight decay moves.
    // Except the key bias (qkvb[l][C:2C]): adding b to every key adds q·b to
    // every score of a softmax row, which changes nothing, so its gradient is 0
    // in exact arithmetic: ~1e-17 in the float64 reference, ~1e-9 of rounding
    // in fp32. Adam divides by sqrt(v) ~ |g|, so it turns either into moves of
    // up to ~lr that no two implementations share; llm.c and PyTorch in fp32
    // behave the same. Those entries are checked against that bound instead.
    std::vector<bool> key_bias(model.param_sizes[5], false);
    for (int l = 0; l < c.L; l++)
        for (int i = c.C; i < 2 * c.C; i++) key_bias[(size_t)l * 3 * c.C + i] = true;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        std::vector<float> got = tensor(model, model.params_memory, i);
        std::vector<float> want = g.fx.get(std::string("params_after.") + PARAM_NAMES[i]).f;
        if (i == 5) {
            const std::vector<float>& before = g.fx.get("params.qkvb").f;
            const std::vector<float>& grad = g.fx.get("grads.qkvb").f;
            double moved = 0.0, ref_grad = 0.0;
            for (size_t k = 0; k < got.size(); k++)
                if (key_bias[k]) {
                    moved = std::max(moved, fabs((double)got[k] - before[k]));
                    ref_grad = std::max(ref_grad, fabs((double)grad[k]));
                    got[k] = want[k] = 0.0f;  // out of the comparison below
                }
            INFO("key bias: reference gradient at most " << ref_grad << ", moved at most " << moved);
            CHECK(ref_grad < 1e-12);
            CHECK(moved <= g.steps * g.lr);
        }
        double rr = worst_ratio(got, want, 1e-5, 1e-5);
        INFO("params after " << g.steps << " steps, " << PARAM_NAMES[i] << ": worst ratio " << rr);
        CHECK(rr <= 1.0);
    }
    gpt2_free(&model);
}

// ----------------------------------------------------------------------------
// llm.c model files

TEST_CASE("llm.c model file: load and save gives the same bytes", "[gpt2][llmc]") {
    TempDir tmp;
    GPT2 model;
    gpt2_build(&model, gpt2_read_file_config(FIXTURE_LLMC));
    TrainState st;
    gpt2_load(&model, FIXTURE_LLMC, &st);
    gpt2_save_llmc(&model, tmp / "saved.bin");
    CHECK(read_all_bytes(tmp / "saved.bin") == read_all_bytes(FIXTURE_LLMC));
    gpt2_free(&model);
}

TEST_CASE("llm.c header: the preset's file has llm.c's GPT-2 124M header", "[gpt2][llmc]") {
    const GPT2Config& c = MODEL_PRESETS[0].config;
    REQUIRE(std::string(MODEL_PRESETS[0].name) == "gpt2-124M");
    size_t sizes[NUM_PARAM_TENSORS], n = 0;
    param_sizes(sizes, c);
    for (size_t s : sizes) n += s;
    CHECK(n == 124475904);  // llm.c's train_gpt2.c prints "num_parameters: 124475904"
    LlmcShape s = llmc_shape(c);
    CHECK(s.maxT == 1024);
    CHECK(s.V == 50257);
    CHECK(s.Vp == 50304);
    CHECK(s.L == 12);
    CHECK(s.NH == 12);
    CHECK(s.C == 768);
}

// ----------------------------------------------------------------------------
// Overfitting: one repeated batch, a tiny model, loss must fall close to zero.

TEST_CASE("gpt2 overfits one repeated batch, with fp32 and with bf16 matmuls", "[gpt2][overfit]") {
    // one thread: this checks learning, not threading (the reference test and the
    // binary runs use every thread), and 300 steps of a tiny model are mostly
    // OpenMP barriers, which crawl on a shared machine
#ifdef _OPENMP
    int prev_threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    GPT2Config c;
    c.V = 40; c.Vp = padded_vocab(40); c.C = 32; c.L = 2; c.NH = 4; c.maxT = 16;
    // and the same with bf16 matmuls (--bf16), which must learn it as well
    for (bool bf16 : {false, true}) {
        GPT2 model;
        gpt2_build(&model, c);
        gpt2_init_params(&model, 42);
        model.bf16 = bf16;
        int B = 4, T = 16;
        Rng rng = rng_make(7);
        std::vector<int> tokens(B * T), targets(B * T);
        for (int i = 0; i < B * T; i++) { tokens[i] = (int)rng_below(&rng, c.V); targets[i] = (int)rng_below(&rng, c.V); }
        AdamWConfig opt;
        opt.weight_decay = 0.0f;
        float first = 0.0f, last = 0.0f;
        for (int step = 0; step < 300; step++) {
            float loss = gpt2_forward(&model, tokens.data(), targets.data(), B, T);
            if (step == 0) first = loss;
            last = loss;
            gpt2_zero_grad(&model);
            gpt2_backward(&model, B, T, 1.0f);
            gpt2_update(&model, 1e-2f, opt);
        }
        INFO((bf16 ? "bf16" : "fp32") << " loss " << first << " -> " << last);
        CHECK(first > 3.0f);  // ~ln 40 = 3.69 at init
        CHECK(last < 0.05f);
        gpt2_free(&model);
    }
#ifdef _OPENMP
    omp_set_num_threads(prev_threads);
#endif
}

// ----------------------------------------------------------------------------
// Running the real binary

// Waiting OpenMP threads sleep instead of spinning: on a shared machine with
// more runnable threads than cores, a spinning waiter holds the core its peer
// needs, and a run of these tiny models goes from ~0.1 s to ~10 s. Results do
// not depend on it.
static const std::string TRAINER = "OMP_WAIT_POLICY=passive ./train_gpt2";

static const char* TINY = " --model gpt2-tiny -b 4 -t 16";  // V 500 (padded 512), C 64, L 2, NH 4, seq-len 64

// A shard of `n` tokens that follow a learnable pattern.
static void write_pattern_shard(const std::string& path, size_t n, int vocab) {
    std::vector<uint32_t> tok(n);
    for (size_t i = 0; i < n; i++) tok[i] = (uint32_t)((i * 7 + i / 13) % vocab);
    write_shard(path, tok, vocab);
}

struct TinyData {
    TempDir dir;
    std::string train, val;
    explicit TinyData(int vocab = 500) {
        train = dir / "train_000000.bin";
        val = dir / "val_000000.bin";
        write_pattern_shard(train, 4000, vocab);
        write_pattern_shard(val, 1000, vocab);
    }
    std::string data_flags() const { return " -i " + train + " -j " + val + " -z \"\""; }
    std::string flags() const { return std::string(TINY) + data_flags(); }
};

// Runs the trainer expecting failure; returns its output.
static std::string expect_failure(const std::string& args) {
    RunResult r = run_command(TRAINER + args);
    INFO(r.output);
    CHECK(r.status == 1);
    return r.output;
}

static bool has(const std::string& out, const std::string& text) {
    INFO("looking for: " << text << "\nin: " << out);
    return out.find(text) != std::string::npos;
}

TEST_CASE("the binary moves a model both ways between llm.c's file and ours", "[gpt2][llmc][cli]") {
    TinyData data(100);  // the fixture's vocabulary
    TempDir out;
    SECTION("an llm.c file read and written with lr 0 comes back byte for byte") {
        RunResult r = run_command(TRAINER + " -e " + std::string(FIXTURE_LLMC) + data.data_flags() +
                                  " -b 2 -t 16 -x 1 -l 0 -o " + out.path);
        INFO(r.output);
        REQUIRE(r.status == 0);
        CHECK(has(r.output, "initialised parameters from tests/fixtures/gpt2_tiny_llmc.bin"));
        CHECK(read_all_bytes(out / "model_000001.bin") == read_all_bytes(FIXTURE_LLMC));
    }
    SECTION("after training, model_N.bin holds exactly the parameters of ckpt_N.bin") {
        RunResult r = run_command(TRAINER + " -e " + std::string(FIXTURE_LLMC) + data.data_flags() +
                                  " -b 2 -t 16 -x 2 -l 1e-3 -o " + out.path);
        INFO(r.output);
        REQUIRE(r.status == 0);
        std::vector<char> llmc = read_all_bytes(out / "model_000002.bin"), ckpt = read_all_bytes(out / "ckpt_000002.bin");
        size_t llmc_head = LLMC_MODEL_HEADER_INTS * sizeof(int), ckpt_head = CKPT_HEADER_INTS * sizeof(int) + 8;
        size_t n = llmc.size() - llmc_head;
        REQUIRE(ckpt.size() > ckpt_head + n);
        CHECK(std::equal(llmc.begin() + llmc_head, llmc.end(), ckpt.begin() + ckpt_head));
        CHECK(llmc != read_all_bytes(FIXTURE_LLMC));  // and training did change them
        // the written llm.c file is a valid starting point again
        RunResult again = run_command(TRAINER + " -e " + (out / "model_000002.bin") + data.data_flags() +
                                      " -b 2 -t 16 -x 1 -o " + (out / "again"));
        INFO(again.output);
        CHECK(again.status == 0);
    }
}

TEST_CASE("gpt2 resume: N steps straight equal N/2 steps, checkpoint, resume N/2 steps, to the bit",
          "[gpt2][resume]") {
    TinyData data;
    TempDir a, b;
    // -d 128 = 2 micro-batches per step, so accumulation is covered too
    std::string common = TRAINER + data.flags() + " -b 4 -t 16 -d 128 -x 6 -v 2 -m 2 -l 3e-3 -u 2 --seed 5";
    RunResult straight = run_command(common + " -n 3 -o " + a.path);
    INFO(straight.output);
    REQUIRE(straight.status == 0);
    RunResult resumed = run_command(common + " -e " + (a / "ckpt_000003.bin") + " -o " + b.path);
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(has(resumed.output, "resumed from"));
    CHECK(read_all_bytes(a / "ckpt_000006.bin") == read_all_bytes(b / "ckpt_000006.bin"));
    CHECK(read_all_bytes(a / "model_000006.bin") == read_all_bytes(b / "model_000006.bin"));
}

// llm.c's gpt2_tokenizer.bin (version 2), written from GPT-2's vocabulary.
static void write_llmc_tokenizer(const std::string& path, const Tokenizer& tok) {
    std::vector<char> bytes(256 * 4, 0);
    uint32_t h[4] = {(uint32_t)LLMC_TOKENIZER_MAGIC, 2, (uint32_t)tok.vocab_size, (uint32_t)tok.eot_id};
    memcpy(bytes.data(), h, sizeof h);
    for (const std::string& t : tok.tokens) {
        REQUIRE((t.size() >= 1 && t.size() <= 255));
        bytes.push_back((char)(uint8_t)t.size());
        bytes.insert(bytes.end(), t.begin(), t.end());
    }
    write_all_bytes(path, bytes.data(), bytes.size());
}

TEST_CASE("samples and bits/byte with GPT-2's tokenizer, from encoder.json or llm.c's gpt2_tokenizer.bin",
          "[gpt2][tokenizer]") {
    const std::string dir = "../shared/data/gpt2";
    Tokenizer gpt2;
    std::string err;
    REQUIRE(tokenizer_load_gpt2_dir(&gpt2, dir, &err));
    REQUIRE(gpt2.vocab_size == 50257);
    TinyData data(50257);
    TempDir tmp;
    write_llmc_tokenizer(tmp / "gpt2_tokenizer.bin", gpt2);
    // GPT-2's vocabulary on a model just big enough to run it
    std::string model = " --vocab 50257 --dim 16 --layers 1 --heads 2 --seq-len 16 -b 2 -t 16 -x 1 -m 1 -s 0 -g 8";
    std::string data_flags = " -i " + data.train + " -j " + data.val;
    for (const std::string& z : {dir, tmp / "gpt2_tokenizer.bin"}) {
        RunResult r = run_command(TRAINER + model + data_flags + " -z " + z + " -o " + (tmp / "out"));
        INFO("-z " << z << "\n" << r.output);
        CHECK(r.status == 0);
        CHECK(has(r.output, "val bits/byte"));
        CHECK(has(r.output, "--- sample at step 1"));
    }
}

TEST_CASE("gpt2 --help lists the model flags and exits 0", "[gpt2][cli]") {
    RunResult r = run_command(TRAINER + " --help");
    CHECK(r.status == 0);
    for (const char* flag : {"-i, --train", "-e, --load", "llm.c model file", "--model", "gpt2-124M", "gpt2-tiny",
                             "--vocab", "--dim", "--layers", "--heads", "--seq-len"})
        CHECK(has(r.output, flag));
}

TEST_CASE("gpt2 bad input: clear message and exit status 1", "[gpt2][errors]") {
    TinyData data;
    TempDir tmp;
    std::vector<char> model = read_all_bytes(FIXTURE_LLMC);
    TinyData data100(100);  // the fixture's vocabulary
    std::string run100 = data100.data_flags() + " -b 2 -t 16 -x 1 -o " + (tmp / "out");
    auto write_model = [&](const std::vector<char>& bytes) {
        write_all_bytes(tmp / "model.bin", bytes.data(), bytes.size());
        return " -e " + (tmp / "model.bin");
    };
    auto set_int = [](std::vector<char> bytes, int index, int value) {
        memcpy(bytes.data() + 4 * index, &value, 4);
        return bytes;
    };

    SECTION("model file with a bad magic") {
        std::string out = expect_failure(write_model(set_int(model, 0, 12345)) + run100);
        CHECK(has(out, "model.bin: bad magic 12345, expected 20240326 (llm.c GPT-2 model file) or 20261126"));
    }
    SECTION("model file of an unknown version") {
        std::string out = expect_failure(write_model(set_int(model, 1, 7)) + run100);
        CHECK(has(out, "model.bin: unknown llm.c model version 7, expected 3 (fp32)"));
    }
    SECTION("llm.c's bf16 model file") {
        std::string out = expect_failure(write_model(set_int(model, 1, 5)) + run100);
        CHECK(has(out, "model.bin: llm.c model version 5 holds bf16 parameters"));
    }
    SECTION("llm.c's older model file without the padded vocabulary") {
        std::string out = expect_failure(write_model(set_int(model, 1, 1)) + run100);
        CHECK(has(out, "model.bin: llm.c model version 1 is llm.c's older format"));
    }
    SECTION("model file whose header implies terabytes: refused before allocating") {
        std::string out = expect_failure(write_model(set_int(model, 6, 1 << 20)) + run100);  // C = 1M
        CHECK(has(out, "model.bin: file is truncated: 151360 bytes, expected"));
    }
    SECTION("truncated model file") {
        std::vector<char> cut(model.begin(), model.end() - 40);
        std::string out = expect_failure(write_model(cut) + run100);
        CHECK(has(out, "model.bin: file is truncated"));
    }
    SECTION("model file whose heads do not divide its dim") {
        std::string out = expect_failure(write_model(set_int(model, 5, 5)) + run100);
        CHECK(has(out, "model.bin: dim 36 is not divisible by heads 5"));
    }
    SECTION("a Llama checkpoint") {
        std::vector<char> ck(CKPT_HEADER_INTS * 4, 0);
        ck = set_int(set_int(set_int(ck, 0, CKPT_MAGIC), 1, CKPT_VERSION), 2, CKPT_KIND_LLAMA);
        std::string out = expect_failure(write_model(ck) + run100);
        CHECK(has(out, "model.bin: checkpoint is for model kind 1 (llama), this trainer is kind 2"));
    }
    SECTION("shape flags that disagree with the model file") {
        std::string out = expect_failure(" --dim 64 -e " + std::string(FIXTURE_LLMC) + run100);
        CHECK(has(out, "model file tests/fixtures/gpt2_tiny_llmc.bin has dim=36 but the flags ask for dim=64"));
    }
    SECTION("sequence longer than the model file's seq-len") {
        std::string out = expect_failure(" -e " + std::string(FIXTURE_LLMC) + data100.data_flags() + " -t 32 -o " + (tmp / "out"));
        CHECK(has(out, "gpt2_tiny_llmc.bin: the model's longest sequence (seq-len) is 24, -t asks for 32"));
    }
    SECTION("sequence longer than the preset's seq-len") {
        std::string out = expect_failure(data.flags() + " -t 65 -o " + (tmp / "out"));
        CHECK(has(out, "-t 65 exceeds the model's seq-len 64"));
    }
    SECTION("tokenizer larger than the model's vocab") {
        std::string out = expect_failure(std::string(TINY) + " -i " + data.train + " -j " + data.val +
                                         " -z ../shared/data/gpt2 -o " + (tmp / "out"));
        CHECK(has(out, "tokenizer ../shared/data/gpt2 has 50257 tokens but the model's vocab is 500"));
    }
    SECTION("tokenizer smaller than the model's vocab") {
        Tokenizer tok;
        std::string err;
        ChunkCounts counts;
        std::string text = "the cat sat on the mat, the dog sat on the log. ";
        for (int i = 0; i < 4; i++) text += text;
        count_chunks(&counts, {text});
        TrainOptions topt;
        topt.vocab_size = 270;
        REQUIRE(tokenizer_train(&tok, counts, topt, &err));
        tokenizer_save(tok, tmp / "small_tok.bin");
        std::string out = expect_failure(std::string(TINY) + " -i " + data.train + " -j " + data.val + " -z " +
                                         (tmp / "small_tok.bin") + " -o " + (tmp / "out"));
        CHECK(has(out, "small_tok.bin has " + std::to_string(tok.vocab_size) +
                           " tokens but the model's vocab is 500; they must be equal"));
    }
    SECTION("shard with a bad magic") {
        std::vector<char> shard = set_int(read_all_bytes(data.train), 0, 20240326);
        write_all_bytes(tmp / "bad.bin", shard.data(), shard.size());
        std::string out = expect_failure(std::string(TINY) + " -i " + (tmp / "bad.bin") + " -j " + data.val +
                                         " -z \"\" -o " + (tmp / "out"));
        CHECK(has(out, "bad.bin: bad magic 20240326, expected 20240520"));
    }
    SECTION("shard token beyond the model's vocab") {
        std::vector<uint32_t> tok(2000, 3);
        tok[1234] = 500;
        write_shard(tmp / "bad.bin", tok, 65536);
        std::string out = expect_failure(std::string(TINY) + " -i " + (tmp / "bad.bin") + " -j " + data.val +
                                         " -z \"\" -o " + (tmp / "out"));
        CHECK(has(out, "token id 500 at position 1234 is >= vocab size 500"));
    }
    SECTION("unknown preset") {
        CHECK(has(expect_failure(" --model gpt2-xl"), "unknown --model 'gpt2-xl'; presets: gpt2-124M gpt2-tiny"));
    }
}
