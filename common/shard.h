// common/shard.h: the llm.c token-shard format, read by the data loader and
// written by prepro. One definition of the format lives here.
//
// A shard is a header of 256 int32 followed by the tokens:
//   header[0] = 20240520 (SHARD_MAGIC)
//   header[1] = 1 for uint16 tokens, 2 for uint32 tokens (version)
//   header[2] = number of tokens that follow
// Everything is little-endian.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util.h"

constexpr int SHARD_MAGIC = 20240520;
constexpr int SHARD_HEADER_INTS = 256;
constexpr int SHARD_VERSION_U16 = 1;
constexpr int SHARD_VERSION_U32 = 2;

// Writes tokens as a shard; uint16 when every id fits (vocab_size <= 65536),
// uint32 otherwise. Written atomically (temp file + rename).
inline void write_shard(const std::string& path, const std::vector<uint32_t>& tokens, int vocab_size) {
    int header[SHARD_HEADER_INTS] = {0};
    bool u16 = vocab_size <= 65536;
    header[0] = SHARD_MAGIC;
    header[1] = u16 ? SHARD_VERSION_U16 : SHARD_VERSION_U32;
    if (tokens.size() > 0x7fffffffull) die("%s: %zu tokens do not fit one shard (max 2^31-1)", path.c_str(), tokens.size());
    header[2] = (int)tokens.size();
    write_file_atomic(path, [&](FILE* f, const char* tmp) {
        fwrite_check(header, sizeof(int), SHARD_HEADER_INTS, f, tmp);
        if (u16) {
            std::vector<uint16_t> t16(tokens.begin(), tokens.end());
            fwrite_check(t16.data(), sizeof(uint16_t), t16.size(), f, tmp);
        } else {
            fwrite_check(tokens.data(), sizeof(uint32_t), tokens.size(), f, tmp);
        }
    });
}

// Reads a whole shard into memory and validates it against vocab_size
// (pass 0 to skip the id check). Dies with the file name and the problem.
inline std::vector<uint32_t> read_shard(const std::string& path, int vocab_size) {
    long long bytes = file_size_check(path.c_str());
    const char* p = path.c_str();
    if (bytes < (long long)(SHARD_HEADER_INTS * sizeof(int)))
        die("%s: file is truncated: %lld bytes, a shard header alone is %zu bytes", p, bytes, SHARD_HEADER_INTS * sizeof(int));
    FILE* f = fopen_check(p, "rb");
    int header[SHARD_HEADER_INTS];
    fread_check(header, sizeof(int), SHARD_HEADER_INTS, f, p);
    if (header[0] != SHARD_MAGIC) die("%s: bad magic %d, expected %d (not an llm.c token shard)", p, header[0], SHARD_MAGIC);
    if (header[1] != SHARD_VERSION_U16 && header[1] != SHARD_VERSION_U32)
        die("%s: unknown version %d, expected %d (uint16 tokens) or %d (uint32 tokens)", p, header[1], SHARD_VERSION_U16, SHARD_VERSION_U32);
    if (header[2] < 0) die("%s: negative token count %d in header", p, header[2]);
    size_t n = (size_t)header[2];
    size_t tsize = header[1] == SHARD_VERSION_U16 ? 2 : 4;
    long long expect = (long long)(SHARD_HEADER_INTS * sizeof(int) + n * tsize);
    if (bytes < expect) die("%s: file is truncated: header says %zu tokens (%lld bytes), file has %lld bytes", p, n, expect, bytes);
    if (bytes > expect) die("%s: %lld bytes of trailing data after the %zu tokens the header declares", p, bytes - expect, n);
    std::vector<uint32_t> tokens(n);
    if (tsize == 2) {
        std::vector<uint16_t> t16(n);
        fread_check(t16.data(), 2, n, f, p);
        for (size_t i = 0; i < n; i++) tokens[i] = t16[i];
    } else {
        fread_check(tokens.data(), 4, n, f, p);
    }
    fclose(f);
    if (vocab_size > 0) {
        for (size_t i = 0; i < n; i++)
            if (tokens[i] >= (uint32_t)vocab_size)
                die("%s: token id %u at position %zu is >= vocab size %d", p, tokens[i], i, vocab_size);
    }
    return tokens;
}
