// tests/test_llama.cpp: the Llama trainer against the PyTorch reference, an
// overfitting check, exact resume, and the errors on bad input.
// The model code is train_llama.cpp itself, included without its main (as
// llm.c's test_gpt2.c does), so the test exercises exactly what ships.
#define TRAIN_LLAMA_NO_MAIN
// the trainer's helpers for main (schedule, checkpoints, sampling) are static and unused here
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../train_llama.cpp"
#pragma GCC diagnostic pop

#include <catch2/catch.hpp>

#include <map>

#include "../common/shard.h"
#include "fixture.h"
#include "test_util.h"

// ----------------------------------------------------------------------------
// Reference fixtures written by dev/reference/llama_reference.py (PyTorch, float64)

// Our blob fuses q,k,v and w1,w3 per layer; the fixture keeps PyTorch's
// separate tensors. These copy between the two layouts in either direction.
// to_fixture = false: fixture → model blob view; true: model view → fixture-shaped vectors.
static void copy_stacked(float* blob, std::vector<float>& fx, size_t L, size_t blob_rows, size_t row_offset,
                         size_t rows, size_t cols, bool to_fixture) {
    for (size_t l = 0; l < L; l++)
        for (size_t r = 0; r < rows; r++)
            for (size_t k = 0; k < cols; k++) {
                float& b = blob[(l * blob_rows + row_offset + r) * cols + k];
                float& f = fx[(l * rows + r) * cols + k];
                if (to_fixture) f = b; else b = f;
            }
}

// Moves fixture tensors "<prefix><name>" into (or out of) the model's param or grad views.
static void map_tensors(const LlamaConfig& c, const ParameterTensors& t, std::map<std::string, std::vector<float>>& fx,
                        bool to_fixture) {
    size_t L = c.L, C = c.C, V = c.V, H = c.H, HS = C / c.NH, QKV = (c.NH + 2 * c.NKV) * HS;
    auto plain = [&](const char* name, float* p, size_t n) {
        std::vector<float>& v = fx[name];
        if (to_fixture) v.assign(p, p + n);
        else { REQUIRE(v.size() == n); memcpy(p, v.data(), n * sizeof(float)); }
    };
    auto stacked = [&](const char* name, float* p, size_t blob_rows, size_t off, size_t rows, size_t cols) {
        std::vector<float>& v = fx[name];
        if (to_fixture) v.assign(L * rows * cols, 0.0f);
        REQUIRE(v.size() == L * rows * cols);
        copy_stacked(p, v, L, blob_rows, off, rows, cols, to_fixture);
    };
    plain("wte", t.wte, V * C);
    plain("rms_att", t.rms_att, L * C);
    stacked("wq", t.wqkv, QKV, 0, c.NH * HS, C);
    stacked("wk", t.wqkv, QKV, c.NH * HS, c.NKV * HS, C);
    stacked("wv", t.wqkv, QKV, (c.NH + c.NKV) * HS, c.NKV * HS, C);
    plain("wo", t.wo, L * C * c.NH * HS);
    plain("rms_ffn", t.rms_ffn, L * C);
    stacked("w1", t.w13, 2 * H, 0, H, C);
    stacked("w3", t.w13, 2 * H, H, H, C);
    plain("w2", t.w2, L * C * H);
    plain("rms_final", t.rms_final, C);
    if (!c.tied) plain("wcls", t.wcls, V * C);
}

