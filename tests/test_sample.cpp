// tests/test_sample.cpp: build/sample and what it is made of. The one-position
// kernels against their plain loops and the full attention; top-p on
// hand-made logits; incremental (KV-cache) decoding against the trainer's
// full forward over the same window, token for token and logit for logit,
// for Llama (tied and untied, grouped-query) and GPT-2, across window slides;
// --eval against the forward's own NLL; and the binary itself: --help,
// greedy output equal to the decoding here, each bad input's message.
// The models are tiny and random (wide enough weights that attention and the
// logits are far from uniform), built here: no data, nothing trained.
#include "../sample/decode.h"
#include "../sample/text.h"

#include <catch2/catch.hpp>

#include <set>

#include "../common/shard.h"
#include "kernel_test_util.h"
#include "test_util.h"

// ----------------------------------------------------------------------------
// Tiny random models

// N(0, std²) for matrices and embeddings, 1 + N(0, 0.1²) for norm weights,
// N(0, 0.1²) for biases: attention scores and logits of order 1.
static void fill_random(float* p, size_t n, float std, float mean, Rng* rng) {
    for (size_t i = 0; i < n; i++) p[i] = mean + std * rng_normal(rng);
}

static void random_llama(Decoder* d, llama::LlamaConfig c, uint64_t seed) {
    d->kind = CKPT_KIND_LLAMA;
    llama::llama_build(&d->llama, c);
    Rng rng = rng_make(seed);
    float* mem = d->llama.params_memory;
    for (int i = 0; i < llama::NUM_PARAM_TENSORS; i++) {
        bool is_norm = i == 1 || i == 4 || i == 7;
        fill_random(mem, d->llama.param_sizes[i], is_norm ? 0.1f : 0.15f, is_norm ? 1.0f : 0.0f, &rng);
        mem += d->llama.param_sizes[i];
    }
    decoder_setup(d);
}

static void random_gpt2(Decoder* d, gpt2::GPT2Config c, uint64_t seed) {
    d->kind = CKPT_KIND_GPT2;
    gpt2::gpt2_build(&d->gpt2, c);
    Rng rng = rng_make(seed);
    float* mem = d->gpt2.params_memory;
    for (int i = 0; i < gpt2::NUM_PARAM_TENSORS; i++) {
        bool is_ln_weight = i == 2 || i == 8 || i == 14;
        bool is_matrix = gpt2::PARAM_DECAY[i];
        fill_random(mem, d->gpt2.param_sizes[i], is_matrix ? 0.15f : 0.1f, is_ln_weight ? 1.0f : 0.0f, &rng);
        mem += d->gpt2.param_sizes[i];
    }
    decoder_setup(d);
}

static llama::LlamaConfig tiny_llama(int V, int NKV, bool tied) {
    llama::LlamaConfig c;
    c.V = V; c.C = 32; c.L = 2; c.NH = 4; c.NKV = NKV; c.H = 48; c.maxT = 16; c.tied = tied ? 1 : 0;
    return c;
}

static gpt2::GPT2Config tiny_gpt2(int V) {
    gpt2::GPT2Config c;
    c.maxT = 16; c.V = V; c.Vp = gpt2::padded_vocab(V); c.L = 2; c.NH = 4; c.C = 32;
    return c;
}

// ----------------------------------------------------------------------------
// Kernels

