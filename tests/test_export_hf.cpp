// tests/test_export_hf.cpp: build/export --format hf and train_llama -e HF_DIR.
// No Python here: tests/fixtures/hf_export.bin holds what transformers computed
// on our exports (dev/reference/check_export.py wrote it), and the tests check
// ours against it, and that today's export is byte for byte the one it checked.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "../common/shard.h"
#include "../export/hf.h"
#include "fixture.h"
#include "test_util.h"

static const char* FIXTURE_HF = "tests/fixtures/hf_export.bin";
static const std::string SHARED = "../shared/data";

// The synthetic parameters of check_export.py (synthetic_params there):
// k/4096 with |k| <= 1024 from an integer hash of (tensor, index), exact in
// float, so both sides hold the same floats without sharing an RNG.
static float synthetic_value(uint64_t i, uint64_t salt) {
    uint64_t h = i * 0x9E3779B97F4A7C15ull + salt * 0xD1B54A32D192ED03ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (float)((int64_t)(h % 2049) - 1024) / 4096.0f;
}

// Fills a blob of `n` tensors; norm weights (is_norm) are 1 + value/4.
static void synthetic_fill(float* mem, const size_t* sizes, int n, std::initializer_list<int> norms) {
    for (int t = 0; t < n; t++) {
        bool is_norm = std::find(norms.begin(), norms.end(), t) != norms.end();
        for (size_t j = 0; j < sizes[t]; j++) {
            float v = synthetic_value(j, (uint64_t)t);
            mem[j] = is_norm ? 1.0f + v / 4.0f : v;
        }
        mem += sizes[t];
    }
}

static void synthetic_llama(llama::Llama* m, const llama::LlamaConfig& c) {
    llama::llama_build(m, c);
    synthetic_fill(m->params_memory, m->param_sizes, llama::NUM_PARAM_TENSORS, {1, 4, 7});
}

static void synthetic_gpt2(gpt2::GPT2* m, const gpt2::GPT2Config& c) {
    gpt2::gpt2_build(m, c);
    synthetic_fill(m->params_memory, m->param_sizes, gpt2::NUM_PARAM_TENSORS, {2, 8, 14});
}

static llama::LlamaConfig llama_config(int V, int C, int L, int NH, int NKV, int H, int maxT, bool tied) {
    llama::LlamaConfig c;
    c.V = V; c.C = C; c.L = L; c.NH = NH; c.NKV = NKV; c.H = H; c.maxT = maxT; c.tied = tied;
    return c;
}

static gpt2::GPT2Config gpt2_config(int V, int Vp, int C, int L, int NH, int maxT) {
    gpt2::GPT2Config c;
    c.V = V; c.Vp = Vp; c.C = C; c.L = L; c.NH = NH; c.maxT = maxT;
    return c;
}

static ExportSource source_of(llama::Llama* m) {
    ExportSource s;
    s.kind = CKPT_KIND_LLAMA;
    s.llama = m;
    s.tok_path = "(no tokenizer in this test)";
    return s;
}

static ExportSource source_of(gpt2::GPT2* m) {
    ExportSource s;
    s.kind = CKPT_KIND_GPT2;
    s.gpt2 = m;
    s.tok_path = "(no tokenizer in this test)";
    return s;
}

static uint32_t fnv1a(const std::vector<char>& data) {
    uint32_t h = 0x811C9DC5u;
    for (char c : data) h = (h ^ (uint8_t)c) * 0x01000193u;
    return h;
}

// GPT-2's bytes_to_unicode written again here, from its definition in
// OpenAI's encoder.py, to check the tokenizer's own table against.
static std::map<int, unsigned> reference_bytes_to_unicode() {
    std::vector<int> bs;
    for (int b = '!'; b <= '~'; b++) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; b++) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; b++) bs.push_back(b);
    std::map<int, unsigned> m;
    for (int b : bs) m[b] = (unsigned)b;
    unsigned n = 0;
    for (int b = 0; b < 256; b++)
        if (!m.count(b)) m[b] = 256 + n++;
    return m;
}

