// export/gguf.h: --format gguf, a GGUF v3 file for llama.cpp.
#pragma once
#include <string>

#include "source.h"

// dtype: "f32" or "f16" for the matrices.
inline void export_gguf(const ExportSource& src, const std::string& path, const std::string& dtype) {
    (void)src;
    die("--format gguf: not written yet (%s, %s)", path.c_str(), dtype.c_str());
}
