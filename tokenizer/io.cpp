// tokenizer/io.cpp: our tokenizer.bin (read and write), llm.c's
// gpt2_tokenizer.bin (read, decode-only) and GPT-2's encoder.json + vocab.bpe.
// Loaders never exit: a corrupt file is an ordinary outcome (user error, and
// the fuzzer feeds them garbage), so they return false with a message.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/util.h"
#include "json.h"
#include "tokenizer.h"

namespace {

// Files larger than this are not tokenizers; refusing them early keeps a
// wrong path (a dataset, a checkpoint) from being read into memory.
constexpr long long MAX_TOKENIZER_FILE = 1ll << 30;

bool read_file(const std::string& path, std::vector<uint8_t>* data, std::string* err) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        *err = "cannot open " + path + ": " + strerror(errno);
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        *err = path + " is a directory, expected a file";
        return false;
    }
    if (st.st_size > MAX_TOKENIZER_FILE) {
        *err = path + ": " + std::to_string((long long)st.st_size) + " bytes is too large for this kind of file";
        return false;
    }
    FILE* f = fopen(path.c_str(), "rb");
    if (!f) {
        *err = "cannot open " + path + ": " + strerror(errno);
        return false;
    }
    data->resize((size_t)st.st_size);
    size_t got = data->empty() ? 0 : fread(data->data(), 1, data->size(), f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || got != data->size()) {
        *err = path + ": read error: expected " + std::to_string(data->size()) + " bytes, read " + std::to_string(got);
        return false;
    }
    return true;
}

int32_t read_i32(const uint8_t* p) {
    int32_t v;
    memcpy(&v, p, 4);  // files are little-endian, like the hosts we run on
    return v;
}

bool load_ours(Tokenizer* tok, const uint8_t* data, size_t n, const std::string& name, std::string* err) {
    auto fail = [&](const std::string& msg) {
        *err = name + ": " + msg;
        return false;
    };
    int32_t h[TOKENIZER_HEADER_INTS];
    memcpy(h, data, sizeof h);
    if (h[1] != TOKENIZER_VERSION)
        return fail("unknown version " + std::to_string(h[1]) + ", expected " + std::to_string(TOKENIZER_VERSION));
    int V = h[2], eot = h[3], M = h[4];
    long long total = h[5];
    if (V < 256 || V > TOKENIZER_MAX_VOCAB)
        return fail("vocab size " + std::to_string(V) + " out of range, expected 256.." + std::to_string(TOKENIZER_MAX_VOCAB));
    if (eot < -1 || eot >= V)
        return fail("eot id " + std::to_string(eot) + " out of range, expected -1.." + std::to_string(V - 1));
    if (M < 0 || M > V - 256)
        return fail(std::to_string(M) + " merges out of range, expected 0.." + std::to_string(V - 256) + " for vocab " +
                    std::to_string(V));
    if (total < V || total > (long long)V * TOKENIZER_MAX_TOKEN_BYTES)
        return fail("total token bytes " + std::to_string(total) + " out of range for vocab " + std::to_string(V));
    for (int k = 6; k < TOKENIZER_HEADER_INTS; k++)
        if (h[k] != 0) return fail("reserved header field " + std::to_string(k) + " is " + std::to_string(h[k]) + ", expected 0");
    long long expect = 2048ll + 4ll * V + total + 12ll * M;
    if ((long long)n != expect)
        return fail(std::string((long long)n < expect ? "file is truncated" : "trailing data") + ": header implies " +
                    std::to_string(expect) + " bytes, file has " + std::to_string(n));
    const uint8_t* p = data + 1024;
    for (int b = 0; b < 256; b++, p += 4) tok->byte_to_id[b] = read_i32(p);
    tok->vocab_size = V;
    tok->eot_id = eot;
    tok->tokens.assign(V, std::string());
    const uint8_t* end = data + n - 12ll * M;  // where the token section must end
    for (int id = 0; id < V; id++) {
        if (end - p < 4) return fail("token section ends early at id " + std::to_string(id));
        int32_t len = read_i32(p);
        p += 4;
        if (len < 1 || len > TOKENIZER_MAX_TOKEN_BYTES)
            return fail("token " + std::to_string(id) + " has length " + std::to_string(len) + ", expected 1.." +
                        std::to_string(TOKENIZER_MAX_TOKEN_BYTES));
        if (end - p < len)
            return fail("token " + std::to_string(id) + " (" + std::to_string(len) + " bytes) runs past the token section");
        tok->tokens[id].assign((const char*)p, (size_t)len);
        p += len;
    }
    if (p != end) return fail("token lengths add up to less than header[5] = " + std::to_string(total));
    tok->merges.resize(M);
    for (int r = 0; r < M; r++, p += 12) tok->merges[r] = {read_i32(p), read_i32(p + 4), read_i32(p + 8)};
    if (eot >= 0 && tok->tokens[eot] != EOT_TEXT)
        return fail("eot id " + std::to_string(eot) + " decodes to \"" + tok->tokens[eot].substr(0, 40) + "\", expected " +
                    EOT_TEXT);
    return tokenizer_finalize(tok, name, err);
}