TEST_CASE("matvec_forward equals the plain loop and the GEMM's plain row", "[sample][kernels]") {
    std::mt19937 rng(7);
    for (int C : {1, 7, 32, 67, 256}) {
        for (int OC : {1, 5, 96, 300}) {
            vecf x = random_vec(rng, C, -1, 1), w = random_vec(rng, (size_t)OC * C, -1, 1), b = random_vec(rng, OC, -1, 1);
            vecf fast(OC), ref(OC), gemm(OC), fastb(OC), refb(OC);
            matvec_forward(fast.data(), x.data(), w.data(), nullptr, C, OC);
            matvec_forward_ref(ref.data(), x.data(), w.data(), nullptr, C, OC);
            matmul_forward_ref(gemm.data(), x.data(), w.data(), 1, C, OC);
            matvec_forward(fastb.data(), x.data(), w.data(), b.data(), C, OC);
            matvec_forward_ref(refb.data(), x.data(), w.data(), b.data(), C, OC);
            vecd want(OC), wantb(OC);
            for (int o = 0; o < OC; o++) {
                double s = 0.0;
                for (int i = 0; i < C; i++) s += (double)w[(size_t)o * C + i] * x[i];
                want[o] = s;
                wantb[o] = s + b[o];
            }
            INFO("C " << C << " OC " << OC);
            check_close("matvec", fast.data(), want.data(), OC, 1e-5, 1e-5);
            check_close("matvec_ref", ref.data(), want.data(), OC, 1e-5, 1e-5);
            check_close("matmul_ref", gemm.data(), want.data(), OC, 1e-5, 1e-5);
            check_close("matvec+bias", fastb.data(), wantb.data(), OC, 1e-5, 1e-5);
            check_close("matvec_ref+bias", refb.data(), wantb.data(), OC, 1e-5, 1e-5);
        }
    }
}

TEST_CASE("attention_decode_forward equals the last row of attention_forward", "[sample][kernels]") {
    std::mt19937 rng(11);
    struct Shape { int NH, NKV, HS; };
    for (Shape s : {Shape{4, 4, 8}, Shape{4, 2, 8}, Shape{6, 1, 12}, Shape{2, 2, 3}}) {
        for (int T : {1, 2, 9, 40}) {
            const int QKV = (s.NH + 2 * s.NKV) * s.HS, KV = s.NKV * s.HS;
            vecf qkv = random_vec(rng, (size_t)T * QKV, -2, 2);
            vecf full((size_t)T * s.NH * s.HS), att((size_t)s.NH * T * T);
            attention_forward(full.data(), att.data(), qkv.data(), 1, T, s.NH, s.NKV, s.HS);
            // the cache: k and v of every position, as decode.h keeps them
            vecf kc((size_t)T * KV), vc((size_t)T * KV);
            for (int t = 0; t < T; t++)
                for (int i = 0; i < KV; i++) {
                    kc[(size_t)t * KV + i] = qkv[(size_t)t * QKV + s.NH * s.HS + i];
                    vc[(size_t)t * KV + i] = qkv[(size_t)t * QKV + (s.NH + s.NKV) * s.HS + i];
                }
            const float* q = qkv.data() + (size_t)(T - 1) * QKV;
            vecf fast(s.NH * s.HS), ref(s.NH * s.HS), scratch((size_t)s.NH * T);
            attention_decode_forward(fast.data(), scratch.data(), q, kc.data(), vc.data(), T, s.NH, s.NKV, s.HS);
            attention_decode_forward_ref(ref.data(), scratch.data(), q, kc.data(), vc.data(), T, s.NH, s.NKV, s.HS);
            vecd want(full.end() - s.NH * s.HS, full.end());
            INFO("NH " << s.NH << " NKV " << s.NKV << " HS " << s.HS << " T " << T);
            check_close("decode", fast.data(), want.data(), want.size(), 1e-5, 1e-6);
            check_close("decode_ref", ref.data(), want.data(), want.size(), 1e-5, 1e-6);
        }
    }
}

// ----------------------------------------------------------------------------
// Top-p

