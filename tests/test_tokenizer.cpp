// tests/test_tokenizer.cpp: the byte-level BPE tokenizer. Exact round trips on
// every shared text and on hostile byte strings; GPT-2 ids equal tiktoken's
// (the committed fixture, written by tokenizer/compare_tiktoken.py);
// training is deterministic and follows the documented id layout; encoding
// does not depend on the thread count; the loaders reject corrupt files with
// a message and never crash. tokenizer/tokenizer.h documents what is checked.
#include <catch2/catch.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../common/rng.h"
#include "../tokenizer/json.h"
#include "../tokenizer/tokenizer.h"
#include "test_util.h"

namespace {

const std::string SHARED = "../shared/data";
const std::string TRAIN_HEAD = SHARED + "/tinystories/train_head.txt";
const std::string TRAIN_CONT = SHARED + "/tinystories/train_cont_recased.txt";
const std::string VALID_HEAD = SHARED + "/tinystories/valid_head.txt";
const std::string SHAKESPEARE = SHARED + "/tinyshakespeare/input.txt";
const std::string GPT2_DIR = SHARED + "/gpt2";
const std::vector<std::string> SHARED_TEXTS = {TRAIN_HEAD, TRAIN_CONT, VALID_HEAD, SHAKESPEARE};

std::string read_text(const std::string& path) {
    std::vector<char> b = read_all_bytes(path);  // dies naming the file when it is missing
    return std::string(b.begin(), b.end());
}

// Printable form of a byte string for failure messages.
std::string show(std::string_view s, size_t max = 80) {
    std::string out;
    for (size_t i = 0; i < s.size() && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') out.push_back((char)c);
        else {
            char buf[8];
            snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (s.size() > max) out += "...";
    return out;
}

Tokenizer train_on(const std::vector<std::string_view>& docs, int vocab, int64_t min_frequency = 2) {
    ChunkCounts counts;
    count_chunks(&counts, docs);
    TrainOptions opt;
    opt.vocab_size = vocab;
    opt.min_frequency = min_frequency;
    Tokenizer tok;
    std::string err;
    bool ok = tokenizer_train(&tok, counts, opt, &err);
    INFO(err);
    REQUIRE(ok);
    return tok;
}

// A small vocabulary trained on a modest amount of text: fast, and small
// enough that long words still take several merges.
const Tokenizer& small_tok() {
    static const Tokenizer tok = [] {
        std::string text = read_text(TRAIN_HEAD);
        return train_on(split_documents(text), 768);
    }();
    return tok;
}

// The size the project trains: vocab 4096 on every shared train file.
const Tokenizer& tok4096() {
    static const Tokenizer tok = [] {
        std::string a = read_text(TRAIN_HEAD), b = read_text(TRAIN_CONT);
        std::vector<std::string_view> docs = split_documents(a), more = split_documents(b);
        docs.insert(docs.end(), more.begin(), more.end());
        return train_on(docs, 4096);
    }();
    return tok;
}

const Tokenizer& gpt2_tok() {
    static const Tokenizer tok = [] {
        Tokenizer t;
        std::string err;
        bool ok = tokenizer_load_gpt2_dir(&t, GPT2_DIR, &err);
        INFO(err);
        REQUIRE(ok);
        return t;
    }();
    return tok;
}

// decode(encode(text)) == text, with and without special-token parsing.
void check_round_trip(const Tokenizer& tok, const std::string& text, const std::string& what) {
    for (bool special : {false, true}) {
        std::vector<int> ids = tokenizer_encode(tok, text, special);
        std::string back, err;
        bool ok = tokenizer_decode_checked(tok, ids.data(), ids.size(), &back, &err);
        INFO(what << " (allow_special " << special << "): " << err);
        REQUIRE(ok);
        size_t d = first_difference(back, text);
        INFO("first difference at byte " << d << " of " << text.size() << ", text there: \""
             << show(d == std::string::npos ? "" : std::string_view(text).substr(d > 10 ? d - 10 : 0, 40)) << "\"");
        CHECK(d == std::string::npos);
    }
}

// Pieces that exercise every rule of the pre-tokenizer and the UTF-8 decoder:
// contractions, space handling, newlines, non-ASCII letters/numbers, marks,
// Unicode spaces, and invalid sequences of every kind.
const std::vector<std::string> PIECES = {
    "a", "Z", "q", "7", "0", " ", " ", " ", "  ", "\n", "\n\n", "\t", "\r", "\r\n", "\v", "\f", "'", "'s", "'t", "'re",
    "'ve", "'m", "'ll", "'d", "'S", "'LL", ".", ",", "!", "?", "-", "\"", "<", "|", ">", "<|", "|>", "endoftext",
    "<|endoftext|>", "the", " the", "Hello", " world", "don't", "123", "\xc3\xa9", "\xc3\x9f", "\xc2\xb2", "\xc2\xbd",
    "\xc2\xa0", "\xe3\x80\x80", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xcc\x81", "\xe2\x80\xa8", "\xc2\x85", "\x1c",
    "\x1f", std::string(1, '\0'), "\x80", "\xbf", "\xff", "\xfe", "\xc0\xaf", "\xc1\x81", "\xe0\x80\x80",
    "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe4\xb8", "\xf0\x9f\x98", "\xc3",
};

// Random strings of several shapes, from a fixed seed.
std::string random_case(Rng* r, int i) {
    std::string s;
    switch (i % 5) {
        case 0: {  // uniform random bytes: mostly invalid UTF-8, NULs included
            size_t n = rng_below(r, 300);
            for (size_t k = 0; k < n; k++) s.push_back((char)rng_below(r, 256));
            break;
        }
        case 1: {  // random pieces
            size_t n = rng_below(r, 200);
            for (size_t k = 0; k < n; k++) s += PIECES[rng_below(r, PIECES.size())];
            break;
        }
        case 2: {  // a long run of one piece, maybe inside text
            const std::string& p = PIECES[rng_below(r, PIECES.size())];
            size_t n = 1 + rng_below(r, 3000);
            if (rng_below(r, 2)) s += "word";
            for (size_t k = 0; k < n; k++) s += p;
            if (rng_below(r, 2)) s += "x";
            break;
        }
        case 3: {  // words separated by runs of spaces, tabs and newlines
            size_t n = rng_below(r, 60);
            const char* ws[] = {" ", "\t", "\n", "\r", "\xc2\xa0", "\xe3\x80\x80"};
            for (size_t k = 0; k < n; k++) {
                size_t m = rng_below(r, 20);
                for (size_t j = 0; j < m; j++) s += ws[rng_below(r, rng_below(r, 2) ? 1 : 6)];
                s += PIECES[rng_below(r, 40)];
            }
            break;
        }
        default: {  // ASCII text with a few random bytes sprinkled in
            size_t n = rng_below(r, 400);
            for (size_t k = 0; k < n; k++)
                s.push_back(rng_below(r, 20) == 0 ? (char)rng_below(r, 256) : (char)(' ' + rng_below(r, 95)));
            break;
        }
    }
    return s;
}

std::vector<std::string> hostile_strings() {
    std::vector<std::string> cases = {
        "",
        std::string(1, '\0'),
        std::string(5, '\0'),
        std::string("a\0b\0\0c", 6),
        std::string(10000, ' '),
        std::string(10000, ' ') + "x",
        std::string(10000, 'a'),
        std::string(10000, '\n'),
        std::string(3000, '\xff'),
        std::string(3000, '\x80'),
        std::string(5000, '7'),
        std::string(5000, '!'),
        "\xc3",
        "\xe4\xb8",
        " \x80",
        "'",
        "' ",
        "'r",
        "<|endoftext|>",
        "<|endoftext|><|endoftext|>",
        "<|endoftext",
    };
    std::string s;
    for (int k = 0; k < 2000; k++) s += "\xc3\xa9";
    cases.push_back(s);
    s.clear();
    for (int k = 0; k < 1000; k++) s += "\xf0\x9f\x98\x80";
    cases.push_back(s);
    Rng r = rng_make(20261124);
    for (int i = 0; i < 500; i++) cases.push_back(random_case(&r, i));
    return cases;
}

// Pieces of a text the encoder may cut and encode on separate threads
// (tokenizer/bpe.cpp, safe_pieces): before a '\n' that follows ASCII non-space.
bool is_safe_cut(std::string_view s, size_t p) {
    if (p == 0 || p >= s.size() || s[p] != '\n') return false;
    unsigned char c = (unsigned char)s[p - 1];
    return c < 0x80 && !(c == ' ' || (c >= '\t' && c <= '\r'));
}

}  // namespace

// ----------------------------------------------------------------------------
// Round trips

TEST_CASE("round trip is exact on every shared text: trained vocabulary", "[tokenizer][roundtrip]") {
    const Tokenizer& tok = small_tok();
    for (const auto& path : SHARED_TEXTS) {
        std::string text = read_text(path);
        check_round_trip(tok, text, path);
        std::vector<int> ids = tokenizer_encode(tok, text);
        CHECK(ids.size() * 3 < text.size() * 2);  // it compresses (> 1.5 bytes/token even on Shakespeare)
    }
}

TEST_CASE("round trip is exact on every shared text: GPT-2 vocabulary", "[tokenizer][roundtrip][gpt2]") {
    const Tokenizer& tok = gpt2_tok();
    for (const auto& path : SHARED_TEXTS) check_round_trip(tok, read_text(path), path);
}

TEST_CASE("round trip, pre-tokenizer and BPE algorithms on hostile byte strings", "[tokenizer][roundtrip][property]") {
    const Tokenizer* toks[] = {&small_tok(), &gpt2_tok()};
    std::vector<std::string> cases = hostile_strings();
    for (size_t c = 0; c < cases.size(); c++) {
        const std::string& s = cases[c];
        INFO("case " << c << ": \"" << show(s) << "\" (" << s.size() << " bytes)");
        // Chunks are non-empty and concatenate to the input.
        std::vector<std::string> chunks = pretokenize(s);
        std::string joined;
        bool any_empty = false;
        for (const auto& ch : chunks) {
            joined += ch;
            any_empty |= ch.empty();
        }
        CHECK(joined == s);
        CHECK_FALSE(any_empty);
        // Where the encoder may cut a long text, the pre-tokenizer cuts too,
        // and both sides pre-tokenize on their own exactly as inside the whole.
        std::vector<size_t> bounds;
        for (size_t i = 0; i < s.size(); i = pretokenize_next(s.data(), s.size(), i)) bounds.push_back(i);
        for (size_t p = 0; p < s.size(); p++) {
            if (!is_safe_cut(s, p)) continue;
            INFO("cut at " << p);
            CHECK(std::binary_search(bounds.begin(), bounds.end(), p));
            std::vector<std::string> tail = pretokenize(std::string_view(s).substr(p));
            size_t k = std::lower_bound(bounds.begin(), bounds.end(), p) - bounds.begin();
            CHECK(std::equal(tail.begin(), tail.end(), chunks.begin() + k, chunks.end()));
            std::vector<std::string> head = pretokenize(std::string_view(s).substr(0, p));
            CHECK(std::equal(head.begin(), head.end(), chunks.begin(), chunks.begin() + k));
        }
        for (const Tokenizer* tok : toks) {
            check_round_trip(*tok, s, tok == toks[0] ? "trained" : "gpt2");
            CHECK(tokenizer_encode(*tok, s, false, 1) == tokenizer_encode(*tok, s, false, 0));
            // The quadratic scan and the heap make the same merges.
            for (const auto& ch : chunks) {
                if (ch.size() > 2000) continue;  // the scan is O(n^2)
                std::vector<int> a, b;
                tokenizer_bpe_chunk(*tok, ch.data(), ch.size(), &a, 1);
                tokenizer_bpe_chunk(*tok, ch.data(), ch.size(), &b, 2);
                INFO("chunk \"" << show(ch) << "\"");
                CHECK(a == b);
            }
        }
    }
}

TEST_CASE("utf8_count_invalid counts each invalid sequence", "[tokenizer][utf8]") {
    CHECK(utf8_count_invalid("") == 0);
    CHECK(utf8_count_invalid("plain ascii") == 0);
    CHECK(utf8_count_invalid("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80") == 0);
    CHECK(utf8_count_invalid("\x80") == 1);              // stray continuation byte
    CHECK(utf8_count_invalid("\xc0\xaf") == 2);          // overlong: both bytes are bad
    CHECK(utf8_count_invalid("\xed\xa0\x80") == 3);      // surrogate U+D800
    CHECK(utf8_count_invalid("\xf4\x90\x80\x80") == 4);  // above U+10FFFF
    CHECK(utf8_count_invalid("ab\xe4\xb8") == 2);        // truncated at the end
    CHECK(utf8_count_invalid("\xe4\xb8x") == 2);         // truncated before ASCII
}

// ----------------------------------------------------------------------------
// GPT-2 against tiktoken

TEST_CASE("GPT-2: Hello world is 15496 995", "[tokenizer][gpt2]") {
    const Tokenizer& tok = gpt2_tok();
    CHECK(tok.vocab_size == 50257);
    CHECK(tok.eot_id == GPT2_EOT_ID);
    CHECK(tok.merges.size() == 50000);
    CHECK(tokenizer_encode(tok, "Hello world") == std::vector<int>{15496, 995});
    CHECK(tokenizer_encode(tok, "a<|endoftext|>b", true) == std::vector<int>{64, 50256, 65});
    CHECK(tokenizer_encode(tok, "a<|endoftext|>b", false) == std::vector<int>{64, 27, 91, 437, 1659, 5239, 91, 29, 65});
}

TEST_CASE("GPT-2: every fixture line gives tiktoken's ids", "[tokenizer][gpt2][fixture]") {
    const Tokenizer& tok = gpt2_tok();
    std::string text = read_text("tests/fixtures/gpt2_ids.txt");
    size_t lines = 0, pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + pos, end - pos);
        pos = end + 1;
        if (line.empty() || line[0] == '#') continue;
        lines++;
        INFO("fixture line: " << line);
        // a JSON string, a tab, the ids separated by spaces
        std::string s;
        size_t at = 0;
        REQUIRE(json_parse_string(line, &at, &s));
        REQUIRE(at < line.size());
        REQUIRE(line[at] == '\t');
        std::vector<int> want;
        std::string ids(line.substr(at + 1));
        const char* p = ids.c_str();
        while (*p) {
            char* e;
            long v = strtol(p, &e, 10);
            REQUIRE(e != p);
            want.push_back((int)v);
            p = e;
            while (*p == ' ') p++;
        }
        CHECK(tokenizer_encode(tok, s) == want);
        CHECK(tokenizer_decode(tok, want.data(), want.size()) == s);
    }
    CHECK(lines == 40);
}

