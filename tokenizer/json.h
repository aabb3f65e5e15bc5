// tokenizer/json.h: the little JSON reading the tokenizer and prepro need:
// string literals with every escape (\uXXXX and surrogate pairs included),
// skipping any value, and pulling one string field out of a flat object.
// Hand-written so the project stays dependency-free; not a general parser.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

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
