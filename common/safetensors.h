// common/safetensors.h: the safetensors file (Hugging Face's model.safetensors),
// written by us (F32) and read (F32, BF16, F16 converted to fp32).
//
// Layout (little-endian):
//   uint64 N                      length of the JSON header in bytes
//   N bytes of JSON:              {"__metadata__": {"format": "pt"},
//                                  "<name>": {"dtype": "F32", "shape": [d0, d1, ...],
//                                             "data_offsets": [begin, end]}, ...}
//                                 padded with spaces so that the data starts at a
//                                 multiple of 8 bytes
//   the data:                     each tensor row-major, [begin, end) counted from the
//                                 start of the data; tensors contiguous, no gaps, no overlap
// The reader checks all of that and that end - begin = numel · dtype size.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../tokenizer/json.h"
#include "util.h"

constexpr uint64_t SAFETENSORS_MAX_HEADER = 100u << 20;  // the format's own limit (100 MB)

// A tensor to write, as F32: its name and shape; the data comes from the
// writer's fill callback, so a writer needs one tensor's memory at a time,
// not a copy of the whole model.
struct SafetensorsOut {
    std::string name;
    std::vector<int64_t> shape;
};

inline size_t shape_numel(const std::vector<int64_t>& shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= (size_t)d;
    return n;
}

// The JSON header for F32 tensors laid out in the given order, padded so
// that 8 + its length is a multiple of 8.
inline std::string safetensors_header(const std::vector<SafetensorsOut>& tensors) {
    std::string h = "{\"__metadata__\":{\"format\":\"pt\"}";
    size_t offset = 0;
    for (const SafetensorsOut& t : tensors) {
        size_t bytes = shape_numel(t.shape) * sizeof(float);
        h += "," + json_quote(t.name) + ":{\"dtype\":\"F32\",\"shape\":[";
        for (size_t d = 0; d < t.shape.size(); d++) h += (d ? "," : "") + std::to_string(t.shape[d]);
        h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
        offset += bytes;
    }
    h += "}";
    while ((8 + h.size()) % 8 != 0) h += ' ';
    return h;
}

// Writes the tensors as F32 in the given order, atomically (temp file +
// rename). fill(i, dst) writes tensor i's numel floats, row-major, into dst.
template <typename Fill>
void safetensors_write(const std::string& path, const std::vector<SafetensorsOut>& tensors, Fill fill) {
    std::string header = safetensors_header(tensors);
    write_file_atomic(path, [&](FILE* f, const char* tmp) {
        uint64_t n = header.size();
        fwrite_check(&n, sizeof n, 1, f, tmp);
        fwrite_check(header.data(), 1, header.size(), f, tmp);
        std::vector<float> buf;
        for (size_t i = 0; i < tensors.size(); i++) {
            buf.assign(shape_numel(tensors[i].shape), 0.0f);
            fill(i, buf.data());
            fwrite_check(buf.data(), sizeof(float), buf.size(), f, tmp);
        }
    });
}

// ----------------------------------------------------------------------------
// Reading

struct SafetensorsEntry {
    std::string name;
    std::string dtype;            // "F32", "BF16" or "F16" (others are refused when read)
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // offsets from the start of the data
};

struct SafetensorsFile {
    std::string path;
    uint64_t data_start = 0;      // 8 + header length
    std::vector<SafetensorsEntry> tensors;
    const SafetensorsEntry* find(const std::string& name) const {
        for (const SafetensorsEntry& t : tensors)
            if (t.name == name) return &t;
        return nullptr;
    }
};

inline int safetensors_dtype_size(const std::string& dtype) {
    if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
    if (dtype == "BF16" || dtype == "F16" || dtype == "I16" || dtype == "U16") return 2;
    if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
    if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
    return 0;
}

