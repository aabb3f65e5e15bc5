// tests/test_export_gguf.cpp: build/export --format gguf and --format llama2c,
// and train_llama -e on llama2.c model files. The files are read back by
// readers written here, independently of the writers: GGUF's container,
// llama2.c's weight order (laid out by hand below) and run.c's tokenizer
// rules (common/llama2c.h's llama2c_encode, checked against our BPE).
#include <catch2/catch.hpp>

#include <map>

#include "../tokenizer/tokenizer.h"
#include "../common/gguf.h"
#include "../common/llama2c.h"
#include "../common/shard.h"
#include "../export/models.h"
#include "test_util.h"

namespace {

const std::string TRAIN_HEAD = "../shared/data/tinystories/train_head.txt";
const std::string VALID_HEAD = "../shared/data/tinystories/valid_head.txt";

std::string read_text(const std::string& path) {
    std::vector<char> b = read_all_bytes(path);
    return std::string(b.begin(), b.end());
}

// A vocabulary trained on the first 300 KB of TinyStories: small enough to
// train in a moment, large enough for real words. 512 tokens by default.
const Tokenizer& small_tok(int vocab = 512) {
    static std::map<int, Tokenizer> cache;
    if (!cache.count(vocab)) {
        std::string text = read_text(TRAIN_HEAD).substr(0, 300000);
        ChunkCounts counts;
        count_chunks(&counts, split_documents(text));
        TrainOptions opt;
        opt.vocab_size = vocab;
        std::string err;
        if (!tokenizer_train(&cache[vocab], counts, opt, &err)) die("tokenizer_train: %s", err.c_str());
    }
    return cache[vocab];
}

// Every parameter gets a distinct random value, norms and biases included,
// so a tensor written from the wrong place shows.
void fill_random(float* p, size_t n, uint64_t seed) {
    Rng rng = rng_make(seed);
    for (size_t i = 0; i < n; i++) p[i] = 0.5f * rng_normal(&rng);
}

llama::LlamaConfig tiny_llama_config(bool tied) {
    llama::LlamaConfig c;
    c.V = 512; c.C = 32; c.L = 2; c.NH = 4; c.NKV = 2; c.H = 72; c.maxT = 16; c.tied = tied ? 1 : 0;
    return c;
}

// A parameters-only checkpoint of a tiny Llama with random parameters.
void make_llama(llama::Llama* m, const llama::LlamaConfig& c, const std::string& ckpt) {
    llama::llama_build(m, c);
    fill_random(m->params_memory, m->num_params, 7);
    TrainState st{};
    llama::llama_save_checkpoint(m, ckpt, st);
}

void make_gpt2(gpt2::GPT2* m, const std::string& ckpt) {
    gpt2::GPT2Config c;
    c.maxT = 24; c.V = 500; c.Vp = 512; c.L = 2; c.NH = 4; c.C = 36;  // llm.c pads the vocabulary
    gpt2::gpt2_build(m, c);
    fill_random(m->params_memory, m->num_params, 11);
    TrainState st{};
    gpt2::gpt2_save_checkpoint(m, ckpt, st);
}

// ---- an independent GGUF reader ---------------------------------------------

struct GValue {
    uint32_t type = 0, arr_type = 0;
    uint64_t u = 0;    // unsigned and bool scalars
    float f = 0.0f;    // FLOAT32
    std::string s;     // STRING
    std::vector<std::string> strs;  // array of STRING
    std::vector<int64_t> ints;      // array of integers
};

struct GInfo {
    std::vector<uint64_t> dims;
    uint32_t type = 0;
    uint64_t offset = 0;
};

struct GFile {
    uint32_t version = 0;
    std::map<std::string, GValue> kv;
    std::vector<std::string> names;  // tensors in file order
    std::map<std::string, GInfo> info;
    uint64_t data_start = 0;
    std::vector<char> bytes;
};

struct Cursor {
    const std::vector<char>& b;
    size_t at = 0;
    void need(size_t n) {
        if (at + n > b.size()) FAIL("GGUF truncated at byte " << at << " (need " << n << " more)");
    }
    template <typename T>
    T get() {
        need(sizeof(T));
        T v;
        memcpy(&v, &b[at], sizeof v);
        at += sizeof v;
        return v;
    }
    std::string str() {
        uint64_t n = get<uint64_t>();
        need(n);
        std::string s(&b[at], n);
        at += n;
        return s;
    }
};

// Integer scalar of GGUF type t (0..5, 10, 11) as int64.
int64_t read_int(Cursor* c, uint32_t t) {
    switch (t) {
        case 0: return c->get<uint8_t>();
        case 1: return c->get<int8_t>();
        case 2: return c->get<uint16_t>();
        case 3: return c->get<int16_t>();
        case 4: return c->get<uint32_t>();
        case 5: return c->get<int32_t>();
        case 10: return (int64_t)c->get<uint64_t>();
        case 11: return c->get<int64_t>();
    }
    FAIL("not an integer type " << t);
    return 0;
}

GFile read_gguf(const std::string& path) {
    GFile g;
    g.bytes = read_all_bytes(path);
    Cursor c{g.bytes};
    REQUIRE(c.get<uint32_t>() == 0x46554747u);
    g.version = c.get<uint32_t>();
    uint64_t n_tensors = c.get<uint64_t>(), n_kv = c.get<uint64_t>();
    for (uint64_t i = 0; i < n_kv; i++) {
        std::string key = c.str();
        GValue v;
        v.type = c.get<uint32_t>();
        if (v.type == 8) v.s = c.str();
        else if (v.type == 6) v.f = c.get<float>();
        else if (v.type == 7) v.u = c.get<uint8_t>();
        else if (v.type == 9) {
            v.arr_type = c.get<uint32_t>();
            uint64_t n = c.get<uint64_t>();
            for (uint64_t j = 0; j < n; j++) {
                if (v.arr_type == 8) v.strs.push_back(c.str());
                else v.ints.push_back(read_int(&c, v.arr_type));
            }
        } else {
            v.u = (uint64_t)read_int(&c, v.type);
        }
        INFO("key " << key);
        REQUIRE(g.kv.count(key) == 0);
        g.kv[key] = v;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        std::string name = c.str();
        GInfo t;
        uint32_t nd = c.get<uint32_t>();
        for (uint32_t d = 0; d < nd; d++) t.dims.push_back(c.get<uint64_t>());
        t.type = c.get<uint32_t>();
        t.offset = c.get<uint64_t>();
        INFO("tensor " << name);
        REQUIRE(g.info.count(name) == 0);
        g.names.push_back(name);
        g.info[name] = t;
    }
    uint64_t align = g.kv.count("general.alignment") ? g.kv["general.alignment"].u : 32;
    g.data_start = (c.at + align - 1) / align * align;
    // every tensor's data is aligned, inside the file and overlaps no other
    uint64_t end = 0;
    for (const std::string& name : g.names) {
        const GInfo& t = g.info[name];
        uint64_t n = 1;
        for (uint64_t d : t.dims) n *= d;
        uint64_t bytes = n * (t.type == 1 ? 2 : 4);
        INFO("tensor " << name);
        CHECK(t.offset % align == 0);
        CHECK(t.offset >= end);
        end = t.offset + bytes;
        CHECK(g.data_start + end <= g.bytes.size());
    }
    return g;
}

float half_to_float(uint16_t h) {
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? std::ldexp((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp((float)(1024 + m), e - 25);
    return sign ? -v : v;
}

// Checks one tensor's name, type, dims (innermost first) and data.
void check_tensor(const GFile& g, const std::string& name, std::vector<uint64_t> dims, bool f16, const float* want) {
    INFO("tensor " << name);
    REQUIRE(g.info.count(name) == 1);
    const GInfo& t = g.info.at(name);
    CHECK(t.dims == dims);
    CHECK(t.type == (f16 ? 1u : 0u));
    size_t n = 1;
    for (uint64_t d : dims) n *= d;
    const char* data = &g.bytes[g.data_start + t.offset];
    if (!f16) {
        CHECK(memcmp(data, want, n * 4) == 0);
        return;
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, data + 2 * i, 2);
        // round to nearest: within half a unit in the last place of an 11-bit significand
        float err = std::fabs(half_to_float(h) - want[i]);
        if (!(err <= std::ldexp(std::fabs(want[i]), -11) + std::ldexp(1.0f, -25))) bad++;
    }
    CHECK(bad == 0);
}

void check_tokenizer_kv(const GFile& g, const Tokenizer& tok) {
    const GValue& tokens = g.kv.at("tokenizer.ggml.tokens");
    REQUIRE(tokens.strs.size() == (size_t)tok.vocab_size);
    CHECK(g.kv.at("tokenizer.ggml.model").s == "gpt2");
    CHECK(g.kv.at("tokenizer.ggml.pre").s == "gpt-2");
    // bytes_to_unicode by hand: printable Latin-1 stays, the rest shifts to U+0100 + n
    CHECK(tokens.strs[tok.byte_to_id[' ']] == "\xC4\xA0");   // Ġ
    CHECK(tokens.strs[tok.byte_to_id['\n']] == "\xC4\x8A");  // Ċ
    CHECK(tokens.strs[tok.byte_to_id['a']] == "a");
    CHECK(tokens.strs[tok.byte_to_id[0xAD]] == "\xC5\x83");  // soft hyphen → Ń (U+0143)
    CHECK(tokens.strs[tok.byte_to_id[0xFF]] == "\xC3\xBF");  // ÿ
    CHECK(tokens.strs[tok.eot_id] == "<|endoftext|>");
    size_t bad = 0;
    for (int i = 0; i < tok.vocab_size; i++)
        if (i != tok.eot_id && tokens.strs[i] != gpt2_byte_string(tok.tokens[i])) bad++;
    CHECK(bad == 0);
    const GValue& types = g.kv.at("tokenizer.ggml.token_type");
    REQUIRE(types.ints.size() == (size_t)tok.vocab_size);
    CHECK(types.ints[tok.eot_id] == 3);
    CHECK(std::count(types.ints.begin(), types.ints.end(), 1) == tok.vocab_size - 1);
    const GValue& merges = g.kv.at("tokenizer.ggml.merges");
    REQUIRE(merges.strs.size() == tok.merges.size());
    for (size_t r = 0; r < tok.merges.size(); r++) {
        const BpeMerge& m = tok.merges[r];
        INFO("merge " << r);
        REQUIRE(merges.strs[r] == tokens.strs[m.left] + " " + tokens.strs[m.right]);
    }
    CHECK(g.kv.at("tokenizer.ggml.bos_token_id").u == (uint64_t)tok.eot_id);
    CHECK(g.kv.at("tokenizer.ggml.eos_token_id").u == (uint64_t)tok.eot_id);
}

void check_llama_gguf(const std::string& path, const llama::Llama& m, const Tokenizer& tok, bool f16) {
    GFile g = read_gguf(path);
    const llama::LlamaConfig& c = m.config;
    const uint64_t V = c.V, C = c.C, L = c.L, NH = c.NH, NKV = c.NKV, H = c.H, HS = C / NH;
    CHECK(g.version == 3);
    CHECK(g.kv.at("general.architecture").s == "llama");
    CHECK(g.kv.at("general.alignment").u == 32);
    CHECK(g.kv.at("general.file_type").u == (f16 ? 1u : 0u));
    CHECK(g.kv.at("llama.context_length").u == (uint64_t)c.maxT);
    CHECK(g.kv.at("llama.embedding_length").u == C);
    CHECK(g.kv.at("llama.block_count").u == L);
    CHECK(g.kv.at("llama.feed_forward_length").u == H);
    CHECK(g.kv.at("llama.attention.head_count").u == NH);
    CHECK(g.kv.at("llama.attention.head_count_kv").u == NKV);
    CHECK(g.kv.at("llama.attention.layer_norm_rms_epsilon").f == c.norm_eps);
    CHECK(g.kv.at("llama.rope.freq_base").f == c.rope_theta);
    CHECK(g.kv.at("llama.rope.dimension_count").u == HS);
    check_tokenizer_kv(g, tok);

    // the blob's layout, spelled out here: wte, rms_att, wqkv, wo, rms_ffn, w13, w2, rms_final, wcls
    const float* p = m.params_memory;
    const float* wte = p;
    const float* rms_att = wte + V * C;
    const float* wqkv = rms_att + L * C;
    const float* wo = wqkv + L * (NH + 2 * NKV) * HS * C;
    const float* rms_ffn = wo + L * C * C;
    const float* w13 = rms_ffn + L * C;
    const float* w2 = w13 + L * 2 * H * C;
    const float* rms_final = w2 + L * C * H;
    const float* wcls = rms_final + C;
    size_t expect_tensors = 1 + 9 * L + 1 + (c.tied ? 0 : 1);
    CHECK(g.names.size() == expect_tensors);
    check_tensor(g, "token_embd.weight", {C, V}, f16, wte);
    for (uint64_t l = 0; l < L; l++) {
        std::string b = "blk." + std::to_string(l) + ".";
        const float* qkv = wqkv + l * (NH + 2 * NKV) * HS * C;
        check_tensor(g, b + "attn_norm.weight", {C}, false, rms_att + l * C);
        check_tensor(g, b + "attn_q.weight", {C, NH * HS}, f16, qkv);
        check_tensor(g, b + "attn_k.weight", {C, NKV * HS}, f16, qkv + NH * HS * C);
        check_tensor(g, b + "attn_v.weight", {C, NKV * HS}, f16, qkv + (NH + NKV) * HS * C);
        check_tensor(g, b + "attn_output.weight", {C, C}, f16, wo + l * C * C);
        check_tensor(g, b + "ffn_norm.weight", {C}, false, rms_ffn + l * C);
        check_tensor(g, b + "ffn_gate.weight", {C, H}, f16, w13 + l * 2 * H * C);
        check_tensor(g, b + "ffn_up.weight", {C, H}, f16, w13 + l * 2 * H * C + H * C);
        check_tensor(g, b + "ffn_down.weight", {H, C}, f16, w2 + l * C * H);
    }
    check_tensor(g, "output_norm.weight", {C}, false, rms_final);
    if (!c.tied) check_tensor(g, "output.weight", {C, V}, f16, wcls);
}

std::string export_cmd(const std::string& ckpt, const std::string& tok, const std::string& args) {
    return "./build/export -e " + ckpt + " -z " + tok + " " + args;
}

}  // namespace

TEST_CASE("float_to_half rounds to nearest even", "[export][gguf]") {
    CHECK(float_to_half(1.0f) == 0x3C00);
    CHECK(float_to_half(-2.0f) == 0xC000);
    CHECK(float_to_half(0.0f) == 0x0000);
    CHECK(float_to_half(-0.0f) == 0x8000);
    CHECK(float_to_half(0.1f) == 0x2E66);
    CHECK(float_to_half(65504.0f) == 0x7BFF);               // the largest half
    CHECK(float_to_half(65519.0f) == 0x7BFF);
    CHECK(float_to_half(65520.0f) == 0x7C00);               // the tie rounds to even: infinity
    CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);      // tie → even mantissa
    CHECK(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);  // tie → even mantissa (up)
    CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);  // the smallest subnormal
    CHECK(float_to_half(std::ldexp(1.0f, -26)) == 0x0000);  // below half of it
    CHECK(float_to_half(std::ldexp(1.0f, -14)) == 0x0400);  // the smallest normal
    CHECK(float_to_half(INFINITY) == 0x7C00);
    CHECK((float_to_half(NAN) & 0x7C00) == 0x7C00);
    CHECK((float_to_half(NAN) & 0x03FF) != 0);
    // every half's value converts back to itself
    for (uint32_t h = 0; h < 0x7C00; h++) {
        INFO("half " << h);
        REQUIRE(float_to_half(half_to_float((uint16_t)h)) == h);
    }
}

