// tokenizer/bpe.cpp: validation of a vocabulary, BPE encoding and decoding.
#include <climits>
#include <cstring>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tokenizer.h"

namespace {

inline uint64_t pair_key(int left, int right) { return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right; }

inline int rank_of(const Tokenizer& tok, int left, int right) {
    auto it = tok.merge_rank.find(pair_key(left, right));
    return it == tok.merge_rank.end() ? INT_MAX : it->second;
}

// Chunks up to this length use the quadratic scan: with a handful of ids it
// beats the heap's bookkeeping. Longer ones (long runs of spaces, letters or
// punctuation) would be O(n^2) with it.
constexpr size_t NAIVE_MAX = 48;

void bpe_naive(const Tokenizer& tok, const unsigned char* s, size_t n, std::vector<int>* out) {
    std::vector<int> ids(n);
    for (size_t i = 0; i < n; i++) ids[i] = tok.byte_to_id[s[i]];
    while (ids.size() > 1) {
        int best = INT_MAX;
        size_t at = 0;
        for (size_t i = 0; i + 1 < ids.size(); i++) {
            int r = rank_of(tok, ids[i], ids[i + 1]);
            if (r < best) { best = r; at = i; }  // strict <: the leftmost of equal ranks wins
        }
        if (best == INT_MAX) break;
        ids[at] = tok.merges[best].result;
        ids.erase(ids.begin() + at + 1);
    }
    out->insert(out->end(), ids.begin(), ids.end());
}

// Same decisions as bpe_naive (lowest rank, then leftmost) in O(n log n):
// a doubly linked list of live positions and a min-heap of (rank, position)
// whose stale entries are skipped when popped.
void bpe_heap(const Tokenizer& tok, const unsigned char* s, size_t n, std::vector<int>* out) {
    std::vector<int> ids(n), prev(n), next(n);
    for (size_t i = 0; i < n; i++) {
        ids[i] = tok.byte_to_id[s[i]];
        prev[i] = (int)i - 1;
        next[i] = i + 1 < n ? (int)i + 1 : -1;
    }
    using Entry = std::pair<int, int>;  // (rank, position); std::greater makes it a min-heap
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    for (size_t i = 0; i + 1 < n; i++) {
        int r = rank_of(tok, ids[i], ids[i + 1]);
        if (r != INT_MAX) heap.push({r, (int)i});
    }
    std::vector<char> dead(n, 0);
    while (!heap.empty()) {
        auto [r, i] = heap.top();
        heap.pop();
        int j = next[i];
        // A rank names a unique (left, right) pair, so equal rank means the entry is current.
        if (dead[i] || j < 0 || rank_of(tok, ids[i], ids[j]) != r) continue;
        ids[i] = tok.merges[r].result;
        dead[j] = 1;
        next[i] = next[j];
        if (next[j] >= 0) prev[next[j]] = i;
        if (prev[i] >= 0) {
            int rp = rank_of(tok, ids[prev[i]], ids[i]);
            if (rp != INT_MAX) heap.push({rp, prev[i]});
        }
        if (next[i] >= 0) {
            int rn = rank_of(tok, ids[i], ids[next[i]]);
            if (rn != INT_MAX) heap.push({rn, i});
        }
    }
    for (int i = 0; i >= 0; i = next[i]) out->push_back(ids[i]);
}

// Encodings of chunks already seen; each thread owns one, so no locking.
// Bounded so a huge input of distinct chunks cannot grow it without limit.
struct ChunkCache {
    std::unordered_map<std::string, std::vector<int>> map;
    static constexpr size_t MAX_ENTRIES = 1 << 20;
    static constexpr size_t MAX_KEY = 64;
};

void encode_ordinary(const Tokenizer& tok, std::string_view text, ChunkCache* cache, std::vector<int>* out) {
    const char* s = text.data();
    size_t n = text.size();
    std::string key;
    for (size_t i = 0; i < n;) {
        size_t j = pretokenize_next(s, n, i);
        size_t len = j - i;
        if (len == 1) {
            out->push_back(tok.byte_to_id[(unsigned char)s[i]]);
        } else if (len > ChunkCache::MAX_KEY) {
            tokenizer_bpe_chunk(tok, s + i, len, out);
        } else {
            key.assign(s + i, len);
            auto it = cache->map.find(key);
            if (it != cache->map.end()) {
                out->insert(out->end(), it->second.begin(), it->second.end());
            } else {
                size_t start = out->size();
                tokenizer_bpe_chunk(tok, s + i, len, out);
                if (cache->map.size() < ChunkCache::MAX_ENTRIES)
                    cache->map.emplace(key, std::vector<int>(out->begin() + start, out->end()));
            }
        }
        i = j;
    }
}

int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

inline bool ascii_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Cuts text into pieces of about `target` bytes at positions p where s[p] is
// '\n' and s[p-1] is ASCII non-whitespace. Every chunk left of p ends at p
// (no pattern alternative runs from non-space into '\n', and the lookahead
// of \s+(?!\S) stays left of p), and a chunk starting at p only reads
// rightwards, so the pieces pre-tokenize exactly as the whole text does.
std::vector<std::string_view> safe_pieces(std::string_view text, size_t target) {
    std::vector<std::string_view> pieces;
    size_t start = 0, n = text.size();
    const unsigned char* s = (const unsigned char*)text.data();
    while (n - start > target) {
        size_t p = start + target;
        while (p < n && !(s[p] == '\n' && s[p - 1] < 0x80 && !ascii_space(s[p - 1]))) p++;
        if (p >= n) break;
        pieces.push_back(text.substr(start, p - start));
        start = p;
    }
    pieces.push_back(text.substr(start));
    return pieces;
}

}  // namespace

