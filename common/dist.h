// common/dist.h: data-parallel training across processes with MPI.
//
// Built with -DUSE_MPI (make train_llama_mpi / train_gpt2_mpi, compiled by
// mpicxx), `mpirun -np N ./train_llama_mpi ...` trains one model on N ranks:
//   - every rank reads the same data in the same order and takes its own
//     B/N rows of each micro-batch, so -b and -d stay the global batch and the
//     loss curve does not depend on N;
//   - after the backward passes the gradients are summed over the ranks
//     (MPI_Allreduce, in a fixed order of fixed buckets: the same result on
//     every rank and in every run);
//   - ZeRO-1: each rank keeps the AdamW moments of its own contiguous shard of
//     the parameter blob only, updates that shard, and the shards are
//     all-gathered, so optimizer memory per rank falls as 1/N;
//   - rank 0 alone prints, logs and writes checkpoints (the moments are
//     gathered for it), so a checkpoint resumes on any number of ranks.
// Without USE_MPI every function here is the single-process case (world 1)
// and compiles to nothing, so the plain build needs no MPI installed.
//
// A rank that calls die() prints "error (rank r of N): ..." and takes every
// rank down with MPI_Abort (common/util.h); a rank killed from outside is
// reported by mpirun, which stops the others.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <vector>

#ifdef USE_MPI
#include <mpi.h>
#endif

#include "report.h"
#include "util.h"

struct Dist {
    int rank = 0, world = 1;
    // this rank's shard of the parameter blob: [begin, end); the whole blob on one rank
    size_t shard_begin = 0, shard_end = 0;
    std::vector<size_t> shard_starts;  // world + 1 boundaries
    double comm_ms = 0.0;              // time spent in gradient all-reduce and parameter all-gather
};

inline bool dist_root(const Dist& d) { return d.rank == 0; }

// Starts MPI (MPI builds) and learns this process's rank. Ranks other than 0
// print nothing: their stdout goes to /dev/null, so every progress line of
// the trainer is rank 0's. Errors (stderr) still come from any rank.
inline void dist_init(Dist* d, int* argc, char*** argv) {
#ifdef USE_MPI
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->world);
    if (d->rank != 0 && !freopen("/dev/null", "w", stdout)) die("cannot redirect stdout of rank %d", d->rank);
#else
    (void)d;
    (void)argc;
    (void)argv;
#endif
}

inline void dist_finalize(const Dist& d) {
    (void)d;
#ifdef USE_MPI
    MPI_Finalize();
#endif
}

// "N ranks" for the banner.
inline const char* dist_describe(const Dist& d) {
    static char buf[64];
    snprintf(buf, sizeof buf, "%d rank%s (MPI)", d.world, d.world == 1 ? "" : "s");
#ifdef USE_MPI
    return buf;
#else
    return "1 process (built without MPI)";
#endif
}

// Splits a blob of tensors (sizes[0..n)) into world contiguous shards of
// about equal size. Each boundary sits a multiple of 16 floats into the tensor
// it falls in, so a shard's AdamW pass vectorises exactly the elements the
// whole-blob pass does (the vector body and the scalar tail round
// differently): the update is the same bits on any number of ranks.
inline void dist_shard(Dist* d, const size_t* sizes, int num_tensors) {
    size_t total = 0;
    for (int i = 0; i < num_tensors; i++) total += sizes[i];
    d->shard_starts.assign(d->world + 1, total);
    d->shard_starts[0] = 0;
    for (int r = 1; r < d->world; r++) {
        size_t ideal = total / d->world * r, off = 0;
        int i = 0;
        while (i < num_tensors - 1 && off + sizes[i] <= ideal) off += sizes[i++];
        size_t b = off + (ideal - off) / 16 * 16;
        d->shard_starts[r] = std::max(b, d->shard_starts[r - 1]);
    }
    d->shard_begin = d->shard_starts[d->rank];
    d->shard_end = d->shard_starts[d->rank + 1];
}

inline size_t dist_shard_size(const Dist& d) { return d.shard_end - d.shard_begin; }

// Shards of one equal size `chunk` (a multiple of `align`, the last one cut
// at total): NCCL's all-gather takes the same count from every rank (the GPU
// trainer pads its blob to world·chunk). Returns chunk.
inline size_t dist_shard_equal(Dist* d, size_t total, size_t align) {
    size_t chunk = ((total + d->world - 1) / d->world + align - 1) / align * align;
    d->shard_starts.resize(d->world + 1);
    for (int r = 0; r <= d->world; r++) d->shard_starts[r] = std::min(total, (size_t)r * chunk);
    d->shard_begin = d->shard_starts[d->rank];
    d->shard_end = d->shard_starts[d->rank + 1];
    return chunk;
}

