// dev/fuzz/fuzz_load.cpp: tokenizer_load_memory on arbitrary bytes (our
// tokenizer.bin and llm.c's gpt2_tokenizer.bin). A rejected file must give a
// message naming it and leave an empty tokenizer; an accepted one must be
// self-consistent: it decodes every id, saves and reloads to the same bytes,
// and (when it can encode) round-trips text exactly.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t n) {
    Tokenizer tok;
    std::string err;
    if (!tokenizer_load_memory(&tok, data, n, "fuzz.bin", &err)) {
        FUZZ_CHECK(err.rfind("fuzz.bin: ", 0) == 0, "message does not name the file: %s", err.c_str());
        FUZZ_CHECK(tok.vocab_size == 0 && tok.tokens.empty() && tok.merges.empty() && !tok.can_encode,
                   "a rejected file left a half-loaded tokenizer (%s)", err.c_str());
        return 0;
    }
    FUZZ_CHECK(tok.vocab_size >= 1 && (size_t)tok.vocab_size == tok.tokens.size(), "vocab %d, %zu tokens",
               tok.vocab_size, tok.tokens.size());
    FUZZ_CHECK(tok.eot_id >= -1 && tok.eot_id < tok.vocab_size, "eot %d", tok.eot_id);
    std::vector<int> all(tok.vocab_size);
    std::string want;
    for (int id = 0; id < tok.vocab_size; id++) {
        all[id] = id;
        FUZZ_CHECK(!tok.tokens[id].empty(), "token %d is empty", id);
        want += tok.tokens[id];
    }
    std::string out;
    FUZZ_CHECK(tokenizer_decode_checked(tok, all.data(), all.size(), &out, &err) && out == want, "%s", err.c_str());
    int bad[2] = {-1, tok.vocab_size};
    FUZZ_CHECK(!tokenizer_decode_checked(tok, bad, 1, &out, &err), "id -1 accepted");
    FUZZ_CHECK(!tokenizer_decode_checked(tok, bad + 1, 1, &out, &err), "id V accepted");
    if (!tok.can_encode) return 0;

    std::vector<uint8_t> bytes = tokenizer_serialize(tok);
    FUZZ_CHECK(bytes.size() == n && std::equal(bytes.begin(), bytes.end(), data),
               "an accepted file does not serialize back to itself");
    Tokenizer back;
    FUZZ_CHECK(tokenizer_load_memory(&back, bytes.data(), bytes.size(), "again", &err), "%s", err.c_str());
    fuzz_check_encoder(tok, "Once upon a time, Lily's dog ran  fast.\n\n\xff\x80 <|endoftext|>x 2024");
    // The file's own bytes as text: arbitrary, and made of this vocabulary's tokens.
    fuzz_check_encoder(tok, std::string_view((const char*)data, n < 4096 ? n : 4096));
    return 0;
}