// Reads and checks the header; dies naming the file and what is wrong.
inline SafetensorsFile safetensors_open(const std::string& path) {
    const char* p = path.c_str();
    long long bytes = file_size_check(p);
    if (bytes < 8) die("%s: file is truncated: %lld bytes, a safetensors file starts with an 8-byte header length", p, bytes);
    FILE* f = fopen_check(p, "rb");
    uint64_t n = 0;
    fread_check(&n, sizeof n, 1, f, p);
    if (n > SAFETENSORS_MAX_HEADER || n > (uint64_t)bytes - 8)
        die("%s: header length %llu does not fit: the file is %lld bytes (and the format allows at most %llu)", p,
            (unsigned long long)n, bytes, (unsigned long long)SAFETENSORS_MAX_HEADER);
    std::string header((size_t)n, '\0');
    if (n > 0) fread_check(&header[0], 1, (size_t)n, f, p);
    fclose(f);

    SafetensorsFile sf;
    sf.path = path;
    sf.data_start = 8 + n;
    std::vector<JsonMember> members;
    std::string err;
    size_t pos = 0;
    if (!json_object_members(header, &pos, &members, &err)) die("%s: header is not a JSON object: %s", p, err.c_str());
    json_skip_ws(header, &pos);
    if (pos != header.size()) die("%s: header has trailing bytes after its JSON object, at byte %zu", p, pos);
    uint64_t data_bytes = (uint64_t)bytes - sf.data_start;
    for (const JsonMember& m : members) {
        if (m.key == "__metadata__") continue;
        const char* tn = m.key.c_str();
        if (sf.find(m.key)) die("%s: tensor %s is listed twice", p, tn);
        std::vector<JsonMember> fields;
        size_t at = 0;
        if (!json_object_members(m.value, &at, &fields, &err)) die("%s: tensor %s: %s", p, tn, err.c_str());
        SafetensorsEntry e;
        e.name = m.key;
        const JsonMember* dtype = json_find(fields, "dtype");
        const JsonMember* shape = json_find(fields, "shape");
        const JsonMember* offsets = json_find(fields, "data_offsets");
        if (!dtype || !shape || !offsets) die("%s: tensor %s lacks dtype, shape or data_offsets", p, tn);
        size_t dpos = 0;
        if (!json_parse_string(dtype->value, &dpos, &e.dtype)) die("%s: tensor %s: dtype is not a string", p, tn);
        if (!json_int_array(shape->value, &e.shape)) die("%s: tensor %s: shape is not an array of integers", p, tn);
        std::vector<int64_t> off;
        if (!json_int_array(offsets->value, &off) || off.size() != 2 || off[0] < 0 || off[1] < off[0])
            die("%s: tensor %s: data_offsets must be [begin, end] with 0 <= begin <= end", p, tn);
        e.begin = (uint64_t)off[0];
        e.end = (uint64_t)off[1];
        int size = safetensors_dtype_size(e.dtype);
        if (size == 0) die("%s: tensor %s has unknown dtype %s", p, tn, e.dtype.c_str());
        double numel = 1;
        for (int64_t d : e.shape) {
            if (d < 0) die("%s: tensor %s has a negative dimension %lld", p, tn, (long long)d);
            numel *= (double)d;
        }
        if ((double)(e.end - e.begin) != numel * size)
            die("%s: tensor %s: data_offsets [%llu, %llu] hold %llu bytes, its %s shape needs %.0f", p, tn,
                (unsigned long long)e.begin, (unsigned long long)e.end, (unsigned long long)(e.end - e.begin),
                e.dtype.c_str(), numel * size);
        if (e.end > data_bytes)
            die("%s: tensor %s ends at data byte %llu, the file holds %llu bytes of data", p, tn,
                (unsigned long long)e.end, (unsigned long long)data_bytes);
        sf.tensors.push_back(std::move(e));
    }
    // the tensors tile the data: sorted by offset, each begins where the previous one ended
    std::vector<const SafetensorsEntry*> order;
    for (const SafetensorsEntry& e : sf.tensors) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t expect = 0;
    for (const SafetensorsEntry* e : order) {
        if (e->begin != expect)
            die("%s: tensor %s starts at data byte %llu, expected %llu (tensors must be contiguous, without gaps or "
                "overlaps)", p, e->name.c_str(), (unsigned long long)e->begin, (unsigned long long)expect);
        expect = e->end;
    }
    if (expect != data_bytes)
        die("%s: the tensors end at data byte %llu, the file holds %llu bytes of data", p, (unsigned long long)expect,
            (unsigned long long)data_bytes);
    return sf;
}

inline float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

inline float f16_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0x1F) bits = sign | 0x7F800000u | (mant << 13);  // inf, nan
    else if (exp != 0) bits = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant == 0) bits = sign;  // ±0
    else {                            // subnormal half: renormalise
        int e = -1;
        do { e++; mant <<= 1; } while (!(mant & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// Reads tensor `name` as fp32 into a buffer of its numel floats; dies if it
// is missing, of another shape than `shape`, or of a dtype other than F32,
// BF16 and F16.
inline std::vector<float> safetensors_read_f32(const SafetensorsFile& sf, const std::string& name,
                                               const std::vector<int64_t>& shape) {
    const char* p = sf.path.c_str();
    const SafetensorsEntry* e = sf.find(name);
    if (!e) die("%s: no tensor %s", p, name.c_str());
    if (e->shape != shape) {
        auto str = [](const std::vector<int64_t>& s) {
            std::string r = "[";
            for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
            return r + "]";
        };
        die("%s: tensor %s has shape %s, expected %s", p, name.c_str(), str(e->shape).c_str(), str(shape).c_str());
    }
    if (e->dtype != "F32" && e->dtype != "BF16" && e->dtype != "F16")
        die("%s: tensor %s is %s; only F32, BF16 and F16 are read", p, name.c_str(), e->dtype.c_str());
    size_t n = shape_numel(shape), size = (size_t)safetensors_dtype_size(e->dtype);
    std::vector<uint8_t> raw(n * size);
    FILE* f = fopen_check(p, "rb");
    fseek_check(f, (long)(sf.data_start + e->begin), SEEK_SET, p);
    if (n > 0) fread_check(raw.data(), size, n, f, p);
    fclose(f);
    std::vector<float> out(n);
    if (e->dtype == "F32") {
        memcpy(out.data(), raw.data(), n * sizeof(float));
    } else {
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, &raw[i * 2], 2);
            out[i] = e->dtype == "BF16" ? bf16_to_float(h) : f16_to_float(h);
        }
    }
    return out;
}
