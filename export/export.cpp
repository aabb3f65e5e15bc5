// export/export.cpp: a checkpoint of ours → the formats other tools load:
// Hugging Face transformers (--format hf), llama.cpp (--format gguf) and
// llama2.c's run.c (--format llama2c). The writers are in export/*.h, one per
// format; this file loads the model and its tokenizer and picks the writer.
#include "gguf.h"
#include "hf.h"
#include "llama2c.h"
#include "source.h"

static const char* SUMMARY =
    "Exports a checkpoint of this engine (Llama or GPT-2; with or without optimizer state) or an llm.c GPT-2\n"
    "model file to another tool's format (see README.md, \"Use your model\"):\n"
    "  --format hf -o DIR        config.json, model.safetensors, generation_config.json, tokenizer.json\n"
    "  --format gguf -o FILE     GGUF v3 (llama or gpt2 architecture), --dtype f32 or f16\n"
    "  --format llama2c -o FILE  llama2.c's model file, and its tokenizer.bin (--llama2c-tokenizer)";

int main(int argc, char** argv) {
    std::string load, tokenizer, format, out, dtype = "f32", l2c_tok;
    std::vector<ArgSpec> specs = {
        {"-e", "--load", ARG_STRING, &load, "checkpoint (or llm.c GPT-2 model file) to export"},
        {"-z", "--tokenizer", ARG_STRING, &tokenizer,
         "tokenizer file or GPT-2 vocab dir (\"\" = the trainer's default for the model kind)"},
        {"-f", "--format", ARG_STRING, &format, "hf, gguf or llama2c"},
        {"-o", "--out", ARG_STRING, &out, "output directory (hf) or file (gguf, llama2c)"},
        {nullptr, "--dtype", ARG_STRING, &dtype, "gguf: f32 or f16 matrices"},
        {nullptr, "--llama2c-tokenizer", ARG_STRING, &l2c_tok,
         "llama2c: where to write run.c's tokenizer (\"\" = tokenizer.bin beside -o)"},
    };
    args_parse(argc, argv, specs, SUMMARY);
    if (load.empty()) die("-e CHECKPOINT is required (see %s --help)", argv[0]);
    if (out.empty()) die("-o PATH is required (see %s --help)", argv[0]);
    if (format != "hf" && format != "gguf" && format != "llama2c")
        die("--format must be hf, gguf or llama2c, got '%s'", format.c_str());
    if (dtype != "f32" && dtype != "f16") die("--dtype must be f32 or f16, got '%s'", dtype.c_str());

    ExportSource src;
    src.path = load;
    src.kind = model_file_kind(load);
    llama::Llama lm;
    gpt2::GPT2 gm;
    TrainState st;
    if (src.kind == CKPT_KIND_LLAMA) {
        int header[CKPT_HEADER_INTS];
        checkpoint_read_header(load, header, CKPT_KIND_LLAMA);
        llama::llama_build(&lm, llama::config_from_header(header));
        llama::llama_load_checkpoint(&lm, load, &st);
        src.llama = &lm;
    } else {
        gpt2::gpt2_build(&gm, gpt2::gpt2_read_file_config(load));
        gpt2::gpt2_load(&gm, load, &st);
        src.gpt2 = &gm;
    }
    int V = src.kind == CKPT_KIND_LLAMA ? lm.config.V : gm.config.V;
    src.tok_path = !tokenizer.empty() ? tokenizer
                   : src.kind == CKPT_KIND_LLAMA ? "data/tinystories/tokenizer.bin"
                                                 : "../shared/data/gpt2";
    TrainerOptions to;
    to.tokenizer = src.tok_path;
    src.have_tok = load_training_tokenizer(&src.tok, to, true, V);

    if (format == "hf") export_hf(src, out);
    else if (format == "gguf") export_gguf(src, out, dtype);
    else export_llama2c(src, out, l2c_tok.empty() ? out + ".tokenizer.bin" : l2c_tok);
    printf("exported %s (%s) to %s as %s\n", load.c_str(), src.kind == CKPT_KIND_LLAMA ? "llama" : "gpt2",
           out.c_str(), format.c_str());
    if (src.llama) llama::llama_free(src.llama);
    if (src.gpt2) gpt2::gpt2_free(src.gpt2);
    return 0;
}
