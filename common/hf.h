// common/hf.h: our models in Hugging Face transformers' terms, defined once
// for export (export/hf.h writes them) and import (train_llama -e HF_DIR):
// which tensor of LlamaForCausalLM / GPT2LMHeadModel is which slice of our
// parameter blob and how its layout differs, and config.json.
//
// Two layouts differ from ours:
//   RoPE. We rotate interleaved pairs (x[2i], x[2i+1]) of a head (Meta's
//   llama, llama2.c); transformers' rotate_half rotates the halves
//   (x[i], x[i + HS/2]). Both rotate pair i by angle t·θ^(-2i/HS), so moving
//   row 2i + p of each q and k head to row p·HS/2 + i makes one the other:
//   attention scores are the same since q and k are permuted alike (this is
//   Meta's convert_llama_weights_to_hf.py permute(), and its inverse on import).
//   GPT-2. transformers' Conv1D keeps its weight as (in, out): our (out, in)
//   matrices are written transposed.
// The functions take the trainers' config and parameter structs as template
// parameters (their field names: V, C, L, NH, NKV, H, ... and wte, wqkv, ...),
// so this header needs neither trainer.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../tokenizer/json.h"
#include "util.h"

enum HfLayout {
    HF_SAME,        // the same row-major layout
    HF_ROPE_ROWS,   // q or k rows: ours interleaved pairs, HF halves (see above)
    HF_TRANSPOSED,  // GPT-2's Conv1D: HF holds the transpose of ours
};

struct HfTensor {
    std::string name;    // HF's name in model.safetensors
    float* ours;         // first float of the slice in our blob
    int rows, cols;      // our layout of the slice (a vector: rows = 1)
    bool vector;         // HF's shape is (cols), not (rows, cols)
    HfLayout layout;
    int heads;           // HF_ROPE_ROWS: rows = heads · HS

    std::vector<int64_t> hf_shape() const {
        if (vector) return {cols};
        if (layout == HF_TRANSPOSED) return {cols, rows};
        return {rows, cols};
    }
    size_t numel() const { return (size_t)rows * cols; }
};

// The HF row that holds our row r of a q or k matrix of `heads` heads of HS rows.
inline int hf_rope_row(int r, int HS) {
    int h = r / HS, j = r % HS;  // j = 2i + p
    return h * HS + (j % 2) * (HS / 2) + j / 2;
}

// Our slice → HF's layout, into dst (numel floats).
inline void hf_tensor_to_hf(const HfTensor& t, float* dst) {
    const float* src = t.ours;
    if (t.layout == HF_SAME) {
        memcpy(dst, src, t.numel() * sizeof(float));
    } else if (t.layout == HF_ROPE_ROWS) {
        int HS = t.rows / t.heads;
        for (int r = 0; r < t.rows; r++)
            memcpy(dst + (size_t)hf_rope_row(r, HS) * t.cols, src + (size_t)r * t.cols, t.cols * sizeof(float));
    } else {
        for (int r = 0; r < t.rows; r++)
            for (int c = 0; c < t.cols; c++) dst[(size_t)c * t.rows + r] = src[(size_t)r * t.cols + c];
    }
}

// HF's layout (numel floats at src) → our slice: the inverse of hf_tensor_to_hf.
inline void hf_tensor_from_hf(const HfTensor& t, const float* src) {
    float* dst = t.ours;
    if (t.layout == HF_SAME) {
        memcpy(dst, src, t.numel() * sizeof(float));
    } else if (t.layout == HF_ROPE_ROWS) {
        int HS = t.rows / t.heads;
        for (int r = 0; r < t.rows; r++)
            memcpy(dst + (size_t)r * t.cols, src + (size_t)hf_rope_row(r, HS) * t.cols, t.cols * sizeof(float));
    } else {
        for (int r = 0; r < t.rows; r++)
            for (int c = 0; c < t.cols; c++) dst[(size_t)r * t.cols + c] = src[(size_t)c * t.rows + r];
    }
}

// ----------------------------------------------------------------------------
// Llama ↔ LlamaForCausalLM. Ours: wqkv = rows of wq, wk, wv; w13 = rows of
// w1 (gate_proj), then w3 (up_proj). A tied head has no lm_head tensor.

