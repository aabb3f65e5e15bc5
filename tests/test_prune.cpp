// Tests of sparse training by gradual magnitude pruning (common/prune.h,
// --sparsity in train_llama and train_gpt2): the schedule, the pruning
// event itself, the update hooks, the checkpoint's mask section, and the
// real binaries: exactly the target fraction zero at the end, pruned weights
// and moments held at zero, exact resume, bad flags and corrupt masks.
#include <catch2/catch.hpp>

#include "../common/shard.h"
#include "../export/models.h"
#include "test_util.h"

static bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// ----------------------------------------------------------------------------
// The schedule and the event

TEST_CASE("the cubic schedule s(t) = S(1 - (1 - (t - start)/(end - start))^3) at given steps", "[prune]") {
    PruneConfig c;
    c.sparsity = 0.8f;
    c.start = 10;
    c.end = 110;
    c.every = 25;
    CHECK(prune_target(c, 0) == 0.0);
    CHECK(prune_target(c, 10) == 0.0);
    const double S = c.sparsity;  // 0.8 as a float
    CHECK(prune_target(c, 35) == Approx(S * (1 - 0.75 * 0.75 * 0.75)).epsilon(1e-12));  // 0.4625
    CHECK(prune_target(c, 60) == Approx(S * 0.875).epsilon(1e-12));                     // 0.7
    CHECK(prune_target(c, 109) == Approx(S * (1 - 1e-6)).epsilon(1e-12));
    CHECK(prune_target(c, 110) == S);
    CHECK(prune_target(c, 5000) == S);
    // events every 25 steps from start, and at end even off the grid
    std::vector<int> events;
    for (int t = 0; t <= 200; t++)
        if (prune_is_event(c, t)) events.push_back(t);
    CHECK(events == std::vector<int>{10, 35, 60, 85, 110});
    c.every = 30;
    events.clear();
    for (int t = 0; t <= 200; t++)
        if (prune_is_event(c, t)) events.push_back(t);
    CHECK(events == std::vector<int>{10, 40, 70, 100, 110});
    // one-shot: end == start prunes to S at that step
    c.end = c.start = 7;
    CHECK(prune_target(c, 6) == 0.0);
    CHECK(prune_target(c, 7) == S);
    CHECK(prune_is_event(c, 7));
    CHECK(!prune_is_event(c, 8));
    // dense: no events, no target
    c.sparsity = 0.0f;
    CHECK(!prune_is_event(c, 7));
    CHECK(prune_target(c, 100) == 0.0);
}

// Two matrices of 100 and 70 weights inside a blob of 200 (the rest is not pruned).
struct ToyBlob {
    std::vector<float> params, m, v;
    Pruner p;
    ToyBlob(const char* scope, uint64_t seed) : params(200), m(200, 0.5f), v(200, 0.25f) {
        Rng rng = rng_make(seed);
        for (float& x : params) x = rng_normal(&rng);
        p.config.scope = scope;
        prune_add_range(&p, 10, 100);
        prune_add_range(&p, 120, 70);
    }
    size_t zeros(size_t offset, size_t n) const {
        size_t z = 0;
        for (size_t i = offset; i < offset + n; i++) z += params[i] == 0.0f;
        return z;
    }
};

TEST_CASE("a pruning event zeros exactly round(s*n) of the smallest weights, and masks only grow", "[prune]") {
    ToyBlob b("global", 1);
    std::vector<float> before = b.params;
    prune_event(&b.p, 0.3, b.params.data(), b.m.data(), b.v.data());
    CHECK(b.p.num_pruned == 51);  // round(0.3 * 170)
    CHECK(b.zeros(0, 200) == 51);
    // the pruned are the 51 smallest magnitudes over both matrices
    std::vector<float> mags;
    for (size_t i = 10; i < 110; i++) mags.push_back(fabsf(before[i]));
    for (size_t i = 120; i < 190; i++) mags.push_back(fabsf(before[i]));
    std::sort(mags.begin(), mags.end());
    for (size_t i = 0; i < 200; i++) {
        bool linear = (i >= 10 && i < 110) || (i >= 120 && i < 190);
        if (!linear) {
            CHECK(b.params[i] == before[i]);  // outside the linear layers nothing changes
            CHECK(b.m[i] == 0.5f);
            continue;
        }
        bool pruned = b.params[i] == 0.0f;
        CHECK(pruned == (fabsf(before[i]) <= mags[50]));
        CHECK((b.m[i] == 0.0f) == pruned);  // and so are its moments
        CHECK((b.v[i] == 0.0f) == pruned);
        if (!pruned) CHECK(b.params[i] == before[i]);
    }
    // the next event keeps every pruned weight pruned; when the first matrix's
    // remaining weights shrink, the 34 newly pruned all come from it
    std::vector<uint64_t> mask1 = b.p.mask;
    size_t second_before = b.zeros(120, 70);
    for (size_t i = 10; i < 110; i++) b.params[i] *= 1e-3f;
    prune_event(&b.p, 0.5, b.params.data(), b.m.data(), b.v.data());
    CHECK(b.p.num_pruned == 85);
    for (size_t w = 0; w < mask1.size(); w++) CHECK((b.p.mask[w] & mask1[w]) == mask1[w]);
    CHECK(b.zeros(120, 70) == second_before);
    CHECK(b.zeros(10, 100) == 85 - second_before);
}

