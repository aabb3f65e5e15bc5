// kernels/cuda/attention.cuh: causal multi-head attention with grouped-query
// heads on the GPU (kernels/cpu/attention.h), in the flash-attention manner:
// keys and values stream through shared memory in tiles, the softmax is taken
// online (running max and sum, the output rescaled when the max grows), and no
// (T, T) tensor is ever stored. Forward keeps one float per query row, the
// log-sum-exp of its scores; backward recomputes the probabilities from it.
//
// qkv is the fused projection, (B, T, (NH + 2·NKV)·HS): per row NH query heads,
// then NKV key heads, then NKV value heads; q and k already carry RoPE.
// Query head h reads kv head h / (NH / NKV). out is (B, T, NH·HS); lse is (B, NH, T).
//
// These kernels give one thread one row (a query row in forward and dq, a key
// row in dk/dv) and keep that row's vectors in registers; everything else is
// read from shared memory as a broadcast (all threads of a warp read the same
// word), so there are no bank conflicts to reason about. Accumulation is in
// float for both floatX. They are the reference for, and the fallback of,
// the tensor-core kernels in attention_tc.cuh.
//
// Backward, with s = scale·q·k, p = exp(s − lse), o = Σ p v, D = Σ do∘o:
//   dv_j = Σ_i p_ij do_i,  ds_ij = p_ij (do_i·v_j − D_i),
//   dq_i = scale Σ_j ds_ij k_j,  dk_j = scale Σ_i ds_ij q_i.
// dq and (dk, dv) are computed by two kernels, each owning what it writes:
// the dq kernel walks the keys of its query rows, the dk/dv kernel the queries
// of its key rows and all query heads of its kv head. Scores are computed twice,
// but nothing is ever added by two threads: no atomics, deterministic.
#pragma once
#include <type_traits>

#include "common.cuh"

constexpr int ATT_BR = 64;  // rows per block: query rows (forward, dq) or key rows (dk/dv), one thread each
constexpr int ATT_BC = 32;  // rows per shared-memory tile: keys (forward, dq) or queries (dk/dv)

inline bool attention_supports_head_size(int HS) { return HS == 16 || HS == 32 || HS == 64 || HS == 128; }

// Calls f(std::integral_constant<int, HS>()) for the head sizes the kernels are compiled for.
template <typename F>
inline void dispatch_head_size(int HS, F f) {
    switch (HS) {
        case 16: f(std::integral_constant<int, 16>()); break;
        case 32: f(std::integral_constant<int, 32>()); break;
        case 64: f(std::integral_constant<int, 64>()); break;
        case 128: f(std::integral_constant<int, 128>()); break;
        default: die("attention on the GPU is compiled for head sizes 16, 32, 64 and 128; got HS=%d", HS);
    }
}

// Loads keys [j0, j0 + ATT_BC) of kv head kvh into ks, vs (ATT_BC, HS) as float;
// rows past T are zero (the causal test excludes them anyway).
template <typename floatX, int HS>
__device__ inline void attention_load_kv_tile(float (*ks)[HS], float (*vs)[HS], const floatX* qkv, int b, int j0,
                                              int T, int NH, int NKV, int kvh) {
    int row = (NH + 2 * NKV) * HS;
    for (int idx = threadIdx.x; idx < ATT_BC * HS; idx += blockDim.x) {
        int j = idx / HS, d = idx % HS;
        float k = 0.0f, v = 0.0f;
        if (j0 + j < T) {
            const floatX* base = qkv + ((size_t)b * T + j0 + j) * row;
            k = to_float(base[(NH + kvh) * HS + d]);
            v = to_float(base[(NH + NKV + kvh) * HS + d]);
        }
        ks[j][d] = k;
        vs[j][d] = v;
    }
}

// ----------------------------------------------------------------------------
// Forward. Grid (query tiles, NH, B), ATT_BR threads: thread = query row t.