void tokenizer_bpe_chunk(const Tokenizer& tok, const char* s, size_t n, std::vector<int>* out, int algo) {
    const unsigned char* u = (const unsigned char*)s;
    if (n == 0) return;
    if (algo == 1 || (algo == 0 && n <= NAIVE_MAX)) bpe_naive(tok, u, n, out);
    else bpe_heap(tok, u, n, out);
}

std::vector<int> tokenizer_encode(const Tokenizer& tok, std::string_view text, bool allow_special, int nthreads) {
    std::vector<int> out;
    if (!tok.can_encode) return out;
    // Ordinary segments between specials; each is encoded on its own.
    std::vector<std::string_view> segments;
    std::vector<char> eot_after;
    size_t pos = 0;
    const size_t eot_len = strlen(EOT_TEXT);
    if (allow_special && tok.eot_id >= 0) {
        for (size_t k; (k = text.find(EOT_TEXT, pos)) != std::string_view::npos; pos = k + eot_len) {
            segments.push_back(text.substr(pos, k - pos));
            eot_after.push_back(1);
        }
    }
    segments.push_back(text.substr(pos));
    eot_after.push_back(0);

    if (nthreads == 0) nthreads = max_threads();
    constexpr size_t PIECE = 1 << 20;
    for (size_t g = 0; g < segments.size(); g++) {
        std::string_view seg = segments[g];
        if (nthreads <= 1 || seg.size() <= PIECE) {
            ChunkCache cache;
            encode_ordinary(tok, seg, &cache, &out);
        } else {
            std::vector<std::string_view> pieces = safe_pieces(seg, PIECE);
            std::vector<std::vector<int>> results(pieces.size());
#pragma omp parallel num_threads(nthreads)
            {
                ChunkCache cache;
#pragma omp for schedule(dynamic, 1)
                for (long p = 0; p < (long)pieces.size(); p++) encode_ordinary(tok, pieces[p], &cache, &results[p]);
            }
            for (auto& r : results) out.insert(out.end(), r.begin(), r.end());
        }
        if (eot_after[g]) out.push_back(tok.eot_id);
    }
    return out;
}

std::vector<int> tokenizer_encode_docs(const Tokenizer& tok, const std::vector<std::string_view>& docs, int prefix_id) {
    std::vector<int> out;
    if (!tok.can_encode || docs.empty()) return out;
    // Groups of consecutive documents of ~256 KB: small enough to balance the
    // threads, large enough that the per-group vectors cost nothing.
    std::vector<size_t> group_start{0};
    size_t bytes = 0;
    for (size_t d = 0; d < docs.size(); d++) {
        bytes += docs[d].size();
        if (bytes >= (1u << 18) && d + 1 < docs.size()) {
            group_start.push_back(d + 1);
            bytes = 0;
        }
    }
    group_start.push_back(docs.size());
    size_t ngroups = group_start.size() - 1;
    std::vector<std::vector<int>> results(ngroups);
#pragma omp parallel
    {
        ChunkCache cache;
#pragma omp for schedule(dynamic, 1)
        for (long g = 0; g < (long)ngroups; g++) {
            for (size_t d = group_start[g]; d < group_start[g + 1]; d++) {
                if (prefix_id >= 0) results[g].push_back(prefix_id);
                encode_ordinary(tok, docs[d], &cache, &results[g]);
            }
        }
    }
    size_t total = 0;
    for (auto& r : results) total += r.size();
    out.reserve(total);
    for (auto& r : results) out.insert(out.end(), r.begin(), r.end());
    return out;
}