TEST_CASE("ties are broken by position: with equal magnitudes the lower index is pruned first", "[prune]") {
    ToyBlob b("global", 2);
    for (size_t i = 0; i < 200; i++) b.params[i] = (i % 2) ? 1.0f : -1.0f;  // all the same magnitude
    prune_event(&b.p, 0.1, b.params.data(), b.m.data(), b.v.data());  // 17 of 170
    CHECK(b.zeros(10, 17) == 17);
    CHECK(b.zeros(27, 200 - 27) == 0);
}

TEST_CASE("layer scope prunes each matrix to the target on its own", "[prune]") {
    ToyBlob b("layer", 3);
    // make the second matrix's weights all smaller: global scope would take them first
    for (size_t i = 120; i < 190; i++) b.params[i] *= 1e-3f;
    prune_event(&b.p, 0.4, b.params.data(), b.m.data(), b.v.data());
    CHECK(b.zeros(10, 100) == 40);
    CHECK(b.zeros(120, 70) == 28);
    CHECK(b.p.num_pruned == 68);
    ToyBlob g("global", 3);
    for (size_t i = 120; i < 190; i++) g.params[i] *= 1e-3f;
    prune_event(&g.p, 0.4, g.params.data(), g.m.data(), g.v.data());
    CHECK(g.zeros(120, 70) == 68);  // round(0.4 * 170), all from the small matrix
}

TEST_CASE("the update hooks: pruned gradients dropped before AdamW, weights and moments zero after", "[prune]") {
    ToyBlob b("global", 4);
    prune_event(&b.p, 0.5, b.params.data(), b.m.data(), b.v.data());
    std::vector<float> grads(200, 1.0f);
    prune_before_update(b.p, grads.data());
    size_t dropped = 0;
    for (float g : grads) dropped += g == 0.0f;
    CHECK(dropped == b.p.num_pruned);
    // an AdamW step with weight decay and the hooks: pruned stay exactly zero, others move
    size_t sizes[1] = {200};
    bool decay[1] = {true};
    AdamWConfig opt;
    std::vector<float> before = b.params;
    optimizer_step_fast(b.params.data(), grads.data(), b.m.data(), b.v.data(), sizes, decay, 1, 1e-2f, opt, 1);
    prune_after_update(b.p, b.params.data(), b.m.data(), b.v.data());
    for (const PruneRange& r : b.p.ranges)
        for (size_t i = 0; i < r.n; i++) {
            size_t k = r.offset + i;
            if (prune_bit(b.p, r, i)) {
                CHECK(b.params[k] == 0.0f);
                CHECK(b.m[k] == 0.0f);
                CHECK(b.v[k] == 0.0f);
            } else {
                CHECK(b.params[k] != before[k]);
            }
        }
    // a dense pruner (nothing pruned) touches nothing
    Pruner dense;
    prune_add_range(&dense, 0, 200);
    std::vector<float> g2(200, 3.0f);
    prune_before_update(dense, g2.data());
    CHECK(std::count(g2.begin(), g2.end(), 3.0f) == 200);
}

// ----------------------------------------------------------------------------
// The checkpoint's mask section