// ----------------------------------------------------------------------------
// Training

TEST_CASE("training is deterministic, whatever the thread count", "[tokenizer][train]") {
    std::string text = read_text(TRAIN_HEAD);
    std::vector<std::string_view> docs = split_documents(text);
    std::vector<uint8_t> first = tokenizer_serialize(train_on(docs, 1024));
    CHECK_SAME(tokenizer_serialize(train_on(docs, 1024)), first);
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<uint8_t> one = tokenizer_serialize(train_on(docs, 1024));
    omp_set_num_threads(3);
    std::vector<uint8_t> three = tokenizer_serialize(train_on(docs, 1024));
    omp_set_num_threads(threads);
    CHECK_SAME(one, first);
    CHECK_SAME(three, first);
#endif
    // The big vocabulary too, trained again from scratch.
    std::string a = read_text(TRAIN_HEAD), b = read_text(TRAIN_CONT);
    std::vector<std::string_view> all = split_documents(a), more = split_documents(b);
    all.insert(all.end(), more.begin(), more.end());
    CHECK_SAME(tokenizer_serialize(train_on(all, 4096)), tokenizer_serialize(tok4096()));
}

TEST_CASE("trained ids follow the documented layout", "[tokenizer][train]") {
    for (const Tokenizer* t : {&small_tok(), &tok4096()}) {
        const Tokenizer& tok = *t;
        const int V = tok.vocab_size;
        INFO("vocab " << V);
        REQUIRE(tok.can_encode);
        REQUIRE((V == 768 || V == 4096));
        REQUIRE((int)tok.tokens.size() == V);
        REQUIRE((int)tok.merges.size() == V - 257);
        for (int b = 0; b < 256; b++) {
            CHECK(tok.byte_to_id[b] == b);
            CHECK(tok.tokens[b] == std::string(1, (char)b));
        }
        int bad = 0;
        for (size_t r = 0; r < tok.merges.size(); r++) {
            const BpeMerge& m = tok.merges[r];
            int id = 256 + (int)r;
            bool ok = m.result == id && m.left >= 0 && m.left < id && m.right >= 0 && m.right < id &&
                      tok.tokens[id] == tok.tokens[m.left] + tok.tokens[m.right];
            if (!ok && bad++ < 5) FAIL_CHECK("merge " << r << ": " << m.left << " + " << m.right << " -> " << m.result);
        }
        CHECK(bad == 0);
        CHECK(tok.eot_id == V - 1);
        CHECK(tok.tokens[V - 1] == EOT_TEXT);
        // Merges take the most frequent pair first: the first ones are short.
        CHECK(tok.tokens[256].size() == 2);
    }
}

