# Build everything with `make`, run the whole test suite with `make test`.
# Defaults: -O3 $(ARCH) -fopenmp, -Wall -Wextra clean.
# ARCH is the baseline every binary needs, not the build machine's best:
# x86-64-v3 (AVX2+FMA, every x86 CPU since about 2015) for the vector kernels
# of kernels/cpu/simd.h. The GEMM compiles its AVX-512, avx512_bf16 and AMX
# paths whatever ARCH says and picks one at run time (kernels/cpu/matmul.h),
# so one build runs at full speed on every machine. A CPU without AVX2
# (or not x86) builds for itself.
ifndef ARCH
ARCH     := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && echo -march=x86-64-v3 || echo -march=native)
endif
CXX      ?= g++
CXXFLAGS ?= -O3 $(ARCH) -fopenmp -std=c++17 -Wall -Wextra
NVCC     ?= nvcc
BUILD    := build

# Headers every trainer and test may include; a change rebuilds dependants.
HEADERS  := $(wildcard common/*.h kernels/cpu/*.h tokenizer/*.h)
# Tokenizer library: every tokenizer/*.cpp except the CLI's main.
TOK_SRCS := $(filter-out tokenizer/main.cpp, $(wildcard tokenizer/*.cpp))
TOK_OBJS := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(TOK_SRCS))
TESTS    := $(patsubst tests/%.cpp,$(BUILD)/%,$(filter-out tests/catch_main.cpp, $(wildcard tests/test_*.cpp)))
# Trainers that exist in this tree (tests include them without their main).
TRAINERS := $(basename $(wildcard train_llama.cpp train_gpt2.cpp))
BENCHES  := $(patsubst dev/cpu/%.cpp,$(BUILD)/%,$(wildcard dev/cpu/bench_*.cpp))

.PHONY: all test clean data bench fuzz quickstart sample

all: $(TRAINERS) $(BUILD)/prepro $(BUILD)/tokenizer $(BUILD)/export $(BUILD)/report $(BUILD)/sample

train_%: train_%.cpp $(HEADERS) $(TOK_OBJS)
	$(CXX) $(CXXFLAGS) -o $@ $< $(TOK_OBJS)

$(BUILD)/obj/%.o: %.cpp $(HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/prepro: prepro/prepro.cpp $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ prepro/prepro.cpp $(TOK_OBJS)

# Checkpoint → Hugging Face, GGUF, llama2.c (export/*.h, one writer per format).
.PHONY: export
export: $(BUILD)/export
$(BUILD)/export: export/export.cpp $(wildcard export/*.h) $(addsuffix .cpp,$(TRAINERS)) $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ export/export.cpp $(TOK_OBJS)

# Dev tool for dev/reference/check_export.py: a checkpoint's logits for a batch (not part of `all`).
.PHONY: dump_logits
dump_logits: $(BUILD)/dump_logits
$(BUILD)/dump_logits: dev/reference/dump_logits.cpp export/models.h $(addsuffix .cpp,$(TRAINERS)) $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ dev/reference/dump_logits.cpp $(TOK_OBJS)

# dev: what llama2.c's run.c prints after --format llama2c, from our forward (README "Use your model").
$(BUILD)/llama2c_greedy: dev/export/llama2c_greedy.cpp train_llama.cpp $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ dev/export/llama2c_greedy.cpp $(TOK_OBJS)

$(BUILD)/tokenizer: tokenizer/main.cpp $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ tokenizer/main.cpp $(TOK_OBJS)

# Data-parallel builds (common/dist.h): the same trainers compiled by mpicxx
# with -DUSE_MPI, run with `mpirun -np N`. Built by `make` when mpicxx is
# installed (Debian: openmpi-bin libopenmpi-dev); the plain build needs no MPI.
# The tokenizer objects are rebuilt for them: die() differs with USE_MPI.
MPICXX   ?= mpicxx
HAVE_MPI := $(shell command -v $(MPICXX) 2>/dev/null)
MPI_BINS := $(addsuffix _mpi,$(TRAINERS))
TOK_OBJS_MPI := $(patsubst %.cpp,$(BUILD)/obj_mpi/%.o,$(TOK_SRCS))
.PHONY: mpi
mpi: $(MPI_BINS) $(BUILD)/bench_allreduce
all: $(if $(HAVE_MPI),$(MPI_BINS),)
# (OMPI_SKIP_MPICXX: the C API only; OpenMPI's C++ bindings do not compile -Wextra clean.)
MPIFLAGS := -DUSE_MPI -DOMPI_SKIP_MPICXX -DMPICH_SKIP_MPICXX
.SECONDARY: $(TOK_OBJS_MPI)
train_%_mpi: train_%.cpp $(HEADERS) $(TOK_OBJS_MPI)
	$(MPICXX) $(CXXFLAGS) $(MPIFLAGS) -o $@ $< $(TOK_OBJS_MPI)
$(BUILD)/bench_allreduce: dev/mpi/bench_allreduce.cpp $(HEADERS)
	@mkdir -p $(BUILD)
	$(MPICXX) $(CXXFLAGS) $(MPIFLAGS) -o $@ $<
$(BUILD)/obj_mpi/%.o: %.cpp $(HEADERS)
	@mkdir -p $(dir $@)
	$(MPICXX) $(CXXFLAGS) $(MPIFLAGS) -c -o $@ $<

# Redraws run reports from logs: build/report LOG.jsonl [LOG2.jsonl ...] [-o out.html]
$(BUILD)/report: report/report.cpp $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ report/report.cpp $(TOK_OBJS)

# build/sample: generation with a KV cache and --eval; it includes both trainers' model code.
SAMPLE_DEPS := $(wildcard sample/*.h export/models.h) train_llama.cpp train_gpt2.cpp
sample: $(BUILD)/sample
$(BUILD)/sample: sample/sample.cpp $(SAMPLE_DEPS) $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ sample/sample.cpp $(TOK_OBJS)
# test_sample includes sample/*.h too (the pattern rule below builds it)
$(BUILD)/test_sample: $(SAMPLE_DEPS)

# Catch2's main is compiled once: it is the slow part of building tests.
$(BUILD)/catch_main.o: tests/catch_main.cpp
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/test_%: tests/test_%.cpp $(BUILD)/catch_main.o $(TOK_OBJS) $(HEADERS) $(wildcard tests/*.h export/*.h) $(addsuffix .cpp,$(TRAINERS))
	$(CXX) $(CXXFLAGS) -o $@ $< $(BUILD)/catch_main.o $(TOK_OBJS)

# Tests run the real binaries too (bad-input and resume tests), so build them first.
test: all $(TESTS)
	@bash tests/run_all.sh $(TESTS)

# Kernel benchmarks (dev/cpu/bench_*.cpp); OpenBLAS is compared against when installed.
HAVE_OPENBLAS := $(shell ls /usr/lib/x86_64-linux-gnu/libopenblas.so /usr/lib/libopenblas.so 2>/dev/null | head -1)
BENCH_FLAGS   := $(if $(HAVE_OPENBLAS),-DHAVE_OPENBLAS -I/usr/include/openblas,)
BENCH_LIBS    := $(if $(HAVE_OPENBLAS),-lopenblas,)
bench: $(BENCHES)
$(BUILD)/bench_%: dev/cpu/bench_%.cpp dev/cpu/bench_common.h $(HEADERS) $(TOK_OBJS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) $(BENCH_FLAGS) -o $@ $< $(TOK_OBJS) $(BENCH_LIBS)

# Prepares data/tinystories/ (see scripts/prepare_tinystories.sh for the sources it tries).
data: $(BUILD)/prepro
	bash scripts/prepare_tinystories.sh

# The README's first command: data, then a few minutes of llama-5M with
# progress, val loss, bits/byte and a sample story (out/quickstart/).
# Ten minutes of wall clock (--time): the lr schedule runs over the budget, then
# the whole validation set is evaluated (val loss, bits/byte) and a story sampled.
# The matmuls' precision is the trainer's --precision auto: bf16 where this
# CPU's bf16 path beats fp32 (AMX tiles; Zen 4's vdpbf16ps), fp32 elsewhere.
QUICKSTART_FLAGS ?= --model llama-5M -b 16 -t 256 --time 10m -l 2e-3 -u 30 --schedule wsd --decay-frac 0.3 \
                    -v 0 -s 0 -g 150 -n 0 \
                    -o out/quickstart
quickstart: all data
	./train_llama $(QUICKSTART_FLAGS)

clean:
	rm -rf $(BUILD) train_llama train_gpt2 train_llama_cu train_llama_mpi train_gpt2_mpi train_llama_cu_mpi

# ---- CUDA: compiles and links without a GPU (CI does that); runs where one is present.
# (section owned by the CUDA work; `make cuda` builds all of it)
#   train_llama_cu       the GPU trainer (train_llama.cu includes train_llama.cpp without its main)
#   build/cuda/KERNEL    one harness per kernel, dev/cuda/KERNEL.cu: checks against the CPU kernel, then timings
#   build/test_cuda      tests/cuda/test_cuda.cu; `make test_cuda` runs it ("skipped: no CUDA device" without one)
#   `make bench_cuda` runs every harness. What a GPU session runs: dev/cuda/README.md.
CUDA_ARCHS   ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
NVCCFLAGS    ?= -O3 -std=c++17 $(CUDA_ARCHS) -Xcompiler -fopenmp,$(ARCH),-Wall,-Wextra
CUDA_HEADERS := $(wildcard kernels/cuda/*.cuh)
CUDA_LIBS    := -lcublas -lcublasLt -lgomp
CUDA_HARNESSES := $(patsubst dev/cuda/%.cu,$(BUILD)/cuda/%,$(wildcard dev/cuda/*.cu))
.PHONY: cuda test_cuda bench_cuda
cuda: train_llama_cu $(CUDA_HARNESSES) $(BUILD)/test_cuda $(if $(HAVE_MPI),train_llama_cu_mpi,)
train_llama_cu: train_llama.cu train_llama.cpp $(HEADERS) $(CUDA_HEADERS) $(TOK_OBJS)
	$(NVCC) $(NVCCFLAGS) -o $@ $< $(TOK_OBJS) $(CUDA_LIBS)
# Several GPUs, one process each under mpirun: NCCL for the gradients and weights, MPI to start and coordinate.
train_llama_cu_mpi: train_llama.cu train_llama.cpp $(HEADERS) $(CUDA_HEADERS) $(TOK_OBJS_MPI)
	$(NVCC) $(NVCCFLAGS) $(MPIFLAGS) -DUSE_NCCL $(shell $(MPICXX) --showme:compile 2>/dev/null) -o $@ $< \
	    $(TOK_OBJS_MPI) $(CUDA_LIBS) -lnccl $(shell $(MPICXX) --showme:link 2>/dev/null)
$(BUILD)/cuda/%: dev/cuda/%.cu dev/cuda/harness.h $(HEADERS) $(CUDA_HEADERS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -o $@ $< $(CUDA_LIBS)
$(BUILD)/test_cuda: tests/cuda/test_cuda.cu $(wildcard dev/cuda/*.cu dev/cuda/*.h tests/*.h) train_llama.cu \
                    train_llama.cpp $(HEADERS) $(CUDA_HEADERS) $(TOK_OBJS)
	@mkdir -p $(BUILD)
	$(NVCC) $(NVCCFLAGS) -o $@ $< $(TOK_OBJS) $(CUDA_LIBS)
# The test also runs both trainers (checkpoints crossing between them), so it needs both built.
test_cuda: $(BUILD)/test_cuda train_llama_cu train_llama
	@$(BUILD)/test_cuda
bench_cuda: $(CUDA_HARNESSES)
	@status=0; for h in $(CUDA_HARNESSES); do echo "=== $$h"; $$h || status=1; done; exit $$status
# ---- end CUDA

# libFuzzer targets for the tokenizer (dev/fuzz/run.sh: clang++, FUZZ_TIME seconds each, default 20); not part of `make test`.
fuzz:
	@bash dev/fuzz/run.sh
