#!/usr/bin/env python3
"""The PyTorch twin of `train_llama --time`: the same model (bench_pytorch.py's
Llama), data, batch, AdamW, clipping and time-based schedule, trained in
PyTorch eager on the CPU for a wall-clock budget; then the loss, perplexity and
bits/byte on the whole validation shard, as train_llama reports them. It writes
a log.jsonl in train_llama's format, so `build/report` overlays the two runs.

    python3 dev/reference/train_pytorch.py --time 600 --bf16 -l 2e-3 -o runs/t10/pytorch
    build/report runs/t10/a/log.jsonl runs/t10/pytorch/log.jsonl -o runs/t10/compare.html

The schedule follows train_llama's --time rule: before each step the run's
length is re-estimated as steps done + (time left / mean step time so far);
linear warmup over -u steps, then a cosine to 0.1·lr over that estimate; the
run stops when the next step would not fit. The windows are train_llama's
(T+1 tokens at stride T, every window once per epoch in a shuffled order),
with PyTorch's own shuffle: the same data, not the same order.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_pytorch import PRESETS, Llama  # noqa: E402


def read_shard(path):
    with open(path, "rb") as f:
        header = struct.unpack("<256i", f.read(1024))
        if header[0] != 20240520:
            sys.exit(f"{path}: bad magic {header[0]}, expected 20240520")
        dtype = {1: torch.int16, 2: torch.int32}[header[1]]
        data = torch.frombuffer(bytearray(f.read()), dtype=dtype)
    tokens = data.to(torch.int64) & (0xFFFF if header[1] == 1 else 0xFFFFFFFF)
    if tokens.numel() != header[2]:
        sys.exit(f"{path}: {tokens.numel()} tokens, header says {header[2]}")
    return tokens


def token_bytes(path):
    """Bytes each token decodes to, from our tokenizer.bin (tokenizer/tokenizer.h)."""
    with open(path, "rb") as f:
        header = struct.unpack("<256i", f.read(1024))
        V = header[2]
        f.read(1024)  # the byte -> id table
        lengths = []
        for _ in range(V):
            (n,) = struct.unpack("<i", f.read(4))
            f.read(n)
            lengths.append(n)
    return torch.tensor(lengths, dtype=torch.float64)


def windows(tokens, T):
    starts = torch.arange(0, tokens.numel() - T, T)
    return torch.stack([tokens[s : s + T + 1] for s in starts.tolist()])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", type=float, default=600.0, help="seconds of training")
    ap.add_argument("--model", default="llama-5M", choices=sorted(PRESETS))
    ap.add_argument("-b", "--batch", type=int, default=16)
    ap.add_argument("-t", "--seq", type=int, default=256)
    ap.add_argument("-l", "--lr", type=float, default=2e-3)
    ap.add_argument("-u", "--warmup", type=int, default=30)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--bf16", action="store_true", help="torch.autocast(cpu, bfloat16), PyTorch's faster CPU mode")
    ap.add_argument("-i", "--train", default="data/tinystories/train_000000.bin")
    ap.add_argument("-j", "--val", default="data/tinystories/val_000000.bin")
    ap.add_argument("-z", "--tokenizer", default="data/tinystories/tokenizer.bin")
    ap.add_argument("-o", "--out", default="runs/pytorch")
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    cfg = dict(PRESETS[args.model])
    model = Llama(**cfg)
    decay = [model.wqkv, model.wo, model.w13, model.w2]
    no_decay = [model.wte, model.rms_att, model.rms_ffn, model.rms_final]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    B, T = args.batch, args.seq
    train, val = windows(read_shard(args.train), T), windows(read_shard(args.val), T)
    nbytes = token_bytes(args.tokenizer)
    log = open(os.path.join(args.out, "log.jsonl"), "w")
    log.write(json.dumps({"config": {"trainer": "pytorch twin (dev/reference/train_pytorch.py)", "torch": torch.__version__,
                                     "model": args.model, "B": B, "T": T, "lr": args.lr, "warmup": args.warmup,
                                     "time_s": args.time, "bf16": args.bf16, "threads": torch.get_num_threads()}}) + "\n")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.model}, B={B} T={T}, "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}, lr {args.lr}, --time {args.time:.0f}s")

    order, pos, step, total = torch.randperm(len(train)), 0, 0, args.warmup + 1
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if step > 0:
            total = step + int((args.time - elapsed) / (elapsed / step))
        if step >= total:
            break
        if step < args.warmup:
            lr = args.lr * (step + 1) / args.warmup
        else:
            progress = (step - args.warmup) / max(1, total - args.warmup)
            lr = 0.1 * args.lr + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * 0.9 * args.lr
        for g in opt.param_groups:
            g["lr"] = lr
        if pos + B > len(train):
            order, pos = torch.randperm(len(train)), 0
        batch = train[order[pos : pos + B]]
        pos += B
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(batch[:, :-1], batch[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ms = (time.perf_counter() - t0) * 1e3
        step += 1
        log.write(json.dumps({"step": step, "loss": round(loss.item(), 6), "lr": lr, "norm": round(norm.item(), 6),
                              "ms": round(ms, 2), "tok_s": round(B * T / (ms / 1e3), 1),
                              "time_s": round(time.perf_counter() - start, 3)}) + "\n")
        if step % 50 == 0:
            print(f"step {step}/{total} | loss {loss.item():.4f} | lr {lr:.2e} | {ms:.0f} ms | "
                  f"{time.perf_counter() - start:.0f} s")
            log.flush()

    # the whole validation shard, in batches of B windows, as train_llama's final evaluation
    nll, count, bytes_ = 0.0, 0, 0.0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        for i in range(0, len(val) - B + 1, B):
            w = val[i : i + B]
            nll += model(w[:, :-1], w[:, 1:]).item() * w[:, 1:].numel()
            count += w[:, 1:].numel()
            bytes_ += nbytes[w[:, 1:]].sum().item()
    val_loss, bpb = nll / count, nll / math.log(2) / bytes_
    log.write(json.dumps({"step": step, "val_loss": round(val_loss, 6), "val_bpb": round(bpb, 6)}) + "\n")
    log.close()
    print(f"step {step} | val loss {val_loss:.4f} | val ppl {math.exp(val_loss):.2f} | val bits/byte {bpb:.4f} "
          f"({count} tokens)")
    print(f"done: {step} steps in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
