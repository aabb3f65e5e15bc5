// tokenizer/train.cpp: byte-level BPE training with incremental pair counts.
//
// The corpus is reduced to its unique pre-tokenizer chunks ("words") with
// their frequencies, so the merge loop never looks at the raw text again.
// Per merge it touches only the words that contain the merged pair (found
// through a pair -> words index) and updates the counts of just the pairs
// those words gain or lose; a max-heap with lazy deletion finds the next
// best pair. That makes training cost proportional to the changes, not to
// (merges x corpus).
#include <algorithm>
#include <cstdio>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tokenizer.h"

namespace {

inline uint64_t pair_key(int32_t left, int32_t right) { return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right; }
inline int32_t key_left(uint64_t k) { return (int32_t)(k >> 32); }
inline int32_t key_right(uint64_t k) { return (int32_t)(k & 0xffffffffu); }

struct HeapEntry {
    int64_t count;
    uint64_t key;
    // The heap's top is the highest count; among equal counts the smallest
    // (left, right), which is the smallest key. That total order is the
    // deterministic tie rule.
    bool operator<(const HeapEntry& o) const { return count != o.count ? count < o.count : key > o.key; }
};

}  // namespace

void count_chunks(ChunkCounts* counts, const std::vector<std::string_view>& docs) {
    std::vector<ChunkCounts> local;
#pragma omp parallel
    {
#pragma omp single
        local.resize(
#ifdef _OPENMP
            omp_get_num_threads()
#else
            1
#endif
        );
        // the implicit barrier after `single` makes `local` visible to all threads
#ifdef _OPENMP
        ChunkCounts& mine = local[omp_get_thread_num()];
#else
        ChunkCounts& mine = local[0];
#endif
#pragma omp for schedule(dynamic, 64)
        for (long d = 0; d < (long)docs.size(); d++) {
            std::string_view t = docs[d];
            for (size_t i = 0; i < t.size();) {
                size_t j = pretokenize_next(t.data(), t.size(), i);
                mine[std::string(t.substr(i, j - i))]++;
                i = j;
            }
        }
    }
    for (auto& m : local)
        for (auto& kv : m) (*counts)[kv.first] += kv.second;
}

