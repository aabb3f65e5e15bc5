// common/schedule.h: the learning-rate schedule shared by the trainers.
// Linear warmup, then cosine to lr·final_frac, or warmup-stable-decay (WSD):
// constant, then a linear decay over the last decay_frac of the run.
#pragma once
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
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

// ---- a wall-clock budget (--time) ------------------------------------------
//
// With --time the schedule runs over time, not a step count given up front.
// The rule: before each step, the run's total is re-estimated as
//     steps done + floor(time left / mean step time so far in this process)
// where the mean counts everything between steps (evaluation, samples,
// checkpoints), so it is what a step really costs. The schedule's max_steps is
// that estimate, so cosine and WSD reach their floor as the budget runs out;
// warmup stays in steps. Training stops before a step that would end past the
// budget (the estimate equals the steps done). Before the first step there is
// no timing yet: the estimate is the step cap (-x, or BUDGET_NO_CAP), which
// changes nothing during warmup and only the first step without it.
// A resumed run counts the time its checkpoint had used (prior_s).

constexpr int BUDGET_NO_CAP = 1 << 30;  // "no -x": large, yet safe in schedule_lr's arithmetic

// Parses "90s", "10m", "2h", "1h30m", "1.5h", "2m30.5s": numbers with units
// h, m, s in that order, each at most once. False with *err on anything else.
inline bool parse_duration(const std::string& text, double* seconds, std::string* err) {
    const char* units = "hms";
    const double scale[3] = {3600, 60, 1};
    int next_unit = 0;
    double total = 0;
    size_t i = 0;
    if (text.empty()) { *err = "empty duration"; return false; }
    while (i < text.size()) {
        size_t start = i;
        bool dot = false;
        while (i < text.size() && (isdigit((unsigned char)text[i]) || (text[i] == '.' && !dot))) dot |= text[i++] == '.';
        if (i == start || (i - start == 1 && dot)) { *err = "expected a number at '" + text.substr(start) + "'"; return false; }
        if (i == text.size()) { *err = "'" + text + "' needs a unit after " + text.substr(start) + " (h, m or s)"; return false; }
        const char* u = strchr(units, text[i]);
        if (!u || text[i] == '\0') { *err = std::string("unknown unit '") + text[i] + "' (use h, m or s)"; return false; }
        int k = (int)(u - units);
        if (k < next_unit) { *err = "units must come in the order h, m, s, each once"; return false; }
        total += atof(text.substr(start, i - start).c_str()) * scale[k];
        next_unit = k + 1;
        i++;
    }
    if (!(total > 0)) { *err = "duration must be more than 0"; return false; }
    *seconds = total;
    return true;
}

struct TimeBudget {
    double budget_s = 0;    // 0: no budget, the step count (-x) decides
    int cap = 0;            // most steps: -x (with --time, only when -x was given)
    double prior_s = 0;     // budget time the checkpoint this run resumes had used
    int start_step = 0;     // the step this process started at
    double start_ms = -1;   // wall clock (ms) when this process's training loop began (its first eval included)
    int total = 0;          // the latest estimate of the run's steps
};

// The rule above, as a pure function: elapsed_s is this process's time since
// its training loop began, steps_done the optimizer steps completed in the run.
inline int budget_total_steps(const TimeBudget& b, int steps_done, double elapsed_s) {
    if (b.budget_s <= 0) return b.cap;
    double left = b.budget_s - b.prior_s - elapsed_s;
    if (left <= 0) return steps_done;
    int timed = steps_done - b.start_step;
    if (timed <= 0) return b.cap;
    double mean = elapsed_s / timed;
    double more = floor(left / mean);
    return (int)std::min<double>(b.cap, steps_done + more);
}