static std::string utf8(unsigned cp) {
    std::string s;
    if (cp < 0x80) s.push_back((char)cp);
    else {
        s.push_back((char)(0xC0 | (cp >> 6)));
        s.push_back((char)(0x80 | (cp & 0x3F)));
    }
    return s;
}

static std::vector<JsonMember> members_of(std::string_view json) {
    std::vector<JsonMember> m;
    std::string err;
    size_t pos = 0;
    INFO(err);
    REQUIRE(json_object_members(json, &pos, &m, &err));
    return m;
}

static std::string string_of(const JsonMember* m) {
    REQUIRE(m != nullptr);
    std::string s;
    size_t pos = 0;
    REQUIRE(json_parse_string(m->value, &pos, &s));
    return s;
}

// ----------------------------------------------------------------------------

TEST_CASE("the RoPE row permutation turns our interleaved-pair RoPE into transformers' rotate_half", "[export][hf]") {
    const int NH = 3, NKV = 1, HS = 8, T = 7, row = (NH + 2 * NKV) * HS;
    const float theta = 10000.0f;
    std::vector<float> cosb((size_t)T * HS / 2), sinb((size_t)T * HS / 2);
    rope_precompute(cosb.data(), sinb.data(), T, HS, theta);
    Rng rng = rng_make(7);
    std::vector<float> x((size_t)T * row);
    for (float& v : x) v = rng_normal(&rng);
    std::vector<float> ours = x;
    rope_forward(ours.data(), cosb.data(), sinb.data(), 1, T, NH, NKV, HS);

    for (int t = 0; t < T; t++) {
        // q (NH heads) and k (NKV heads) of position t, as a column: the permutation of a
        // weight's rows permutes the projection's output the same way
        for (int part = 0; part < 2; part++) {
            int heads = part == 0 ? NH : NKV, first = part == 0 ? 0 : NH * HS;
            std::vector<float> col(x.begin() + (size_t)t * row + first, x.begin() + (size_t)t * row + first + heads * HS);
            HfTensor perm{"q", col.data(), heads * HS, 1, false, HF_ROPE_ROWS, heads};
            std::vector<float> hf(col.size());
            hf_tensor_to_hf(perm, hf.data());
            // transformers: x·cos + rotate_half(x)·sin, cos and sin = cat(freqs, freqs)
            std::vector<float> rotated(hf.size());
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < HS / 2; i++) {
                    double a = t * pow((double)theta, -2.0 * i / HS);
                    float c = (float)cos(a), s = (float)sin(a);
                    float x1 = hf[h * HS + i], x2 = hf[h * HS + HS / 2 + i];
                    rotated[h * HS + i] = x1 * c - x2 * s;
                    rotated[h * HS + HS / 2 + i] = x2 * c + x1 * s;
                }
            std::vector<float> back(hf.size());
            perm.ours = back.data();
            hf_tensor_from_hf(perm, rotated.data());
            for (int r = 0; r < heads * HS; r++)
                CHECK(back[r] == Approx(ours[(size_t)t * row + first + r]).margin(1e-6));
        }
    }
    // and the permutation is not the identity: row 1 of a head (x[1]) goes to row HS/2
    CHECK(hf_rope_row(1, HS) == HS / 2);
    CHECK(hf_rope_row(HS + 2, HS) == HS + 1);
}