TEST_CASE("the mask survives a checkpoint round trip; a dense model still writes version 1", "[prune][checkpoint]") {
    TempDir dir;
    llama::LlamaConfig c{64, 32, 2, 4, 2, 48, 16, 0};  // untied: the head is pruned too
    llama::Llama a;
    llama::llama_build(&a, c);
    llama::llama_init_params(&a, 7);
    // wqkv, wo, w13, w2 per layer, then the head
    REQUIRE(a.pruner.ranges.size() == 4 * 2 + 1);
    CHECK(a.pruner.num_linear == a.param_sizes[2] + a.param_sizes[3] + a.param_sizes[5] + a.param_sizes[6] +
                                     a.param_sizes[8]);
    TrainState st{3, 11, 0, 5, 1, 16};
    llama::llama_save_checkpoint(&a, dir / "dense.bin", st);  // parameters only: m is not allocated
    int header[CKPT_HEADER_INTS];
    checkpoint_read_header(dir / "dense.bin", header, CKPT_KIND_LLAMA);
    CHECK(header[1] == CKPT_VERSION);

    a.pruner.config.sparsity = 0.6f;
    prune_event(&a.pruner, 0.45, a.params_memory, nullptr, nullptr);
    prune_count_step(&a.pruner);
    prune_count_step(&a.pruner);
    llama::llama_save_checkpoint(&a, dir / "sparse.bin", st);
    checkpoint_read_header(dir / "sparse.bin", header, CKPT_KIND_LLAMA);
    CHECK(header[1] == CKPT_VERSION_MASK);

    llama::Llama b;
    llama::llama_build(&b, c);
    TrainState st2;
    llama::llama_load_checkpoint(&b, dir / "sparse.bin", &st2);
    CHECK(b.pruner.mask == a.pruner.mask);
    CHECK(b.pruner.num_pruned == a.pruner.num_pruned);
    CHECK(b.pruner.num_pruned == (size_t)llround(0.45 * a.pruner.num_linear));
    CHECK(b.pruner.steps_counted == 2);
    CHECK(b.pruner.kept_sum == a.pruner.kept_sum);
    CHECK(memcmp(b.params_memory, a.params_memory, a.num_params * sizeof(float)) == 0);
    // the version-1 file loads into a model and leaves its mask empty
    llama::Llama d;
    llama::llama_build(&d, c);
    llama::llama_load_checkpoint(&d, dir / "dense.bin", &st2);
    CHECK(d.pruner.num_pruned == 0);
    llama::llama_free(&a);
    llama::llama_free(&b);
    llama::llama_free(&d);
}

// ----------------------------------------------------------------------------
// The real binaries

static const char* LLAMA_TINY =
    " --vocab 64 --dim 32 --layers 2 --heads 4 --kv-heads 2 --hidden 48 --seq-len 16 -b 4 -t 16 -z \"\"";
static const char* GPT2_TINY = " --model gpt2-tiny -b 4 -t 16 -z \"\"";


// Every pruned weight and its moments are zero; returns the number of zero linear weights.
template <class Model>
static size_t check_mask_holds(const Model& m) {
    size_t zeros = 0;
    for (const PruneRange& r : m.pruner.ranges)
        for (size_t i = 0; i < r.n; i++) {
            size_t k = r.offset + i;
            bool pruned = prune_bit(m.pruner, r, i);
            if (pruned) {
                REQUIRE(m.params_memory[k] == 0.0f);
                REQUIRE(m.m_memory[k] == 0.0f);
                REQUIRE(m.v_memory[k] == 0.0f);
            }
            zeros += m.params_memory[k] == 0.0f;
        }
    return zeros;
}

static llama::Llama load_llama(const std::string& path) {
    int header[CKPT_HEADER_INTS];
    checkpoint_read_header(path, header, CKPT_KIND_LLAMA);
    llama::Llama m;
    llama::llama_build(&m, llama::config_from_header(header));
    TrainState st;
    REQUIRE(llama::llama_load_checkpoint(&m, path, &st));
    return m;
}

