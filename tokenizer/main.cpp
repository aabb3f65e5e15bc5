// tokenizer/main.cpp: the `tokenizer` command line tool.
//   tokenizer train --vocab N --out FILE FILES...
//   tokenizer encode --tokenizer FILE | --gpt2 [DIR]     (text on stdin -> ids on stdout)
//   tokenizer decode --tokenizer FILE | --gpt2 [DIR]     (ids on stdin -> text on stdout)
//   tokenizer info FILE
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../common/util.h"
#include "tokenizer.h"

namespace {

const char* DEFAULT_GPT2_DIR = "../shared/data/gpt2";

void usage_main(FILE* out) {
    fprintf(out,
            "usage: tokenizer <command> [options]   (tokenizer <command> --help for details)\n"
            "commands:\n"
            "  train   train a byte-level BPE vocabulary on text files\n"
            "  encode  text on stdin -> token ids on stdout\n"
            "  decode  token ids on stdin -> text on stdout\n"
            "  info    print a tokenizer file's vocab size, eot id and merges\n");
}

void usage_train(FILE* out) {
    fprintf(out,
            "usage: tokenizer train --vocab N --out FILE [--min-frequency N] [--quiet] FILES...\n"
            "  Trains byte-level BPE on the text of FILES (documents separated by <|endoftext|>,\n"
            "  which itself is never learned) and writes our tokenizer.bin format.\n"
            "  --vocab N            vocabulary size incl. 256 bytes and <|endoftext|> (default 4096)\n"
            "  --out FILE           output file (required)\n"
            "  --min-frequency N    stop early when the best pair occurs fewer times (default 2)\n"
            "  --quiet              no progress lines\n");
}

void usage_codec(FILE* out, const char* cmd) {
    bool enc = strcmp(cmd, "encode") == 0;
    fprintf(out,
            "usage: tokenizer %s (--tokenizer FILE | --gpt2 [DIR])%s\n"
            "  %s\n"
            "  --tokenizer FILE   our tokenizer.bin%s\n"
            "  --gpt2 [DIR]       GPT-2's vocabulary from DIR/encoder.json + DIR/vocab.bpe (default %s)\n",
            cmd, enc ? " [--allow-special]" : "",
            enc ? "Reads text from stdin, writes space-separated token ids and a newline to stdout."
                : "Reads whitespace-separated token ids from stdin, writes the decoded bytes to stdout.",
            enc ? "" : " or llm.c's gpt2_tokenizer.bin", DEFAULT_GPT2_DIR);
    if (enc) fprintf(out, "  --allow-special    encode the text <|endoftext|> as the eot id (default: as ordinary text)\n");
}

bool is_help(const char* a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

int parse_int_arg(const char* flag, const char* v) {
    char* end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || x < -2147483647 || x > 2147483647)
        die("%s expects an integer, got '%s'", flag, v);
    return (int)x;
}

std::string read_whole_file(const std::string& path) {
    long long size = file_size_check(path.c_str());
    std::string s((size_t)size, '\0');
    FILE* f = fopen_check(path.c_str(), "rb");
    if (size > 0) fread_check(&s[0], 1, (size_t)size, f, path.c_str());
    fclose(f);
    return s;
}

std::string read_stdin() {
    std::string s;
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) s.append(buf, n);
    if (ferror(stdin)) die("stdin: read error: %s", strerror(errno));
    return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int cmd_train(int argc, char** argv) {
    TrainOptions opt;
    std::string out;
    std::vector<std::string> files;
    bool quiet = false;
    for (int i = 0; i < argc; i++) {
        const char* a = argv[i];
        if (is_help(a)) { usage_train(stdout); return 0; }
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--vocab") == 0 && has_value) opt.vocab_size = parse_int_arg(a, argv[++i]);
        else if (strcmp(a, "--out") == 0 && has_value) out = argv[++i];
        else if (strcmp(a, "--min-frequency") == 0 && has_value) opt.min_frequency = parse_int_arg(a, argv[++i]);
        else if (strcmp(a, "--quiet") == 0) quiet = true;
        else if (a[0] == '-' && a[1] == '-') { usage_train(stderr); die("train: unknown option or missing value: %s", a); }
        else files.push_back(a);
    }
    if (out.empty()) { usage_train(stderr); die("train: --out FILE is required"); }
    if (files.empty()) { usage_train(stderr); die("train: no input files"); }
    if (opt.vocab_size < 257 || opt.vocab_size > TOKENIZER_MAX_VOCAB)
        die("train: --vocab %d out of range: need at least 257 (256 byte tokens + <|endoftext|>), at most %d",
            opt.vocab_size, TOKENIZER_MAX_VOCAB);
    if (opt.min_frequency < 1) die("train: --min-frequency must be >= 1, got %lld", (long long)opt.min_frequency);
    opt.verbose = !quiet;

    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> texts;
    size_t bytes = 0;
    for (const auto& f : files) {
        texts.push_back(read_whole_file(f));
        if (texts.back().empty()) die("%s is empty, expected text to train on", f.c_str());
        bytes += texts.back().size();
    }
    std::vector<std::string_view> docs;
    for (const auto& t : texts) {
        auto d = split_documents(t);
        docs.insert(docs.end(), d.begin(), d.end());
    }
    if (docs.empty()) die("train: the input files hold only whitespace and <|endoftext|>");
    ChunkCounts counts;
    count_chunks(&counts, docs);
    double t_count = seconds_since(t0);
    Tokenizer tok;
    std::string err;
    if (!tokenizer_train(&tok, counts, opt, &err)) die("train: %s", err.c_str());
    double t_total = seconds_since(t0);
    tokenizer_save(tok, out);
    if (!quiet)
        printf("trained vocab %d (%zu merges, eot %d) on %zu documents, %.2f MB in %.2f s (%.2f s reading and counting "
               "chunks); wrote %s\n",
               tok.vocab_size, tok.merges.size(), tok.eot_id, docs.size(), bytes / 1e6, t_total, t_count, out.c_str());
    return 0;
}

// --tokenizer FILE | --gpt2 [DIR]; the remaining flags are left to the caller.
bool load_from_args(int argc, char** argv, int* i, Tokenizer* tok, bool* set) {
    std::string err;
    const char* a = argv[*i];
    if (strcmp(a, "--tokenizer") == 0) {
        if (*i + 1 >= argc) die("--tokenizer needs a FILE");
        const char* path = argv[++*i];
        if (*set) die("give one of --tokenizer or --gpt2, not both");
        if (!tokenizer_load(tok, path, &err)) die("%s", err.c_str());
        *set = true;
        return true;
    }
    if (strcmp(a, "--gpt2") == 0) {
        std::string dir = DEFAULT_GPT2_DIR;
        if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0) dir = argv[++*i];
        if (*set) die("give one of --tokenizer or --gpt2, not both");
        if (!tokenizer_load_gpt2_dir(tok, dir, &err)) die("%s", err.c_str());
        *set = true;
        return true;
    }
    return false;
}