TEST_CASE("<|endoftext|> is never merged or produced from text", "[tokenizer][train][eot]") {
    // Documents full of the literal marker, not split at it: training sees
    // its pieces thousands of times but must never learn the whole.
    std::string text;
    for (int k = 0; k < 3000; k++) text += "story " + std::to_string(k % 7) + "<|endoftext|><|endoftext|>\n";
    Tokenizer tok = train_on({text}, 400);
    REQUIRE(tok.eot_id == tok.vocab_size - 1);
    for (int id = 0; id < tok.vocab_size; id++) {
        if (id == tok.eot_id) continue;
        INFO("id " << id << " = \"" << show(tok.tokens[id]) << "\"");
        CHECK(tok.tokens[id].find(EOT_TEXT) == std::string::npos);
    }
    for (const BpeMerge& m : tok.merges) CHECK((m.left != tok.eot_id && m.right != tok.eot_id));
    std::vector<int> ordinary = tokenizer_encode(tok, text, false);
    CHECK(std::count(ordinary.begin(), ordinary.end(), tok.eot_id) == 0);
    std::vector<int> special = tokenizer_encode(tok, text, true);
    CHECK(std::count(special.begin(), special.end(), tok.eot_id) == 6000);
    CHECK_SAME(tokenizer_decode(tok, special.data(), special.size()), text);
    // allow_special splits around the marker and encodes the rest as usual
    std::vector<int> a = tokenizer_encode(tok, "story 3"), b = tokenizer_encode(tok, "\nstory 4");
    std::vector<int> want = a;
    want.push_back(tok.eot_id);
    want.insert(want.end(), b.begin(), b.end());
    CHECK(tokenizer_encode(tok, "story 3<|endoftext|>\nstory 4", true) == want);
}

