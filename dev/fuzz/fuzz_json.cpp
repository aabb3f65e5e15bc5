// dev/fuzz/fuzz_json.cpp: the JSON reading prepro does on every JSONL line
// (json_get_string_field, json_skip_value) on arbitrary bytes. Checked: no
// crash, no read past the line, deep nesting refused rather than recursed
// into, and a field found is the same when the line is re-serialized.
#include "../../tokenizer/json.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t n) {
    // Copy into an exact-size buffer so ASan sees any read past the line.
    std::vector<char> line(data, data + n);
    std::string_view s(line.data(), n);
    std::string out, err;
    bool ok = json_get_string_field(s, "text", &out, &err);
    FUZZ_CHECK(ok || !err.empty(), "failure without a message");
    size_t pos = 0;
    if (json_skip_value(s, &pos)) FUZZ_CHECK(pos <= n, "json_skip_value moved past the end: %zu > %zu", pos, n);
    if (ok) {
        // Escape the value again and parse it back: the same bytes.
        std::string esc = "{\"text\": \"";
        for (unsigned char c : out) {
            if (c == '"' || c == '\\') { esc.push_back('\\'); esc.push_back((char)c); }
            else if (c < 0x20) { char b[8]; snprintf(b, sizeof b, "\\u%04x", c); esc += b; }
            else esc.push_back((char)c);
        }
        esc += "\"}";
        std::string again;
        FUZZ_CHECK(json_get_string_field(esc, "text", &again, &err) && again == out, "re-parse differs: %s", err.c_str());
    }
    return 0;
}
