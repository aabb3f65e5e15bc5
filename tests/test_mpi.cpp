// Tests of data-parallel training across MPI ranks (common/dist.h): the shard
// layout and the sharded AdamW step in-process, then the real binaries under
// `mpirun -np 2` (one thread per rank) against one process with the same
// global batch: losses, validation and final parameters, resume across rank
// counts, the ZeRO-1 memory split, and failures on one rank stopping all.
// The mpirun tests are skipped, with a line saying so, where mpirun or the
// *_mpi binaries are missing (`make` builds them when mpicxx is installed).
#include <catch2/catch.hpp>

#include "../common/shard.h"
#include "../export/models.h"
#include "test_util.h"

static bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// ----------------------------------------------------------------------------
// In-process: shards and the sharded update

TEST_CASE("dist_shard: contiguous shards of about 1/N of the blob, boundaries 16-aligned inside their tensor",
          "[mpi][shard]") {
    const size_t sizes[5] = {1000, 37, 5000, 3, 2001};
    const size_t total = 8041;
    for (int world : {1, 2, 3, 4, 7}) {
        std::vector<size_t> begins;
        for (int rank = 0; rank < world; rank++) {
            Dist d;
            d.rank = rank;
            d.world = world;
            dist_shard(&d, sizes, 5);
            REQUIRE(d.shard_starts.size() == (size_t)world + 1);
            CHECK(d.shard_starts.front() == 0);
            CHECK(d.shard_starts.back() == total);
            CHECK(d.shard_begin == d.shard_starts[rank]);
            CHECK(d.shard_end == d.shard_starts[rank + 1]);
            CHECK(d.shard_begin <= d.shard_end);
            // no shard is more than a tensor's 16-float rounding away from 1/N
            CHECK(dist_shard_size(d) <= total / world + 32);
            // a boundary sits a multiple of 16 into the tensor that holds it
            size_t off = 0;
            for (size_t s : sizes) {
                if (d.shard_begin > off && d.shard_begin < off + s) CHECK((d.shard_begin - off) % 16 == 0);
                off += s;
            }
        }
    }
}

TEST_CASE("optimizer_step_shard over the shards of N ranks equals the whole-blob step to the bit", "[mpi][shard]") {
    const size_t sizes[4] = {777, 64, 1203, 19};
    const bool decay[4] = {true, false, true, false};
    const size_t total = 777 + 64 + 1203 + 19;
    Rng rng = rng_make(9);
    std::vector<float> p0(total), g(total);
    for (size_t i = 0; i < total; i++) {
        p0[i] = rng_normal(&rng);
        g[i] = 0.1f * rng_normal(&rng);
    }
    AdamWConfig opt;
    opt.grad_clip = 0.5f;  // the clipping scale must come from the whole gradient on every shard
    std::vector<float> pw = p0, mw(total, 0.0f), vw(total, 0.0f);
    for (int t = 1; t <= 3; t++) optimizer_step_fast(pw.data(), g.data(), mw.data(), vw.data(), sizes, decay, 4, 1e-2f, opt, t);
    for (int world : {2, 3}) {
        std::vector<float> ps = p0, ms, vs;
        std::vector<std::vector<float>> m(world), v(world);
        for (int t = 1; t <= 3; t++) {
            std::vector<float> next = ps;  // every rank reads the same parameters, writes its shard
            for (int rank = 0; rank < world; rank++) {
                Dist d;
                d.rank = rank;
                d.world = world;
                dist_shard(&d, sizes, 4);
                m[rank].resize(dist_shard_size(d), 0.0f);
                v[rank].resize(dist_shard_size(d), 0.0f);
                std::vector<float> mine = ps;
                optimizer_step_shard(mine.data(), g.data(), m[rank].data(), v[rank].data(), sizes, decay, 4, 1e-2f, opt,
                                     t, d.shard_begin, d.shard_end);
                std::copy(mine.begin() + d.shard_begin, mine.begin() + d.shard_end, next.begin() + d.shard_begin);
            }
            ps = next;  // the all-gather
        }
        for (int rank = 0; rank < world; rank++) {
            ms.insert(ms.end(), m[rank].begin(), m[rank].end());
            vs.insert(vs.end(), v[rank].begin(), v[rank].end());
        }
        INFO("world " << world);
        CHECK(ps == pw);
        CHECK(ms == mw);
        CHECK(vs == vw);
    }
}