TEST_CASE("export to HF and import back give identical Llama parameters", "[export][hf]") {
    for (bool tied : {true, false}) {
        DYNAMIC_SECTION((tied ? "tied" : "untied") << " head, NKV < NH") {
            llama::LlamaConfig c = llama_config(67, 24, 2, 6, 2, 44, 40, tied);
            c.rope_theta = 500000.0f;
            c.norm_eps = 1e-6f;
            llama::Llama a, b;
            synthetic_llama(&a, c);
            TempDir dir;
            export_hf(source_of(&a), dir.path);

            llama::LlamaConfig back = llama::config_from_hf(dir.path);
            CHECK(back.V == c.V);
            CHECK(back.C == c.C);
            CHECK(back.L == c.L);
            CHECK(back.NH == c.NH);
            CHECK(back.NKV == c.NKV);
            CHECK(back.H == c.H);
            CHECK(back.maxT == c.maxT);
            CHECK(back.tied == c.tied);
            CHECK(back.rope_theta == c.rope_theta);
            CHECK(back.norm_eps == c.norm_eps);
            llama::llama_build(&b, back);
            llama::llama_load_hf(&b, dir.path);
            REQUIRE(b.num_params == a.num_params);
            CHECK(memcmp(a.params_memory, b.params_memory, a.num_params * sizeof(float)) == 0);
            // the transformers layout is not ours: q_proj's rows are permuted, so the file differs from the blob
            SafetensorsFile sf = safetensors_open(dir / "model.safetensors");
            std::vector<float> q = safetensors_read_f32(sf, "model.layers.0.self_attn.q_proj.weight", {24, 24});
            CHECK(memcmp(q.data(), a.params.wqkv, q.size() * sizeof(float)) != 0);
            llama::llama_free(&a);
            llama::llama_free(&b);
        }
    }
}

