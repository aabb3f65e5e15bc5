// common/gguf.h: a small, checked writer of GGUF v3, llama.cpp's model file.
// Only what an exporter needs: typed metadata, F32 and F16 tensors.
//
// Layout (little-endian; a "string" is uint64 length + bytes, no NUL):
//   uint32 magic 0x46554747 ("GGUF" in file order), uint32 version 3,
//   uint64 tensor count, uint64 metadata count
//   metadata, each: string key, uint32 value type, value
//     (an array value: uint32 element type, uint64 count, the elements)
//   tensor infos, each: string name, uint32 n_dims, uint64 dims[n_dims]
//     innermost first (a row-major (rows, cols) matrix is {cols, rows}),
//     uint32 ggml type, uint64 offset of its data from the data section
//   zero padding to general.alignment (32), then the data section: each
//   tensor's data at its offset, every offset a multiple of the alignment.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "util.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF files are written little-endian without byte swapping");

constexpr uint32_t GGUF_MAGIC = 0x46554747;  // the bytes "GGUF"
constexpr uint32_t GGUF_VERSION = 3;
constexpr uint32_t GGUF_ALIGNMENT = 32;  // llama.cpp's default general.alignment

// Metadata value types (gguf_type in ggml's gguf.h).
enum GgufType : uint32_t {
    GGUF_TYPE_UINT8 = 0, GGUF_TYPE_INT8 = 1, GGUF_TYPE_UINT16 = 2, GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4, GGUF_TYPE_INT32 = 5, GGUF_TYPE_FLOAT32 = 6, GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8, GGUF_TYPE_ARRAY = 9, GGUF_TYPE_UINT64 = 10, GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
};

// Tensor types (ggml_type); only the two an fp32 model exports to.
constexpr uint32_t GGML_TYPE_F32 = 0;
constexpr uint32_t GGML_TYPE_F16 = 1;

// general.file_type (llama_ftype): all F32, or F16 matrices with F32 norms.
constexpr uint32_t GGUF_FILE_TYPE_ALL_F32 = 0;
constexpr uint32_t GGUF_FILE_TYPE_MOSTLY_F16 = 1;

// IEEE half from float, rounded to nearest even; overflow gives ±inf, NaN stays NaN.
inline uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7FFFFFFFu;
    if (x >= 0x7F800000u) return (uint16_t)(sign | (x > 0x7F800000u ? 0x7E00u : 0x7C00u));
    if (x >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);  // ≥ 65520 rounds past the largest half
    if (x < 0x38800000u) {
        // below 2^-14: a half subnormal counts units of 2^-24; scaling by 2^24 is
        // exact and nearbyint rounds half to even in the default rounding mode
        float a;
        memcpy(&a, &x, 4);
        return (uint16_t)(sign | (uint32_t)std::nearbyint(a * 16777216.0f));
    }
    // rebias the exponent (127 → 15) and round the 13 dropped mantissa bits to nearest even
    x += 0xC8000FFFu + ((x >> 13) & 1u);
    return (uint16_t)(sign | (x >> 13));
}

struct GgufTensor {
    std::string name;
    std::vector<uint64_t> dims;  // innermost first
    uint32_t type = GGML_TYPE_F32;
    const float* data = nullptr;  // fp32 source, converted when type is F16
    size_t numel() const {
        size_t n = 1;
        for (uint64_t d : dims) n *= (size_t)d;
        return n;
    }
    size_t bytes() const { return numel() * (type == GGML_TYPE_F16 ? 2 : 4); }
};

// Metadata is serialised as it is added; tensors are written by gguf_write.
struct GgufWriter {
    std::vector<uint8_t> meta;
    uint64_t n_meta = 0;
    std::vector<GgufTensor> tensors;
};

inline void gguf_put_raw(std::vector<uint8_t>* b, const void* p, size_t n) {
    const uint8_t* s = (const uint8_t*)p;
    b->insert(b->end(), s, s + n);
}
inline void gguf_put_u32(std::vector<uint8_t>* b, uint32_t v) { gguf_put_raw(b, &v, 4); }
inline void gguf_put_u64(std::vector<uint8_t>* b, uint64_t v) { gguf_put_raw(b, &v, 8); }
inline void gguf_put_string(std::vector<uint8_t>* b, const std::string& s) {
    gguf_put_u64(b, s.size());
    gguf_put_raw(b, s.data(), s.size());
}

