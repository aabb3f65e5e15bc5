// tokenizer/json.cpp: see json.h.
#include "json.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parse_hex4(std::string_view s, size_t at, unsigned* v) {
    if (at + 4 > s.size()) return false;
    *v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_value(s[at + k]);
        if (h < 0) return false;
        *v = (*v << 4) | (unsigned)h;
    }
    return true;
}

void append_utf8(std::string* out, unsigned cp) {
    if (cp < 0x80) {
        out->push_back((char)cp);
    } else if (cp < 0x800) {
        out->push_back((char)(0xC0 | (cp >> 6)));
        out->push_back((char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out->push_back((char)(0xE0 | (cp >> 12)));
        out->push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back((char)(0x80 | (cp & 0x3F)));
    } else {
        out->push_back((char)(0xF0 | (cp >> 18)));
        out->push_back((char)(0x80 | ((cp >> 12) & 0x3F)));
        out->push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back((char)(0x80 | (cp & 0x3F)));
    }
}

}  // namespace

void json_skip_ws(std::string_view s, size_t* pos) {
    while (*pos < s.size() && (s[*pos] == ' ' || s[*pos] == '\t' || s[*pos] == '\n' || s[*pos] == '\r')) (*pos)++;
}

bool json_parse_string(std::string_view s, size_t* pos, std::string* out) {
    size_t i = *pos;
    if (i >= s.size() || s[i] != '"') return false;
    i++;
    while (i < s.size()) {
        char c = s[i];
        if (c == '"') {
            *pos = i + 1;
            return true;
        }
        if ((unsigned char)c < 0x20) return false;  // raw control characters are not allowed in JSON strings
        if (c != '\\') {
            out->push_back(c);
            i++;
            continue;
        }
        if (i + 1 >= s.size()) return false;
        char e = s[i + 1];
        i += 2;
        switch (e) {
            case '"': out->push_back('"'); break;
            case '\\': out->push_back('\\'); break;
            case '/': out->push_back('/'); break;
            case 'b': out->push_back('\b'); break;
            case 'f': out->push_back('\f'); break;
            case 'n': out->push_back('\n'); break;
            case 'r': out->push_back('\r'); break;
            case 't': out->push_back('\t'); break;
            case 'u': {
                unsigned cp;
                if (!parse_hex4(s, i, &cp)) return false;
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u' && parse_hex4(s, i + 2, &lo) &&
                        lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    } else {
                        cp = 0xFFFD;  // a high surrogate without its pair has no UTF-8 form
                    }
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    cp = 0xFFFD;
                }
                append_utf8(out, cp);
                break;
            }
            default: return false;
        }
    }
    return false;  // no closing quote
}

bool json_skip_value(std::string_view s, size_t* pos, int depth) {
    if (depth <= 0) return false;
    json_skip_ws(s, pos);
    if (*pos >= s.size()) return false;
    char c = s[*pos];
    if (c == '"') {
        std::string scratch;
        return json_parse_string(s, pos, &scratch);
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        (*pos)++;
        json_skip_ws(s, pos);
        if (*pos < s.size() && s[*pos] == close) {
            (*pos)++;
            return true;
        }
        while (true) {
            if (c == '{') {
                std::string key;
                json_skip_ws(s, pos);
                if (!json_parse_string(s, pos, &key)) return false;
                json_skip_ws(s, pos);
                if (*pos >= s.size() || s[*pos] != ':') return false;
                (*pos)++;
            }
            if (!json_skip_value(s, pos, depth - 1)) return false;
            json_skip_ws(s, pos);
            if (*pos >= s.size()) return false;
            if (s[*pos] == ',') { (*pos)++; continue; }
            if (s[*pos] == close) { (*pos)++; return true; }
            return false;
        }
    }
    // number, true, false, null: a run of the characters they are made of
    size_t start = *pos;
    // s[*pos] != 0: strchr would find the terminator, letting NUL bytes pass for a value
    while (*pos < s.size() && s[*pos] != '\0' && strchr("0123456789+-.eEtruefalsn", s[*pos]) != nullptr) (*pos)++;
    return *pos > start;
}

