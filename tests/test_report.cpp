// tests/test_report.cpp: what a run leaves behind for a person to read: the
// log (every line valid UTF-8 JSON, whatever a sample decodes to), the flags a
// trainer refuses, the wall-clock budget (--time) and the HTML run report.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../common/report.h"
#include "../common/report_html.h"
#include "../common/schedule.h"
#include "../common/shard.h"
#include "../common/trainer.h"
#include "../tokenizer/json.h"
#include "test_util.h"

// ----------------------------------------------------------------------------
// Helpers

// Strict UTF-8 check written from the definition (decode, then reject
// overlong forms, surrogates and code points past U+10FFFF), independent of
// utf8_sequence_length so the two can disagree if either is wrong.
static bool utf8_valid(const std::string& s) {
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n) return false;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (int k = 1; k < len; k++) {
            unsigned char d = (unsigned char)s[i + k];
            if ((d >> 6) != 2) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

// True if `line` is exactly one JSON object and valid UTF-8.
static bool json_line_ok(const std::string& line) {
    size_t pos = 0;
    json_skip_ws(line, &pos);
    if (pos >= line.size() || line[pos] != '{') return false;
    if (!json_skip_value(line, &pos)) return false;
    json_skip_ws(line, &pos);
    return pos == line.size() && utf8_valid(line);
}

static std::vector<std::string> read_lines(const std::string& path) {
    std::vector<char> bytes = read_all_bytes(path);
    std::vector<std::string> lines;
    std::string cur;
    for (char c : bytes) {
        if (c == '\n') { lines.push_back(cur); cur.clear(); }
        else cur += c;
    }
    if (!cur.empty()) lines.push_back(cur);
    return lines;
}

static std::string read_text(const std::string& path) {
    std::vector<char> bytes = read_all_bytes(path);
    return std::string(bytes.begin(), bytes.end());
}

static bool has(const std::string& out, const std::string& text) {
    INFO("looking for: " << text << "\nin: " << out);
    return out.find(text) != std::string::npos;
}

// The tiny Llama of tests/test_llama.cpp; passive OpenMP waits keep it fast on a loaded machine.
static const std::string LLAMA = "OMP_WAIT_POLICY=passive ./train_llama";
static const std::string GPT2 = "OMP_WAIT_POLICY=passive ./train_gpt2";
static const char* TINY = " --vocab 64 --dim 32 --layers 2 --heads 4 --kv-heads 2 --hidden 48 --seq-len 16 -b 4 -t 16";

struct TinyData {
    TempDir dir;
    std::string train, val;
    TinyData() {
        train = dir / "train_000000.bin";
        val = dir / "val_000000.bin";
        for (auto [path, n] : {std::pair<std::string, size_t>{train, 4000}, {val, 1000}}) {
            std::vector<uint32_t> tok(n);
            for (size_t i = 0; i < n; i++) tok[i] = (uint32_t)((i * 7 + i / 13) % 64);
            write_shard(path, tok, 64);
        }
    }
    std::string flags() const { return std::string(TINY) + " -i " + train + " -j " + val + " -z \"\""; }
};

// An llm.c-format tokenizer (decode-only) of 64 tokens, most of them pieces of
// characters: a sample from any model over it decodes to ill-formed UTF-8.
static void write_broken_tokenizer(const std::string& path) {
    const char* pieces[] = {"\xE2\x82", "\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF0\x9F\x98", "\xFF",
                            "\xE2\x82\xAC", "\"", "\\", "\n", "a", " b"};
    const int V = 64, eot = 63;
    std::vector<uint8_t> data(1024, 0);
    uint32_t header[4] = {20240328, 2, (uint32_t)V, (uint32_t)eot};
    memcpy(data.data(), header, sizeof header);
    for (int id = 0; id < V; id++) {
        std::string t = id == eot ? "<|endoftext|>" : pieces[id % (sizeof pieces / sizeof pieces[0])];
        data.push_back((uint8_t)t.size());
        data.insert(data.end(), t.begin(), t.end());
    }
    write_all_bytes(path, data.data(), data.size());
}

// ----------------------------------------------------------------------------
// 1. log.jsonl is valid UTF-8 JSON whatever the sample decodes to

TEST_CASE("json_escape replaces ill-formed UTF-8 with U+FFFD, like Python's errors='replace'", "[report][utf8]") {
    // expected values from Python: bytes.decode("utf-8", "replace")
    CHECK(json_escape("The cat \xE2\x82") == "The cat \\ufffd");               // ends mid-character
    CHECK(json_escape("a\x80" "b") == "a\\ufffdb");                           // stray continuation byte
    CHECK(json_escape("\xC0\xAF") == "\\ufffd\\ufffd");                       // overlong '/'
    CHECK(json_escape("\xE0\x80\xAF") == "\\ufffd\\ufffd\\ufffd");            // overlong, 3 bytes
    CHECK(json_escape("\xED\xA0\x80") == "\\ufffd\\ufffd\\ufffd");            // a surrogate
    CHECK(json_escape("\xF0\x9F\x98") == "\\ufffd");                          // truncated 4-byte form
    CHECK(json_escape("\xF4\x90\x80\x80") == "\\ufffd\\ufffd\\ufffd\\ufffd"); // past U+10FFFF
    CHECK(json_escape("\xFF") == "\\ufffd");
    // well-formed text passes through; quotes, backslashes and controls are escaped
    CHECK(json_escape("\xE2\x82\xAC \xF0\x9F\x98\x80 \xC3\xA9") == "\xE2\x82\xAC \xF0\x9F\x98\x80 \xC3\xA9");
    CHECK(json_escape("say \"hi\"\\\n\t") == "say \\\"hi\\\"\\\\\\n\\u0009");
}

TEST_CASE("every byte string escapes to a JSON string that parses back to valid UTF-8", "[report][utf8]") {
    // all 1- and 2-byte strings, and 3-byte ones around the tricky lead bytes
    std::vector<std::string> inputs;
    for (int a = 0; a < 256; a++) {
        inputs.push_back(std::string(1, (char)a));
        for (int b = 0; b < 256; b++) inputs.push_back(std::string{(char)a, (char)b});
    }
    for (int a : {0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5})
        for (int b = 0x70; b < 0xC8; b++)
            for (int c : {0x41, 0x80, 0xBF, 0xC0}) inputs.push_back(std::string{(char)a, (char)b, (char)c});
    size_t failures = 0;
    for (const std::string& s : inputs) {
        std::string line = "{\"sample\": \"" + json_escape(s) + "\"}";
        std::string back, err;
        bool ok = json_line_ok(line) && json_get_string_field(line, "sample", &back, &err) && utf8_valid(back);
        // well-formed input comes back unchanged
        if (ok && utf8_valid(s) && back != s) ok = false;
        if (!ok) failures++;
    }
    CHECK(failures == 0);
}

TEST_CASE("a run whose sample decodes to ill-formed UTF-8 still writes a log where every line parses", "[report][utf8]") {
    TinyData data;
    TempDir out;
    write_broken_tokenizer(out / "broken_tok.bin");
    RunResult r = run_command(LLAMA + std::string(TINY) + " -i " + data.train + " -j " + data.val + " -z " +
                              (out / "broken_tok.bin") + " -x 2 -v 1 -m 1 -s 1 -g 64 --seed 3 -o " + (out / "run"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::vector<std::string> lines = read_lines(out / "run/log.jsonl");
    REQUIRE(!lines.empty());
    int samples = 0, replaced = 0;
    for (const std::string& line : lines) {
        INFO(line);
        CHECK(json_line_ok(line));
        if (line.find("\"sample\"") != std::string::npos) {
            samples++;
            if (line.find("\\ufffd") != std::string::npos) replaced++;
        }
    }
    CHECK(samples >= 1);
    CHECK(replaced >= 1);  // the broken pieces really were in a sample
}

// ----------------------------------------------------------------------------
// 2. Hyperparameters no run can mean are refused before anything is loaded

TEST_CASE("out-of-range and non-finite hyperparameters: clear message and exit status 1", "[report][errors]") {
    TinyData data;
    TempDir out;
    struct Bad {
        const char* args;
        const char* message;
    };
    const Bad cases[] = {
        {"--lr -1", "-l/--lr must be a finite number >= 0, got -1"},
        {"--lr nan", "-l/--lr must be a finite number >= 0, got nan"},
        {"--lr inf", "-l/--lr must be a finite number >= 0, got inf"},
        {"--beta1 2", "--beta1 must be in [0, 1), got 2"},
        {"--beta2 1", "--beta2 must be in [0, 1), got 1"},
        {"--eps 0", "--eps must be a finite number > 0, got 0"},
        {"--weight-decay -1", "-c/--weight-decay must be a finite number >= 0, got -1"},
        {"-c -inf", "-c/--weight-decay must be a finite number >= 0, got -inf"},
        {"--final-lr-frac 1.5", "-q/--final-lr-frac must be in [0, 1], got 1.5"},
        {"--decay-frac -0.1", "--decay-frac must be in [0, 1], got -0.1"},
        {"--grad-clip -1", "--grad-clip must be a finite number >= 0 (0 = off), got -1"},
        {"--temperature -0.5", "--temperature must be a finite number >= 0 (0 = greedy), got -0.5"},
        {"--temperature NaN", "--temperature must be a finite number >= 0 (0 = greedy), got nan"},
        {"--top-k -3", "--top-k must be at least 0, got -3"},
        {"--peak-gflops -2", "--peak-gflops must be a finite number >= 0 (0 = measure at start), got -2"},
        {"-b 0", "-b/--batch must be at least 1, got 0"},
        {"-t -4", "-t/--seq must be at least 0, got -4"},
        {"-d -64", "-d/--total-batch must be at least 0, got -64"},
        {"-x 0", "-x/--steps must be at least 1, got 0"},
        {"-u -1", "-u/--warmup must be at least 0, got -1"},
        {"-m 0", "-m/--val-batches must be at least 1, got 0"},
        {"-v -1", "-v/--val-every must be at least 0, got -1"},
        {"-g -1", "-g/--gen-tokens must be at least 0, got -1"},
        {"--schedule linear", "--schedule must be cosine or wsd, got 'linear'"},
    };
    for (const Bad& bad : cases) {
        for (const std::string& trainer : {LLAMA + data.flags(), GPT2 + " --model gpt2-tiny -b 4 -t 16"}) {
            RunResult r = run_command(trainer + " " + bad.args + " -o " + (out / "run"));
            INFO(trainer << " " << bad.args << "\n" << r.output);
            CHECK(r.status == 1);
            CHECK(has(r.output, std::string("error: ") + bad.message));
        }
    }
    // the edges of each range are accepted: they mean something
    RunResult r = run_command(LLAMA + data.flags() + " -x 1 -m 1 -l 0 -q 0 --decay-frac 1 -c 0 --beta1 0 --grad-clip 0 "
                              "--temperature 0 --top-k 0 -o " + (out / "edges"));
    INFO(r.output);
    CHECK(r.status == 0);
}

// ----------------------------------------------------------------------------
// 4. The run report: its plotted points are the log's values

// One <polyline class="series"> of the chart titled `title`, with its values,
// its pixel points mapped back through the plot's data-box and data-range.
struct PlottedSeries {
    bool found = false;
    std::vector<double> x, y;        // data-x, data-y
    std::vector<double> px_x, px_y;  // the points, mapped back to values
    double x_tol = 0, y_tol = 0;     // what 0.01 px of rounding is worth in values
};

static std::vector<double> numbers(const std::string& text) {
    std::vector<double> v;
    const char* p = text.c_str();
    char* end;
    while (true) {
        double d = strtod(p, &end);
        if (end == p) break;
        v.push_back(d);
        p = end;
        while (*p == ' ' || *p == ',') p++;
    }
    return v;
}

static std::string attribute(const std::string& tag, const std::string& name) {
    size_t at = tag.find(" " + name + "=\"");
    if (at == std::string::npos) return "";
    at += name.size() + 3;
    return tag.substr(at, tag.find('"', at) - at);
}

static PlottedSeries plotted(const std::string& html, const std::string& title, const std::string& label) {
    PlottedSeries s;
    size_t chart = html.find(">" + title + "</text>");
    if (chart == std::string::npos) return s;
    size_t chart_end = html.find("</svg>", chart);
    size_t g = html.find("<g class=\"plot\"", chart);
    if (g == std::string::npos || g > chart_end) return s;
    std::string gtag = html.substr(g, html.find('>', g) - g);
    std::vector<double> box = numbers(attribute(gtag, "data-box")), range = numbers(attribute(gtag, "data-range"));
    if (box.size() != 4 || range.size() != 4) return s;
    for (size_t at = html.find("<polyline", g); at < chart_end; at = html.find("<polyline", at + 1)) {
        std::string tag = html.substr(at, html.find("/>", at) - at);
        if (attribute(tag, "data-label") != label) continue;
        s.found = true;
        s.x = numbers(attribute(tag, "data-x"));
        s.y = numbers(attribute(tag, "data-y"));
        std::vector<double> pts = numbers(attribute(tag, "points"));
        for (size_t i = 0; i + 1 < pts.size(); i += 2) {
            s.px_x.push_back(range[0] + (pts[i] - box[0]) / box[2] * (range[1] - range[0]));
            s.px_y.push_back(range[2] + (box[1] + box[3] - pts[i + 1]) / box[3] * (range[3] - range[2]));
        }
        s.x_tol = 0.01 / box[2] * (range[1] - range[0]);
        s.y_tol = 0.01 / box[3] * (range[3] - range[2]);
        break;
    }
    return s;
}

// The values of `key` in the log's records that have it (and `step`).
static void log_series(const std::string& log_path, const char* key, std::vector<double>* steps,
                       std::vector<double>* values) {
    for (const std::string& line : read_lines(log_path)) {
        std::vector<JsonField> obj;
        size_t pos = 0;
        REQUIRE(json_parse_object(line, &pos, &obj));
        const JsonField* f = json_find(obj, key);
        if (!f || f->kind != JsonField::NUMBER) continue;
        steps->push_back(json_number(obj, "step", -1));
        values->push_back(f->number);
    }
}

static void check_points_match(const PlottedSeries& s, const std::vector<double>& x, const std::vector<double>& y) {
    REQUIRE(s.found);
    CHECK(s.x == x);  // %.17g: the same doubles the log's text parses to
    CHECK(s.y == y);
    REQUIRE(s.px_x.size() == x.size());
    size_t off = 0;
    for (size_t i = 0; i < x.size(); i++)
        if (fabs(s.px_x[i] - x[i]) > s.x_tol || fabs(s.px_y[i] - y[i]) > s.y_tol) off++;
    CHECK(off == 0);  // and the drawn points sit where the values say
}

TEST_CASE("a run writes report.html whose curves are the log's values", "[report][html]") {
    TinyData data;
    TempDir out;
    std::string run = out / "run";
    RunResult r = run_command(LLAMA + data.flags() + " -x 6 -v 2 -m 1 -n 3 -l 2e-3 -u 2 -o " + run);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "report: " + run + "/report.html"));
    std::string html = read_text(run + "/report.html");
    std::string log = run + "/log.jsonl";

    std::vector<double> steps, loss, lr_steps, lr, val_steps, val;
    log_series(log, "loss", &steps, &loss);
    log_series(log, "lr", &lr_steps, &lr);
    log_series(log, "val_loss", &val_steps, &val);
    REQUIRE(steps.size() == 6);
    REQUIRE(val_steps == std::vector<double>({0, 2, 4, 6}));
    check_points_match(plotted(html, "Loss by step", "train"), steps, loss);
    check_points_match(plotted(html, "Loss by step", "val"), val_steps, val);
    check_points_match(plotted(html, "Learning rate", "lr"), lr_steps, lr);
    // by time: the x values are the log's time_s (seconds for a run this short)
    std::vector<double> time_steps, times;
    log_series(log, "time_s", &time_steps, &times);
    check_points_match(plotted(html, "Loss by time", "train"), times, loss);

    // the config line is the log's first line and the report shows it
    std::vector<std::string> lines = read_lines(log);
    REQUIRE(!lines.empty());
    CHECK(lines[0].rfind("{\"config\": {\"trainer\": \"train_llama\"", 0) == 0);
    CHECK(has(html, "<td>weight-decay</td><td>0.1</td>"));
    CHECK(has(html, "<td>lr</td><td>0.002</td>"));
    // self-contained: nothing to run, nothing to fetch
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find(" src=") == std::string::npos);
    CHECK(html.find(" href=") == std::string::npos);
    CHECK(has(html, "(no sample in the log)"));  // -z "": no tokenizer, no sample
}