// ----------------------------------------------------------------------------
// The binaries under mpirun

static bool mpi_available(const char* binary) {
    if (run_command("command -v mpirun").status != 0) {
        WARN("skipped: mpirun not found (Debian: openmpi-bin libopenmpi-dev)");
        return false;
    }
    if (!path_exists(binary)) {
        WARN("skipped: " << binary << " not built (make builds it when mpicxx is installed)");
        return false;
    }
    return true;
}

// Root runs in CI; one thread per rank so two ranks fit two cores; passive
// waiting so an oversubscribed rank does not spin.
static const std::string MPIRUN =
    "OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive mpirun --allow-run-as-root --oversubscribe --bind-to none "
    "-x OMP_NUM_THREADS -x OMP_WAIT_POLICY -np ";
static const std::string SERIAL = "OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ";

// fp32 matmuls, not the default auto: the comparisons below are of the data-
// parallel arithmetic, and bf16 rounds weights that differ in their last fp32
// bits (a different summation order) to bf16 values 2^-8 apart.
static const char* LLAMA_TINY =
    " --vocab 64 --dim 32 --layers 2 --heads 4 --kv-heads 2 --hidden 48 --seq-len 16 -b 4 -t 16 -z \"\" --precision fp32";
static const char* GPT2_TINY = " --model gpt2-tiny -b 4 -t 16 -z \"\" --precision fp32";


// The "loss" and "val_loss" values of a log.jsonl, in order.
static std::vector<double> log_values(const std::string& path, const std::string& key) {
    std::vector<char> bytes = read_all_bytes(path);
    std::string text(bytes.begin(), bytes.end()), needle = "\"" + key + "\": ";
    std::vector<double> out;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        out.push_back(strtod(text.c_str() + at + needle.size(), nullptr));
    return out;
}

static double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double worst = 0.0;
    for (size_t i = 0; i < a.size(); i++) worst = std::max(worst, fabs(a[i] - b[i]) / fabs(a[i]));
    return worst;
}

// Parameters, m and v of two checkpoints: the largest difference relative to the largest value.
struct BlobDiff {
    double params, m, v;
};

static BlobDiff checkpoint_diff(const std::string& a, const std::string& b) {
    std::vector<char> fa = read_all_bytes(a), fb = read_all_bytes(b);
    REQUIRE(fa.size() == fb.size());
    int64_t n = 0;
    memcpy(&n, fa.data() + CKPT_HEADER_INTS * 4, sizeof n);
    const float* x = (const float*)(fa.data() + CKPT_HEADER_INTS * 4 + 8);
    const float* y = (const float*)(fb.data() + CKPT_HEADER_INTS * 4 + 8);
    double d[3];
    for (int k = 0; k < 3; k++) {
        double diff = 0.0, scale = 1e-30;
        for (int64_t i = k * n; i < (k + 1) * n; i++) {
            diff = std::max(diff, fabs((double)x[i] - y[i]));
            scale = std::max(scale, fabs((double)x[i]));
        }
        d[k] = diff / scale;
    }
    return BlobDiff{d[0], d[1], d[2]};
}

// Same global batch on 1 and 2 ranks. The two sum the same per-token
// gradients in a different order (one GEMM over all rows, or two over half
// the rows plus an all-reduce), so they agree to float rounding, not to the
// bit: the losses to 1e-6 relative, the parameters and moments to 1e-4 of
// their largest magnitude after 20 AdamW steps at lr 3e-3 (measured: losses
// ~2e-7; parameters ~1e-6 for the Llama, ~2e-5 for the GPT-2).
static void check_two_ranks_match_one(const std::string& trainer, const std::string& flags) {
    TempDir one, two;
    RunResult r1 = run_command(SERIAL + "./" + trainer + flags + " -o " + one.path);
    INFO(r1.output);
    REQUIRE(r1.status == 0);
    RunResult r2 = run_command(MPIRUN + "2 ./" + trainer + "_mpi" + flags + " -o " + two.path);
    INFO(r2.output);
    REQUIRE(r2.status == 0);
    CHECK(has(r2.output, "data parallel: 2 ranks (MPI), 2 of the B=4 rows each"));
    CHECK(has(r2.output, "communication:"));
    std::vector<double> l1 = log_values(one / "log.jsonl", "loss"), l2 = log_values(two / "log.jsonl", "loss");
    CHECK(l1.size() == 20);
    CHECK(max_rel_diff(l1, l2) < 1e-6);
    CHECK(l1 != l2);  // they really are two computations
    std::vector<double> v1 = log_values(one / "log.jsonl", "val_loss"), v2 = log_values(two / "log.jsonl", "val_loss");
    CHECK(v1.size() == 3);
    CHECK(max_rel_diff(v1, v2) < 1e-6);
    BlobDiff d = checkpoint_diff(one / "ckpt_000020.bin", two / "ckpt_000020.bin");
    INFO("params " << d.params << " m " << d.m << " v " << d.v);
    CHECK(d.params < 1e-4);
    CHECK(d.m < 1e-4);
    CHECK(d.v < 1e-4);
    // rank 0 alone writes: one log, one set of checkpoints
    CHECK(log_values(two / "log.jsonl", "loss").size() == 20);
}

