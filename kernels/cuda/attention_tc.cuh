// kernels/cuda/attention_tc.cuh: the bf16 attention of the trainer on tensor
// cores: the same math as attention.cuh (same layouts, same lse, the same
// two-kernel backward without atomics), with the tile products (q·kᵀ and p·v;
// in backward also do·vᵀ, ds·k, pᵀ·do and dsᵀ·q) as WMMA 16×16×16 bf16
// products accumulating in float.
//
// A block is 4 warps over 64 rows, 16 rows a warp. Per tile of 64 keys (or
// queries) a warp: computes its 16×64 score tile into shared memory; reads it
// back two lanes per row (lane 2r and 2r+1 take row r, alternate columns) for
// the elementwise part (mask, exp, online softmax, ds); writes the bf16
// probabilities (or ds) back to shared memory; and multiplies them with the
// value (or key/query) tile. WMMA leaves the layout of an accumulator's
// elements unspecified, so a row-wise rescale cannot be applied to a fragment:
// the forward's running output therefore lives in shared memory (float), where
// the row's two lanes rescale it before each p·v product adds to it. Backward
// accumulators (dq, dk, dv) never need rescaling and stay in fragments.
//
// Tiles past T are zero-filled; the causal test (key <= query < T) masks them.
// Column blocks of 16 that are entirely masked are skipped: exact, since their
// probabilities are exactly 0.
#pragma once
#include <mma.h>

#include "attention.cuh"