inline void gguf_key(GgufWriter* w, const std::string& key, GgufType type) {
    gguf_put_string(&w->meta, key);
    gguf_put_u32(&w->meta, type);
    w->n_meta++;
}
inline void gguf_add_u32(GgufWriter* w, const std::string& key, uint32_t v) {
    gguf_key(w, key, GGUF_TYPE_UINT32);
    gguf_put_u32(&w->meta, v);
}
inline void gguf_add_f32(GgufWriter* w, const std::string& key, float v) {
    gguf_key(w, key, GGUF_TYPE_FLOAT32);
    gguf_put_raw(&w->meta, &v, 4);
}
inline void gguf_add_bool(GgufWriter* w, const std::string& key, bool v) {
    gguf_key(w, key, GGUF_TYPE_BOOL);
    uint8_t b = v ? 1 : 0;
    gguf_put_raw(&w->meta, &b, 1);
}
inline void gguf_add_string(GgufWriter* w, const std::string& key, const std::string& v) {
    gguf_key(w, key, GGUF_TYPE_STRING);
    gguf_put_string(&w->meta, v);
}
inline void gguf_add_strings(GgufWriter* w, const std::string& key, const std::vector<std::string>& v) {
    gguf_key(w, key, GGUF_TYPE_ARRAY);
    gguf_put_u32(&w->meta, GGUF_TYPE_STRING);
    gguf_put_u64(&w->meta, v.size());
    for (const std::string& s : v) gguf_put_string(&w->meta, s);
}
inline void gguf_add_i32s(GgufWriter* w, const std::string& key, const std::vector<int32_t>& v) {
    gguf_key(w, key, GGUF_TYPE_ARRAY);
    gguf_put_u32(&w->meta, GGUF_TYPE_INT32);
    gguf_put_u64(&w->meta, v.size());
    gguf_put_raw(&w->meta, v.data(), v.size() * 4);
}

// dims innermost first; data must stay valid until gguf_write.
inline void gguf_add_tensor(GgufWriter* w, const std::string& name, std::vector<uint64_t> dims, uint32_t type,
                            const float* data) {
    w->tensors.push_back(GgufTensor{name, std::move(dims), type, data});
}

inline uint64_t gguf_align(uint64_t x) { return (x + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT; }

// Writes the file atomically (path.tmp, then rename); dies on any I/O error.
inline void gguf_write(const GgufWriter& w, const std::string& path) {
    std::vector<uint8_t> head;
    gguf_put_u32(&head, GGUF_MAGIC);
    gguf_put_u32(&head, GGUF_VERSION);
    gguf_put_u64(&head, w.tensors.size());
    gguf_put_u64(&head, w.n_meta);
    head.insert(head.end(), w.meta.begin(), w.meta.end());
    uint64_t offset = 0;
    for (const GgufTensor& t : w.tensors) {
        gguf_put_string(&head, t.name);
        gguf_put_u32(&head, (uint32_t)t.dims.size());
        for (uint64_t d : t.dims) gguf_put_u64(&head, d);
        gguf_put_u32(&head, t.type);
        gguf_put_u64(&head, offset);
        offset = gguf_align(offset + t.bytes());
    }
    head.resize(gguf_align(head.size()), 0);
    write_file_atomic(path, [&](FILE* f, const char* tmp) {
        fwrite_check(head.data(), 1, head.size(), f, tmp);
        static const uint8_t zeros[GGUF_ALIGNMENT] = {0};
        std::vector<uint16_t> half;
        for (const GgufTensor& t : w.tensors) {
            size_t n = t.numel();
            if (t.type == GGML_TYPE_F16) {
                half.resize(n);
                for (size_t i = 0; i < n; i++) half[i] = float_to_half(t.data[i]);
                fwrite_check(half.data(), 2, n, f, tmp);
            } else {
                fwrite_check(t.data, 4, n, f, tmp);
            }
            size_t pad = gguf_align(t.bytes()) - t.bytes();
            if (pad) fwrite_check(zeros, 1, pad, f, tmp);
        }
    });
}
