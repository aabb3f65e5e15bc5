// common/schedule.h: the learning-rate schedule shared by the trainers.
// Linear warmup, then cosine to lr·final_frac, or warmup-stable-decay (WSD):
// constant, then a linear decay over the last decay_frac of the run.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>

struct Schedule {
    std::string kind = "cosine";  // "cosine" or "wsd"
    float lr = 1e-3f;
    int warmup = 0;
    int max_steps = 1;
    float final_frac = 0.1f;      // the floor, as a fraction of lr
    float decay_frac = 0.2f;      // WSD only
};

// `step` is 0-based: the lr used by the (step+1)-th update.
inline float schedule_lr(const Schedule& s, int step) {
    float floor_lr = s.lr * s.final_frac;
    if (step < s.warmup) return s.lr * (step + 1) / s.warmup;
    if (s.kind == "wsd") {
        int decay_start = s.max_steps - (int)(s.decay_frac * s.max_steps);
        if (decay_start < s.warmup) decay_start = s.warmup;
        if (step < decay_start) return s.lr;
        float progress = (float)(step - decay_start) / std::max(1, s.max_steps - decay_start);
        return s.lr + (floor_lr - s.lr) * progress;
    }
    float progress = (float)(step - s.warmup) / std::max(1, s.max_steps - s.warmup);
    return floor_lr + 0.5f * (1.0f + cosf((float)M_PI * progress)) * (s.lr - floor_lr);
}
