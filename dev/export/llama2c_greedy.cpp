// dev/export/llama2c_greedy.cpp: what llama2.c's run.c prints at -t 0 for a
// checkpoint exported with --format llama2c, computed with our own forward
// pass (full window, fp32), so the README can put run.c's output beside ours.
// It reads run.c's tokenizer.bin as written by the export, encodes the prompt
// with run.c's rules (common/llama2c.h: BOS, the " " prefix, merges by score),
// maps the ids back to ours, decodes greedily as run.c's generate does (stop
// at BOS, -n counts positions including the prompt) and prints run.c's pieces.
//
// --check-encode FILE: for every document in FILE (split at <|endoftext|>),
// compares run.c's encoding of it with ours of " " + document after BOS, and
// prints how many agree (run.c merges any pair whose concatenation is a token;
// our BPE only merges pairs that are merge rules, within pre-tokenizer chunks).
//
// --map-shard IN,OUT: rewrites a token shard of ours in llama2.c's ids, the
// vocabulary of the exported model file, e.g. to fine-tune it after
// `train_llama -e model.bin` (its ids are the file's).
// a tool uses some of the trainer's static functions, not all of them
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#define TRAIN_LLAMA_NO_MAIN
#include "../../train_llama.cpp"
#pragma GCC diagnostic pop

static const char* SUMMARY =
    "Greedy decoding of a Llama checkpoint as llama2.c's run.c does it after --format llama2c\n"
    "(run.c's prompt encoding and printing, our forward pass). Dev tool for the README's comparison.";

int main(int argc, char** argv) {
    std::string load, tok_path = "data/tinystories/tokenizer.bin", l2c_tok, prompt, check, map_shard;
    int steps = 256;
    std::vector<ArgSpec> specs = {
        {"-e", "--load", ARG_STRING, &load, "Llama checkpoint of this engine"},
        {"-z", "--tokenizer", ARG_STRING, &tok_path, "our tokenizer of the checkpoint"},
        {nullptr, "--llama2c-tokenizer", ARG_STRING, &l2c_tok, "run.c's tokenizer.bin written by build/export"},
        {"-i", "--prompt", ARG_STRING, &prompt, "prompt (run.c's -i)"},
        {"-n", "--steps", ARG_INT, &steps, "positions to run, prompt included (run.c's -n; 0 = seq-len)"},
        {nullptr, "--check-encode", ARG_STRING, &check, "text file: count documents run.c encodes as we do"},
        {nullptr, "--map-shard", ARG_STRING, &map_shard, "IN,OUT: rewrite our token shard IN in llama2.c's ids"},
    };
    args_parse(argc, argv, specs, SUMMARY);
    if (l2c_tok.empty()) die("--llama2c-tokenizer FILE is required (see --help)");
    Tokenizer tok;
    std::string err;
    if (!tokenizer_load(&tok, tok_path, &err)) die("%s", err.c_str());
    std::vector<int> map;
    Llama2cVocab vocab;
    if (!llama2c_id_map(tok, &map, &err)) die("%s: %s", tok_path.c_str(), err.c_str());
    if (!llama2c_read_vocab(l2c_tok, tok.vocab_size, &vocab, &err)) die("%s", err.c_str());
    std::vector<int> ours_of(map.size());  // llama2.c id → our id
    for (size_t id = 0; id < map.size(); id++) ours_of[map[id]] = (int)id;

    if (!map_shard.empty()) {
        size_t comma = map_shard.find(',');
        if (comma == std::string::npos) die("--map-shard wants IN,OUT, got '%s'", map_shard.c_str());
        std::string in = map_shard.substr(0, comma), out = map_shard.substr(comma + 1);
        std::vector<uint32_t> ids = read_shard(in, tok.vocab_size);
        for (uint32_t& id : ids) id = (uint32_t)map[id];
        write_shard(out, ids, tok.vocab_size);
        printf("%s: %zu tokens in llama2.c's ids → %s\n", in.c_str(), ids.size(), out.c_str());
        return 0;
    }
    if (!check.empty()) {
        FILE* f = fopen_check(check.c_str(), "rb");
        std::string text;
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
        fclose(f);
        std::vector<std::string_view> docs = split_documents(text);
        size_t same = 0, tokens = 0;
        for (std::string_view d : docs) {
            std::vector<int> got, want{LLAMA2C_BOS_ID};
            for (int id : tokenizer_encode(tok, " " + std::string(d), false, 1)) want.push_back(map[id]);
            if (!llama2c_encode(vocab, std::string(d), true, &got)) die("%s has no \" \" token", l2c_tok.c_str());
            same += got == want;
            tokens += want.size();
        }
        printf("%s: %zu of %zu documents encode to the same ids under run.c's rules (%zu tokens)\n", check.c_str(),
               same, docs.size(), tokens);
        return 0;
    }

    if (load.empty()) die("-e CHECKPOINT is required (see --help)");
    int header[CKPT_HEADER_INTS];
    checkpoint_read_header(load, header, CKPT_KIND_LLAMA);
    Llama model;
    llama_build(&model, config_from_header(header));
    TrainState st;
    llama_load_checkpoint(&model, load, &st);
    const int V = model.config.V, maxT = model.config.maxT;
    if (steps <= 0 || steps > maxT) steps = maxT;
    llama_alloc_activations(&model, 1, maxT);

    std::vector<int> l2c_prompt;
    if (!llama2c_encode(vocab, prompt, true, &l2c_prompt)) die("%s has no \" \" token", l2c_tok.c_str());
    std::vector<int> ids;  // our ids, as the model sees them
    for (int id : l2c_prompt) ids.push_back(ours_of[id]);
    int token = l2c_prompt[0];
    for (int pos = 0; pos < steps; pos++) {
        int next;
        if (pos < (int)l2c_prompt.size() - 1) {
            next = l2c_prompt[pos + 1];
        } else {
            llama_forward(&model, ids.data(), nullptr, 1, pos + 1);
            const float* logits = model.acts.logits + (size_t)pos * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (logits[v] > logits[best]) best = v;
            next = map[best];
            ids.push_back(best);
        }
        if (next == LLAMA2C_BOS_ID) break;
        printf("%s", llama2c_decode(vocab, token, next).c_str());
        fflush(stdout);
        token = next;
    }
    printf("\n");
    llama_free(&model);
    return 0;
}
