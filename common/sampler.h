// common/sampler.h: pick the next token from logits with temperature, top-k and top-p.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "rng.h"

// temperature <= 0 means greedy (argmax); top_k <= 0 or >= V means no cut.
inline int sample_token(const float* logits, int V, float temperature, int top_k, Rng* rng) {
    if (temperature <= 0.0f) return (int)(std::max_element(logits, logits + V) - logits);
    std::vector<int> ids(V);
    for (int i = 0; i < V; i++) ids[i] = i;
    int k = (top_k > 0 && top_k < V) ? top_k : V;
    // only the k best need ordering; ties keep the lower id first, so the pick is deterministic
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    std::vector<double> p(k);
    double maxv = logits[ids[0]], sum = 0.0;
    for (int i = 0; i < k; i++) { p[i] = exp((logits[ids[i]] - maxv) / temperature); sum += p[i]; }
    double u = rng_uniform(rng) * sum, acc = 0.0;
    for (int i = 0; i < k; i++) {
        acc += p[i];
        if (u < acc) return ids[i];
    }
    return ids[k - 1];
}

// ----------------------------------------------------------------------------
// Nucleus (top-p) sampling, for build/sample; sample_token above is what the
// trainers call and stays as it is.

// The tokens top-k then top-p keep, likeliest first (ties: lower id first),
// and their weights exp((logit - max) / temperature), unnormalised, in
// *weights. Top-p keeps the smallest prefix whose probability, renormalised
// over the top-k, reaches top_p: the first n with w_1 + ... + w_n >= top_p · Σ w.
// temperature > 0, 0 < top_p <= 1; top_k <= 0 or >= V means no cut.
inline std::vector<int> top_p_candidates(const float* logits, int V, float temperature, int top_k, float top_p,
                                         std::vector<double>* weights) {
    std::vector<int> ids(V);
    for (int i = 0; i < V; i++) ids[i] = i;
    int k = (top_k > 0 && top_k < V) ? top_k : V;
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    ids.resize(k);
    weights->resize(k);
    double maxv = logits[ids[0]], total = 0.0;
    for (int i = 0; i < k; i++) { (*weights)[i] = exp((logits[ids[i]] - maxv) / temperature); total += (*weights)[i]; }
    double target = (double)top_p * total, acc = 0.0;
    int n = k;  // all of them if rounding leaves the sum a hair short of the target
    for (int i = 0; i < k; i++) {
        acc += (*weights)[i];
        if (acc >= target) { n = i + 1; break; }
    }
    ids.resize(n);
    weights->resize(n);
    return ids;
}

// As sample_token, then top-p over what top-k kept. top_p >= 1 is exactly
// sample_token (the same token for the same rng state), so the default of
// build/sample draws what the trainers' samples draw.
inline int sample_token_top_p(const float* logits, int V, float temperature, int top_k, float top_p, Rng* rng) {
    if (temperature <= 0.0f || top_p >= 1.0f) return sample_token(logits, V, temperature, top_k, rng);
    std::vector<double> w;
    std::vector<int> ids = top_p_candidates(logits, V, temperature, top_k, top_p, &w);
    double sum = 0.0;
    for (double x : w) sum += x;
    double u = rng_uniform(rng) * sum, acc = 0.0;
    for (size_t i = 0; i < ids.size(); i++) {
        acc += w[i];
        if (u < acc) return ids[i];
    }
    return ids.back();
}