TEST_CASE("GGUF export of a Llama: every tensor, the metadata and the vocabulary", "[export][gguf]") {
    TempDir tmp;
    std::string tok_path = tmp / "tok.bin";
    tokenizer_save(small_tok(), tok_path);
    for (bool tied : {true, false}) {
        for (bool f16 : {false, true}) {
            DYNAMIC_SECTION((tied ? "tied" : "untied") << (f16 ? " f16" : " f32")) {
                llama::Llama m;
                make_llama(&m, tiny_llama_config(tied), tmp / "ckpt.bin");
                std::string out = tmp / "model.gguf";
                RunResult r = run_command(export_cmd(tmp / "ckpt.bin", tok_path, "-f gguf -o " + out +
                                                     (f16 ? " --dtype f16" : "")));
                INFO(r.output);
                REQUIRE(r.status == 0);
                check_llama_gguf(out, m, small_tok(), f16);
                llama::llama_free(&m);
            }
        }
    }
}

TEST_CASE("GGUF export is byte-identical to the gguf package's own writer (committed fixture)", "[export][gguf]") {
    // tests/fixtures/gguf_tiny_{f32,f16}.gguf were written by gguf's GGUFWriter from gguf_tiny_ckpt.bin
    // and gguf_tiny_tok.bin (dev/reference/check_gguf.py --write-fixture): same keys, tensors, values, order
    TempDir tmp;
    for (const char* dtype : {"f32", "f16"}) {
        DYNAMIC_SECTION(dtype) {
            std::string out = tmp / "model.gguf";
            RunResult r = run_command(export_cmd("tests/fixtures/gguf_tiny_ckpt.bin", "tests/fixtures/gguf_tiny_tok.bin",
                                                 std::string("-f gguf --dtype ") + dtype + " -o " + out));
            INFO(r.output);
            REQUIRE(r.status == 0);
            CHECK_SAME(read_all_bytes(out), read_all_bytes(std::string("tests/fixtures/gguf_tiny_") + dtype + ".gguf"));
        }
    }
}