TEST_CASE("top-p keeps the smallest set whose mass reaches p", "[sample][top-p]") {
    std::vector<double> w;
    SECTION("ties: equal weights are exact, so the boundaries are exact; lower ids first") {
        const float tied[4] = {1.0f, 1.0f, 1.0f, 1.0f};
        CHECK(top_p_candidates(tied, 4, 1.0f, 0, 0.25f, &w) == std::vector<int>{0});
        CHECK(top_p_candidates(tied, 4, 1.0f, 0, 0.2500001f, &w) == std::vector<int>{0, 1});
        CHECK(top_p_candidates(tied, 4, 1.0f, 0, 0.5f, &w) == std::vector<int>{0, 1});
        CHECK(top_p_candidates(tied, 4, 1.0f, 0, 0.75f, &w) == std::vector<int>{0, 1, 2});
        CHECK(top_p_candidates(tied, 4, 1.0f, 0, 1.0f, &w) == std::vector<int>{0, 1, 2, 3});
        CHECK(w.size() == 4);
    }
    SECTION("distinct logits: the likeliest first, and no smaller prefix reaches p") {
        const float logits[6] = {0.5f, 2.0f, -1.0f, 1.0f, 3.0f, 0.0f};  // order 4, 1, 3, 0, 5, 2
        double e[6], total = 0.0;
        for (int i = 0; i < 6; i++) total += e[i] = exp(logits[i] - 3.0);
        const int order[6] = {4, 1, 3, 0, 5, 2};
        for (float p : {0.1f, 0.5f, 0.7f, 0.9f, 0.95f, 0.99f, 1.0f}) {
            std::vector<int> ids = top_p_candidates(logits, 6, 1.0f, 0, p, &w);
            double mass = 0.0, without_last = 0.0;
            for (size_t i = 0; i < ids.size(); i++) {
                CHECK(ids[i] == order[i]);
                without_last = mass;
                mass += e[ids[i]] / total;
            }
            INFO("p " << p << " kept " << ids.size());
            CHECK(mass >= p - 1e-12);
            CHECK(without_last < p);
        }
    }
    SECTION("an exact boundary after top-k: mass renormalised over the top-k") {
        // top-k 2 of {2, 0, 2, 2} keeps ids 0 and 2, equal weights: each has exactly half the mass
        const float logits[4] = {2.0f, 0.0f, 2.0f, 2.0f};
        CHECK(top_p_candidates(logits, 4, 0.7f, 2, 0.5f, &w) == std::vector<int>{0});
        CHECK(top_p_candidates(logits, 4, 0.7f, 2, 0.5000001f, &w) == std::vector<int>{0, 2});
        CHECK(top_p_candidates(logits, 4, 0.7f, 3, 0.5f, &w) == std::vector<int>{0, 2});  // a third each
    }
    SECTION("sampling draws only from the kept set, and top-p 1 is sample_token itself") {
        const float logits[5] = {1.0f, 1.0f, 1.0f, 1.0f, 0.5f};
        Rng rng = rng_make(3);
        int seen[5] = {0, 0, 0, 0, 0};
        for (int i = 0; i < 2000; i++) seen[sample_token_top_p(logits, 5, 1.0f, 0, 0.3f, &rng)]++;
        CHECK(seen[0] > 0);
        CHECK(seen[1] > 0);
        CHECK(seen[2] + seen[3] + seen[4] == 0);
        Rng a = rng_make(9), b = rng_make(9);
        for (int i = 0; i < 200; i++)
            CHECK(sample_token_top_p(logits, 5, 0.8f, 3, 1.0f, &a) == sample_token(logits, 5, 0.8f, 3, &b));
        CHECK(sample_token_top_p(logits, 5, 0.0f, 0, 0.3f, &a) == 0);  // greedy: the first of the ties
    }
}

// ----------------------------------------------------------------------------
// Streaming

TEST_CASE("streaming holds back only an unfinished UTF-8 character", "[sample][utf8]") {
    CHECK(utf8_printable_prefix("") == 0);
    CHECK(utf8_printable_prefix("abc") == 3);
    CHECK(utf8_printable_prefix("a\xC3") == 1);              // é without its second byte
    CHECK(utf8_printable_prefix("a\xC3\xA9") == 3);
    CHECK(utf8_printable_prefix("a\xE2\x82") == 1);          // € with one byte to come
    CHECK(utf8_printable_prefix("a\xE2\x82\xAC") == 4);
    CHECK(utf8_printable_prefix("\xF0\x9F\x98") == 0);       // an emoji, three of four bytes
    CHECK(utf8_printable_prefix("\xF0\x9F\x98\x80") == 4);
    CHECK(utf8_printable_prefix("a\x80\x80\x80\x80") == 5);  // stray continuation bytes never complete
    CHECK(utf8_printable_prefix("a\xFF") == 2);
}

// ----------------------------------------------------------------------------
// KV cache against the full forward

struct DecodeRun {
    std::vector<int> tokens;  // generated
    double max_logit_diff = 0.0;
    int slides = 0;
};

