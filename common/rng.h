// common/rng.h: a small, fully serialisable random generator (xorshift64*).
// Its whole state is one uint64, so a checkpoint can store and restore it exactly.
#pragma once
#include <cmath>
#include <cstdint>

struct Rng {
    uint64_t state;
};

inline Rng rng_make(uint64_t seed) {
    // splitmix64 scrambles the seed so that nearby seeds give unrelated streams
    // and a zero seed does not give the all-zero (stuck) xorshift state.
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return Rng{z ? z : 1};
}

inline uint64_t rng_u64(Rng* r) {
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return r->state * 0x2545F4914F6CDD1Dull;
}

// uniform in [0, 1) with 24 random bits, exact in float
inline float rng_uniform(Rng* r) { return (rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

// standard normal by Box-Muller (one value per call; simplicity over speed)
inline float rng_normal(Rng* r) {
    double u1 = ((rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);  // (0, 1]
    double u2 = (rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

// uniform integer in [0, n)
inline uint64_t rng_below(Rng* r, uint64_t n) { return rng_u64(r) % n; }
