// export/llama2c.h: --format llama2c, llama2.c's model file and the
// tokenizer.bin its run.c reads (common/llama2c.h holds both formats, the
// parameter mapping and the id permutation).
//
// The token ids change: run.c wants BOS at id 1 and byte b at id b + 3, so
// the rows of the embedding (and of an untied classifier) are written in
// llama2.c's id order (llama2c_id_map). Shapes run.c cannot run are refused
// with the field named: GPT-2 models, rope theta ≠ 10000, norm eps ≠ 1e-5.
#pragma once
#include <string>
#include <vector>

#include "../common/llama2c.h"
#include "source.h"

// Rows of a (V, C) matrix moved so that our row id lands at map[id].
inline std::vector<float> llama2c_permute_rows(const float* w, const std::vector<int>& map, size_t C) {
    std::vector<float> out(map.size() * C);
    for (size_t id = 0; id < map.size(); id++) memcpy(&out[(size_t)map[id] * C], w + id * C, C * sizeof(float));
    return out;
}

// Writes the model to `path` and run.c's tokenizer to `tokenizer_path`.
inline void export_llama2c(const ExportSource& src, const std::string& path, const std::string& tokenizer_path) {
    if (!src.llama) die("--format llama2c: %s is a GPT-2 model; llama2.c's run.c runs the Llama architecture only", src.path.c_str());
    const llama::Llama& m = *src.llama;
    const llama::LlamaConfig& c = m.config;
    if (c.rope_theta != LLAMA2C_ROPE_THETA)
        die("--format llama2c: the model's rope theta is %g; run.c hard-codes %g", c.rope_theta, LLAMA2C_ROPE_THETA);
    if (c.norm_eps != LLAMA2C_NORM_EPS)
        die("--format llama2c: the model's norm eps is %g; run.c hard-codes %g", c.norm_eps, LLAMA2C_NORM_EPS);
    if (!src.have_tok)
        die("--format llama2c: no tokenizer (%s not found): the export renumbers token ids and writes run.c's "
            "tokenizer.bin, so it needs the vocabulary (-z FILE)", src.tok_path.c_str());
    if (!src.tok.can_encode)
        die("--format llama2c: tokenizer %s has no merges (a decode-only file); run.c's scores come from them",
            src.tok_path.c_str());
    if (src.tok.vocab_size != c.V)
        die("--format llama2c: tokenizer %s has %d tokens but the model's vocab_size is %d", src.tok_path.c_str(),
            src.tok.vocab_size, c.V);
    std::vector<int> map;
    Llama2cVocab vocab;
    std::string err;
    if (!llama2c_id_map(src.tok, &map, &err) || !llama2c_vocab_from(src.tok, map, &vocab, &err))
        die("--format llama2c: tokenizer %s: %s", src.tok_path.c_str(), err.c_str());

    Llama2cHeader h{c.C, c.H, c.L, c.NH, c.NKV, c.tied ? c.V : -c.V, c.maxT};
    llama::ParameterTensors p = m.params;
    std::vector<float> wte = llama2c_permute_rows(p.wte, map, c.C), wcls;
    p.wte = wte.data();
    if (!c.tied) {
        wcls = llama2c_permute_rows(m.params.wcls, map, c.C);
        p.wcls = wcls.data();
    }
    // the model's own RoPE tables are theta 10000's (checked above), (maxT, HS/2)
    llama2c_write_model(path, h, llama2c_runs(p, h), m.rope_cos, m.rope_sin);
    llama2c_write_vocab(tokenizer_path, vocab);
    printf("wrote run.c's tokenizer to %s (%d tokens; ids renumbered: <|endoftext|> = BOS = 1, byte b = b + 3)\n",
           tokenizer_path.c_str(), c.V);
}