bool load_llmc(Tokenizer* tok, const uint8_t* data, size_t n, const std::string& name, std::string* err) {
    auto fail = [&](const std::string& msg) {
        *err = name + ": " + msg;
        return false;
    };
    uint32_t h[TOKENIZER_HEADER_INTS];
    memcpy(h, data, sizeof h);
    if (h[1] != 1 && h[1] != 2)
        return fail("unknown llm.c tokenizer version " + std::to_string(h[1]) + ", expected 1 or 2");
    if (h[2] < 1 || h[2] > (uint32_t)TOKENIZER_MAX_VOCAB)
        return fail("vocab size " + std::to_string(h[2]) + " out of range, expected 1.." + std::to_string(TOKENIZER_MAX_VOCAB));
    int V = (int)h[2];
    int eot;
    if (h[1] == 2) {
        if (h[3] >= (uint32_t)V) return fail("eot id " + std::to_string(h[3]) + " out of range for vocab " + std::to_string(V));
        eot = (int)h[3];
    } else {
        eot = V == GPT2_EOT_ID + 1 ? GPT2_EOT_ID : -1;  // version 1 predates the field and was GPT-2 only
    }
    // Each token needs at least 2 bytes (length + one byte): check before allocating.
    if ((long long)n - 1024 < 2ll * V)
        return fail("file is truncated: " + std::to_string(V) + " tokens need at least " + std::to_string(1024 + 2ll * V) +
                    " bytes, file has " + std::to_string(n));
    tok->vocab_size = V;
    tok->eot_id = eot;
    tok->tokens.assign(V, std::string());
    size_t pos = 1024;
    for (int id = 0; id < V; id++) {
        if (pos >= n) return fail("file is truncated at token " + std::to_string(id) + " of " + std::to_string(V));
        size_t len = data[pos++];
        if (len == 0) return fail("token " + std::to_string(id) + " has length 0");
        if (n - pos < len)
            return fail("file is truncated inside token " + std::to_string(id) + " (" + std::to_string(len) + " bytes)");
        tok->tokens[id].assign((const char*)data + pos, len);
        pos += len;
    }
    if (pos != n) return fail(std::to_string(n - pos) + " bytes of trailing data after the last token");
    tok->can_encode = false;  // the format has no merges
    tok->merges.clear();
    tok->merge_rank.clear();
    return true;
}

// Maps a GPT-2 vocab string (UTF-8 of the printable code points) back to the
// bytes it stands for. False if it contains a code point outside the table.
bool gpt2_unmap(const std::string& s, const std::vector<int>& cp_to_byte, std::string* out) {
    out->clear();
    for (size_t i = 0; i < s.size();) {
        unsigned char c = (unsigned char)s[i];
        unsigned cp;
        size_t len;
        if (c < 0x80) { cp = c; len = 1; }
        else if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) { cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F); len = 2; }
        else return false;  // every code point of the table is below U+0800
        if (cp >= cp_to_byte.size() || cp_to_byte[cp] < 0) return false;
        out->push_back((char)cp_to_byte[cp]);
        i += len;
    }
    return true;
}

}  // namespace

// GPT-2 stores bytes as printable code points: the printable Latin-1 bytes
// stand for themselves, the other 68 bytes (controls, space, 0x7F..0xA0,
// 0xAD) get code points 256, 257, ... in byte order.
std::vector<unsigned> gpt2_byte_to_codepoint() {
    std::vector<unsigned> cp(256);
    unsigned extra = 0;
    for (unsigned b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp[b] = printable ? b : 256 + extra++;
    }
    return cp;
}

std::string gpt2_byte_string(std::string_view bytes) {
    static const std::vector<unsigned> b2cp = gpt2_byte_to_codepoint();
    std::string out;
    for (char c : bytes) {
        unsigned cp = b2cp[(unsigned char)c];
        if (cp < 0x80) out.push_back((char)cp);
        else {  // every code point of the table is below U+0800: two UTF-8 bytes
            out.push_back((char)(0xC0 | (cp >> 6)));
            out.push_back((char)(0x80 | (cp & 0x3F)));
        }
    }
    return out;
}