template <typename Config, typename Params>
std::vector<HfTensor> hf_llama_tensors(const Config& c, const Params& p) {
    const int V = c.V, C = c.C, L = c.L, NH = c.NH, NKV = c.NKV, H = c.H, HS = C / NH;
    const size_t QKV = (size_t)(NH + 2 * NKV) * HS;
    std::vector<HfTensor> t;
    t.push_back({"model.embed_tokens.weight", p.wte, V, C, false, HF_SAME, 0});
    for (int l = 0; l < L; l++) {
        std::string pre = "model.layers." + std::to_string(l) + ".";
        float* wqkv = p.wqkv + l * QKV * C;
        float* w13 = p.w13 + (size_t)l * 2 * H * C;
        t.push_back({pre + "input_layernorm.weight", p.rms_att + (size_t)l * C, 1, C, true, HF_SAME, 0});
        t.push_back({pre + "self_attn.q_proj.weight", wqkv, NH * HS, C, false, HF_ROPE_ROWS, NH});
        t.push_back({pre + "self_attn.k_proj.weight", wqkv + (size_t)NH * HS * C, NKV * HS, C, false, HF_ROPE_ROWS, NKV});
        t.push_back({pre + "self_attn.v_proj.weight", wqkv + (size_t)(NH + NKV) * HS * C, NKV * HS, C, false, HF_SAME, 0});
        t.push_back({pre + "self_attn.o_proj.weight", p.wo + (size_t)l * C * NH * HS, C, NH * HS, false, HF_SAME, 0});
        t.push_back({pre + "post_attention_layernorm.weight", p.rms_ffn + (size_t)l * C, 1, C, true, HF_SAME, 0});
        t.push_back({pre + "mlp.gate_proj.weight", w13, H, C, false, HF_SAME, 0});
        t.push_back({pre + "mlp.up_proj.weight", w13 + (size_t)H * C, H, C, false, HF_SAME, 0});
        t.push_back({pre + "mlp.down_proj.weight", p.w2 + (size_t)l * C * H, C, H, false, HF_SAME, 0});
    }
    t.push_back({"model.norm.weight", p.rms_final, 1, C, true, HF_SAME, 0});
    if (!c.tied) t.push_back({"lm_head.weight", p.wcls, V, C, false, HF_SAME, 0});
    return t;
}

// ----------------------------------------------------------------------------
// GPT-2 ↔ GPT2LMHeadModel. wte has Vp rows (llm.c's padding); HF gets the V
// real ones. The head is tied: no lm_head tensor.

template <typename Config, typename Params>
std::vector<HfTensor> hf_gpt2_tensors(const Config& c, const Params& p) {
    const int V = c.V, C = c.C, L = c.L;
    std::vector<HfTensor> t;
    t.push_back({"transformer.wte.weight", p.wte, V, C, false, HF_SAME, 0});
    t.push_back({"transformer.wpe.weight", p.wpe, c.maxT, C, false, HF_SAME, 0});
    for (int l = 0; l < L; l++) {
        std::string pre = "transformer.h." + std::to_string(l) + ".";
        size_t lc = (size_t)l * C;
        t.push_back({pre + "ln_1.weight", p.ln1w + lc, 1, C, true, HF_SAME, 0});
        t.push_back({pre + "ln_1.bias", p.ln1b + lc, 1, C, true, HF_SAME, 0});
        t.push_back({pre + "attn.c_attn.weight", p.qkvw + lc * 3 * C, 3 * C, C, false, HF_TRANSPOSED, 0});
        t.push_back({pre + "attn.c_attn.bias", p.qkvb + lc * 3, 1, 3 * C, true, HF_SAME, 0});
        t.push_back({pre + "attn.c_proj.weight", p.attprojw + lc * C, C, C, false, HF_TRANSPOSED, 0});
        t.push_back({pre + "attn.c_proj.bias", p.attprojb + lc, 1, C, true, HF_SAME, 0});
        t.push_back({pre + "ln_2.weight", p.ln2w + lc, 1, C, true, HF_SAME, 0});
        t.push_back({pre + "ln_2.bias", p.ln2b + lc, 1, C, true, HF_SAME, 0});
        t.push_back({pre + "mlp.c_fc.weight", p.fcw + lc * 4 * C, 4 * C, C, false, HF_TRANSPOSED, 0});
        t.push_back({pre + "mlp.c_fc.bias", p.fcb + lc * 4, 1, 4 * C, true, HF_SAME, 0});
        t.push_back({pre + "mlp.c_proj.weight", p.fcprojw + lc * 4 * C, C, 4 * C, false, HF_TRANSPOSED, 0});
        t.push_back({pre + "mlp.c_proj.bias", p.fcprojb + lc, 1, C, true, HF_SAME, 0});
    }
    t.push_back({"transformer.ln_f.weight", p.lnfw, 1, C, true, HF_SAME, 0});
    t.push_back({"transformer.ln_f.bias", p.lnfb, 1, C, true, HF_SAME, 0});
    return t;
}

// ----------------------------------------------------------------------------
// config.json

