// common/llmc_model.h: llm.c's GPT-2 model file (what llm.c's train_gpt2.py
// writes as gpt2_124M.bin and train_gpt2.c reads), so models move between
// llm.c and this engine in both directions.
//
// Layout (little-endian):
//   int32 header[256]:
//     [0] LLMC_MODEL_MAGIC 20240326   [1] version: 3 = fp32 parameters (5 = bf16, not read here)
//     [2] maxT   [3] V (vocab)   [4] L (layers)   [5] NH (heads)   [6] C (channels)
//     [7] Vp (vocab padded, llm.c rounds V up to a multiple of 128)
//     rest zero
//   float32 params[]   in llm.c's order (see train_gpt2.cpp's ParameterTensors), nothing after
// The parameter count follows from the header; the trainer computes it and
// this reader checks the file holds exactly that many.
#pragma once
#include <string>

#include "util.h"

constexpr int LLMC_MODEL_MAGIC = 20240326;
constexpr int LLMC_MODEL_VERSION = 3;       // fp32
constexpr int LLMC_MODEL_VERSION_BF16 = 5;  // llm.c's mixed-precision file: recognised, refused
constexpr int LLMC_MODEL_HEADER_INTS = 256;

struct LlmcShape {
    int maxT = 0, V = 0, L = 0, NH = 0, C = 0, Vp = 0;
};

// The first int32 of a file, or 0 if it has fewer than 4 bytes: tells an
// llm.c model file from one of our checkpoints before either is parsed.
inline int file_magic(const std::string& path) {
    const char* p = path.c_str();
    long long bytes = file_size_check(p);
    if (bytes < 4) return 0;
    FILE* f = fopen_check(p, "rb");
    int magic = 0;
    fread_check(&magic, sizeof magic, 1, f, p);
    fclose(f);
    return magic;
}

// Reads and checks the header; dies naming the file and the problem.
inline LlmcShape llmc_read_header(const std::string& path) {
    const char* p = path.c_str();
    long long bytes = file_size_check(p);
    if (bytes < (long long)(LLMC_MODEL_HEADER_INTS * sizeof(int)))
        die("%s: file is truncated: %lld bytes, an llm.c model header alone is %zu bytes", p, bytes,
            LLMC_MODEL_HEADER_INTS * sizeof(int));
    int h[LLMC_MODEL_HEADER_INTS];
    FILE* f = fopen_check(p, "rb");
    fread_check(h, sizeof(int), LLMC_MODEL_HEADER_INTS, f, p);
    fclose(f);
    if (h[0] != LLMC_MODEL_MAGIC) die("%s: bad magic %d, expected %d (not an llm.c GPT-2 model file)", p, h[0], LLMC_MODEL_MAGIC);
    if (h[1] == LLMC_MODEL_VERSION_BF16)
        die("%s: llm.c model version %d holds bf16 parameters; only version %d (fp32) is read "
            "(write one with llm.c's train_gpt2.py, which saves both)", p, h[1], LLMC_MODEL_VERSION);
    if (h[1] == 1 || h[1] == 2)
        die("%s: llm.c model version %d is llm.c's older format without the padded vocabulary; expected version %d "
            "(write it again with llm.c's current train_gpt2.py)", p, h[1], LLMC_MODEL_VERSION);
    if (h[1] != LLMC_MODEL_VERSION) die("%s: unknown llm.c model version %d, expected %d (fp32)", p, h[1], LLMC_MODEL_VERSION);
    LlmcShape s;
    s.maxT = h[2]; s.V = h[3]; s.L = h[4]; s.NH = h[5]; s.C = h[6]; s.Vp = h[7];
    if (s.maxT < 1 || s.V < 1 || s.L < 1 || s.NH < 1 || s.C < 1)
        die("%s: header sizes must be positive: maxT %d, V %d, L %d, NH %d, C %d", p, s.maxT, s.V, s.L, s.NH, s.C);
    if (s.Vp < s.V) die("%s: padded vocab Vp %d is smaller than the vocab V %d", p, s.Vp, s.V);
    return s;
}

// Checks that the file holds exactly the header and num_params fp32 values.
// num_params is a double so that a corrupt header's absurd count is reported,
// not wrapped around; callers check before allocating.
inline void llmc_check_size(const std::string& path, double num_params) {
    const char* p = path.c_str();
    long long bytes = file_size_check(p);
    double expect = LLMC_MODEL_HEADER_INTS * sizeof(int) + num_params * sizeof(float);
    if (bytes < expect)
        die("%s: file is truncated: %lld bytes, expected %.0f for the %.0f parameters its header implies", p, bytes,
            expect, num_params);
    if (bytes > expect)
        die("%s: %.0f bytes of trailing data after the %.0f parameters its header implies", p, bytes - expect,
            num_params);
}

// Reads the num_params parameters after the header; the size must match exactly.
inline void llmc_read_params(const std::string& path, float* params, size_t num_params) {
    const char* p = path.c_str();
    llmc_check_size(path, (double)num_params);
    FILE* f = fopen_check(p, "rb");
    fseek_check(f, LLMC_MODEL_HEADER_INTS * sizeof(int), SEEK_SET, p);
    fread_check(params, sizeof(float), num_params, f, p);
    fclose(f);
}

// Writes header and parameters atomically (temp file + rename).
inline void llmc_write(const std::string& path, const LlmcShape& s, const float* params, size_t num_params) {
    int h[LLMC_MODEL_HEADER_INTS] = {0};
    h[0] = LLMC_MODEL_MAGIC;
    h[1] = LLMC_MODEL_VERSION;
    h[2] = s.maxT; h[3] = s.V; h[4] = s.L; h[5] = s.NH; h[6] = s.C; h[7] = s.Vp;
    write_file_atomic(path, [&](FILE* f, const char* tmp) {
        fwrite_check(h, sizeof(int), LLMC_MODEL_HEADER_INTS, f, tmp);
        fwrite_check(params, sizeof(float), num_params, f, tmp);
    });
}