bool json_get_string_field(std::string_view line, const char* key, std::string* out, std::string* err) {
    size_t pos = 0;
    json_skip_ws(line, &pos);
    if (pos >= line.size() || line[pos] != '{') {
        *err = "not a JSON object";
        return false;
    }
    pos++;
    bool found = false;
    json_skip_ws(line, &pos);
    if (pos < line.size() && line[pos] == '}') pos++;
    else {
        while (true) {
            std::string k;
            json_skip_ws(line, &pos);
            if (!json_parse_string(line, &pos, &k)) { *err = "malformed JSON (expected a field name)"; return false; }
            json_skip_ws(line, &pos);
            if (pos >= line.size() || line[pos] != ':') { *err = "malformed JSON (expected ':')"; return false; }
            pos++;
            json_skip_ws(line, &pos);
            if (k == key && !found) {
                if (pos >= line.size() || line[pos] != '"') { *err = std::string("field \"") + key + "\" is not a string"; return false; }
                out->clear();
                if (!json_parse_string(line, &pos, out)) { *err = std::string("malformed string in field \"") + key + "\""; return false; }
                found = true;
            } else if (!json_skip_value(line, &pos)) {
                *err = "malformed JSON value";
                return false;
            }
            json_skip_ws(line, &pos);
            if (pos < line.size() && line[pos] == ',') { pos++; continue; }
            if (pos < line.size() && line[pos] == '}') { pos++; break; }
            *err = "malformed JSON (expected ',' or '}')";
            return false;
        }
    }
    json_skip_ws(line, &pos);
    if (pos != line.size()) { *err = "trailing characters after the JSON object"; return false; }
    if (!found) { *err = std::string("no \"") + key + "\" field"; return false; }
    return true;
}

bool json_object_members(std::string_view s, size_t* pos, std::vector<JsonMember>* out, std::string* err) {
    auto fail = [&](const char* what) {
        *err = std::string(what) + " at byte " + std::to_string(*pos);
        return false;
    };
    out->clear();
    json_skip_ws(s, pos);
    if (*pos >= s.size() || s[*pos] != '{') return fail("expected '{' (a JSON object)");
    (*pos)++;
    json_skip_ws(s, pos);
    if (*pos < s.size() && s[*pos] == '}') {
        (*pos)++;
        return true;
    }
    while (true) {
        JsonMember m;
        json_skip_ws(s, pos);
        if (!json_parse_string(s, pos, &m.key)) return fail("expected a member name");
        json_skip_ws(s, pos);
        if (*pos >= s.size() || s[*pos] != ':') return fail("expected ':'");
        (*pos)++;
        json_skip_ws(s, pos);
        size_t start = *pos;
        if (!json_skip_value(s, pos)) return fail(("malformed value of \"" + m.key + "\"").c_str());
        m.value = s.substr(start, *pos - start);
        out->push_back(std::move(m));
        json_skip_ws(s, pos);
        if (*pos < s.size() && s[*pos] == ',') { (*pos)++; continue; }
        if (*pos < s.size() && s[*pos] == '}') { (*pos)++; return true; }
        return fail("expected ',' or '}'");
    }
}

const JsonMember* json_find(const std::vector<JsonMember>& members, const char* key) {
    for (const JsonMember& m : members)
        if (m.key == key) return &m;
    return nullptr;
}

bool json_number(std::string_view value, double* out) {
    // JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    size_t i = 0, n = value.size();
    auto digits = [&]() {
        size_t start = i;
        while (i < n && value[i] >= '0' && value[i] <= '9') i++;
        return i > start;
    };
    if (i < n && value[i] == '-') i++;
    if (i < n && value[i] == '0') i++;
    else if (!digits()) return false;
    if (i < n && value[i] == '.') {
        i++;
        if (!digits()) return false;
    }
    if (i < n && (value[i] == 'e' || value[i] == 'E')) {
        i++;
        if (i < n && (value[i] == '+' || value[i] == '-')) i++;
        if (!digits()) return false;
    }
    if (i != n) return false;
    *out = strtod(std::string(value).c_str(), nullptr);
    return true;
}

bool json_int_array(std::string_view value, std::vector<int64_t>* out) {
    out->clear();
    size_t pos = 0;
    if (value.empty() || value[0] != '[') return false;
    pos++;
    json_skip_ws(value, &pos);
    if (pos < value.size() && value[pos] == ']') return pos + 1 == value.size();
    while (true) {
        json_skip_ws(value, &pos);
        size_t start = pos;
        while (pos < value.size() && ((value[pos] >= '0' && value[pos] <= '9') || value[pos] == '-')) pos++;
        std::string_view num = value.substr(start, pos - start);
        double d;
        // integers only, and small enough to be exact in a double
        if (!json_number(num, &d) || d != (double)(int64_t)d || d > 9007199254740992.0 || d < -9007199254740992.0)
            return false;
        out->push_back((int64_t)d);
        json_skip_ws(value, &pos);
        if (pos < value.size() && value[pos] == ',') { pos++; continue; }
        if (pos < value.size() && value[pos] == ']') return pos + 1 == value.size();
        return false;
    }
}

std::string json_quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        unsigned char u = (unsigned char)c;
        if (c == '"') out += "\\\"";
        else if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (u < 0x20) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else out.push_back(c);
    }
    out += "\"";
    return out;
}