TEST_CASE("train_llama --sparsity: on schedule, exactly the target at the end, pruned weights stay zero",
          "[prune][llama][cli]") {
    PatternShards data(64);
    TempDir out;
    std::string cmd = "./train_llama" + std::string(LLAMA_TINY) + data.flags() +
                      " -x 40 -v 0 -l 3e-3 -u 2 --untied --sparsity 0.75 --prune-start 4 --prune-end 24"
                      " --prune-every 5 -n 10 -o " + out.path;
    RunResult r = run_command(cmd);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "prune: step 24 | sparsity 0.7500 (target 0.7500)"));
    CHECK(has(r.output, "sparsity: step 40 | sparsity 0.7500"));
    llama::Llama m10 = load_llama(out / "ckpt_000010.bin"), m30 = load_llama(out / "ckpt_000030.bin"),
                 m40 = load_llama(out / "ckpt_000040.bin");
    size_t n = m40.pruner.num_linear;
    // step 10 is after the events at 4 and 9: s(9) = 0.75 (1 - 0.75^3)
    double s9 = 0.75 * (1 - 0.75 * 0.75 * 0.75);
    CHECK(m10.pruner.num_pruned == (size_t)llround(s9 * n));
    CHECK(m30.pruner.num_pruned == (size_t)llround(0.75 * n));
    CHECK(m40.pruner.num_pruned == (size_t)llround(0.75 * n));
    CHECK(check_mask_holds(m10) >= m10.pruner.num_pruned);
    CHECK(check_mask_holds(m30) == m30.pruner.num_pruned);  // no other weight happens to be exactly zero
    CHECK(check_mask_holds(m40) == m40.pruner.num_pruned);
    // the mask only grew, and after the last event it did not change while training went on
    for (size_t w = 0; w < m10.pruner.mask.size(); w++) CHECK((m30.pruner.mask[w] & m10.pruner.mask[w]) == m10.pruner.mask[w]);
    CHECK(m30.pruner.mask == m40.pruner.mask);
    // the weights that are left did train between steps 30 and 40
    CHECK(memcmp(m30.params_memory, m40.params_memory, m40.num_params * sizeof(float)) != 0);
    // the embedding and the norms are never pruned
    CHECK(std::count(m40.params.wte, m40.params.wte + m40.param_sizes[0], 0.0f) == 0);
    CHECK(std::count(m40.params.rms_att, m40.params.rms_att + m40.param_sizes[1], 0.0f) == 0);
    // average linear parameters: dense for steps 1-4, then shrinking
    CHECK(m40.pruner.steps_counted == 40);
    CHECK(m40.pruner.kept_sum / 40 < n);
    CHECK(m40.pruner.kept_sum / 40 > 0.25 * n);
    // the log has the pruning events as JSON lines
    std::vector<char> log = read_all_bytes(out / "log.jsonl");
    CHECK(has(std::string(log.begin(), log.end()), "\"step\": 24, \"sparsity\": 0.750000"));
    for (llama::Llama* m : {&m10, &m30, &m40}) llama::llama_free(m);
}

TEST_CASE("train_llama resume with pruning is exact to the bit; the mask comes back with -e", "[prune][llama][resume]") {
    PatternShards data(64);
    TempDir a, b;
    // the checkpoint at 12 is between pruning events (at 8 and 14), so both the
    // mask and the schedule's position must come back
    std::string common = "./train_llama" + std::string(LLAMA_TINY) + data.flags() +
                         " -d 128 -x 24 -v 6 -m 2 -l 3e-3 -u 2 --seed 5 --sparsity 0.5 --prune-start 2"
                         " --prune-end 20 --prune-every 6 --prune-scope layer";
    RunResult straight = run_command(common + " -n 12 -o " + a.path);
    INFO(straight.output);
    REQUIRE(straight.status == 0);
    RunResult resumed = run_command(common + " -e " + (a / "ckpt_000012.bin") + " -o " + b.path);
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(has(resumed.output, "loaded mask: step 12"));
    CHECK(read_all_bytes(a / "ckpt_000024.bin") == read_all_bytes(b / "ckpt_000024.bin"));
    // layer scope: every matrix at exactly half
    llama::Llama m = load_llama(a / "ckpt_000024.bin");
    for (const PruneRange& r : m.pruner.ranges) {
        size_t z = 0;
        for (size_t i = 0; i < r.n; i++) z += prune_bit(m.pruner, r, i);
        CHECK(z == (size_t)llround(0.5 * r.n));
    }
    llama::llama_free(&m);
}