template <typename floatX, int HS>
__global__ void __launch_bounds__(ATT_BR)
    attention_forward_kernel(floatX* out, float* lse, const floatX* qkv, int T, int NH, int NKV) {
    __shared__ float ks[ATT_BC][HS];
    __shared__ float vs[ATT_BC][HS];
    __shared__ float sc[ATT_BC][ATT_BR];  // this tile's scores, a column per thread
    // causal work grows with the query tile: start the heavy tiles first
    int qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int kvh = h / (NH / NKV), row = (NH + 2 * NKV) * HS;
    int t = qt * ATT_BR + threadIdx.x;
    int tq = t < T ? t : T - 1;  // rows past T compute a copy of the last row and store nothing
    float scale = 1.0f / sqrtf((float)HS);

    float q[HS], o[HS];
    const floatX* qrow = qkv + ((size_t)b * T + tq) * row + h * HS;
    #pragma unroll
    for (int d = 0; d < HS; d++) { q[d] = to_float(qrow[d]); o[d] = 0.0f; }
    float m = -INFINITY, l = 0.0f;  // running max and Σ exp(s − m)

    int last_row = min(T - 1, qt * ATT_BR + ATT_BR - 1);
    for (int j0 = 0; j0 <= last_row; j0 += ATT_BC) {
        __syncthreads();  // the previous tile is consumed
        attention_load_kv_tile<floatX, HS>(ks, vs, qkv, b, j0, T, NH, NKV, kvh);
        __syncthreads();
        float mt = -INFINITY;
        for (int j = 0; j < ATT_BC; j++) {
            float s = -INFINITY;
            if (j0 + j <= tq) {
                s = 0.0f;
                #pragma unroll
                for (int d = 0; d < HS; d++) s += q[d] * ks[j][d];
                s *= scale;
            }
            sc[j][threadIdx.x] = s;
            mt = fmaxf(mt, s);
        }
        // key 0 is in the first tile and every row sees it, so m is finite from then on
        float m_new = fmaxf(m, mt);
        float corr = expf(m - m_new);  // 0 on the first tile (m = -inf)
        l *= corr;
        #pragma unroll
        for (int d = 0; d < HS; d++) o[d] *= corr;
        for (int j = 0; j < ATT_BC; j++) {
            float p = expf(sc[j][threadIdx.x] - m_new);  // masked: exp(-inf) = 0
            l += p;
            #pragma unroll
            for (int d = 0; d < HS; d++) o[d] += p * vs[j][d];
        }
        m = m_new;
    }
    if (t >= T) return;
    floatX* orow = out + ((size_t)b * T + t) * NH * HS + h * HS;
    float inv = 1.0f / l;
    #pragma unroll
    for (int d = 0; d < HS; d++) orow[d] = from_float<floatX>(o[d] * inv);
    lse[((size_t)b * NH + h) * T + t] = m + logf(l);
}

// ----------------------------------------------------------------------------
// Backward

// D (B, NH, T) = Σ_d dout∘out over each head's row. One warp per (b, t, h).
template <typename floatX>
__global__ void attention_backward_dot_kernel(float* D, const floatX* dout, const floatX* out, int B, int T, int NH,
                                              int HS) {
    size_t w = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (w >= (size_t)B * T * NH) return;
    int h = w % NH;
    size_t bt = w / NH;
    const floatX* dorow = dout + bt * NH * HS + (size_t)h * HS;
    const floatX* orow = out + bt * NH * HS + (size_t)h * HS;
    float s = 0.0f;
    for (int d = lane; d < HS; d += 32) s += to_float(dorow[d]) * to_float(orow[d]);
    s = warp_sum(s);
    int b = bt / T, t = bt % T;
    if (lane == 0) D[((size_t)b * NH + h) * T + t] = s;
}

