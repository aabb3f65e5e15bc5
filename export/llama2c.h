// export/llama2c.h: --format llama2c, llama2.c's model file and the tokenizer.bin its run.c reads.
#pragma once
#include <string>

#include "source.h"

// Writes the model to `path` and run.c's tokenizer to `tokenizer_path`.
inline void export_llama2c(const ExportSource& src, const std::string& path, const std::string& tokenizer_path) {
    (void)src;
    die("--format llama2c: not written yet (%s, %s)", path.c_str(), tokenizer_path.c_str());
}