TEST_CASE("model.safetensors: header, alignment and every tensor with transformers' name and shape", "[export][hf]") {
    SECTION("Llama, untied, NKV < NH") {
        const int V = 50, C = 16, L = 2, NH = 4, NKV = 2, H = 36, HS = C / NH;
        llama::Llama m;
        synthetic_llama(&m, llama_config(V, C, L, NH, NKV, H, 32, false));
        TempDir dir;
        export_hf(source_of(&m), dir.path);
        std::vector<char> bytes = read_all_bytes(dir / "model.safetensors");
        uint64_t n;
        memcpy(&n, bytes.data(), 8);
        CHECK((8 + n) % 8 == 0);
        std::string header(bytes.data() + 8, n);
        std::vector<JsonMember> top = members_of(header);
        std::vector<JsonMember> meta = members_of(json_find(top, "__metadata__")->value);
        CHECK(string_of(json_find(meta, "format")) == "pt");

        std::map<std::string, std::vector<int64_t>> expect = {
            {"model.embed_tokens.weight", {V, C}}, {"model.norm.weight", {C}}, {"lm_head.weight", {V, C}}};
        for (int l = 0; l < L; l++) {
            std::string p = "model.layers." + std::to_string(l) + ".";
            expect[p + "input_layernorm.weight"] = {C};
            expect[p + "self_attn.q_proj.weight"] = {NH * HS, C};
            expect[p + "self_attn.k_proj.weight"] = {NKV * HS, C};
            expect[p + "self_attn.v_proj.weight"] = {NKV * HS, C};
            expect[p + "self_attn.o_proj.weight"] = {C, NH * HS};
            expect[p + "post_attention_layernorm.weight"] = {C};
            expect[p + "mlp.gate_proj.weight"] = {H, C};
            expect[p + "mlp.up_proj.weight"] = {H, C};
            expect[p + "mlp.down_proj.weight"] = {C, H};
        }
        SafetensorsFile sf = safetensors_open(dir / "model.safetensors");  // also checks the tensors tile the data
        CHECK(sf.tensors.size() == expect.size());
        CHECK(top.size() == expect.size() + 1);
        size_t total = 0;
        for (const SafetensorsEntry& e : sf.tensors) {
            INFO(e.name);
            REQUIRE(expect.count(e.name) == 1);
            CHECK(e.shape == expect[e.name]);
            CHECK(e.dtype == "F32");
            total += shape_numel(e.shape);
        }
        CHECK(total == m.num_params);
        CHECK(bytes.size() == 8 + n + total * 4);
        // w13 splits into gate (w1, the first H rows) and up (w3); v and o keep our layout
        std::vector<float> up = safetensors_read_f32(sf, "model.layers.1.mlp.up_proj.weight", {H, C});
        CHECK(memcmp(up.data(), m.params.w13 + (size_t)(2 * H + H) * C, up.size() * 4) == 0);
        std::vector<float> v = safetensors_read_f32(sf, "model.layers.1.self_attn.v_proj.weight", {NKV * HS, C});
        size_t QKV = (NH + 2 * NKV) * HS;
        CHECK(memcmp(v.data(), m.params.wqkv + (QKV + (NH + NKV) * HS) * C, v.size() * 4) == 0);
        std::string config = read_text_file(dir / "config.json");
        CHECK(config.find("\"tie_word_embeddings\": false") != std::string::npos);
        CHECK(config.find("\"num_key_value_heads\": 2") != std::string::npos);
        llama::llama_free(&m);
    }
    SECTION("Llama, tied: no lm_head") {
        llama::Llama m;
        synthetic_llama(&m, llama_config(50, 16, 1, 2, 2, 20, 16, true));
        TempDir dir;
        export_hf(source_of(&m), dir.path);
        SafetensorsFile sf = safetensors_open(dir / "model.safetensors");
        CHECK(sf.find("lm_head.weight") == nullptr);
        CHECK(sf.tensors.size() == 1 + 9 + 1);
        CHECK(read_text_file(dir / "config.json").find("\"tie_word_embeddings\": true") != std::string::npos);
        llama::llama_free(&m);
    }
    SECTION("GPT-2: Conv1D weights transposed, V rows of the padded wte, tied") {
        const int V = 100, Vp = 128, C = 12, L = 2, NH = 3, maxT = 20;
        gpt2::GPT2 m;
        synthetic_gpt2(&m, gpt2_config(V, Vp, C, L, NH, maxT));
        TempDir dir;
        export_hf(source_of(&m), dir.path);
        SafetensorsFile sf = safetensors_open(dir / "model.safetensors");
        CHECK(sf.tensors.size() == 2 + 12 * L + 2);
        CHECK(sf.find("lm_head.weight") == nullptr);
        CHECK(sf.find("transformer.wte.weight")->shape == std::vector<int64_t>{V, C});
        CHECK(sf.find("transformer.wpe.weight")->shape == std::vector<int64_t>{maxT, C});
        CHECK(sf.find("transformer.h.1.attn.c_attn.weight")->shape == std::vector<int64_t>{C, 3 * C});
        CHECK(sf.find("transformer.h.1.attn.c_attn.bias")->shape == std::vector<int64_t>{3 * C});
        CHECK(sf.find("transformer.h.1.mlp.c_fc.weight")->shape == std::vector<int64_t>{C, 4 * C});
        CHECK(sf.find("transformer.h.1.mlp.c_proj.weight")->shape == std::vector<int64_t>{4 * C, C});
        // Conv1D is (in, out): HF's [i][o] is our fcw[o][i]
        std::vector<float> fc = safetensors_read_f32(sf, "transformer.h.1.mlp.c_fc.weight", {C, 4 * C});
        const float* ours = m.params.fcw + (size_t)1 * 4 * C * C;
        for (int i = 0; i < C; i++)
            for (int o = 0; o < 4 * C; o++) REQUIRE(fc[(size_t)i * 4 * C + o] == ours[(size_t)o * C + i]);
        std::string config = read_text_file(dir / "config.json");
        CHECK(config.find("\"activation_function\": \"gelu_new\"") != std::string::npos);
        CHECK(config.find("\"vocab_size\": 100,") != std::string::npos);
        gpt2::gpt2_free(&m);
    }
}

TEST_CASE("safetensors: BF16 and F16 tensors read as fp32; damaged headers are refused", "[export][hf]") {
    TempDir dir;
    // values exact in both half formats: 1.5, -2, 0.25, 0
    std::string header = "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[8,16]}}";
    uint16_t bf16[4] = {0x3FC0, 0xC000, 0x3E80, 0x0000};
    uint16_t f16[4] = {0x3E00, 0xC000, 0x3400, 0x0000};
    std::string file(8, '\0');
    uint64_t n = header.size();
    memcpy(&file[0], &n, 8);
    file += header;
    file.append((const char*)bf16, 8);
    file.append((const char*)f16, 8);
    write_all_bytes(dir / "h.safetensors", file.data(), file.size());
    SafetensorsFile sf = safetensors_open(dir / "h.safetensors");
    std::vector<float> expect = {1.5f, -2.0f, 0.25f, 0.0f};
    CHECK(safetensors_read_f32(sf, "a", {2, 2}) == expect);
    CHECK(safetensors_read_f32(sf, "b", {4}) == expect);
    CHECK(f16_to_float(0x0001) == std::ldexp(1.0f, -24));  // the smallest subnormal half

}

