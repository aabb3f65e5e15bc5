// tests/test_report.cpp: what a run leaves behind for a person to read: the
// log (every line valid UTF-8 JSON, whatever a sample decodes to), the flags a
// trainer refuses, the wall-clock budget (--time) and the HTML run report.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../common/report.h"
#include "../common/shard.h"
#include "../tokenizer/json.h"
#include "test_util.h"

// ----------------------------------------------------------------------------
// Helpers

// Strict UTF-8 check written from the definition (decode, then reject
// overlong forms, surrogates and code points past U+10FFFF), independent of
// utf8_sequence_length so the two can disagree if either is wrong.
static bool utf8_valid(const std::string& s) {
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n) return false;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (int k = 1; k < len; k++) {
            unsigned char d = (unsigned char)s[i + k];
            if ((d >> 6) != 2) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

// True if `line` is exactly one JSON object and valid UTF-8.
static bool json_line_ok(const std::string& line) {
    size_t pos = 0;
    json_skip_ws(line, &pos);
    if (pos >= line.size() || line[pos] != '{') return false;
    if (!json_skip_value(line, &pos)) return false;
    json_skip_ws(line, &pos);
    return pos == line.size() && utf8_valid(line);
}

static std::vector<std::string> read_lines(const std::string& path) {
    std::vector<char> bytes = read_all_bytes(path);
    std::vector<std::string> lines;
    std::string cur;
    for (char c : bytes) {
        if (c == '\n') { lines.push_back(cur); cur.clear(); }
        else cur += c;
    }
    if (!cur.empty()) lines.push_back(cur);
    return lines;
}

static bool has(const std::string& out, const std::string& text) {
    INFO("looking for: " << text << "\nin: " << out);
    return out.find(text) != std::string::npos;
}

// The tiny Llama of tests/test_llama.cpp; passive OpenMP waits keep it fast on a loaded machine.
static const std::string LLAMA = "OMP_WAIT_POLICY=passive ./train_llama";
static const std::string GPT2 = "OMP_WAIT_POLICY=passive ./train_gpt2";
static const char* TINY = " --vocab 64 --dim 32 --layers 2 --heads 4 --kv-heads 2 --hidden 48 --seq-len 16 -b 4 -t 16";

struct TinyData {
    TempDir dir;
    std::string train, val;
    TinyData() {
        train = dir / "train_000000.bin";
        val = dir / "val_000000.bin";
        for (auto [path, n] : {std::pair<std::string, size_t>{train, 4000}, {val, 1000}}) {
            std::vector<uint32_t> tok(n);
            for (size_t i = 0; i < n; i++) tok[i] = (uint32_t)((i * 7 + i / 13) % 64);
            write_shard(path, tok, 64);
        }
    }
    std::string flags() const { return std::string(TINY) + " -i " + train + " -j " + val + " -z \"\""; }
};

// An llm.c-format tokenizer (decode-only) of 64 tokens, most of them pieces of
// characters: a sample from any model over it decodes to ill-formed UTF-8.
static void write_broken_tokenizer(const std::string& path) {
    const char* pieces[] = {"\xE2\x82", "\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF0\x9F\x98", "\xFF",
                            "\xE2\x82\xAC", "\"", "\\", "\n", "a", " b"};
    const int V = 64, eot = 63;
    std::vector<uint8_t> data(1024, 0);
    uint32_t header[4] = {20240328, 2, (uint32_t)V, (uint32_t)eot};
    memcpy(data.data(), header, sizeof header);
    for (int id = 0; id < V; id++) {
        std::string t = id == eot ? "<|endoftext|>" : pieces[id % (sizeof pieces / sizeof pieces[0])];
        data.push_back((uint8_t)t.size());
        data.insert(data.end(), t.begin(), t.end());
    }
    write_all_bytes(path, data.data(), data.size());
}

// ----------------------------------------------------------------------------
// 1. log.jsonl is valid UTF-8 JSON whatever the sample decodes to

TEST_CASE("json_escape replaces ill-formed UTF-8 with U+FFFD, like Python's errors='replace'", "[report][utf8]") {
    // expected values from Python: bytes.decode("utf-8", "replace")
    CHECK(json_escape("The cat \xE2\x82") == "The cat \\ufffd");               // ends mid-character
    CHECK(json_escape("a\x80" "b") == "a\\ufffdb");                           // stray continuation byte
    CHECK(json_escape("\xC0\xAF") == "\\ufffd\\ufffd");                       // overlong '/'
    CHECK(json_escape("\xE0\x80\xAF") == "\\ufffd\\ufffd\\ufffd");            // overlong, 3 bytes
    CHECK(json_escape("\xED\xA0\x80") == "\\ufffd\\ufffd\\ufffd");            // a surrogate
    CHECK(json_escape("\xF0\x9F\x98") == "\\ufffd");                          // truncated 4-byte form
    CHECK(json_escape("\xF4\x90\x80\x80") == "\\ufffd\\ufffd\\ufffd\\ufffd"); // past U+10FFFF
    CHECK(json_escape("\xFF") == "\\ufffd");
    // well-formed text passes through; quotes, backslashes and controls are escaped
    CHECK(json_escape("\xE2\x82\xAC \xF0\x9F\x98\x80 \xC3\xA9") == "\xE2\x82\xAC \xF0\x9F\x98\x80 \xC3\xA9");
    CHECK(json_escape("say \"hi\"\\\n\t") == "say \\\"hi\\\"\\\\\\n\\u0009");
}

TEST_CASE("every byte string escapes to a JSON string that parses back to valid UTF-8", "[report][utf8]") {
    // all 1- and 2-byte strings, and 3-byte ones around the tricky lead bytes
    std::vector<std::string> inputs;
    for (int a = 0; a < 256; a++) {
        inputs.push_back(std::string(1, (char)a));
        for (int b = 0; b < 256; b++) inputs.push_back(std::string{(char)a, (char)b});
    }
    for (int a : {0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5})
        for (int b = 0x70; b < 0xC8; b++)
            for (int c : {0x41, 0x80, 0xBF, 0xC0}) inputs.push_back(std::string{(char)a, (char)b, (char)c});
    size_t failures = 0;
    for (const std::string& s : inputs) {
        std::string line = "{\"sample\": \"" + json_escape(s) + "\"}";
        std::string back, err;
        bool ok = json_line_ok(line) && json_get_string_field(line, "sample", &back, &err) && utf8_valid(back);
        // well-formed input comes back unchanged
        if (ok && utf8_valid(s) && back != s) ok = false;
        if (!ok) failures++;
    }
    CHECK(failures == 0);
}

TEST_CASE("a run whose sample decodes to ill-formed UTF-8 still writes a log where every line parses", "[report][utf8]") {
    TinyData data;
    TempDir out;
    write_broken_tokenizer(out / "broken_tok.bin");
    RunResult r = run_command(LLAMA + std::string(TINY) + " -i " + data.train + " -j " + data.val + " -z " +
                              (out / "broken_tok.bin") + " -x 2 -v 1 -m 1 -s 1 -g 64 --seed 3 -o " + (out / "run"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::vector<std::string> lines = read_lines(out / "run/log.jsonl");
    REQUIRE(!lines.empty());
    int samples = 0, replaced = 0;
    for (const std::string& line : lines) {
        INFO(line);
        CHECK(json_line_ok(line));
        if (line.find("\"sample\"") != std::string::npos) {
            samples++;
            if (line.find("\\ufffd") != std::string::npos) replaced++;
        }
    }
    CHECK(samples >= 1);
    CHECK(replaced >= 1);  // the broken pieces really were in a sample
}

// ----------------------------------------------------------------------------
// 2. Hyperparameters no run can mean are refused before anything is loaded

TEST_CASE("out-of-range and non-finite hyperparameters: clear message and exit status 1", "[report][errors]") {
    TinyData data;
    TempDir out;
    struct Bad {
        const char* args;
        const char* message;
    };
    const Bad cases[] = {
        {"--lr -1", "-l/--lr must be a finite number > 0, got -1"},
        {"--lr 0", "-l/--lr must be a finite number > 0, got 0"},
        {"--lr nan", "-l/--lr must be a finite number > 0, got nan"},
        {"--lr inf", "-l/--lr must be a finite number > 0, got inf"},
        {"--beta1 2", "--beta1 must be in [0, 1), got 2"},
        {"--beta2 1", "--beta2 must be in [0, 1), got 1"},
        {"--eps 0", "--eps must be a finite number > 0, got 0"},
        {"--weight-decay -1", "-c/--weight-decay must be a finite number >= 0, got -1"},
        {"-c -inf", "-c/--weight-decay must be a finite number >= 0, got -inf"},
        {"--final-lr-frac 1.5", "-q/--final-lr-frac must be in [0, 1], got 1.5"},
        {"--decay-frac -0.1", "--decay-frac must be in [0, 1], got -0.1"},
        {"--grad-clip -1", "--grad-clip must be a finite number >= 0 (0 = off), got -1"},
        {"--temperature -0.5", "--temperature must be a finite number >= 0 (0 = greedy), got -0.5"},
        {"--temperature NaN", "--temperature must be a finite number >= 0 (0 = greedy), got nan"},
        {"--top-k -3", "--top-k must be at least 0, got -3"},
        {"--peak-gflops 0", "--peak-gflops must be a finite number > 0, got 0"},
        {"-b 0", "-b/--batch must be at least 1, got 0"},
        {"-t -4", "-t/--seq must be at least 0, got -4"},
        {"-d -64", "-d/--total-batch must be at least 0, got -64"},
        {"-x 0", "-x/--steps must be at least 1, got 0"},
        {"-u -1", "-u/--warmup must be at least 0, got -1"},
        {"-m 0", "-m/--val-batches must be at least 1, got 0"},
        {"-v -1", "-v/--val-every must be at least 0, got -1"},
        {"-g -1", "-g/--gen-tokens must be at least 0, got -1"},
        {"--schedule linear", "--schedule must be cosine or wsd, got 'linear'"},
    };
    for (const Bad& bad : cases) {
        for (const std::string& trainer : {LLAMA + data.flags(), GPT2 + " --model gpt2-tiny -b 4 -t 16"}) {
            RunResult r = run_command(trainer + " " + bad.args + " -o " + (out / "run"));
            INFO(trainer << " " << bad.args << "\n" << r.output);
            CHECK(r.status == 1);
            CHECK(has(r.output, std::string("error: ") + bad.message));
        }
    }
    // the edges of each range are accepted: they mean something
    RunResult r = run_command(LLAMA + data.flags() + " -x 1 -m 1 -q 0 --decay-frac 1 -c 0 --beta1 0 --grad-clip 0 "
                              "--temperature 0 --top-k 0 -o " + (out / "edges"));
    INFO(r.output);
    CHECK(r.status == 0);
}
