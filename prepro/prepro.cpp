// prepro/prepro.cpp: text -> tokenizer.bin + llm.c token shards.
//
//   prepro --train FILE... --val FILE [--vocab N | --tokenizer FILE | --gpt2] --out DIR
//
// Inputs are TinyStories text (stories separated by <|endoftext|>, normally on
// a line of its own) or JSONL with a "text" field per line (chosen by a
// .jsonl extension or a first non-blank character '{'). Files are streamed
// in blocks, so the full ~2 GB dataset needs no more memory than a block
// plus one shard.
//
// Steps: (1) with --vocab, train the BPE tokenizer on the train files only —
// the val file is never read before the tokenizer is fixed; (2) encode each
// story with ONE <|endoftext|> BEFORE it, like llm.c's TinyStories prepro, so
// every story (the first included) is preceded by the token generation
// starts from; (3) write DIR/train_000000.bin ... (split every --shard-size
// tokens), DIR/val_000000.bin ... and DIR/tokenizer.bin.
#include <sys/stat.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../common/shard.h"
#include "../common/util.h"
#include "../tokenizer/json.h"
#include "../tokenizer/tokenizer.h"

namespace {

struct Options {
    std::vector<std::string> train;
    std::string val;
    int vocab = 4096;
    bool vocab_set = false;
    std::string tokenizer;
    bool gpt2 = false;
    std::string gpt2_dir = "../shared/data/gpt2";
    std::string out = "data/tinystories";
    long long shard_size = 100000000;
    long long min_frequency = 2;
};

void usage(FILE* f) {
    fprintf(f,
            "usage: prepro --train FILE... --val FILE [--vocab N | --tokenizer FILE | --gpt2] [options]\n"
            "Tokenizes text into llm.c token shards plus tokenizer.bin.\n"
            "Input: TinyStories text (stories separated by <|endoftext|>) or JSONL with a \"text\" field\n"
            "(a .jsonl extension or a first character '{'). Each story is written as <|endoftext|> + its tokens.\n"
            "  --train FILE...       training text, one or more files (required)\n"
            "  --val FILE            validation text (required); never used to train the tokenizer\n"
            "  --vocab N             train a byte-level BPE tokenizer of N tokens on the train files\n"
            "                        (default 4096; at least 257 = 256 bytes + <|endoftext|>, at most %d)\n"
            "  --tokenizer FILE      use this tokenizer.bin instead of training one\n"
            "  --gpt2                use GPT-2's 50257-token vocabulary\n"
            "  --gpt2-dir DIR        where GPT-2's encoder.json and vocab.bpe are (default ../shared/data/gpt2)\n"
            "  --out DIR             output directory (default data/tinystories)\n"
            "  --shard-size N        tokens per shard (default 100000000)\n"
            "  --min-frequency N     tokenizer training stops early when the best pair is rarer (default 2)\n"
            "  --help                this text\n"
            "Writes DIR/tokenizer.bin, DIR/train_NNNNNN.bin, DIR/val_NNNNNN.bin.\n",
            TOKENIZER_MAX_VOCAB);
}

long long parse_ll(const char* flag, const char* v, long long lo, long long hi) {
    char* end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0) die("%s expects an integer, got '%s'", flag, v);
    if (x < lo || x > hi) die("%s %lld out of range, expected %lld..%lld", flag, x, lo, hi);
    return x;
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) die("%s needs a value (see --help)", a.c_str());
            return argv[++i];
        };
        if (a == "--help" || a == "-h") { usage(stdout); exit(0); }
        else if (a == "--train") {
            value();
            o.train.push_back(argv[i]);
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) o.train.push_back(argv[++i]);
        }
        else if (a == "--val") o.val = value();
        else if (a == "--vocab") {
            const char* v = value();
            char* end;
            long long x = strtoll(v, &end, 10);
            if (*v == '\0' || *end != '\0') die("--vocab expects an integer, got '%s'", v);
            if (x < 257) die("--vocab %lld is too small: need at least 257 (256 byte tokens + <|endoftext|>)", x);
            if (x > TOKENIZER_MAX_VOCAB) die("--vocab %lld is too large: the tokenizer format allows at most %d", x, TOKENIZER_MAX_VOCAB);
            o.vocab = (int)x;
            o.vocab_set = true;
        }
        else if (a == "--tokenizer") o.tokenizer = value();
        else if (a == "--gpt2") o.gpt2 = true;
        else if (a == "--gpt2-dir") o.gpt2_dir = value();
        else if (a == "--out") o.out = value();
        else if (a == "--shard-size") o.shard_size = parse_ll("--shard-size", value(), 1, 0x7fffffffll);
        else if (a == "--min-frequency") o.min_frequency = parse_ll("--min-frequency", value(), 1, LLONG_MAX);
        else { usage(stderr); die("unknown argument '%s'", a.c_str()); }
    }
    if (o.train.empty()) { usage(stderr); die("--train FILE... is required"); }
    if (o.val.empty()) { usage(stderr); die("--val FILE is required"); }
    int sources = (o.vocab_set ? 1 : 0) + (o.tokenizer.empty() ? 0 : 1) + (o.gpt2 ? 1 : 0);
    if (sources > 1) die("give only one of --vocab N, --tokenizer FILE and --gpt2");
    return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Streams a text or JSONL file as batches of stories. The views a batch
