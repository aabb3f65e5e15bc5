// export/hf.h: --format hf, a Hugging Face transformers model directory.
#pragma once
#include <string>

#include "source.h"

inline void export_hf(const ExportSource& src, const std::string& dir) {
    (void)src;
    die("--format hf: not written yet (%s)", dir.c_str());
}