bool tokenizer_load_memory(Tokenizer* tok, const uint8_t* data, size_t n, const std::string& name, std::string* err) {
    *tok = Tokenizer();
    if (n < (size_t)TOKENIZER_HEADER_INTS * 4) {
        *err = name + ": file is truncated: " + std::to_string(n) + " bytes, a tokenizer header alone is " +
               std::to_string(TOKENIZER_HEADER_INTS * 4) + " bytes";
        return false;
    }
    int32_t magic = read_i32(data);
    bool ok;
    if (magic == TOKENIZER_MAGIC) ok = load_ours(tok, data, n, name, err);
    else if (magic == LLMC_TOKENIZER_MAGIC) ok = load_llmc(tok, data, n, name, err);
    else {
        *err = name + ": bad magic " + std::to_string(magic) + ", expected " + std::to_string(TOKENIZER_MAGIC) +
               " (tokenizer.bin) or " + std::to_string(LLMC_TOKENIZER_MAGIC) + " (llm.c gpt2_tokenizer.bin)";
        ok = false;
    }
    if (!ok) *tok = Tokenizer();  // never leave a half-loaded tokenizer behind
    return ok;
}

bool tokenizer_load(Tokenizer* tok, const std::string& path, std::string* err) {
    std::vector<uint8_t> data;
    if (!read_file(path, &data, err)) {
        *tok = Tokenizer();
        return false;
    }
    return tokenizer_load_memory(tok, data.data(), data.size(), path, err);
}

bool tokenizer_load_gpt2(Tokenizer* tok, const std::string& encoder_json, const std::string& vocab_bpe, std::string* err) {
    *tok = Tokenizer();
    std::vector<uint8_t> raw;
    if (!read_file(encoder_json, &raw, err)) return false;
    std::string_view js((const char*)raw.data(), raw.size());
    std::vector<unsigned> b2cp = gpt2_byte_to_codepoint();
    std::vector<int> cp_to_byte(512, -1);
    for (int b = 0; b < 256; b++) cp_to_byte[b2cp[b]] = b;

    // encoder.json: {"<mapped token>": id, ...}
    auto jfail = [&](size_t pos, const std::string& msg) {
        *err = encoder_json + ": " + msg + " at byte " + std::to_string(pos);
        *tok = Tokenizer();
        return false;
    };
    std::unordered_map<std::string, int> encoder;  // mapped string -> id, for vocab.bpe lookups
    std::vector<std::string> by_id;
    size_t pos = 0;
    json_skip_ws(js, &pos);
    if (pos >= js.size() || js[pos] != '{') return jfail(pos, "expected '{' (a JSON object of token -> id)");
    pos++;
    while (true) {
        json_skip_ws(js, &pos);
        if (pos < js.size() && js[pos] == '}' && encoder.empty()) { pos++; break; }
        std::string key;
        size_t key_at = pos;
        if (!json_parse_string(js, &pos, &key)) return jfail(key_at, "expected a token string");
        json_skip_ws(js, &pos);
        if (pos >= js.size() || js[pos] != ':') return jfail(pos, "expected ':'");
        pos++;
        json_skip_ws(js, &pos);
        long long id = 0;
        size_t digits = 0;
        while (pos < js.size() && js[pos] >= '0' && js[pos] <= '9' && digits < 10) id = id * 10 + (js[pos++] - '0'), digits++;
        if (digits == 0 || id >= TOKENIZER_MAX_VOCAB) return jfail(pos, "expected a token id in 0.." + std::to_string(TOKENIZER_MAX_VOCAB - 1));
        if (!encoder.emplace(key, (int)id).second) return jfail(key_at, "token listed twice");
        if ((size_t)id >= by_id.size()) by_id.resize(id + 1);
        by_id[id] = key;
        json_skip_ws(js, &pos);
        if (pos < js.size() && js[pos] == ',') { pos++; continue; }
        if (pos < js.size() && js[pos] == '}') { pos++; break; }
        return jfail(pos, "expected ',' or '}'");
    }
    json_skip_ws(js, &pos);
    if (pos != js.size()) return jfail(pos, "trailing data after the object");
    if (by_id.size() != encoder.size())
        return jfail(pos, "ids are not 0..N-1: " + std::to_string(encoder.size()) + " tokens, largest id " +
                              std::to_string(by_id.size() - 1));
    int V = (int)by_id.size();
    if (V < 257) return jfail(pos, "only " + std::to_string(V) + " tokens, expected at least 257");
    tok->vocab_size = V;
    tok->tokens.resize(V);
    for (int id = 0; id < V; id++) {
        if (!gpt2_unmap(by_id[id], cp_to_byte, &tok->tokens[id])) {
            *err = encoder_json + ": token " + std::to_string(id) + " contains a character outside GPT-2's byte alphabet";
            *tok = Tokenizer();
            return false;
        }
        if (tok->tokens[id] == EOT_TEXT) tok->eot_id = id;
    }
    for (int b = 0; b < 256; b++) {
        auto it = encoder.find(gpt2_byte_string(std::string(1, (char)b)));
        if (it == encoder.end()) {
            *err = encoder_json + ": no token for byte " + std::to_string(b);
            *tok = Tokenizer();
            return false;
        }
        tok->byte_to_id[b] = it->second;
    }

    // vocab.bpe: "#version: 0.2" then one merge per line, "left right", in rank order.
    std::vector<uint8_t> rawm;
    if (!read_file(vocab_bpe, &rawm, err)) { *tok = Tokenizer(); return false; }
    std::string_view ms((const char*)rawm.data(), rawm.size());
    size_t line_no = 0;
    for (size_t a = 0; a < ms.size();) {
        size_t b = ms.find('\n', a);
        if (b == std::string_view::npos) b = ms.size();
        std::string_view line = ms.substr(a, b - a);
        a = b + 1;
        line_no++;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || (line_no == 1 && line[0] == '#')) continue;
        size_t sp = line.find(' ');
        auto mfail = [&](const std::string& msg) {
            *err = vocab_bpe + ":" + std::to_string(line_no) + ": " + msg;
            *tok = Tokenizer();
            return false;
        };
        if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size() || line.find(' ', sp + 1) != std::string_view::npos)
            return mfail("expected two tokens separated by one space");
        std::string left(line.substr(0, sp)), right(line.substr(sp + 1));
        auto l = encoder.find(left), r = encoder.find(right), m = encoder.find(left + right);
        if (l == encoder.end() || r == encoder.end() || m == encoder.end())
            return mfail("merge uses or makes a token that is not in " + encoder_json);
        tok->merges.push_back({l->second, r->second, m->second});
    }
    if (!tokenizer_finalize(tok, encoder_json + " + " + vocab_bpe, err)) {
        *tok = Tokenizer();
        return false;
    }
    return true;
}