namespace attn_tc {

using namespace nvcuda;

constexpr int WARPS = 4;
constexpr int ROWS = 16 * WARPS;  // rows per block: query rows (forward, dq) or key rows (dk/dv)
constexpr int TILE = 64;          // keys (forward, dq) or queries (dk/dv) per shared-memory tile
constexpr int S_LD = TILE + 4;    // float score tiles: +4 floats shifts rows across banks
constexpr int P_LD = TILE + 8;    // bf16 probability tiles: WMMA wants ldm a multiple of 8 for 16-bit types
template <int HS> __host__ __device__ constexpr int x_ld() { return HS + 8; }  // bf16 q/k/v/do tiles (ROWS or TILE, HS)
template <int HS> __host__ __device__ constexpr int o_ld() { return HS + 4; }  // float output tiles (16, HS) per warp

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> FragB;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> FragBT;  // a row-major tile read as its transpose
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> FragC;

// Copies `rows` rows of HS bf16 (row r at src + r·src_stride) into a shared tile
// with row stride x_ld<HS>(), 16 bytes per thread per step; rows with
// first + r >= T become zeros. Every offset is a multiple of 8 elements
// (HS % 16 == 0, and so is the qkv row), so the 16-byte accesses are aligned.
template <int HS>
__device__ inline void load_tile(bf16* dst, const bf16* src, size_t src_stride, int rows, int first, int T) {
    constexpr int V8 = HS / 8;  // 16-byte vectors per row
    for (int idx = threadIdx.x; idx < rows * V8; idx += blockDim.x) {
        int r = idx / V8, c = (idx % V8) * 8;
        int4 v = make_int4(0, 0, 0, 0);
        if (first + r < T) v = *reinterpret_cast<const int4*>(src + (size_t)r * src_stride + c);
        *reinterpret_cast<int4*>(dst + r * x_ld<HS>() + c) = v;
    }
}

// S (16, TILE), ld S_LD, = A (16, HS) · Bᵀ, B being (TILE, HS) row-major, both ld x_ld<HS>().
// Only the first `nblocks` 16-column blocks are computed.
template <int HS>
__device__ inline void tile_abt(float* S, const bf16* A, const bf16* B, int nblocks) {
    for (int n = 0; n < nblocks; n++) {
        FragC acc;
        wmma::fill_fragment(acc, 0.0f);
        #pragma unroll
        for (int k = 0; k < HS / 16; k++) {
            FragA a;
            FragBT b;
            wmma::load_matrix_sync(a, A + k * 16, x_ld<HS>());
            wmma::load_matrix_sync(b, B + n * 16 * x_ld<HS>() + k * 16, x_ld<HS>());
            wmma::mma_sync(acc, a, b, acc);
        }
        wmma::store_matrix_sync(S + n * 16, acc, S_LD, wmma::mem_row_major);
    }
}

// acc[d] += P (16, TILE), ld P_LD, · X (TILE, HS), ld x_ld<HS>(), over 16-row
// blocks [k_first, k_last) of X (the others meet zeros in P).
template <int HS>
__device__ inline void tile_pv(FragC (&acc)[HS / 16], const bf16* P, const bf16* X, int k_first, int k_last) {
    for (int k = k_first; k < k_last; k++) {
        FragA a;
        wmma::load_matrix_sync(a, P + k * 16, P_LD);
        #pragma unroll
        for (int d = 0; d < HS / 16; d++) {
            FragB b;
            wmma::load_matrix_sync(b, X + k * 16 * x_ld<HS>() + d * 16, x_ld<HS>());
            wmma::mma_sync(acc[d], a, b, acc[d]);
        }
    }
}

// Bytes of dynamic shared memory per kernel (every region a multiple of 32 bytes,
// as WMMA needs 256-bit aligned tile pointers).
template <int HS> constexpr size_t forward_smem() {
    return 3 * (size_t)ROWS * x_ld<HS>() * sizeof(bf16)           // q, k, v tiles
           + (size_t)WARPS * 16 * S_LD * sizeof(float)            // scores
           + (size_t)WARPS * 16 * P_LD * sizeof(bf16)             // probabilities
           + (size_t)WARPS * 16 * o_ld<HS>() * sizeof(float);     // running output
}
template <int HS> constexpr size_t dq_smem() {
    return 4 * (size_t)ROWS * x_ld<HS>() * sizeof(bf16)           // q, do, k, v tiles
           + (size_t)WARPS * 2 * 16 * S_LD * sizeof(float)        // scores, dp (then the dq staging)
           + (size_t)WARPS * 16 * P_LD * sizeof(bf16)             // ds
           + 2 * (size_t)ROWS * sizeof(float);                    // lse, D of the block's rows
}
template <int HS> constexpr size_t dkdv_smem() {
    return 4 * (size_t)ROWS * x_ld<HS>() * sizeof(bf16)           // k, v (own rows), q, do tiles
           + (size_t)WARPS * 2 * 16 * S_LD * sizeof(float)        // sᵀ, dpᵀ (then the dk/dv staging)
           + (size_t)WARPS * 2 * 16 * P_LD * sizeof(bf16)         // pᵀ, dsᵀ
           + 2 * (size_t)TILE * sizeof(float);                    // lse, D of the query tile
}
static_assert(2 * 16 * S_LD >= 16 * (128 + 4), "the dq/dk/dv staging reuses the score tiles, up to HS = 128");

// ----------------------------------------------------------------------------
// Forward. Grid (query tiles, NH, B), 128 threads.

template <int HS>
__global__ void __launch_bounds__(32 * WARPS)
    forward_kernel(bf16* out, float* lse, const bf16* qkv, int T, int NH, int NKV) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16* Qs = reinterpret_cast<bf16*>(smem);
    bf16* Ks = Qs + ROWS * x_ld<HS>();
    bf16* Vs = Ks + TILE * x_ld<HS>();
    float* S = reinterpret_cast<float*>(Vs + TILE * x_ld<HS>());
    bf16* P = reinterpret_cast<bf16*>(S + WARPS * 16 * S_LD);
    float* O = reinterpret_cast<float*>(P + WARPS * 16 * P_LD);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    S += warp * 16 * S_LD;
    P += warp * 16 * P_LD;
    O += warp * 16 * o_ld<HS>();

    int qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;  // heavy (late) query tiles first
    int kvh = h / (NH / NKV), row = (NH + 2 * NKV) * HS;
    int q0 = qt * ROWS;
    const bf16* base = qkv + (size_t)b * T * row;
    float scale = 1.0f / sqrtf((float)HS);