// returns stay valid until the next call.
class StoryReader {
  public:
    static constexpr size_t BLOCK = 32u << 20;

    explicit StoryReader(const std::string& path) : path_(path) {
        size_ = file_size_check(path.c_str());  // dies on missing file or directory
        if (size_ == 0) die("%s is empty, expected stories separated by <|endoftext|> or JSONL with a \"text\" field", path.c_str());
        f_ = fopen_check(path.c_str(), "rb");
        jsonl_ = path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
    }
    ~StoryReader() {
        if (f_) fclose(f_);
    }
    StoryReader(const StoryReader&) = delete;
    StoryReader& operator=(const StoryReader&) = delete;

    bool is_jsonl() const { return jsonl_; }
    long long size() const { return size_; }
    long long done() const { return done_; }
    size_t invalid_utf8() const { return invalid_utf8_; }

    // Fills *docs with the next batch; false when the file is exhausted.
    bool next(std::vector<std::string_view>* docs) {
        docs->clear();
        owned_.clear();
        if (eof_ && carry_.empty()) return false;
        buf_.swap(carry_);
        carry_.clear();
        size_t cut;
        while (true) {
            if (!eof_) read_block();
            if (first_) {
                first_ = false;
                size_t k = buf_.find_first_not_of(" \t\r\n");
                if (k != std::string::npos && buf_[k] == '{') jsonl_ = true;
            }
            if (eof_) { cut = buf_.size(); break; }
            // Cut after the last complete separator so no story is split.
            size_t k = jsonl_ ? buf_.rfind('\n') : buf_.rfind(EOT_TEXT);
            if (k != std::string::npos) {
                cut = jsonl_ ? k + 1 : k + strlen(EOT_TEXT);
                break;
            }
        }
        carry_.assign(buf_, cut, std::string::npos);
        buf_.resize(cut);
        invalid_utf8_ += utf8_count_invalid(buf_);
        if (!jsonl_) {
            *docs = split_documents(buf_);
        } else {
            parse_jsonl();
            for (const auto& s : owned_) {
                auto d = split_whitespace_trimmed(s);
                if (!d.empty()) docs->push_back(d);
            }
        }
        return true;
    }

  private:
    void read_block() {
        size_t old = buf_.size();
        buf_.resize(old + BLOCK);
        size_t got = fread(&buf_[old], 1, BLOCK, f_);
        if (ferror(f_)) die("%s: read error: %s", path_.c_str(), strerror(errno));
        buf_.resize(old + got);
        done_ += (long long)got;
        if (got < BLOCK) eof_ = true;
    }

    static std::string_view split_whitespace_trimmed(const std::string& s) {
        size_t a = s.find_first_not_of(" \t\r\n\v\f");
        if (a == std::string::npos) return {};
        size_t b = s.find_last_not_of(" \t\r\n\v\f");
        return std::string_view(s).substr(a, b - a + 1);
    }

