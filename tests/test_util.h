// tests/test_util.h: helpers shared by the tests that run the real binaries.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "../common/shard.h"
#include "../common/util.h"

struct RunResult {
    int status;          // exit status, or -1 if the process did not exit normally
    std::string output;  // stdout and stderr together
};

// Runs a shell command from the repo root, capturing stdout and stderr.
inline RunResult run_command(const std::string& cmd) {
    RunResult r{-1, ""};
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

// A fresh directory under /tmp, removed by the destructor.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/llmcpp_test_XXXXXX";
        if (!mkdtemp(tmpl)) die("cannot create a temp dir under /tmp");
        path = tmpl;
    }
    ~TempDir() { (void)!system(("rm -rf '" + path + "'").c_str()); }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline std::vector<char> read_all_bytes(const std::string& path) {
    FILE* f = fopen_check(path.c_str(), "rb");
    std::vector<char> data;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + n);
    fclose(f);
    return data;
}

inline void write_all_bytes(const std::string& path, const void* data, size_t n) {
    FILE* f = fopen_check(path.c_str(), "wb");
    fwrite_check(data, 1, n, f, path.c_str());
    fclose_check(f, path.c_str());
}

// Index of the first element where a and b differ (a length difference
// counts), or npos when they are equal.
template <typename A, typename B>
size_t first_difference(const A& a, const B& b) {
    size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return i;
    return a.size() == b.size() ? std::string::npos : n;
}

// CHECK(a == b) for long id sequences, texts and files (use where catch.hpp is included): on failure it says
// where they differ instead of printing millions of elements.
#define CHECK_SAME(a, b)                                                                                      \
    do {                                                                                                      \
        const auto& a_ = (a);                                                                                 \
        const auto& b_ = (b);                                                                                 \
        size_t at_ = first_difference(a_, b_);                                                                \
        INFO(#a " vs " #b ": sizes " << a_.size() << " and " << b_.size() << ", first difference at " << at_); \
        CHECK(at_ == std::string::npos);                                                                      \
    } while (0)

// Train and val shards (4000 and 1000 tokens) of a learnable pattern,
// (i·7 + i/13) mod vocab, in a temp dir; flags() are the trainers' -i and -j.
struct PatternShards {
    TempDir dir;
    std::string train, val;
    explicit PatternShards(int vocab) {
        train = dir / "train_000000.bin";
        val = dir / "val_000000.bin";
        for (const std::string& path : {train, val}) {
            std::vector<uint32_t> tok(path == train ? 4000 : 1000);
            for (size_t i = 0; i < tok.size(); i++) tok[i] = (uint32_t)((i * 7 + i / 13) % vocab);
            write_shard(path, tok, vocab);
        }
    }
    std::string flags() const { return " -i " + train + " -j " + val; }
};