TEST_CASE("training stops early on a tiny corpus and rejects impossible sizes", "[tokenizer][train]") {
    Tokenizer tok = train_on({"abab abab cdcd"}, 1000);
    CHECK(tok.vocab_size < 1000);
    CHECK(tok.vocab_size > 257);
    CHECK(tok.eot_id == tok.vocab_size - 1);
    check_round_trip(tok, "abab cd ab xyz", "tiny");
    // min_frequency: "ab" occurs 4 times, so 5 allows no merge at all
    Tokenizer none = train_on({"abab abab cdcd"}, 1000, 5);
    CHECK(none.vocab_size == 257);
    CHECK(none.merges.empty());

    ChunkCounts counts;
    TrainOptions opt;
    std::string err;
    Tokenizer t;
    opt.vocab_size = 256;
    CHECK_FALSE(tokenizer_train(&t, counts, opt, &err));
    CHECK(err.find("vocab size 256 out of range") != std::string::npos);
    opt.vocab_size = TOKENIZER_MAX_VOCAB + 1;
    CHECK_FALSE(tokenizer_train(&t, counts, opt, &err));
    CHECK(err.find("out of range") != std::string::npos);
    opt.vocab_size = 300;  // an empty corpus gives the bytes and eot
    REQUIRE(tokenizer_train(&t, counts, opt, &err));
    CHECK(t.vocab_size == 257);
}

TEST_CASE("vocab 4096 trained on the train files gives >= 3.5 bytes/token on valid_head.txt", "[tokenizer][train]") {
    std::string val = read_text(VALID_HEAD);
    std::vector<std::string_view> docs = split_documents(val);
    std::vector<int> ids = tokenizer_encode_docs(tok4096(), docs, -1);
    size_t bytes = 0;
    for (auto d : docs) bytes += d.size();
    double bpt = (double)bytes / ids.size();
    INFO(bytes << " bytes, " << ids.size() << " tokens: " << bpt << " bytes/token");
    CHECK(bpt >= 3.5);
}

// ----------------------------------------------------------------------------
// Threads

TEST_CASE("encoding gives the same ids with and without threads", "[tokenizer][threads]") {
    // Several MB, so the encoder cuts it into 1 MB pieces for the threads.
    std::string big;
    for (const auto& path : SHARED_TEXTS) big += read_text(path);
    // plus 3 MB of hostile text, so cuts land between odd characters too
    Rng r = rng_make(7);
    std::string odd;
    while (odd.size() < (3u << 20)) {
        odd += PIECES[rng_below(&r, PIECES.size())];
        if (rng_below(&r, 8) == 0) odd += "\n";
    }
    const Tokenizer& tok = small_tok();
    for (const std::string* text : {&big, &odd}) {
        std::vector<int> one = tokenizer_encode(tok, *text, false, 1);
        CHECK_SAME(tokenizer_encode(tok, *text, false, 0), one);
        CHECK_SAME(tokenizer_encode(tok, *text, false, 2), one);
        CHECK_SAME(tokenizer_encode(tok, *text, false, 5), one);
        CHECK_SAME(tokenizer_decode(tok, one.data(), one.size()), *text);
    }
    CHECK_SAME(tokenizer_encode(gpt2_tok(), big, true, 1), tokenizer_encode(gpt2_tok(), big, true, 3));

    // Adversarial: almost every '\n' sits inside a long whitespace run, where
    // a cut would split a pre-tokenizer chunk, and the vocabulary is trained
    // to merge whitespace, so a wrong cut changes the ids. The only safe cut
    // is after the "y".
    std::string unit;
    for (int k = 0; k < 40; k++) unit += "  \n\n \n\n\n \t\n";
    unit += "y\n";
    std::string ws;
    while (ws.size() < (5u << 19)) ws += unit;
    std::string corpus;
    for (int k = 0; k < 50; k++) corpus += unit;
    Tokenizer wtok = train_on({corpus}, 320);
    std::vector<int> wone = tokenizer_encode(wtok, ws, false, 1);
    CHECK_SAME(tokenizer_encode(wtok, ws, false, 2), wone);
    CHECK_SAME(tokenizer_decode(wtok, wone.data(), wone.size()), ws);

    // Documents spread over threads come back in order, each after its prefix.
    std::vector<std::string_view> docs = split_documents(big);
    std::vector<int> seq;
    for (auto d : docs) {
        seq.push_back(tok.eot_id);
        std::vector<int> ids = tokenizer_encode(tok, d, false, 1);
        seq.insert(seq.end(), ids.begin(), ids.end());
    }
    CHECK_SAME(tokenizer_encode_docs(tok, docs, tok.eot_id), seq);
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<int> one = tokenizer_encode_docs(tok, docs, tok.eot_id);
    omp_set_num_threads(4);
    std::vector<int> four = tokenizer_encode_docs(tok, docs, tok.eot_id);
    omp_set_num_threads(threads);
    CHECK_SAME(one, seq);
    CHECK_SAME(four, seq);
#endif
}

TEST_CASE("split_documents cuts at every marker and trims ASCII whitespace", "[tokenizer][docs]") {
    std::string text = "  one\n<|endoftext|>\n\ntwo  two\r\n<|endoftext|><|endoftext|> \t\n<|endoftext|>three";
    std::vector<std::string_view> docs = split_documents(text);
    REQUIRE(docs.size() == 3);
    CHECK(docs[0] == "one");
    CHECK(docs[1] == "two  two");
    CHECK(docs[2] == "three");
    CHECK(split_documents("").empty());
    CHECK(split_documents(" <|endoftext|>\n<|endoftext|>").empty());
}

