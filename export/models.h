// export/models.h: both trainers' model code in one translation unit, each in
// its own namespace (llama::, gpt2::), so a tool can load either kind of
// checkpoint. The trainers are included without their main, as the tests do.
//
// Every header the two trainers include is included here first, at global
// scope: their include guards then make the trainers' own #includes no-ops
// inside the namespaces, so the standard library and common/ stay global.
// A header a trainer starts to include must be added here too (the build
// fails loudly inside the namespace otherwise).
#pragma once
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../common/args.h"
#include "../common/checkpoint.h"
#include "../common/dataloader.h"
#include "../common/dist.h"
#include "../common/evaluate.h"
#include "../common/hf.h"
#include "../common/llama2c.h"
#include "../common/llmc_model.h"
#include "../common/logger.h"
#include "../common/optimizer.h"
#include "../common/prune.h"
#include "../common/report.h"
#include "../common/report_html.h"
#include "../common/rng.h"
#include "../common/safetensors.h"
#include "../common/sampler.h"
#include "../common/trainer.h"
#include "../common/util.h"
#include "../kernels/cpu/attention.h"
#include "../kernels/cpu/attention_bf16.h"
#include "../kernels/cpu/bias.h"
#include "../kernels/cpu/classifier.h"
#include "../kernels/cpu/embedding.h"
#include "../kernels/cpu/gelu.h"
#include "../kernels/cpu/layernorm.h"
#include "../kernels/cpu/matmul.h"
#include "../kernels/cpu/peak.h"
#include "../kernels/cpu/position.h"
#include "../kernels/cpu/residual.h"
#include "../kernels/cpu/rmsnorm.h"
#include "../kernels/cpu/rope.h"
#include "../kernels/cpu/swiglu.h"
#include "../tokenizer/tokenizer.h"

// A tool uses some of each trainer's static functions, not all of them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#define TRAIN_LLAMA_NO_MAIN
#define TRAIN_GPT2_NO_MAIN
namespace llama {
#include "../train_llama.cpp"
}
namespace gpt2 {
#include "../train_gpt2.cpp"
}
#pragma GCC diagnostic pop

// The kind of model in a file: CKPT_KIND_LLAMA or CKPT_KIND_GPT2 for our
// checkpoints, CKPT_KIND_GPT2 for llm.c's GPT-2 model files; dies otherwise.
inline int model_file_kind(const std::string& path) {
    int magic = file_magic(path);
    if (magic == LLMC_MODEL_MAGIC) return CKPT_KIND_GPT2;
    if (magic != CKPT_MAGIC)
        die("%s: bad magic %d, expected %d (checkpoint of this engine) or %d (llm.c GPT-2 model file)", path.c_str(),
            magic, CKPT_MAGIC, LLMC_MODEL_MAGIC);
    int header[CKPT_HEADER_INTS];
    FILE* f = fopen_check(path.c_str(), "rb");
    fread_check(header, sizeof(int), CKPT_HEADER_INTS, f, path.c_str());
    fclose(f);
    if (header[2] != CKPT_KIND_LLAMA && header[2] != CKPT_KIND_GPT2)
        die("%s: model kind %d, expected %d (llama) or %d (gpt2)", path.c_str(), header[2], CKPT_KIND_LLAMA,
            CKPT_KIND_GPT2);
    return header[2];
}
