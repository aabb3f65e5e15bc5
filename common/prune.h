// common/prune.h: sparse training by gradual magnitude pruning (Zhu & Gupta,
// "To prune, or not to prune", 2017), as the sparsellm models were trained:
// dense until --prune-start, then every --prune-every steps the linear-layer
// weights of smallest magnitude are cut until the fraction of zeros reaches
// the cubic schedule
//     s(t) = S · (1 − (1 − (t − start) / (end − start))³)    for start ≤ t ≤ end,
// S after --prune-end; then training goes on at sparsity S.
//
// Only the matrices of the linear layers are pruned (the trainer lists them:
// attention qkv and output, the MLP's matrices, an untied head); never the
// embeddings, norms or biases. A pruned weight stays pruned: it is held at
// zero, and so are its gradient (which therefore does not count in the clipped
// gradient norm) and its AdamW moments.
//
// The mask is a bitmask beside the parameters, one bit per linear weight
// (1 = pruned), each matrix starting on a fresh 64-bit word. A checkpoint
// carries it (common/checkpoint.h), so resume is exact.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "logger.h"
#include "util.h"

struct PruneConfig {
    float sparsity = 0.0f;         // S, the final fraction of zero linear weights; 0 = dense training
    int start = 0;                 // t at which pruning begins (s = 0 there)
    int end = 0;                   // t at which s reaches S (0 = 3/4 of the run; see prune_resolve)
    int every = 50;                // steps between pruning events
    std::string scope = "global";  // "global": one magnitude threshold over all linear weights;
                                   // "layer": each matrix of each layer pruned to s on its own
};

inline void add_prune_flags(std::vector<ArgSpec>& specs, PruneConfig* c) {
    std::vector<ArgSpec> flags = {
        {nullptr, "--sparsity", ARG_FLOAT, &c->sparsity,
         "final fraction of zero weights in the linear layers, in [0, 1) (0 = dense)"},
        {nullptr, "--prune-start", ARG_INT, &c->start, "step at which magnitude pruning starts"},
        {nullptr, "--prune-end", ARG_INT, &c->end, "step at which the sparsity reaches --sparsity (0 = 3/4 of -x)"},
        {nullptr, "--prune-every", ARG_INT, &c->every, "steps between pruning events"},
        {nullptr, "--prune-scope", ARG_STRING, &c->scope,
         "global (one threshold over all linear weights) or layer (each matrix on its own)"},
    };
    specs.insert(specs.end(), flags.begin(), flags.end());
}

// Checks the flags against the run's length and fills the default end.
// A --time run (time_budget) has no step count to put the default end in.
inline void prune_resolve(PruneConfig* c, int max_steps, bool time_budget = false) {
    if (!(c->sparsity >= 0.0f && c->sparsity < 1.0f))
        die("--sparsity must be in [0, 1), got %g", c->sparsity);
    if (c->scope != "global" && c->scope != "layer")
        die("--prune-scope must be global or layer, got '%s'", c->scope.c_str());
    if (c->sparsity == 0.0f) return;
    if (c->end == 0 && time_budget)
        die("--sparsity with --time needs --prune-end: pruning follows steps, and the run's step count is not known");
    if (c->end == 0) c->end = std::max(c->start, max_steps * 3 / 4);
    if (c->start < 0) die("--prune-start must be >= 0, got %d", c->start);
    if (c->end < c->start) die("--prune-end %d is before --prune-start %d", c->end, c->start);
    if (c->every < 1) die("--prune-every must be at least 1, got %d", c->every);
    if (c->end > max_steps)
        die("--prune-end %d is after the last step %d: the run would end before reaching --sparsity %g", c->end,
            max_steps, c->sparsity);
}