// ----------------------------------------------------------------------------
// Files

namespace {

void put_i32(std::vector<uint8_t>* f, size_t at, int32_t v) { memcpy(f->data() + at, &v, 4); }
int32_t get_i32(const std::vector<uint8_t>& f, size_t at) {
    int32_t v;
    memcpy(&v, f.data() + at, 4);
    return v;
}

// Loads bytes from a real file, so the message names the path.
bool load_bytes(const TempDir& dir, const std::vector<uint8_t>& bytes, Tokenizer* tok, std::string* err) {
    std::string path = dir / "tok.bin";
    write_all_bytes(path, bytes.data(), bytes.size());
    return tokenizer_load(tok, path, err);
}

// A failed load names the file, says what is wrong, and leaves an empty tokenizer.
void expect_rejected(const TempDir& dir, const std::vector<uint8_t>& bytes, const std::string& message) {
    Tokenizer tok = small_tok();  // something to be cleared
    std::string err;
    bool ok = load_bytes(dir, bytes, &tok, &err);
    INFO("expected \"" << message << "\", got: " << err);
    CHECK_FALSE(ok);
    CHECK(err.find(dir / "tok.bin") == 0);
    CHECK(err.find(message) != std::string::npos);
    CHECK(tok.vocab_size == 0);
    CHECK(tok.tokens.empty());
    CHECK_FALSE(tok.can_encode);
}

// Offsets in our file format (tokenizer.h, FILE FORMAT).
constexpr size_t BYTE_TABLE = 1024, TOKENS = 2048;
size_t merges_offset(const std::vector<uint8_t>& f) { return f.size() - 12 * (size_t)get_i32(f, 16); }

// llm.c's gpt2_tokenizer.bin: header of 256 uint32, then length-prefixed tokens.
std::vector<uint8_t> llmc_file(uint32_t version, const std::vector<std::string>& tokens, uint32_t eot) {
    std::vector<uint8_t> f(1024, 0);
    uint32_t h[4] = {(uint32_t)LLMC_TOKENIZER_MAGIC, version, (uint32_t)tokens.size(), eot};
    memcpy(f.data(), h, sizeof h);
    for (const auto& t : tokens) {
        f.push_back((uint8_t)t.size());
        f.insert(f.end(), t.begin(), t.end());
    }
    return f;
}

}  // namespace

TEST_CASE("save and load round trip is identical", "[tokenizer][io]") {
    TempDir dir;
    for (const Tokenizer* t : {&small_tok(), &tok4096(), &gpt2_tok()}) {
        const Tokenizer& tok = *t;
        INFO("vocab " << tok.vocab_size);
        std::string path = dir / "tokenizer.bin";
        tokenizer_save(tok, path);
        std::vector<char> raw = read_all_bytes(path);
        std::vector<uint8_t> bytes(raw.begin(), raw.end());
        CHECK_SAME(bytes, tokenizer_serialize(tok));
        CHECK(bytes.size() == 2048 + 4 * (size_t)tok.vocab_size + 12 * tok.merges.size() + (size_t)get_i32(bytes, 20));
        Tokenizer back;
        std::string err;
        bool ok = tokenizer_load(&back, path, &err);
        INFO(err);
        REQUIRE(ok);
        CHECK(back.can_encode);
        CHECK(back.vocab_size == tok.vocab_size);
        CHECK(back.eot_id == tok.eot_id);
        CHECK_SAME(back.tokens, tok.tokens);
        CHECK(back.byte_to_id == tok.byte_to_id);
        REQUIRE(back.merges.size() == tok.merges.size());
        bool same_merges = true;
        for (size_t r = 0; r < tok.merges.size(); r++)
            same_merges &= back.merges[r].left == tok.merges[r].left && back.merges[r].right == tok.merges[r].right &&
                           back.merges[r].result == tok.merges[r].result;
        CHECK(same_merges);
        CHECK_SAME(tokenizer_serialize(back), bytes);
        std::string sample = "Once upon a time, Lily's \xc3\xa9l\xc3\xa8ve said \"hi!\"\n\n  2024 \xff<|endoftext|>x";
        CHECK(tokenizer_encode(back, sample, true) == tokenizer_encode(tok, sample, true));
    }
}