    void parse_jsonl() {
        std::string err;
        for (size_t a = 0; a < buf_.size();) {
            size_t b = buf_.find('\n', a);
            if (b == std::string::npos) b = buf_.size();
            std::string_view line(buf_.data() + a, b - a);
            a = b + 1;
            line_++;
            if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
            owned_.emplace_back();
            if (!json_get_string_field(line, "text", &owned_.back(), &err))
                die("%s:%zu: %s (expected one JSON object with a string \"text\" field per line)", path_.c_str(), line_,
                    err.c_str());
        }
    }

    std::string path_;
    FILE* f_ = nullptr;
    long long size_ = 0, done_ = 0;
    bool jsonl_ = false, eof_ = false, first_ = true;
    std::string buf_, carry_;
    std::vector<std::string> owned_;
    size_t line_ = 0, invalid_utf8_ = 0;
};

void progress(const char* what, const std::string& path, const StoryReader& r, size_t stories,
              std::chrono::steady_clock::time_point t0) {
    printf("[%s] %s: %.1f/%.1f MB, %zu stories, %.1f s\n", what, path.c_str(), r.done() / 1e6, r.size() / 1e6, stories,
           seconds_since(t0));
    fflush(stdout);
}

void warn_invalid_utf8(const std::string& path, const StoryReader& r, bool* warned) {
    if (r.invalid_utf8() > 0 && !*warned) {
        *warned = true;
        fprintf(stderr, "warning: %s: %zu invalid UTF-8 sequences; they are encoded byte by byte\n", path.c_str(),
                r.invalid_utf8());
    }
}

Tokenizer train_tokenizer(const Options& o) {
    auto t0 = std::chrono::steady_clock::now();
    ChunkCounts counts;
    size_t stories = 0;
    for (const auto& path : o.train) {
        StoryReader r(path);
        std::vector<std::string_view> docs;
        size_t file_stories = 0;
        bool warned = false;
        while (r.next(&docs)) {
            count_chunks(&counts, docs);
            file_stories += docs.size();
            progress("count", path, r, file_stories, t0);
            warn_invalid_utf8(path, r, &warned);
        }
        if (file_stories == 0) die("%s: no stories found (only whitespace and <|endoftext|>)", path.c_str());
        stories += file_stories;
    }
    double t_count = seconds_since(t0);
    TrainOptions topt;
    topt.vocab_size = o.vocab;
    topt.min_frequency = o.min_frequency;
    topt.verbose = true;
    Tokenizer tok;
    std::string err;
    if (!tokenizer_train(&tok, counts, topt, &err)) die("tokenizer training: %s", err.c_str());
    printf("tokenizer: trained vocab %d on %zu train stories in %.2f s (%.2f s counting chunks)\n", tok.vocab_size,
           stories, seconds_since(t0), t_count);
    return tok;
}

struct SplitStats {
    size_t stories = 0, bytes = 0, tokens = 0, shards = 0;
};

std::string shard_path(const std::string& dir, const char* split, size_t index) {
    char name[64];
    snprintf(name, sizeof name, "%s_%06zu.bin", split, index);
    return dir + "/" + name;
}