int cmd_encode(int argc, char** argv) {
    Tokenizer tok;
    bool set = false, allow_special = false;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) { usage_codec(stdout, "encode"); return 0; }
    }
    for (int i = 0; i < argc; i++) {
        if (load_from_args(argc, argv, &i, &tok, &set)) continue;
        if (strcmp(argv[i], "--allow-special") == 0) allow_special = true;
        else { usage_codec(stderr, "encode"); die("encode: unknown argument %s", argv[i]); }
    }
    if (!set) { usage_codec(stderr, "encode"); die("encode: give --tokenizer FILE or --gpt2 [DIR]"); }
    if (!tok.can_encode) die("encode: this tokenizer is decode-only (llm.c format, no merges); use --gpt2 or our tokenizer.bin");
    std::string text = read_stdin();
    std::vector<int> ids = tokenizer_encode(tok, text, allow_special);
    std::string line;
    line.reserve(ids.size() * 6);
    for (size_t i = 0; i < ids.size(); i++) {
        if (i) line.push_back(' ');
        line += std::to_string(ids[i]);
    }
    line.push_back('\n');
    fwrite_check(line.data(), 1, line.size(), stdout, "stdout");
    return 0;
}

int cmd_decode(int argc, char** argv) {
    Tokenizer tok;
    bool set = false;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) { usage_codec(stdout, "decode"); return 0; }
    }
    for (int i = 0; i < argc; i++) {
        if (load_from_args(argc, argv, &i, &tok, &set)) continue;
        usage_codec(stderr, "decode");
        die("decode: unknown argument %s", argv[i]);
    }
    if (!set) { usage_codec(stderr, "decode"); die("decode: give --tokenizer FILE or --gpt2 [DIR]"); }
    std::string in = read_stdin();
    std::vector<int> ids;
    const char* p = in.c_str();
    while (true) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',') p++;
        if (*p == '\0') break;
        char* end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno != 0 || v < -2147483647 || v > 2147483647 ||
            !(*end == '\0' || *end == ' ' || *end == '\n' || *end == '\t' || *end == '\r' || *end == ','))
            die("stdin: expected a token id at byte %zu, found '%.20s'", (size_t)(p - in.c_str()), p);
        ids.push_back((int)v);
        p = end;
    }
    std::string text, err;
    if (!tokenizer_decode_checked(tok, ids.data(), ids.size(), &text, &err)) die("stdin: %s", err.c_str());
    fwrite_check(text.data(), 1, text.size(), stdout, "stdout");
    return 0;
}

int cmd_info(int argc, char** argv) {
    if (argc != 1 || is_help(argv[0])) {
        fprintf(argc == 1 ? stdout : stderr, "usage: tokenizer info FILE\n  Prints what a tokenizer file holds.\n");
        if (argc == 1) return 0;
        die("info: expected exactly one FILE");
    }
    Tokenizer tok;
    std::string err;
    if (!tokenizer_load(&tok, argv[0], &err)) die("%s", err.c_str());
    size_t longest = 0;
    for (const auto& t : tok.tokens) longest = t.size() > longest ? t.size() : longest;
    printf("%s: vocab %d, eot %d, %zu merges, %s, longest token %zu bytes\n", argv[0], tok.vocab_size, tok.eot_id,
           tok.merges.size(), tok.can_encode ? "encode+decode" : "decode-only", longest);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || is_help(argv[1])) {
        usage_main(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    const char* cmd = argv[1];
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "encode") == 0) return cmd_encode(argc - 2, argv + 2);
    if (strcmp(cmd, "decode") == 0) return cmd_decode(argc - 2, argv + 2);
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 2, argv + 2);
    usage_main(stderr);
    die("unknown command '%s'", cmd);
}
