// dev/reference/dump_logits.cpp: our logits for a batch, for the dev scripts
// that compare another implementation with ours (check_export.py). Loads a
// checkpoint of either kind (or an llm.c GPT-2 model file), runs the forward
// on B×T token ids (raw int32, row-major) and writes the (B, T, V) logits as
// raw float32. `make dump_logits` builds build/dump_logits; not part of the tests.
#include "../../export/models.h"

static const char* SUMMARY =
    "Writes a model's logits for a batch of token ids (dev tool for dev/reference/check_export.py).\n"
    "  -i FILE holds B*T int32 ids, row-major; -o FILE gets B*T*V float32 logits, row-major.";

int main(int argc, char** argv) {
    std::string load, in, out;
    int B = 1, T = 0;
    std::vector<ArgSpec> specs = {
        {"-e", "--load", ARG_STRING, &load, "checkpoint (or llm.c GPT-2 model file)"},
        {"-i", "--tokens", ARG_STRING, &in, "token ids, B*T int32"},
        {"-o", "--out", ARG_STRING, &out, "where to write the B*T*V float32 logits"},
        {"-b", "--batch", ARG_INT, &B, "batch size B"},
        {"-t", "--seq", ARG_INT, &T, "sequence length T"},
    };
    args_parse(argc, argv, specs, SUMMARY);
    if (load.empty() || in.empty() || out.empty()) die("-e, -i and -o are required (see %s --help)", argv[0]);
    if (B < 1 || T < 1) die("-b and -t must be positive, got %d and %d", B, T);
    long long bytes = file_size_check(in.c_str());
    if (bytes != (long long)B * T * 4) die("%s: %lld bytes, expected B*T*4 = %lld", in.c_str(), bytes, (long long)B * T * 4);
    std::vector<int> tokens((size_t)B * T);
    FILE* f = fopen_check(in.c_str(), "rb");
    fread_check(tokens.data(), sizeof(int), tokens.size(), f, in.c_str());
    fclose(f);

    const float* logits;
    int V;
    llama::Llama lm;
    gpt2::GPT2 gm;
    TrainState st;
    if (model_file_kind(load) == CKPT_KIND_LLAMA) {
        int header[CKPT_HEADER_INTS];
        checkpoint_read_header(load, header, CKPT_KIND_LLAMA);
        llama::llama_build(&lm, llama::config_from_header(header));
        llama::llama_load_checkpoint(&lm, load, &st);
        llama::llama_forward(&lm, tokens.data(), nullptr, B, T);
        logits = lm.acts.logits;
        V = lm.config.V;
    } else {
        gpt2::gpt2_build(&gm, gpt2::gpt2_read_file_config(load));
        gpt2::gpt2_load(&gm, load, &st);
        gpt2::gpt2_forward(&gm, tokens.data(), nullptr, B, T);
        logits = gm.acts.logits;
        V = gm.config.V;
    }
    write_file_atomic(out, [&](FILE* o, const char* tmp) { fwrite_check(logits, sizeof(float), (size_t)B * T * V, o, tmp); });
    printf("wrote %s: logits (%d, %d, %d)\n", out.c_str(), B, T, V);
    return 0;
}
