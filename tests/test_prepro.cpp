// tests/test_prepro.cpp: build/prepro, run as a subprocess. Bad input fails
// with exit status 1 and a message naming the problem; good input gives
// llm.c shards whose tokens decode back to exactly the stories, each after
// one <|endoftext|>, a loadable tokenizer.bin, and data train_llama trains on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../common/shard.h"
#include "../tokenizer/tokenizer.h"
#include "test_util.h"

namespace {

const std::string SHARED = "../shared/data";
const std::string TRAIN_HEAD = SHARED + "/tinystories/train_head.txt";
const std::string TRAIN_CONT = SHARED + "/tinystories/train_cont_recased.txt";
const std::string VALID_HEAD = SHARED + "/tinystories/valid_head.txt";

std::string read_text(const std::string& path) {
    std::vector<char> b = read_all_bytes(path);
    return std::string(b.begin(), b.end());
}

void write_text(const std::string& path, const std::string& s) { write_all_bytes(path, s.data(), s.size()); }

RunResult prepro(const std::string& args) { return run_command("build/prepro " + args); }

// Runs prepro expecting failure; returns its output.
std::string prepro_fails(const std::string& args) {
    RunResult r = prepro(args);
    INFO("prepro " << args << "\n" << r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("error: ") != std::string::npos);
    return r.output;
}

bool has(const std::string& out, const std::string& what) {
    if (out.find(what) != std::string::npos) return true;
    UNSCOPED_INFO("output does not contain \"" << what << "\":\n" << out);
    return false;
}

// The first `bytes` bytes of a shared file, cut after a whole story.
std::string head_stories(const std::string& path, size_t bytes) {
    std::string text = read_text(path);
    size_t k = text.rfind(EOT_TEXT, bytes);
    REQUIRE(k != std::string::npos);
    return text.substr(0, k + strlen(EOT_TEXT)) + "\n";
}

struct ShardHeader {
    int magic, version, count;
    size_t file_bytes;
};

ShardHeader shard_header(const std::string& path) {
    std::vector<char> b = read_all_bytes(path);
    REQUIRE(b.size() >= 1024);
    int h[3];
    memcpy(h, b.data(), sizeof h);
    return {h[0], h[1], h[2], b.size()};
}

Tokenizer load_tok(const std::string& path) {
    Tokenizer tok;
    std::string err;
    bool ok = tokenizer_load(&tok, path, &err);
    INFO(err);
    REQUIRE(ok);
    return tok;
}

// What the shards of one split must decode to: "<|endoftext|>" + story, for
// every story, in order.
std::string expected_stream(const std::vector<std::string_view>& docs) {
    std::string s;
    for (auto d : docs) s += std::string(EOT_TEXT) + std::string(d);
    return s;
}

// All tokens of DIR/<split>_000000.bin, _000001.bin, ... in order.
std::vector<uint32_t> read_split(const std::string& dir, const char* split, int vocab, size_t* shards = nullptr) {
    std::vector<uint32_t> all;
    size_t k = 0;
    for (;; k++) {
        char name[64];
        snprintf(name, sizeof name, "/%s_%06zu.bin", split, k);
        if (!path_exists(dir + name)) break;
        std::vector<uint32_t> t = read_shard(dir + name, vocab);
        all.insert(all.end(), t.begin(), t.end());
    }
    if (shards) *shards = k;
    return all;
}

std::string decode_all(const Tokenizer& tok, const std::vector<uint32_t>& ids) {
    std::vector<int> v(ids.begin(), ids.end());
    return tokenizer_decode(tok, v.data(), v.size());
}

// "val  : ... tokens (N text + ...), X bytes/token" from prepro's summary.
double reported_bytes_per_token(const std::string& out, const char* split) {
    size_t k = out.find(std::string(split) + (strlen(split) == 3 ? "  : " : ": "));
    REQUIRE(k != std::string::npos);
    size_t e = out.find(" bytes/token", k);
    REQUIRE(e != std::string::npos);
    size_t b = out.rfind(' ', e - 1);
    return atof(out.substr(b + 1, e - b - 1).c_str());
}

}  // namespace

