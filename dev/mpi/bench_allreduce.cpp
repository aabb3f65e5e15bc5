// dev/mpi/bench_allreduce.cpp: the bandwidth of the two collectives a
// data-parallel step makes (common/dist.h): the gradient all-reduce and the
// ZeRO-1 parameter all-gather, on a blob the size of a model's parameters.
// The README's projection of step time to many nodes starts from these.
//
//   make mpi && mpirun -np 2 build/bench_allreduce [--params 4980000] [--reps 20]
#include <algorithm>
#include <vector>

#include "../../common/args.h"
#include "../../common/dist.h"

int main(int argc, char** argv) {
    Dist d;
    dist_init(&d, &argc, &argv);
    int params = 4980000, reps = 20;  // llama-5M
    std::vector<ArgSpec> specs = {
        {nullptr, "--params", ARG_INT, &params, "floats in the blob (4980000 = llama-5M)"},
        {nullptr, "--reps", ARG_INT, &reps, "timed repetitions of each collective (after one warm-up)"},
    };
    args_parse(argc, argv, specs,
               "Times MPI_Allreduce (sum) and the ZeRO-1 MPI_Allgatherv of a parameter-sized fp32 blob over the ranks.");
    if (params < 1 || reps < 1) die("--params and --reps must be at least 1");
    size_t sizes[1] = {(size_t)params};
    dist_shard(&d, sizes, 1);
    std::vector<float> blob(params, 1.0f);
    double bytes = (double)params * sizeof(float);
    double best_reduce = 1e30, best_gather = 1e30, sum_reduce = 0, sum_gather = 0;
    for (int i = 0; i <= reps; i++) {
        dist_barrier(d);
        d.comm_ms = 0;
        dist_allreduce_sum(&d, blob.data(), blob.size());
        double r = d.comm_ms;
        dist_barrier(d);
        d.comm_ms = 0;
        dist_allgather_shards(&d, blob.data());
        double g = d.comm_ms;
        if (i == 0) continue;  // warm-up: connections and buffers
        best_reduce = std::min(best_reduce, r);
        best_gather = std::min(best_gather, g);
        sum_reduce += r;
        sum_gather += g;
    }
    // bus bandwidth as NCCL's tests define it: the bytes each rank must move
    // over the slowest link, 2(N-1)/N·S for an all-reduce, (N-1)/N·S for an all-gather
    double n = d.world, ar_bus = 2 * (n - 1) / n * bytes, ag_bus = (n - 1) / n * bytes;
    printf("%d ranks, %.2f MB blob, %d reps (best / mean)\n", d.world, bytes / 1e6, reps);
    printf("all-reduce : %8.2f / %8.2f ms   bus bandwidth %.2f GB/s (best)\n", best_reduce, sum_reduce / reps,
           ar_bus / (best_reduce / 1e3) / 1e9);
    printf("all-gather : %8.2f / %8.2f ms   bus bandwidth %.2f GB/s (best)\n", best_gather, sum_gather / reps,
           ag_bus / (best_gather / 1e3) / 1e9);
    dist_finalize(d);
    return 0;
}
