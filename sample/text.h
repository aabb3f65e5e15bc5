// sample/text.h: the text side of build/sample: streaming decoded bytes
// without splitting a UTF-8 character, reading whole files, and turning a
// text file into tokens the way prepro does.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "../common/util.h"
#include "../tokenizer/tokenizer.h"

// Length of the prefix of buf that can be printed now: all of it but a
// trailing UTF-8 character whose lead byte announces more continuation bytes
// than have arrived. A token can end inside a character (byte-level BPE cuts
// anywhere), and a terminal shows half a character as garbage. Bytes that can
// never become a character (a stray continuation byte, 0xF8..0xFF) are not
// held: the text is printed byte for byte as the model wrote it.
inline size_t utf8_printable_prefix(const std::string& buf) {
    size_t n = buf.size();
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)buf[n - back];
        if ((c & 0xC0) == 0x80) continue;  // a continuation byte: its lead is further back
        size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

// Tokens of a text file as prepro writes them to a shard: stories split at
// <|endoftext|>, trimmed, empty ones dropped, each preceded by <|endoftext|>
// (when the tokenizer has one). *stories gets the number of stories.
inline std::vector<int> tokenize_stories(const Tokenizer& tok, const std::string& text, size_t* stories) {
    std::vector<std::string_view> docs = split_documents(text);
    *stories = docs.size();
    return tokenizer_encode_docs(tok, docs, tok.eot_id);
}