    int r = lane / 2, half = lane % 2;                  // this lane's row of the warp, and column parity
    int t = q0 + warp * 16 + r, tq = min(t, T - 1);     // rows past T compute a copy of row T-1, store nothing
    int warp_last = min(T - 1, q0 + warp * 16 + 15);    // the warp's last real row: later keys are all masked
    load_tile<HS>(Qs, base + (size_t)q0 * row + h * HS, row, ROWS, q0, T);
    for (int d = half; d < HS; d += 2) O[r * o_ld<HS>() + d] = 0.0f;
    float m = -INFINITY, l = 0.0f;

    int block_last = min(T - 1, q0 + ROWS - 1);
    for (int j0 = 0; j0 <= block_last; j0 += TILE) {
        __syncthreads();  // previous k, v tiles consumed (and, the first time, q loaded)
        load_tile<HS>(Ks, base + (size_t)j0 * row + (NH + kvh) * HS, row, TILE, j0, T);
        load_tile<HS>(Vs, base + (size_t)j0 * row + (NH + NKV + kvh) * HS, row, TILE, j0, T);
        __syncthreads();
        if (j0 > warp_last) continue;  // no key here is visible to this warp's rows
        int nblocks = min(TILE / 16, (warp_last - j0) / 16 + 1);
        tile_abt<HS>(S, Qs + warp * 16 * x_ld<HS>(), Ks, nblocks);
        __syncwarp();
        // online softmax of row r over this tile; j0 <= tq, so key j0 is visible and m_new is finite
        float mx = -INFINITY;
        for (int c = half; c < TILE; c += 2) {
            float s = j0 + c <= tq ? S[r * S_LD + c] * scale : -INFINITY;
            S[r * S_LD + c] = s;
            mx = fmaxf(mx, s);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 1));
        float m_new = fmaxf(m, mx), corr = expf(m - m_new);
        float sum = 0.0f;
        for (int c = half; c < TILE; c += 2) {
            float p = expf(S[r * S_LD + c] - m_new);
            P[r * P_LD + c] = __float2bfloat16(p);
            sum += p;
        }
        sum += __shfl_xor_sync(0xffffffff, sum, 1);
        l = l * corr + sum;
        m = m_new;
        for (int d = half; d < HS; d += 2) O[r * o_ld<HS>() + d] *= corr;
        __syncwarp();
        FragC acc[HS / 16];
        #pragma unroll
        for (int d = 0; d < HS / 16; d++) wmma::load_matrix_sync(acc[d], O + d * 16, o_ld<HS>(), wmma::mem_row_major);
        tile_pv<HS>(acc, P, Vs, 0, nblocks);
        #pragma unroll
        for (int d = 0; d < HS / 16; d++) wmma::store_matrix_sync(O + d * 16, acc[d], o_ld<HS>(), wmma::mem_row_major);
        __syncwarp();
    }
    if (t >= T) return;
    bf16* orow = out + ((size_t)b * T + t) * NH * HS + h * HS;
    float inv = 1.0f / l;
    for (int d = half; d < HS; d += 2) orow[d] = __float2bfloat16(O[r * o_ld<HS>() + d] * inv);
    if (half == 0) lse[((size_t)b * NH + h) * T + t] = m + logf(l);
}

// ----------------------------------------------------------------------------
// Backward: dq. Grid (query tiles, NH, B), 128 threads.

