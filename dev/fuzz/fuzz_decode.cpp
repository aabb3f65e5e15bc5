// dev/fuzz/fuzz_decode.cpp: tokenizer_decode_checked and tokenizer_decode on
// arbitrary ids, for a trained vocabulary, the same tokens as an llm.c
// decode-only file, and GPT-2's. Checked: an id outside 0..V-1 is an error
// naming it; otherwise the output is the concatenation of the tokens, and
// encoding that text gives ids that decode to the same text.
#include <cstring>

#include "fuzz_common.h"

namespace {

struct Vocabs {
    std::vector<Tokenizer> toks;
    Vocabs() {
        toks.push_back(fuzz_trained_tokenizer(600));
        // the same tokens in llm.c's layout: decode-only
        const Tokenizer& t = toks[0];
        std::vector<uint8_t> f(1024, 0);
        uint32_t h[4] = {(uint32_t)LLMC_TOKENIZER_MAGIC, 2, (uint32_t)t.vocab_size, (uint32_t)t.eot_id};
        memcpy(f.data(), h, sizeof h);
        for (const auto& s : t.tokens) {
            f.push_back((uint8_t)s.size());
            f.insert(f.end(), s.begin(), s.end());
        }
        Tokenizer llmc;
        std::string err;
        if (!tokenizer_load_memory(&llmc, f.data(), f.size(), "llmc", &err)) {
            fprintf(stderr, "fuzz: %s\n", err.c_str());
            abort();
        }
        toks.push_back(llmc);
        Tokenizer g = fuzz_gpt2_tokenizer();
        if (g.can_encode) toks.push_back(g);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t n) {
    static const Vocabs v;
    if (n < 1) return 0;
    const Tokenizer& tok = v.toks[data[0] % v.toks.size()];
    const int V = tok.vocab_size;
    // Byte 1 picks the id encoding: raw int32 (any value), or 16 bits mapped
    // to -2..V+1 so the edges of the range come up often.
    bool raw = n > 1 && (data[1] & 1);
    std::vector<int> ids;
    for (size_t i = 2; raw ? i + 4 <= n : i + 2 <= n; i += raw ? 4 : 2) {
        if (raw) {
            int32_t x;
            memcpy(&x, data + i, 4);
            ids.push_back(x);
        } else {
            ids.push_back((int)((data[i] | (data[i + 1] << 8)) % (V + 4)) - 2);
        }
    }
    std::string out, err, want;
    long first_bad = -1;
    for (size_t i = 0; i < ids.size(); i++) {
        if (ids[i] >= 0 && ids[i] < V) want += tok.tokens[ids[i]];
        else {
            if (first_bad < 0) first_bad = (long)i;
            want += "\xEF\xBF\xBD";
        }
    }
    bool ok = tokenizer_decode_checked(tok, ids.data(), ids.size(), &out, &err);
    FUZZ_CHECK(ok == (first_bad < 0), "decode_checked returned %d with the first bad id at %ld", (int)ok, first_bad);
    if (ok) {
        FUZZ_CHECK(out == want, "decoded text is not the tokens' concatenation");
    } else {
        std::string where = "token id " + std::to_string(ids[first_bad]) + " at position " + std::to_string(first_bad);
        FUZZ_CHECK(err.rfind(where, 0) == 0, "message \"%s\" does not start with \"%s\"", err.c_str(), where.c_str());
    }
    FUZZ_CHECK(tokenizer_decode(tok, ids.data(), ids.size()) == want, "tokenizer_decode differs from the expected text");
    if (tok.can_encode && ok && want.size() <= 8192) fuzz_check_encoder(tok, want);
    return 0;
}