TEST_CASE("tokenizer.json: byte-level BPE in GPT-2's byte alphabet, merges in rank order, eot special", "[export][hf]") {
    Tokenizer tok;
    std::string err;
    REQUIRE(tokenizer_load_gpt2_dir(&tok, SHARED + "/gpt2", &err));
    std::string json = hf_tokenizer_json(tok, "gpt2");
    std::vector<JsonMember> top = members_of(json);
    std::vector<JsonMember> model = members_of(json_find(top, "model")->value);
    CHECK(string_of(json_find(model, "type")) == "BPE");
    std::vector<JsonMember> vocab = members_of(json_find(model, "vocab")->value);
    CHECK(vocab.size() == 50257);
    std::map<std::string, int> id_of;
    for (const JsonMember& m : vocab) {
        double d;
        REQUIRE(json_number(m.value, &d));
        id_of[m.key] = (int)d;
    }
    CHECK(id_of.size() == 50257);
    // every byte under its bytes_to_unicode character, with the id our tokenizer gives the byte
    std::map<int, unsigned> b2u = reference_bytes_to_unicode();
    for (int b = 0; b < 256; b++) {
        INFO("byte " << b);
        REQUIRE(id_of.count(utf8(b2u[b])) == 1);
        CHECK(id_of[utf8(b2u[b])] == tok.byte_to_id[b]);
        CHECK(gpt2_byte_string(std::string(1, (char)b)) == utf8(b2u[b]));
    }
    CHECK(id_of["\xC4\xA0the"] == 262);  // "Ġthe", as in GPT-2's encoder.json
    CHECK(id_of["<|endoftext|>"] == 50256);
    // merges: as many as ours, in rank order; GPT-2's first is "Ġ t"
    size_t pos = 0;
    std::string_view merges = json_find(model, "merges")->value;
    REQUIRE(merges[0] == '[');
    pos = 1;
    size_t count = 0;
    std::string first;
    while (true) {
        json_skip_ws(merges, &pos);
        std::string m;
        REQUIRE(json_parse_string(merges, &pos, &m));
        if (count == 0) first = m;
        if (count == 1000) {  // rank 1000 is our merge 1000
            const BpeMerge& bm = tok.merges[1000];
            CHECK(m == gpt2_byte_string(tok.tokens[bm.left]) + " " + gpt2_byte_string(tok.tokens[bm.right]));
        }
        count++;
        json_skip_ws(merges, &pos);
        if (merges[pos] == ',') { pos++; continue; }
        REQUIRE(merges[pos] == ']');
        break;
    }
    CHECK(count == tok.merges.size());
    CHECK(first == "\xC4\xA0 t");
    // <|endoftext|> is an added special token, so the text "<|endoftext|>" becomes it before BPE
    std::string added(json_find(top, "added_tokens")->value);
    CHECK(added.find("\"id\": 50256, \"content\": \"<|endoftext|>\"") != std::string::npos);
    CHECK(added.find("\"special\": true") != std::string::npos);
    std::vector<JsonMember> pre = members_of(json_find(top, "pre_tokenizer")->value);
    CHECK(string_of(json_find(pre, "type")) == "ByteLevel");
    CHECK(json_find(pre, "use_regex")->value == "true");
    CHECK(json_find(pre, "add_prefix_space")->value == "false");
    CHECK(string_of(json_find(members_of(json_find(top, "decoder")->value), "type")) == "ByteLevel");
}

