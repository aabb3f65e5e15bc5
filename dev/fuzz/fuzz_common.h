// dev/fuzz/fuzz_common.h: what the libFuzzer targets share: a checked
// assertion that aborts (so libFuzzer saves the input), and the vocabularies
// the encoder and decoder targets run, built once at start-up.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "../../tokenizer/tokenizer.h"

// Unlike assert(), active in every build; abort() makes libFuzzer keep the input.
#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            abort();                                                            \
        }                                                                       \
    } while (0)

inline std::string fuzz_read_file(const char* path) {
    std::string s;
    FILE* f = fopen(path, "rb");
    if (!f) return s;
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    fclose(f);
    return s;
}

// The demo stories shipped with the repo (run from the repo root), or a
// built-in paragraph: enough text for a few hundred merges.
inline std::string fuzz_training_text() {
    std::string s = fuzz_read_file("prepro/sample/stories.txt");
    if (s.empty())
        for (int k = 0; k < 200; k++)
            s += "Once upon a time, there was a little girl named Lily. She liked to play outside in the sun.\n"
                 "\"Can I play too?\" asked Tom. They're friends, and they'll play   together all day.\n<|endoftext|>\n";
    return s;
}

inline Tokenizer fuzz_trained_tokenizer(int vocab) {
    std::string text = fuzz_training_text();
    ChunkCounts counts;
    count_chunks(&counts, split_documents(text));
    TrainOptions opt;
    opt.vocab_size = vocab;
    Tokenizer tok;
    std::string err;
    if (!tokenizer_train(&tok, counts, opt, &err)) {
        fprintf(stderr, "fuzz: training failed: %s\n", err.c_str());
        abort();
    }
    return tok;
}

// GPT-2's vocabulary when ../shared/data/gpt2 is there; can_encode is false otherwise.
inline Tokenizer fuzz_gpt2_tokenizer() {
    Tokenizer tok;
    std::string err;
    if (!tokenizer_load_gpt2_dir(&tok, "../shared/data/gpt2", &err)) {
        fprintf(stderr, "fuzz: no GPT-2 vocabulary (%s); fuzzing the trained one only\n", err.c_str());
        tok = Tokenizer();
    }
    return tok;
}

// decode(encode(text)) == text in both special-token modes, and the two BPE
// algorithms agree on every chunk. The core property of the encoder.
inline void fuzz_check_encoder(const Tokenizer& tok, std::string_view text) {
    for (bool special : {false, true}) {
        std::vector<int> ids = tokenizer_encode(tok, text, special);
        for (int id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocab_size, "id %d, vocab %d", id, tok.vocab_size);
        std::string back = tokenizer_decode(tok, ids.data(), ids.size());
        FUZZ_CHECK(back == text, "round trip changed %zu bytes into %zu bytes (allow_special %d)", text.size(),
                   back.size(), (int)special);
    }
    for (size_t i = 0; i < text.size();) {
        size_t j = pretokenize_next(text.data(), text.size(), i);
        FUZZ_CHECK(j > i && j <= text.size(), "pretokenize_next(%zu) = %zu, text of %zu bytes", i, j, text.size());
        if (j - i <= 64) {  // the quadratic scan is slow on long chunks (tests/test_tokenizer.cpp goes further)
            std::vector<int> a, b;
            tokenizer_bpe_chunk(tok, text.data() + i, j - i, &a, 1);
            tokenizer_bpe_chunk(tok, text.data() + i, j - i, &b, 2);
            FUZZ_CHECK(a == b, "scan and heap disagree on the chunk at byte %zu (%zu bytes)", i, j - i);
        }
        i = j;
    }
}