TEST_CASE("corrupt tokenizer files are rejected with the file name and the problem", "[tokenizer][io][errors]") {
    TempDir dir;
    // A small vocabulary keeps every mutated file small.
    std::string text = read_text(TRAIN_HEAD).substr(0, 100000);
    Tokenizer small = train_on(split_documents(text), 300);
    REQUIRE(small.vocab_size == 300);
    const std::vector<uint8_t> good = tokenizer_serialize(small);
    {
        Tokenizer t;
        std::string err;
        REQUIRE(load_bytes(dir, good, &t, &err));
    }
    const size_t M = merges_offset(good);
    std::vector<uint8_t> f;

    SECTION("bad magic") {
        f = good;
        put_i32(&f, 0, 12345);
        expect_rejected(dir, f, "bad magic 12345, expected 20261124");
    }
    SECTION("wrong version") {
        f = good;
        put_i32(&f, 4, 2);
        expect_rejected(dir, f, "unknown version 2, expected 1");
    }
    SECTION("truncated") {
        f.assign(good.begin(), good.end() - 1);
        expect_rejected(dir, f, "file is truncated");
        f.assign(good.begin(), good.begin() + 100);
        expect_rejected(dir, f, "file is truncated");
        f.clear();
        expect_rejected(dir, f, "file is truncated: 0 bytes");
    }
    SECTION("trailing data") {
        f = good;
        f.push_back(0);
        expect_rejected(dir, f, "trailing data");
    }
    SECTION("size mismatch: the header's byte total disagrees with the file") {
        f = good;
        put_i32(&f, 20, get_i32(good, 20) + 3);
        expect_rejected(dir, f, "header implies");
    }
    SECTION("vocab size, eot id, merge count and reserved fields out of range") {
        f = good;
        put_i32(&f, 8, -1);
        expect_rejected(dir, f, "vocab size -1 out of range");
        f = good;
        put_i32(&f, 8, TOKENIZER_MAX_VOCAB + 1);
        expect_rejected(dir, f, "out of range");
        f = good;
        put_i32(&f, 12, 300);
        expect_rejected(dir, f, "eot id 300 out of range");
        f = good;
        put_i32(&f, 12, 65);  // in range, but token 65 is "A"
        expect_rejected(dir, f, "eot id 65 decodes to \"A\"");
        f = good;
        put_i32(&f, 16, 45);
        expect_rejected(dir, f, "45 merges out of range, expected 0..44");
        f = good;
        put_i32(&f, 4 * 100, 7);
        expect_rejected(dir, f, "reserved header field 100 is 7");
    }
    SECTION("token lengths out of range") {
        f = good;
        put_i32(&f, TOKENS, 0);  // token 0 is one byte long
        expect_rejected(dir, f, "token 0 has length 0");
        f = good;
        put_i32(&f, TOKENS, -5);
        expect_rejected(dir, f, "token 0 has length -5");
        f = good;
        put_i32(&f, TOKENS, 1000000);
        expect_rejected(dir, f, "token 0 has length 1000000");
        f = good;
        put_i32(&f, TOKENS, 2);  // token 1's length is then read from shifted bytes
        expect_rejected(dir, f, "token 1 has length 16777216");
        // the last token is eot, 13 bytes, just before the merges
        const size_t last = M - 13 - 4;
        REQUIRE(get_i32(good, last) == 13);
        f = good;
        put_i32(&f, last, 14);
        expect_rejected(dir, f, "token 299 (14 bytes) runs past the token section");
        f = good;
        put_i32(&f, last, 12);
        expect_rejected(dir, f, "token lengths add up to less than header[5]");
    }
    SECTION("byte table") {
        f = good;
        put_i32(&f, BYTE_TABLE + 4 * 65, 66);  // byte 'A' -> the id of "B"
        expect_rejected(dir, f, "byte 65 maps to id 66 whose token is not that single byte");
        f = good;
        put_i32(&f, BYTE_TABLE + 4 * 65, 300);
        expect_rejected(dir, f, "byte 65 maps to id 300, out of range");
    }
    SECTION("merges referring to undefined ids") {
        f = good;
        put_i32(&f, M, 300);  // left of merge 0
        expect_rejected(dir, f, "merge 0 (300, ");
        f = good;
        put_i32(&f, M, -1);
        expect_rejected(dir, f, "refers to an id outside 0..299");
        f = good;
        put_i32(&f, M + 12 * 3 + 4, 290);  // merge 3 uses the result of merge 34
        expect_rejected(dir, f, "merge 3 (");
        f = good;
        put_i32(&f, M + 12 * 3 + 4, 299);  // eot is never an operand
        expect_rejected(dir, f, "uses an id that is not a byte or an earlier merge's result");
        f = good;
        put_i32(&f, M + 12 * 3 + 8, 257);  // result defined twice
        expect_rejected(dir, f, "produces an id that is already defined");
        f = good;
        put_i32(&f, M + 12 * 3 + 8, 299);  // result is eot
        expect_rejected(dir, f, "produces an id that is already defined");
    }
    SECTION("merge whose result is not left + right") {
        f = good;
        int32_t l = get_i32(good, M), r = get_i32(good, M + 4);
        REQUIRE(small.tokens[l] != small.tokens[r]);
        put_i32(&f, M, r);
        put_i32(&f, M + 4, l);
        expect_rejected(dir, f, "token bytes of the result are not left + right");
    }
    SECTION("missing file, directory, llm.c file of the wrong version") {
        Tokenizer t;
        std::string err;
        CHECK_FALSE(tokenizer_load(&t, dir / "nope.bin", &err));
        CHECK(err.find("cannot open " + (dir / "nope.bin") + ": No such file") == 0);
        CHECK_FALSE(tokenizer_load(&t, dir.path, &err));
        CHECK(err == dir.path + " is a directory, expected a file");
        expect_rejected(dir, llmc_file(3, {"a"}, 0), "unknown llm.c tokenizer version 3, expected 1 or 2");
    }
}

TEST_CASE("tokenizer_finalize rejects inconsistent vocabularies", "[tokenizer][io][errors]") {
    // bytes, then "ab" = 'a' + 'b', then what each section adds
    auto base = [] {
        Tokenizer t;
        for (int b = 0; b < 256; b++) {
            t.tokens.push_back(std::string(1, (char)b));
            t.byte_to_id[b] = b;
        }
        t.tokens.push_back("ab");
        t.merges.push_back({'a', 'b', 256});
        t.vocab_size = 257;
        return t;
    };
    // file_message: what the file loader says, when it finds the problem first
    auto reject = [](Tokenizer t, const std::string& message, std::string file_message = "") {
        std::string err;
        CHECK_FALSE(tokenizer_finalize(&t, "v", &err));
        INFO(err);
        CHECK(err.find("v: " + message) == 0);
        CHECK_FALSE(t.can_encode);
        // and the same through a file
        Tokenizer back;
        std::vector<uint8_t> bytes = tokenizer_serialize(t);
        CHECK_FALSE(tokenizer_load_memory(&back, bytes.data(), bytes.size(), "v", &err));
        CHECK(err.find(file_message.empty() ? message : file_message) != std::string::npos);
    };
    Tokenizer ok = base();
    std::string err;
    REQUIRE(tokenizer_finalize(&ok, "v", &err));
    CHECK(tokenizer_encode(ok, "abc") == std::vector<int>{256, 'c'});

    Tokenizer t = base();
    t.tokens.push_back("ab");
    t.merges.push_back({'a', 'b', 257});
    t.vocab_size = 258;
    reject(t, "merge 1 (97, 98 -> 257) repeats an earlier pair");
    t = base();
    t.tokens.push_back("zz");
    t.vocab_size = 258;
    reject(t, "id 257 is neither a byte, a merge result nor eot");
    t = base();
    t.byte_to_id['b'] = 'c';
    reject(t, "byte 98 maps to id 99 whose token is not that single byte");
    t = base();
    t.byte_to_id['b'] = 'a';
    reject(t, "id 97 is given to two bytes");
    t = base();
    t.eot_id = 'a';
    reject(t, "eot id 97 is also a byte id", "eot id 97 decodes to \"a\", expected <|endoftext|>");
}

