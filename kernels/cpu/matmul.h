// kernels/cpu/matmul.h: the three matrix products of a linear layer without bias.
//   forward:  out  (N, OC)  = inp (N, C) · weightᵀ      weight is (OC, C), PyTorch's layout
//   backward: dinp (N, C)  += dout (N, OC) · weight
//             dweight (OC, C) += doutᵀ · inp
// All three are one product, Cm(M, NC) (+)= A(M, K) · Bm(K, NC), where A and Bm
// are read through strides: a transposed operand is just other strides, so no
// layout ever needs a transposing copy.
//
// The fast path (sgemm below) is a packed, cache-blocked GEMM in the BLIS
// manner: a KC×NC block of Bm is packed into NR-wide column panels that stay in
// L2/L3, an MC×KC block of A into MR-tall row panels (the block in L2, the
// panel in use in L1), and a register-blocked micro-kernel computes one MR×NR
// tile of Cm at a time with every accumulator in a register. Packing is also
// where the strides are resolved, so the micro-kernel only ever sees
// contiguous memory.
//
// One build runs on every x86-64 CPU at its best: the packers and
// micro-kernels of each instruction set are compiled for it by target pragmas
// (matmul_plain.h, matmul_avx2.h, matmul_avx512.h, matmul_amx.h), and the
// driver picks one table of them at run time from what the CPU and OS allow
// (cpu_features.h), or what LLM_ISA=plain|avx2|avx512|avx512_bf16|amx|amx_emulated
// forces:
//   avx512 (and avx512_bf16, amx for fp32): MR×NR = 12×32, 24 zmm accumulators
//   avx2:   MR×NR = 6×16,  12 ymm accumulators
//   plain:  MR×NR = 4×16,  left to the compiler
//
// With bf16 set (the trainers' --precision bf16), the same driver packs both
// operands rounded to bfloat16, two depths to a 32-bit word, with fp32
// accumulators: on AMX tiles (32×32 tiles of Cm, TDPBF16PS: 16 times the fp32
// FMA peak), on avx512_bf16's vdpbf16ps (twice it), and elsewhere emulated in
// plain C++ (slower than fp32). bf16_is_faster() says which machines gain.
//
// matmul_forward_ref / matmul_backward_ref are the plain loops the fast path is
// tested and benchmarked against.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bf16.h"
#include "cpu_features.h"
#include "simd.h"

// ----------------------------------------------------------------------------
// Plain reference

// out is (N, OC), inp is (N, C), weight is (OC, C)
inline void matmul_forward_ref(float* out, const float* inp, const float* weight, int N, int C, int OC) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float acc = 0.0f;
            for (int c = 0; c < C; c++) acc += inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
            out[(size_t)n * OC + o] = acc;
        }
}

// dinp (N, C) += dout · weight; dweight (OC, C) += doutᵀ · inp. Either output may be null.
inline void matmul_backward_ref(float* dinp, float* dweight, const float* dout, const float* inp,
                                const float* weight, int N, int C, int OC) {
    if (dinp) {
        #pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) {
                float d = dout[(size_t)n * OC + o];
                for (int c = 0; c < C; c++) dinp[(size_t)n * C + c] += d * weight[(size_t)o * C + c];
            }
    }
    if (dweight) {
        #pragma omp parallel for schedule(static)
        for (int o = 0; o < OC; o++)
            for (int n = 0; n < N; n++) {
                float d = dout[(size_t)n * OC + o];
                for (int c = 0; c < C; c++) dweight[(size_t)o * C + c] += d * inp[(size_t)n * C + c];
            }
    }
}

// ----------------------------------------------------------------------------
// Packed GEMM: what every path shares