TEST_CASE("train_gpt2 --sparsity: prunes its four matrices on schedule, resumes exactly, llm.c file holds the zeros",
          "[prune][gpt2][cli]") {
    PatternShards data(500);
    TempDir a, b;
    std::string common = "OMP_WAIT_POLICY=passive ./train_gpt2" + std::string(GPT2_TINY) + data.flags() +
                         " -x 12 -v 0 -l 3e-3 -u 2 --seed 3 --sparsity 0.6 --prune-start 2 --prune-end 8"
                         " --prune-every 2";
    RunResult straight = run_command(common + " -n 6 -o " + a.path);
    INFO(straight.output);
    REQUIRE(straight.status == 0);
    RunResult resumed = run_command(common + " -e " + (a / "ckpt_000006.bin") + " -o " + b.path);
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(read_all_bytes(a / "ckpt_000012.bin") == read_all_bytes(b / "ckpt_000012.bin"));
    std::string path = a / "ckpt_000012.bin";
    gpt2::GPT2 m;
    gpt2::gpt2_build(&m, gpt2::gpt2_read_file_config(path));
    TrainState st;
    REQUIRE(gpt2::gpt2_load(&m, path, &st));
    REQUIRE(m.pruner.ranges.size() == 4 * (size_t)m.config.L);
    CHECK(m.pruner.num_pruned == (size_t)llround(0.6 * m.pruner.num_linear));
    CHECK(check_mask_holds(m) == m.pruner.num_pruned);
    // llm.c's model file has the same parameters, zeros included
    gpt2::GPT2 l;
    gpt2::gpt2_build(&l, gpt2::gpt2_read_file_config(a / "model_000012.bin"));
    gpt2::gpt2_load(&l, a / "model_000012.bin", &st);
    CHECK(memcmp(l.params_memory, m.params_memory, m.num_params * sizeof(float)) == 0);
    // only the four weight matrices: never biases, LayerNorms or the embeddings
    CHECK(m.pruner.num_linear == m.param_sizes[4] + m.param_sizes[6] + m.param_sizes[10] + m.param_sizes[12]);
    CHECK(std::count(m.params.wte, m.params.wte + (size_t)m.config.V * m.config.C, 0.0f) == 0);
    gpt2::gpt2_free(&m);
    gpt2::gpt2_free(&l);
}

TEST_CASE("bad pruning flags and corrupt masks: clear message and exit status 1", "[prune][errors]") {
    PatternShards data(64);
    TempDir out;
    std::string base = "./train_llama" + std::string(LLAMA_TINY) + data.flags() + " -x 20 -v 0 -o " + out.path;
    auto expect = [&](const std::string& args, const std::string& message) {
        RunResult r = run_command(base + args);
        INFO(args << "\n" << r.output);
        CHECK(r.status == 1);
        CHECK(has(r.output, message));
    };
    expect(" --sparsity 1", "--sparsity must be in [0, 1), got 1");
    expect(" --sparsity -0.1", "--sparsity must be in [0, 1), got -0.1");
    expect(" --sparsity nan", "--sparsity must be in [0, 1)");
    expect(" --sparsity 0.5 --prune-start 10 --prune-end 5", "--prune-end 5 is before --prune-start 10");
    expect(" --sparsity 0.5 --prune-every 0", "--prune-every must be at least 1, got 0");
    expect(" --sparsity 0.5 --prune-start -3", "--prune-start must be >= 0, got -3");
    expect(" --sparsity 0.5 --prune-end 30", "--prune-end 30 is after the last step 20");
    expect(" --prune-scope row", "--prune-scope must be global or layer, got 'row'");
    RunResult gpt2 = run_command("./train_gpt2 --sparsity 1.5");
    CHECK(gpt2.status == 1);
    CHECK(has(gpt2.output, "--sparsity must be in [0, 1), got 1.5"));

    // a sparse checkpoint whose mask is damaged
    RunResult r = run_command(base + " --sparsity 0.5 --prune-end 4 --prune-every 2 -x 4 -n 4");
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::vector<char> good = read_all_bytes(out / "ckpt_000004.bin");
    std::string bad = out / "bad.bin";
    std::vector<char> cut(good.begin(), good.end() - 8);
    write_all_bytes(bad, cut.data(), cut.size());
    expect(" -e " + bad, "expected " + std::to_string(good.size()) + " for");
    std::vector<char> flipped = good;
    flipped[flipped.size() - 1] ^= 0x40;  // one more bit set in the last matrix than the section's count says
    write_all_bytes(bad, flipped.data(), flipped.size());
    expect(" -x 8 -e " + bad, "(corrupt file)");
}