TEST_CASE("MFU is against the peak measured at start, or the one --peak-gflops gives", "[report][mfu]") {
    TinyData data;
    TempDir out;
    // the default: a probe of the instructions this run's matmuls use, on its threads
    for (const char* precision : {"fp32", "auto"}) {
        RunResult r = run_command(LLAMA + data.flags() + " -x 2 -v 0 -n 0 --precision " + precision + " -o " +
                                  out / precision);
        INFO(r.output);
        REQUIRE(r.status == 0);
        const size_t at = r.output.find("MFU is against ");
        REQUIRE(at != std::string::npos);
        const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
        INFO(line);
        CHECK(atof(line.c_str() + strlen("MFU is against ")) > 0.0);
        CHECK(has(line, " probe on "));
        CHECK(has(line, "measured at start; --peak-gflops sets it"));
        if (!strcmp(precision, "fp32")) CHECK(has(line, "(the fp32 FMA probe on "));
    }
    // given: used as it is
    RunResult r = run_command(LLAMA + data.flags() + " -x 2 -v 0 -n 0 --peak-gflops 123 -o " + out / "given");
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "MFU is against 123 GFLOP/s (--peak-gflops);"));
}

TEST_CASE("build/report overlays several logs and refuses what is not a log", "[report][html]") {
    TempDir dir;
    // two hand-written logs: one resumed (its second segment redoes step 3),
    // one from before time_s existed (time is the running sum of ms)
    std::string a =
        "{\"config\": {\"trainer\": \"train_llama\", \"start_step\": 0, \"lr\": 0.001}}\n"
        "{\"step\": 0, \"val_loss\": 5.0, \"val_bpb\": 2.0}\n"
        "{\"step\": 1, \"loss\": 4.5, \"lr\": 1e-3, \"norm\": 1, \"ms\": 10, \"tok_s\": 100, \"mfu\": 0.1, \"time_s\": 1.5}\n"
        "{\"step\": 2, \"loss\": 4.0, \"lr\": 1e-3, \"norm\": 1, \"ms\": 10, \"tok_s\": 100, \"mfu\": 0.1, \"time_s\": 2.5}\n"
        "{\"step\": 3, \"loss\": 9.9, \"lr\": 1e-3, \"norm\": 1, \"ms\": 10, \"tok_s\": 100, \"mfu\": 0.1, \"time_s\": 3.5}\n"
        "{\"config\": {\"trainer\": \"train_llama\", \"start_step\": 2, \"prior_time_s\": 2.5, \"lr\": 0.001}}\n"
        "{\"step\": 3, \"loss\": 3.5, \"lr\": 1e-3, \"norm\": 1, \"ms\": 10, \"tok_s\": 100, \"mfu\": 0.1, \"time_s\": 3.0}\n"
        "{\"step\": 3, \"val_loss\": 3.9, \"val_bpb\": 1.5}\n"
        "{\"step\": 3, \"sample\": \"Once upon a <time> & \\ufffd\"}\n";
    std::string b =
        "{\"step\": 1, \"loss\": 6.0, \"lr\": 2e-3, \"norm\": 1, \"ms\": 100, \"tok_s\": 10, \"mfu\": 0.1}\n"
        "{\"step\": 2, \"loss\": 5.0, \"lr\": 2e-3, \"norm\": 1, \"ms\": 300, \"tok_s\": 10, \"mfu\": 0.1}\n";
    write_all_bytes(dir / "a.jsonl", a.data(), a.size());
    write_all_bytes(dir / "b.jsonl", b.data(), b.size());

    RunResult r = run_command("build/report " + (dir / "a.jsonl") + " " + (dir / "b.jsonl") + " -o " + (dir / "cmp.html"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::string html = read_text(dir / "cmp.html");
    std::string A = dir.path + ": ";  // the run is named by its log's directory
    PlottedSeries ta = plotted(html, "Loss by step", A + "train");
    REQUIRE(ta.found);
    CHECK(ta.x == std::vector<double>({1, 2, 3}));
    CHECK(ta.y == std::vector<double>({4.5, 4.0, 3.5}));  // the resumed segment replaced step 3
    PlottedSeries tt = plotted(html, "Loss by time", A + "train");
    CHECK(tt.x == std::vector<double>({1.5, 2.5, 3.0}));
    {
        // resumed without --time (prior_time_s 0): its clock restarts, the report continues the axis
        std::string c = "{\"config\": {\"start_step\": 0}}\n{\"step\": 1, \"loss\": 2, \"ms\": 5, \"time_s\": 1.0}\n"
                        "{\"config\": {\"start_step\": 1, \"prior_time_s\": 0}}\n{\"step\": 2, \"loss\": 1, \"ms\": 5, \"time_s\": 0.5}\n";
        write_all_bytes(dir / "c.jsonl", c.data(), c.size());
        RunLog run;
        std::string err;
        REQUIRE(runlog_read(dir / "c.jsonl", &run, &err));
        REQUIRE(run.steps.size() == 2);
        CHECK(run.steps[1].time_s == 1.5);
    }
    // the second run's polyline follows the first's under the same label; find it by its values
    size_t second = html.find("data-y=\"6 5\"");
    CHECK(second != std::string::npos);
    CHECK(has(html, "data-x=\"0.10000000000000001 0.40000000000000002\""));  // b's time: the sum of ms
    CHECK(has(html, "Once upon a &lt;time&gt; &amp; \xEF\xBF\xBD"));  // the sample, escaped for HTML
    CHECK(has(html, "<td class=\"diff\">0.001</td><td class=\"diff\"></td>"));  // configs side by side

    CHECK(run_command("build/report --help").status == 0);
    RunResult missing = run_command("build/report " + (dir / "none.jsonl"));
    CHECK(missing.status == 1);
    CHECK(has(missing.output, "cannot open " + (dir / "none.jsonl")));
    std::string bad = "{\"step\": 1, \"loss\": 2}\nnot json\n";
    write_all_bytes(dir / "bad.jsonl", bad.data(), bad.size());
    RunResult broken = run_command("build/report " + (dir / "bad.jsonl"));
    CHECK(broken.status == 1);
    CHECK(has(broken.output, "bad.jsonl: line 2 is not a JSON object"));
    CHECK(run_command("build/report").status == 1);
}

// ----------------------------------------------------------------------------
// 3. --time: the schedule over wall-clock time, the stop, and resume

TEST_CASE("parse_duration reads h, m, s in order and refuses the rest", "[report][time]") {
    struct Good { const char* text; double seconds; };
    for (Good g : {Good{"90s", 90}, {"10m", 600}, {"2h", 7200}, {"1h30m", 5400}, {"1h30m15s", 5415}, {"1.5h", 5400},
                   {"2m30.5s", 150.5}, {"0.5s", 0.5}, {"3s", 3}}) {
        double s = -1;
        std::string err;
        INFO(g.text);
        CHECK(parse_duration(g.text, &s, &err));
        CHECK(s == g.seconds);
    }
    struct Bad { const char* text; const char* message; };
    for (Bad b : {Bad{"", "empty duration"}, {"10", "needs a unit"}, {"10x", "unknown unit 'x'"}, {"m", "expected a number"},
                  {"1m2h", "order h, m, s"}, {"1m1m", "order h, m, s"}, {"0s", "more than 0"}, {"-5m", "expected a number"},
                  {"1.2.3s", "unknown unit '.'"}, {"5 m", "unknown unit ' '"}, {".s", "expected a number"}}) {
        double s = -1;
        std::string err;
        INFO(b.text);
        CHECK_FALSE(parse_duration(b.text, &s, &err));
        CHECK(has(err, b.message));
    }
}

TEST_CASE("the step estimate and the schedule over a simulated clock", "[report][time]") {
    TimeBudget b;
    b.budget_s = 100;
    b.cap = BUDGET_NO_CAP;
    SECTION("before any step is timed the estimate is the cap; then the time left over the mean step") {
        CHECK(budget_total_steps(b, 0, 0.0) == BUDGET_NO_CAP);
        CHECK(budget_total_steps(b, 1, 2.0) == 1 + 49);   // 98 s left at 2 s a step
        CHECK(budget_total_steps(b, 10, 10.0) == 100);    // 1 s a step
        CHECK(budget_total_steps(b, 10, 99.5) == 10);     // 0.5 s left, a step takes ~10 s: stop
        CHECK(budget_total_steps(b, 10, 100.0) == 10);    // the budget is spent
        b.cap = 40;
        CHECK(budget_total_steps(b, 10, 10.0) == 40);     // an explicit -x caps it
    }
    SECTION("a resumed run counts the checkpoint's time and its own mean") {
        b.prior_s = 60;
        b.start_step = 30;
        CHECK(budget_total_steps(b, 30, 0.0) == BUDGET_NO_CAP);
        CHECK(budget_total_steps(b, 40, 20.0) == 40 + 10);  // 20 s left at 2 s a step
        b.prior_s = 100;
        CHECK(budget_total_steps(b, 30, 0.0) == 30);
    }
    SECTION("no budget: -x decides") {
        b.budget_s = 0;
        b.cap = 1000;
        CHECK(budget_total_steps(b, 5, 1e9) == 1000);
    }
    SECTION("a run of 1 s steps that slow to 2 s: the cosine still ends at its floor as time runs out") {
        Schedule s;
        s.lr = 1e-3f;
        s.warmup = 5;
        s.final_frac = 0.1f;
        double clock = 0;
        int step = 0;
        float last_lr = 0, prev = s.lr;
        bool monotone = true;
        while (true) {
            int total = budget_total_steps(b, step, clock);
            if (step >= total) break;
            s.max_steps = total;
            last_lr = schedule_lr(s, step);
            if (step >= s.warmup && last_lr > prev * (1 + 1e-5f)) monotone = false;
            if (step >= s.warmup) prev = last_lr;
            clock += step < 40 ? 1.0 : 2.0;
            step++;
        }
        CHECK(clock <= 100.0);             // it stopped inside the budget
        CHECK(clock > 100.0 - 2.0 * 2);    // and did not leave more than a step or two unused
        CHECK(step == 40 + 30);            // 40 s at 1 s, then 60 s at 2 s
        CHECK(last_lr < 0.12f * s.lr);     // at the floor (0.1 lr) when time ran out
        CHECK(monotone);                   // re-estimates never pushed the lr back up by more than a hair
    }
}

// elapsed_s, the last field of the TrainState at the end of a checkpoint with optimizer state.
static double stored_elapsed(const std::string& ckpt) {
    std::vector<char> bytes = read_all_bytes(ckpt);
    REQUIRE(bytes.size() > sizeof(double));
    double e;
    memcpy(&e, bytes.data() + bytes.size() - sizeof(double), sizeof e);
    return e;
}

TEST_CASE("--time stops by itself and ends with a checkpoint, a full evaluation and a sample", "[report][time]") {
    TinyData data;
    TempDir out;
    write_broken_tokenizer(out / "tok.bin");  // any tokenizer: the point is that a sample is written
    std::string flags = std::string(TINY) + " -i " + data.train + " -j " + data.val + " -z " + (out / "tok.bin") +
                        " -m 1 -v 0 -s 0 -n 0 -g 8";
    for (const std::string& trainer : {LLAMA + flags, GPT2 + " --model gpt2-tiny -b 4 -t 16 -i " + data.train + " -j " +
                                                       data.val + " -z \"\" -m 1 -v 0 -s 0 -n 0 --vocab 64"}) {
        std::string run = out / (trainer.find("gpt2") != std::string::npos ? "gpt2" : "llama");
        RunResult r = run_command(trainer + " --time 2s -o " + run);
        INFO(r.output);
        REQUIRE(r.status == 0);
        CHECK(has(r.output, "time budget: 0m02s"));
        CHECK(has(r.output, "final evaluation on the whole validation set: 15 batches"));  // 62 windows of 16 / B=4
        // the last step line's step count is the checkpoint's and the final evaluation's
        std::vector<double> steps, loss, val_steps, val;
        log_series(run + "/log.jsonl", "loss", &steps, &loss);
        log_series(run + "/log.jsonl", "val_loss", &val_steps, &val);
        REQUIRE(!steps.empty());
        REQUIRE(!val_steps.empty());
        int last = (int)steps.back();
        CHECK(val_steps.back() == last);
        char name[64];
        snprintf(name, sizeof name, "/ckpt_%06d.bin", last);
        CHECK(path_exists(run + name));
        CHECK(stored_elapsed(run + name) > 0);
        CHECK(path_exists(run + "/report.html"));
        if (trainer.find("gpt2") == std::string::npos) CHECK(has(read_text(run + "/log.jsonl"), "\"sample\": "));
    }
}

TEST_CASE("resuming a --time run keeps the remaining budget", "[report][time]") {
    TinyData data;
    TempDir out;
    std::string flags = LLAMA + data.flags() + " -m 1 -v 0 -s 0";
    // -x 6 with a budget far away: the run is short, the checkpoints record the time it used
    RunResult first = run_command(flags + " --time 1h -x 6 -n 3 -o " + (out / "a"));
    INFO(first.output);
    REQUIRE(first.status == 0);
    CHECK(has(first.output, "--time 1h00m00s, at most 6 steps"));
    double used = stored_elapsed(out / "a/ckpt_000003.bin");
    REQUIRE(used > 0);
    CHECK(stored_elapsed(out / "a/ckpt_000006.bin") > used);

    SECTION("resume prints the stored time and the remainder and continues the clock") {
        RunResult resumed = run_command(flags + " --time 1h -x 6 -e " + (out / "a/ckpt_000003.bin") + " -o " + (out / "b"));
        INFO(resumed.output);
        REQUIRE(resumed.status == 0);
        CHECK(has(resumed.output, "time budget: 1h00m00s, " + format_seconds(used) + " used by the checkpoint, " +
                                      format_seconds(3600 - used) + " left"));
        CHECK(stored_elapsed(out / "b/ckpt_000006.bin") > used);
        std::vector<double> steps, times;
        log_series(out / "b/log.jsonl", "time_s", &steps, &times);
        REQUIRE(!times.empty());
        CHECK(times.front() > used);  // the log's clock starts where the checkpoint's stopped
    }
    SECTION("a checkpoint that has used the whole budget has nothing left to do") {
        std::vector<char> bytes = read_all_bytes(out / "a/ckpt_000003.bin");
        double spent = 90.0;
        memcpy(bytes.data() + bytes.size() - sizeof spent, &spent, sizeof spent);
        write_all_bytes(out / "spent.bin", bytes.data(), bytes.size());
        RunResult r = run_command(flags + " --time 1m -e " + (out / "spent.bin") + " -o " + (out / "c"));
        INFO(r.output);
        CHECK(r.status == 1);
        CHECK(has(r.output, "has used 1m30s of training, --time is 1m00s: nothing to do"));
    }
    SECTION("a checkpoint from before elapsed_s (8 bytes shorter) still resumes, from zero time") {
        std::vector<char> bytes = read_all_bytes(out / "a/ckpt_000003.bin");
        write_all_bytes(out / "old.bin", bytes.data(), bytes.size() - sizeof(double));
        RunResult r = run_command(flags + " --time 1h -x 4 -e " + (out / "old.bin") + " -o " + (out / "d"));
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(has(r.output, "resumed from " + (out / "old.bin") + " at step 3"));
        CHECK(has(r.output, "time budget: 1h00m00s; the step count is estimated"));
    }
    SECTION("a bad --time is refused") {
        RunResult r = run_command(flags + " --time 10 -o " + (out / "e"));
        CHECK(r.status == 1);
        CHECK(has(r.output, "error: --time '10': '10' needs a unit after 10 (h, m or s)"));
    }
}

TEST_CASE("--help of both CPU trainers and of build/report lists what this file tests", "[report][cli]") {
    for (const std::string& bin : {LLAMA, GPT2}) {
        RunResult r = run_command(bin + " --help");
        CHECK(r.status == 0);
        CHECK(has(r.output, "--time S"));
    }
    RunResult r = run_command("build/report --help");
    CHECK(r.status == 0);
    CHECK(has(r.output, "usage: build/report LOG.jsonl [LOG2.jsonl ...] [-o out.html]"));
}
