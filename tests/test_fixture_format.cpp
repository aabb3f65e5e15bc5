// tests/test_fixture_format.cpp: the reference fixtures load, have the shapes
// their config implies, and agree with themselves, so a failure in the model
// tests points at the model and not at the fixture or its reader.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fixture.h"

static const char* const FIXTURE_PATHS[] = {"tests/fixtures/llama_tiny_tied.bin", "tests/fixtures/llama_tiny_untied.bin"};

// Expected shape of every parameter, from the config; wcls only when untied.
static std::map<std::string, std::vector<int>> expected_param_shapes(const FixtureConfig& c) {
    int HS = c.C / c.NH;
    std::map<std::string, std::vector<int>> s = {
        {"wte", {c.V, c.C}},
        {"rms_att", {c.L, c.C}},
        {"wq", {c.L, c.NH * HS, c.C}},
        {"wk", {c.L, c.NKV * HS, c.C}},
        {"wv", {c.L, c.NKV * HS, c.C}},
        {"wo", {c.L, c.C, c.NH * HS}},
        {"rms_ffn", {c.L, c.C}},
        {"w1", {c.L, c.H, c.C}},
        {"w2", {c.L, c.C, c.H}},
        {"w3", {c.L, c.H, c.C}},
        {"rms_final", {c.C}},
    };
    if (!c.tied) s["wcls"] = {c.V, c.C};
    return s;
}

static void check_tensor(const Fixture& fx, const std::string& name, int dtype, const std::vector<int>& shape) {
    INFO(fx.path << ": tensor " << name);
    REQUIRE(fx.has(name));
    const FixtureTensor& t = fx.get(name);
    CHECK(t.dtype == dtype);
    CHECK(t.shape == shape);
    CHECK((dtype == FIXTURE_F32 ? t.f.size() : t.i.size()) == t.numel());
}

TEST_CASE("fixtures hold exactly the tensors their config implies", "[fixture]") {
    for (const char* path : FIXTURE_PATHS) {
        Fixture fx = load_fixture(path);
        FixtureConfig c = fixture_config(fx);
        FixtureHparams hp = fixture_hparams(fx);
        INFO(path);
        CHECK(c.tied == (std::string(path).find("untied") == std::string::npos));
        REQUIRE(c.C % c.NH == 0);
        REQUIRE(c.NH % c.NKV == 0);
        REQUIRE((c.C / c.NH) % 2 == 0);  // RoPE rotates pairs
        REQUIRE(hp.n_steps >= 1);

        std::set<std::string> expected = {"config", "hparams", "tokens", "targets", "logits", "loss", "losses", "grad_norms"};
        check_tensor(fx, "tokens", FIXTURE_I32, {c.B, c.T});
        check_tensor(fx, "targets", FIXTURE_I32, {c.B, c.T});
        check_tensor(fx, "logits", FIXTURE_F32, {c.B, c.T, c.V});
        check_tensor(fx, "loss", FIXTURE_F32, {1});
        check_tensor(fx, "losses", FIXTURE_F32, {hp.n_steps});
        check_tensor(fx, "grad_norms", FIXTURE_F32, {hp.n_steps});
        for (const auto& kv : expected_param_shapes(c)) {
            for (const char* prefix : {"params.", "grads.", "params_after."}) {
                check_tensor(fx, prefix + kv.first, FIXTURE_F32, kv.second);
                expected.insert(prefix + kv.first);
            }
        }
        // nothing unexpected either: a stray "params.wcls" in a tied fixture would go unnoticed otherwise
        std::set<std::string> found;
        for (const FixtureTensor& t : fx.tensors) found.insert(t.name);
        CHECK(found == expected);

        for (const char* name : {"tokens", "targets"})
            for (int id : fx.get(name).i) {
                INFO(name << " holds " << id);
                REQUIRE((id >= 0 && id < c.V));
            }
    }
}

TEST_CASE("fixture loss is the mean cross-entropy of its logits", "[fixture]") {
    for (const char* path : FIXTURE_PATHS) {
        Fixture fx = load_fixture(path);
        FixtureConfig c = fixture_config(fx);
        const std::vector<float>& logits = fx.get("logits").f;
        const std::vector<int>& targets = fx.get("targets").i;
        double total = 0.0;
        for (int bt = 0; bt < c.B * c.T; bt++) {
            const float* row = &logits[(size_t)bt * c.V];
            double maxv = row[0];
            for (int v = 1; v < c.V; v++) maxv = std::max(maxv, (double)row[v]);
            double sum = 0.0;
            for (int v = 0; v < c.V; v++) sum += exp(row[v] - maxv);
            total += maxv + log(sum) - row[targets[bt]];
        }
        double loss = total / (c.B * c.T);
        double ref = fx.get("loss").f[0];
        INFO(path << ": cross-entropy from logits " << loss << ", stored loss " << ref);
        CHECK(fabs(loss - ref) <= 1e-5 * fabs(ref));
        // step 0's loss is taken at the initial parameters too
        CHECK(fabs(fx.get("losses").f[0] - ref) <= 1e-5 * fabs(ref));
    }
}