TEST_CASE("prepro: bad input fails with a clear message and exit status 1", "[prepro][errors]") {
    TempDir tmp;
    std::string train = tmp / "train.txt", val = tmp / "val.txt", out = tmp / "out";
    write_text(train, "One story.\n<|endoftext|>\nAnother story.\n");
    write_text(val, "A val story.\n");
    std::string io = " --val " + val + " --out " + out;

    SECTION("missing input file") {
        std::string o = prepro_fails("--train " + (tmp / "nope.txt") + io);
        CHECK(has(o, "cannot open " + (tmp / "nope.txt") + ": No such file or directory"));
        o = prepro_fails("--train " + train + " --val " + (tmp / "nope.txt") + " --out " + out);
        CHECK(has(o, "cannot open " + (tmp / "nope.txt")));
    }
    SECTION("empty file") {
        write_text(tmp / "empty.txt", "");
        CHECK(has(prepro_fails("--train " + (tmp / "empty.txt") + io), (tmp / "empty.txt") + " is empty"));
        CHECK(has(prepro_fails("--train " + train + " --val " + (tmp / "empty.txt") + " --out " + out),
                  (tmp / "empty.txt") + " is empty"));
    }
    SECTION("only separators and whitespace") {
        write_text(tmp / "blank.txt", "\n<|endoftext|>\n  \n<|endoftext|>\n");
        CHECK(has(prepro_fails("--train " + (tmp / "blank.txt") + io), "blank.txt: no stories found"));
    }
    SECTION("a directory given as a file") {
        CHECK(has(prepro_fails("--train " + tmp.path + io), tmp.path + " is a directory, expected a file"));
    }
    SECTION("--vocab below 257, above the maximum, not a number") {
        CHECK(has(prepro_fails("--train " + train + io + " --vocab 256"), "--vocab 256 is too small: need at least 257"));
        CHECK(has(prepro_fails("--train " + train + io + " --vocab -3"), "--vocab -3 is too small"));
        std::string too_big = std::to_string(TOKENIZER_MAX_VOCAB + 1);
        CHECK(has(prepro_fails("--train " + train + io + " --vocab " + too_big),
                  "--vocab " + too_big + " is too large: the tokenizer format allows at most " +
                      std::to_string(TOKENIZER_MAX_VOCAB)));
        CHECK(has(prepro_fails("--train " + train + io + " --vocab 4k"), "--vocab expects an integer, got '4k'"));
    }
    SECTION("corrupt --tokenizer file") {
        std::vector<uint8_t> junk(3000, 7);
        write_all_bytes(tmp / "tok.bin", junk.data(), junk.size());
        CHECK(has(prepro_fails("--train " + train + io + " --tokenizer " + (tmp / "tok.bin")),
                  (tmp / "tok.bin") + ": bad magic 117901063"));
        CHECK(has(prepro_fails("--train " + train + io + " --tokenizer " + (tmp / "none.bin")),
                  "cannot open " + (tmp / "none.bin")));
        // llm.c's decode-only file cannot encode
        std::vector<uint8_t> llmc(1024, 0);
        uint32_t h[3] = {(uint32_t)LLMC_TOKENIZER_MAGIC, 2, 1};
        memcpy(llmc.data(), h, sizeof h);
        llmc.push_back(1);
        llmc.push_back('a');
        write_all_bytes(tmp / "llmc.bin", llmc.data(), llmc.size());
        CHECK(has(prepro_fails("--train " + train + io + " --tokenizer " + (tmp / "llmc.bin")), "is decode-only"));
    }
    SECTION("the same file as train and val") {
        CHECK(has(prepro_fails("--train " + train + " --val " + tmp.path + "/./train.txt --out " + out),
                  "is given as both --train and --val"));
    }
    SECTION("missing or conflicting arguments") {
        CHECK(has(prepro_fails("--val " + val), "--train FILE... is required"));
        CHECK(has(prepro_fails("--train " + train), "--val FILE is required"));
        CHECK(has(prepro_fails("--train " + train + io + " --gpt2 --vocab 300"), "give only one of"));
        CHECK(has(prepro_fails("--train " + train + io + " --bogus"), "unknown argument '--bogus'"));
        CHECK(has(prepro_fails("--train " + train + io + " --gpt2 --gpt2-dir " + tmp.path),
                  "cannot open " + tmp.path + "/encoder.json"));
    }
    SECTION("malformed JSONL names the line") {
        write_text(tmp / "bad.jsonl", "{\"text\": \"fine\"}\n{\"txt\": \"no text field\"}\n");
        CHECK(has(prepro_fails("--train " + (tmp / "bad.jsonl") + io), (tmp / "bad.jsonl") + ":2: no \"text\" field"));
        write_text(tmp / "bad.jsonl", "{\"text\": 12}\n");
        CHECK(has(prepro_fails("--train " + (tmp / "bad.jsonl") + io), ":1: field \"text\" is not a string"));
    }
    SECTION("an output path that is a file") {
        CHECK(has(prepro_fails("--train " + train + " --val " + val + " --out " + train + "/out"),
                  train + " is not a directory"));
    }
}

