// sample/sample.cpp: build/sample, generate text from a trained model or
// evaluate it on a text file.
//
// Loads any checkpoint of ours, Llama or GPT-2 (the kind is in its header; the
// optimizer state, if any, is skipped), or llm.c's GPT-2 model file, and its
// tokenizer. Generation starts from <|endoftext|>, the token every training
// story follows, then the prompt's tokens; it streams each token's text as
// soon as it is sampled and stops at the next <|endoftext|> (the story is
// over) or after --max-tokens. Decoding is incremental (sample/decode.h): the
// prompt is prefilled in one forward, and each new token costs one position
// against the key/value cache. At the end it prints tokens/s for the prefill
// and for the generation, on stderr, so that stdout holds only the text.
//
// Shape letters as everywhere: B batch, T time, C channels, V vocabulary.
#include "decode.h"
#include "text.h"

static const char* SUMMARY =
    "Generates text from a checkpoint (Llama or GPT-2, ours or llm.c's GPT-2 model file), or evaluates it.\n"
    "Starts from <|endoftext|> + the prompt and stops at the next <|endoftext|> or after --max-tokens;\n"
    "text streams to stdout, tokens/s (prefill and generation) go to stderr at the end.\n"
    "The prompt: --prompt TEXT, --prompt - (all of stdin), none (start from <|endoftext|> alone),\n"
    "or --interactive (one prompt per line of stdin, until EOF). --eval FILE prints loss, perplexity\n"
    "and bits/byte of a text file, tokenized as prepro does, in windows of the model's seq-len.\n"
    "Past the seq-len the window slides: the oldest half of the context is dropped (README.md).";

struct SampleOptions {
    std::string load;
    std::string tokenizer;  // "" = the default for the model's kind
    std::string prompt;
    std::string eval;
    float temperature = 0.8f;
    int top_k = 40;
    float top_p = 1.0f;
    int seed = 1337;
    int max_tokens = 256;
    int num_samples = 1;
    bool interactive = false;
};

// Where each kind's tokenizer is when -z is not given: where the trainers look.
static const char* DEFAULT_TOKENIZER_LLAMA = "data/tinystories/tokenizer.bin";
static const char* DEFAULT_TOKENIZER_GPT2 = "../shared/data/gpt2";

static std::vector<ArgSpec> sample_flags(SampleOptions* o) {
    return {
        {"-e", "--load", ARG_STRING, &o->load, "checkpoint or llm.c GPT-2 model file to load (required)"},
        {"-z", "--tokenizer", ARG_STRING, &o->tokenizer,
         "tokenizer file or GPT-2 vocab dir (\"\" = data/tinystories/tokenizer.bin for Llama, ../shared/data/gpt2 for GPT-2)"},
        {"-p", "--prompt", ARG_STRING, &o->prompt, "text to continue (\"-\" = read it from stdin; \"\" = start from <|endoftext|>)"},
        {"-t", "--temperature", ARG_FLOAT, &o->temperature, "sampling temperature (0 = greedy)"},
        {"-k", "--top-k", ARG_INT, &o->top_k, "sample among the k likeliest tokens (0 = all)"},
        {nullptr, "--top-p", ARG_FLOAT, &o->top_p, "then among the fewest likeliest tokens whose probability reaches p, in (0, 1] (1 = off)"},
        {"-s", "--seed", ARG_INT, &o->seed, "seed for sampling"},
        {"-n", "--max-tokens", ARG_INT, &o->max_tokens, "tokens to generate at most per sample"},
        {nullptr, "--num-samples", ARG_INT, &o->num_samples, "samples per prompt"},
        {"-i", "--interactive", ARG_BOOL, &o->interactive, "read prompts from stdin, one per line, until EOF"},
        {nullptr, "--eval", ARG_STRING, &o->eval, "evaluate on this text file instead of generating"},
    };
}

