// common/llama2c.h: llama2.c's model file (version 0, the "legacy" export
// run.c reads) and its tokenizer.bin, written and read by our own code.
// Used by build/export (--format llama2c), train_llama -e (import) and tests.
//
// MODEL FILE (little-endian):
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//     vocab_size < 0 means the classifier is not shared with the embedding
//   float32, in this order (layers stacked, matrices (out, in) row-major):
//     token_embedding (V, dim), rms_att (L, dim), wq (L, n_heads·hs, dim),
//     wk (L, n_kv_heads·hs, dim), wv (L, n_kv_heads·hs, dim), wo (L, dim, n_heads·hs),
//     rms_ffn (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden), w3 (L, hidden, dim),
//     rms_final (dim), freq_cis_real (seq_len, hs/2), freq_cis_imag (seq_len, hs/2),
//     wcls (V, dim) only when vocab_size < 0
//   hs = dim / n_heads. run.c skips the freq_cis tables: it computes RoPE itself,
//   interleaved pairs as ours, with theta 10000 and RMSNorm eps 1e-5 hard-coded.
//   There is no magic number: a file is recognised by its size alone.
//
// TOKENIZER (tokenizer.bin): int32 max_token_length, then per token, in id
// order: float32 score, int32 len, len bytes (no NUL). run.c reads exactly
// vocab_size tokens, the model's |vocab_size|.
//
// run.c's tokenizer rules (read from run.c; llama2c_encode re-implements them):
//   - id 1 is BOS: encoding starts with it, generation stops when it is sampled;
//   - a " " token (looked up by string) is put before any non-empty text;
//   - text starts as one token per UTF-8 code point found in the vocabulary,
//     else one token per byte at id byte + 3 ("byte fallback");
//   - then, repeatedly, the adjacent pair whose concatenated string is a token
//     with the highest score is merged (leftmost on ties), until none is;
//   - decoding prints each token's string; a string starting "<0x" with hex
//     digits prints that byte; after BOS a leading space is dropped.
#pragma once
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "../tokenizer/tokenizer.h"
#include "util.h"

constexpr int LLAMA2C_HEADER_INTS = 7;
constexpr float LLAMA2C_ROPE_THETA = 10000.0f;  // run.c hard-codes both
constexpr float LLAMA2C_NORM_EPS = 1e-5f;
constexpr int LLAMA2C_BOS_ID = 1;
constexpr int LLAMA2C_BYTE_BASE = 3;  // byte b is id b + 3 in run.c's byte fallback

struct Llama2cHeader {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};
static_assert(sizeof(Llama2cHeader) == LLAMA2C_HEADER_INTS * sizeof(int), "run.c reads the header as 7 int32");

// Checks that the header describes a model run.c can run and we can hold;
// on failure *why names the field.
inline bool llama2c_header_ok(const Llama2cHeader& h, std::string* why) {
    char buf[256];
    const int V = std::abs(h.vocab_size);
    if (h.dim < 2 || h.hidden_dim < 1 || h.n_layers < 1 || h.n_heads < 1 || h.n_kv_heads < 1 || V < 2 ||
        h.seq_len < 1 || h.vocab_size == INT32_MIN) {
        snprintf(buf, sizeof buf, "sizes must be positive (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                 "n_kv_heads %d, vocab_size %d, seq_len %d)", h.dim, h.hidden_dim, h.n_layers, h.n_heads,
                 h.n_kv_heads, h.vocab_size, h.seq_len);
    } else if (h.dim % h.n_heads != 0 || (h.dim / h.n_heads) % 2 != 0) {
        snprintf(buf, sizeof buf, "dim %d must be n_heads %d times an even head size", h.dim, h.n_heads);
    } else if (h.n_heads % h.n_kv_heads != 0) {
        snprintf(buf, sizeof buf, "n_kv_heads %d must divide n_heads %d", h.n_kv_heads, h.n_heads);
    } else {
        return true;
    }
    *why = buf;
    return false;
}

// Number of floats after the header (double: a corrupt header must not wrap).
inline double llama2c_num_floats(const Llama2cHeader& h) {
    double C = h.dim, H = h.hidden_dim, L = h.n_layers, HS = (double)h.dim / h.n_heads, V = std::abs((double)h.vocab_size);
    double KV = (double)h.n_kv_heads * HS;
    double n = V * C + L * C                          // embedding, rms_att
               + L * C * C + 2 * L * KV * C + L * C * C  // wq, wk, wv, wo
               + L * C + 3 * L * H * C + C               // rms_ffn, w1, w2, w3, rms_final
               + (double)h.seq_len * HS;                 // freq_cis real and imag
    if (h.vocab_size < 0) n += V * C;
    return n;
}

