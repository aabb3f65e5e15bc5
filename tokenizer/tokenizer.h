// tokenizer/tokenizer.h: byte-level BPE tokenizer (our own vocabularies and
// GPT-2's), its binary file format, encode/decode and training.
//
// INTERFACE CONTRACT (used by train_llama.cpp, prepro and tests; keep these
// names and meanings, extend freely):
//   - ids 0..vocab_size-1; tokens[id] is the exact byte string id decodes to
//     (special tokens decode to their literal text, e.g. "<|endoftext|>").
//   - eot_id is the id of <|endoftext|>, or -1 if the vocabulary has none.
//   - tokenizer_load() reads our file format, or llm.c's gpt2_tokenizer.bin
//     (decode-only: can_encode is false). It returns false and sets *err to a
//     message naming the file and the problem; it never exits or crashes on a
//     corrupt file (the fuzzer relies on that).
//
// ALGORITHM
//   Text is first cut into chunks by GPT-2's pre-tokenizer pattern
//       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   implemented by hand (pretokenize.cpp). Code points are classified with
//   tables generated from the Unicode database (unicode_tables.h, by
//   gen_unicode_tables.py): \p{L} = categories L*, \p{N} = N*, \s = the
//   White_Space property, exactly what tiktoken's regex uses. Bytes that are
//   not valid UTF-8 (stray continuation bytes, overlong forms, surrogates,
//   truncated sequences) count as one punctuation character each, so any
//   byte string splits into chunks and round-trips exactly.
//   Each chunk starts as one id per byte (byte_to_id) and the adjacent pair
//   with the lowest merge rank is merged (leftmost first on ties) until no
//   pair has a rank; this equals GPT-2's encoder.py. Chunks never merge
//   across each other; <|endoftext|> is never produced by merging.
//
// OUR ID LAYOUT (trained vocabularies): ids 0..255 are the raw bytes, then
//   one id per merge in merge order (id 256 + r for merge rank r), then
//   <|endoftext|> as the last id: vocab 4096 = 256 + 3839 merges + 1.
//   GPT-2's vocabulary (50257 = 256 + 50000 + 1, eot 50256) uses its own
//   byte order, hence the general byte_to_id table and explicit merge results.
//
// FILE FORMAT (tokenizer.bin, TOKENIZER_MAGIC, version 1). Little-endian int32
// throughout; the file size is checked exactly before anything is read:
//   header, 256 int32:
//     [0] TOKENIZER_MAGIC (20261124)
//     [1] TOKENIZER_VERSION (1)
//     [2] vocab_size V               1 <= V <= TOKENIZER_MAX_VOCAB
//     [3] eot_id                     -1 (none) or 0..V-1
//     [4] n_merges M                 0 <= M <= V - 256
//     [5] total bytes of all tokens  (sum of the lengths below)
//     [6..255] reserved, must be 0
//   byte table, 256 int32: byte_to_id[b], the id of the single byte b
//   tokens, V times: int32 length L (1..TOKENIZER_MAX_TOKEN_BYTES), L bytes
//   merges, M times: int32 left, int32 right, int32 result; rank = position.
//   File size = 2048 + 4V + header[5] + 12M.
// Loading checks that every id is exactly one of: a byte id, the result of
// one merge, or eot; that tokens[byte_to_id[b]] is the byte b; that a merge
// only uses ids defined by the byte table or an earlier merge; that
// tokens[result] == tokens[left] + tokens[right]; and no (left,right) repeats.
//
// llm.c's gpt2_tokenizer.bin (decode-only): header 256 uint32, [0]=20240328,
// [1]=version 1 or 2, [2]=vocab size, [3]=eot id (version 2; version 1 means
// eot 50256 when the vocab is 50257, else none); then per token a uint8
// length (1..255) and that many bytes; nothing after.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

constexpr int TOKENIZER_MAGIC = 20261124;    // our tokenizer.bin
constexpr int TOKENIZER_VERSION = 1;
constexpr int LLMC_TOKENIZER_MAGIC = 20240328;  // llm.c's gpt2_tokenizer.bin
constexpr int TOKENIZER_HEADER_INTS = 256;
// Limits of our format: they bound what a corrupt header can make us allocate.
constexpr int TOKENIZER_MAX_VOCAB = 1 << 20;
constexpr int TOKENIZER_MAX_TOKEN_BYTES = 1 << 16;
constexpr const char* EOT_TEXT = "<|endoftext|>";
constexpr int GPT2_EOT_ID = 50256;

// One BPE merge: the adjacent pair (left, right) becomes result.
struct BpeMerge {
    int left, right, result;
};

struct Tokenizer {
    int vocab_size = 0;
    int eot_id = -1;
    bool can_encode = false;               // false for decode-only files
    std::vector<std::string> tokens;       // bytes of each id
    // Encoding tables (filled when can_encode is true):
    std::array<int, 256> byte_to_id{};     // id of each single byte
    std::vector<BpeMerge> merges;          // index is the rank: lower merges first
    std::unordered_map<uint64_t, int> merge_rank;  // (left << 32 | right) -> rank
};