TEST_CASE("no truncation or byte flip of a tokenizer file crashes the loader", "[tokenizer][io][property]") {
    std::string text = read_text(TRAIN_HEAD).substr(0, 50000);
    Tokenizer small = train_on(split_documents(text), 270);
    const std::vector<uint8_t> good = tokenizer_serialize(small);
    const std::vector<uint8_t> llmc = llmc_file(2, small.tokens, (uint32_t)small.eot_id);
    for (const std::vector<uint8_t>* file : {&good, &llmc}) {
        for (size_t n = 0; n < file->size(); n++) {
            Tokenizer t;
            std::string err;
            bool ok = tokenizer_load_memory(&t, file->data(), n, "cut.bin", &err);
            INFO("truncated to " << n << " bytes: " << err);
            REQUIRE_FALSE(ok);
            REQUIRE(err.find("cut.bin: ") == 0);
            REQUIRE(err.find("truncated") != std::string::npos);
        }
    }
    // Random corruption: whatever loads must still round-trip text exactly.
    Rng r = rng_make(99);
    int accepted = 0;
    for (int k = 0; k < 3000; k++) {
        std::vector<uint8_t> f = (k % 2) ? good : llmc;
        int flips = 1 + (int)rng_below(&r, 3);
        for (int j = 0; j < flips; j++) f[rng_below(&r, f.size())] ^= (uint8_t)(1u << rng_below(&r, 8));
        Tokenizer t;
        std::string err;
        if (!tokenizer_load_memory(&t, f.data(), f.size(), "flip.bin", &err)) {
            REQUIRE(err.find("flip.bin: ") == 0);
            continue;
        }
        accepted++;
        if (t.can_encode) {
            std::string s = "Once upon a time \xff\x80 there's   a <|endoftext|> dog.\n\n";
            std::vector<int> ids = tokenizer_encode(t, s, true);
            REQUIRE(tokenizer_decode(t, ids.data(), ids.size()) == s);
        }
    }
    CHECK(accepted > 0);  // flips inside token bytes of the llm.c file are legal
}

TEST_CASE("llm.c gpt2_tokenizer.bin loads decode-only", "[tokenizer][io][llmc]") {
    TempDir dir;
    Tokenizer tok;
    std::string err;
    std::vector<std::string> tokens = {"a", "b", "ab", "\xff", "<|endoftext|>", std::string(255, 'z')};
    REQUIRE(load_bytes(dir, llmc_file(2, tokens, 4), &tok, &err));
    CHECK_FALSE(tok.can_encode);
    CHECK(tok.vocab_size == 6);
    CHECK(tok.eot_id == 4);
    CHECK(tok.tokens == tokens);
    std::vector<int> ids = {2, 0, 4, 3, 1};
    std::string out;
    REQUIRE(tokenizer_decode_checked(tok, ids.data(), ids.size(), &out, &err));
    CHECK(out == "aba<|endoftext|>\xff" "b");
    ids = {0, 6};
    CHECK_FALSE(tokenizer_decode_checked(tok, ids.data(), ids.size(), &out, &err));
    CHECK(err == "token id 6 at position 1 is outside the vocabulary (0..5)");
    ids = {-1};
    CHECK_FALSE(tokenizer_decode_checked(tok, ids.data(), ids.size(), &out, &err));
    CHECK(err.find("token id -1 at position 0") == 0);
    CHECK(tokenizer_decode(tok, ids.data(), ids.size()) == "\xef\xbf\xbd");  // U+FFFD
    CHECK(tokenizer_encode(tok, "ab").empty());                             // cannot encode

    // Version 1 predates the eot field: GPT-2's size implies 50256, others none.
    std::vector<std::string> many(50257, "x");
    REQUIRE(load_bytes(dir, llmc_file(1, many, 0), &tok, &err));
    CHECK(tok.eot_id == 50256);
    REQUIRE(load_bytes(dir, llmc_file(1, tokens, 0), &tok, &err));
    CHECK(tok.eot_id == -1);

    // The real thing: GPT-2's tokens in llm.c's layout decode like GPT-2.
    const Tokenizer& g = gpt2_tok();
    REQUIRE(load_bytes(dir, llmc_file(2, g.tokens, GPT2_EOT_ID), &tok, &err));
    std::string text = read_text(VALID_HEAD).substr(0, 20000);
    std::vector<int> gids = tokenizer_encode(g, text);
    CHECK_SAME(tokenizer_decode(tok, gids.data(), gids.size()), text);

    // And the CLI decodes with it.
    write_all_bytes(dir / "llmc.bin", llmc_file(2, tokens, 4).data(), llmc_file(2, tokens, 4).size());
    RunResult r = run_command("echo '2 0 4' | build/tokenizer decode --tokenizer " + (dir / "llmc.bin"));
    CHECK(r.status == 0);
    CHECK(r.output == "aba<|endoftext|>");

    // Corrupt llm.c files.
    auto reject = [&](const std::vector<uint8_t>& f, const std::string& message) {
        std::string e;
        Tokenizer t;
        CHECK_FALSE(load_bytes(dir, f, &t, &e));
        INFO(e);
        CHECK(e.find(dir / "tok.bin") == 0);
        CHECK(e.find(message) != std::string::npos);
    };
    reject(llmc_file(2, tokens, 6), "eot id 6 out of range for vocab 6");
    reject(llmc_file(2, {"a", "", "bcd"}, 0), "token 1 has length 0");
    std::vector<uint8_t> f = llmc_file(2, tokens, 4);
    f.push_back('!');
    reject(f, "1 bytes of trailing data after the last token");
    f = llmc_file(2, tokens, 4);
    f.resize(f.size() - 10);
    reject(f, "file is truncated inside token 5");
    f = llmc_file(2, tokens, 4);
    uint32_t huge = 1000000;
    memcpy(f.data() + 8, &huge, 4);
    reject(f, "file is truncated: 1000000 tokens need at least");
    uint32_t zero = 0;
    memcpy(f.data() + 8, &zero, 4);
    reject(f, "vocab size 0 out of range");
}