namespace gemm {

// Depth of a packed block. An NR-wide Bm panel is then KC·NR·4 = 64 KB (fp32,
// NR = 16) to 128 KB and streams from L2, and every product of the trainers
// up to a depth of 1024 is one block, so Cm is written once instead of read
// and rewritten per block.
constexpr int KC = 1024;
constexpr int MC = 144;   // most rows of A per task (a multiple of every fp32 MR): a 576 KB packed block, in L2/L3
constexpr int NC = 2048;  // columns of Bm packed at once: KC·NC·4 = 8 MB, shared by the threads through L3
// The AVX2 A packer writes 8 floats where a 6-tall panel needs 6: the
// packing buffers keep PACK_SLACK words after every block for the last store.
constexpr int PACK_SLACK = 8;
// Source lines per step of the transposed-A packers: lines 4 KB apart share
// an L1 set, and 8 of them fit its 8 ways.
constexpr int PACK_KB = 8;
// Pair words ahead that the bf16 packers of a transposed operand (rows
// contiguous: dweight's doutᵀ and its inp, dinp's weight) prefetch their two
// source lines: lines a row of dout apart (3 KB at llama-5M's qkv) are not
// prefetched by the hardware, and packing dweight's operands waited on them.
// 2, 4, 8 and 16 measured alike (llama-5M dweights 6-9% faster in-process).
// Only for blocks at least 256 deep: attention's 64-deep tiles were no faster.
constexpr int PACK_AHEAD = 4;

using ::bf16_bits;  // bf16.h: round to nearest even, NaN kept

// x rounded to the nearest bf16, as a float: what the bf16 path multiplies.
inline float bf16_round(float x) {
    uint32_t u = bf16_bits(x) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

// A packed pair word: two bf16 values adjacent in depth, k even in the low
// half and k+1 in the high half, the pair vdpbf16ps and TDPBF16PS multiply.
inline uint32_t bf16_pair(float lo, float hi) { return bf16_bits(lo) | (bf16_bits(hi) << 16); }
inline float bf16_low(uint32_t w) { uint32_t u = w << 16; float f; memcpy(&f, &u, 4); return f; }
inline float bf16_high(uint32_t w) { uint32_t u = w & 0xffff0000u; float f; memcpy(&f, &u, 4); return f; }

// One path of the GEMM: the driver (sgemm below) is the same for every ISA
// and precision; what differs is this table. A packed operand is panels of
// MR rows of A or NR columns of Bm, each kw 4-byte words deep: fp32 values
// (kw = kc) or bf16 pair words (kw >= (kc+1)/2), in the layouts described in
// matmul_plain.h and matmul_amx.h.
struct Kernels {
    const char* what;  // for the trainers' banner
    int MR, NR;        // the tile of Cm one micro-kernel call computes
    bool bf16;         // operands packed as bf16 pair words
    int word_align;    // kw rounded up to a multiple of this (AMX: a tile row's 16 words)
    // Pack `rows` rows × depth kc of X(r, k) = src[r·s_r + k·s_k], zero-padded
    // to whole panels and to kw words of depth.
    void (*pack_A)(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw);
    void (*pack_B)(void* dst, const float* src, long s_r, long s_k, int rows, int kc, int kw);
    // One MR×NR tile: c (row stride ldc) = (accumulate ? c : 0) + Ap · Bp over kw words of depth.
    void (*micro)(int kw, const void* Ap, const void* Bp, float* c, long ldc, bool accumulate);
    // Around a thread's products (AMX: loading and releasing the tile configuration), or null.
    void (*thread_begin)();
    void (*thread_end)();
    // pack_A / pack_B from a source of bf16 bits (see Src below), for bf16
    // tables; null where the driver widens the block to fp32 first.
    void (*pack_A16)(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw);
    void (*pack_B16)(void* dst, const uint16_t* src, long s_r, long s_k, int rows, int kc, int kw);
};

// An operand of a product as it lies in memory: fp32 values, or the bf16 bits
// (bf16_bits, round to nearest even) that a producer wrote for a bf16 product
// instead of the fp32 values. Packing rounds fp32 to exactly those bits, so
// a bf16 product gives the same result from either, and the bf16 source is
// half the bytes to read (the trainers' bf16 runs keep the activations and
// gradients that only feed products this way). Converts from either pointer.
struct Src {
    const void* p = nullptr;
    bool bf16 = false;
    Src(std::nullptr_t) {}
    Src(const float* f) : p(f) {}
    Src(const uint16_t* h) : p(h), bf16(true) {}
    // the operand i elements on
    Src at(long i) const { return bf16 ? Src((const uint16_t*)p + i) : Src((const float*)p + i); }
};

}  // namespace gemm

// The paths, each compiled for its own instruction set.
#include "matmul_plain.h"
#include "matmul_avx2.h"
#include "matmul_avx512.h"
#include "matmul_amx.h"

namespace gemm {

// ----------------------------------------------------------------------------
// Dispatch: which path runs

enum class Isa { plain, avx2, avx512, avx512_bf16, amx, amx_emulated };
constexpr Isa ALL_ISAS[] = {Isa::plain, Isa::avx2, Isa::avx512, Isa::avx512_bf16, Isa::amx, Isa::amx_emulated};

inline const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::plain: return "plain";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
        case Isa::avx512_bf16: return "avx512_bf16";
        case Isa::amx: return "amx";
        case Isa::amx_emulated: return "amx_emulated";
    }
    return "?";
}