TEST_CASE("prepro: small input gives llm.c shards that decode to the stories", "[prepro]") {
    TempDir tmp;
    std::string train_text = head_stories(TRAIN_HEAD, 200000), val_text = head_stories(VALID_HEAD, 50000);
    std::string train = tmp / "train.txt", val = tmp / "val.txt", out = tmp / "out";
    write_text(train, train_text);
    write_text(val, val_text);
    RunResult r = prepro("--train " + train + " --val " + val + " --vocab 512 --out " + out);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "vocab 512, eot 511, uint16 shards"));

    Tokenizer tok = load_tok(out + "/tokenizer.bin");
    CHECK(tok.can_encode);
    CHECK(tok.vocab_size == 512);
    CHECK(tok.eot_id == 511);
    for (const char* split : {"train", "val"}) {
        INFO(split);
        std::string path = out + "/" + split + "_000000.bin";
        ShardHeader h = shard_header(path);
        CHECK(h.magic == 20240520);
        CHECK(h.version == 1);  // uint16 tokens
        CHECK(h.file_bytes == 1024 + 2 * (size_t)h.count);
        CHECK_FALSE(path_exists(out + "/" + split + "_000001.bin"));
        std::vector<uint32_t> ids = read_shard(path, tok.vocab_size);
        REQUIRE(ids.size() == (size_t)h.count);
        CHECK(ids[0] == (uint32_t)tok.eot_id);  // generation starts from eot
        std::vector<std::string_view> docs = split_documents(std::string(split) == "train" ? train_text : val_text);
        CHECK((size_t)std::count(ids.begin(), ids.end(), (uint32_t)tok.eot_id) == docs.size());
        CHECK_SAME(decode_all(tok, ids), expected_stream(docs));
        CHECK(has(r.output, std::to_string(docs.size()) + " stories"));
        CHECK(has(r.output, std::to_string(ids.size()) + " tokens"));
    }

    SECTION("the same input gives the same bytes, and --tokenizer reuses the vocabulary") {
        std::string out2 = tmp / "out2", out3 = tmp / "out3";
        REQUIRE(prepro("--train " + train + " --val " + val + " --vocab 512 --out " + out2).status == 0);
        REQUIRE(prepro("--train " + train + " --val " + val + " --tokenizer " + out + "/tokenizer.bin --out " + out3).status == 0);
        for (const char* f : {"/tokenizer.bin", "/train_000000.bin", "/val_000000.bin"}) {
            INFO(f);
            CHECK_SAME(read_all_bytes(out + f), read_all_bytes(out2 + f));
            CHECK_SAME(read_all_bytes(out + f), read_all_bytes(out3 + f));
        }
    }
    SECTION("--shard-size splits the same tokens over several shards; a rerun removes stale ones") {
        std::string out2 = tmp / "out2";
        RunResult r2 = prepro("--train " + train + " --val " + val + " --tokenizer " + out + "/tokenizer.bin --shard-size 10000 --out " + out2);
        INFO(r2.output);
        REQUIRE(r2.status == 0);
        size_t shards = 0;
        std::vector<uint32_t> split = read_split(out2, "train", 512, &shards);
        CHECK(shards > 2);
        CHECK(shard_header(out2 + "/train_000000.bin").count == 10000);
        CHECK_SAME(split, read_shard(out + "/train_000000.bin", 512));
        RunResult r3 = prepro("--train " + train + " --val " + val + " --tokenizer " + out + "/tokenizer.bin --out " + out2);
        REQUIRE(r3.status == 0);
        CHECK(has(r3.output, "removed stale " + out2 + "/train_000001.bin"));
        CHECK_FALSE(path_exists(out2 + "/train_000001.bin"));
        CHECK_SAME(read_split(out2, "train", 512), split);
    }
    SECTION("train_llama trains 2 steps on the output") {
        // One thread: the model is tiny, and OpenMP threads spinning on two
        // shared cores can make each step take seconds.
        std::string cmd = "OMP_NUM_THREADS=1 ./train_llama -i '" + out + "/train_*.bin' -j '" + out + "/val_*.bin' -z " +
                          out + "/tokenizer.bin --vocab 512 --dim 32 --layers 2 --heads 4 --kv-heads 2 --hidden 48 " +
                          "--seq-len 32 -b 2 -t 32 -x 2 -m 1 -g 8 -o " + (tmp / "run");
        RunResult t = run_command(cmd);
        INFO(cmd << "\n" << t.output);
        REQUIRE(t.status == 0);
        CHECK(has(t.output, "step     2/2 | loss "));
        CHECK(has(t.output, "val bits/byte"));  // the tokenizer was loaded and used
        CHECK(path_exists(tmp / "run/ckpt_000002.bin"));
    }
}