std::string tokenizer_decode(const Tokenizer& tok, const int* ids, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        if (id >= 0 && id < (int)tok.tokens.size()) out += tok.tokens[id];
        else out += "\xEF\xBF\xBD";  // U+FFFD: visible, and decoding must not fail
    }
    return out;
}

bool tokenizer_decode_checked(const Tokenizer& tok, const int* ids, size_t n, std::string* out, std::string* err) {
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= (int)tok.tokens.size()) {
            *err = "token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                   " is outside the vocabulary (0.." + std::to_string((int)tok.tokens.size() - 1) + ")";
            return false;
        }
    }
    *out = tokenizer_decode(tok, ids, n);
    return true;
}

bool tokenizer_finalize(Tokenizer* tok, const std::string& name, std::string* err) {
    auto fail = [&](const std::string& msg) {
        *err = name + ": " + msg;
        tok->can_encode = false;
        return false;
    };
    const int V = tok->vocab_size;
    tok->can_encode = false;
    tok->merge_rank.clear();
    if (V < 256 || V > TOKENIZER_MAX_VOCAB)
        return fail("vocab size " + std::to_string(V) + " out of range, expected 256.." +
                    std::to_string(TOKENIZER_MAX_VOCAB) + " for an encodable vocabulary");
    if ((int)tok->tokens.size() != V)
        return fail(std::to_string(tok->tokens.size()) + " token strings for vocab size " + std::to_string(V));
    if (tok->eot_id < -1 || tok->eot_id >= V)
        return fail("eot id " + std::to_string(tok->eot_id) + " out of range, expected -1.." + std::to_string(V - 1));
    if ((long long)tok->merges.size() > (long long)V - 256)
        return fail(std::to_string(tok->merges.size()) + " merges cannot fit a vocab of " + std::to_string(V));
    // Every id must be defined exactly once: as a byte, a merge result or eot.
    std::vector<char> defined(V, 0);
    for (int b = 0; b < 256; b++) {
        int id = tok->byte_to_id[b];
        if (id < 0 || id >= V) return fail("byte " + std::to_string(b) + " maps to id " + std::to_string(id) + ", out of range");
        if (defined[id]) return fail("id " + std::to_string(id) + " is given to two bytes");
        if (tok->tokens[id].size() != 1 || (unsigned char)tok->tokens[id][0] != b)
            return fail("byte " + std::to_string(b) + " maps to id " + std::to_string(id) +
                        " whose token is not that single byte");
        defined[id] = 1;
    }
    if (tok->eot_id >= 0) {
        if (defined[tok->eot_id]) return fail("eot id " + std::to_string(tok->eot_id) + " is also a byte id");
        defined[tok->eot_id] = 2;
    }
    tok->merge_rank.reserve(tok->merges.size() * 2);
    for (size_t r = 0; r < tok->merges.size(); r++) {
        const BpeMerge& m = tok->merges[r];
        std::string where = "merge " + std::to_string(r) + " (" + std::to_string(m.left) + ", " +
                            std::to_string(m.right) + " -> " + std::to_string(m.result) + ")";
        if (m.left < 0 || m.left >= V || m.right < 0 || m.right >= V || m.result < 0 || m.result >= V)
            return fail(where + " refers to an id outside 0.." + std::to_string(V - 1));
        if (defined[m.left] != 1 || defined[m.right] != 1)
            return fail(where + " uses an id that is not a byte or an earlier merge's result");
        if (defined[m.result]) return fail(where + " produces an id that is already defined");
        const std::string& L = tok->tokens[m.left];
        const std::string& R = tok->tokens[m.right];
        const std::string& T = tok->tokens[m.result];
        if (T.size() != L.size() + R.size() || T.compare(0, L.size(), L) != 0 || T.compare(L.size(), R.size(), R) != 0)
            return fail(where + ": token bytes of the result are not left + right");
        if (!tok->merge_rank.emplace(pair_key(m.left, m.right), (int)r).second)
            return fail(where + " repeats an earlier pair");
        defined[m.result] = 1;
    }
    for (int id = 0; id < V; id++)
        if (!defined[id]) return fail("id " + std::to_string(id) + " is neither a byte, a merge result nor eot");
    tok->can_encode = true;
    return true;
}

std::vector<std::string_view> split_documents(std::string_view text) {
    std::vector<std::string_view> docs;
    const size_t eot_len = strlen(EOT_TEXT);
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t k = text.find(EOT_TEXT, pos);
        if (k == std::string_view::npos) k = text.size();
        size_t a = pos, b = k;
        while (a < b && ascii_space((unsigned char)text[a])) a++;
        while (b > a && ascii_space((unsigned char)text[b - 1])) b--;
        if (b > a) docs.push_back(text.substr(a, b - a));
        pos = k + eot_len;
    }
    return docs;
}