bool tokenizer_load_gpt2_dir(Tokenizer* tok, const std::string& dir, std::string* err) {
    return tokenizer_load_gpt2(tok, dir + "/encoder.json", dir + "/vocab.bpe", err);
}

std::vector<uint8_t> tokenizer_serialize(const Tokenizer& tok) {
    std::vector<uint8_t> out;
    auto put = [&](int32_t v) {
        uint8_t b[4];
        memcpy(b, &v, 4);
        out.insert(out.end(), b, b + 4);
    };
    long long total = 0;
    for (const auto& t : tok.tokens) total += (long long)t.size();
    if (total > 0x7fffffffll) die("tokenizer: %lld token bytes do not fit the format's int32 field", total);
    int32_t header[TOKENIZER_HEADER_INTS] = {0};
    header[0] = TOKENIZER_MAGIC;
    header[1] = TOKENIZER_VERSION;
    header[2] = tok.vocab_size;
    header[3] = tok.eot_id;
    header[4] = (int32_t)tok.merges.size();
    header[5] = (int32_t)total;
    for (int k = 0; k < TOKENIZER_HEADER_INTS; k++) put(header[k]);
    for (int b = 0; b < 256; b++) put(tok.byte_to_id[b]);
    for (const auto& t : tok.tokens) {
        put((int32_t)t.size());
        out.insert(out.end(), t.begin(), t.end());
    }
    for (const auto& m : tok.merges) {
        put(m.left);
        put(m.right);
        put(m.result);
    }
    return out;
}

void tokenizer_save(const Tokenizer& tok, const std::string& path) {
    if (!tok.can_encode) die("%s: cannot save a decode-only tokenizer in our format (it has no merges)", path.c_str());
    std::vector<uint8_t> bytes = tokenizer_serialize(tok);
    write_file_atomic(path, [&](FILE* f, const char* tmp) { fwrite_check(bytes.data(), 1, bytes.size(), f, tmp); });
}