// s(t): the fraction of linear weights that are zero after step t (steps completed).
inline double prune_target(const PruneConfig& c, int64_t t) {
    if (c.sparsity <= 0.0f || t < c.start) return 0.0;
    if (t >= c.end) return c.sparsity;  // also the one-shot case end == start
    double x = 1.0 - (double)(t - c.start) / (c.end - c.start);
    return c.sparsity * (1.0 - x * x * x);
}

// Whether the weights are pruned after step t: every `every` steps from start, and at end.
inline bool prune_is_event(const PruneConfig& c, int64_t t) {
    if (c.sparsity <= 0.0f || t < c.start || t > c.end) return false;
    return (t - c.start) % c.every == 0 || t == c.end;
}

// A linear weight matrix inside the parameter blob.
struct PruneRange {
    size_t offset;  // first float of the matrix in the blob
    size_t n;       // its number of weights
    size_t word;    // first word of its bits in Pruner::mask
};

struct Pruner {
    PruneConfig config;
    // The AdamW moments this process holds: all of the blob, or with MPI's
    // ZeRO-1 (common/dist.h) the shard [moment_begin, moment_end), whose first
    // element is m[0].
    size_t moment_begin = 0, moment_end = SIZE_MAX;
    std::vector<PruneRange> ranges;  // the linear weight matrices, in blob order
    size_t num_linear = 0;           // weights in all ranges
    std::vector<uint64_t> mask;      // bit i of range r: mask[r.word + i/64] >> (i%64); 1 = pruned
    size_t num_pruned = 0;
    // For the average linear parameter count over the run (sparsellm's "average
    // density"): the sum over steps of the unpruned linear weights during that step.
    int64_t steps_counted = 0;
    double kept_sum = 0.0;
};

// Adds a matrix of n weights at `offset` in the blob; call in blob order.
inline void prune_add_range(Pruner* p, size_t offset, size_t n) {
    size_t word = p->mask.size();
    p->ranges.push_back(PruneRange{offset, n, word});
    p->mask.resize(word + (n + 63) / 64, 0);
    p->num_linear += n;
}

inline bool prune_bit(const Pruner& p, const PruneRange& r, size_t i) {
    return (p.mask[r.word + i / 64] >> (i % 64)) & 1;
}

// Zeros every pruned entry of a blob laid out as the parameters (parameters,
// gradients, AdamW moments), or of its window [begin, end) held in `blob`
// (blob[0] is element begin). Nothing to do, and no pass over memory, while
// nothing is pruned: dense training pays nothing.
inline void prune_zero(const Pruner& p, float* blob, size_t begin = 0, size_t end = SIZE_MAX) {
    if (p.num_pruned == 0 || !blob) return;
    for (const PruneRange& r : p.ranges) {
        if (r.offset + r.n <= begin || r.offset >= end) continue;
        const uint64_t* bits = p.mask.data() + r.word;
        long words = (long)((r.n + 63) / 64);
#pragma omp parallel for schedule(static)
        for (long w = 0; w < words; w++) {
            uint64_t b = bits[w];
            while (b) {
                size_t at = r.offset + (size_t)w * 64 + __builtin_ctzll(b);
                if (at >= begin && at < end) blob[at - begin] = 0.0f;
                b &= b - 1;
            }
        }
    }
}

// Before the optimizer: a pruned weight's gradient is dropped, so it neither
// moves the weight nor its moments, nor counts in the clipped global norm.
inline void prune_before_update(const Pruner& p, float* grads) { prune_zero(p, grads); }

// After the optimizer: the weights and moments of pruned entries are exactly
// zero (they already are when their gradients were zeroed; this makes it a fact
// of the update rather than of AdamW's arithmetic, which weight decay also enters).
inline void prune_after_update(const Pruner& p, float* params, float* m, float* v) {
    prune_zero(p, params);
    prune_zero(p, m, p.moment_begin, p.moment_end);
    prune_zero(p, v, p.moment_begin, p.moment_end);
}

