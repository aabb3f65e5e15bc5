// export/hf.h: --format hf, a Hugging Face transformers model directory that
// AutoModelForCausalLM.from_pretrained(DIR) and AutoTokenizer.from_pretrained(DIR)
// load offline:
//   config.json              LlamaForCausalLM or GPT2LMHeadModel (common/hf.h)
//   model.safetensors        F32 tensors under transformers' names (common/safetensors.h)
//   generation_config.json   bos/eos = <|endoftext|>
//   tokenizer.json           the tokenizers library's byte-level BPE (below)
//   tokenizer_config.json    PreTrainedTokenizerFast over tokenizer.json, no BOS added
// The tokenizer files are written when the tokenizer was found (-z).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/hf.h"
#include "../common/safetensors.h"
#include "source.h"

// GPT-2's pre-tokenizer regex, which ours implements by hand (tokenizer/pretokenize.cpp);
// the ByteLevel pre-tokenizer applies it when use_regex is true.
inline std::string hf_byte_level(const char* add_prefix_space, const char* trim_offsets) {
    return std::string("{\"type\": \"ByteLevel\", \"add_prefix_space\": ") + add_prefix_space +
           ", \"trim_offsets\": " + trim_offsets + ", \"use_regex\": true}";
}

// The tokenizer as tokenizer.json: model BPE with the vocab and merges in
// GPT-2's byte alphabet (gpt2_byte_string), merges in rank order, the
// ByteLevel pre-tokenizer and decoder, and <|endoftext|> as an added special
// token (split out of the text before BPE, as our --allow-special encode does).
// `name` is the tokenizer's file, for messages. Dies when tokenizer.json
// cannot say the same thing: no merges, or two ids with the same bytes.
inline std::string hf_tokenizer_json(const Tokenizer& tok, const std::string& name) {
    if (!tok.can_encode)
        die("tokenizer %s has no merges (llm.c's decode-only gpt2_tokenizer.bin?): tokenizer.json needs them; pass "
            "-z with our tokenizer.bin or GPT-2's vocab dir (encoder.json + vocab.bpe)", name.c_str());
    std::unordered_map<std::string, int> seen;
    std::vector<std::string> mapped(tok.vocab_size);
    for (int id = 0; id < tok.vocab_size; id++) {
        // eot is an added token: its content is the literal text, not byte-mapped
        mapped[id] = id == tok.eot_id ? tok.tokens[id] : gpt2_byte_string(tok.tokens[id]);
        auto ins = seen.emplace(mapped[id], id);
        if (!ins.second)
            die("tokenizer %s: vocab: ids %d and %d are the same string %s; tokenizer.json's vocab maps each string "
                "to one id", name.c_str(), ins.first->second, id, json_quote(mapped[id]).c_str());
    }
    std::string s = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n";
    s += "  \"added_tokens\": [";
    if (tok.eot_id >= 0)
        s += "\n    {\"id\": " + std::to_string(tok.eot_id) + ", \"content\": " + json_quote(tok.tokens[tok.eot_id]) +
             ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}\n  ";
    s += "],\n";
    s += "  \"normalizer\": null,\n";
    s += "  \"pre_tokenizer\": " + hf_byte_level("false", "true") + ",\n";
    s += "  \"post_processor\": " + hf_byte_level("true", "false") + ",\n";
    s += "  \"decoder\": " + hf_byte_level("true", "true") + ",\n";
    s += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n";
    s += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n";
    s += "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n";
    s += "    \"vocab\": {";
    for (int id = 0; id < tok.vocab_size; id++)
        s += std::string(id ? "," : "") + "\n      " + json_quote(mapped[id]) + ": " + std::to_string(id);
    s += "\n    },\n    \"merges\": [";
    for (size_t r = 0; r < tok.merges.size(); r++) {
        const BpeMerge& m = tok.merges[r];
        // a byte-mapped string never holds a space (space is mapped to U+0120), so one space separates the pair
        s += std::string(r ? "," : "") + "\n      " + json_quote(mapped[m.left] + " " + mapped[m.right]);
    }
    s += "\n    ]\n  }\n}\n";
    return s;
}

inline std::string hf_tokenizer_config_json(const Tokenizer& tok, int maxT) {
    std::string s = "{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n";
    if (tok.eot_id >= 0) {
        std::string eot = json_quote(tok.tokens[tok.eot_id]);
        s += "  \"bos_token\": " + eot + ",\n  \"eos_token\": " + eot + ",\n  \"unk_token\": " + eot + ",\n";
    }
    s += "  \"add_bos_token\": false,\n  \"add_eos_token\": false,\n  \"add_prefix_space\": false,\n";
    s += "  \"clean_up_tokenization_spaces\": false,\n";
    s += "  \"model_max_length\": " + std::to_string(maxT) + "\n}\n";
    return s;
}

inline std::string hf_generation_config_json(int eot) {
    if (eot < 0) return "{\n  \"_from_model_config\": true\n}\n";
    return "{\n  \"_from_model_config\": true,\n  \"bos_token_id\": " + std::to_string(eot) +
           ",\n  \"eos_token_id\": " + std::to_string(eot) + "\n}\n";
}

inline void write_text_file(const std::string& path, const std::string& text) {
    write_file_atomic(path, [&](FILE* f, const char* tmp) { fwrite_check(text.data(), 1, text.size(), f, tmp); });
}

// The model's tensors under transformers' names (common/hf.h's tables).
inline std::vector<HfTensor> hf_export_tensors(const ExportSource& src) {
    if (src.llama) return hf_llama_tensors(src.llama->config, src.llama->params);
    return hf_gpt2_tensors(src.gpt2->config, src.gpt2->params);
}

inline void export_hf(const ExportSource& src, const std::string& dir) {
    int eot = src.have_tok ? src.tok.eot_id : -1;
    int maxT = src.llama ? src.llama->config.maxT : src.gpt2->config.maxT;
    // every text first: a tokenizer tokenizer.json cannot hold stops the export before any file is written
    std::string config = src.llama ? hf_llama_config_json(src.llama->config, eot)
                                   : hf_gpt2_config_json(src.gpt2->config, eot);
    std::string tok_json = src.have_tok ? hf_tokenizer_json(src.tok, src.tok_path) : "";
    ensure_writable_dir(dir.c_str());
    std::vector<HfTensor> tensors = hf_export_tensors(src);
    std::vector<SafetensorsOut> out;
    for (const HfTensor& t : tensors) out.push_back({t.name, t.hf_shape()});
    safetensors_write(dir + "/model.safetensors", out, [&](size_t i, float* dst) { hf_tensor_to_hf(tensors[i], dst); });
    write_text_file(dir + "/config.json", config);
    write_text_file(dir + "/generation_config.json", hf_generation_config_json(eot));
    if (src.have_tok) {
        write_text_file(dir + "/tokenizer.json", tok_json);
        write_text_file(dir + "/tokenizer_config.json", hf_tokenizer_config_json(src.tok, maxT));
    } else {
        printf("note: no tokenizer (%s not found): wrote the model only, no tokenizer.json\n", src.tok_path.c_str());
    }
}