TEST_CASE("the fixture: transformers' logits on our exports equal ours, and the export is the one it checked",
          "[export][hf][fixture]") {
    Fixture fx = load_fixture(FIXTURE_HF);
    for (const char* name : {"llama_tied", "llama_untied", "gpt2"}) {
        DYNAMIC_SECTION(name) {
            std::string n = name;
            const FixtureTensor& cfg = fx.get(n + ".config");
            const FixtureTensor& tokens = fx.get(n + ".tokens");
            const FixtureTensor& hf = fx.get(n + ".hf_logits");
            const int B = tokens.shape[0], T = tokens.shape[1];
            llama::Llama lm;
            gpt2::GPT2 gm;
            ExportSource src;
            const float* logits;
            int V;
            if (n.rfind("llama", 0) == 0) {
                const std::vector<int>& c = cfg.i;
                synthetic_llama(&lm, llama_config(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7] != 0));
                llama::llama_forward(&lm, tokens.i.data(), nullptr, B, T);
                logits = lm.acts.logits;
                V = c[0];
                src = source_of(&lm);
            } else {
                const std::vector<int>& c = cfg.i;
                synthetic_gpt2(&gm, gpt2_config(c[0], c[1], c[2], c[3], c[4], c[5]));
                gpt2::gpt2_forward(&gm, tokens.i.data(), nullptr, B, T);
                logits = gm.acts.logits;
                V = c[0];
                src = source_of(&gm);
            }
            REQUIRE(hf.numel() == (size_t)B * T * V);
            float maxdiff = 0.0f;
            for (size_t i = 0; i < hf.numel(); i++) maxdiff = std::max(maxdiff, std::fabs(hf.f[i] - logits[i]));
            INFO(name << ": max |ours - transformers| = " << maxdiff);
            CHECK(maxdiff <= 1e-4f);
            TempDir dir;
            export_hf(src, dir.path);
            INFO("a changed export: rerun dev/reference/check_export.py --write-fixture (it checks it with transformers)");
            CHECK((int)fnv1a(read_all_bytes(dir / "model.safetensors")) == fx.get(n + ".safetensors_fnv1a").i[0]);
            if (src.llama) llama::llama_free(&lm);
            else gpt2::gpt2_free(&gm);
        }
    }
}

TEST_CASE("the fixture: transformers' token ids from our tokenizer.json equal ours", "[export][hf][fixture]") {
    Fixture fx = load_fixture(FIXTURE_HF);
    const FixtureTensor& text_t = fx.get("text");
    std::string text(text_t.i.begin(), text_t.i.end());
    SECTION("a 300-token vocabulary trained on TinyStories") {
        const FixtureTensor& spec = fx.get("tok300.spec");
        TempDir dir;
        std::vector<char> train = read_all_bytes(SHARED + "/tinystories/train_head.txt");
        REQUIRE(train.size() >= (size_t)spec.i[1]);
        write_all_bytes(dir / "slice.txt", train.data(), (size_t)spec.i[1]);
        RunResult r = run_command("build/tokenizer train --vocab " + std::to_string(spec.i[0]) + " --quiet --out " +
                                  (dir / "tok.bin") + " " + (dir / "slice.txt"));
        REQUIRE(r.status == 0);
        Tokenizer tok;
        std::string err;
        REQUIRE(tokenizer_load(&tok, dir / "tok.bin", &err));
        std::vector<int> ids = tokenizer_encode(tok, text, true);
        CHECK_SAME(ids, fx.get("tok300.hf_ids").i);
        std::string json = hf_tokenizer_json(tok, "tok300");
        CHECK((int)fnv1a(std::vector<char>(json.begin(), json.end())) == fx.get("tok300.tokenizer_json_fnv1a").i[0]);
    }
    SECTION("GPT-2's vocabulary") {
        Tokenizer tok;
        std::string err;
        REQUIRE(tokenizer_load_gpt2_dir(&tok, SHARED + "/gpt2", &err));
        std::vector<int> ids = tokenizer_encode(tok, text, true);
        CHECK_SAME(ids, fx.get("gpt2.hf_ids").i);
        std::string json = hf_tokenizer_json(tok, "gpt2");
        CHECK((int)fnv1a(std::vector<char>(json.begin(), json.end())) == fx.get("gpt2.tokenizer_json_fnv1a").i[0]);
    }
}

