// dev/cuda/adamw.cu: the global gradient norm and the fused AdamW update
// (kernels/cuda/adamw.cuh) against kernels/cpu/adamw.h.
#include "harness.h"

#include "../../kernels/cpu/adamw.h"
#include "../../kernels/cuda/adamw.cuh"

template <typename floatX>
static void adamw_case(HarnessRun* run, const char* label, size_t n, float grad_range, bool bench) {
    std::string tag = std::string(label) + " <" + dtype_name<floatX>() + "> n=" + std::to_string(n);
    const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, wd = 0.1f, clip = 1.0f;
    const int t = 3;
    std::vector<float> params = random_floats(n, 1), grads = random_floats(n, 2, -grad_range, grad_range);
    std::vector<float> m = random_floats(n, 3, -0.01f, 0.01f), v = random_floats(n, 4, 0.0f, 1e-4f);

    double norm_sq_ref = grad_norm_squared(grads.data(), n);
    float scale = grad_clip_scale((float)sqrt(norm_sq_ref), clip);
    std::vector<float> p_ref = params, m_ref = m, v_ref = v;
    adamw_update(p_ref.data(), grads.data(), m_ref.data(), v_ref.data(), n, lr, beta1, beta2, eps, wd, t, scale);

    DeviceArray<float> d_p(n), d_g(n), d_m(n), d_v(n), d_norm(1 + NORM_BLOCKS);
    DeviceArray<floatX> d_px(n);
    upload(d_p.ptr, params);
    upload(d_g.ptr, grads);
    upload(d_m.ptr, m);
    upload(d_v.ptr, v);
    grad_norm_squared_gpu(d_norm.ptr, d_norm.ptr + 1, d_g.ptr, n);
    check_close(run, "grad norm squared " + tag, download(d_norm.ptr, 1), {(float)norm_sq_ref}, 0.0, 1e-5);
    // the update from the reference norm, so a norm difference does not show up twice
    upload(d_norm.ptr, std::vector<float>{(float)norm_sq_ref});
    adamw_update_gpu(d_p.ptr, d_px.ptr, d_g.ptr, d_m.ptr, d_v.ptr, n, lr, beta1, beta2, eps, wd, t, d_norm.ptr, clip);
    std::vector<float> p = download(d_p.ptr, n);
    check_close(run, "params " + tag, p, p_ref, 1e-7, 1e-5);  // fused multiply-adds round differently
    check_close(run, "m " + tag, download(d_m.ptr, n), m_ref, 1e-9, 1e-5);
    check_close(run, "v " + tag, download(d_v.ptr, n), v_ref, 1e-12, 1e-5);
    check_close(run, "compute copy = rounded master " + tag, download(d_px.ptr, n), rounded<floatX>(p), 0.0, 0.0);

    if (!bench) return;
    report_bandwidth(*run, "grad norm " + tag,
                     time_ms([&] { grad_norm_squared_gpu(d_norm.ptr, d_norm.ptr + 1, d_g.ptr, n); }), 4.0 * n);
    // reads p, g, m, v; writes p, m, v and the compute copy
    report_bandwidth(*run, "adamw " + tag, time_ms([&] {
                         adamw_update_gpu(d_p.ptr, d_px.ptr, d_g.ptr, d_m.ptr, d_v.ptr, n, lr, beta1, beta2, eps, wd,
                                          t, d_norm.ptr, clip);
                     }),
                     n * (7.0 * sizeof(float) + sizeof(floatX)));
}

static void adamw_harness(HarnessRun* run) {
    printf("adamw: global gradient norm, fused AdamW over fp32 master weights writing the compute copy\n");
    adamw_case<float>(run, "small, clipped", 10007, 1.0f, false);
    adamw_case<bf16>(run, "small, clipped", 10007, 1.0f, false);
    adamw_case<bf16>(run, "small, not clipped", 1000, 1e-3f, false);
    if (!run->full) return;
    // llama-5M and ~124M parameter counts
    adamw_case<bf16>(run, "llama-5M", 4984064, 1e-3f, true);
    adamw_case<bf16>(run, "llama-124M", 123587328, 1e-4f, true);
}

#ifndef CUDA_HARNESS_NO_MAIN
int main(int argc, char** argv) { return harness_main(argc, argv, "adamw", adamw_harness); }
#endif