template <int HS>
__global__ void __launch_bounds__(32 * WARPS)
    dq_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const float* lse, const float* D, int T, int NH,
              int NKV) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16* Qs = reinterpret_cast<bf16*>(smem);
    bf16* Gs = Qs + ROWS * x_ld<HS>();  // dout rows
    bf16* Ks = Gs + ROWS * x_ld<HS>();
    bf16* Vs = Ks + TILE * x_ld<HS>();
    float* S = reinterpret_cast<float*>(Vs + TILE * x_ld<HS>());
    bf16* dS = reinterpret_cast<bf16*>(S + WARPS * 2 * 16 * S_LD);
    float* lse_s = reinterpret_cast<float*>(dS + WARPS * 16 * P_LD);
    float* D_s = lse_s + ROWS;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    S += warp * 2 * 16 * S_LD;
    float* dP = S + 16 * S_LD;
    dS += warp * 16 * P_LD;

    int qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int kvh = h / (NH / NKV), row = (NH + 2 * NKV) * HS;
    int q0 = qt * ROWS;
    const bf16* base = qkv + (size_t)b * T * row;
    float scale = 1.0f / sqrtf((float)HS);

    int r = lane / 2, half = lane % 2;
    int t = q0 + warp * 16 + r, tq = min(t, T - 1);
    int warp_last = min(T - 1, q0 + warp * 16 + 15);
    load_tile<HS>(Qs, base + (size_t)q0 * row + h * HS, row, ROWS, q0, T);
    load_tile<HS>(Gs, dout + (size_t)b * T * NH * HS + (size_t)q0 * NH * HS + h * HS, (size_t)NH * HS, ROWS, q0, T);
    for (int i = threadIdx.x; i < ROWS; i += blockDim.x) {
        int ti = min(q0 + i, T - 1);
        lse_s[i] = lse[((size_t)b * NH + h) * T + ti];
        D_s[i] = D[((size_t)b * NH + h) * T + ti];
    }
    FragC acc[HS / 16];
    #pragma unroll
    for (int d = 0; d < HS / 16; d++) wmma::fill_fragment(acc[d], 0.0f);

    int block_last = min(T - 1, q0 + ROWS - 1);
    for (int j0 = 0; j0 <= block_last; j0 += TILE) {
        __syncthreads();
        load_tile<HS>(Ks, base + (size_t)j0 * row + (NH + kvh) * HS, row, TILE, j0, T);
        load_tile<HS>(Vs, base + (size_t)j0 * row + (NH + NKV + kvh) * HS, row, TILE, j0, T);
        __syncthreads();
        if (j0 > warp_last) continue;
        int nblocks = min(TILE / 16, (warp_last - j0) / 16 + 1);
        tile_abt<HS>(S, Qs + warp * 16 * x_ld<HS>(), Ks, nblocks);
        tile_abt<HS>(dP, Gs + warp * 16 * x_ld<HS>(), Vs, nblocks);
        __syncwarp();
        float lse_t = lse_s[warp * 16 + r], D_t = D_s[warp * 16 + r];
        for (int c = half; c < TILE; c += 2) {
            float ds = 0.0f;
            if (j0 + c <= tq) {
                float p = expf(S[r * S_LD + c] * scale - lse_t);
                ds = p * (dP[r * S_LD + c] - D_t);
            }
            dS[r * P_LD + c] = __float2bfloat16(ds);
        }
        __syncwarp();
        tile_pv<HS>(acc, dS, Ks, 0, nblocks);
    }
    // stage through the warp's score tiles, then scale and convert
    __syncwarp();
    #pragma unroll
    for (int d = 0; d < HS / 16; d++) wmma::store_matrix_sync(S + d * 16, acc[d], o_ld<HS>(), wmma::mem_row_major);
    __syncwarp();
    if (t >= T) return;
    bf16* dqrow = dqkv + ((size_t)b * T + t) * row + h * HS;
    for (int d = half; d < HS; d += 2) dqrow[d] = __float2bfloat16(S[r * o_ld<HS>() + d] * scale);
}

// ----------------------------------------------------------------------------
// Backward: dk, dv. Grid (key tiles, NKV, B), 128 threads; warp w owns keys
// k0 + 16w .. +15 and accumulates their dk, dv over every query head of the kv
// head and every query tile from k0 on.

