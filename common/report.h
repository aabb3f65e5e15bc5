// common/report.h: what a trainer prints and logs: one line per step, one per
// evaluation, the samples; each both on stdout and as a JSON line in log.jsonl.
#pragma once
#include <sys/time.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>

#include "logger.h"
#include "schedule.h"

inline double now_ms() {
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    return tv.tv_sec * 1e3 + tv.tv_usec * 1e-3;
}

// Length of the well-formed UTF-8 sequence at s[0..n), or 0 if there is none;
// then *bad is the length of its longest valid-looking prefix (at least 1),
// which is what one U+FFFD replaces (Unicode's "maximal subpart" rule, the
// same as Python's errors="replace"). Overlong forms, surrogates (ED A0..BF)
// and code points above U+10FFFF are not well-formed.
inline size_t utf8_sequence_length(const unsigned char* s, size_t n, size_t* bad) {
    unsigned char c = s[0];
    *bad = 1;
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;        // below: overlong
        if (c == 0xED) hi = 0x9F;        // above: surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;        // below: overlong
        if (c == 0xF4) hi = 0x8F;        // above: past U+10FFFF
    } else return 0;                     // stray continuation byte, C0/C1 (overlong) or F5..FF
    for (size_t k = 1; k < len; k++) {
        unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
        if (k >= n || s[k] < lo_k || s[k] > hi_k) return 0;
        *bad = k + 1;
    }
    return len;
}

// A JSON string body: quotes, backslashes and control characters escaped, and
// every ill-formed UTF-8 sequence replaced by U+FFFD, so each log line parses
// even when a sample decodes to bytes that are not text (a token can end in
// the middle of a character).
inline std::string json_escape(const std::string& s) {
    std::string out;
    const unsigned char* p = (const unsigned char*)s.data();
    size_t n = s.size();
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        size_t bad;
        size_t len = utf8_sequence_length(p + i, n - i, &bad);
        if (len == 0) {
            out += "\\ufffd";  // escaped, so the log stays ASCII where the text was not UTF-8
            i += bad;
        } else if (len > 1) {
            out.append(s, i, len);
            i += len;
        } else {
            if (ch == '"' || ch == '\\') { out += '\\'; out += (char)ch; }
            else if (ch == '\n') out += "\\n";
            else if (ch < 0x20) { char buf[8]; snprintf(buf, sizeof buf, "\\u%04x", ch); out += buf; }
            else out += (char)ch;
            i++;
        }
    }
    return out;
}

struct StepStats {
    int step, max_steps;     // step is 1-based: steps completed
    double loss;
    float lr, norm;
    double ms;               // this step's wall time
    double avg_ms;           // average step time so far, for the ETA
    int tokens;              // tokens per step
    double flops;            // FLOPs per step, for MFU
    float peak_gflops;
    double time_s = -1;      // wall-clock seconds of training so far (resumed runs included); < 0: not logged
};

inline void report_step(Logger* log, const StepStats& s) {
    double tok_s = s.tokens / (s.ms / 1e3);
    double mfu = s.flops / (s.ms / 1e3) / (s.peak_gflops * 1e9);
    double eta_s = s.avg_ms * (s.max_steps - s.step) / 1e3;
    // a --time run knows its step count only once steps have been timed
    std::string of = s.max_steps >= BUDGET_NO_CAP ? "?" : std::to_string(s.max_steps);
    if (s.max_steps >= BUDGET_NO_CAP) eta_s = 0;
    printf("step %5d/%s | loss %.4f | lr %.2e | norm %.3f | %.0f ms | %.0f tok/s | MFU %.1f%% | ETA %dm%02ds\n",
           s.step, of.c_str(), s.loss, s.lr, s.norm, s.ms, tok_s, 100 * mfu, (int)eta_s / 60, (int)eta_s % 60);
    fflush(stdout);
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"step\": %d, \"loss\": %.6f, \"lr\": %.6e, \"norm\": %.6f, \"ms\": %.2f, \"tok_s\": %.1f, \"mfu\": %.4f",
             s.step, s.loss, s.lr, s.norm, s.ms, tok_s, mfu);
    std::string line = buf;
    if (s.time_s >= 0) {
        snprintf(buf, sizeof buf, ", \"time_s\": %.3f", s.time_s);
        line += buf;
    }
    logger_write(log, line + "}");
}

// bpb < 0 means no tokenizer: loss only.
inline void report_eval(Logger* log, int step, float loss, float bpb) {
    char buf[256];
    if (bpb >= 0) {
        printf("step %d | val loss %.4f | val ppl %.2f | val bits/byte %.4f\n", step, loss, exp(loss), bpb);
        snprintf(buf, sizeof buf, "{\"step\": %d, \"val_loss\": %.6f, \"val_bpb\": %.6f}", step, loss, bpb);
    } else {
        printf("step %d | val loss %.4f | val ppl %.2f\n", step, loss, exp(loss));
        snprintf(buf, sizeof buf, "{\"step\": %d, \"val_loss\": %.6f}", step, loss);
    }
    fflush(stdout);
    logger_write(log, buf);
}

inline void report_sample(Logger* log, int step, const std::string& text, float temperature, int top_k) {
    printf("--- sample at step %d (temperature %g, top-k %d) ---\n%s\n---\n", step, temperature, top_k, text.c_str());
    fflush(stdout);
    logger_write(log, "{\"step\": " + std::to_string(step) + ", \"sample\": \"" + json_escape(text) + "\"}");
}