// One pruning event: grows the mask so that the fraction s of linear weights
// (globally, or of each matrix with scope "layer") is pruned, taking the
// smallest magnitudes. Pruned weights are zero, so they are taken first and
// the mask only grows; ties are broken by position (the lower index is pruned
// first), so the result does not depend on anything but the weights.
// Then zeros the newly pruned weights and their moments.
inline void prune_event(Pruner* p, double s, float* params, float* m, float* v) {
    // Each group of ranges shares one threshold: all of them, or one each.
    std::vector<std::vector<size_t>> groups;
    if (p->config.scope == "layer") {
        for (size_t r = 0; r < p->ranges.size(); r++) groups.push_back({r});
    } else {
        groups.emplace_back();
        for (size_t r = 0; r < p->ranges.size(); r++) groups.back().push_back(r);
    }
    std::vector<uint64_t> keys;
    for (const std::vector<size_t>& g : groups) {
        size_t n = 0;
        for (size_t r : g) n += p->ranges[r].n;
        size_t k = (size_t)llround(s * (double)n);  // weights to have pruned in this group
        if (k == 0) continue;
        // key = (magnitude, position in the group): a strict order, so the k
        // smallest are one set. |w| as its float bits sorts as the value does;
        // a pruned weight gets 0 and an unpruned one at least 1, so pruned come first.
        keys.resize(n);
        size_t j = 0;
        for (size_t r : g) {
            const PruneRange& pr = p->ranges[r];
            const float* w = params + pr.offset;
            for (size_t i = 0; i < pr.n; i++, j++) {
                float a = fabsf(w[i]);
                uint32_t bits;
                memcpy(&bits, &a, sizeof bits);
                uint32_t mag = prune_bit(*p, pr, i) ? 0u : std::max<uint32_t>(bits, 1u);
                keys[j] = ((uint64_t)mag << 32) | (uint64_t)j;
            }
        }
        if (n > UINT32_MAX) die("pruning: a group of %zu weights is too large for 32-bit positions", n);
        std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end());
        uint64_t kth = keys[k - 1];
        j = 0;
        for (size_t r : g) {
            const PruneRange& pr = p->ranges[r];
            for (size_t i = 0; i < pr.n; i++, j++) {
                const float* w = params + pr.offset;
                float a = fabsf(w[i]);
                uint32_t bits;
                memcpy(&bits, &a, sizeof bits);
                uint32_t mag = prune_bit(*p, pr, i) ? 0u : std::max<uint32_t>(bits, 1u);
                if ((((uint64_t)mag << 32) | (uint64_t)j) <= kth) p->mask[pr.word + i / 64] |= 1ull << (i % 64);
            }
        }
    }
    size_t pruned = 0;
    for (uint64_t w : p->mask) pruned += (size_t)__builtin_popcountll(w);
    p->num_pruned = pruned;
    prune_after_update(*p, params, m, v);
}

// Counts one training step at the current density, for the run's average.
inline void prune_count_step(Pruner* p) {
    p->steps_counted++;
    p->kept_sum += (double)(p->num_linear - p->num_pruned);
}

inline double prune_sparsity(const Pruner& p) { return p.num_linear ? (double)p.num_pruned / p.num_linear : 0.0; }

inline double prune_average_linear(const Pruner& p) {
    return p.steps_counted ? p.kept_sum / p.steps_counted : (double)(p.num_linear - p.num_pruned);
}

// The checkpoint's mask section (after everything else; see common/checkpoint.h):
//   int64 num_linear, int64 num_words, int64 num_pruned, int64 steps_counted, float64 kept_sum,
//   uint64 mask[num_words]
inline void prune_write(const Pruner& p, FILE* f, const char* path) {
    int64_t head[4] = {(int64_t)p.num_linear, (int64_t)p.mask.size(), (int64_t)p.num_pruned, p.steps_counted};
    fwrite_check(head, sizeof(int64_t), 4, f, path);
    fwrite_check(&p.kept_sum, sizeof(double), 1, f, path);
    fwrite_check(p.mask.data(), sizeof(uint64_t), p.mask.size(), f, path);
}

