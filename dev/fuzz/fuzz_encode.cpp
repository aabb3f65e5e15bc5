// dev/fuzz/fuzz_encode.cpp: the pre-tokenizer and encoder on arbitrary bytes
// (invalid UTF-8, NULs, long runs), with a trained vocabulary and GPT-2's.
// Checked: decode(encode(x)) == x, scan and heap BPE agree, every thread
// count gives the same ids, and a cut where the encoder may split a long
// text for its threads ('\n' after ASCII non-space) is a chunk boundary
// with the pieces on either side pre-tokenizing as inside the whole.
#include "fuzz_common.h"

namespace {

struct Vocabs {
    std::vector<Tokenizer> toks;
    Vocabs() {
        toks.push_back(fuzz_trained_tokenizer(1000));
        Tokenizer g = fuzz_gpt2_tokenizer();
        if (g.can_encode) toks.push_back(g);
    }
};

bool ascii_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t n) {
    static const Vocabs v;
    std::string_view text((const char*)data, n);
    std::vector<size_t> bounds;
    for (size_t i = 0; i < n; i = pretokenize_next(text.data(), n, i)) bounds.push_back(i);
    int full_checks = 0;
    for (size_t p = 1; p < n; p++) {
        if (!(text[p] == '\n' && (unsigned char)text[p - 1] < 0x80 && !ascii_space((unsigned char)text[p - 1]))) continue;
        FUZZ_CHECK(std::binary_search(bounds.begin(), bounds.end(), p), "no chunk boundary at the safe cut %zu", p);
        // pretokenize_next never looks left, so the piece after p splits like
        // the whole once its first chunk does; the piece before p is checked
        // chunk by chunk (for a few cuts: that is O(n) each).
        size_t k = std::lower_bound(bounds.begin(), bounds.end(), p) - bounds.begin();
        size_t first = p + pretokenize_next(text.data() + p, n - p, 0);
        FUZZ_CHECK(first == (k + 1 < bounds.size() ? bounds[k + 1] : n), "the piece after the cut at %zu splits differently", p);
        if (full_checks++ >= 8) continue;
        size_t c = 0;
        for (size_t i = 0; i < p; i = pretokenize_next(text.data(), p, i), c++)
            FUZZ_CHECK(c < k && bounds[c] == i, "the piece before the cut at %zu splits differently", p);
        FUZZ_CHECK(c == k, "the piece before the cut at %zu has %zu chunks, the whole text %zu", p, c, k);
    }
    FUZZ_CHECK(utf8_count_invalid(text) <= n, "more invalid sequences than bytes");
    for (const Tokenizer& tok : v.toks) {
        fuzz_check_encoder(tok, text);
        FUZZ_CHECK(tokenizer_encode(tok, text, true, 1) == tokenizer_encode(tok, text, true, 0), "thread counts differ");
    }
    return 0;
}
