// tokenizer/pretokenize.cpp: GPT-2's pre-tokenizer pattern, by hand.
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// A regex engine is not needed: at any position exactly one alternative
// applies, decided by the first one or two characters, and each alternative
// is a greedy run of one character class. The only backtracking is in
// \s+(?!\S), which gives back the last whitespace character of a run that is
// followed by a non-space, so that character can start the next chunk
// (" world" keeps its space).
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer.h"
#include "unicode_tables.h"

namespace {

// ASCII classes: \s is \t \n \v \f \r and space (0x1C..0x1F are not
// White_Space, unlike Python's str.isspace).
struct AsciiClasses {
    uint8_t cls[128];
    constexpr AsciiClasses() : cls() {
        for (int c = 0; c < 128; c++) {
            uint8_t k = UCLASS_OTHER;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k = UCLASS_LETTER;
            else if (c >= '0' && c <= '9') k = UCLASS_NUMBER;
            else if (c == ' ' || (c >= '\t' && c <= '\r')) k = UCLASS_SPACE;
            cls[c] = k;
        }
    }
};
constexpr AsciiClasses ASCII;

uint8_t codepoint_class(uint32_t cp) {
    int lo = 0, hi = UNICODE_RANGES_N - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < UNICODE_RANGES[mid].lo) hi = mid - 1;
        else if (cp > UNICODE_RANGES[mid].hi) lo = mid + 1;
        else return UNICODE_RANGES[mid].cls;
    }
    return UCLASS_OTHER;
}

// Decodes the UTF-8 sequence at s[i] (i < n). Returns the code point and its
// byte length, or -1 with length 1 for an invalid sequence (overlong form,
// surrogate, > U+10FFFF, stray or missing continuation byte): the caller then
// treats that single byte as punctuation.
inline int32_t utf8_decode(const unsigned char* s, size_t n, size_t i, size_t* len) {
    unsigned c = s[i];
    *len = 1;
    if (c < 0x80) return (int32_t)c;
    size_t need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
    else return -1;  // continuation byte, 0xC0/0xC1 (always overlong) or 0xF5..0xFF
    if (n - i <= need) return -1;  // truncated at the end of the text
    for (size_t k = 1; k <= need; k++) {
        unsigned cc = s[i + k];
        if ((cc & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    *len = need + 1;
    return (int32_t)cp;
}

// Class of the character at s[i] and its length in bytes.
inline uint8_t class_at(const unsigned char* s, size_t n, size_t i, size_t* len) {
    if (s[i] < 0x80) {
        *len = 1;
        return ASCII.cls[s[i]];
    }
    int32_t cp = utf8_decode(s, n, i, len);
    return cp < 0 ? (uint8_t)UCLASS_OTHER : codepoint_class((uint32_t)cp);
}

}  // namespace

size_t pretokenize_next(const char* str, size_t n, size_t i) {
    const unsigned char* s = (const unsigned char*)str;
    unsigned char c = s[i];
    // 's|'t|'re|'ve|'m|'ll|'d (lower case only, as in GPT-2)
    if (c == '\'' && i + 1 < n) {
        unsigned char c1 = s[i + 1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
        if (i + 2 < n) {
            unsigned char c2 = s[i + 2];
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
        }
    }
    size_t len;
    uint8_t cls = class_at(s, n, i, &len);
    size_t run = i;  // where the class run starts: after an optional leading space
    if (c == ' ' && i + 1 < n) {
        size_t len1;
        uint8_t cls1 = class_at(s, n, i + 1, &len1);
        if (cls1 != UCLASS_SPACE) {
            run = i + 1;
            cls = cls1;
            len = len1;
        }
    }
    if (cls != UCLASS_SPACE) {
        // ' ?\p{L}+', ' ?\p{N}+' or ' ?[^\s\p{L}\p{N}]+': a greedy run of one class
        size_t k = run + len;
        while (k < n) {
            size_t l;
            if (class_at(s, n, k, &l) != cls) break;
            k += l;
        }
        return k;
    }
    // Whitespace at i: find the whole run.
    size_t k = i, last = i, count = 0;
    while (k < n) {
        size_t l;
        if (class_at(s, n, k, &l) != UCLASS_SPACE) break;
        last = k;
        k += l;
        count++;
    }
    if (k == n) return n;         // \s+(?!\S) at the end of the text takes it all
    if (count >= 2) return last;  // \s+(?!\S) backs off one character before a non-space
    return k;                     // a single whitespace char before a non-space: \s+
}

std::vector<std::string> pretokenize(std::string_view text) {
    std::vector<std::string> out;
    for (size_t i = 0; i < text.size();) {
        size_t j = pretokenize_next(text.data(), text.size(), i);
        out.emplace_back(text.substr(i, j - i));
        i = j;
    }
    return out;
}

size_t utf8_count_invalid(std::string_view text) {
    const unsigned char* s = (const unsigned char*)text.data();
    size_t n = text.size(), bad = 0;
    for (size_t i = 0; i < n;) {
        size_t len;
        if (utf8_decode(s, n, i, &len) < 0) bad++;
        i += len;
    }
    return bad;
}
