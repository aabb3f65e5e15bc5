// dev/cpu/bench_pack.cpp: the GEMM's bf16 packers alone (kernels/cpu/matmul*.h,
// included, not copied), on the operands of llama-5M's qkv and w13 products
// as sgemm hands them over: blocks of up to KC depths, A in blocks of 128
// rows, B in blocks of up to NC columns. One thread, the source read from
// memory (a 32 MB pass over other data before every rep, as the kernels
// between two products leave the caches), median of the reps: ms and ns per
// element packed. On an AMX machine the packers are a larger share of a
// product than on the vector paths (the tiles multiply ~8x faster), so this is
// where their cost shows apart from the products. Each operand is packed from
// its fp32 values and from their bf16 bits (what the trainers' bf16 runs keep
// of activations and gradients that only feed products: gemm::Src); the two
// must pack the same words, which this checks.
//   make build/bench_pack && build/bench_pack           (the active path's packers, and amx's where it runs)
//   LLM_ISA=avx512_bf16 build/bench_pack                (another path's)
#include <cstdio>
#include <vector>

#include "../../kernels/cpu/matmul.h"
#include "bench_common.h"

struct Operand {
    const char* name;
    bool is_A;
    int rows, kc;     // of the whole operand: rows (A) or columns (B) × depth
    long s_r, s_k;    // element (r, k) at src[r·s_r + k·s_k]
    size_t floats;    // the source's size
};

// Packs the whole operand block by block, as sgemm does.
static void pack_all(const gemm::Kernels& kn, const Operand& op, gemm::Src src, uint32_t* dst) {
    const int rb = op.is_A ? 128 : gemm::NC;
    for (int k0 = 0; k0 < op.kc; k0 += gemm::KC) {
        const int kc = std::min(gemm::KC, op.kc - k0);
        int kw = kn.bf16 ? (kc + 1) / 2 : kc;
        kw = (kw + kn.word_align - 1) / kn.word_align * kn.word_align;
        for (int r0 = 0; r0 < op.rows; r0 += rb) {
            const int rows = std::min(rb, op.rows - r0);
            gemm::pack(kn, op.is_A, dst, src.at((long)r0 * op.s_r + (long)k0 * op.s_k), op.s_r, op.s_k, rows, kc,
                       kw);
        }
    }
}

int main(int argc, char** argv) {
    (void)argc;
    (void)argv;
    const int N = 4096;  // tokens: B16 T256
    struct Layer { const char* name; int C, OC; } layers[] = {{"qkv", 256, 768}, {"w13", 256, 1024}};
    std::vector<float> evict(8 << 20, 1.0f);
    std::vector<uint32_t> dst(8 << 20);
    std::vector<gemm::Isa> paths = {gemm::active_isa()};
    if (gemm::active_isa() != gemm::Isa::amx && gemm::isa_supported(gemm::Isa::amx_emulated))
        paths.push_back(gemm::Isa::amx_emulated);  // the AMX packers run on any AVX-512 CPU
    printf("one thread, source from memory, median of 15 reps\n");
    printf("%-22s %-24s %10s %12s %12s %12s\n", "path", "operand", "ms", "ns/element", "bf16 src ms", "ns/element");
    for (gemm::Isa isa : paths) {
        const gemm::Kernels& kn = gemm::kernels_for(isa, true);
        for (const Layer& l : layers) {
            std::vector<float> dout((size_t)N * l.OC), inp((size_t)N * l.C), w((size_t)l.OC * l.C);
            bench_fill(dout, 1);
            bench_fill(inp, 2);
            bench_fill(w, 3);
            char nm[5][64];
            snprintf(nm[0], 64, "%s fwd A (inp)", l.name);
            snprintf(nm[1], 64, "%s fwd B (weight)", l.name);
            snprintf(nm[2], 64, "%s dinp A (dout)", l.name);
            snprintf(nm[3], 64, "%s dweight A (doutT)", l.name);
            snprintf(nm[4], 64, "%s dweight B (inp)", l.name);
            const Operand ops[5] = {
                {nm[0], true, N, l.C, l.C, 1, inp.size()},
                {nm[1], false, l.OC, l.C, l.C, 1, w.size()},
                {nm[2], true, N, l.OC, l.OC, 1, dout.size()},
                {nm[3], true, l.OC, N, 1, l.OC, dout.size()},
                {nm[4], false, l.C, N, 1, l.C, inp.size()},
            };
            auto bits = [](const std::vector<float>& x) {
                std::vector<uint16_t> h(x.size());
                for (size_t j = 0; j < x.size(); j++) h[j] = (uint16_t)gemm::bf16_bits(x[j]);
                return h;
            };
            const std::vector<uint16_t> dout16 = bits(dout), inp16 = bits(inp), w16 = bits(w);
            const float* srcs[5] = {inp.data(), w.data(), dout.data(), dout.data(), inp.data()};
            const uint16_t* srcs16[5] = {inp16.data(), w16.data(), dout16.data(), dout16.data(), inp16.data()};
            for (int i = 0; i < 5; i++) {
                double med[2];
                for (int half = 0; half < 2; half++) {
                    const gemm::Src src = half ? gemm::Src(srcs16[i]) : gemm::Src(srcs[i]);
                    std::vector<double> t;
                    for (int rep = 0; rep < 15; rep++) {
                        for (size_t j = 0; j < evict.size(); j += 16) evict[j] += 1.0f;
                        const double t0 = bench_now_s();
                        pack_all(kn, ops[i], src, dst.data());
                        t.push_back(bench_now_s() - t0);
                    }
                    std::sort(t.begin(), t.end());
                    med[half] = t[t.size() / 2];
                }
                // the last block of each source, packed again: the words must agree
                std::vector<uint32_t> a(dst.size()), b(dst.size());
                pack_all(kn, ops[i], srcs[i], a.data());
                pack_all(kn, ops[i], srcs16[i], b.data());
                if (a != b) {
                    fprintf(stderr, "bench_pack: %s %s: the bf16 source packed other words than the fp32 one\n",
                            gemm::isa_name(isa), ops[i].name);
                    return 1;
                }
                const double elems = (double)ops[i].rows * ops[i].kc;
                printf("%-22s %-24s %10.3f %12.3f %12.3f %12.3f\n", gemm::isa_name(isa), ops[i].name, med[0] * 1e3,
                       med[0] * 1e9 / elems, med[1] * 1e3, med[1] * 1e9 / elems);
            }
        }
    }
    if (evict[0] == 12345.0f) printf(" ");
    return 0;
}