// A small tokenizer of at most 300 tokens, trained on a slice of TinyStories, saved to path.
static void small_tokenizer(const std::string& path) {
    std::vector<char> text = read_all_bytes(SHARED + "/tinystories/valid_head.txt");
    std::string_view sv(text.data(), 50000);
    ChunkCounts counts;
    count_chunks(&counts, split_documents(sv));
    Tokenizer tok;
    TrainOptions opt;
    opt.vocab_size = 300;
    std::string err;
    REQUIRE(tokenizer_train(&tok, counts, opt, &err));
    tokenizer_save(tok, path);
}

static bool has(const RunResult& r, const std::string& s) { return r.output.find(s) != std::string::npos; }

TEST_CASE("build/export --format hf: the files; bad checkpoints, unwritable dirs and inexpressible tokenizers exit 1",
          "[export][hf][cli]") {
    TempDir dir;
    llama::Llama m;
    synthetic_llama(&m, llama_config(300, 16, 1, 2, 2, 20, 16, true));
    TrainState st{};
    llama::llama_save_checkpoint(&m, dir / "ok.bin", st);
    llama::llama_free(&m);
    small_tokenizer(dir / "tok.bin");
    const std::string z = " -z " + (dir / "tok.bin");

    RunResult r = run_command("build/export -e " + (dir / "ok.bin") + " -f hf -o " + (dir / "hf") + z);
    CHECK(r.status == 0);
    for (const char* f : {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
                          "tokenizer_config.json"})
        CHECK(path_exists(dir / "hf/" + f));

    r = run_command("build/export -e " + (dir / "missing.bin") + " -f hf -o " + (dir / "hf") + z);
    CHECK(r.status == 1);
    CHECK(has(r, "cannot open " + (dir / "missing.bin")));

    write_all_bytes(dir / "junk.bin", "not a checkpoint at all", 23);
    r = run_command("build/export -e " + (dir / "junk.bin") + " -f hf -o " + (dir / "hf") + z);
    CHECK(r.status == 1);
    CHECK(has(r, "bad magic"));

    std::vector<char> ok = read_all_bytes(dir / "ok.bin");
    write_all_bytes(dir / "short.bin", ok.data(), ok.size() - 100);
    r = run_command("build/export -e " + (dir / "short.bin") + " -f hf -o " + (dir / "hf") + z);
    CHECK(r.status == 1);
    CHECK(has(r, "short.bin: file is"));

    // a directory below a regular file cannot be created, whoever runs the test (root ignores modes)
    r = run_command("build/export -e " + (dir / "ok.bin") + " -f hf -o " + (dir / "ok.bin") + "/hf" + z);
    CHECK(r.status == 1);
    CHECK(has(r, "is not a directory"));

    // llm.c's gpt2_tokenizer.bin decodes only: tokenizer.json needs merges, so the export refuses it by name
    std::vector<char> llmc(256 * 4, 0);
    int head[4] = {LLMC_TOKENIZER_MAGIC, 2, 300, 299};
    memcpy(llmc.data(), head, sizeof head);
    for (int id = 0; id < 300; id++) {
        std::string t = id < 256 ? std::string(1, (char)id) : id == 299 ? std::string(EOT_TEXT) : "t" + std::to_string(id);
        llmc.push_back((char)t.size());
        llmc.insert(llmc.end(), t.begin(), t.end());
    }
    write_all_bytes(dir / "gpt2_tokenizer.bin", llmc.data(), llmc.size());
    r = run_command("build/export -e " + (dir / "ok.bin") + " -f hf -o " + (dir / "hf2") + " -z " + (dir / "gpt2_tokenizer.bin"));
    CHECK(r.status == 1);
    CHECK(has(r, "has no merges"));
    CHECK(!path_exists(dir / "hf2/model.safetensors"));  // refused before anything was written

    r = run_command("build/export -e " + (dir / "ok.bin") + " -f hf -o " + (dir / "hf3") + " -z " + (dir / "missing_tok.bin"));
    CHECK(r.status == 1);
    CHECK(has(r, "missing_tok.bin not found"));
}