TEST_CASE("GGUF export of a GPT-2: gpt2 architecture, biases, V rows of the padded embedding", "[export][gguf]") {
    TempDir tmp;
    std::string tok_path = tmp / "tok.bin";
    const Tokenizer& tok = small_tok(500);
    tokenizer_save(tok, tok_path);
    gpt2::GPT2 m;
    make_gpt2(&m, tmp / "ckpt.bin");  // V = 500 rows of a 512-row table: only the first V are written
    for (bool f16 : {false, true}) {
        DYNAMIC_SECTION((f16 ? "f16" : "f32")) {
            std::string out = tmp / "model.gguf";
            RunResult r = run_command(export_cmd(tmp / "ckpt.bin", tok_path, "-f gguf -o " + out + (f16 ? " --dtype f16" : "")));
            INFO(r.output);
            REQUIRE(r.status == 0);
            GFile g = read_gguf(out);
            const gpt2::GPT2Config& c = m.config;
            const uint64_t V = c.V, C = c.C, L = c.L, T = c.maxT;
            CHECK(g.kv.at("general.architecture").s == "gpt2");
            CHECK(g.kv.at("gpt2.context_length").u == T);
            CHECK(g.kv.at("gpt2.embedding_length").u == C);
            CHECK(g.kv.at("gpt2.block_count").u == L);
            CHECK(g.kv.at("gpt2.feed_forward_length").u == 4 * C);
            CHECK(g.kv.at("gpt2.attention.head_count").u == (uint64_t)c.NH);
            CHECK(g.kv.at("gpt2.attention.layer_norm_epsilon").f == c.norm_eps);
            check_tokenizer_kv(g, tok);
            // llm.c's blob, spelled out: wte (Vp, C), wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb,
            // ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb
            const float* p = m.params_memory;
            const float* wte = p;
            const float* wpe = wte + (uint64_t)c.Vp * C;
            const float* ln1w = wpe + T * C;
            const float* ln1b = ln1w + L * C;
            const float* qkvw = ln1b + L * C;
            const float* qkvb = qkvw + L * 3 * C * C;
            const float* attprojw = qkvb + L * 3 * C;
            const float* attprojb = attprojw + L * C * C;
            const float* ln2w = attprojb + L * C;
            const float* ln2b = ln2w + L * C;
            const float* fcw = ln2b + L * C;
            const float* fcb = fcw + L * 4 * C * C;
            const float* fcprojw = fcb + L * 4 * C;
            const float* fcprojb = fcprojw + L * C * 4 * C;
            const float* lnfw = fcprojb + L * C;
            const float* lnfb = lnfw + C;
            CHECK(g.names.size() == 2 + 12 * L + 2);
            check_tensor(g, "token_embd.weight", {C, V}, f16, wte);
            check_tensor(g, "position_embd.weight", {C, T}, f16, wpe);
            for (uint64_t l = 0; l < L; l++) {
                std::string b = "blk." + std::to_string(l) + ".";
                check_tensor(g, b + "attn_norm.weight", {C}, false, ln1w + l * C);
                check_tensor(g, b + "attn_norm.bias", {C}, false, ln1b + l * C);
                check_tensor(g, b + "attn_qkv.weight", {C, 3 * C}, f16, qkvw + l * 3 * C * C);
                check_tensor(g, b + "attn_qkv.bias", {3 * C}, false, qkvb + l * 3 * C);
                check_tensor(g, b + "attn_output.weight", {C, C}, f16, attprojw + l * C * C);
                check_tensor(g, b + "attn_output.bias", {C}, false, attprojb + l * C);
                check_tensor(g, b + "ffn_norm.weight", {C}, false, ln2w + l * C);
                check_tensor(g, b + "ffn_norm.bias", {C}, false, ln2b + l * C);
                check_tensor(g, b + "ffn_up.weight", {C, 4 * C}, f16, fcw + l * 4 * C * C);
                check_tensor(g, b + "ffn_up.bias", {4 * C}, false, fcb + l * 4 * C);
                check_tensor(g, b + "ffn_down.weight", {4 * C, C}, f16, fcprojw + l * C * 4 * C);
                check_tensor(g, b + "ffn_down.bias", {C}, false, fcprojb + l * C);
            }
            check_tensor(g, "output_norm.weight", {C}, false, lnfw);
            check_tensor(g, "output_norm.bias", {C}, false, lnfb);
            CHECK(g.info.count("output.weight") == 0);  // tied: llama.cpp reuses token_embd
        }
    }
    gpt2::gpt2_free(&m);
}

