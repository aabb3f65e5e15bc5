// export/source.h: what every exporter gets: the model of either kind with its
// parameters loaded (fp32, the trainer's blob order) and, if found, its tokenizer.
#pragma once
#include <string>

#include "models.h"

struct ExportSource {
    std::string path;            // the checkpoint or llm.c model file it came from
    int kind = 0;                // CKPT_KIND_LLAMA or CKPT_KIND_GPT2
    llama::Llama* llama = nullptr;  // set when kind is CKPT_KIND_LLAMA
    gpt2::GPT2* gpt2 = nullptr;     // set when kind is CKPT_KIND_GPT2
    Tokenizer tok;
    bool have_tok = false;
    std::string tok_path;
};