bool tokenizer_train(Tokenizer* tok, const ChunkCounts& counts, const TrainOptions& opt, std::string* err) {
    if (opt.vocab_size < 257 || opt.vocab_size > TOKENIZER_MAX_VOCAB) {
        *err = "vocab size " + std::to_string(opt.vocab_size) + " out of range: expected 257 (256 byte tokens + " +
               EOT_TEXT + ") .. " + std::to_string(TOKENIZER_MAX_VOCAB);
        return false;
    }
    const int target_merges = opt.vocab_size - 257;

    // Words in byte order, so their indices (and everything below) do not
    // depend on the hash map's iteration order. One flat id array; a word
    // only shrinks when merged, so it is rewritten in place.
    std::vector<const ChunkCounts::value_type*> entries;
    entries.reserve(counts.size());
    for (const auto& kv : counts)
        if (kv.first.size() >= 2 && kv.second > 0) entries.push_back(&kv);
    std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
    const size_t W = entries.size();
    std::vector<int32_t> ids;
    std::vector<size_t> off(W);
    std::vector<int32_t> len(W);
    std::vector<int64_t> freq(W);
    for (size_t w = 0; w < W; w++) {
        off[w] = ids.size();
        len[w] = (int32_t)entries[w]->first.size();
        freq[w] = entries[w]->second;
        for (unsigned char c : entries[w]->first) ids.push_back(c);
    }

    std::unordered_map<uint64_t, int64_t> pair_count;
    std::unordered_map<uint64_t, std::vector<int32_t>> pair_words;  // may hold duplicates and stale words
    for (size_t w = 0; w < W; w++) {
        const int32_t* a = &ids[off[w]];
        for (int32_t i = 0; i + 1 < len[w]; i++) {
            uint64_t k = pair_key(a[i], a[i + 1]);
            pair_count[k] += freq[w];
            pair_words[k].push_back((int32_t)w);
        }
    }
    std::priority_queue<HeapEntry> heap;
    for (const auto& kv : pair_count) heap.push({kv.second, kv.first});

    Tokenizer t;
    t.tokens.resize(256);
    for (int b = 0; b < 256; b++) {
        t.tokens[b] = std::string(1, (char)b);
        t.byte_to_id[b] = b;
    }
    std::unordered_set<uint64_t> banned;  // pairs whose token would exceed the format's length limit
    std::unordered_map<uint64_t, int64_t> delta;
    std::vector<int32_t> words;
    int64_t last_count = 0;
    while ((int)t.merges.size() < target_merges && !heap.empty()) {
        HeapEntry top = heap.top();
        heap.pop();
        auto it = pair_count.find(top.key);
        if (it == pair_count.end() || it->second != top.count) continue;  // stale entry
        if (top.count < opt.min_frequency) break;  // the best pair is too rare: so is every other
        const int32_t L = key_left(top.key), R = key_right(top.key);
        if (t.tokens[L].size() + t.tokens[R].size() > (size_t)TOKENIZER_MAX_TOKEN_BYTES) {
            banned.insert(top.key);
            pair_count.erase(it);
            continue;
        }
        const int32_t X = 256 + (int32_t)t.merges.size();
        t.merges.push_back({L, R, X});
        t.tokens.push_back(t.tokens[L] + t.tokens[R]);
        last_count = top.count;
        pair_count.erase(it);
        words.swap(pair_words[top.key]);
        pair_words.erase(top.key);
        std::sort(words.begin(), words.end());
        words.erase(std::unique(words.begin(), words.end()), words.end());

        delta.clear();
        for (int32_t w : words) {
            int32_t* a = &ids[off[w]];
            const int32_t n = len[w];
            const int64_t f = freq[w];
            bool has = false;
            for (int32_t i = 0; i + 1 < n && !has; i++) has = a[i] == L && a[i + 1] == R;
            if (!has) continue;  // the index entry is stale: an earlier merge consumed the pair here
            // The word's pairs before minus after the merge is exactly its
            // contribution to the count changes; unchanged pairs cancel.
            for (int32_t i = 0; i + 1 < n; i++) delta[pair_key(a[i], a[i + 1])] -= f;
            int32_t m = 0;
            for (int32_t i = 0; i < n;) {
                if (i + 1 < n && a[i] == L && a[i + 1] == R) {
                    a[m++] = X;
                    i += 2;
                } else {
                    a[m++] = a[i++];
                }
            }
            len[w] = m;
            for (int32_t i = 0; i + 1 < m; i++) {
                uint64_t k = pair_key(a[i], a[i + 1]);
                delta[k] += f;
                if (a[i] == X || a[i + 1] == X) pair_words[k].push_back(w);  // a pair that did not exist before
            }
        }
        for (const auto& kv : delta) {
            // Left-to-right merging leaves no (L, R) behind, so its delta is
            // exactly minus its count; it was erased above.
            if (kv.second == 0 || kv.first == top.key) continue;
            int64_t& c = pair_count[kv.first];
            c += kv.second;
            if (c <= 0) {
                pair_count.erase(kv.first);
                pair_words.erase(kv.first);
            } else if (!banned.count(kv.first)) {
                heap.push({c, kv.first});
            }
        }
    }
    if (opt.verbose) {
        printf("bpe: %zu unique chunks, %zu merges (last merged pair seen %lld times)\n", W, t.merges.size(),
               (long long)last_count);
        if ((int)t.merges.size() < target_merges)
            printf("note: stopped at vocab %d instead of %d: no pair occurs %lld times any more (corpus too small)\n",
                   257 + (int)t.merges.size(), opt.vocab_size, (long long)opt.min_frequency);
    }
    t.eot_id = 256 + (int)t.merges.size();
    t.tokens.push_back(EOT_TEXT);
    t.vocab_size = (int)t.tokens.size();
    if (!tokenizer_finalize(&t, "trained tokenizer", err)) return false;
    *tok = std::move(t);
    return true;
}