// This rank's index among the ranks on its own machine: the GPU it drives.
inline int dist_local_rank(const Dist& d) {
#ifdef USE_MPI
    if (d.world > 1) {
        MPI_Comm local;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d.rank, MPI_INFO_NULL, &local);
        int r = 0;
        MPI_Comm_rank(local, &r);
        MPI_Comm_free(&local);
        return r;
    }
#endif
    return d.rank;
}

// Rank 0's bytes to every rank (the NCCL unique id).
inline void dist_broadcast(const Dist& d, void* data, int bytes) {
#ifdef USE_MPI
    if (d.world > 1) {
        int rc = MPI_Bcast(data, bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) die("MPI_Bcast of %d bytes failed (code %d)", bytes, rc);
    }
#else
    (void)d;
    (void)data;
    (void)bytes;
#endif
}

// Rows [begin, begin + rows) of a batch of B sequences are this rank's.
inline int dist_rows(const Dist& d, int B) {
    if (B % d.world != 0) die("-b %d must be divisible by the number of ranks %d (each rank takes B/N rows)", B, d.world);
    return B / d.world;
}

#ifdef USE_MPI
// MPI counts are int: large blobs go in buckets of at most 2^28 floats (1 GiB),
// always the same buckets, so the reduction order is fixed.
constexpr size_t DIST_BUCKET = (size_t)1 << 28;
#endif

// Sums x[0..n) over the ranks, in place; every rank gets the same bits.
inline void dist_allreduce_sum(Dist* d, float* x, size_t n) {
    if (d->world == 1) return;
#ifdef USE_MPI
    double t0 = now_ms();
    for (size_t off = 0; off < n; off += DIST_BUCKET) {
        int count = (int)std::min(DIST_BUCKET, n - off);
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + off, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) die("MPI_Allreduce of %d floats failed (code %d)", count, rc);
    }
    d->comm_ms += now_ms() - t0;
#else
    (void)x;
    (void)n;
#endif
}

// The sum of one number over the ranks (losses, byte counts).
inline double dist_sum(const Dist& d, double x) {
#ifdef USE_MPI
    if (d.world > 1) {
        double total = 0.0;
        int rc = MPI_Allreduce(&x, &total, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) die("MPI_Allreduce of one double failed (code %d)", rc);
        return total;
    }
#else
    (void)d;
#endif
    return x;
}

// After each rank updated its shard of `blob` (the whole blob on every rank),
// every rank gets every shard.
inline void dist_allgather_shards(Dist* d, float* blob) {
    if (d->world == 1) return;
#ifdef USE_MPI
    double t0 = now_ms();
    std::vector<int> counts(d->world), displs(d->world);
    for (int r = 0; r < d->world; r++) {
        size_t c = d->shard_starts[r + 1] - d->shard_starts[r];
        if (c > (size_t)INT32_MAX || d->shard_starts[r] > (size_t)INT32_MAX)
            die("a parameter shard of %zu floats is too large for one MPI_Allgatherv", c);
        counts[r] = (int)c;
        displs[r] = (int)d->shard_starts[r];
    }
    int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, blob, counts.data(), displs.data(), MPI_FLOAT,
                            MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) die("MPI_Allgatherv of the parameters failed (code %d)", rc);
    d->comm_ms += now_ms() - t0;
#else
    (void)blob;
#endif
}

// Rank 0 gets every rank's shard of a sharded array (the AdamW moments) in
// `full` (num_params floats; only rank 0's is written). For checkpoints.
inline void dist_gather_shards(const Dist& d, const float* shard, float* full) {
    if (d.world == 1) {
        std::copy(shard, shard + (d.shard_end - d.shard_begin), full);
        return;
    }
#ifdef USE_MPI
    std::vector<int> counts(d.world), displs(d.world);
    for (int r = 0; r < d.world; r++) {
        counts[r] = (int)(d.shard_starts[r + 1] - d.shard_starts[r]);
        displs[r] = (int)d.shard_starts[r];
    }
    int rc = MPI_Gatherv(shard, counts[d.rank], MPI_FLOAT, full, counts.data(), displs.data(), MPI_FLOAT, 0,
                         MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) die("MPI_Gatherv of the optimizer state failed (code %d)", rc);
#endif
}

// Every rank waits for the others (after rank 0 wrote a checkpoint, say).
inline void dist_barrier(const Dist& d) {
#ifdef USE_MPI
    if (d.world > 1) MPI_Barrier(MPI_COMM_WORLD);
#else
    (void)d;
#endif
}