static void check_options(const SampleOptions& o, const std::vector<ArgSpec>& specs) {
    if (o.load.empty()) die("no model: give a checkpoint with -e FILE (see --help)");
    if (!(o.temperature >= 0.0f)) die("--temperature must be >= 0 (0 = greedy), got %g", o.temperature);
    if (o.top_k < 0) die("--top-k must be >= 0 (0 = all tokens), got %d", o.top_k);
    if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) die("--top-p must be in (0, 1], got %g", o.top_p);
    if (o.max_tokens < 1) die("--max-tokens must be at least 1, got %d", o.max_tokens);
    if (o.num_samples < 1) die("--num-samples must be at least 1, got %d", o.num_samples);
    if (o.interactive && arg_was_set(specs, "--prompt")) die("--prompt and --interactive exclude each other");
    if (!o.eval.empty() && (o.interactive || arg_was_set(specs, "--prompt")))
        die("--eval evaluates only: drop --prompt and --interactive");
}

static void load_tokenizer(Tokenizer* tok, const std::string& path, int V) {
    if (!path_exists(path)) die("tokenizer %s not found (give the model's tokenizer with -z)", path.c_str());
    struct stat st;
    bool is_dir = stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    std::string err;
    bool ok = is_dir ? tokenizer_load_gpt2_dir(tok, path, &err) : tokenizer_load(tok, path, &err);
    if (!ok) die("%s", err.c_str());
    if (tok->vocab_size > V)
        die("tokenizer %s has %d tokens but the model's vocab is %d (is it the model's tokenizer?)", path.c_str(),
            tok->vocab_size, V);
}

// <|endoftext|> and the prompt's tokens.
static std::vector<int> prompt_tokens(const Tokenizer& tok, const std::string& prompt) {
    std::vector<int> ids;
    if (tok.eot_id >= 0) ids.push_back(tok.eot_id);
    if (!prompt.empty()) {
        if (!tok.can_encode) die("the tokenizer is decode-only (llm.c's gpt2_tokenizer.bin): it cannot encode a prompt");
        std::vector<int> p = tokenizer_encode(tok, prompt, false, 1);
        ids.insert(ids.end(), p.begin(), p.end());
    }
    if (ids.empty()) die("nothing to start from: the prompt is empty and the tokenizer has no <|endoftext|>");
    return ids;
}

struct GenStats {
    long prefill_tokens = 0;
    double prefill_ms = 0.0;
    long tokens = 0;         // generated
    double gen_ms = 0.0;     // from the end of the prefill to the last token printed
    int slides = 0;
};

// Writes bytes to stdout and flushes, so each token shows as it is sampled.
static void emit(const std::string& bytes) {
    fwrite_check(bytes.data(), 1, bytes.size(), stdout, "stdout");
    fflush(stdout);
}

// One sample: prompt, then tokens until <|endoftext|> or max_tokens, streamed.
static void generate(Decoder* d, const Tokenizer& tok, const std::string& prompt, const SampleOptions& o, Rng* rng,
                     GenStats* st) {
    std::vector<int> ids = prompt_tokens(tok, prompt);
    double t0 = now_ms();
    decoder_prefill(d, ids.data(), (int)ids.size());
    double t1 = now_ms();
    st->prefill_tokens += (long)d->window.size();
    st->prefill_ms += t1 - t0;
    emit(prompt);
    std::string pending;  // decoded bytes not yet printed: the start of an unfinished UTF-8 character
    int slides0 = d->slides;
    for (int i = 0; i < o.max_tokens; i++) {
        int next = sample_token_top_p(d->t.logits, d->V, o.temperature, o.top_k, o.top_p, rng);
        if (next == tok.eot_id) break;  // the story is over
        st->tokens++;
        pending += tokenizer_decode(tok, &next, 1);  // an id past the tokenizer's vocab (the model's may be larger) is U+FFFD
        size_t n = utf8_printable_prefix(pending);
        emit(pending.substr(0, n));
        pending.erase(0, n);
        if (i + 1 < o.max_tokens) decoder_push(d, next);  // the last token's logits would go unused
    }
    emit(pending + "\n");
    st->gen_ms += now_ms() - t1;
    st->slides += d->slides - slides0;
}

