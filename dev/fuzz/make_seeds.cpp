// dev/fuzz/make_seeds.cpp: writes the seed corpus for the fuzz targets into
// DIR/{load,decode,encode,json}/ (run.sh passes build/fuzz_corpus). Seeds
// are generated, not committed: valid files in both tokenizer formats, id
// sequences, and texts that reach every branch of the pre-tokenizer.
#include <cstring>

#include "../../tokenizer/json.h"
#include "fuzz_common.h"

namespace {

std::string g_dir;
int g_count = 0;

void seed(const char* target, const std::string& name, const void* data, size_t n) {
    std::string path = g_dir + "/" + target + "/" + name;
    FILE* f = fopen(path.c_str(), "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
        exit(1);
    }
    g_count++;
}
void seed(const char* target, const std::string& name, const std::string& s) { seed(target, name, s.data(), s.size()); }

std::vector<uint8_t> llmc_file(const Tokenizer& t, uint32_t version) {
    std::vector<uint8_t> f(1024, 0);
    uint32_t h[4] = {(uint32_t)LLMC_TOKENIZER_MAGIC, version, (uint32_t)t.vocab_size, (uint32_t)t.eot_id};
    memcpy(f.data(), h, sizeof h);
    for (const auto& s : t.tokens) {
        f.push_back((uint8_t)s.size());
        f.insert(f.end(), s.begin(), s.end());
    }
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR   (DIR/load, DIR/decode, DIR/encode, DIR/json must exist)\n");
        return 1;
    }
    g_dir = argv[1];
    // load: small vocabularies in both formats (small files mutate fast)
    for (int vocab : {257, 260, 300}) {
        Tokenizer t = fuzz_trained_tokenizer(vocab);
        std::vector<uint8_t> ours = tokenizer_serialize(t), llmc = llmc_file(t, 2);
        seed("load", "ours_" + std::to_string(vocab) + ".bin", ours.data(), ours.size());
        seed("load", "llmc_" + std::to_string(vocab) + ".bin", llmc.data(), llmc.size());
    }
    Tokenizer t = fuzz_trained_tokenizer(300);
    std::vector<uint8_t> v1 = llmc_file(t, 1);
    seed("load", "llmc_v1.bin", v1.data(), v1.size());

    // texts: the GPT-2 fixture strings plus hostile ones
    std::vector<std::string> texts = {
        "Hello world", "I'm here, you're there, we'll go. DON'T", "  leading\n\n\ttabs   trailing   ",
        "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 \xc2\xa0\xe3\x80\x80 x\xc2\xb2", "a<|endoftext|>b<|endoftext|>",
        std::string("nul\0byte\0", 9), "\xff\xfe\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe4\xb8", "word\n   indented\n\tmore\n",
        "1,000,000 or 3.14159?!! ... --- ***", std::string(300, ' ') + "x", std::string(300, 'a'), "e\xcc\x81 \xe2\x80\xa8\xc2\x85",
    };
    std::string fx = fuzz_read_file("tests/fixtures/gpt2_ids.txt");
    for (size_t a = 0; a < fx.size();) {
        size_t b = fx.find('\n', a);
        if (b == std::string::npos) b = fx.size();
        std::string line = fx.substr(a, b - a), s, err;
        a = b + 1;
        size_t tab = line.find('\t');
        if (line.empty() || line[0] == '#' || tab == std::string::npos) continue;
        if (json_get_string_field("{\"t\": " + line.substr(0, tab) + "}", "t", &s, &err)) texts.push_back(s);
    }
    std::string stories = fuzz_training_text().substr(0, 2000);
    texts.push_back(stories);
    for (size_t i = 0; i < texts.size(); i++) seed("encode", "text_" + std::to_string(i), texts[i]);

    // decode: byte 0 picks the vocabulary, byte 1 the id encoding (see fuzz_decode.cpp)
    for (int vocab_pick = 0; vocab_pick < 3; vocab_pick++) {
        std::vector<int> ids = tokenizer_encode(t, stories.substr(0, 300));
        std::string s;
        s.push_back((char)vocab_pick);
        s.push_back(1);  // raw int32
        for (int id : ids) s.append((const char*)&id, 4);
        seed("decode", "ids_" + std::to_string(vocab_pick), s);
    }
    seed("decode", "mapped", std::string("\0\0\x01\x00\xff\xff\x10\x02", 8));

    // json: JSONL lines as prepro reads them
    const char* lines[] = {
        "{\"text\": \"Once upon a time.\\nThe end.\", \"id\": 1}",
        "{\"id\": 2, \"meta\": {\"a\": [1, 2.5e3, {\"b\": null}], \"t\": true}, \"text\": \"Caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\"}",
        "{\"text\": \"lone \\ud800 surrogate \\/ \\b\\f\\r\\t\"}", "  {}  ", "[1, 2]", "{\"text\": 12}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) seed("json", "line_" + std::to_string(i), lines[i]);
    printf("make_seeds: wrote %d seeds under %s\n", g_count, g_dir.c_str());
    return 0;
}