// Whether this CPU (and OS) can run a path; "" if so, else why not.
inline std::string isa_unsupported(Isa isa) {
    const CpuFeatures& f = cpu_features();
    switch (isa) {
        case Isa::plain: return "";
        case Isa::avx2: return f.avx2_fma ? "" : "no AVX2+FMA on this CPU";
        case Isa::avx512:
        case Isa::amx_emulated:  // its packers are AVX-512F code
            return f.avx512 ? "" : "no AVX-512 (F, BW, DQ, VL) on this CPU";
        case Isa::avx512_bf16: return f.avx512_bf16 ? "" : "no avx512_bf16 on this CPU";
        case Isa::amx:
            if (f.amx_bf16) return "";
            return f.amx_refused.empty() ? "no AMX on this CPU" : "AMX present but unusable: " + f.amx_refused;
    }
    return "unknown";
}
inline bool isa_supported(Isa isa) { return isa_unsupported(isa).empty(); }

// The fastest path this CPU runs (amx_emulated is only ever forced).
inline Isa best_isa() {
    for (Isa isa : {Isa::amx, Isa::avx512_bf16, Isa::avx512, Isa::avx2})
        if (isa_supported(isa)) return isa;
    return Isa::plain;
}

// The path at start-up: LLM_ISA if set (an unknown or unsupported one is an
// error, not a silent fallback: a benchmark must run what it names), else the best.
inline Isa initial_isa() {
    const char* env = getenv("LLM_ISA");
    if (!env || !*env || !strcmp(env, "auto")) return best_isa();
    for (Isa isa : ALL_ISAS)
        if (!strcmp(env, isa_name(isa))) {
            std::string why = isa_unsupported(isa);
            if (why.empty()) return isa;
            fprintf(stderr, "error: LLM_ISA=%s: %s\n", env, why.c_str());
            exit(1);
        }
    fprintf(stderr, "error: LLM_ISA=%s: expected auto, plain, avx2, avx512, avx512_bf16, amx or amx_emulated\n", env);
    exit(1);
}

inline Isa& isa_state() {
    static Isa isa = initial_isa();
    return isa;
}
// The path the matmuls run on now.
inline Isa active_isa() { return isa_state(); }
// Switches the path (tests and benchmarks); false, and no change, if this CPU cannot run it.
inline bool set_isa(Isa isa) {
    if (!isa_supported(isa)) return false;
    isa_state() = isa;
    return true;
}

// The table a product runs on, for a path and a precision.
inline const Kernels& kernels_for(Isa isa, bool bf16) {
#if defined(__x86_64__)
    switch (isa) {
        case Isa::plain: break;
        case Isa::avx2: return bf16 ? avx2::bf16 : avx2::fp32;
        case Isa::avx512: return bf16 ? avx512::bf16_emulated : avx512::fp32;
        case Isa::avx512_bf16: return bf16 ? avx512::bf16 : avx512::fp32;
        case Isa::amx: return bf16 ? amx::bf16 : avx512::fp32;  // AMX has no fp32 tiles
        case Isa::amx_emulated: return bf16 ? amx::bf16_emulated : avx512::fp32;
    }
#endif
    (void)isa;
    return bf16 ? plain::bf16 : plain::fp32;
}

