// common/sampler.h: pick the next token from logits with temperature and top-k.
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
