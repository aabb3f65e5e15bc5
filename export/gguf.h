// export/gguf.h: --format gguf, a GGUF v3 file for llama.cpp (common/gguf.h
// writes the container). Llama models get the `llama` architecture, GPT-2
// models the `gpt2` one, each under llama.cpp's own tensor names; the
// tokenizer goes in as a `gpt2`-type byte-level BPE vocabulary with merges.
//
// RoPE: llama.cpp's `llama` architecture rotates adjacent pairs (x[2i],
// x[2i+1]) of each head (ggml's "normal" rope mode), Meta's original layout.
// Its converter from Hugging Face un-permutes HF's q/k rows (HF rotates
// halves) back to that layout before writing GGUF; our q/k rows are already
// in it (kernels/cpu/rope.h), so they are written unchanged.
#pragma once
#include <string>
#include <vector>

#include "../tokenizer/tokenizer.h"
#include "../common/gguf.h"
#include "source.h"

// The vocabulary as llama.cpp's BPE tokenizer wants it. The model's rows
// are indexed by token id, so the tokenizer must have exactly V tokens.
inline void gguf_add_tokenizer(GgufWriter* w, const ExportSource& src, int V) {
    const Tokenizer& tok = src.tok;
    if (!src.have_tok) die("--format gguf: no tokenizer (%s not found): GGUF needs the vocabulary (-z FILE)", src.tok_path.c_str());
    if (!tok.can_encode)
        die("--format gguf: tokenizer %s has no merges (a decode-only file); tokenizer.ggml.merges needs them",
            src.tok_path.c_str());
    if (tok.vocab_size != V)
        die("--format gguf: tokenizer %s has %d tokens but the model's vocab is %d; tokenizer.ggml.tokens must "
            "hold exactly one token per row", src.tok_path.c_str(), tok.vocab_size, V);
    if (tok.eot_id < 0) die("--format gguf: tokenizer %s has no <|endoftext|>; bos/eos_token_id need it", src.tok_path.c_str());
    std::vector<std::string> tokens(V), merges;
    std::vector<int32_t> types(V, 1);  // llama_token_type: 1 normal, 3 control
    for (int i = 0; i < V; i++) tokens[i] = i == tok.eot_id ? std::string(EOT_TEXT) : gpt2_byte_string(tok.tokens[i]);
    types[tok.eot_id] = 3;
    for (const BpeMerge& m : tok.merges) merges.push_back(tokens[m.left] + " " + tokens[m.right]);
    gguf_add_string(w, "tokenizer.ggml.model", "gpt2");
    // GPT-2's pre-tokenizer regex, the one our tokenizer implements (tokenizer/tokenizer.h)
    gguf_add_string(w, "tokenizer.ggml.pre", "gpt-2");
    gguf_add_strings(w, "tokenizer.ggml.tokens", tokens);
    gguf_add_i32s(w, "tokenizer.ggml.token_type", types);
    gguf_add_strings(w, "tokenizer.ggml.merges", merges);
    // every training document starts after an <|endoftext|>, so a prompt does too
    gguf_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)tok.eot_id);
    gguf_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)tok.eot_id);
    gguf_add_bool(w, "tokenizer.ggml.add_bos_token", true);
    gguf_add_bool(w, "tokenizer.ggml.add_eos_token", false);
}

// A matrix (rows, cols), row-major: GGUF lists dims innermost first.
inline void gguf_add_matrix(GgufWriter* w, const std::string& name, const float* data, size_t rows, size_t cols,
                            bool f16) {
    gguf_add_tensor(w, name, {cols, rows}, f16 ? GGML_TYPE_F16 : GGML_TYPE_F32, data);
}
inline void gguf_add_vector(GgufWriter* w, const std::string& name, const float* data, size_t n) {
    gguf_add_tensor(w, name, {n}, GGML_TYPE_F32, data);
}

// The general.* keys every model file starts with; arch is llama.cpp's
// architecture name, which also prefixes the model's own keys.
inline void gguf_add_general(GgufWriter* w, const std::string& arch, bool f16) {
    gguf_add_string(w, "general.architecture", arch);
    gguf_add_string(w, "general.name", "llm.cpp " + arch);
    gguf_add_u32(w, "general.alignment", GGUF_ALIGNMENT);
    gguf_add_u32(w, "general.file_type", f16 ? GGUF_FILE_TYPE_MOSTLY_F16 : GGUF_FILE_TYPE_ALL_F32);
}

