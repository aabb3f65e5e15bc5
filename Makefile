# Build everything with `make`, run the whole test suite with `make test`.
# Defaults: -O3 -march=native -fopenmp, -Wall -Wextra clean.
CXX      ?= g++
CXXFLAGS ?= -O3 -march=native -fopenmp -std=c++17 -Wall -Wextra
NVCC     ?= nvcc
BUILD    := build

# Headers every trainer and test may include; a change rebuilds dependants.
HEADERS  := $(wildcard common/*.h kernels/cpu/*.h tokenizer/*.h)
# Tokenizer library: every tokenizer/*.cpp except the CLI's main.
TOK_SRCS := $(filter-out tokenizer/main.cpp, $(wildcard tokenizer/*.cpp))
TOK_OBJS := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(TOK_SRCS))
TESTS    := $(patsubst tests/%.cpp,$(BUILD)/%,$(filter-out tests/catch_main.cpp, $(wildcard tests/test_*.cpp)))

.PHONY: all test clean data

all: train_llama $(BUILD)/prepro $(BUILD)/tokenizer

train_llama: train_llama.cpp $(HEADERS) $(TOK_OBJS)
	$(CXX) $(CXXFLAGS) -o $@ train_llama.cpp $(TOK_OBJS)

$(BUILD)/obj/%.o: %.cpp $(HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/prepro: prepro/prepro.cpp $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ prepro/prepro.cpp $(TOK_OBJS)

$(BUILD)/tokenizer: tokenizer/main.cpp $(TOK_OBJS) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -o $@ tokenizer/main.cpp $(TOK_OBJS)

# Catch2's main is compiled once: it is the slow part of building tests.
$(BUILD)/catch_main.o: tests/catch_main.cpp
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/test_%: tests/test_%.cpp $(BUILD)/catch_main.o $(TOK_OBJS) $(HEADERS) $(wildcard tests/*.h) train_llama.cpp
	$(CXX) $(CXXFLAGS) -o $@ $< $(BUILD)/catch_main.o $(TOK_OBJS)

# Tests run the real binaries too (bad-input and resume tests), so build them first.
test: all $(TESTS)
	@bash tests/run_all.sh $(TESTS)

# Prepares data/tinystories/ (see scripts/prepare_tinystories.sh for the sources it tries).
data: $(BUILD)/prepro
	bash scripts/prepare_tinystories.sh

clean:
	rm -rf $(BUILD) train_llama train_gpt2 train_llama_cu