SplitStats encode_split(const Options& o, const Tokenizer& tok, const char* split, const std::vector<std::string>& files) {
    auto t0 = std::chrono::steady_clock::now();
    SplitStats st;
    std::vector<uint32_t> pending;
    auto flush = [&](size_t n) {
        std::vector<uint32_t> shard(pending.begin(), pending.begin() + n);
        write_shard(shard_path(o.out, split, st.shards++), shard, tok.vocab_size);
        pending.erase(pending.begin(), pending.begin() + n);
    };
    for (const auto& path : files) {
        StoryReader r(path);
        std::vector<std::string_view> docs;
        size_t file_stories = 0;
        bool warned = false;
        while (r.next(&docs)) {
            std::vector<int> ids = tokenizer_encode_docs(tok, docs, tok.eot_id);
            pending.insert(pending.end(), ids.begin(), ids.end());
            st.tokens += ids.size();
            file_stories += docs.size();
            for (auto d : docs) st.bytes += d.size();
            while (pending.size() >= (size_t)o.shard_size) flush((size_t)o.shard_size);
            progress(split, path, r, file_stories, t0);
            warn_invalid_utf8(path, r, &warned);
        }
        if (file_stories == 0) die("%s: no stories found (only whitespace and <|endoftext|>)", path.c_str());
        st.stories += file_stories;
    }
    if (!pending.empty()) flush(pending.size());
    // Shards of an earlier, larger run would otherwise be read as part of this one.
    for (size_t k = st.shards;; k++) {
        std::string p = shard_path(o.out, split, k);
        if (!path_exists(p)) break;
        if (remove(p.c_str()) != 0) die("cannot remove stale shard %s: %s", p.c_str(), strerror(errno));
        printf("removed stale %s\n", p.c_str());
    }
    return st;
}

void print_stats(const char* split, const SplitStats& s) {
    size_t text_tokens = s.tokens - s.stories;  // one <|endoftext|> per story
    printf("%-5s: %zu stories, %zu bytes, %zu tokens (%zu text + %zu eot) in %zu shard%s, %.3f bytes/token\n", split,
           s.stories, s.bytes, s.tokens, text_tokens, s.stories, s.shards, s.shards == 1 ? "" : "s",
           text_tokens ? (double)s.bytes / text_tokens : 0.0);
}

std::string real_path(const std::string& p) {
    char buf[PATH_MAX];
    return realpath(p.c_str(), buf) ? std::string(buf) : p;
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse_args(argc, argv);
    auto t0 = std::chrono::steady_clock::now();
    // Check every input before the slow work, so a typo fails in milliseconds.
    for (const auto& p : o.train) {
        if (file_size_check(p.c_str()) == 0) die("%s is empty, expected training text", p.c_str());
        if (real_path(p) == real_path(o.val))
            die("%s is given as both --train and --val: validation text must never train the tokenizer or the model",
                p.c_str());
    }
    if (file_size_check(o.val.c_str()) == 0) die("%s is empty, expected validation text", o.val.c_str());
    ensure_writable_dir(o.out.c_str());

    Tokenizer tok;
    std::string err;
    if (!o.tokenizer.empty()) {
        if (!tokenizer_load(&tok, o.tokenizer, &err)) die("%s", err.c_str());
        if (!tok.can_encode)
            die("%s is decode-only (llm.c's gpt2_tokenizer.bin has no merges); use --gpt2 or one of our tokenizer.bin files",
                o.tokenizer.c_str());
        printf("tokenizer: %s, vocab %d\n", o.tokenizer.c_str(), tok.vocab_size);
    } else if (o.gpt2) {
        if (!tokenizer_load_gpt2_dir(&tok, o.gpt2_dir, &err)) die("%s (set --gpt2-dir)", err.c_str());
        printf("tokenizer: GPT-2 from %s, vocab %d\n", o.gpt2_dir.c_str(), tok.vocab_size);
    } else {
        tok = train_tokenizer(o);  // train files only: the val file has not been opened yet
    }
    if (tok.eot_id < 0) die("the tokenizer has no <|endoftext|> token, which prepro needs to delimit stories");
    std::string tok_out = o.out + "/tokenizer.bin";
    tokenizer_save(tok, tok_out);

    SplitStats train = encode_split(o, tok, "train", o.train);
    SplitStats val = encode_split(o, tok, "val", {o.val});
    printf("vocab %d, eot %d, %s\n", tok.vocab_size, tok.eot_id, tok.vocab_size <= 65536 ? "uint16 shards" : "uint32 shards");
    print_stats("train", train);
    print_stats("val", val);
    printf("wrote %s, %zu train and %zu val shards to %s in %.2f s\n", tok_out.c_str(), train.shards, val.shards,
           o.out.c_str(), seconds_since(t0));
    return 0;
}
