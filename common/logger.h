// common/logger.h: one JSON object per line in <out>/log.jsonl, flushed at
// every record so a crash loses at most the line being written.
#pragma once
#include <cstdio>
#include <string>

#include "util.h"

struct Logger {
    FILE* file = nullptr;
    std::string path;
};

// Appends: a resumed run continues the log of the run it resumes.
inline void logger_open(Logger* log, const std::string& dir) {
    log->path = dir + "/log.jsonl";
    log->file = fopen_check(log->path.c_str(), "a");
}

inline void logger_write(Logger* log, const std::string& json) {
    if (!log->file) return;
    fwrite_check(json.data(), 1, json.size(), log->file, log->path.c_str());
    fwrite_check("\n", 1, 1, log->file, log->path.c_str());
    if (fflush(log->file) != 0) die("%s: flush failed", log->path.c_str());
}

inline void logger_close(Logger* log) {
    if (log->file) fclose_check(log->file, log->path.c_str());
    log->file = nullptr;
}