// Decodes `steps` tokens from `prompt` twice in lockstep: with the cache
// (decoder_prefill, decoder_push), and by the trainer's forward over the
// whole current window at every step, the window kept here by the rule
// decode.h documents (full at maxT: keep the last maxT/2, add the new token).
// Both sample from their own logits with the same seed; every token must
// agree, and every position's logits to ~1e-4.
static DecodeRun decode_both_ways(Decoder* d, const std::vector<int>& prompt, int steps, float temperature, int top_k,
                                  float top_p, uint64_t seed) {
    DecodeRun run;
    Rng rng_kv = rng_make(seed), rng_full = rng_make(seed);
    std::vector<int> window(prompt.end() - std::min<size_t>(prompt.size(), d->maxT), prompt.end());
    decoder_prefill(d, prompt.data(), (int)prompt.size());
    for (int s = 0; s < steps; s++) {
        REQUIRE(d->window == window);
        const float* full = decoder_forward(d, window.data(), (int)window.size()) + (window.size() - 1) * d->V;
        for (int i = 0; i < d->V; i++)
            run.max_logit_diff = std::max(run.max_logit_diff, (double)std::fabs(full[i] - d->t.logits[i]));
        int t_full = sample_token_top_p(full, d->V, temperature, top_k, top_p, &rng_full);
        int t_kv = sample_token_top_p(d->t.logits, d->V, temperature, top_k, top_p, &rng_kv);
        INFO("step " << s << " window " << window.size());
        REQUIRE(t_kv == t_full);
        run.tokens.push_back(t_kv);
        decoder_push(d, t_kv);
        if ((int)window.size() == d->maxT) window.erase(window.begin(), window.end() - d->maxT / 2);
        window.push_back(t_kv);
    }
    run.slides = d->slides;
    return run;
}

static void check_decoding(Decoder* d, uint64_t seed) {
    std::mt19937 rng((uint32_t)seed);
    const int maxT = d->maxT;
    SECTION("greedy, past three window slides") {
        DecodeRun r = decode_both_ways(d, random_tokens(rng, 5, d->V), 3 * maxT, 0.0f, 0, 1.0f, seed);
        CHECK(r.slides >= 3);
        CHECK(r.max_logit_diff < 1e-4);
        std::set<int> distinct(r.tokens.begin(), r.tokens.end());
        CHECK(distinct.size() > 3);  // not one token over and over: the test would be weak
    }
    SECTION("sampling with a fixed seed: temperature 1, all tokens") {
        DecodeRun r = decode_both_ways(d, random_tokens(rng, 3, d->V), 2 * maxT, 1.0f, 0, 1.0f, seed + 1);
        CHECK(r.slides >= 2);
        CHECK(r.max_logit_diff < 1e-4);
    }
    SECTION("sampling with top-k and top-p, from a prompt longer than the window") {
        DecodeRun r = decode_both_ways(d, random_tokens(rng, maxT + 7, d->V), 2 * maxT, 0.9f, 20, 0.9f, seed + 2);
        CHECK(r.slides >= 2);
        CHECK(r.max_logit_diff < 1e-4);
    }
    SECTION("a one-token prompt") {
        DecodeRun r = decode_both_ways(d, {d->V - 1}, maxT + 2, 0.0f, 0, 1.0f, seed + 3);
        CHECK(r.slides == 1);
        CHECK(r.max_logit_diff < 1e-4);
    }
}

TEST_CASE("KV-cache decoding equals full-window decoding: Llama, tied, grouped-query (NKV < NH)", "[sample][kv]") {
    Decoder d;
    random_llama(&d, tiny_llama(97, 2, true), 1);
    check_decoding(&d, 101);
    decoder_free(&d);
}

TEST_CASE("KV-cache decoding equals full-window decoding: Llama, untied, one kv head", "[sample][kv]") {
    Decoder d;
    random_llama(&d, tiny_llama(97, 1, false), 2);
    check_decoding(&d, 202);
    decoder_free(&d);
}

TEST_CASE("KV-cache decoding equals full-window decoding: Llama, NKV = NH", "[sample][kv]") {
    Decoder d;
    random_llama(&d, tiny_llama(97, 4, true), 3);
    check_decoding(&d, 303);
    decoder_free(&d);
}

TEST_CASE("KV-cache decoding equals full-window decoding: GPT-2", "[sample][kv]") {
    Decoder d;
    random_gpt2(&d, tiny_gpt2(97), 4);
    check_decoding(&d, 404);
    decoder_free(&d);
}