// dq. Grid (query tiles, NH, B), ATT_BR threads: thread = query row t.
template <typename floatX, int HS>
__global__ void __launch_bounds__(ATT_BR)
    attention_backward_dq_kernel(floatX* dqkv, const floatX* dout, const floatX* qkv, const float* lse,
                                 const float* D, int T, int NH, int NKV) {
    __shared__ float ks[ATT_BC][HS];
    __shared__ float vs[ATT_BC][HS];
    int qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int kvh = h / (NH / NKV), row = (NH + 2 * NKV) * HS;
    int t = qt * ATT_BR + threadIdx.x;
    int tq = t < T ? t : T - 1;
    float scale = 1.0f / sqrtf((float)HS);

    float q[HS], g[HS], dq[HS];  // g = this row's dout
    const floatX* qrow = qkv + ((size_t)b * T + tq) * row + h * HS;
    const floatX* grow = dout + ((size_t)b * T + tq) * NH * HS + h * HS;
    #pragma unroll
    for (int d = 0; d < HS; d++) { q[d] = to_float(qrow[d]); g[d] = to_float(grow[d]); dq[d] = 0.0f; }
    float lse_t = lse[((size_t)b * NH + h) * T + tq], D_t = D[((size_t)b * NH + h) * T + tq];

    int last_row = min(T - 1, qt * ATT_BR + ATT_BR - 1);
    for (int j0 = 0; j0 <= last_row; j0 += ATT_BC) {
        __syncthreads();
        attention_load_kv_tile<floatX, HS>(ks, vs, qkv, b, j0, T, NH, NKV, kvh);
        __syncthreads();
        for (int j = 0; j < ATT_BC; j++) {
            if (j0 + j > tq) break;  // causal: later keys are masked, and keys only grow along j
            float s = 0.0f, dp = 0.0f;
            #pragma unroll
            for (int d = 0; d < HS; d++) { s += q[d] * ks[j][d]; dp += g[d] * vs[j][d]; }
            float p = expf(s * scale - lse_t);
            float ds = p * (dp - D_t);
            #pragma unroll
            for (int d = 0; d < HS; d++) dq[d] += ds * ks[j][d];
        }
    }
    if (t >= T) return;
    floatX* dqrow = dqkv + ((size_t)b * T + t) * row + h * HS;
    #pragma unroll
    for (int d = 0; d < HS; d++) dqrow[d] = from_float<floatX>(dq[d] * scale);
}

// Dynamic shared memory of the dk/dv kernel, in floats: the block's own k and v
// rows transposed (HS, ATT_BR + 1) — thread j reads column j, and the +1 pad
// keeps the transposing stores conflict-free — and a tile of ATT_BC query rows
// of q and dout (ATT_BC, HS) plus their lse and D.
constexpr size_t attention_dkdv_smem_floats(int HS) {
    return 2 * (size_t)HS * (ATT_BR + 1) + 2 * (size_t)ATT_BC * HS + 2 * ATT_BC;
}

