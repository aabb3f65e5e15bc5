// tokenizer/tokenizer.h: byte-level BPE tokenizer (our own vocabularies and
// GPT-2's), its binary file format, encode/decode and training.
//
// INTERFACE CONTRACT (used by train_llama.cpp, prepro and tests; keep these
// names and meanings, extend freely):
//   - ids 0..vocab_size-1; tokens[id] is the exact byte string id decodes to
//     (special tokens decode to their literal text, e.g. "<|endoftext|>").
//   - eot_id is the id of <|endoftext|>, or -1 if the vocabulary has none.
//   - tokenizer_load() reads our file format, or llm.c's gpt2_tokenizer.bin
//     (decode-only: can_encode is false). It returns false and sets *err to a
//     message naming the file and the problem; it never exits or crashes on a
//     corrupt file (the fuzzer relies on that).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

constexpr int TOKENIZER_MAGIC = 20261124;    // our tokenizer.bin
constexpr int TOKENIZER_VERSION = 1;
constexpr int LLMC_TOKENIZER_MAGIC = 20240328;  // llm.c's gpt2_tokenizer.bin

struct Tokenizer {
    int vocab_size = 0;
    int eot_id = -1;
    bool can_encode = false;               // false for decode-only files
    std::vector<std::string> tokens;       // bytes of each id
    // (implementation fields for encoding — byte->id table, merge ranks — are added by the implementation)
};

bool tokenizer_load(Tokenizer* tok, const std::string& path, std::string* err);
std::string tokenizer_decode(const Tokenizer& tok, const int* ids, size_t n);