// ----------------------------------------------------------------------------
// Evaluation windows

TEST_CASE("decoder_eval is the forward's NLL over windows of maxT predictions", "[sample][eval]") {
    Decoder d;
    random_llama(&d, tiny_llama(97, 2, true), 5);
    std::mt19937 rng(5);
    Tokenizer tok;  // only the byte counts matter here
    tok.vocab_size = 97;
    for (int i = 0; i < 97; i++) tok.tokens.push_back(std::string(1 + i % 3, 'x'));
    for (size_t n : {2, 10, 17, 33, 50}) {  // one window, exactly one full, two full, a partial third
        std::vector<int> ids = random_tokens(rng, n, 97);
        EvalTotals e = decoder_eval(&d, ids, tok);
        double nll = 0.0, bytes = 0.0;
        int windows = 0;
        for (size_t s = 0; s + 1 < n; s += 16, windows++) {
            int T = (int)std::min<size_t>(16, n - 1 - s);
            float mean = llama::llama_forward(&d.llama, ids.data() + s, ids.data() + s + 1, 1, T);
            nll += (double)mean * T;
            for (int t = 1; t <= T; t++) bytes += 1 + ids[s + t] % 3;
        }
        INFO("n " << n);
        CHECK(e.targets == n - 1);
        CHECK(e.windows == windows);
        CHECK(e.bytes == bytes);
        CHECK(e.nll == Approx(nll).epsilon(1e-5));
    }
    decoder_free(&d);
}

// ----------------------------------------------------------------------------
// The binary

static const char* SAMPLE = "build/sample";

// Files for running the binary: a tokenizer trained here, and checkpoints of
// tiny random models whose vocab is the tokenizer's.
struct SampleFiles {
    TempDir tmp;
    Tokenizer tok;
    std::string tokenizer, llama_ckpt, llama_opt_ckpt, gpt2_ckpt, gpt2_llmc;
    SampleFiles() {
        std::string text = read_text_file("../shared/data/tinystories/train_head.txt").substr(0, 40000);
        ChunkCounts counts;
        count_chunks(&counts, split_documents(text));
        TrainOptions topt;
        topt.vocab_size = 320;
        std::string err;
        if (!tokenizer_train(&tok, counts, topt, &err)) die("%s", err.c_str());
        tokenizer = tmp / "tok.bin";
        tokenizer_save(tok, tokenizer);

        Decoder d;
        random_llama(&d, tiny_llama(tok.vocab_size, 2, true), 21);
        llama_ckpt = tmp / "llama.bin";
        llama::llama_save_checkpoint(&d.llama, llama_ckpt, TrainState{});
        // the same parameters with (arbitrary) optimizer state, as a training run writes them
        d.llama.m_memory = (float*)calloc_check(d.llama.num_params * sizeof(float), "m");
        d.llama.v_memory = (float*)calloc_check(d.llama.num_params * sizeof(float), "v");
        d.llama.m_memory[0] = 0.5f;
        llama_opt_ckpt = tmp / "llama_opt.bin";
        llama::llama_save_checkpoint(&d.llama, llama_opt_ckpt, TrainState{7, 1, 0, 3, 4, 16});
        decoder_free(&d);

        random_gpt2(&d, tiny_gpt2(tok.vocab_size), 22);
        gpt2_ckpt = tmp / "gpt2.bin";
        gpt2::gpt2_save_checkpoint(&d.gpt2, gpt2_ckpt, TrainState{});
        gpt2_llmc = tmp / "gpt2_llmc.bin";
        gpt2::gpt2_save_llmc(&d.gpt2, gpt2_llmc);
        decoder_free(&d);
    }
};