namespace {

// llama2.c's file for model m, laid out here from run.c's memory_map_weights
// order: rows of the embedding and classifier at their llama2.c ids.
std::vector<float> expected_llama2c_floats(const llama::Llama& m, const std::vector<int>& map) {
    const llama::LlamaConfig& c = m.config;
    const size_t V = c.V, C = c.C, L = c.L, NH = c.NH, NKV = c.NKV, H = c.H, HS = C / NH, QKV = (NH + 2 * NKV) * HS;
    const llama::ParameterTensors& p = m.params;
    std::vector<float> out;
    auto put = [&](const float* src, size_t n) { out.insert(out.end(), src, src + n); };
    auto put_permuted = [&](const float* w) {
        std::vector<float> rows(V * C);
        for (size_t id = 0; id < V; id++) std::copy(w + id * C, w + id * C + C, &rows[map[id] * C]);
        put(rows.data(), rows.size());
    };
    put_permuted(p.wte);
    put(p.rms_att, L * C);
    for (size_t l = 0; l < L; l++) put(p.wqkv + l * QKV * C, NH * HS * C);
    for (size_t l = 0; l < L; l++) put(p.wqkv + l * QKV * C + NH * HS * C, NKV * HS * C);
    for (size_t l = 0; l < L; l++) put(p.wqkv + l * QKV * C + (NH + NKV) * HS * C, NKV * HS * C);
    put(p.wo, L * C * C);
    put(p.rms_ffn, L * C);
    for (size_t l = 0; l < L; l++) put(p.w13 + l * 2 * H * C, H * C);
    put(p.w2, L * C * H);
    for (size_t l = 0; l < L; l++) put(p.w13 + l * 2 * H * C + H * C, H * C);
    put(p.rms_final, C);
    for (int part = 0; part < 2; part++)
        for (int t = 0; t < c.maxT; t++)
            for (size_t i = 0; i < HS / 2; i++) {
                double a = t * std::pow(10000.0, -2.0 * i / HS);
                out.push_back((float)(part == 0 ? std::cos(a) : std::sin(a)));
            }
    if (!c.tied) put_permuted(p.wcls);
    return out;
}

}  // namespace