// Our Llama blob → llama.cpp's `llama` tensors: wqkv's rows split into attn_q,
// attn_k, attn_v; w13's into ffn_gate (w1) and ffn_up (w3); w2 is ffn_down.
inline void gguf_add_llama(GgufWriter* w, const llama::Llama& m, bool f16) {
    const llama::LlamaConfig& c = m.config;
    const size_t V = c.V, C = c.C, NH = c.NH, NKV = c.NKV, H = c.H, HS = C / NH, QKV = (NH + 2 * NKV) * HS;
    const llama::ParameterTensors& p = m.params;
    gguf_add_general(w, "llama", f16);
    gguf_add_u32(w, "llama.context_length", (uint32_t)c.maxT);
    gguf_add_u32(w, "llama.embedding_length", (uint32_t)C);
    gguf_add_u32(w, "llama.block_count", (uint32_t)c.L);
    gguf_add_u32(w, "llama.feed_forward_length", (uint32_t)H);
    gguf_add_u32(w, "llama.attention.head_count", (uint32_t)NH);
    gguf_add_u32(w, "llama.attention.head_count_kv", (uint32_t)NKV);
    gguf_add_f32(w, "llama.attention.layer_norm_rms_epsilon", c.norm_eps);
    gguf_add_f32(w, "llama.rope.freq_base", c.rope_theta);
    gguf_add_u32(w, "llama.rope.dimension_count", (uint32_t)HS);
    gguf_add_u32(w, "llama.vocab_size", (uint32_t)V);

    gguf_add_matrix(w, "token_embd.weight", p.wte, V, C, f16);
    for (int l = 0; l < c.L; l++) {
        std::string b = "blk." + std::to_string(l) + ".";
        const float* qkv = p.wqkv + l * QKV * C;
        const float* w13 = p.w13 + l * 2 * H * C;
        gguf_add_vector(w, b + "attn_norm.weight", p.rms_att + l * C, C);
        gguf_add_matrix(w, b + "attn_q.weight", qkv, NH * HS, C, f16);
        gguf_add_matrix(w, b + "attn_k.weight", qkv + NH * HS * C, NKV * HS, C, f16);
        gguf_add_matrix(w, b + "attn_v.weight", qkv + (NH + NKV) * HS * C, NKV * HS, C, f16);
        gguf_add_matrix(w, b + "attn_output.weight", p.wo + l * C * NH * HS, C, NH * HS, f16);
        gguf_add_vector(w, b + "ffn_norm.weight", p.rms_ffn + l * C, C);
        gguf_add_matrix(w, b + "ffn_gate.weight", w13, H, C, f16);
        gguf_add_matrix(w, b + "ffn_up.weight", w13 + H * C, H, C, f16);
        gguf_add_matrix(w, b + "ffn_down.weight", p.w2 + l * C * H, C, H, f16);
    }
    gguf_add_vector(w, "output_norm.weight", p.rms_final, C);
    // a tied model has no `output`: llama.cpp then reuses token_embd as the head
    if (!c.tied) gguf_add_matrix(w, "output.weight", p.wcls, V, C, f16);
}

// Our GPT-2 blob (llm.c's layout) → llama.cpp's `gpt2` tensors. wte has Vp
// rows (llm.c pads the vocabulary); only the first V are tokens, and GGUF's
// token_embd must have exactly as many rows as tokenizer.ggml.tokens.
inline void gguf_add_gpt2(GgufWriter* w, const gpt2::GPT2& m, bool f16) {
    const gpt2::GPT2Config& c = m.config;
    const size_t V = c.V, C = c.C;
    const gpt2::ParameterTensors& p = m.params;
    gguf_add_general(w, "gpt2", f16);
    gguf_add_u32(w, "gpt2.context_length", (uint32_t)c.maxT);
    gguf_add_u32(w, "gpt2.embedding_length", (uint32_t)C);
    gguf_add_u32(w, "gpt2.block_count", (uint32_t)c.L);
    gguf_add_u32(w, "gpt2.feed_forward_length", (uint32_t)(4 * C));
    gguf_add_u32(w, "gpt2.attention.head_count", (uint32_t)c.NH);
    gguf_add_f32(w, "gpt2.attention.layer_norm_epsilon", c.norm_eps);

    gguf_add_matrix(w, "token_embd.weight", p.wte, V, C, f16);
    gguf_add_matrix(w, "position_embd.weight", p.wpe, c.maxT, C, f16);
    for (int l = 0; l < c.L; l++) {
        std::string b = "blk." + std::to_string(l) + ".";
        gguf_add_vector(w, b + "attn_norm.weight", p.ln1w + l * C, C);
        gguf_add_vector(w, b + "attn_norm.bias", p.ln1b + l * C, C);
        // q, k, v rows stacked as llama.cpp's fused attn_qkv expects
        gguf_add_matrix(w, b + "attn_qkv.weight", p.qkvw + l * 3 * C * C, 3 * C, C, f16);
        gguf_add_vector(w, b + "attn_qkv.bias", p.qkvb + l * 3 * C, 3 * C);
        gguf_add_matrix(w, b + "attn_output.weight", p.attprojw + l * C * C, C, C, f16);
        gguf_add_vector(w, b + "attn_output.bias", p.attprojb + l * C, C);
        gguf_add_vector(w, b + "ffn_norm.weight", p.ln2w + l * C, C);
        gguf_add_vector(w, b + "ffn_norm.bias", p.ln2b + l * C, C);
        gguf_add_matrix(w, b + "ffn_up.weight", p.fcw + l * 4 * C * C, 4 * C, C, f16);
        gguf_add_vector(w, b + "ffn_up.bias", p.fcb + l * 4 * C, 4 * C);
        gguf_add_matrix(w, b + "ffn_down.weight", p.fcprojw + l * C * 4 * C, C, 4 * C, f16);
        gguf_add_vector(w, b + "ffn_down.bias", p.fcprojb + l * C, C);
    }
    gguf_add_vector(w, "output_norm.weight", p.lnfw, C);
    gguf_add_vector(w, "output_norm.bias", p.lnfb, C);
    // the head is tied to token_embd (llama.cpp reuses it when `output` is absent)
}

// dtype: "f32" or "f16" for the matrices; norms and biases stay F32.
inline void export_gguf(const ExportSource& src, const std::string& path, const std::string& dtype) {
    bool f16 = dtype == "f16";
    GgufWriter w;
    if (src.llama) gguf_add_llama(&w, *src.llama, f16);
    else gguf_add_gpt2(&w, *src.gpt2, f16);
    gguf_add_tokenizer(&w, src, src.llama ? src.llama->config.V : src.gpt2->config.V);
    gguf_write(w, path);
}
