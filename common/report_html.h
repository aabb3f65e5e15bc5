// common/report_html.h: the run report, <out>/report.html: one self-contained
// page (inline SVG and CSS, no scripts, nothing fetched) drawn from log.jsonl:
// train and val loss and val bits/byte against step and against wall-clock
// time, the learning rate, throughput, the run's config and its last sample.
// Several logs overlay in one page for comparison (build/report).
//
// Every plotted line carries its values: each <polyline class="series"> has
// data-x and data-y (the values, %.17g, space-separated) and lies in a
// <g class="plot"> whose data-box (x, y, width, height in pixels) and
// data-range (xmin xmax ymin ymax) map its points back to values:
//   x = xmin + (px - box.x) / box.w * (xmax - xmin)
//   y = ymin + (box.y + box.h - py) / box.h * (ymax - ymin)
#pragma once
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../tokenizer/json.h"
#include "args.h"
#include "logger.h"
#include "report.h"
#include "util.h"

// ---- reading log.jsonl -------------------------------------------------------

// One field of a log line: a number, a string, a boolean or a nested object
// (the config line); null reads as a missing number.
struct JsonField {
    std::string key;
    enum Kind { NUMBER, STRING, BOOL, OBJECT, NONE } kind = NONE;
    double number = 0.0;
    std::string text;
    std::vector<JsonField> object;
};

inline bool json_parse_object(std::string_view s, size_t* pos, std::vector<JsonField>* out, int depth = 8) {
    if (depth <= 0) return false;
    json_skip_ws(s, pos);
    if (*pos >= s.size() || s[*pos] != '{') return false;
    (*pos)++;
    json_skip_ws(s, pos);
    if (*pos < s.size() && s[*pos] == '}') { (*pos)++; return true; }
    while (true) {
        JsonField f;
        json_skip_ws(s, pos);
        if (!json_parse_string(s, pos, &f.key)) return false;
        json_skip_ws(s, pos);
        if (*pos >= s.size() || s[*pos] != ':') return false;
        (*pos)++;
        json_skip_ws(s, pos);
        if (*pos >= s.size()) return false;
        char c = s[*pos];
        if (c == '"') {
            f.kind = JsonField::STRING;
            if (!json_parse_string(s, pos, &f.text)) return false;
        } else if (c == '{') {
            f.kind = JsonField::OBJECT;
            if (!json_parse_object(s, pos, &f.object, depth - 1)) return false;
        } else if (s.compare(*pos, 4, "true") == 0 || s.compare(*pos, 5, "false") == 0) {
            f.kind = JsonField::BOOL;
            f.number = c == 't';
            *pos += c == 't' ? 4 : 5;
        } else if (s.compare(*pos, 4, "null") == 0) {
            *pos += 4;
        } else {
            std::string num;
            while (*pos < s.size() && strchr("0123456789+-.eE", s[*pos]) && s[*pos] != '\0') num += s[(*pos)++];
            char* end = nullptr;
            f.number = strtod(num.c_str(), &end);
            if (num.empty() || *end != '\0') return false;
            f.kind = JsonField::NUMBER;
        }
        out->push_back(std::move(f));
        json_skip_ws(s, pos);
        if (*pos < s.size() && s[*pos] == ',') { (*pos)++; continue; }
        if (*pos < s.size() && s[*pos] == '}') { (*pos)++; return true; }
        return false;
    }
}

inline const JsonField* json_find(const std::vector<JsonField>& obj, const char* key) {
    for (const JsonField& f : obj)
        if (f.key == key) return &f;
    return nullptr;
}

inline double json_number(const std::vector<JsonField>& obj, const char* key, double fallback) {
    const JsonField* f = json_find(obj, key);
    return f && f->kind == JsonField::NUMBER ? f->number : fallback;
}

struct StepPoint { int step; double time_s, loss, lr, norm, tok_s; };
struct EvalPoint { int step; double time_s, loss, bpb; };  // bpb < 0: none
struct SamplePoint { int step; std::string text; };