// What build/sample prints on stdout for one sample: the prompt, then the
// tokens decoded with the cache here until <|endoftext|> or max_tokens, then
// a newline.
static std::string expected_output(const std::string& ckpt, const Tokenizer& tok, const std::string& prompt,
                                   int max_tokens, float temperature, int top_k, float top_p, uint64_t seed) {
    Decoder d;
    decoder_load(&d, ckpt);
    std::vector<int> ids = {tok.eot_id};
    std::vector<int> p = tokenizer_encode(tok, prompt);
    ids.insert(ids.end(), p.begin(), p.end());
    decoder_prefill(&d, ids.data(), (int)ids.size());
    Rng rng = rng_make(seed);
    std::vector<int> out;
    for (int i = 0; i < max_tokens; i++) {
        int next = sample_token_top_p(d.t.logits, d.V, temperature, top_k, top_p, &rng);
        if (next == tok.eot_id) break;
        out.push_back(next);
        decoder_push(&d, next);
    }
    decoder_free(&d);
    return prompt + tokenizer_decode(tok, out.data(), out.size()) + "\n";
}

// Runs build/sample with stdout to a file; returns {exit status, stdout}.
static std::pair<int, std::string> run_sample(const SampleFiles& f, const std::string& args,
                                              const std::string& stdin_text = "") {
    std::string out = f.tmp / "stdout.txt", in = f.tmp / "stdin.txt";
    write_all_bytes(in, stdin_text.data(), stdin_text.size());
    // the parentheses keep stderr out of the file: run_command adds 2>&1 after the command
    RunResult r = run_command("(" + std::string(SAMPLE) + " -z " + f.tokenizer + " " + args + " < " + in + " > " + out + ")");
    INFO(r.output);
    std::vector<char> bytes = read_all_bytes(out);
    return {r.status, std::string(bytes.begin(), bytes.end())};
}

static bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_CASE("build/sample: --help exits 0 and lists the flags", "[sample][cli]") {
    RunResult r = run_command(std::string(SAMPLE) + " --help");
    CHECK(r.status == 0);
    for (const char* flag : {"--load", "--tokenizer", "--prompt", "--temperature", "--top-k", "--top-p", "--seed",
                             "--max-tokens", "--num-samples", "--interactive", "--eval"})
        CHECK(has(r.output, flag));
}

TEST_CASE("build/sample: greedy output is deterministic and equals the decoding here", "[sample][cli]") {
    SampleFiles f;
    const std::string prompt = "Once upon a time";
    std::string want = expected_output(f.llama_ckpt, f.tok, prompt, 40, 0.0f, 0, 1.0f, 1);
    CHECK(want.size() > prompt.size() + 20);  // the random model does not stop at once
    auto a = run_sample(f, "-e " + f.llama_ckpt + " -t 0 -n 40 --prompt '" + prompt + "'");
    auto b = run_sample(f, "-e " + f.llama_ckpt + " -t 0 -n 40 --prompt '" + prompt + "'");
    CHECK(a.first == 0);
    CHECK_SAME(a.second, want);
    CHECK_SAME(b.second, a.second);
    SECTION("a checkpoint with optimizer state gives the same text") {
        auto c = run_sample(f, "-e " + f.llama_opt_ckpt + " -t 0 -n 40 --prompt '" + prompt + "'");
        CHECK(c.first == 0);
        CHECK_SAME(c.second, want);
    }
    SECTION("--prompt - reads the prompt from stdin") {
        auto c = run_sample(f, "-e " + f.llama_ckpt + " -t 0 -n 40 --prompt -", prompt);
        CHECK(c.first == 0);
        CHECK_SAME(c.second, want);
    }
    SECTION("--interactive: one sample per line of stdin") {
        std::string want2 = expected_output(f.llama_ckpt, f.tok, "The dog", 40, 0.0f, 0, 1.0f, 1);
        auto c = run_sample(f, "-e " + f.llama_ckpt + " -t 0 -n 40 --interactive", prompt + "\nThe dog\n");
        CHECK(c.first == 0);
        CHECK_SAME(c.second, want + want2);
    }
    SECTION("GPT-2: our checkpoint and llm.c's model file give the same text") {
        std::string want_gpt2 = expected_output(f.gpt2_ckpt, f.tok, prompt, 40, 0.0f, 0, 1.0f, 1);
        auto c = run_sample(f, "-e " + f.gpt2_ckpt + " -t 0 -n 40 --prompt '" + prompt + "'");
        auto e = run_sample(f, "-e " + f.gpt2_llmc + " -t 0 -n 40 --prompt '" + prompt + "'");
        CHECK(c.first == 0);
        CHECK(e.first == 0);
        CHECK_SAME(c.second, want_gpt2);
        CHECK_SAME(e.second, want_gpt2);
    }
}

