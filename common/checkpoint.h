// common/checkpoint.h: the checkpoint file, one format for every trainer (CPU and GPU).
//
// Layout (little-endian):
//   int32 header[256]:
//     [0] CKPT_MAGIC 20261126   [1] version: 1, or 2 when a sparsity mask follows
//     [2] model kind (1 = llama, 2 = gpt2)
//     [3] has_optimizer (0: parameters only, 1: + AdamW moments and train state)
//     [4..63]   model config, written and checked by the trainer (see its config_to_header)
//     rest zero
//   int64 num_params
//   float32 params[num_params]          fp32 master weights in the trainer's blob order
//   if has_optimizer:
//     float32 m[num_params], v[num_params]   AdamW first and second moments
//     TrainState                             step, RNG state, data position, elapsed time
//                                            (older version-1 files: the 48 bytes without elapsed_s)
//   if version 2: the sparsity mask section of common/prune.h (prune_write)
// Dense runs write version 1, as before masks existed, so older readers
// (and the GPU trainer) still load them.
// The file is written to <path>.tmp and renamed, so a crash mid-write never
// leaves a half-written checkpoint under the real name.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dist.h"
#include "prune.h"
#include "util.h"

constexpr int CKPT_MAGIC = 20261126;
constexpr int CKPT_VERSION = 1;
constexpr int CKPT_VERSION_MASK = 2;  // version 1 + the sparsity mask section
constexpr int CKPT_HEADER_INTS = 256;
constexpr int CKPT_CONFIG_OFFSET = 4;  // header[4..] holds the model config
constexpr int CKPT_KIND_LLAMA = 1;
constexpr int CKPT_KIND_GPT2 = 2;

struct TrainState {
    int64_t step;          // optimizer steps completed
    uint64_t rng_state;    // the trainer's RNG (sampling)
    uint64_t data_epoch;   // train loader position
    uint64_t data_index;
    uint64_t data_seed;    // the seed that orders the windows; resume must reuse it
    uint64_t data_T;       // window length the position counts in; resume needs the same -t
    double elapsed_s = 0;  // training time a --time budget has used (0: none); absent before 2026-12, read as 0
};
constexpr long long TRAIN_STATE_V1_BYTES = 48;  // TrainState before elapsed_s: such checkpoints still load
static_assert(offsetof(TrainState, elapsed_s) == TRAIN_STATE_V1_BYTES, "elapsed_s must follow the older fields");

// Whether a checkpoint carries the pruner's mask: once pruning is on or anything is pruned.
inline bool checkpoint_has_mask(const Pruner* prune) {
    return prune && (prune->config.sparsity > 0.0f || prune->num_pruned > 0);
}

// prune may be null (no masks: a dense run).
inline void checkpoint_save(const std::string& path, const int* header_in, const float* params, size_t num_params,
                            const float* m, const float* v, const TrainState* state, const Pruner* prune = nullptr) {
    int header[CKPT_HEADER_INTS];
    memcpy(header, header_in, sizeof header);
    bool masked = checkpoint_has_mask(prune);
    header[1] = masked ? CKPT_VERSION_MASK : CKPT_VERSION;
    write_file_atomic(path, [&](FILE* f, const char* tmp) {
        fwrite_check(header, sizeof(int), CKPT_HEADER_INTS, f, tmp);
        int64_t n = (int64_t)num_params;
        fwrite_check(&n, sizeof n, 1, f, tmp);
        fwrite_check(params, sizeof(float), num_params, f, tmp);
        if (header[3]) {
            fwrite_check(m, sizeof(float), num_params, f, tmp);
            fwrite_check(v, sizeof(float), num_params, f, tmp);
            fwrite_check(state, sizeof(TrainState), 1, f, tmp);
        }
        if (masked) prune_write(*prune, f, tmp);
    });
}

// Reads and validates the header only (the trainer checks the config against its flags).
inline void checkpoint_read_header(const std::string& path, int* header, int kind) {
    const char* p = path.c_str();
    file_size_check(p);
    FILE* f = fopen_check(p, "rb");
    fread_check(header, sizeof(int), CKPT_HEADER_INTS, f, p);
    fclose(f);
    if (header[0] != CKPT_MAGIC) die("%s: bad magic %d, expected %d (not a checkpoint of this engine)", p, header[0], CKPT_MAGIC);
    if (header[1] != CKPT_VERSION && header[1] != CKPT_VERSION_MASK)
        die("%s: unknown checkpoint version %d, expected %d or %d", p, header[1], CKPT_VERSION, CKPT_VERSION_MASK);
    if (header[2] != kind)
        die("%s: checkpoint is for model kind %d (%s), this trainer is kind %d", p, header[2],
            header[2] == CKPT_KIND_LLAMA ? "llama" : header[2] == CKPT_KIND_GPT2 ? "gpt2" : "unknown", kind);
    if (header[3] != 0 && header[3] != 1) die("%s: has_optimizer is %d, expected 0 or 1", p, header[3]);
}