template <int HS>
__global__ void __launch_bounds__(32 * WARPS)
    dkdv_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const float* lse, const float* D, int T, int NH,
                int NKV) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16* Ks = reinterpret_cast<bf16*>(smem);
    bf16* Vs = Ks + ROWS * x_ld<HS>();
    bf16* Qs = Vs + ROWS * x_ld<HS>();
    bf16* Gs = Qs + TILE * x_ld<HS>();  // dout rows
    float* ST = reinterpret_cast<float*>(Gs + TILE * x_ld<HS>());
    bf16* PT = reinterpret_cast<bf16*>(ST + WARPS * 2 * 16 * S_LD);
    float* lse_s = reinterpret_cast<float*>(PT + WARPS * 2 * 16 * P_LD);
    float* D_s = lse_s + TILE;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    ST += warp * 2 * 16 * S_LD;
    float* dPT = ST + 16 * S_LD;
    PT += warp * 2 * 16 * P_LD;
    bf16* dST = PT + 16 * P_LD;

    int kt = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    int group = NH / NKV, row = (NH + 2 * NKV) * HS;
    int k0 = kt * ROWS, jw = k0 + warp * 16;  // the warp's first key
    const bf16* base = qkv + (size_t)b * T * row;
    const bf16* gbase = dout + (size_t)b * T * NH * HS;
    float scale = 1.0f / sqrtf((float)HS);
    int r = lane / 2, half = lane % 2;
    int j = jw + r;  // this lane's key row

    load_tile<HS>(Ks, base + (size_t)k0 * row + (NH + kvh) * HS, row, ROWS, k0, T);
    load_tile<HS>(Vs, base + (size_t)k0 * row + (NH + NKV + kvh) * HS, row, ROWS, k0, T);
    FragC dk[HS / 16], dv[HS / 16];
    #pragma unroll
    for (int d = 0; d < HS / 16; d++) { wmma::fill_fragment(dk[d], 0.0f); wmma::fill_fragment(dv[d], 0.0f); }

    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        for (int i0 = k0; i0 < T; i0 += TILE) {
            __syncthreads();  // previous q/do tile consumed (and, the first time, k, v loaded)
            load_tile<HS>(Qs, base + (size_t)i0 * row + h * HS, row, TILE, i0, T);
            load_tile<HS>(Gs, gbase + (size_t)i0 * NH * HS + h * HS, (size_t)NH * HS, TILE, i0, T);
            for (int i = threadIdx.x; i < TILE; i += blockDim.x) {
                bool ok = i0 + i < T;
                lse_s[i] = ok ? lse[((size_t)b * NH + h) * T + i0 + i] : 0.0f;
                D_s[i] = ok ? D[((size_t)b * NH + h) * T + i0 + i] : 0.0f;
            }
            __syncthreads();
            if (jw >= T) continue;  // the warp's keys are all past the end
            // query blocks that can see some key of the warp: queries >= jw, < T
            int n_first = jw > i0 ? (jw - i0) / 16 : 0;
            int n_last = min(TILE / 16, (T - i0 + 15) / 16);
            if (n_first >= n_last) continue;
            // sᵀ (16 keys, TILE queries) = k · qᵀ and dpᵀ = v · doᵀ; blocks before n_first are not read
            for (int n = n_first; n < n_last; n++) {
                FragC s_acc, dp_acc;
                wmma::fill_fragment(s_acc, 0.0f);
                wmma::fill_fragment(dp_acc, 0.0f);
                #pragma unroll
                for (int k = 0; k < HS / 16; k++) {
                    FragA a;
                    FragBT bt;
                    wmma::load_matrix_sync(a, Ks + warp * 16 * x_ld<HS>() + k * 16, x_ld<HS>());
                    wmma::load_matrix_sync(bt, Qs + n * 16 * x_ld<HS>() + k * 16, x_ld<HS>());
                    wmma::mma_sync(s_acc, a, bt, s_acc);
                    wmma::load_matrix_sync(a, Vs + warp * 16 * x_ld<HS>() + k * 16, x_ld<HS>());
                    wmma::load_matrix_sync(bt, Gs + n * 16 * x_ld<HS>() + k * 16, x_ld<HS>());
                    wmma::mma_sync(dp_acc, a, bt, dp_acc);
                }
                wmma::store_matrix_sync(ST + n * 16, s_acc, S_LD, wmma::mem_row_major);
                wmma::store_matrix_sync(dPT + n * 16, dp_acc, S_LD, wmma::mem_row_major);
            }
            __syncwarp();
            for (int c = 16 * n_first + half; c < 16 * n_last; c += 2) {
                int i = i0 + c;
                float p = 0.0f, ds = 0.0f;
                if (i >= j && i < T) {  // causal: query i sees key j only if j <= i
                    p = expf(ST[r * S_LD + c] * scale - lse_s[c]);
                    ds = p * (dPT[r * S_LD + c] - D_s[c]);
                }
                PT[r * P_LD + c] = __float2bfloat16(p);
                dST[r * P_LD + c] = __float2bfloat16(ds);
            }
            __syncwarp();
            tile_pv<HS>(dv, PT, Gs, n_first, n_last);   // dv += pᵀ · do
            tile_pv<HS>(dk, dST, Qs, n_first, n_last);  // dk += dsᵀ · q (scaled at the end)
        }
    }
    // stage dk, then dv, through the warp's score tiles
    if (jw >= T) return;  // no __syncthreads below: leaving early is safe
    bf16* drow = dqkv + ((size_t)b * T + j) * row;
    for (int pass = 0; pass < 2; pass++) {
        __syncwarp();
        #pragma unroll
        for (int d = 0; d < HS / 16; d++)
            wmma::store_matrix_sync(ST + d * 16, pass == 0 ? dk[d] : dv[d], o_ld<HS>(), wmma::mem_row_major);
        __syncwarp();
        if (j < T) {
            bf16* dst = drow + (pass == 0 ? (NH + kvh) * HS : (NH + NKV + kvh) * HS);
            float f = pass == 0 ? scale : 1.0f;
            for (int d = half; d < HS; d += 2) dst[d] = __float2bfloat16(ST[r * o_ld<HS>() + d] * f);
        }
    }
}

