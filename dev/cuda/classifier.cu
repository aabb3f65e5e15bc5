// dev/cuda/classifier.cu: the fused classifier kernel (kernels/cuda/classifier.cuh)
// against kernels/cpu/crossentropy.h's forward then backward.
#include "harness.h"

#include "../../kernels/cpu/crossentropy.h"
#include "../../kernels/cuda/classifier.cuh"

template <typename floatX>
static void classifier_case(HarnessRun* run, const char* label, int N, int V, bool bench) {
    std::string tag = std::string(label) + " <" + dtype_name<floatX>() + "> N=" + std::to_string(N) +
                      " V=" + std::to_string(V);
    size_t NV = (size_t)N * V;
    const float dloss = 1.0f / N;
    // a wide spread of logits, so the max subtraction and underflow of small p matter
    std::vector<float> logits = rounded<floatX>(random_floats(NV, 1, -8.0f, 8.0f));
    std::vector<int> targets = random_ints(N, 2, V);
    std::vector<float> probs(NV), losses_ref(N), dlogits_ref(NV);
    crossentropy_forward(losses_ref.data(), probs.data(), logits.data(), targets.data(), N, V);
    crossentropy_backward(dlogits_ref.data(), probs.data(), targets.data(), dloss, N, V);

    DeviceArray<floatX> d_logits(NV);
    DeviceArray<float> d_losses(N);
    DeviceArray<int> d_targets(N);
    upload(d_logits.ptr, logits);
    upload_ints(d_targets.ptr, targets);
    crossentropy_forward_backward_gpu(d_losses.ptr, d_logits.ptr, d_targets.ptr, dloss, N, V, false);
    check_close(run, "loss only " + tag, download(d_losses.ptr, N), losses_ref, 1e-5, 1e-5);
    check_close(run, "loss only leaves the logits " + tag, download(d_logits.ptr, NV), logits, 0.0, 0.0);
    crossentropy_forward_backward_gpu(d_losses.ptr, d_logits.ptr, d_targets.ptr, dloss, N, V, true);
    check_close(run, "loss + backward: loss " + tag, download(d_losses.ptr, N), losses_ref, 1e-5, 1e-5);
    check_scaled(run, "loss + backward: dlogits " + tag, download(d_logits.ptr, NV), dlogits_ref, out_rtol<floatX>());

    if (!bench) return;
    // read the row twice (max/sum, then the gradient), write it once
    double ms = time_ms([&] {
        crossentropy_forward_backward_gpu(d_losses.ptr, d_logits.ptr, d_targets.ptr, dloss, N, V, true);
    });
    report_bandwidth(*run, "forward + backward " + tag, ms, 3.0 * NV * sizeof(floatX));
}

static void classifier_harness(HarnessRun* run) {
    printf("classifier: fused softmax + cross-entropy + dlogits in place\n");
    classifier_case<float>(run, "small", 37, 1000, false);
    classifier_case<bf16>(run, "small", 37, 1000, false);
    classifier_case<float>(run, "small", 5, 7, false);  // fewer logits than threads
    if (!run->full) return;
    for (const TrainerShape& s : TRAINER_SHAPES) {
        int rows = classifier_chunk_rows(s.B * s.T, s.V);  // what the trainer runs at once
        printf("  %s: %d rows per classifier chunk of %d\n", s.name, rows, s.B * s.T);
        classifier_case<float>(run, s.name, std::min(rows, 1024), s.V, false);
        classifier_case<bf16>(run, s.name, rows, s.V, true);
    }
}

#ifndef CUDA_HARNESS_NO_MAIN
int main(int argc, char** argv) { return harness_main(argc, argv, "classifier", classifier_harness); }
#endif
