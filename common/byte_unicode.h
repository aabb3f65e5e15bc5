// common/byte_unicode.h: GPT-2's bytes_to_unicode, the printable form in
// which byte-level BPE vocabularies store their tokens (encoder.json, HF's
// tokenizer.json, GGUF's tokenizer.ggml.tokens and merges).
//
// Every byte becomes one code point: the 188 bytes that are printable in
// Latin-1 ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves, the other 68
// (controls, space, DEL, NBSP, soft hyphen) get U+0100, U+0101, ... in byte
// order. So a space is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A), and no token
// string contains a real space: merges can be written as "left right".
#pragma once
#include <string>

// The code point byte b stands for.
inline int byte_unicode_codepoint(int b) {
    auto printable = [](int c) { return (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF); };
    if (printable(b)) return b;
    int n = 0;  // how many non-printable bytes come before b
    for (int c = 0; c < b; c++)
        if (!printable(c)) n++;
    return 256 + n;
}

// The token's bytes in bytes_to_unicode form, as UTF-8 (each code point is < U+0800: one or two bytes).
inline std::string bytes_to_unicode(const std::string& bytes) {
    static const std::string table = [] {
        std::string t;  // 256 entries of 2 bytes each; 1-byte code points padded with a NUL
        for (int b = 0; b < 256; b++) {
            int cp = byte_unicode_codepoint(b);
            if (cp < 0x80) {
                t += (char)cp;
                t += '\0';
            } else {
                t += (char)(0xC0 | (cp >> 6));
                t += (char)(0x80 | (cp & 0x3F));
            }
        }
        return t;
    }();
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) {
        out += table[2 * b];
        if (table[2 * b + 1] != '\0') out += table[2 * b + 1];
    }
    return out;
}