// Whether bf16 matmuls are faster than fp32 on this path, which is what the
// trainers' --precision auto picks by. Measured (dev/cpu/bench_matmul.cpp,
// README "Speed"): AMX tiles yes; vdpbf16ps on Zen 4 yes (1.6-1.9x the fp32
// GEMM), but on Intel cores it issues at half the FMA rate and the packing
// costs more than it gains (slower than fp32 on Sapphire Rapids); emulation never.
inline bool bf16_is_faster(Isa isa) {
    if (isa == Isa::amx) return true;
    return isa == Isa::avx512_bf16 && cpu_features().vendor == "AuthenticAMD";
}

// One line for a run's banner: the path and what it multiplies with.
inline std::string describe(bool bf16) {
    const Kernels& k = kernels_for(active_isa(), bf16);
    return std::string(bf16 ? "bf16 operands, fp32 accumulation" : "fp32") + " on " + isa_name(active_isa()) +
           " (" + k.what + ")";
}

// ----------------------------------------------------------------------------
// The driver

// Packing buffers, grown on demand and kept per calling thread: they hold no
// state between calls (every call packs before it reads), they only spare a
// multi-megabyte allocation and its page faults on each of ~100 calls a step.
struct Workspace {
    uint32_t* data = nullptr;
    size_t words = 0;
    ~Workspace() { free(data); }
    uint32_t* get(size_t n) {
        if (n > words) {
            free(data);
            data = (uint32_t*)aligned_alloc(64, ((n * sizeof(uint32_t) + 63) / 64) * 64);
            if (!data) abort();
            words = n;
        }
        return data;
    }
};

// Packs X(r, k) = src[r·s_r + k·s_k] as kn's A (is_A) or B operand. A bf16
// source on a table without its own 16-bit packer (the fp32 ones) is widened
// to fp32 first, exactly, in a per-thread block.
inline void pack(const Kernels& kn, bool is_A, void* dst, Src src, long s_r, long s_k, int rows, int kc, int kw) {
    if (!src.bf16) return (is_A ? kn.pack_A : kn.pack_B)(dst, (const float*)src.p, s_r, s_k, rows, kc, kw);
    const auto p16 = is_A ? kn.pack_A16 : kn.pack_B16;
    if (p16) return p16(dst, (const uint16_t*)src.p, s_r, s_k, rows, kc, kw);
    static thread_local std::vector<float> wide;
    wide.resize((size_t)rows * kc);
    const uint16_t* h = (const uint16_t*)src.p;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < kc; k++) {
            const uint32_t u = (uint32_t)h[(long)r * s_r + (long)k * s_k] << 16;
            memcpy(&wide[(size_t)r * kc + k], &u, sizeof u);
        }
    (is_A ? kn.pack_A : kn.pack_B)(dst, wide.data(), kc, 1, rows, kc, kw);
}

// What comes next for each row of a product's output, run on the rows while
// they are still in the cache of the thread that computed them: fn(ctx, i0,
// i1) for rows [i0, i1) of Cm, once every row has its final values, exactly
// once for each row, from several threads at once. So fn must be a row-wise
// kernel (row i's result from row i alone: RoPE, SwiGLU). The trainers run
// the kernel that reads a product's output this way instead of as a pass of
// its own over megabytes that have left the cache: the same arithmetic, the
// same bits. llama-5M's qkv product and RoPE, 5.08 -> 4.43 ms; w13's and
// SwiGLU, 6.55 -> 5.94 (Zen 4, 2 threads, data from memory, median of 25
// alternating). A residual add + RMSNorm after wo or w2 gained nothing: it
// reads the residual stream from memory either way.
struct RowEpilogue {
    void (*fn)(void* ctx, int i0, int i1) = nullptr;
    void* ctx = nullptr;
};

