// common/evaluate.h: validation loss with bits per byte, and sampling a story.
// Both are the same for every model; the trainer passes its forward pass in.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "../tokenizer/tokenizer.h"
#include "dataloader.h"
#include "dist.h"
#include "rng.h"
#include "sampler.h"

struct EvalResult {
    float loss;       // mean NLL per token, nats
    float bpb;        // bits per byte of the text the targets decode to; < 0 without a tokenizer
};

// Mean NLL over the first `batches` validation batches. nll_sum(inputs, targets,
// B, T) runs the model and returns the summed NLL (nats) of the B·T targets.
// Bits per byte divide by the bytes the targets decode to (tok may be null).
// With MPI (dist), each rank evaluates its B/N rows of every batch, as in
// training, and the sums are added over the ranks.
template <class NllSum>
EvalResult evaluate_val(DataLoader* val, int batches, const Tokenizer* tok, NllSum nll_sum,
                        const Dist* dist = nullptr) {
    dataloader_reset(val);
    double nll = 0.0, bytes = 0.0, count = 0.0;
    int T = val->T, B = dist ? dist_rows(*dist, val->B) : val->B;
    size_t row0 = dist ? (size_t)dist->rank * B * T : 0;
    for (int i = 0; i < batches; i++) {
        dataloader_next_batch(val);
        const int* targets = val->targets.data() + row0;
        nll += nll_sum(val->inputs.data() + row0, targets, B, T);
        if (tok)
            for (int j = 0; j < B * T; j++) bytes += tok->tokens[targets[j]].size();
        count += (double)B * T;
    }
    if (dist) {
        nll = dist_sum(*dist, nll);
        bytes = dist_sum(*dist, bytes);
        count = dist_sum(*dist, count);
    }
    EvalResult r;
    r.loss = (float)(nll / count);
    r.bpb = (tok && bytes > 0) ? (float)(nll / log(2.0) / bytes) : -1.0f;
    return r;
}

// Generates from an <|endoftext|> prompt until eot or num_tokens; returns the
// decoded text. last_logits(tokens, len) runs the model on len tokens and
// returns the V logits of the last position. Each new token reruns the forward
// on the last maxT tokens (no KV cache: simple, and cheap next to training).
template <class LastLogits>
std::string generate_text(const Tokenizer& tok, int maxT, int V, int num_tokens, float temperature, int top_k,
                          Rng* rng, LastLogits last_logits) {
    std::vector<int> seq(1, tok.eot_id >= 0 ? tok.eot_id : 0);
    std::vector<int> out;
    for (int i = 0; i < num_tokens; i++) {
        int start = (int)seq.size() > maxT ? (int)seq.size() - maxT : 0;
        int len = (int)seq.size() - start;
        const float* logits = last_logits(seq.data() + start, len);
        int next = sample_token(logits, V, temperature, top_k, rng);
        if (next == tok.eot_id) break;  // the story is over
        seq.push_back(next);
        out.push_back(next);
    }
    return tokenizer_decode(tok, out.data(), out.size());
}