// All of stdin (--prompt -), or one line of it without its newline (--interactive);
// false at the end of input with nothing read.
static bool read_stdin(std::string* text, bool one_line) {
    text->clear();
    int c;
    while ((c = getchar()) != EOF && !(one_line && c == '\n')) *text += (char)c;
    if (ferror(stdin)) die("reading the prompt from stdin: %s", strerror(errno));
    return c != EOF || !text->empty();
}

static void print_stats(const GenStats& s) {
    fprintf(stderr, "prefill: %ld tokens in %.1f ms (%.0f tok/s) | generation: %ld tokens in %.1f ms (%.1f tok/s)%s\n",
            s.prefill_tokens, s.prefill_ms, s.prefill_ms > 0 ? s.prefill_tokens / (s.prefill_ms / 1e3) : 0.0,
            s.tokens, s.gen_ms, s.gen_ms > 0 ? s.tokens / (s.gen_ms / 1e3) : 0.0,
            s.slides ? (", " + std::to_string(s.slides) + " window slide(s)").c_str() : "");
}

// All samples for one prompt, then the speeds.
static void run_prompt(Decoder* d, const Tokenizer& tok, const std::string& prompt, const SampleOptions& o, Rng* rng) {
    GenStats st;
    for (int s = 0; s < o.num_samples; s++) {
        if (s > 0) emit("---\n");
        generate(d, tok, prompt, o, rng, &st);
    }
    print_stats(st);
}

static void run_eval(Decoder* d, const Tokenizer& tok, const std::string& path) {
    if (!tok.can_encode) die("the tokenizer is decode-only (llm.c's gpt2_tokenizer.bin): it cannot encode %s", path.c_str());
    std::string text = read_text_file(path);
    size_t stories = 0;
    std::vector<int> ids = tokenize_stories(tok, text, &stories);
    if (ids.size() < 2) die("%s: no text to evaluate (it needs at least one token after <|endoftext|>)", path.c_str());
    double t0 = now_ms();
    EvalTotals e = decoder_eval(d, ids, tok);
    double ms = now_ms() - t0;
    double loss = e.nll / e.targets;
    printf("eval: %s: %zu stories, %zu tokens, %zu predicted in %d window(s) of up to %d\n", path.c_str(), stories,
           ids.size(), e.targets, e.windows, d->maxT);
    printf("eval: loss %.6f | ppl %.4f | bits/byte %.6f | %.0f tok/s\n", loss, exp(loss), e.nll / log(2.0) / e.bytes,
           e.targets / (ms / 1e3));
}

int main(int argc, char** argv) {
    SampleOptions o;
    std::vector<ArgSpec> specs = sample_flags(&o);
    args_parse(argc, argv, specs, SUMMARY);
    check_options(o, specs);
    enable_flush_to_zero();

    Decoder d;
    decoder_load(&d, o.load);
    if (o.tokenizer.empty())
        o.tokenizer = d.kind == CKPT_KIND_LLAMA ? DEFAULT_TOKENIZER_LLAMA : DEFAULT_TOKENIZER_GPT2;
    Tokenizer tok;
    load_tokenizer(&tok, o.tokenizer, d.V);
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    fprintf(stderr, "%s | %s | tokenizer %s | %d threads\n", o.load.c_str(), decoder_describe(d).c_str(),
            o.tokenizer.c_str(), threads);

    if (!o.eval.empty()) {
        run_eval(&d, tok, o.eval);
    } else if (o.interactive) {
        Rng rng = rng_make((uint64_t)o.seed);
        std::string line;
        fprintf(stderr, "> ");
        while (read_stdin(&line, true)) {
            run_prompt(&d, tok, line, o, &rng);
            fprintf(stderr, "> ");
        }
        fprintf(stderr, "\n");
    } else {
        Rng rng = rng_make((uint64_t)o.seed);
        std::string prompt = o.prompt;
        if (prompt == "-") read_stdin(&prompt, false);
        run_prompt(&d, tok, prompt, o, &rng);
    }
    decoder_free(&d);
    return 0;
}