// What one log holds, after its last fresh start (see runlog_read).
struct RunLog {
    std::string name;                                          // the log's directory
    std::vector<std::pair<std::string, std::string>> config;   // key, value as text
    std::vector<StepPoint> steps;
    std::vector<EvalPoint> evals;
    std::vector<SamplePoint> samples;
};

// Wall-clock seconds of training at the end of `step` (0 before the first).
inline double runlog_time_at(const RunLog& run, int step) {
    double t = 0.0;
    for (const StepPoint& p : run.steps)
        if (p.step <= step) t = p.time_s;
    return t;
}

// Reads a log.jsonl. A config line starts a run segment: one that starts at
// step 0 (a fresh run in a reused directory) drops everything before it, one
// that resumes at step S drops the records after S (the resumed run redoes
// them). Steps without "time_s" (older logs) get the running sum of "ms".
// A segment resumed without --time ("prior_time_s" 0) restarts its clock, so
// its times are shifted to continue from the segment before.
// False with *err naming the line on malformed input.
inline bool runlog_read(const std::string& path, RunLog* run, std::string* err) {
    *run = RunLog();
    std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
    run->name = dir.empty() ? path : dir;
    FILE* f = fopen(path.c_str(), "rb");
    if (!f) { *err = "cannot open " + path + ": " + strerror(errno); return false; }
    std::string line;
    int lineno = 0;
    double ms_sum = 0.0, time_offset = 0.0;
    bool ok = true;
    auto handle = [&](const std::string& text) {
        lineno++;
        std::vector<JsonField> obj;
        size_t pos = 0;
        if (!json_parse_object(text, &pos, &obj) || (json_skip_ws(text, &pos), pos != text.size())) {
            *err = path + ": line " + std::to_string(lineno) + " is not a JSON object";
            return false;
        }
        const JsonField* config = json_find(obj, "config");
        if (config && config->kind == JsonField::OBJECT) {
            int start = (int)json_number(config->object, "start_step", 0);
            if (start == 0) { std::string name = run->name; *run = RunLog(); run->name = name; }
            auto after = [start](int step) { return step > start; };
            while (!run->steps.empty() && after(run->steps.back().step)) run->steps.pop_back();
            while (!run->evals.empty() && after(run->evals.back().step)) run->evals.pop_back();
            while (!run->samples.empty() && after(run->samples.back().step)) run->samples.pop_back();
            ms_sum = run->steps.empty() ? 0.0 : run->steps.back().time_s * 1e3;
            // a resumed run without --time restarts its clock at 0: continue the axis where the log left it
            time_offset = start > 0 && json_number(config->object, "prior_time_s", 0.0) == 0.0 ? ms_sum / 1e3 : 0.0;
            run->config.clear();
            for (const JsonField& c : config->object) {
                char buf[64];
                if (c.kind == JsonField::NUMBER) snprintf(buf, sizeof buf, "%.10g", c.number);
                run->config.push_back({c.key, c.kind == JsonField::STRING ? c.text
                                               : c.kind == JsonField::BOOL ? (c.number ? "on" : "off")
                                               : c.kind == JsonField::NUMBER ? std::string(buf) : std::string("")});
            }
            return true;
        }
        int step = (int)json_number(obj, "step", -1);
        if (step < 0) return true;  // a record of a kind the report does not draw
        if (json_find(obj, "loss")) {
            double ms = json_number(obj, "ms", 0.0);
            ms_sum += ms;
            const JsonField* t = json_find(obj, "time_s");
            double time_s = t && t->kind == JsonField::NUMBER ? t->number + time_offset : ms_sum / 1e3;
            run->steps.push_back({step, time_s, json_number(obj, "loss", NAN), json_number(obj, "lr", NAN),
                                  json_number(obj, "norm", NAN), json_number(obj, "tok_s", NAN)});
        } else if (json_find(obj, "val_loss")) {
            run->evals.push_back({step, runlog_time_at(*run, step), json_number(obj, "val_loss", NAN),
                                  json_number(obj, "val_bpb", -1.0)});
        } else if (const JsonField* s = json_find(obj, "sample")) {
            run->samples.push_back({step, s->text});
        }
        return true;
    };
    int c;
    while (ok && (c = fgetc(f)) != EOF) {
        if (c == '\n') { if (!line.empty()) ok = handle(line); line.clear(); }
        else line += (char)c;
    }
    if (ok && !line.empty()) ok = handle(line);
    fclose(f);
    return ok;
}