// dk, dv. Grid (key tiles, NKV, B), ATT_BR threads: thread = key row j.
// Walks every query head of kv head kvh, and every query tile from the block's
// first key on (earlier queries cannot see these keys).
template <typename floatX, int HS>
__global__ void __launch_bounds__(ATT_BR)
    attention_backward_dkdv_kernel(floatX* dqkv, const floatX* dout, const floatX* qkv, const float* lse,
                                   const float* D, int T, int NH, int NKV) {
    extern __shared__ float smem[];
    float* kT = smem;                          // (HS, ATT_BR + 1)
    float* vT = kT + HS * (ATT_BR + 1);        // (HS, ATT_BR + 1)
    float* qs = vT + HS * (ATT_BR + 1);        // (ATT_BC, HS)
    float* gs = qs + ATT_BC * HS;              // (ATT_BC, HS) dout rows
    float* lse_s = gs + ATT_BC * HS;           // (ATT_BC)
    float* D_s = lse_s + ATT_BC;               // (ATT_BC)
    int kt = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    int group = NH / NKV, row = (NH + 2 * NKV) * HS;
    int k0 = kt * ATT_BR, j = k0 + threadIdx.x;
    float scale = 1.0f / sqrtf((float)HS);

    for (int idx = threadIdx.x; idx < ATT_BR * HS; idx += blockDim.x) {
        int r = idx / HS, d = idx % HS;
        float k = 0.0f, v = 0.0f;
        if (k0 + r < T) {
            const floatX* base = qkv + ((size_t)b * T + k0 + r) * row;
            k = to_float(base[(NH + kvh) * HS + d]);
            v = to_float(base[(NH + NKV + kvh) * HS + d]);
        }
        kT[d * (ATT_BR + 1) + r] = k;
        vT[d * (ATT_BR + 1) + r] = v;
    }
    float dk[HS], dv[HS];
    #pragma unroll
    for (int d = 0; d < HS; d++) { dk[d] = 0.0f; dv[d] = 0.0f; }

    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        for (int i0 = k0 / ATT_BC * ATT_BC; i0 < T; i0 += ATT_BC) {
            __syncthreads();  // kT/vT written, or the previous tile consumed
            for (int idx = threadIdx.x; idx < ATT_BC * HS; idx += blockDim.x) {
                int i = idx / HS, d = idx % HS;
                float q = 0.0f, g = 0.0f;
                if (i0 + i < T) {
                    q = to_float(qkv[((size_t)b * T + i0 + i) * row + h * HS + d]);
                    g = to_float(dout[((size_t)b * T + i0 + i) * NH * HS + h * HS + d]);
                }
                qs[i * HS + d] = q;
                gs[i * HS + d] = g;
            }
            for (int i = threadIdx.x; i < ATT_BC; i += blockDim.x) {
                bool ok = i0 + i < T;
                lse_s[i] = ok ? lse[((size_t)b * NH + h) * T + i0 + i] : 0.0f;
                D_s[i] = ok ? D[((size_t)b * NH + h) * T + i0 + i] : 0.0f;
            }
            __syncthreads();
            if (j >= T) continue;  // past the end: nothing to accumulate, but keep joining the syncs
            for (int i = 0; i < ATT_BC; i++) {
                int ti = i0 + i;
                if (ti < j || ti >= T) continue;  // causal: query ti sees key j only if j <= ti
                const float* q = qs + i * HS;
                const float* g = gs + i * HS;
                float s = 0.0f, dp = 0.0f;
                #pragma unroll
                for (int d = 0; d < HS; d++) {
                    s += q[d] * kT[d * (ATT_BR + 1) + threadIdx.x];
                    dp += g[d] * vT[d * (ATT_BR + 1) + threadIdx.x];
                }
                float p = expf(s * scale - lse_s[i]);
                float ds = p * (dp - D_s[i]);
                #pragma unroll
                for (int d = 0; d < HS; d++) { dv[d] += p * g[d]; dk[d] += ds * q[d]; }
            }
        }
    }
    if (j >= T) return;
    floatX* base = dqkv + ((size_t)b * T + j) * row;
    #pragma unroll
    for (int d = 0; d < HS; d++) {
        base[(NH + kvh) * HS + d] = from_float<floatX>(dk[d] * scale);
        base[(NH + NKV + kvh) * HS + d] = from_float<floatX>(dv[d]);
    }
}

// ----------------------------------------------------------------------------
// Launchers

template <typename floatX>
inline void attention_forward_gpu(floatX* out, float* lse, const floatX* qkv, int B, int T, int NH, int NKV, int HS) {
    dispatch_head_size(HS, [&](auto hs) {
        constexpr int HSc = decltype(hs)::value;
        attention_forward_kernel<floatX, HSc><<<dim3(ceil_div(T, ATT_BR), NH, B), ATT_BR>>>(out, lse, qkv, T, NH, NKV);
        CUDA_CHECK_LAUNCH();
    });
}

// dqkv (B, T, (NH + 2·NKV)·HS) is overwritten with ∂L/∂qkv (post-RoPE q and k).
// dout is ∂L/∂out; out and lse are what forward wrote; D is (B, NH, T) scratch.
template <typename floatX>
inline void attention_backward_gpu(floatX* dqkv, float* D, const floatX* dout, const floatX* qkv, const floatX* out,
                                   const float* lse, int B, int T, int NH, int NKV, int HS) {
    attention_backward_dot_kernel<<<ceil_div((size_t)B * T * NH * 32, 256), 256>>>(D, dout, out, B, T, NH, HS);
    CUDA_CHECK_LAUNCH();
    dispatch_head_size(HS, [&](auto hs) {
        constexpr int HSc = decltype(hs)::value;
        attention_backward_dq_kernel<floatX, HSc>
            <<<dim3(ceil_div(T, ATT_BR), NH, B), ATT_BR>>>(dqkv, dout, qkv, lse, D, T, NH, NKV);
        CUDA_CHECK_LAUNCH();
        size_t smem = attention_dkdv_smem_floats(HSc) * sizeof(float);
        CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dkdv_kernel<floatX, HSc>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        attention_backward_dkdv_kernel<floatX, HSc>
            <<<dim3(ceil_div(T, ATT_BR), NKV, B), ATT_BR, smem>>>(dqkv, dout, qkv, lse, D, T, NH, NKV);
        CUDA_CHECK_LAUNCH();
    });
}