template <int HS>
inline void set_smem(const void* kernel, size_t bytes) {
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

}  // namespace attn_tc

// ----------------------------------------------------------------------------
// Launchers: bf16 only, same contract as attention_forward_gpu / attention_backward_gpu.

inline void attention_forward_tc_gpu(bf16* out, float* lse, const bf16* qkv, int B, int T, int NH, int NKV, int HS) {
    dispatch_head_size(HS, [&](auto hs) {
        constexpr int HSc = decltype(hs)::value;
        size_t smem = attn_tc::forward_smem<HSc>();
        attn_tc::set_smem<HSc>((const void*)attn_tc::forward_kernel<HSc>, smem);
        attn_tc::forward_kernel<HSc>
            <<<dim3(ceil_div(T, attn_tc::ROWS), NH, B), 32 * attn_tc::WARPS, smem>>>(out, lse, qkv, T, NH, NKV);
        CUDA_CHECK_LAUNCH();
    });
}

inline void attention_backward_tc_gpu(bf16* dqkv, float* D, const bf16* dout, const bf16* qkv, const bf16* out,
                                      const float* lse, int B, int T, int NH, int NKV, int HS) {
    attention_backward_dot_kernel<<<ceil_div((size_t)B * T * NH * 32, 256), 256>>>(D, dout, out, B, T, NH, HS);
    CUDA_CHECK_LAUNCH();
    dispatch_head_size(HS, [&](auto hs) {
        constexpr int HSc = decltype(hs)::value;
        size_t smem = attn_tc::dq_smem<HSc>();
        attn_tc::set_smem<HSc>((const void*)attn_tc::dq_kernel<HSc>, smem);
        attn_tc::dq_kernel<HSc><<<dim3(ceil_div(T, attn_tc::ROWS), NH, B), 32 * attn_tc::WARPS, smem>>>(
            dqkv, dout, qkv, lse, D, T, NH, NKV);
        CUDA_CHECK_LAUNCH();
        smem = attn_tc::dkdv_smem<HSc>();
        attn_tc::set_smem<HSc>((const void*)attn_tc::dkdv_kernel<HSc>, smem);
        attn_tc::dkdv_kernel<HSc><<<dim3(ceil_div(T, attn_tc::ROWS), NKV, B), 32 * attn_tc::WARPS, smem>>>(
            dqkv, dout, qkv, lse, D, T, NH, NKV);
        CUDA_CHECK_LAUNCH();
    });
}