TEST_CASE("build/sample: sampling with a seed equals the decoding here; --num-samples", "[sample][cli]") {
    SampleFiles f;
    std::string want = expected_output(f.llama_ckpt, f.tok, "", 30, 0.8f, 40, 0.9f, 77);
    auto a = run_sample(f, "-e " + f.llama_ckpt + " -n 30 --top-p 0.9 --seed 77");
    CHECK(a.first == 0);
    CHECK_SAME(a.second, want);
    // the second sample continues the same random stream
    auto b = run_sample(f, "-e " + f.llama_ckpt + " -n 30 --top-p 0.9 --seed 77 --num-samples 2");
    CHECK(b.first == 0);
    CHECK(b.second.rfind(want + "---\n", 0) == 0);
    CHECK(b.second.size() > want.size() + 5);
}

TEST_CASE("build/sample --eval prints the forward's own loss and bits/byte", "[sample][cli][eval]") {
    SampleFiles f;
    // three stories, several windows of 16
    std::string text = "Tom had a red ball.\n<|endoftext|>\nThe cat sat on the mat. It was warm.\n<|endoftext|>\n"
                       "Lily saw a big dog in the park and she smiled.\n";
    write_all_bytes(f.tmp / "eval.txt", text.data(), text.size());
    size_t stories = 0;
    std::vector<int> ids = tokenize_stories(f.tok, text, &stories);
    REQUIRE(stories == 3);
    REQUIRE(ids.size() > 33);
    // the same ids as prepro writes to a shard from the same text and tokenizer
    write_all_bytes(f.tmp / "other.txt", "A story.\n", 9);
    RunResult pre = run_command("build/prepro --tokenizer " + f.tokenizer + " --train " + (f.tmp / "other.txt") +
                                " --val " + (f.tmp / "eval.txt") + " --out " + (f.tmp / "shards"));
    INFO(pre.output);
    REQUIRE(pre.status == 0);
    std::vector<uint32_t> shard = read_shard(f.tmp / "shards/val_000000.bin", f.tok.vocab_size);
    CHECK_SAME(std::vector<int>(shard.begin(), shard.end()), ids);
    const size_t windows = (ids.size() - 1 + 15) / 16;
    Decoder d;
    decoder_load(&d, f.llama_ckpt);
    double nll = 0.0, bytes = 0.0;
    for (size_t s = 0; s + 1 < ids.size(); s += 16) {
        int T = (int)std::min<size_t>(16, ids.size() - 1 - s);
        nll += (double)llama::llama_forward(&d.llama, ids.data() + s, ids.data() + s + 1, 1, T) * T;
        for (int t = 1; t <= T; t++) bytes += f.tok.tokens[ids[s + t]].size();
    }
    decoder_free(&d);
    double loss = nll / (ids.size() - 1), bpb = nll / log(2.0) / bytes;

    RunResult r = run_command(std::string(SAMPLE) + " -e " + f.llama_ckpt + " -z " + f.tokenizer + " --eval " +
                              (f.tmp / "eval.txt"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "3 stories, " + std::to_string(ids.size()) + " tokens, " + std::to_string(ids.size() - 1) +
                            " predicted in " + std::to_string(windows) + " window(s) of up to 16"));
    double got_loss = 0.0, got_ppl = 0.0, got_bpb = 0.0;
    size_t at = r.output.find("eval: loss ");
    REQUIRE(at != std::string::npos);
    REQUIRE(sscanf(r.output.c_str() + at, "eval: loss %lf | ppl %lf | bits/byte %lf", &got_loss, &got_ppl, &got_bpb) == 3);
    CHECK(got_loss == Approx(loss).epsilon(1e-5));
    CHECK(got_ppl == Approx(exp(loss)).epsilon(1e-4));
    CHECK(got_bpb == Approx(bpb).epsilon(1e-5));
}

