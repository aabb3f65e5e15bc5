// report/report.cpp: build/report LOG.jsonl [LOG2.jsonl ...] [-o out.html]
// Redraws the run report (common/report_html.h) from one or more logs; with
// several, their curves overlay in one page and their configs sit side by side.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../common/report_html.h"

static const char* USAGE =
    "usage: %s LOG.jsonl [LOG2.jsonl ...] [-o out.html]\n"
    "Draws the run report of each training log (a trainer's <out>/log.jsonl) into one self-contained HTML page:\n"
    "train and val loss and val bits/byte by step and by wall-clock time, learning rate, tokens/s, the config\n"
    "and the last sample. Several logs overlay for comparison, one colour per run.\n\n"
    "flags:\n"
    "  -o, --out S              the page to write [report.html]\n"
    "  -h, --help               print this help and exit\n";

int main(int argc, char** argv) {
    std::string out = "report.html";
    std::vector<std::string> logs;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") { printf(USAGE, argv[0]); return 0; }
        if (a == "-o" || a == "--out") {
            if (i + 1 >= argc) die("flag %s needs a value", a.c_str());
            out = argv[++i];
        } else if (a.rfind("--out=", 0) == 0) {
            out = a.substr(6);
        } else if (a.size() > 1 && a[0] == '-') {
            die("unknown flag '%s' (see %s --help)", a.c_str(), argv[0]);
        } else {
            logs.push_back(a);
        }
    }
    if (logs.empty()) die("no log given (usage: %s LOG.jsonl [LOG2.jsonl ...] [-o out.html])", argv[0]);
    std::vector<RunLog> runs;
    for (const std::string& path : logs) {
        RunLog run;
        std::string err;
        if (!runlog_read(path, &run, &err)) die("%s", err.c_str());
        if (run.steps.empty() && run.evals.empty())
            die("%s: no step or evaluation records (expected a trainer's log.jsonl)", path.c_str());
        runs.push_back(run);
    }
    std::string html = report_html(runs);
    write_file_atomic(out, [&](FILE* f, const char* tmp) { fwrite_check(html.data(), 1, html.size(), f, tmp); });
    printf("wrote %s (%zu run%s)\n", out.c_str(), runs.size(), runs.size() > 1 ? "s" : "");
    return 0;
}