// Cm[i*ldc + j] (+)= Σ_k A[i*sam + k*sak] · Bm[k*sbk + j*sbn]  for i < M, j < NCOLS, k < K,
// with A and Bm rounded to bf16 when bf16 is set, on the active path's kernels.
// A and Bm may each be fp32 or bf16 bits (Src). Then `then` on every row (RowEpilogue).
// Every tile is computed by one thread in a fixed order, so results do not
// depend on the thread count's scheduling.
inline void sgemm(int M, int NCOLS, int K, Src A, long sam, long sak, Src Bm, long sbk, long sbn,
                  float* Cm, long ldc, bool accumulate, bool bf16 = false, RowEpilogue then = {}) {
    if (M <= 0) return;
    if (NCOLS <= 0 || K <= 0) {
        if (!accumulate && NCOLS > 0)
            for (int i = 0; i < M; i++) memset(Cm + (size_t)i * ldc, 0, NCOLS * sizeof(float));
        if (then.fn) then.fn(then.ctx, 0, M);
        return;
    }
    const Kernels& kn = kernels_for(active_isa(), bf16);
    const int MR = kn.MR, NR = kn.NR;
    // depth of a packed panel in 4-byte words
    auto words = [&](int kc) {
        int w = kn.bf16 ? (kc + 1) / 2 : kc;
        return (w + kn.word_align - 1) / kn.word_align * kn.word_align;
    };
    int nth = 1;
#ifdef _OPENMP
    nth = omp_get_max_threads();
#endif
    const size_t b_words = (size_t)words(KC) * ((NC + NR - 1) / NR * NR);
    const size_t a_words = (size_t)words(KC) * ((MC + MR - 1) / MR * MR) + PACK_SLACK;
    static thread_local Workspace ws;
    uint32_t* Bp = ws.get(b_words + (size_t)nth * a_words);
    uint32_t* Abuf = Bp + b_words;

    #pragma omp parallel
    {
        int tid = 0, team = 1;  // the team may be smaller than nth (a nested region)
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        if (kn.thread_begin) kn.thread_begin();
        uint32_t* Ap = Abuf + (size_t)tid * a_words;
        alignas(64) float tile[32 * 32];  // an edge tile, the largest MR×NR
        bool rows_in_tasks = false;       // `then` runs in the tasks, on each task's rows
        for (int jc = 0; jc < NCOLS; jc += NC) {
            int nc = NCOLS - jc < NC ? NCOLS - jc : NC;
            int panels = (nc + NR - 1) / NR;
            for (int pc = 0; pc < K; pc += KC) {
                int kc = K - pc < KC ? K - pc : KC;
                int kw = words(kc);
                {  // each thread packs a contiguous run of Bm's panels in one walk
                    int p0 = (int)((long)panels * tid / team), p1 = (int)((long)panels * (tid + 1) / team);
                    if (p1 > p0)
                        pack(kn, false, Bp + (size_t)p0 * kw * NR, Bm.at((long)(jc + p0 * NR) * sbn + (long)pc * sbk),
                             sbn, sbk, std::min(nc, p1 * NR) - p0 * NR, kc, kw);
                }
                #pragma omp barrier
                bool acc = accumulate || pc > 0;
                // A task is a block of mcb <= MC rows × a group of panels, and
                // packs its A block once. Row blocks are evened out to a multiple
                // of the thread count, so every thread gets the same work; the
                // columns are split only when there are fewer row blocks than
                // threads (dweight of a small layer), since every column group
                // repacks the same A block.
                int mblocks = (M + MC - 1) / MC;
                mblocks = std::min((mblocks + nth - 1) / nth * nth, (M + MR - 1) / MR);
                int mcb = ((M + mblocks - 1) / mblocks + MR - 1) / MR * MR;
                mblocks = (M + mcb - 1) / mcb;
                int gblocks = std::min(panels, std::max(1, (nth + mblocks - 1) / mblocks));
                int NG = ((panels + gblocks - 1) / gblocks) * NR;
                gblocks = (nc + NG - 1) / NG;
                rows_in_tasks = then.fn && gblocks == 1 && nc == NCOLS && pc + kc >= K;  // the same on every thread
                #pragma omp for schedule(dynamic, 1)
                for (int task = 0; task < mblocks * gblocks; task++) {
                    int ic = (task / gblocks) * mcb, g0 = (task % gblocks) * NG;
                    int mc = M - ic < mcb ? M - ic : mcb;
                    int g1 = g0 + NG < nc ? g0 + NG : nc;
                    pack(kn, true, Ap, A.at((long)ic * sam + (long)pc * sak), sam, sak, mc, kc, kw);
                    // One A panel at a time across all of the group's Bm panels: the
                    // panel stays in L1 while Bm streams from L2/L3, and Cm is written
                    // MR whole rows at a time, in memory order. (Bm panel outside, A
                    // inside wrote Cm in MR×NR pieces a column strip at a time, and a
                    // llama-5M step took ~8% longer: 16 alternating pairs, median
                    // 614-618 ms against 537-571.)
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        for (int jr = g0; jr < g1; jr += NR) {
                            int nr = nc - jr < NR ? nc - jr : NR;
                            const uint32_t* Bpanel = Bp + (size_t)(jr / NR) * kw * NR;
                            float* c = Cm + (size_t)(ic + ir) * ldc + jc + jr;
                            if (mr == MR && nr == NR) {
                                kn.micro(kw, Ap + (size_t)ir * kw, Bpanel, c, ldc, acc);
                            } else {  // edge tile: compute in full, write back the valid part
                                kn.micro(kw, Ap + (size_t)ir * kw, Bpanel, tile, NR, false);
                                for (int r = 0; r < mr; r++)
                                    for (int j = 0; j < nr; j++)
                                        c[r * ldc + j] = acc ? c[r * ldc + j] + tile[r * NR + j] : tile[r * NR + j];
                            }
                        }
                    }
                    // the block's rows are final when the task had all columns and the last of the depth
                    if (rows_in_tasks) then.fn(then.ctx, ic, ic + mc);
                }
            }
        }
        if (then.fn && !rows_in_tasks) {  // the rows were finished in pieces: after the last piece (the barrier above)
            #pragma omp for schedule(static)
            for (int i0 = 0; i0 < M; i0 += MC) then.fn(then.ctx, i0, std::min(M, i0 + MC));
        }
        if (kn.thread_end) kn.thread_end();
    }
}

}  // namespace gemm