TEST_CASE("prepro: text that is not valid UTF-8 still works", "[prepro][utf8]") {
    TempDir tmp;
    std::string train_text = head_stories(TRAIN_HEAD, 30000);
    // Sprinkle invalid bytes, NULs and truncated sequences into the stories.
    const std::string junk[] = {"\xff", "\x80\x80", "\xc3", "\xed\xa0\x80", std::string(1, '\0'), "\xf0\x9f"};
    std::string dirty;
    for (size_t i = 0; i < train_text.size(); i++) {
        dirty.push_back(train_text[i]);
        if (i % 97 == 13) dirty += junk[i % 6];
    }
    std::string val_text = "Caf\xe9 in Latin-1, not UTF-8.\n<|endoftext|>\n\xfe\xff binary \x01\x02 story\n";
    write_text(tmp / "train.txt", dirty);
    write_text(tmp / "val.txt", val_text);
    RunResult r = prepro("--train " + (tmp / "train.txt") + " --val " + (tmp / "val.txt") + " --vocab 400 --out " + (tmp / "out"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "invalid UTF-8 sequences; they are encoded byte by byte"));
    Tokenizer tok = load_tok(tmp / "out/tokenizer.bin");
    CHECK_SAME(decode_all(tok, read_split(tmp / "out", "train", tok.vocab_size)), expected_stream(split_documents(dirty)));
    CHECK_SAME(decode_all(tok, read_split(tmp / "out", "val", tok.vocab_size)), expected_stream(split_documents(val_text)));
}