// Whether `path` is a llama2.c version-0 model file: the 7-int header is a
// valid shape and the file has exactly the size it implies. *why says why not.
inline bool llama2c_probe(const std::string& path, Llama2cHeader* h, std::string* why) {
    long long bytes = file_size_check(path.c_str());
    if (bytes < (long long)sizeof(Llama2cHeader)) {
        *why = "shorter than llama2.c's 28-byte header";
        return false;
    }
    FILE* f = fopen_check(path.c_str(), "rb");
    fread_check(h, sizeof(Llama2cHeader), 1, f, path.c_str());
    fclose(f);
    if (!llama2c_header_ok(*h, why)) return false;
    double expect = sizeof(Llama2cHeader) + 4.0 * llama2c_num_floats(*h);
    if ((double)bytes != expect) {
        char buf[160];
        snprintf(buf, sizeof buf, "file has %lld bytes, a llama2.c model of this header has %.0f", bytes, expect);
        *why = buf;
        return false;
    }
    return true;
}

// One contiguous piece of the file's float data and where it lives in our
// model: `data` points into the parameter blob; a null `data` is one of the
// two freq_cis tables (cos when `cos` is set, else sin), not a parameter.
struct Llama2cRun {
    float* data;
    size_t n;
    bool cos;
};

// THE mapping between our Llama parameters and llama2.c's file, in file
// order; export writes these runs, import reads them. P is train_llama.cpp's
// ParameterTensors (wte, rms_att, wqkv = rows of wq, wk, wv per layer, wo,
// rms_ffn, w13 = rows of w1 then w3 per layer, w2, rms_final, wcls); the
// shape is llama2.c's, whose n_heads·hs = dim as in our models.
template <class P>
std::vector<Llama2cRun> llama2c_runs(const P& p, const Llama2cHeader& h) {
    const size_t V = std::abs(h.vocab_size), C = h.dim, L = h.n_layers, H = h.hidden_dim;
    const size_t HS = C / h.n_heads, NH = h.n_heads, NKV = h.n_kv_heads, QKV = (NH + 2 * NKV) * HS;
    std::vector<Llama2cRun> r;
    r.push_back({p.wte, V * C, false});
    r.push_back({p.rms_att, L * C, false});
    for (size_t l = 0; l < L; l++) r.push_back({p.wqkv + l * QKV * C, NH * HS * C, false});
    for (size_t l = 0; l < L; l++) r.push_back({p.wqkv + l * QKV * C + NH * HS * C, NKV * HS * C, false});
    for (size_t l = 0; l < L; l++) r.push_back({p.wqkv + l * QKV * C + (NH + NKV) * HS * C, NKV * HS * C, false});
    r.push_back({p.wo, L * C * NH * HS, false});
    r.push_back({p.rms_ffn, L * C, false});
    for (size_t l = 0; l < L; l++) r.push_back({p.w13 + l * 2 * H * C, H * C, false});  // w1
    r.push_back({p.w2, L * C * H, false});
    for (size_t l = 0; l < L; l++) r.push_back({p.w13 + l * 2 * H * C + H * C, H * C, false});  // w3
    r.push_back({p.rms_final, C, false});
    r.push_back({nullptr, (size_t)h.seq_len * HS / 2, true});
    r.push_back({nullptr, (size_t)h.seq_len * HS / 2, false});
    if (h.vocab_size < 0) r.push_back({p.wcls, V * C, false});
    return r;
}

// Writes the model file atomically. freq_cos, freq_sin are (seq_len, hs/2),
// kernels/cpu/rope.h's tables at theta 10000, which is what the file's
// freq_cis tables held when llama2.c still read them.
inline void llama2c_write_model(const std::string& path, const Llama2cHeader& h, const std::vector<Llama2cRun>& runs,
                                const float* freq_cos, const float* freq_sin) {
    write_file_atomic(path, [&](FILE* f, const char* tmp) {
        fwrite_check(&h, sizeof h, 1, f, tmp);
        for (const Llama2cRun& r : runs) {
            const float* src = r.data ? r.data : r.cos ? freq_cos : freq_sin;
            fwrite_check(src, sizeof(float), r.n, f, tmp);
        }
    });
}

// Reads the parameters of a file llama2c_probe accepted into the runs' views
// (the freq_cis tables are skipped: our RoPE computes its own).
inline void llama2c_read_model(const std::string& path, const std::vector<Llama2cRun>& runs) {
    const char* p = path.c_str();
    FILE* f = fopen_check(p, "rb");
    fseek_check(f, (long)sizeof(Llama2cHeader), SEEK_SET, p);
    for (const Llama2cRun& r : runs) {
        if (r.data) fread_check(r.data, sizeof(float), r.n, f, p);
        else fseek_check(f, (long)(r.n * sizeof(float)), SEEK_CUR, p);
    }
    fclose(f);
}