// ---- drawing ----------------------------------------------------------------

inline std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

inline std::string fmt(const char* f, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, f, v);
    return buf;
}

// 42.5s, 4m05s, 1h02m
inline std::string format_duration(double s) {
    char buf[32];
    int whole = (int)s;
    if (s < 60) snprintf(buf, sizeof buf, "%.1fs", s);
    else if (s < 3600) snprintf(buf, sizeof buf, "%dm%02ds", whole / 60, whole % 60);
    else snprintf(buf, sizeof buf, "%dh%02dm", whole / 3600, whole / 60 % 60);
    return buf;
}

// One run's colour; series of the same run share it (train solid, val dashed).
inline const char* run_color(int run) {
    static const char* colors[] = {"#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"};
    return colors[run % 8];
}

struct Series {
    std::string label;
    int run;
    bool dashed;  // validation
    std::vector<double> x, y;
};

// A tick spacing of 1, 2 or 5 times a power of ten giving about `target` ticks.
inline double nice_tick(double range, int target) {
    double raw = range / target;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

// A tick label: plain for ordinary magnitudes, 8e-4 style for tiny or huge ones.
inline std::string tick_label(double v, double tick) {
    if (fabs(v) < 1e-9 * tick) return "0";
    if (fabs(v) >= 1e-2 && fabs(v) < 1e5) return fmt("%g", v);
    std::string t = fmt("%.1e", v);               // 8.0e-04
    size_t e = t.find('e');
    std::string mant = t.substr(0, e), ex = t.substr(e + 1);
    if (mant.size() > 2 && mant.compare(mant.size() - 2, 2, ".0") == 0) mant.resize(mant.size() - 2);
    int exponent = atoi(ex.c_str());
    return mant + "e" + std::to_string(exponent);
}

// One chart: a titled SVG with axes, ticks, the series and a legend.
inline std::string svg_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                             const std::vector<Series>& series) {
    const double W = 540, H = 300, left = 62, right = 14, top = 30, bottom = 42;
    const double pw = W - left - right, ph = H - top - bottom;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (const Series& s : series)
        for (size_t i = 0; i < s.x.size(); i++) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            xmin = std::min(xmin, s.x[i]); xmax = std::max(xmax, s.x[i]);
            ymin = std::min(ymin, s.y[i]); ymax = std::max(ymax, s.y[i]);
        }
    std::string svg = "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + fmt("%g", W) +
                      " " + fmt("%g", H) + "\" width=\"" + fmt("%g", W) + "\" height=\"" + fmt("%g", H) + "\">\n";
    svg += "<text class=\"title\" x=\"" + fmt("%g", left) + "\" y=\"18\">" + html_escape(title) + "</text>\n";
    if (!std::isfinite(xmin)) {
        svg += "<text class=\"empty\" x=\"" + fmt("%g", W / 2) + "\" y=\"" + fmt("%g", H / 2) + "\">no data yet</text>";
        return svg + "</svg></figure>\n";
    }
    // the x axis starts at 0 when the data starts near it; y gets 5% air
    if (xmin > 0 && xmin < 0.2 * xmax) xmin = 0;
    if (xmax <= xmin) xmax = xmin + 1;
    if (ymax <= ymin) { double d = ymin != 0 ? fabs(ymin) * 0.1 : 1; ymin -= d; ymax += d; }
    double pad = 0.05 * (ymax - ymin);
    ymin -= pad; ymax += pad;
    if (ymin < 0 && ymin + pad >= 0) ymin = 0;  // values that are never negative stay above the axis
    auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * pw; };
    auto py = [&](double y) { return top + ph - (y - ymin) / (ymax - ymin) * ph; };

    svg += "<rect class=\"frame\" x=\"" + fmt("%g", left) + "\" y=\"" + fmt("%g", top) + "\" width=\"" + fmt("%g", pw) +
           "\" height=\"" + fmt("%g", ph) + "\"/>\n";
    double xt = nice_tick(xmax - xmin, 6), yt = nice_tick(ymax - ymin, 5);
    for (double v = ceil(xmin / xt) * xt; v <= xmax + 1e-9 * xt; v += xt) {
        std::string X = fmt("%.1f", px(v));
        svg += "<line class=\"grid\" x1=\"" + X + "\" x2=\"" + X + "\" y1=\"" + fmt("%g", top) + "\" y2=\"" +
               fmt("%g", top + ph) + "\"/><text class=\"tick\" x=\"" + X + "\" y=\"" + fmt("%g", top + ph + 15) +
               "\" text-anchor=\"middle\">" + tick_label(v, xt) + "</text>\n";
    }
    for (double v = ceil(ymin / yt) * yt; v <= ymax + 1e-9 * yt; v += yt) {
        std::string Y = fmt("%.1f", py(v));
        svg += "<line class=\"grid\" x1=\"" + fmt("%g", left) + "\" x2=\"" + fmt("%g", left + pw) + "\" y1=\"" + Y +
               "\" y2=\"" + Y + "\"/><text class=\"tick\" x=\"" + fmt("%g", left - 6) + "\" y=\"" + Y +
               "\" dy=\"4\" text-anchor=\"end\">" + tick_label(v, yt) + "</text>\n";
    }
    svg += "<text class=\"label\" x=\"" + fmt("%g", left + pw / 2) + "\" y=\"" + fmt("%g", H - 6) +
           "\" text-anchor=\"middle\">" + html_escape(xlabel) + "</text>\n";
    svg += "<text class=\"label\" transform=\"translate(14 " + fmt("%g", top + ph / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(ylabel) + "</text>\n";

    svg += "<g class=\"plot\" data-box=\"" + fmt("%g", left) + " " + fmt("%g", top) + " " + fmt("%g", pw) + " " +
           fmt("%g", ph) + "\" data-range=\"" + fmt("%.17g", xmin) + " " + fmt("%.17g", xmax) + " " + fmt("%.17g", ymin) +
           " " + fmt("%.17g", ymax) + "\">\n";
    for (const Series& s : series) {
        std::string xs, ys, pts;
        for (size_t i = 0; i < s.x.size(); i++) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            if (!xs.empty()) { xs += ' '; ys += ' '; pts += ' '; }
            xs += fmt("%.17g", s.x[i]);
            ys += fmt("%.17g", s.y[i]);
            pts += fmt("%.2f", px(s.x[i])) + "," + fmt("%.2f", py(s.y[i]));
        }
        svg += "<polyline class=\"series" + std::string(s.dashed ? " val" : "") + "\" stroke=\"" + run_color(s.run) +
               "\" data-label=\"" + html_escape(s.label) + "\" data-x=\"" + xs + "\" data-y=\"" + ys + "\" points=\"" +
               pts + "\"/>\n";
        // validation points are few: mark each one
        if (s.dashed && s.x.size() <= 60)
            for (size_t i = 0; i < s.x.size(); i++)
                if (std::isfinite(s.y[i]))
                    svg += "<circle cx=\"" + fmt("%.2f", px(s.x[i])) + "\" cy=\"" + fmt("%.2f", py(s.y[i])) +
                           "\" r=\"2.6\" fill=\"" + run_color(s.run) + "\"/>";
    }
    svg += "</g>\n";
    // legend, top right inside the plot
    double ly = top + 14;
    for (const Series& s : series) {
        double lx = left + pw - 8;
        svg += "<text class=\"legend\" x=\"" + fmt("%g", lx - 26) + "\" y=\"" + fmt("%g", ly) + "\" dy=\"4\" text-anchor=\"end\">" +
               html_escape(s.label) + "</text><line x1=\"" + fmt("%g", lx - 20) + "\" x2=\"" + fmt("%g", lx) + "\" y1=\"" +
               fmt("%g", ly) + "\" y2=\"" + fmt("%g", ly) + "\" stroke=\"" + run_color(s.run) + "\" stroke-width=\"2\"" +
               (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>\n";
        ly += 15;
    }
    return svg + "</svg></figure>\n";
}