TEST_CASE("train_llama: 2 MPI ranks give the losses and parameters of 1 process with the same global batch",
          "[mpi][llama]") {
    if (!mpi_available("./train_llama_mpi")) return;
    PatternShards data(64);
    // -d 128: two micro-batches a step, so accumulation is covered too
    check_two_ranks_match_one("train_llama", std::string(LLAMA_TINY) + data.flags() +
                                                 " -d 128 -x 20 -v 10 -m 2 -l 3e-3 -u 2 --seed 5 -n 10");
}

TEST_CASE("train_gpt2: 2 MPI ranks give the losses and parameters of 1 process with the same global batch",
          "[mpi][gpt2]") {
    if (!mpi_available("./train_gpt2_mpi")) return;
    PatternShards data(500);
    check_two_ranks_match_one("train_gpt2", std::string(GPT2_TINY) + data.flags() +
                                                " -x 20 -v 10 -m 2 -l 3e-3 -u 2 --seed 5 -n 10");
}

TEST_CASE("checkpoints cross rank counts: N=2 resumes at N=1 and N=1 at N=2; N=2 resumes at N=2 to the bit",
          "[mpi][resume]") {
    if (!mpi_available("./train_llama_mpi")) return;
    PatternShards data(64);
    std::string flags = std::string(LLAMA_TINY) + data.flags() + " -x 8 -v 4 -m 2 -l 3e-3 -u 2 --seed 5 -n 4";
    TempDir two, one, two_again, one_then_two, two_from_one;
    RunResult r = run_command(MPIRUN + "2 ./train_llama_mpi" + flags + " -o " + two.path);
    INFO(r.output);
    REQUIRE(r.status == 0);
    // the checkpoint holds the whole optimizer state, gathered from both ranks
    r = run_command(SERIAL + "./train_llama" + flags + " -e " + (two / "ckpt_000004.bin") + " -o " + one.path);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(has(r.output, "resumed from"));
    BlobDiff d = checkpoint_diff(two / "ckpt_000008.bin", one / "ckpt_000008.bin");
    CHECK(d.params < 1e-4);
    CHECK(d.m < 1e-4);
    CHECK(d.v < 1e-4);
    r = run_command(MPIRUN + "2 ./train_llama_mpi" + flags + " -e " + (two / "ckpt_000004.bin") + " -o " +
                    two_again.path);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(read_all_bytes(two / "ckpt_000008.bin") == read_all_bytes(two_again / "ckpt_000008.bin"));
    // and the other way: a one-process checkpoint resumes on two ranks
    r = run_command(SERIAL + "./train_llama" + flags + " -o " + one_then_two.path);
    REQUIRE(r.status == 0);
    r = run_command(MPIRUN + "2 ./train_llama_mpi" + flags + " -e " + (one_then_two / "ckpt_000004.bin") + " -o " +
                    two_from_one.path);
    INFO(r.output);
    REQUIRE(r.status == 0);
    d = checkpoint_diff(one_then_two / "ckpt_000008.bin", two_from_one / "ckpt_000008.bin");
    CHECK(d.params < 1e-4);
    CHECK(d.m < 1e-4);
}