// ---- tokenizer.bin ----------------------------------------------------------

struct Llama2cVocab {
    int max_token_length = 0;
    std::vector<float> scores;
    std::vector<std::string> pieces;  // id → string as run.c holds it
};

inline void llama2c_write_vocab(const std::string& path, const Llama2cVocab& v) {
    write_file_atomic(path, [&](FILE* f, const char* tmp) {
        fwrite_check(&v.max_token_length, sizeof(int), 1, f, tmp);
        for (size_t i = 0; i < v.pieces.size(); i++) {
            int len = (int)v.pieces[i].size();
            fwrite_check(&v.scores[i], sizeof(float), 1, f, tmp);
            fwrite_check(&len, sizeof(int), 1, f, tmp);
            fwrite_check(v.pieces[i].data(), 1, len, f, tmp);
        }
    });
}

// Reads exactly `vocab_size` tokens as run.c does, and checks that nothing
// follows them; false + *err naming the file and the problem otherwise.
inline bool llama2c_read_vocab(const std::string& path, int vocab_size, Llama2cVocab* v, std::string* err) {
    FILE* f = fopen(path.c_str(), "rb");
    if (!f) { *err = "cannot open " + path; return false; }
    auto fail = [&](const std::string& what) { fclose(f); *err = path + ": " + what; return false; };
    if (fread(&v->max_token_length, sizeof(int), 1, f) != 1) return fail("no max_token_length");
    v->scores.assign(vocab_size, 0.0f);
    v->pieces.assign(vocab_size, "");
    for (int i = 0; i < vocab_size; i++) {
        int len = 0;
        if (fread(&v->scores[i], sizeof(float), 1, f) != 1 || fread(&len, sizeof(int), 1, f) != 1)
            return fail("truncated at token " + std::to_string(i));
        if (len < 0 || len > v->max_token_length)
            return fail("token " + std::to_string(i) + " has length " + std::to_string(len) + ", max_token_length is " +
                        std::to_string(v->max_token_length));
        v->pieces[i].resize(len);
        if (len && fread(&v->pieces[i][0], 1, len, f) != (size_t)len) return fail("truncated in token " + std::to_string(i));
    }
    char extra;
    if (fread(&extra, 1, 1, f) == 1) return fail("bytes after the last token");
    fclose(f);
    return true;
}

// run.c's encode (its rules are listed at the top), re-implemented here so
// tests and dev tools can ask what run.c will feed the model. With bos, the
// result starts with LLAMA2C_BOS_ID. Returns false if the vocabulary has no
// " " token for the dummy prefix (run.c would index with -1).
inline bool llama2c_encode(const Llama2cVocab& v, const std::string& text, bool bos, std::vector<int>* out) {
    // run.c finds strings by binary search over the sorted vocabulary, so with
    // duplicate strings it may find any of them; we take the lowest id
    std::vector<std::pair<std::string, int>> sorted;
    for (size_t i = 0; i < v.pieces.size(); i++) sorted.push_back({v.pieces[i], (int)i});
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return strcmp(a.first.c_str(), b.first.c_str()) < 0; });
    auto lookup = [&](const std::string& s) {
        auto it = std::lower_bound(sorted.begin(), sorted.end(), s, [](const auto& a, const std::string& key) {
            return strcmp(a.first.c_str(), key.c_str()) < 0;
        });
        return it != sorted.end() && strcmp(it->first.c_str(), s.c_str()) == 0 ? it->second : -1;
    };
    std::vector<int>& t = *out;
    t.clear();
    if (bos) t.push_back(LLAMA2C_BOS_ID);
    if (!text.empty()) {
        int space = lookup(" ");
        if (space < 0) return false;
        t.push_back(space);
    }
    // code points (a lead byte and at most 3 continuation bytes), else bytes
    for (size_t i = 0; i < text.size();) {
        size_t j = i + 1;
        while (j < text.size() && ((unsigned char)text[j] & 0xC0) == 0x80 && j - i < 4) j++;
        std::string cp = text.substr(i, j - i);
        int id = lookup(cp);
        if (id >= 0) t.push_back(id);
        else for (unsigned char b : cp) t.push_back(b + LLAMA2C_BYTE_BASE);
        i = j;
    }
    // BOS takes part in the merge loop like any other token, as in run.c
    for (;;) {
        float best = -1e10f;
        int best_id = -1;
        size_t best_i = 0;
        for (size_t i = 0; i + 1 < t.size(); i++) {
            int id = lookup(v.pieces[t[i]] + v.pieces[t[i + 1]]);
            if (id >= 0 && v.scores[id] > best) {
                best = v.scores[id];
                best_id = id;
                best_i = i;
            }
        }
        if (best_id < 0) break;
        t[best_i] = best_id;
        t.erase(t.begin() + best_i + 1);
    }
    return true;
}