// A float as the shortest text that reads back as the same float.
inline std::string hf_float(float x) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, nullptr) == x) break;
    }
    std::string s = buf;
    if (s.find_first_of(".e") == std::string::npos) s += ".0";  // a float to every JSON reader
    return s;
}

// eot < 0: the tokenizer has no <|endoftext|>; bos/eos are then null.
template <typename Config>
std::string hf_llama_config_json(const Config& c, int eot) {
    std::string e = eot >= 0 ? std::to_string(eot) : "null";
    std::string s = "{\n";
    s += "  \"architectures\": [\"LlamaForCausalLM\"],\n";
    s += "  \"model_type\": \"llama\",\n";
    s += "  \"vocab_size\": " + std::to_string(c.V) + ",\n";
    s += "  \"hidden_size\": " + std::to_string(c.C) + ",\n";
    s += "  \"intermediate_size\": " + std::to_string(c.H) + ",\n";
    s += "  \"num_hidden_layers\": " + std::to_string(c.L) + ",\n";
    s += "  \"num_attention_heads\": " + std::to_string(c.NH) + ",\n";
    s += "  \"num_key_value_heads\": " + std::to_string(c.NKV) + ",\n";
    s += "  \"head_dim\": " + std::to_string(c.C / c.NH) + ",\n";
    s += "  \"hidden_act\": \"silu\",\n";
    s += "  \"max_position_embeddings\": " + std::to_string(c.maxT) + ",\n";
    s += "  \"rms_norm_eps\": " + hf_float(c.norm_eps) + ",\n";
    s += "  \"rope_theta\": " + hf_float(c.rope_theta) + ",\n";
    s += "  \"rope_scaling\": null,\n";
    s += "  \"attention_bias\": false,\n";
    s += "  \"attention_dropout\": 0.0,\n";
    s += "  \"mlp_bias\": false,\n";
    s += "  \"pretraining_tp\": 1,\n";
    s += "  \"initializer_range\": 0.02,\n";
    s += std::string("  \"tie_word_embeddings\": ") + (c.tied ? "true" : "false") + ",\n";
    s += "  \"bos_token_id\": " + e + ",\n";
    s += "  \"eos_token_id\": " + e + ",\n";
    s += "  \"use_cache\": true,\n";
    s += "  \"torch_dtype\": \"float32\"\n";
    s += "}\n";
    return s;
}

template <typename Config>
std::string hf_gpt2_config_json(const Config& c, int eot) {
    std::string e = eot >= 0 ? std::to_string(eot) : "null";
    std::string s = "{\n";
    s += "  \"architectures\": [\"GPT2LMHeadModel\"],\n";
    s += "  \"model_type\": \"gpt2\",\n";
    s += "  \"vocab_size\": " + std::to_string(c.V) + ",\n";
    s += "  \"n_positions\": " + std::to_string(c.maxT) + ",\n";
    s += "  \"n_ctx\": " + std::to_string(c.maxT) + ",\n";
    s += "  \"n_embd\": " + std::to_string(c.C) + ",\n";
    s += "  \"n_layer\": " + std::to_string(c.L) + ",\n";
    s += "  \"n_head\": " + std::to_string(c.NH) + ",\n";
    s += "  \"n_inner\": " + std::to_string(4 * c.C) + ",\n";
    // the tanh approximation of GELU, which ours is
    s += "  \"activation_function\": \"gelu_new\",\n";
    s += "  \"layer_norm_epsilon\": " + hf_float(c.norm_eps) + ",\n";
    s += "  \"resid_pdrop\": 0.0,\n";
    s += "  \"embd_pdrop\": 0.0,\n";
    s += "  \"attn_pdrop\": 0.0,\n";
    s += "  \"scale_attn_weights\": true,\n";
    s += "  \"initializer_range\": 0.02,\n";
    s += "  \"tie_word_embeddings\": true,\n";
    s += "  \"bos_token_id\": " + e + ",\n";
    s += "  \"eos_token_id\": " + e + ",\n";
    s += "  \"use_cache\": true,\n";
    s += "  \"torch_dtype\": \"float32\"\n";
    s += "}\n";
    return s;
}

// What a LlamaForCausalLM config.json says about the shape.
struct HfLlamaConfig {
    int V = 0, C = 0, L = 0, NH = 0, NKV = 0, H = 0, maxT = 0;
    bool tied = false;
    float rope_theta = 10000.0f, norm_eps = 1e-6f;
};

inline bool hf_is_model_dir(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && path_exists(path + "/config.json");
}