// Time axes read in seconds up to 3 minutes, then in minutes.
inline double time_scale(const std::vector<RunLog>& runs, std::string* unit) {
    double tmax = 0;
    for (const RunLog& r : runs)
        if (!r.steps.empty()) tmax = std::max(tmax, r.steps.back().time_s);
    *unit = tmax > 180 ? "min" : "s";
    return tmax > 180 ? 1.0 / 60 : 1.0;
}

inline std::string report_html(const std::vector<RunLog>& runs) {
    bool many = runs.size() > 1;
    auto label = [&](const RunLog& r, const char* what) { return many ? r.name + ": " + what : std::string(what); };
    std::string unit;
    double ts = time_scale(runs, &unit);
    std::string time_label = "wall-clock training time (" + unit + ")";

    // loss, bits/byte, lr, throughput: by step, and the first two by time
    std::vector<Series> loss_step, loss_time, bpb_step, bpb_time, lr_step, toks_step;
    for (size_t k = 0; k < runs.size(); k++) {
        const RunLog& r = runs[k];
        int run = (int)k;
        Series ls{label(r, "train"), run, false, {}, {}}, lt = ls, lrs{label(r, "lr"), run, false, {}, {}},
               tk{label(r, "tok/s"), run, false, {}, {}};
        for (const StepPoint& p : r.steps) {
            ls.x.push_back(p.step); ls.y.push_back(p.loss);
            lt.x.push_back(p.time_s * ts); lt.y.push_back(p.loss);
            lrs.x.push_back(p.step); lrs.y.push_back(p.lr);
            tk.x.push_back(p.step); tk.y.push_back(p.tok_s);
        }
        Series vs{label(r, "val"), run, true, {}, {}}, vt = vs, bs{label(r, "val bits/byte"), run, true, {}, {}}, bt = bs;
        for (const EvalPoint& e : r.evals) {
            vs.x.push_back(e.step); vs.y.push_back(e.loss);
            vt.x.push_back(e.time_s * ts); vt.y.push_back(e.loss);
            if (e.bpb >= 0) {
                bs.x.push_back(e.step); bs.y.push_back(e.bpb);
                bt.x.push_back(e.time_s * ts); bt.y.push_back(e.bpb);
            }
        }
        loss_step.push_back(ls); loss_step.push_back(vs);
        loss_time.push_back(lt); loss_time.push_back(vt);
        if (!bs.x.empty()) { bpb_step.push_back(bs); bpb_time.push_back(bt); }
        lr_step.push_back(lrs);
        toks_step.push_back(tk);
    }

    std::string h =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>run report: ";
    for (size_t k = 0; k < runs.size(); k++) h += (k ? ", " : "") + html_escape(runs[k].name);
    h += "</title>\n<style>\n"
         "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2937;background:#f8fafc;"
         "margin:0;padding:24px 32px;max-width:1140px}\n"
         "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 10px;color:#374151}h3{font-size:14px;margin:12px 0 4px}\n"
         ".sub{color:#6b7280;margin-bottom:18px}\n"
         ".cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;"
         "padding:10px 14px;min-width:120px}.card b{display:block;font-size:20px}.card span{color:#6b7280;font-size:12px}\n"
         ".run{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}\n"
         ".charts{display:grid;grid-template-columns:repeat(2,540px);gap:16px}\n"
         "figure.chart{margin:0;background:#fff;border:1px solid #e5e7eb;border-radius:8px}\n"
         "svg text{font-family:system-ui,sans-serif}.title{font-size:13px;font-weight:600;fill:#111827}\n"
         ".tick{font-size:11px;fill:#6b7280}.label{font-size:12px;fill:#374151}.legend{font-size:11px;fill:#374151}\n"
         ".empty{font-size:13px;fill:#9ca3af;text-anchor:middle}\n"
         ".frame{fill:none;stroke:#d1d5db}.grid{stroke:#f1f5f9}\n"
         "polyline.series{fill:none;stroke-width:1.6;stroke-linejoin:round}polyline.val{stroke-dasharray:5 3;stroke-width:2}\n"
         ".tables{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}\n"
         "table{border-collapse:collapse;background:#fff;font-size:13px}td,th{border:1px solid #e5e7eb;padding:3px 10px;"
         "text-align:left}th{background:#f3f4f6}td.diff{background:#fef9c3}\n"
         "pre{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;white-space:pre-wrap;"
         "font:13px/1.5 ui-monospace,Menlo,Consolas,monospace}\n"
         "</style></head><body>\n";
    h += "<h1>Run report</h1>\n<div class=\"sub\">";
    for (size_t k = 0; k < runs.size(); k++)
        h += std::string(k ? " &nbsp; " : "") + "<span class=\"run\" style=\"background:" + run_color((int)k) +
             "\"></span>" + html_escape(runs[k].name);
    h += "</div>\n";

    // headline figures per run
    for (size_t k = 0; k < runs.size(); k++) {
        const RunLog& r = runs[k];
        h += "<div class=\"cards\">";
        auto card = [&](const std::string& value, const char* what) {
            h += "<div class=\"card\"><b>" + value + "</b><span>" + what + "</span></div>";
        };
        if (many) h += "<div class=\"card\"><b><span class=\"run\" style=\"background:" + std::string(run_color((int)k)) +
                       "\"></span></b><span>" + html_escape(r.name) + "</span></div>";
        card(r.steps.empty() ? "-" : std::to_string(r.steps.back().step), "steps");
        double t = r.steps.empty() ? 0 : r.steps.back().time_s;
        card(format_duration(t), "training time");
        card(r.evals.empty() ? "-" : fmt("%.4f", r.evals.back().loss), "last val loss");
        card(r.evals.empty() || r.evals.back().bpb < 0 ? "-" : fmt("%.4f", r.evals.back().bpb), "last val bits/byte");
        double tok_sum = 0; int n = 0;
        for (const StepPoint& p : r.steps) if (p.step > r.steps.front().step && std::isfinite(p.tok_s)) { tok_sum += p.tok_s; n++; }
        card(n ? fmt("%.0f", tok_sum / n) : "-", "mean tok/s");
        h += "</div>\n";
        if (k + 1 < runs.size()) h += "<div style=\"height:8px\"></div>";
    }

    h += "<h2>Curves</h2>\n<div class=\"charts\">\n";
    h += svg_chart("Loss by step", "step", "loss (nats/token)", loss_step);
    h += svg_chart("Loss by time", time_label, "loss (nats/token)", loss_time);
    h += svg_chart("Validation bits/byte by step", "step", "bits/byte", bpb_step);
    h += svg_chart("Validation bits/byte by time", time_label, "bits/byte", bpb_time);
    h += svg_chart("Learning rate", "step", "learning rate", lr_step);
    h += svg_chart("Throughput", "step", "tokens/s", toks_step);
    h += "</div>\n";

    // config: one column per run, values that differ between runs marked; a
    // single run's long list flows into three tables side by side
    std::vector<std::string> keys;
    for (const RunLog& r : runs)
        for (const auto& kv : r.config)
            if (std::find(keys.begin(), keys.end(), kv.first) == keys.end()) keys.push_back(kv.first);
    h += "<h2>Config</h2>\n<div class=\"tables\">";
    if (keys.empty()) h += "<p>no config line in the log</p>";
    size_t parts = many ? 1 : 3, per = (keys.size() + parts - 1) / parts;
    for (size_t begin = 0; begin < keys.size(); begin += per) {
        h += "<table><tr><th>setting</th>";
        for (const RunLog& r : runs) h += "<th>" + html_escape(many ? r.name : "value") + "</th>";
        h += "</tr>\n";
        for (size_t i = begin; i < std::min(keys.size(), begin + per); i++) {
            std::vector<std::string> vals;
            for (const RunLog& r : runs) {
                std::string v;
                for (const auto& kv : r.config) if (kv.first == keys[i]) v = kv.second;
                vals.push_back(v);
            }
            bool differs = std::find_if(vals.begin(), vals.end(), [&](const std::string& v) { return v != vals[0]; }) != vals.end();
            h += "<tr><td>" + html_escape(keys[i]) + "</td>";
            for (const std::string& v : vals) h += std::string(differs ? "<td class=\"diff\">" : "<td>") + html_escape(v) + "</td>";
            h += "</tr>\n";
        }
        h += "</table>\n";
    }
    h += "</div>\n";

    h += "<h2>Last sample</h2>\n";
    for (const RunLog& r : runs) {
        if (many) h += "<h3>" + html_escape(r.name) + "</h3>";
        if (r.samples.empty()) h += "<pre class=\"sample\">(no sample in the log)</pre>\n";
        else h += "<div class=\"sub\">step " + std::to_string(r.samples.back().step) + "</div><pre class=\"sample\">" +
                  html_escape(r.samples.back().text) + "</pre>\n";
    }
    h += "</body></html>\n";
    return h;
}