TEST_CASE("train_llama -e HF_DIR: fine-tunes from the export as from our checkpoint; bad directories exit 1",
          "[export][hf][cli]") {
    TempDir dir;
    llama::Llama m;
    synthetic_llama(&m, llama_config(64, 16, 1, 2, 1, 20, 16, true));
    export_hf(source_of(&m), dir / "hf");
    TrainState st{};
    llama::llama_save_checkpoint(&m, dir / "ours.bin", st);
    llama::llama_free(&m);
    std::vector<uint32_t> tokens(3000);
    Rng rng = rng_make(3);
    for (uint32_t& t : tokens) t = (uint32_t)rng_below(&rng, 64);
    write_shard(dir / "shard_000000.bin", tokens, 64);
    std::string flags = " -i " + (dir / "shard_*.bin") + " -j " + (dir / "shard_*.bin") +
                        " -z '' -b 2 -t 8 -x 2 -v 0 -m 2 -s 0 -g 0 -n 0 -o " + (dir / "out");
    std::string cmd = "./train_llama -e " + (dir / "hf") + flags;

    // the same parameters through either door: the same losses to the last printed digit
    RunResult hf = run_command(cmd);
    RunResult ours = run_command("./train_llama -e " + (dir / "ours.bin") + flags);
    REQUIRE(hf.status == 0);
    REQUIRE(ours.status == 0);
    CHECK(has(hf, "initialised parameters from the Hugging Face model " + (dir / "hf")));
    auto losses = [](const std::string& out) {
        std::string l;
        for (size_t at = out.find("| loss "); at != std::string::npos; at = out.find("| loss ", at + 1))
            l += out.substr(at, 14) + ";";
        return l;
    };
    CHECK(losses(hf.output).size() == 2 * 15);
    CHECK(losses(hf.output) == losses(ours.output));

    RunResult r = run_command(cmd + " --vocab 65");
    CHECK(r.status == 1);
    CHECK(has(r, "has vocab=64 but the flags ask for vocab=65"));

    std::vector<char> st_bytes = read_all_bytes(dir / "hf/model.safetensors");
    write_all_bytes(dir / "hf/model.safetensors", st_bytes.data(), st_bytes.size() - 4);
    r = run_command(cmd);
    CHECK(r.status == 1);
    CHECK(has(r, "model.safetensors: tensor"));
    std::vector<char> huge = st_bytes;
    uint64_t absurd = 1ull << 40;
    memcpy(huge.data(), &absurd, 8);
    write_all_bytes(dir / "hf/model.safetensors", huge.data(), huge.size());
    r = run_command(cmd);
    CHECK(r.status == 1);
    CHECK(has(r, "header length 1099511627776 does not fit"));
    remove((dir / "hf/model.safetensors").c_str());
    r = run_command(cmd);
    CHECK(r.status == 1);
    CHECK(has(r, "no model.safetensors"));

    std::string config = read_text_file(dir / "hf/config.json");
    auto with = [&](const std::string& from, const std::string& to) {
        std::string c = config;
        size_t at = c.find(from);
        REQUIRE(at != std::string::npos);
        c.replace(at, from.size(), to);
        write_all_bytes(dir / "hf/config.json", c.data(), c.size());
        return run_command(cmd);
    };
    r = with("\"model_type\": \"llama\"", "\"model_type\": \"mistral\"");
    CHECK(r.status == 1);
    CHECK(has(r, "model_type is \"mistral\", expected \"llama\""));
    r = with("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}");
    CHECK(r.status == 1);
    CHECK(has(r, "rope_scaling is {\"type\": \"linear\", \"factor\": 2.0}; only plain RoPE"));
    r = with("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"");
    CHECK(r.status == 1);
    CHECK(has(r, "hidden_act is \"gelu\""));
    r = with("\"attention_bias\": false", "\"attention_bias\": true");
    CHECK(r.status == 1);
    CHECK(has(r, "attention_bias is true"));
    r = with("\"head_dim\": 8", "\"head_dim\": 16");
    CHECK(r.status == 1);
    CHECK(has(r, "head_dim is 16"));
    r = with("\"hidden_size\": 16", "\"hidden_size\": \"16\"");
    CHECK(r.status == 1);
    CHECK(has(r, "\"hidden_size\" must be a number"));
}