// Reads DIR/config.json of a LlamaForCausalLM; dies naming the field when the
// file describes something our Llama is not (another architecture, biases,
// rope scaling, another activation). Missing fields take transformers'
// LlamaConfig defaults.
inline HfLlamaConfig hf_read_llama_config(const std::string& dir) {
    std::string path = dir + "/config.json";
    const char* p = path.c_str();
    std::string text = read_text_file(path);
    std::vector<JsonMember> m;
    std::string err;
    size_t pos = 0;
    if (!json_object_members(text, &pos, &m, &err)) die("%s: not a JSON object: %s", p, err.c_str());
    auto str = [&](const char* key, const char* dflt) {
        const JsonMember* f = json_find(m, key);
        if (!f) return std::string(dflt);
        std::string s;
        size_t at = 0;
        if (!json_parse_string(f->value, &at, &s)) die("%s: \"%s\" must be a string", p, key);
        return s;
    };
    auto num = [&](const char* key, double dflt, bool required) {
        const JsonMember* f = json_find(m, key);
        if (!f || f->value == "null") {
            if (required) die("%s: no \"%s\"", p, key);
            return dflt;
        }
        double d;
        if (!json_number(f->value, &d)) die("%s: \"%s\" must be a number, found %.*s", p, key, (int)f->value.size(), f->value.data());
        return d;
    };
    auto integer = [&](const char* key, double dflt, bool required) {
        double d = num(key, dflt, required);
        if (d != (double)(int)d || d < 1) die("%s: \"%s\" must be a positive integer, found %g", p, key, d);
        return (int)d;
    };
    auto flag = [&](const char* key, bool dflt) {
        const JsonMember* f = json_find(m, key);
        if (!f) return dflt;
        if (f->value == "true") return true;
        if (f->value == "false") return false;
        die("%s: \"%s\" must be true or false, found %.*s", p, key, (int)f->value.size(), f->value.data());
    };
    std::string type = str("model_type", "");
    if (type != "llama") die("%s: model_type is \"%s\", expected \"llama\" (LlamaForCausalLM)", p, type.c_str());
    std::string act = str("hidden_act", "silu");
    if (act != "silu") die("%s: hidden_act is \"%s\"; our Llama's MLP is SwiGLU (\"silu\")", p, act.c_str());
    if (flag("attention_bias", false)) die("%s: attention_bias is true; our Llama has no attention biases", p);
    if (flag("mlp_bias", false)) die("%s: mlp_bias is true; our Llama has no MLP biases", p);
    const JsonMember* scaling = json_find(m, "rope_scaling");
    if (scaling && scaling->value != "null")
        die("%s: rope_scaling is %.*s; only plain RoPE (rope_scaling null) is supported", p, (int)scaling->value.size(),
            scaling->value.data());

    HfLlamaConfig c;
    c.V = integer("vocab_size", 0, true);
    c.C = integer("hidden_size", 0, true);
    c.L = integer("num_hidden_layers", 0, true);
    c.NH = integer("num_attention_heads", 0, true);
    c.NKV = integer("num_key_value_heads", c.NH, false);
    c.H = integer("intermediate_size", 0, true);
    c.maxT = integer("max_position_embeddings", 2048, false);
    c.tied = flag("tie_word_embeddings", false);
    c.norm_eps = (float)num("rms_norm_eps", 1e-6, false);
    c.rope_theta = (float)num("rope_theta", 10000.0, false);
    // newer transformers write the RoPE settings as rope_parameters
    if (const JsonMember* rp = json_find(m, "rope_parameters"); rp && rp->value != "null") {
        std::vector<JsonMember> r;
        size_t at = 0;
        if (!json_object_members(rp->value, &at, &r, &err)) die("%s: rope_parameters: %s", p, err.c_str());
        for (const JsonMember& f : r) {
            std::string s;
            size_t sat = 0;
            if (f.key == "rope_theta") {
                double d;
                if (!json_number(f.value, &d)) die("%s: rope_parameters.rope_theta must be a number", p);
                c.rope_theta = (float)d;
            } else if (f.key == "rope_type") {
                if (!json_parse_string(f.value, &sat, &s) || s != "default")
                    die("%s: rope_parameters.rope_type is %.*s; only \"default\" RoPE is supported", p,
                        (int)f.value.size(), f.value.data());
            } else {
                die("%s: rope_parameters.%s is not supported (only rope_type \"default\" and rope_theta)", p,
                    f.key.c_str());
            }
        }
    }
    if (c.C % c.NH != 0) die("%s: hidden_size %d is not divisible by num_attention_heads %d", p, c.C, c.NH);
    int head_dim = integer("head_dim", c.C / c.NH, false);
    if (head_dim != c.C / c.NH)
        die("%s: head_dim is %d; our Llama's head size is hidden_size / num_attention_heads = %d", p, head_dim,
            c.C / c.NH);
    return c;
}