// The bytes run.c prints for `id` after `prev` (its decode + safe_printf).
inline std::string llama2c_decode(const Llama2cVocab& v, int prev, int id) {
    std::string s = v.pieces[id].c_str();  // run.c's strings end at the first NUL
    if (prev == LLAMA2C_BOS_ID && !s.empty() && s[0] == ' ') s.erase(0, 1);
    unsigned int byte;
    if (sscanf(s.c_str(), "<0x%02X>", &byte) == 1) s = std::string(1, (char)byte);
    if (s.size() == 1 && !(isprint((unsigned char)s[0]) || isspace((unsigned char)s[0]))) return "";
    return s;
}

// ---- our vocabulary in run.c's id space -------------------------------------

// Our id → llama2.c id. run.c wants BOS at 1 and byte b at b + 3, so our
// <|endoftext|> (what every training document follows) goes to 1 and our
// byte tokens to 3..258; the other tokens keep their order in the free ids
// 0, 2, 259, 260, ... (run.c's generate gives ids 0 and 2 no meaning; only
// its chat mode treats 2 as EOS). A bijection on 0..V-1: nothing is added
// or dropped. Needs V ≥ 259 and an eot (*err names the field otherwise).
inline bool llama2c_id_map(const Tokenizer& tok, std::vector<int>* map, std::string* err) {
    const int V = tok.vocab_size;
    if (tok.eot_id < 0) {
        *err = "the tokenizer has no <|endoftext|>, which llama2.c's BOS (id 1) must be";
        return false;
    }
    if (V < 256 + LLAMA2C_BYTE_BASE) {
        *err = "vocab_size " + std::to_string(V) + " is below 259: llama2.c needs ids 3..258 for the bytes and 1 for BOS";
        return false;
    }
    map->assign(V, -1);
    (*map)[tok.eot_id] = LLAMA2C_BOS_ID;
    for (int b = 0; b < 256; b++) (*map)[tok.byte_to_id[b]] = b + LLAMA2C_BYTE_BASE;
    int next = 0;
    for (int id = 0; id < V; id++) {
        if ((*map)[id] >= 0) continue;
        while (next == LLAMA2C_BOS_ID || (next >= LLAMA2C_BYTE_BASE && next < LLAMA2C_BYTE_BASE + 256)) next++;
        (*map)[id] = next++;
    }
    return true;
}

// run.c's tokenizer.bin content for our vocabulary, in llama2.c ids (map from
// llama2c_id_map). Byte tokens are their raw byte, so that run.c's merge loop
// can concatenate them, except byte 0, which a C string cannot hold: it is
// "<0x00>", which run.c decodes to the byte. Score = −(merge rank) for the
// token a merge makes, so run.c's "highest score first" is our "lowest rank
// first"; bytes and <|endoftext|> are never the result of a merge (score 0).
inline bool llama2c_vocab_from(const Tokenizer& tok, const std::vector<int>& map, Llama2cVocab* v, std::string* err) {
    const int V = tok.vocab_size;
    // run.c finds tokens by string, so two tokens with one string would be ambiguous
    std::unordered_map<std::string, int> seen;
    for (int id = 0; id < V; id++) {
        auto it = seen.emplace(tok.tokens[id], id);
        if (!it.second) {
            *err = "tokens " + std::to_string(it.first->second) + " and " + std::to_string(id) +
                   " have the same bytes; run.c looks tokens up by string";
            return false;
        }
    }
    v->pieces.assign(V, "");
    v->scores.assign(V, 0.0f);
    for (int id = 0; id < V; id++) {
        std::string s = tok.tokens[id];
        if (id == tok.byte_to_id[0]) s = "<0x00>";
        else if (s.find('\0') != std::string::npos) {
            *err = "token " + std::to_string(id) + " contains a NUL byte, which run.c's C strings cannot hold";
            return false;
        } else if (s.size() > 3 && s.compare(0, 3, "<0x") == 0 && isxdigit((unsigned char)s[3])) {
            *err = "token " + std::to_string(id) + " '" + s + "' would be decoded by run.c as a raw byte";
            return false;
        }
        v->pieces[map[id]] = s;
    }
    for (size_t r = 0; r < tok.merges.size(); r++) v->scores[map[tok.merges[r].result]] = -(float)r;
    v->max_token_length = 0;
    for (const std::string& s : v->pieces) v->max_token_length = std::max(v->max_token_length, (int)s.size());
    return true;
}