TEST_CASE("llama2c export: run.c's layout, and train_llama's import gives the parameters back", "[export][llama2c]") {
    TempDir tmp;
    std::string tok_path = tmp / "tok.bin";
    const Tokenizer& tok = small_tok();
    tokenizer_save(tok, tok_path);
    std::vector<int> map;
    std::string err;
    REQUIRE(llama2c_id_map(tok, &map, &err));
    // the documented permutation: eot → 1, byte b → b + 3, the rest in order in 0, 2, 259, ...
    CHECK(map[tok.eot_id] == 1);
    for (int b = 0; b < 256; b++) CHECK(map[tok.byte_to_id[b]] == b + 3);
    std::vector<int> sorted = map;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < tok.vocab_size; i++) REQUIRE(sorted[i] == i);
    CHECK(map[256] == 0);  // our first merge
    CHECK(map[257] == 2);
    CHECK(map[258] == 259);
    for (bool tied : {true, false}) {
        DYNAMIC_SECTION((tied ? "tied" : "untied")) {
            llama::Llama m;
            make_llama(&m, tiny_llama_config(tied), tmp / "ckpt.bin");
            std::string out = tmp / "model.bin";
            RunResult r = run_command(export_cmd(tmp / "ckpt.bin", tok_path, "-f llama2c -o " + out +
                                                 " --llama2c-tokenizer " + (tmp / "tokenizer.bin")));
            INFO(r.output);
            REQUIRE(r.status == 0);
            std::vector<char> bytes = read_all_bytes(out);
            const llama::LlamaConfig& c = m.config;
            int want_header[7] = {c.C, c.H, c.L, c.NH, c.NKV, tied ? c.V : -c.V, c.maxT};
            REQUIRE(bytes.size() >= 28);
            CHECK(memcmp(bytes.data(), want_header, 28) == 0);
            std::vector<float> want = expected_llama2c_floats(m, map);
            REQUIRE(bytes.size() == 28 + 4 * want.size());
            const float* got = (const float*)(bytes.data() + 28);
            size_t tables = (size_t)c.maxT * (c.C / c.NH);  // the two freq_cis tables: libm may differ in the last bit
            size_t tables_at = want.size() - tables - (tied ? 0 : (size_t)c.V * c.C);
            CHECK(memcmp(got, want.data(), tables_at * 4) == 0);
            for (size_t i = tables_at; i < tables_at + tables; i++) REQUIRE(std::fabs(got[i] - want[i]) <= 1e-6f);
            CHECK(memcmp(got + tables_at + tables, want.data() + tables_at + tables,
                         (want.size() - tables_at - tables) * 4) == 0);

            // import: the same parameters, with the embedding (and head) rows at their llama2.c ids
            Llama2cHeader h;
            REQUIRE(llama2c_probe(out, &h, &err));
            llama::Llama back;
            llama::llama_build(&back, llama::config_from_llama2c(h));
            CHECK(back.config.tied == c.tied);
            CHECK(back.config.H == c.H);
            REQUIRE(back.num_params == m.num_params);
            llama::llama_load_llama2c(&back, out, h);
            size_t C = c.C, wte = (size_t)c.V * C, wcls_at = m.num_params - (tied ? 0 : wte);
            CHECK(memcmp(back.params_memory + wte, m.params_memory + wte, (wcls_at - wte) * 4) == 0);
            size_t bad = 0;
            for (int id = 0; id < c.V; id++) {
                bad += memcmp(back.params.wte + map[id] * C, m.params.wte + id * C, C * 4) != 0;
                if (!tied) bad += memcmp(back.params.wcls + map[id] * C, m.params.wcls + id * C, C * 4) != 0;
            }
            CHECK(bad == 0);
            llama::llama_free(&back);
            llama::llama_free(&m);
        }
    }
}

