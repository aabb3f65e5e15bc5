// common/dataloader.h: batches of (inputs, targets) from llm.c token shards.
// A shard glob is read whole into memory and cut into windows of T+1 tokens
// (stride T: a window's last token is the next window's first input).
// Training visits every window once per epoch in a seeded random order; the
// order depends only on (seed, epoch), so (epoch, index) is the whole position
// and a checkpoint can restore it exactly. Validation reads windows in order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rng.h"
#include "shard.h"
#include "util.h"

struct DataLoader {
    int B = 0, T = 0;
    bool shuffle = false;
    uint64_t seed = 0;
    std::vector<std::string> paths;
    std::vector<std::vector<uint32_t>> shards;
    std::vector<std::pair<int, size_t>> windows;  // (shard, first token) of each window
    std::vector<size_t> order;                    // this epoch's visiting order
    uint64_t epoch = 0;                           // epochs completed
    size_t index = 0;                             // next position in `order`
    size_t num_tokens = 0;
    std::vector<int> inputs, targets;             // (B, T) each, the current batch
};

inline void dataloader_shuffle_epoch(DataLoader* dl) {
    dl->order.resize(dl->windows.size());
    for (size_t i = 0; i < dl->order.size(); i++) dl->order[i] = i;
    if (!dl->shuffle) return;
    Rng rng = rng_make(dl->seed * 0x100000001B3ull + dl->epoch);
    for (size_t i = dl->order.size() - 1; i > 0; i--) {  // Fisher-Yates
        size_t j = rng_below(&rng, i + 1);
        std::swap(dl->order[i], dl->order[j]);
    }
}

// `what` names the loader in messages ("train data", "val data").
inline void dataloader_init(DataLoader* dl, const std::string& pattern, int B, int T, int vocab_size,
                            bool shuffle, uint64_t seed, const char* what) {
    dl->B = B;
    dl->T = T;
    dl->shuffle = shuffle;
    dl->seed = seed;
    dl->paths = glob_check(pattern.c_str(), what);
    for (size_t s = 0; s < dl->paths.size(); s++) {
        dl->shards.push_back(read_shard(dl->paths[s], vocab_size));
        const std::vector<uint32_t>& tok = dl->shards.back();
        dl->num_tokens += tok.size();
        for (size_t start = 0; start + T + 1 <= tok.size(); start += T) dl->windows.push_back({(int)s, start});
    }
    if (dl->windows.size() < (size_t)B) {
        die("%s: %s holds %zu tokens in %zu shard(s), %zu windows of T+1=%d tokens; one batch needs B=%d windows "
            "(at least %d tokens in one shard). Use a smaller -b or -t, or more data.",
            what, pattern.c_str(), dl->num_tokens, dl->paths.size(), dl->windows.size(), T + 1, B, B * T + 1);
    }
    dl->inputs.resize((size_t)B * T);
    dl->targets.resize((size_t)B * T);
    dl->epoch = 0;
    dl->index = 0;
    dataloader_shuffle_epoch(dl);
}

// Moves to a saved position (from a checkpoint).
inline void dataloader_seek(DataLoader* dl, uint64_t epoch, uint64_t index) {
    if (index > dl->windows.size())
        die("checkpoint data position %llu is past the %zu windows of the train data: was it written for other data?",
            (unsigned long long)index, dl->windows.size());
    dl->epoch = epoch;
    dl->index = index;
    dataloader_shuffle_epoch(dl);
}

inline void dataloader_reset(DataLoader* dl) { dataloader_seek(dl, 0, 0); }

// Fills inputs/targets with the next B windows; starts a new epoch when the
// windows run out (a batch may span the epoch boundary).
inline void dataloader_next_batch(DataLoader* dl) {
    for (int b = 0; b < dl->B; b++) {
        if (dl->index >= dl->order.size()) {
            dl->epoch++;
            dl->index = 0;
            dataloader_shuffle_epoch(dl);
        }
        const std::pair<int, size_t>& w = dl->windows[dl->order[dl->index++]];
        const uint32_t* tok = dl->shards[w.first].data() + w.second;
        for (int t = 0; t < dl->T; t++) {
            dl->inputs[(size_t)b * dl->T + t] = (int)tok[t];
            dl->targets[(size_t)b * dl->T + t] = (int)tok[t + 1];
        }
    }
}