// The trainers' hook: redraws <out_dir>/report.html from <out_dir>/log.jsonl.
// A log the report cannot read costs the report, not the run: a note, no exit.
inline void report_write(const std::string& out_dir) {
    RunLog run;
    std::string err;
    if (!runlog_read(out_dir + "/log.jsonl", &run, &err)) {
        printf("note: report not written: %s\n", err.c_str());
        return;
    }
    std::string html = report_html({run});
    write_file_atomic(out_dir + "/report.html", [&](FILE* f, const char* tmp) { fwrite_check(html.data(), 1, html.size(), f, tmp); });
}

// ---- the config line ----------------------------------------------------------

inline std::string json_string(const std::string& s) { return "\"" + json_escape(s) + "\""; }

// Writes {"config": {...}} to the log at the start of every run: each flag's
// value (after parsing: the defaults included) and the facts the trainer adds
// (model size, tokens per step, where it starts), as JSON literals.
inline void report_config(Logger* log, const char* trainer, const std::vector<ArgSpec>& specs,
                          const std::vector<std::pair<std::string, std::string>>& facts) {
    std::string line = "{\"config\": {\"trainer\": \"" + json_escape(trainer) + "\"";
    for (const auto& kv : facts) line += ", \"" + json_escape(kv.first) + "\": " + kv.second;
    for (const ArgSpec& a : specs) {
        if (!a.long_name) continue;
        std::string key = a.long_name + 2;
        std::string value;
        switch (a.type) {
            case ARG_INT:  // -x under --time without a cap reads as what it means
                value = *(int*)a.value >= BUDGET_NO_CAP ? "\"no cap (--time)\"" : std::to_string(*(int*)a.value);
                break;
            case ARG_FLOAT: value = std::isfinite(*(float*)a.value) ? fmt("%.7g", *(float*)a.value) : "null"; break;
            case ARG_BOOL: value = *(bool*)a.value ? "true" : "false"; break;
            case ARG_STRING: value = "\"" + json_escape(*(std::string*)a.value) + "\""; break;
        }
        line += ", \"" + json_escape(key) + "\": " + value;
    }
    logger_write(log, line + "}}");
}