TEST_CASE("prepro: JSONL input with a \"text\" field", "[prepro][jsonl]") {
    TempDir tmp;
    std::string jsonl =
        "{\"text\": \"Once upon a time, Tom ran.\\nThe end.\", \"id\": 1}\n"
        "\n"
        "{\"id\": 2, \"meta\": {\"a\": [1, 2.5e3, {\"b\": null}], \"t\": true}, \"text\": \"Caf\\u00e9 \\ud83d\\ude00 \\\"hi\\\"\"}\n"
        "{\"text\": \"  padded story \\t\\n\"}\n"
        "{\"text\": \"a <|endoftext|> inside JSON is plain text\"}\n";
    std::vector<std::string> stories = {"Once upon a time, Tom ran.\nThe end.", "Caf\xc3\xa9 \xf0\x9f\x98\x80 \"hi\"",
                                        "padded story", "a <|endoftext|> inside JSON is plain text"};
    write_text(tmp / "train.jsonl", jsonl);
    write_text(tmp / "val.txt", jsonl);  // no .jsonl extension: detected by its first character '{'
    RunResult r = prepro("--train " + (tmp / "train.jsonl") + " --val " + (tmp / "val.txt") + " --gpt2 --out " + (tmp / "out"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    Tokenizer tok = load_tok(tmp / "out/tokenizer.bin");
    std::string want;
    for (const auto& s : stories) want += std::string(EOT_TEXT) + s;
    for (const char* split : {"train", "val"}) {
        std::vector<uint32_t> ids = read_split(tmp / "out", split, tok.vocab_size);
        INFO(split);
        CHECK_SAME(decode_all(tok, ids), want);
        CHECK(std::count(ids.begin(), ids.end(), (uint32_t)GPT2_EOT_ID) == 4);  // the literal in story 4 is text
    }
}

TEST_CASE("prepro --gpt2: uint16 shards with GPT-2's ids", "[prepro][gpt2]") {
    TempDir tmp;
    std::string train_text = head_stories(TRAIN_HEAD, 20000), val_text = head_stories(VALID_HEAD, 10000);
    write_text(tmp / "train.txt", train_text);
    write_text(tmp / "val.txt", val_text);
    RunResult r = prepro("--train " + (tmp / "train.txt") + " --val " + (tmp / "val.txt") + " --gpt2 --out " + (tmp / "out"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "vocab 50257, eot 50256, uint16 shards"));
    ShardHeader h = shard_header(tmp / "out/train_000000.bin");
    CHECK(h.magic == 20240520);
    CHECK(h.version == 1);
    CHECK(h.file_bytes == 1024 + 2 * (size_t)h.count);
    std::vector<uint32_t> ids = read_shard(tmp / "out/train_000000.bin", 50257);  // dies on an id >= 50257
    CHECK(ids[0] == 50256u);
    CHECK(*std::max_element(ids.begin(), ids.end()) < 50257u);
    // The saved tokenizer.bin is GPT-2 in our format: it encodes like GPT-2.
    Tokenizer saved = load_tok(tmp / "out/tokenizer.bin"), gpt2;
    std::string err;
    REQUIRE(tokenizer_load_gpt2_dir(&gpt2, SHARED + "/gpt2", &err));
    CHECK(saved.vocab_size == 50257);
    CHECK(saved.eot_id == 50256);
    std::vector<std::string_view> docs = split_documents(train_text);
    std::vector<uint32_t> want;
    for (auto d : docs) {
        want.push_back(50256);
        for (int id : tokenizer_encode(gpt2, d)) want.push_back((uint32_t)id);
    }
    CHECK_SAME(ids, want);
    CHECK_SAME(decode_all(saved, ids), expected_stream(docs));
}

TEST_CASE("prepro: vocab 4096 on the shared train files gives >= 3.5 bytes/token on valid_head.txt", "[prepro][quality]") {
    TempDir tmp;
    RunResult r = prepro("--train " + TRAIN_HEAD + " " + TRAIN_CONT + " --val " + VALID_HEAD + " --vocab 4096 --out " + tmp.path);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "vocab 4096, eot 4095, uint16 shards"));
    // Recount from the shard rather than trusting the summary line.
    Tokenizer tok = load_tok(tmp / "tokenizer.bin");
    std::vector<uint32_t> ids = read_split(tmp.path, "val", 4096);
    std::vector<std::string_view> docs = split_documents(read_text(VALID_HEAD));
    size_t bytes = 0;
    for (auto d : docs) bytes += d.size();
    size_t text_tokens = ids.size() - docs.size();  // one eot per story
    double bpt = (double)bytes / text_tokens;
    INFO(bytes << " bytes, " << text_tokens << " text tokens: " << bpt << " bytes/token");
    CHECK(bpt >= 3.5);
    CHECK(reported_bytes_per_token(r.output, "val") == Approx(bpt).epsilon(1e-3));
}
