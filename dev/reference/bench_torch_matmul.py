#!/usr/bin/env python3
"""PyTorch's (oneDNN's) GEMM on the llama-5M layer shapes, fp32 and bf16 tensors.

The peer of build/bench_matmul: the same products (M, K, N as out = A·B) as the
trainer calls them, timed as the best of 30 after 5 warm-up calls, on the
same thread count. bf16 here means bf16 tensors in memory: PyTorch does not
convert fp32 activations inside the product, which our GEMM does while it packs
(so this is an upper bound on what bf16 autocast gets, not the autocast step).

    python3 dev/reference/bench_torch_matmul.py [--threads N]
"""
import argparse
import os
import time

import torch

SHAPES = [  # (M, K, N, name): out (M, N) = A (M, K) · B (K, N), llama-5M B16 T256 (4,096 rows)
    (4096, 256, 768, "qkv fwd"), (4096, 768, 256, "qkv dinp"), (768, 4096, 256, "qkv dweight"),
    (4096, 256, 256, "wo fwd"), (4096, 256, 1024, "w13 fwd"), (4096, 1024, 256, "w13 dinp"),
    (1024, 4096, 256, "w13 dweight"), (4096, 512, 256, "w2 fwd"), (512, 256, 4096, "cls fwd (512-row chunk)"),
]


def bench(M, K, N, dtype):
    a, b = torch.randn(M, K, dtype=dtype), torch.randn(K, N, dtype=dtype)
    for _ in range(5):
        a @ b
    best = float("inf")
    for _ in range(30):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2.0 * M * K * N / best / 1e9, best * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    print(f"{'product':26s} {'fp32 GF/s':>10s} {'ms':>7s} | {'bf16 GF/s':>10s} {'ms':>7s}")
    for M, K, N, name in SHAPES:
        g32, t32 = bench(M, K, N, torch.float32)
        g16, t16 = bench(M, K, N, torch.bfloat16)
        print(f"{name:26s} {g32:10.1f} {t32:7.2f} | {g16:10.1f} {t16:7.2f}")


if __name__ == "__main__":
    main()