TEST_CASE("llama2c tokenizer.bin: run.c's rules encode TinyStories as our BPE does", "[export][llama2c]") {
    TempDir tmp;
    const Tokenizer& tok = small_tok();
    std::string tok_path = tmp / "tok.bin";
    tokenizer_save(tok, tok_path);
    llama::Llama m;
    make_llama(&m, tiny_llama_config(true), tmp / "ckpt.bin");
    RunResult r = run_command(export_cmd(tmp / "ckpt.bin", tok_path, "-f llama2c -o " + (tmp / "model.bin")));
    INFO(r.output);
    REQUIRE(r.status == 0);
    llama::llama_free(&m);

    Llama2cVocab v;
    std::string err;
    REQUIRE(llama2c_read_vocab(tmp / "model.bin.tokenizer.bin", tok.vocab_size, &v, &err));
    std::vector<int> map;
    REQUIRE(llama2c_id_map(tok, &map, &err));
    CHECK(v.pieces[1] == "<|endoftext|>");
    CHECK(v.pieces[3] == "<0x00>");  // byte 0: a C string cannot hold it, run.c decodes the <0x..> form
    for (int b = 1; b < 256; b++) CHECK(v.pieces[b + 3] == std::string(1, (char)b));
    size_t longest = 0;
    for (int id = 0; id < tok.vocab_size; id++) longest = std::max(longest, v.pieces[map[id]].size());
    CHECK(v.max_token_length == (int)longest);
    for (size_t r = 0; r < tok.merges.size(); r++) REQUIRE(v.scores[map[tok.merges[r].result]] == -(float)r);
    CHECK(llama2c_decode(v, 1, map[tok.byte_to_id[0]]).size() == 0);  // run.c's safe_printf drops control bytes

    // run.c puts " " before the text and BOS before that, then merges by score:
    // that is our BPE of " " + text, after an <|endoftext|>
    std::string text = read_text(VALID_HEAD);
    std::vector<std::string_view> docs = split_documents(text);
    REQUIRE(docs.size() > 20);
    int checked = 0;
    for (size_t d = 0; d < 20; d++) {
        std::string doc(docs[d]);
        std::vector<int> ours = tokenizer_encode(tok, " " + doc, false, 1), want{1}, got;
        for (int id : ours) want.push_back(map[id]);
        REQUIRE(llama2c_encode(v, doc, true, &got));
        INFO("document " << d << ": " << doc.substr(0, 80));
        CHECK_SAME(got, want);
        // and run.c prints the text back, less the leading space it dropped after BOS
        std::string printed;
        for (size_t i = 1; i < got.size(); i++) printed += llama2c_decode(v, got[i - 1], got[i]);
        CHECK(printed == doc);
        checked++;
    }
    CHECK(checked == 20);
}