TEST_CASE("GPT-2 files: bad encoder.json and vocab.bpe are reported with the file", "[tokenizer][io][gpt2]") {
    TempDir dir;
    Tokenizer tok;
    std::string err;
    std::string enc = dir / "encoder.json", bpe = dir / "vocab.bpe";
    auto write = [](const std::string& path, const std::string& s) { write_all_bytes(path, s.data(), s.size()); };
    write(enc, "[1, 2]");
    write(bpe, "#version: 0.2\n");
    CHECK_FALSE(tokenizer_load_gpt2(&tok, enc, bpe, &err));
    CHECK(err.find(enc + ": expected '{'") == 0);
    write(enc, "{\"a\": 0, \"b\": 0");
    CHECK_FALSE(tokenizer_load_gpt2(&tok, enc, bpe, &err));
    CHECK(err.find(enc + ": expected ',' or '}' at byte 15") == 0);
    write(enc, "{\"a\": 0, \"b\": 1}");
    CHECK_FALSE(tokenizer_load_gpt2(&tok, enc, bpe, &err));
    CHECK(err.find("only 2 tokens, expected at least 257") != std::string::npos);
    // The real encoder.json with a vocab.bpe line that names unknown tokens.
    std::string real_enc = GPT2_DIR + "/encoder.json";
    write(bpe, "#version: 0.2\n\x01 \x02\n");  // raw control bytes are never GPT-2 token text
    CHECK_FALSE(tokenizer_load_gpt2(&tok, real_enc, bpe, &err));
    CHECK(err.find(bpe + ":2: merge uses or makes a token that is not in") == 0);
    write(bpe, "#version: 0.2\nÄ ");
    CHECK_FALSE(tokenizer_load_gpt2(&tok, real_enc, bpe, &err));
    CHECK(err.find(bpe + ":2: expected two tokens separated by one space") == 0);
    CHECK(tok.vocab_size == 0);
    CHECK_FALSE(tokenizer_load_gpt2(&tok, dir / "missing.json", bpe, &err));
    CHECK(err.find("cannot open " + (dir / "missing.json")) == 0);
}

TEST_CASE("json: the string field prepro reads from each JSONL line", "[tokenizer][json]") {
    auto field = [](const std::string& line, std::string* err) {
        std::string out;
        err->clear();
        return json_get_string_field(line, "text", &out, err) ? out : std::string("<failed>");
    };
    std::string err;
    CHECK(field("{\"text\": \"a\\nb \\\"q\\\" \\\\ \\/ \\t\"}", &err) == "a\nb \"q\" \\ / \t");
    CHECK(field("{\"text\": \"caf\\u00e9 \\ud83d\\ude00\"}", &err) == "caf\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK(field("{\"text\": \"lone \\ud800!\"}", &err) == "lone \xef\xbf\xbd!");  // U+FFFD
    CHECK(field("  {\"id\": -1.5e3, \"x\": [true, false, null, {\"y\": []}], \"text\": \"t\"}  ", &err) == "t");
    CHECK(field("{\"text\": \"first\", \"text\": \"second\"}", &err) == "first");
    struct Bad {
        std::string line, message;
    };
    for (const Bad& b : std::vector<Bad>{
             {"[1]", "not a JSON object"},
             {"{\"id\": 1}", "no \"text\" field"},
             {"{\"text\": 1}", "field \"text\" is not a string"},
             {"{\"text\": \"unterminated}", "malformed string in field \"text\""},
             {"{\"text\": \"bad \\x escape\"}", "malformed string"},
             {"{\"text\": \"raw \n newline\"}", "malformed string"},
             {"{\"text\": \"t\"} extra", "trailing characters"},
             {"{\"text\": \"t\"", "expected ',' or '}'"},
             {std::string("{\"a\": \0\0, \"text\": \"t\"}", 22), "malformed JSON value"},  // NUL is not a value
             {"{\"a\": " + std::string(100, '[') + std::string(100, ']') + ", \"text\": \"t\"}", "malformed JSON value"},
         }) {
        INFO("line: " << show(b.line));
        CHECK(field(b.line, &err) == "<failed>");
        CHECK(err.find(b.message) != std::string::npos);
    }
}

TEST_CASE("the tokenizer CLI trains, encodes and decodes", "[tokenizer][cli]") {
    TempDir dir;
    std::string text = read_text(TRAIN_HEAD).substr(0, 100000);
    write_all_bytes(dir / "train.txt", text.data(), text.size());
    RunResult r = run_command("build/tokenizer train --vocab 300 --quiet --out " + (dir / "tok.bin") + " " + (dir / "train.txt"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    r = run_command("build/tokenizer info " + (dir / "tok.bin"));
    CHECK(r.output.find("vocab 300, eot 299, 43 merges, encode+decode") != std::string::npos);
    std::string sample = "Tom's cat \xc3\xa9t\xc3\xa9\n\n  ran.";
    write_all_bytes(dir / "s.txt", sample.data(), sample.size());
    r = run_command("build/tokenizer encode --tokenizer " + (dir / "tok.bin") + " < " + (dir / "s.txt") +
                    " | build/tokenizer decode --tokenizer " + (dir / "tok.bin"));
    CHECK(r.status == 0);
    CHECK(r.output == sample);
    r = run_command("echo 'Hello world' | build/tokenizer encode --gpt2 " + GPT2_DIR);
    CHECK(r.output == "15496 995 198\n");
    r = run_command("echo '1 2 300' | build/tokenizer decode --tokenizer " + (dir / "tok.bin"));
    CHECK(r.status == 1);
    CHECK(r.output.find("token id 300 at position 2 is outside the vocabulary (0..299)") != std::string::npos);
    r = run_command("build/tokenizer train --vocab 256 --out " + (dir / "x.bin") + " " + (dir / "train.txt"));
    CHECK(r.status == 1);
    CHECK(r.output.find("--vocab 256 out of range") != std::string::npos);
}