inline size_t prune_section_bytes(const Pruner& p) {
    return 4 * sizeof(int64_t) + sizeof(double) + p.mask.size() * sizeof(uint64_t);
}

// Reads a mask section into a pruner whose ranges the trainer has set up; the
// counts must agree with the model, and the mask with its own count.
inline void prune_read(Pruner* p, FILE* f, const char* path) {
    int64_t head[4];
    fread_check(head, sizeof(int64_t), 4, f, path);
    if (head[0] != (int64_t)p->num_linear || head[1] != (int64_t)p->mask.size())
        die("%s: the sparsity mask covers %lld linear weights in %lld words, the model has %zu in %zu", path,
            (long long)head[0], (long long)head[1], p->num_linear, p->mask.size());
    fread_check(&p->kept_sum, sizeof(double), 1, f, path);
    fread_check(p->mask.data(), sizeof(uint64_t), p->mask.size(), f, path);
    size_t pruned = 0;
    for (const PruneRange& r : p->ranges) {
        size_t words = (r.n + 63) / 64;
        if (r.n % 64 && (p->mask[r.word + words - 1] >> (r.n % 64)))
            die("%s: the sparsity mask has bits set past the end of a matrix (corrupt file)", path);
        for (size_t w = 0; w < words; w++) pruned += (size_t)__builtin_popcountll(p->mask[r.word + w]);
    }
    if ((int64_t)pruned != head[2])
        die("%s: the sparsity mask has %zu bits set, its header says %lld (corrupt file)", path, pruned,
            (long long)head[2]);
    p->num_pruned = pruned;
    p->steps_counted = head[3];
}

// One line for the log and the end-of-run summary.
inline void prune_print(const Pruner& p, int64_t step, const char* what) {
    printf("%s step %lld | sparsity %.4f (target %.4f) | non-zero linear %zu of %zu | average linear %.0f\n", what,
           (long long)step, prune_sparsity(p), prune_target(p.config, step), p.num_linear - p.num_pruned,
           p.num_linear, prune_average_linear(p));
    fflush(stdout);
}

inline std::string prune_json(const Pruner& p, int64_t step) {
    char buf[256];
    snprintf(buf, sizeof buf,
             "{\"step\": %lld, \"sparsity\": %.6f, \"nonzero_linear\": %zu, \"linear\": %zu, \"avg_linear\": %.1f}",
             (long long)step, prune_sparsity(p), p.num_linear - p.num_pruned, p.num_linear, prune_average_linear(p));
    return buf;
}

// The trainer's hooks around its main loop, the same for every model.

// Start of the run: what will be pruned, and the mask a checkpoint brought.
inline void prune_banner(const Pruner& p, int64_t start_step) {
    const PruneConfig& c = p.config;
    if (c.sparsity > 0)
        printf("pruning: %zu linear weights to sparsity %g (%s), steps %d to %d every %d\n", p.num_linear, c.sparsity,
               c.scope.c_str(), c.start, c.end, c.every);
    if (p.num_pruned > 0) prune_print(p, start_step, "loaded mask:");
}

// After the update of step t (steps completed): counts the step at the
// density it trained with, then prunes if t is an event, and logs it.
inline void prune_step_done(Pruner* p, int64_t t, float* params, float* m, float* v, Logger* log) {
    prune_count_step(p);
    if (!prune_is_event(p->config, t)) return;
    prune_event(p, prune_target(p->config, t), params, m, v);
    prune_print(*p, t, "prune:");
    logger_write(log, prune_json(*p, t));
}

// End of the run: sparsity reached, non-zero and average linear parameters.
inline void prune_summary(const Pruner& p, int64_t step, Logger* log) {
    if (p.config.sparsity <= 0.0f && p.num_pruned == 0) return;
    prune_print(p, step, "sparsity:");
    logger_write(log, prune_json(p, step));
}