TEST_CASE("fixture gradients and optimizer trajectory agree with themselves", "[fixture]") {
    for (const char* path : FIXTURE_PATHS) {
        Fixture fx = load_fixture(path);
        FixtureConfig c = fixture_config(fx);
        FixtureHparams hp = fixture_hparams(fx);
        INFO(path);
        // classifier gradients exist with the classifier's shape (wte's carries both uses when tied)
        CHECK(fx.get("grads.wte").shape == std::vector<int>{c.V, c.C});
        CHECK(fx.has("grads.wcls") == !c.tied);
        if (!c.tied) CHECK(fx.get("grads.wcls").shape == std::vector<int>{c.V, c.C});

        // grad_norms[0] is the global norm of the stored (pre-clip) gradients
        double sq = 0.0;
        for (const auto& kv : expected_param_shapes(c)) {
            const std::vector<float>& g = fx.get("grads." + kv.first).f;
            double tsq = 0.0;
            for (float x : g) tsq += (double)x * x;
            INFO("grads." << kv.first << " norm " << sqrt(tsq));
            CHECK(tsq > 0.0);  // every parameter takes part in the loss
            sq += tsq;
        }
        double norm0 = fx.get("grad_norms").f[0];
        INFO("norm of stored grads " << sqrt(sq) << ", grad_norms[0] " << norm0 << ", max_norm " << hp.max_norm);
        CHECK(fabs(sqrt(sq) - norm0) <= 1e-5 * norm0);
        CHECK(norm0 > hp.max_norm);  // the fixture exercises clipping

        // every parameter moved, and training on one batch lowered the loss
        for (const auto& kv : expected_param_shapes(c)) {
            const std::vector<float>& before = fx.get("params." + kv.first).f;
            const std::vector<float>& after = fx.get("params_after." + kv.first).f;
            double moved = 0.0;
            for (size_t k = 0; k < before.size(); k++) moved = std::max(moved, fabs((double)after[k] - before[k]));
            INFO(kv.first << ": largest change " << moved);
            CHECK(moved > 0.1 * hp.lr);
        }
        const std::vector<float>& losses = fx.get("losses").f;
        for (int s = 1; s < hp.n_steps; s++) CHECK(losses[s] < losses[s - 1]);
    }
}

// Runs load_fixture(path) in a child process (it dies rather than returning an
// error); returns the child's exit status and what it wrote to stderr.
static int load_in_child(const std::string& path, std::string* err) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        load_fixture(path);
        _exit(0);
    }
    close(fds[1]);
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) err->append(buf, (size_t)n);
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_bytes(const std::string& path, const std::vector<char>& data) {
    FILE* f = fopen_check(path.c_str(), "wb");
    fwrite_check(data.data(), 1, data.size(), f, path.c_str());
    fclose_check(f, path.c_str());
}

TEST_CASE("load_fixture rejects damaged files and names them", "[fixture]") {
    std::vector<char> good;
    {
        const char* src = FIXTURE_PATHS[0];
        long long n = file_size_check(src);
        good.resize((size_t)n);
        FILE* f = fopen_check(src, "rb");
        fread_check(good.data(), 1, good.size(), f, src);
        fclose_check(f, src);
    }
    char dir_tmpl[] = "/tmp/fixture_test_XXXXXX";
    REQUIRE(mkdtemp(dir_tmpl) != nullptr);
    std::string path = std::string(dir_tmpl) + "/damaged.bin";

    struct Case {
        const char* what;
        std::vector<char> bytes;
        const char* message;
    };
    std::vector<char> bad_magic = good, bad_version = good, trailing = good;
    bad_magic[0] ^= 1;
    bad_version[4] = 2;
    trailing.push_back(0);
    std::vector<Case> cases = {
        {"bad magic", bad_magic, "bad magic"},
        {"bad version", bad_version, "unsupported version"},
        {"cut in a tensor's data", std::vector<char>(good.begin(), good.end() - 100), "truncated"},
        {"cut in the header", std::vector<char>(good.begin(), good.begin() + 6), "truncated"},
        {"trailing byte", trailing, "trailing data"},
    };
    for (const Case& k : cases) {
        write_bytes(path, k.bytes);
        std::string err;
        int status = load_in_child(path, &err);
        INFO(k.what << ": exit " << status << ", stderr: " << err);
        CHECK(status == 1);
        CHECK(err.find(path) != std::string::npos);
        CHECK(err.find(k.message) != std::string::npos);
    }
    {
        std::string err;
        int status = load_in_child(path + ".missing", &err);
        INFO("missing file: exit " << status << ", stderr: " << err);
        CHECK(status == 1);
        CHECK(err.find(path + ".missing") != std::string::npos);
    }
    remove(path.c_str());
    rmdir(dir_tmpl);
}
