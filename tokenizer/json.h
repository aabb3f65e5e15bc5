// tokenizer/json.h: the little JSON reading the tokenizer and prepro need:
// string literals with every escape (\uXXXX and surrogate pairs included),
// skipping any value, and pulling one string field out of a flat object;
// the members of one object as raw value texts, numbers and integer arrays
// (Hugging Face's config.json and safetensors headers); and quoting a string
// for the files we write. Hand-written so the project stays dependency-free;
// not a general parser.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Skips JSON whitespace from *pos.
void json_skip_ws(std::string_view s, size_t* pos);
// Parses the string literal at s[*pos] (which must be '"'), appending its
// UTF-8 bytes to *out and moving *pos past the closing quote. A lone
// surrogate escape becomes U+FFFD. False on malformed input.
bool json_parse_string(std::string_view s, size_t* pos, std::string* out);
// Skips one value of any type (nesting limited to `depth` levels).
bool json_skip_value(std::string_view s, size_t* pos, int depth = 64);
// In the object that makes up `line`, finds the top-level field `key` and
// stores its string value. Returns false with *err set when the line is not
// an object, the field is missing or is not a string.
bool json_get_string_field(std::string_view line, const char* key, std::string* out, std::string* err);

// One member of a JSON object: its key, and its value as the raw JSON text
// (a view into the parsed document), to be read with the functions below.
struct JsonMember {
    std::string key;
    std::string_view value;
};
// Parses the object at s[*pos] into its members, in file order, and moves *pos
// past it. Returns false with *err saying what was wrong and at which byte.
bool json_object_members(std::string_view s, size_t* pos, std::vector<JsonMember>* out, std::string* err);
// The member named key, or nullptr.
const JsonMember* json_find(const std::vector<JsonMember>& members, const char* key);
// A raw value that is exactly one JSON number (no surrounding text).
bool json_number(std::string_view value, double* out);
// A raw value that is an array of integers, each within int64.
bool json_int_array(std::string_view value, std::vector<int64_t>* out);
// The JSON string literal for UTF-8 text, quotes included: '"', '\\' and
// control characters are escaped, everything else is written as it is.
std::string json_quote(std::string_view text);