TEST_CASE("ZeRO-1: each of 2 ranks holds half of the AdamW state", "[mpi][zero]") {
    if (!mpi_available("./train_llama_mpi")) return;
    PatternShards data(64);
    TempDir out;
    RunResult r = run_command(MPIRUN + "2 ./train_llama_mpi" + std::string(LLAMA_TINY) + data.flags() +
                              " -x 1 -v 0 -o " + out.path);
    INFO(r.output);
    REQUIRE(r.status == 0);
    size_t at = r.output.find("AdamW state ");
    REQUIRE(at != std::string::npos);
    double per_rank = 0, all = 0;
    REQUIRE(sscanf(r.output.c_str() + at, "AdamW state %lf MB per rank (%lf MB in all)", &per_rank, &all) == 2);
    CHECK(per_rank == Approx(all / 2).margin(0.05));
}

TEST_CASE("a failing rank stops every rank: its message names the rank; checkpoints stay intact", "[mpi][errors]") {
    if (!mpi_available("./train_llama_mpi")) return;
    PatternShards data(64);
    TempDir out;
    std::string flags = std::string(LLAMA_TINY) + " -j " + data.val + " -x 4 -v 0 -o " + out.path;
    SECTION("a shard missing on one rank's machine") {
        // MPMD: the same program, but rank 1 is pointed at data that is not there
        RunResult r = run_command(MPIRUN + "1 ./train_llama_mpi -i " + data.train + flags + " : -np 1 ./train_llama_mpi -i " +
                                  (data.dir / "missing_*.bin") + flags);
        INFO(r.output);
        CHECK(r.status != 0);
        CHECK(has(r.output, "error (rank 1 of 2): train data: no file matches"));
    }
    SECTION("a rank killed mid-run") {
        // rank 1 runs under a CPU-time limit of 1 s and is killed by the kernel
        // (SIGXCPU) partway through; rank 0 is waiting in a collective
        std::string long_run = std::string(LLAMA_TINY) + data.flags() + " -x 100000 -v 0 -n 5 -o " + out.path;
        RunResult r = run_command(MPIRUN + "1 ./train_llama_mpi" + long_run + " : -np 1 bash -c 'ulimit -t 1; exec "
                                  "./train_llama_mpi" + long_run + "'");
        INFO(r.output);
        CHECK(r.status != 0);
        CHECK(has(r.output, "rank 1"));
        // every checkpoint written before is whole: the newest loads and resumes
        RunResult ls = run_command("ls " + out.path + " | grep -c '^ckpt_.*\\.bin$'");
        INFO(ls.output);
        int written = atoi(ls.output.c_str());
        REQUIRE(written >= 1);
        char name[64];
        snprintf(name, sizeof name, "ckpt_%06d.bin", written * 5);
        RunResult again = run_command(SERIAL + "./train_llama" + std::string(LLAMA_TINY) + data.flags() + " -x " +
                                      std::to_string(written * 5 + 1) + " -v 0 -e " + (out / name) + " -o " +
                                      (out / "again"));
        INFO(again.output);
        CHECK(again.status == 0);
    }
}

TEST_CASE("sparse training on 2 ranks: the target sparsity, pruned weights and their sharded moments held at zero",
          "[mpi][prune]") {
    if (!mpi_available("./train_llama_mpi")) return;
    PatternShards data(64);
    TempDir out;
    RunResult r = run_command(MPIRUN + "2 ./train_llama_mpi" + std::string(LLAMA_TINY) + data.flags() +
                              " -x 12 -v 0 -l 3e-3 -u 2 --sparsity 0.6 --prune-start 2 --prune-end 8 --prune-every 2 -o " +
                              out.path);
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::string path = out / "ckpt_000012.bin";
    int header[CKPT_HEADER_INTS];
    checkpoint_read_header(path, header, CKPT_KIND_LLAMA);
    llama::Llama m;
    llama::llama_build(&m, llama::config_from_header(header));
    TrainState st;
    REQUIRE(llama::llama_load_checkpoint(&m, path, &st));
    CHECK(m.pruner.num_pruned == (size_t)llround(0.6 * m.pruner.num_linear));
    // the moments were gathered from both ranks' shards: zero wherever the weight is pruned
    size_t zeros = 0;
    for (const PruneRange& pr : m.pruner.ranges)
        for (size_t i = 0; i < pr.n; i++)
            if (prune_bit(m.pruner, pr, i)) {
                size_t k = pr.offset + i;
                zeros += m.params_memory[k] == 0.0f && m.m_memory[k] == 0.0f && m.v_memory[k] == 0.0f;
            }
    CHECK(zeros == m.pruner.num_pruned);
    llama::llama_free(&m);
}