static std::map<std::string, std::vector<float>> fixture_group(const Fixture& fx, const std::string& prefix, bool tied) {
    std::map<std::string, std::vector<float>> out;
    for (const char* name : {"wte", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final", "wcls"}) {
        if (tied && std::string(name) == "wcls") continue;
        out[name] = fx.get(prefix + name).f;
    }
    return out;
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

static void check_against_fixture(const std::string& path) {
    Fixture fx = load_fixture(path);
    const std::vector<int>& cfg = fx.get("config").i;
    const std::vector<float>& hp = fx.get("hparams").f;
    LlamaConfig c;
    c.V = cfg[0]; c.C = cfg[1]; c.L = cfg[2]; c.NH = cfg[3]; c.NKV = cfg[4]; c.H = cfg[5];
    int B = cfg[6], T = cfg[7];
    c.tied = cfg[8];
    c.maxT = T;
    c.rope_theta = hp[6];
    c.norm_eps = hp[7];
    AdamWConfig opt;
    float lr = hp[0];
    opt.beta1 = hp[1]; opt.beta2 = hp[2]; opt.eps = hp[3]; opt.weight_decay = hp[4]; opt.grad_clip = hp[5];
    int steps = (int)hp[8];

    Llama model;
    llama_build(&model, c);
    auto params = fixture_group(fx, "params.", c.tied);
    map_tensors(c, model.params, params, false);
    const std::vector<int>& tokens = fx.get("tokens").i;
    const std::vector<int>& targets = fx.get("targets").i;

    // logits: fp32 against a float64 reference, values O(1)
    llama_forward(&model, tokens.data(), nullptr, B, T);
    std::vector<float> logits(model.acts.logits, model.acts.logits + (size_t)B * T * c.V);
    double r = worst_ratio(logits, fx.get("logits").f, 1e-5, 1e-5);
    INFO("logits: worst |error| / (1e-5 + 1e-5·|ref|) = " << r);
    CHECK(r <= 1.0);

    // loss: 1e-5 relative
    float loss = llama_forward(&model, tokens.data(), targets.data(), B, T);
    float ref_loss = fx.get("loss").f[0];
    INFO("loss " << loss << " vs reference " << ref_loss);
    CHECK(fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss));

    // every parameter gradient: 1e-4 relative, with an absolute floor of 1e-4 of
    // the tensor's largest gradient (entries near zero have no relative precision)
    llama_zero_grad(&model);
    llama_backward(&model, B, T, 1.0f);
    std::map<std::string, std::vector<float>> grads;
    map_tensors(c, model.grads, grads, true);
    auto ref_grads = fixture_group(fx, "grads.", c.tied);
    for (auto& kv : ref_grads) {
        double rr = worst_ratio(grads[kv.first], kv.second, 1e-4 * max_abs(kv.second), 1e-4);
        INFO("grad " << kv.first << ": worst ratio " << rr);
        CHECK(rr <= 1.0);
    }

    // AdamW with clipping, `steps` steps on the same batch
    const std::vector<float>& ref_losses = fx.get("losses").f;
    const std::vector<float>& ref_norms = fx.get("grad_norms").f;
    for (int s = 0; s < steps; s++) {
        float l = llama_forward(&model, tokens.data(), targets.data(), B, T);
        llama_zero_grad(&model);
        llama_backward(&model, B, T, 1.0f);
        float norm = llama_update(&model, lr, opt);
        INFO("step " << s + 1 << ": loss " << l << " vs " << ref_losses[s] << ", norm " << norm << " vs " << ref_norms[s]);
        CHECK(fabs(l - ref_losses[s]) <= 1e-5 * fabs(ref_losses[s]));
        CHECK(fabs(norm - ref_norms[s]) <= 1e-4 * fabs(ref_norms[s]));
    }
    // Adam divides by sqrt(v), so after 3 steps each parameter has moved by
    // about lr per step; the comparison is absolute, at 1e-4 of lr... per step.
    std::map<std::string, std::vector<float>> after;
    map_tensors(c, model.params, after, true);
    auto ref_after = fixture_group(fx, "params_after.", c.tied);
    for (auto& kv : ref_after) {
        double rr = worst_ratio(after[kv.first], kv.second, 1e-5, 1e-5);
        INFO("params after " << steps << " steps, " << kv.first << ": worst ratio " << rr);
        CHECK(rr <= 1.0);
    }
    llama_free(&model);
}

TEST_CASE("llama matches the PyTorch reference: tied head", "[llama][reference]") {
    check_against_fixture("tests/fixtures/llama_tiny_tied.bin");
}

TEST_CASE("llama matches the PyTorch reference: untied head", "[llama][reference]") {
    check_against_fixture("tests/fixtures/llama_tiny_untied.bin");
}

// ----------------------------------------------------------------------------
// Overfitting: one repeated batch, a tiny model, loss must fall close to zero.

TEST_CASE("llama overfits one repeated batch", "[llama][overfit]") {
    LlamaConfig c;
    c.V = 32; c.C = 32; c.L = 2; c.NH = 4; c.NKV = 2; c.H = 64; c.maxT = 16; c.tied = 1;
    Llama model;
    llama_build(&model, c);
    llama_init_params(&model, 42);
    int B = 4, T = 16;
    Rng rng = rng_make(7);
    std::vector<int> tokens(B * T), targets(B * T);
    for (int i = 0; i < B * T; i++) { tokens[i] = (int)rng_below(&rng, c.V); targets[i] = (int)rng_below(&rng, c.V); }
    AdamWConfig opt;
    opt.weight_decay = 0.0f;
    float first = 0.0f, last = 0.0f;
    for (int step = 0; step < 300; step++) {
        float loss = llama_forward(&model, tokens.data(), targets.data(), B, T);
        if (step == 0) first = loss;
        last = loss;
        llama_zero_grad(&model);
        llama_backward(&model, B, T, 1.0f);
        llama_update(&model, 1e-2f, opt);
    }
    INFO("loss " << first << " -> " << last);
    CHECK(first > 3.0f);   // ~ln 32 = 3.47 at init
    CHECK(last < 0.05f);
    llama_free(&model);
}

// ----------------------------------------------------------------------------
// bf16 (matmuls and attention's products): the same training run with and without, 200 steps from the
// same init on the same data, must follow the same loss curve.

TEST_CASE("bf16 matmuls and attention track the fp32 loss curve over 200 steps", "[llama][bf16]") {
    LlamaConfig c;
    c.V = 96; c.C = 64; c.L = 2; c.NH = 4; c.NKV = 2; c.H = 160; c.maxT = 32; c.tied = 1;
    const int B = 4, T = 32, steps = 200;
    // a learnable stream: each token a fixed function of the one before, 10% of them random
    Rng data_rng = rng_make(11);
    std::vector<int> stream(20000);
    stream[0] = 1; stream[1] = 2;
    for (size_t i = 2; i < stream.size(); i++)
        stream[i] = rng_below(&data_rng, 10) == 0 ? (int)rng_below(&data_rng, c.V) : (stream[i - 1] * 5 + 7) % c.V;
    auto run = [&](bool bf16) {
        Llama model;
        llama_build(&model, c);
        llama_init_params(&model, 3);
        model.bf16 = bf16;
        AdamWConfig opt;
        std::vector<float> losses;
        std::vector<int> x(B * T), y(B * T);
        for (int step = 0; step < steps; step++) {
            for (int b = 0; b < B; b++) {
                size_t at = ((size_t)step * B + b) * T % (stream.size() - T - 1);
                for (int t = 0; t < T; t++) { x[b * T + t] = stream[at + t]; y[b * T + t] = stream[at + t + 1]; }
            }
            losses.push_back(llama_forward(&model, x.data(), y.data(), B, T));
            llama_zero_grad(&model);
            llama_backward(&model, B, T, 1.0f);
            llama_update(&model, 3e-3f, opt);
        }
        llama_free(&model);
        return losses;
    };
    std::vector<float> f32 = run(false);
    // on the path the trainers pick here, and on AMX tiles (real where the CPU has them, emulated elsewhere)
    const gemm::Isa before = gemm::active_isa();
    std::vector<gemm::Isa> paths = {before};
    for (gemm::Isa isa : {gemm::Isa::amx, gemm::Isa::amx_emulated}) {
        if (isa == before) continue;
        if (gemm::isa_supported(isa)) paths.push_back(isa);
        else WARN("skipped: bf16 on the " << gemm::isa_name(isa) << " GEMM path (" << gemm::isa_unsupported(isa) << ")");
    }
    for (gemm::Isa isa : paths) {
        gemm::set_isa(isa);
        std::vector<float> b16 = run(true);
        double worst = 0.0, tail_f32 = 0.0, tail_b16 = 0.0;
        for (int i = 0; i < steps; i++) {
            worst = std::max(worst, std::fabs((double)b16[i] - f32[i]) / f32[i]);
            if (i >= steps - 20) { tail_f32 += f32[i] / 20; tail_b16 += b16[i] / 20; }
        }
        INFO("GEMM path " << gemm::isa_name(isa) << ": fp32 loss " << f32[0] << " -> " << tail_f32 << ", bf16 "
             << b16[0] << " -> " << tail_b16 << ", worst per-step relative gap " << worst);
        CHECK(tail_f32 < 0.6 * f32[0]);                             // it learned: the comparison means something
        CHECK(worst < 0.02);                                        // every step within 2% of fp32
        CHECK(std::fabs(tail_b16 - tail_f32) / tail_f32 < 0.01);    // the last 20 steps within 1%
        CHECK(b16 != f32);                                          // and the bf16 path really ran
    }
    gemm::set_isa(before);
}

TEST_CASE("a model switched between bf16 and fp32 lays out its activations anew and computes what fresh ones do",
          "[llama][bf16]") {
    // bf16 runs keep ln1, ln2, hgate, lnf as bf16 bits in half the floats; a later fp32 forward must not
    // run on that layout. H odd and B·T odd: the bf16 slices round up to whole floats.
    LlamaConfig c;
    c.V = 50; c.C = 32; c.L = 2; c.NH = 4; c.NKV = 2; c.H = 41; c.maxT = 16; c.tied = 1;
    const int B = 3, T = 11;
    std::vector<int> x(B * T), y(B * T);
    for (int i = 0; i < B * T; i++) { x[i] = (i * 7 + 3) % c.V; y[i] = (i * 5 + 1) % c.V; }
    auto fresh = [&](bool bf16) {
        Llama m;
        llama_build(&m, c);
        llama_init_params(&m, 5);
        m.bf16 = bf16;
        float loss = llama_forward(&m, x.data(), y.data(), B, T);
        llama_free(&m);
        return loss;
    };
    const float want_bf16 = fresh(true), want_fp32 = fresh(false);
    Llama m;
    llama_build(&m, c);
    llama_init_params(&m, 5);
    for (bool bf16 : {true, false, true}) {
        m.bf16 = bf16;
        CHECK(llama_forward(&m, x.data(), y.data(), B, T) == (bf16 ? want_bf16 : want_fp32));
        CHECK(m.acts_bf16 == bf16);
    }
    CHECK(want_bf16 != want_fp32);
    llama_free(&m);
}

// ----------------------------------------------------------------------------
// Running the real binary: resume and bad input

static const char* TINY = " --vocab 64 --dim 32 --layers 2 --heads 4 --kv-heads 2 --hidden 48 --seq-len 16 -b 4 -t 16";

// A shard of `n` tokens that follow a learnable pattern.
static void write_pattern_shard(const std::string& path, size_t n, int vocab) {
    std::vector<uint32_t> tok(n);
    for (size_t i = 0; i < n; i++) tok[i] = (uint32_t)((i * 7 + i / 13) % vocab);
    write_shard(path, tok, vocab);
}

struct TinyData {
    TempDir dir;
    std::string train, val;
    TinyData() {
        train = dir / "train_000000.bin";
        val = dir / "val_000000.bin";
        write_pattern_shard(train, 4000, 64);
        write_pattern_shard(val, 1000, 64);
    }
    std::string flags() const { return std::string(TINY) + " -i " + train + " -j " + val + " -z \"\""; }
};

TEST_CASE("resume: N steps straight equal N/2 steps, checkpoint, resume N/2 steps, to the bit", "[llama][resume]") {
    TinyData data;
    TempDir a, b;
    // -d 128 = 2 micro-batches per step, so accumulation is covered too; eval
    // every 3 steps interleaves validation with training on both sides.
    std::string common = "./train_llama" + data.flags() + " -d 128 -x 8 -v 3 -m 2 -l 3e-3 -u 2 --seed 5";
    RunResult straight = run_command(common + " -n 4 -o " + a.path);
    INFO(straight.output);
    REQUIRE(straight.status == 0);
    RunResult resumed = run_command(common + " -e " + (a / "ckpt_000004.bin") + " -o " + b.path);
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(resumed.output.find("resumed from") != std::string::npos);
    std::vector<char> fa = read_all_bytes(a / "ckpt_000008.bin"), fb = read_all_bytes(b / "ckpt_000008.bin");
    REQUIRE(fa.size() == fb.size());
    // the whole file: parameters, AdamW moments, step, RNG and data position
    CHECK(fa == fb);
}

TEST_CASE("the trainer writes a JSON line per step and per evaluation", "[llama][log]") {
    TinyData data;
    TempDir out;
    RunResult r = run_command("./train_llama" + data.flags() + " -x 3 -v 2 -m 1 -o " + out.path);
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::vector<char> bytes = read_all_bytes(out / "log.jsonl");
    std::string log(bytes.begin(), bytes.end());
    CHECK(log.find("{\"step\": 1, \"loss\": ") != std::string::npos);
    for (const char* key : {"\"lr\": ", "\"norm\": ", "\"ms\": ", "\"tok_s\": ", "\"val_loss\": "})
        CHECK(log.find(key) != std::string::npos);
    CHECK(r.output.find("no bits/byte") != std::string::npos);  // says why there is no bpb
}

TEST_CASE("--help lists every flag with its default and exits 0", "[llama][cli]") {
    RunResult r = run_command("./train_llama --help");
    CHECK(r.status == 0);
    for (const char* flag : {"-i, --train", "-j, --val", "-z, --tokenizer", "-o, --out", "-e, --load", "-b, --batch",
                             "-t, --seq", "-d, --total-batch", "-l, --lr", "-u, --warmup", "-q, --final-lr-frac",
                             "-c, --weight-decay", "-x, --steps", "-v, --val-every", "-m, --val-batches",
                             "-s, --sample-every", "-g, --gen-tokens", "-n, --ckpt-every", "--seed", "--model",
                             "--vocab", "--dim", "--layers", "--heads", "--kv-heads", "--hidden", "--seq-len",
                             "--untied", "--schedule", "--precision", "--bf16"})
        CHECK(r.output.find(flag) != std::string::npos);
}

// Runs the trainer expecting failure; returns its output.
static std::string expect_failure(const std::string& args) {
    RunResult r = run_command("./train_llama" + args);
    INFO(r.output);
    CHECK(r.status == 1);
    return r.output;
}
// The same with an environment variable set for the run.
static std::string expect_failure_env(const std::string& env, const std::string& args) {
    RunResult r = run_command(env + " ./train_llama" + args);
    INFO(r.output);
    CHECK(r.status == 1);
    return r.output;
}

TEST_CASE("bad input: clear message and exit status 1", "[llama][errors]") {
    TinyData data;
    TempDir tmp;
    std::string val = " -j " + data.val + " -z \"\" -o " + tmp.path + "/out";
    std::vector<char> good = read_all_bytes(data.train);

    SECTION("wrong magic") {
        std::vector<char> bad = good;
        int magic = 12345;
        memcpy(bad.data(), &magic, 4);
        write_all_bytes(tmp / "bad.bin", bad.data(), bad.size());
        std::string out = expect_failure(std::string(TINY) + " -i " + (tmp / "bad.bin") + val);
        CHECK(out.find("bad.bin: bad magic 12345, expected 20240520") != std::string::npos);
    }
    SECTION("unknown version") {
        std::vector<char> bad = good;
        int version = 7;
        memcpy(bad.data() + 4, &version, 4);
        write_all_bytes(tmp / "bad.bin", bad.data(), bad.size());
        std::string out = expect_failure(std::string(TINY) + " -i " + (tmp / "bad.bin") + val);
        CHECK(out.find("bad.bin: unknown version 7") != std::string::npos);
    }
    SECTION("truncated shard") {
        write_all_bytes(tmp / "bad.bin", good.data(), good.size() - 100);
        std::string out = expect_failure(std::string(TINY) + " -i " + (tmp / "bad.bin") + val);
        CHECK(out.find("bad.bin: file is truncated") != std::string::npos);
    }
    SECTION("token id >= vocab") {
        std::vector<uint32_t> tok(2000, 3);
        tok[1234] = 64;
        write_shard(tmp / "bad.bin", tok, 65536);
        std::string out = expect_failure(std::string(TINY) + " -i " + (tmp / "bad.bin") + val);
        CHECK(out.find("token id 64 at position 1234 is >= vocab size 64") != std::string::npos);
    }
    SECTION("shard shorter than one batch") {
        std::vector<uint32_t> tok(40, 1);  // B=4 windows of 17 tokens need 65
        write_shard(tmp / "short.bin", tok, 64);
        std::string out = expect_failure(std::string(TINY) + " -i " + (tmp / "short.bin") + val);
        CHECK(out.find("one batch needs B=4 windows") != std::string::npos);
    }
    SECTION("missing shard") {
        std::string out = expect_failure(std::string(TINY) + " -i " + (tmp / "nothing_*.bin") + val);
        CHECK(out.find("no file matches") != std::string::npos);
    }
    SECTION("checkpoint whose config does not match the flags") {
        RunResult r = run_command("./train_llama" + data.flags() + " -x 1 -o " + (tmp / "run"));
        REQUIRE(r.status == 0);
        std::string out = expect_failure(data.flags() + " --dim 64 -x 2 -e " + (tmp / "run/ckpt_000001.bin") + " -o " + (tmp / "run2"));
        CHECK(out.find("has dim=32 but the flags ask for dim=64") != std::string::npos);
    }
    SECTION("resume at another sequence length") {
        RunResult r = run_command("./train_llama" + data.flags() + " -x 1 -o " + (tmp / "run"));
        REQUIRE(r.status == 0);
        std::string out = expect_failure(data.flags() + " -t 8 -x 2 -e " + (tmp / "run/ckpt_000001.bin") + " -o " + (tmp / "run2"));
        CHECK(out.find("was trained with -t 16") != std::string::npos);
    }
    SECTION("not a checkpoint") {
        std::string out = expect_failure(data.flags() + " -e " + data.train + " -o " + (tmp / "run"));
        CHECK(out.find("bad magic 20240520, expected 20261126") != std::string::npos);
    }
    SECTION("unwritable output dir") {
        write_all_bytes(tmp / "file", "x", 1);
        std::string out = expect_failure(data.flags() + " -o " + (tmp / "file/out"));
        CHECK(out.find("is not a directory") != std::string::npos);
    }
    SECTION("NaN or Inf loss stops the run with the step number") {
        std::string out = expect_failure(data.flags() + " -x 20 -l 1e30 --grad-clip 0 -o " + (tmp / "run"));
        // huge steps overflow the weights: the loss or the gradient norm goes non-finite
        CHECK((out.find("loss is") != std::string::npos || out.find("gradient norm is") != std::string::npos));
        CHECK(out.find("error: step ") != std::string::npos);
        CHECK(out.find("stopping") != std::string::npos);
    }
    SECTION("unknown flag and bad number") {
        CHECK(expect_failure(" --bogus 3").find("unknown flag '--bogus'") != std::string::npos);
        CHECK(expect_failure(" -b x12").find("flag -b expects an integer, got 'x12'") != std::string::npos);
    }
    SECTION("an unknown precision, and --bf16 against --precision fp32") {
        CHECK(expect_failure(" --precision fp8").find("--precision fp8: expected auto, fp32 or bf16") != std::string::npos);
        CHECK(expect_failure(" --bf16 --precision fp32").find("--bf16 and --precision fp32 contradict") !=
              std::string::npos);
    }
    SECTION("a GEMM path this CPU cannot run, or that does not exist, named in LLM_ISA") {
        CHECK(expect_failure_env("LLM_ISA=avx3", data.flags() + " -x 1").find("LLM_ISA=avx3: expected auto, plain, avx2") !=
              std::string::npos);
        if (!gemm::isa_supported(gemm::Isa::amx))
            CHECK(expect_failure_env("LLM_ISA=amx", data.flags() + " -x 1").find("LLM_ISA=amx: ") != std::string::npos);
    }
    SECTION("heads that do not divide") {
        CHECK(expect_failure(data.flags() + " --kv-heads 3").find("kv-heads 3 must divide heads 4") != std::string::npos);
    }
}