// ---- loading and saving -----------------------------------------------------

bool tokenizer_load(Tokenizer* tok, const std::string& path, std::string* err);
// Same as tokenizer_load on bytes already in memory; `name` is used in messages.
bool tokenizer_load_memory(Tokenizer* tok, const uint8_t* data, size_t n, const std::string& name, std::string* err);
// GPT-2's vocabulary from OpenAI's encoder.json + vocab.bpe.
bool tokenizer_load_gpt2(Tokenizer* tok, const std::string& encoder_json, const std::string& vocab_bpe,
                         std::string* err);
// Convenience: <dir>/encoder.json and <dir>/vocab.bpe.
bool tokenizer_load_gpt2_dir(Tokenizer* tok, const std::string& dir, std::string* err);
// GPT-2's byte alphabet (its bytes_to_unicode): the code point that stands for
// each byte in encoder.json, vocab.bpe and the byte-level BPE files of
// Hugging Face tokenizers and GGUF.
std::vector<unsigned> gpt2_byte_to_codepoint();
// A token's bytes written in that alphabet, as UTF-8.
std::string gpt2_byte_string(std::string_view bytes);
// Our file format as bytes (tok must be encodable).
std::vector<uint8_t> tokenizer_serialize(const Tokenizer& tok);
// Writes our file format atomically; dies with a message on an I/O error.
void tokenizer_save(const Tokenizer& tok, const std::string& path);
// Validates tokens/byte_to_id/merges/eot_id (see FILE FORMAT) and builds
// merge_rank; sets can_encode. Used by every loader and by the trainer.
bool tokenizer_finalize(Tokenizer* tok, const std::string& name, std::string* err);

// ---- pre-tokenizer ----------------------------------------------------------

// End (exclusive) of the pre-tokenizer chunk that starts at byte i < n.
size_t pretokenize_next(const char* s, size_t n, size_t i);
std::vector<std::string> pretokenize(std::string_view text);
// Number of invalid UTF-8 sequences in text (each is encoded byte by byte).
size_t utf8_count_invalid(std::string_view text);

// ---- encoding and decoding --------------------------------------------------

// Encodes text. With allow_special, the literal "<|endoftext|>" becomes
// eot_id; otherwise it is ordinary text (like tiktoken's encode_ordinary).
// nthreads: 1 = sequential; 0 = all OpenMP threads. Texts over 1 MB are cut
// at boundaries the pre-tokenizer would cut anyway, so every thread count
// gives the same ids. Requires tok.can_encode.
std::vector<int> tokenizer_encode(const Tokenizer& tok, std::string_view text, bool allow_special = false,
                                  int nthreads = 0);
// Encodes each document, putting prefix_id (if >= 0) before each one, and
// returns the concatenation in document order; documents are spread over
// the OpenMP threads, the result is the same for any thread count.
std::vector<int> tokenizer_encode_docs(const Tokenizer& tok, const std::vector<std::string_view>& docs,
                                       int prefix_id);
// BPE of one pre-tokenized chunk, appended to *out. algo: 0 = automatic,
// 1 = quadratic scan, 2 = heap (what long chunks use); exposed for tests.
void tokenizer_bpe_chunk(const Tokenizer& tok, const char* s, size_t n, std::vector<int>* out, int algo = 0);

std::string tokenizer_decode(const Tokenizer& tok, const int* ids, size_t n);  // bad ids decode to U+FFFD
// Like tokenizer_decode, but an id outside 0..vocab_size-1 is an error.
bool tokenizer_decode_checked(const Tokenizer& tok, const int* ids, size_t n, std::string* out, std::string* err);

// ---- documents and training -------------------------------------------------

// Splits text at every "<|endoftext|>", strips surrounding whitespace from
// each piece and drops empty ones. Views point into text.
std::vector<std::string_view> split_documents(std::string_view text);

using ChunkCounts = std::unordered_map<std::string, int64_t>;
// Adds the pre-tokenizer chunks of every document to *counts (OpenMP).
void count_chunks(ChunkCounts* counts, const std::vector<std::string_view>& docs);

struct TrainOptions {
    int vocab_size = 4096;      // 256 bytes + merges + <|endoftext|>
    int64_t min_frequency = 2;  // stop early when the best pair is rarer than this
    bool verbose = false;       // progress lines on stdout
};
// Classic BPE over the chunk counts: repeatedly merge the most frequent
// adjacent pair (ties: smallest left id, then smallest right id), keeping
// pair counts and a pair -> chunks index up to date incrementally. Produces
// our id layout. The vocabulary is smaller than asked when no pair occurs
// min_frequency times any more (reported with verbose). False + *err on
// an impossible vocab_size.
bool tokenizer_train(Tokenizer* tok, const ChunkCounts& counts, const TrainOptions& opt, std::string* err);