TEST_CASE("build/sample: bad input gives a message and exit status 1", "[sample][cli][errors]") {
    SampleFiles f;
    std::vector<char> good = read_all_bytes(f.llama_ckpt);
    auto expect_failure = [&](const std::string& args) {
        RunResult r = run_command(std::string(SAMPLE) + " " + args + " < /dev/null");
        INFO(args << "\n" << r.output);
        CHECK(r.status == 1);
        return r.output;
    };
    std::string ok = " -e " + f.llama_ckpt + " -z " + f.tokenizer;
    SECTION("missing checkpoint") {
        CHECK(has(expect_failure("-e " + (f.tmp / "none.bin")), "cannot open " + (f.tmp / "none.bin")));
    }
    SECTION("no -e at all") { CHECK(has(expect_failure(""), "no model: give a checkpoint with -e FILE")); }
    SECTION("wrong magic") {
        std::vector<char> bad = good;
        int magic = 12345;
        memcpy(bad.data(), &magic, 4);
        write_all_bytes(f.tmp / "bad.bin", bad.data(), bad.size());
        CHECK(has(expect_failure("-e " + (f.tmp / "bad.bin")),
                  "bad.bin: bad magic 12345, expected 20261126 (checkpoint of this engine) or 20240326"));
    }
    SECTION("unknown model kind") {
        std::vector<char> bad = good;
        int kind = 9;
        memcpy(bad.data() + 8, &kind, 4);
        write_all_bytes(f.tmp / "bad.bin", bad.data(), bad.size());
        CHECK(has(expect_failure("-e " + (f.tmp / "bad.bin")), "bad.bin: unknown model kind 9"));
    }
    SECTION("truncated checkpoint") {
        write_all_bytes(f.tmp / "short.bin", good.data(), good.size() - 100);
        CHECK(has(expect_failure("-e " + (f.tmp / "short.bin")), "short.bin: file is " + std::to_string(good.size() - 100) +
                                                                     " bytes, expected " + std::to_string(good.size())));
        write_all_bytes(f.tmp / "header.bin", good.data(), 100);
        CHECK(has(expect_failure("-e " + (f.tmp / "header.bin")), "header.bin: file is truncated"));
    }
    SECTION("bad tokenizer") {
        std::vector<char> tok = read_all_bytes(f.tokenizer);
        write_all_bytes(f.tmp / "badtok.bin", tok.data(), tok.size() - 3);
        std::string out = expect_failure("-e " + f.llama_ckpt + " -z " + (f.tmp / "badtok.bin"));
        CHECK(has(out, "badtok.bin"));
        CHECK(has(expect_failure("-e " + f.llama_ckpt + " -z " + (f.tmp / "none_tok.bin")),
                  "tokenizer " + (f.tmp / "none_tok.bin") + " not found"));
        CHECK(has(expect_failure("-e " + f.llama_ckpt + " -z ../shared/data/gpt2"),
                  "tokenizer ../shared/data/gpt2 has 50257 tokens but the model's vocab is " +
                      std::to_string(f.tok.vocab_size)));
    }
    SECTION("bad flags") {
        CHECK(has(expect_failure(ok + " --top-p 0"), "--top-p must be in (0, 1], got 0"));
        CHECK(has(expect_failure(ok + " --top-p 1.5"), "--top-p must be in (0, 1], got 1.5"));
        CHECK(has(expect_failure(ok + " -t -0.5"), "--temperature must be >= 0 (0 = greedy), got -0.5"));
        CHECK(has(expect_failure(ok + " --max-tokens 0"), "--max-tokens must be at least 1, got 0"));
        CHECK(has(expect_failure(ok + " --num-samples 0"), "--num-samples must be at least 1, got 0"));
        CHECK(has(expect_failure(ok + " --top-k -1"), "--top-k must be >= 0"));
        CHECK(has(expect_failure(ok + " --bogus"), "unknown flag '--bogus'"));
        CHECK(has(expect_failure(ok + " --prompt hi --interactive"), "--prompt and --interactive exclude each other"));
    }
    SECTION("unreadable --eval file") {
        CHECK(has(expect_failure(ok + " --eval " + (f.tmp / "missing.txt")), "cannot open " + (f.tmp / "missing.txt")));
        CHECK(has(expect_failure(ok + " --eval " + f.tmp.path), f.tmp.path + " is a directory, expected a file"));
        write_all_bytes(f.tmp / "empty.txt", "", 0);
        CHECK(has(expect_failure(ok + " --eval " + (f.tmp / "empty.txt")), "empty.txt: no text to evaluate"));
    }
}
