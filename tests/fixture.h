// tests/fixture.h: reader for the PyTorch reference fixtures that
// dev/reference/llama_reference.py writes (tests/fixtures/llama_tiny_*.bin).
// Header-only, standard library plus common/util.h.
//
// Format (little-endian throughout):
//   int32 magic    = 20261127 (FIXTURE_MAGIC)
//   int32 version  = 1        (FIXTURE_VERSION)
//   int32 n_tensors
//   n_tensors times:
//     int32 name_len, then name_len bytes of ASCII name (no NUL)
//     int32 dtype    (0 = float32, 1 = int32)
//     int32 ndim, then int32 dims[ndim]   (ndim 0 means a scalar of 1 element)
//     prod(dims) elements of dtype, row-major
//   nothing after the last tensor.
//
// Tensors in a Llama fixture (shape letters as everywhere: V C L NH NKV H B T, HS = C/NH):
//   "config"   int32   [V, C, L, NH, NKV, H, B, T, tied(0/1)]
//   "hparams"  float32 [lr, beta1, beta2, eps, weight_decay, max_norm, rope_theta, norm_eps, n_steps]
//   "tokens", "targets"  int32 (B, T)
//   "params.<p>"        float32 initial parameters, <p> in wte (V,C), rms_att (L,C), wq (L,NH*HS,C),
//                       wk (L,NKV*HS,C), wv (L,NKV*HS,C), wo (L,C,NH*HS), rms_ffn (L,C), w1 (L,H,C),
//                       w2 (L,C,H), w3 (L,H,C), rms_final (C), and wcls (V,C) only when untied
//   "logits"  float32 (B,T,V) and "loss" float32 [1] of the forward at the initial parameters
//   "grads.<p>"         float32 d(mean loss)/d<p> at the initial parameters, before clipping
//   "losses", "grad_norms"  float32 [n_steps]: loss before each AdamW step and the pre-clip global norm
//   "params_after.<p>"  float32 parameters after n_steps clipped AdamW steps on the same batch
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../common/util.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "fixtures are little-endian and read without byte swapping");

constexpr int FIXTURE_MAGIC = 20261127;
constexpr int FIXTURE_VERSION = 1;
constexpr int FIXTURE_F32 = 0;
constexpr int FIXTURE_I32 = 1;

struct FixtureTensor {
    std::string name;
    int dtype = FIXTURE_F32;
    std::vector<int> shape;
    std::vector<float> f;  // data when dtype == FIXTURE_F32
    std::vector<int> i;    // data when dtype == FIXTURE_I32
    size_t numel() const {
        size_t n = 1;
        for (int d : shape) n *= (size_t)d;
        return n;
    }
};

struct Fixture {
    std::string path;  // for messages
    std::vector<FixtureTensor> tensors;

    bool has(const std::string& name) const {
        for (const FixtureTensor& t : tensors)
            if (t.name == name) return true;
        return false;
    }
    // Dies (ending the test binary) naming the file and the tensor when it is missing.
    const FixtureTensor& get(const std::string& name) const {
        for (const FixtureTensor& t : tensors)
            if (t.name == name) return t;
        die("%s: fixture has no tensor '%s'", path.c_str(), name.c_str());
    }
};

// The "config" tensor unpacked, so tests do not index it by hand.
struct FixtureConfig {
    int V, C, L, NH, NKV, H, B, T;
    bool tied;
};

// The "hparams" tensor unpacked.
struct FixtureHparams {
    float lr, beta1, beta2, eps, weight_decay, max_norm, rope_theta, norm_eps;
    int n_steps;
};

inline FixtureConfig fixture_config(const Fixture& fx) {
    const FixtureTensor& t = fx.get("config");
    if (t.dtype != FIXTURE_I32 || t.numel() != 9)
        die("%s: 'config' must be 9 int32, found dtype %d with %zu elements", fx.path.c_str(), t.dtype, t.numel());
    const std::vector<int>& c = t.i;
    return FixtureConfig{c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8] != 0};
}

inline FixtureHparams fixture_hparams(const Fixture& fx) {
    const FixtureTensor& t = fx.get("hparams");
    if (t.dtype != FIXTURE_F32 || t.numel() != 9)
        die("%s: 'hparams' must be 9 float32, found dtype %d with %zu elements", fx.path.c_str(), t.dtype, t.numel());
    const std::vector<float>& h = t.f;
    return FixtureHparams{h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], (int)h[8]};
}

// Reads and validates a whole fixture; any problem dies with the file name and
// what was expected versus found. Limits on name length and rank only guard
// against reading garbage as a size; real fixtures are far below them.
inline Fixture load_fixture(const std::string& path) {
    const char* p = path.c_str();
    long long bytes = file_size_check(p);
    FILE* file = fopen_check(p, "rb");
    long long pos = 0;  // bytes consumed, to check each size against what is left
    auto read_i32 = [&](const char* what) {
        if (bytes - pos < 4) die("%s: file is truncated at byte %lld reading %s", p, pos, what);
        int v;
        fread_check(&v, sizeof(int), 1, file, p);
        pos += 4;
        return v;
    };

    Fixture fx;
    fx.path = path;
    int magic = read_i32("the magic number");
    if (magic != FIXTURE_MAGIC) die("%s: bad magic %d, expected %d (not a reference fixture)", p, magic, FIXTURE_MAGIC);
    int version = read_i32("the version");
    if (version != FIXTURE_VERSION) die("%s: unsupported version %d, expected %d", p, version, FIXTURE_VERSION);
    int n = read_i32("the tensor count");
    if (n < 0) die("%s: negative tensor count %d", p, n);

    for (int k = 0; k < n; k++) {
        FixtureTensor t;
        int name_len = read_i32("a name length");
        if (name_len <= 0 || name_len > 1024)
            die("%s: tensor %d: name length %d, expected 1..1024", p, k, name_len);
        if (bytes - pos < name_len) die("%s: file is truncated in the name of tensor %d", p, k);
        t.name.resize((size_t)name_len);
        fread_check(&t.name[0], 1, (size_t)name_len, file, p);
        pos += name_len;
        const char* tn = t.name.c_str();
        if (fx.has(t.name)) die("%s: tensor '%s' appears twice", p, tn);

        t.dtype = read_i32("a dtype");
        if (t.dtype != FIXTURE_F32 && t.dtype != FIXTURE_I32)
            die("%s: tensor '%s': dtype %d, expected %d (float32) or %d (int32)", p, tn, t.dtype, FIXTURE_F32, FIXTURE_I32);
        int ndim = read_i32("a rank");
        if (ndim < 0 || ndim > 8) die("%s: tensor '%s': rank %d, expected 0..8", p, tn, ndim);
        for (int d = 0; d < ndim; d++) {
            int dim = read_i32("a dimension");
            if (dim < 0) die("%s: tensor '%s': negative dimension %d", p, tn, dim);
            t.shape.push_back(dim);
        }

        size_t count = t.numel();
        long long need = (long long)count * 4;
        if (bytes - pos < need)
            die("%s: file is truncated: tensor '%s' needs %lld data bytes, %lld are left", p, tn, need, bytes - pos);
        if (t.dtype == FIXTURE_F32) {
            t.f.resize(count);
            fread_check(t.f.data(), sizeof(float), count, file, p);
        } else {
            t.i.resize(count);
            fread_check(t.i.data(), sizeof(int), count, file, p);
        }
        pos += need;
        fx.tensors.push_back(std::move(t));
    }
    if (pos != bytes) die("%s: %lld bytes of trailing data after the %d tensors the header declares", p, bytes - pos, n);
    fclose_check(file, p);
    return fx;
}