// Reads the body. m, v, state may be null to skip the optimizer part.
// Returns whether the file has optimizer state (and so filled m, v, state).
// A version-2 file's mask goes into prune, whose ranges the trainer has set
// up; with prune null the mask is skipped (the pruned weights are zeros in
// the parameters anyway).
inline bool checkpoint_load(const std::string& path, size_t num_params, float* params, float* m, float* v,
                            TrainState* state, Pruner* prune = nullptr) {
    const char* p = path.c_str();
    int header[CKPT_HEADER_INTS];
    long long bytes = file_size_check(p);
    FILE* f = fopen_check(p, "rb");
    fread_check(header, sizeof(int), CKPT_HEADER_INTS, f, p);
    int64_t n = 0;
    fread_check(&n, sizeof n, 1, f, p);
    if (n != (int64_t)num_params)
        die("%s: holds %lld parameters, the model built from its config has %zu", p, (long long)n, num_params);
    bool has_opt = header[3] == 1;
    bool masked = header[1] == CKPT_VERSION_MASK;
    long long body = (long long)(sizeof header + sizeof n + num_params * sizeof(float) * (has_opt ? 3 : 1));
    long long state_bytes = has_opt ? (long long)sizeof(TrainState) : 0;
    // version 1 written before elapsed_s existed: the shorter state (version 2 came after it)
    if (has_opt && !masked && bytes == body + TRAIN_STATE_V1_BYTES) state_bytes = TRAIN_STATE_V1_BYTES;
    long long expect = body + state_bytes;
    long long mask_at = expect;  // where the mask section starts, if any
    if (masked) {
        // the mask's size is in its own first words; read them where the section starts
        int64_t mask_head[2] = {0, 0};
        fseek_check(f, (long)expect, SEEK_SET, p);
        fread_check(mask_head, sizeof(int64_t), 2, f, p);
        if (mask_head[1] < 0 || mask_head[1] > (int64_t)num_params)
            die("%s: the sparsity mask claims %lld words for a model of %zu parameters (corrupt file)", p,
                (long long)mask_head[1], num_params);
        expect += (long long)(4 * sizeof(int64_t) + sizeof(double) + mask_head[1] * sizeof(uint64_t));
        fseek_check(f, (long)(sizeof header + sizeof n), SEEK_SET, p);
    }
    if (bytes != expect) die("%s: file is %lld bytes, expected %lld for %zu parameters%s%s", p, bytes, expect,
                             num_params, has_opt ? " with optimizer state" : "", masked ? " and a sparsity mask" : "");
    fread_check(params, sizeof(float), num_params, f, p);
    if (has_opt && m && v && state) {
        fread_check(m, sizeof(float), num_params, f, p);
        fread_check(v, sizeof(float), num_params, f, p);
        *state = TrainState{};
        fread_check(state, (size_t)state_bytes, 1, f, p);
    }
    if (masked && prune) {
        fseek_check(f, (long)mask_at, SEEK_SET, p);
        prune_read(prune, f, p);
    }
    fclose(f);
    return has_opt && m && v && state;
}

// ----------------------------------------------------------------------------
// The same with the AdamW moments sharded over MPI ranks (ZeRO-1,
// common/dist.h): m and v hold this rank's shard [dist->shard_begin,
// shard_end) only; dist null (or one rank) is the single-process case.

// Every rank calls it: rank 0 gathers the moments' shards and writes the file.
inline void checkpoint_save_sharded(const std::string& path, const int* header, const float* params,
                                    size_t num_params, const float* m, const float* v, const TrainState* state,
                                    const Pruner* prune, const Dist* dist) {
    std::vector<float> full_m, full_v;
    if (dist && dist->world > 1 && m) {
        full_m.resize(num_params);
        full_v.resize(num_params);
        dist_gather_shards(*dist, m, full_m.data());
        dist_gather_shards(*dist, v, full_v.data());
        m = full_m.data();
        v = full_v.data();
    }
    if (dist && !dist_root(*dist)) return;
    checkpoint_save(path, header, params, num_params, m, v, state, prune);
}

// Every rank reads the whole file and keeps its shard of the moments, so a
// checkpoint written by any number of ranks resumes on any number.
inline bool checkpoint_load_sharded(const std::string& path, size_t num_params, float* params, float* m, float* v,
                                    TrainState* state, Pruner* prune, const Dist* dist) {
    size_t begin = dist ? dist->shard_begin : 0, end = dist ? dist->shard_end : num_params;
    if (end - begin == num_params) return checkpoint_load(path, num_params, params, m, v, state, prune);
    std::vector<float> full_m(num_params), full_v(num_params);
    bool resumed = checkpoint_load(path, num_params, params, full_m.data(), full_v.data(), state, prune);
    if (resumed) {
        std::copy(full_m.begin() + begin, full_m.begin() + end, m);
        std::copy(full_v.begin() + begin, full_v.begin() + end, v);
    }
    return resumed;
}