namespace {

// A llama2.c model file of a given shape with random weights, written by
// hand (not by our writer): what a user downloads, e.g. stories260K.
void write_llama2c_file(const std::string& path, const Llama2cHeader& h, std::vector<float>* floats) {
    floats->resize((size_t)llama2c_num_floats(h));
    fill_random(floats->data(), floats->size(), 3);
    std::vector<char> bytes(28 + 4 * floats->size());
    memcpy(bytes.data(), &h, 28);
    memcpy(bytes.data() + 28, floats->data(), 4 * floats->size());
    write_all_bytes(path, bytes.data(), bytes.size());
}

std::string expect_failure(const std::string& cmd) {
    RunResult r = run_command(cmd);
    INFO(cmd << "\n" << r.output);
    CHECK(r.status == 1);
    return r.output;
}

bool has(const std::string& out, const std::string& what) {
    INFO("output: " << out << "\nexpected: " << what);
    return out.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE("train_llama -e takes a llama2.c model of the published stories260K shape", "[export][llama2c][import]") {
    TempDir tmp;
    // stories260K: dim 64, hidden 172 (a multiple of nothing useful), 5 layers, 8 heads, 4 kv heads,
    // vocab 512, seq_len 512; untied here so the classifier's place is exercised too
    Llama2cHeader h{64, 172, 5, 8, 4, -512, 512};
    std::vector<float> floats;
    std::string model = tmp / "stories260K.bin";
    write_llama2c_file(model, h, &floats);

    // in-process: each tensor lands where run.c's order puts it
    Llama2cHeader got;
    std::string err;
    REQUIRE(llama2c_probe(model, &got, &err));
    llama::Llama m;
    llama::llama_build(&m, llama::config_from_llama2c(got));
    llama::llama_load_llama2c(&m, model, got);
    const size_t V = 512, C = 64, L = 5, H = 172, HS = 8, KV = 4 * HS;
    const float* f = floats.data();
    CHECK(memcmp(m.params.wte, f, V * C * 4) == 0);
    CHECK(memcmp(m.params.rms_att, f + V * C, L * C * 4) == 0);
    const float* wq = f + V * C + L * C;
    const float* wk = wq + L * C * C;
    const float* wv = wk + L * KV * C;
    const float* wo = wv + L * KV * C;
    const float* rms_ffn = wo + L * C * C;
    const float* w1 = rms_ffn + L * C;
    const float* w2 = w1 + L * H * C;
    const float* w3 = w2 + L * C * H;
    const float* rms_final = w3 + L * H * C;
    const float* wcls = rms_final + C + 512 * HS;  // after the two freq_cis tables
    const size_t QKV = C + 2 * KV;
    for (size_t l = 0; l < L; l++) {
        CHECK(memcmp(m.params.wqkv + l * QKV * C, wq + l * C * C, C * C * 4) == 0);
        CHECK(memcmp(m.params.wqkv + l * QKV * C + C * C, wk + l * KV * C, KV * C * 4) == 0);
        CHECK(memcmp(m.params.wqkv + l * QKV * C + (C + KV) * C, wv + l * KV * C, KV * C * 4) == 0);
        CHECK(memcmp(m.params.w13 + l * 2 * H * C, w1 + l * H * C, H * C * 4) == 0);
        CHECK(memcmp(m.params.w13 + l * 2 * H * C + H * C, w3 + l * H * C, H * C * 4) == 0);
    }
    CHECK(memcmp(m.params.wo, wo, L * C * C * 4) == 0);
    CHECK(memcmp(m.params.rms_ffn, rms_ffn, L * C * 4) == 0);
    CHECK(memcmp(m.params.w2, w2, L * C * H * 4) == 0);
    CHECK(memcmp(m.params.rms_final, rms_final, C * 4) == 0);
    CHECK(memcmp(m.params.wcls, wcls, V * C * 4) == 0);
    CHECK(wcls + V * C == floats.data() + floats.size());
    llama::llama_free(&m);

    // the trainer: the shape comes from the file, one step of fine-tuning runs
    std::vector<uint32_t> ids(3000);
    for (size_t i = 0; i < ids.size(); i++) ids[i] = (uint32_t)((i * 7 + i / 13) % 512);
    write_shard(tmp / "train.bin", ids, 512);
    write_shard(tmp / "val.bin", ids, 512);
    std::string data = " -i " + (tmp / "train.bin") + " -j " + (tmp / "val.bin") + " -z \"\" -b 2 -t 16 -v 0 -s 0 -n 0";
    RunResult r = run_command("OMP_NUM_THREADS=1 ./train_llama -e " + model + data + " -x 1 -o " + (tmp / "run"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "initialised parameters from llama2.c model " + model));
    CHECK(has(r.output, "model: vocab 512, dim 64, layers 5, heads 8, kv-heads 4, hidden 172, seq-len 512, untied head"));
    CHECK(path_exists(tmp / "run/ckpt_000001.bin"));

    SECTION("shape flags must agree with the file") {
        std::string out = expect_failure("./train_llama -e " + model + data + " --vocab 512 --dim 32 -x 1 -o " + (tmp / "run2"));
        CHECK(has(out, "has dim=64 but the flags ask for dim=32"));
    }
    SECTION("a truncated llama2.c file is neither format") {
        std::vector<char> b = read_all_bytes(model);
        write_all_bytes(tmp / "short.bin", b.data(), b.size() - 4);
        std::string out = expect_failure("./train_llama -e " + (tmp / "short.bin") + data + " -x 1 -o " + (tmp / "run2"));
        CHECK(has(out, "expected 20261126 (not a checkpoint of this engine), and not a llama2.c model file either: file has "));
    }
}

TEST_CASE("export refuses what the targets cannot hold, bad checkpoints and unwritable outputs", "[export][errors]") {
    TempDir tmp;
    std::string tok_path = tmp / "tok.bin";
    tokenizer_save(small_tok(), tok_path);
    // a checkpoint of a tiny Llama (the tied one, or one setting changed)
    auto save_llama_with = [&](const llama::LlamaConfig& c, const std::string& path) {
        llama::Llama m;
        make_llama(&m, c, path);
        llama::llama_free(&m);
    };
    std::string ckpt = tmp / "ckpt.bin";
    save_llama_with(tiny_llama_config(true), ckpt);

    SECTION("GPT-2 into llama2c") {
        gpt2::GPT2 g;
        make_gpt2(&g, tmp / "gpt2.bin");
        gpt2::gpt2_free(&g);
        tokenizer_save(small_tok(500), tmp / "tok500.bin");
        std::string out = expect_failure(export_cmd(tmp / "gpt2.bin", tmp / "tok500.bin", "-f llama2c -o " + (tmp / "x.bin")));
        CHECK(has(out, "is a GPT-2 model; llama2.c's run.c runs the Llama architecture only"));
    }
    SECTION("rope theta run.c does not use") {
        llama::LlamaConfig c = tiny_llama_config(true);
        c.rope_theta = 500000.0f;
        save_llama_with(c, tmp / "theta.bin");
        std::string out = expect_failure(export_cmd(tmp / "theta.bin", tok_path, "-f llama2c -o " + (tmp / "x.bin")));
        CHECK(has(out, "the model's rope theta is 500000; run.c hard-codes 10000"));
        CHECK_FALSE(path_exists(tmp / "x.bin"));
        // GGUF holds any theta
        RunResult r = run_command(export_cmd(tmp / "theta.bin", tok_path, "-f gguf -o " + (tmp / "x.gguf")));
        CHECK(r.status == 0);
        GFile g = read_gguf(tmp / "x.gguf");
        CHECK(g.kv.at("llama.rope.freq_base").f == 500000.0f);
    }
    SECTION("norm eps run.c does not use") {
        llama::LlamaConfig c = tiny_llama_config(true);
        c.norm_eps = 1e-6f;
        save_llama_with(c, tmp / "eps.bin");
        std::string out = expect_failure(export_cmd(tmp / "eps.bin", tok_path, "-f llama2c -o " + (tmp / "x.bin")));
        CHECK(has(out, "the model's norm eps is 1e-06; run.c hard-codes 1e-05"));
    }
    SECTION("a vocabulary too small for run.c's ids") {
        tokenizer_save(small_tok(258), tmp / "tok258.bin");  // 256 bytes, 1 merge, eot
        llama::LlamaConfig c = tiny_llama_config(true);
        c.V = 258;
        save_llama_with(c, tmp / "v258.bin");
        std::string out = expect_failure(export_cmd(tmp / "v258.bin", tmp / "tok258.bin", "-f llama2c -o " + (tmp / "x.bin")));
        CHECK(has(out, "vocab_size 258 is below 259"));
    }
    SECTION("a tokenizer whose vocab is not the model's") {
        llama::LlamaConfig c = tiny_llama_config(true);
        c.V = 600;
        save_llama_with(c, tmp / "v600.bin");
        std::string out = expect_failure(export_cmd(tmp / "v600.bin", tok_path, "-f gguf -o " + (tmp / "x.gguf")));
        CHECK(has(out, "has 512 tokens but the model's vocab is 600"));
        out = expect_failure(export_cmd(tmp / "v600.bin", tok_path, "-f llama2c -o " + (tmp / "x.bin")));
        CHECK(has(out, "has 512 tokens but the model's vocab_size is 600"));
    }
    SECTION("no tokenizer") {
        std::string out = expect_failure(export_cmd(ckpt, tmp / "missing.bin", "-f gguf -o " + (tmp / "x.gguf")));
        CHECK(has(out, "missing.bin"));
    }
    SECTION("not a checkpoint") {
        write_all_bytes(tmp / "junk.bin", "0123456789abcdef", 16);
        std::string out = expect_failure(export_cmd(tmp / "junk.bin", tok_path, "-f gguf -o " + (tmp / "x.gguf")));
        CHECK(has(out, "junk.bin: bad magic"));
    }
    SECTION("truncated checkpoint") {
        std::vector<char> b = read_all_bytes(ckpt);
        write_all_bytes(tmp / "cut.bin", b.data(), b.size() / 2);
        std::string out = expect_failure(export_cmd(tmp / "cut.bin", tok_path, "-f gguf -o " + (tmp / "x.gguf")));
        CHECK(has(out, "cut.bin"));
    }
    SECTION("unwritable outputs") {
        write_all_bytes(tmp / "file", "x", 1);
        for (const char* fmt : {"gguf", "llama2c"}) {
            std::string out = expect_failure(export_cmd(ckpt, tok_path, std::string("-f ") + fmt + " -o " + (tmp / "file/out")));
            CHECK(has(out, "cannot open " + (tmp / "file/out")));
        }
        std::string out = expect_failure(export_cmd(ckpt, tok_path, "-f llama2c -o " + (tmp / "m.bin") +
                                                    " --llama2c-tokenizer " + (tmp / "file/tok.bin")));
        CHECK(has(out, "cannot open " + (tmp / "file/tok.bin")));
    }
}