// ----------------------------------------------------------------------------
// The kernels the trainers call

// inp and dout may be fp32 or bf16 bits (gemm::Src: a bf16 producer's output, for bf16 products).

// out is (N, OC), inp is (N, C), weight is (OC, C): Bm(k=c, j=o) = weight[o·C + c];
// then, a row-wise kernel on out's rows as they are finished (gemm::RowEpilogue).
inline void matmul_forward(float* out, gemm::Src inp, const float* weight, int N, int C, int OC, bool bf16 = false,
                           gemm::RowEpilogue then = {}) {
    gemm::sgemm(N, OC, C, inp, C, 1, weight, 1, C, out, OC, false, bf16, then);
}

// dinp (N, C) += dout (N, OC) · weight (OC, C); dweight (OC, C) += doutᵀ · inp (N, C),
// where A(i=o, k=n) = dout[n·ld_dout + o]. Either output may be null. dout's
// rows are ld_dout apart (0: OC; the trainers' bf16 runs leave some gradients
// as bf16 bits in the first half of each row of an fp32 buffer).
inline void matmul_backward(float* dinp, float* dweight, gemm::Src dout, gemm::Src inp,
                            const float* weight, int N, int C, int OC, bool bf16 = false, long ld_dout = 0) {
    const long ldd = ld_dout ? ld_dout : OC;
    if (dinp) gemm::sgemm(N, C, OC, dout, ldd, 1, weight, C, 1, dinp, C, true, bf16);
    if (dweight) gemm::sgemm(OC, C, N, dout, 1, ldd, inp, C, 1, dweight, C, true, bf16);
}

// As matmul_backward, but dinp (N, C) is overwritten with dout · weight instead
// of added to, which spares the caller a memset of dinp; dweight accumulates.
inline void matmul_backward_set_dinp(float* dinp, float* dweight, gemm::Src dout, gemm::Src inp,
                                     const float* weight, int N, int C, int OC, bool bf16 = false,
                                     long ld_dout = 0) {
    const long ldd = ld_dout ? ld_dout : OC;
    if (dinp) gemm::sgemm(N, C, OC, dout, ldd, 1, weight, C, 1, dinp, C, false, bf16);
    if (dweight) gemm::sgemm(OC, C, N, dout, 1, ldd, inp, C, 1, dweight, C, true, bf16);
}
