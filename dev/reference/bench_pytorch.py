#!/usr/bin/env python3
"""The train_llama model in PyTorch eager on the CPU, timed the way train_llama is.

Same architecture and shapes as train_llama.cpp's presets (tied embedding,
RMSNorm, interleaved RoPE, GQA attention, SwiGLU), fp32, same B and T, same
thread count, AdamW with global-norm clipping; random tokens (the time of a
step does not depend on the data). Prints ms/step and tok/s as a median over
the timed steps, after warm-up steps that are not counted.

    python3 dev/reference/bench_pytorch.py                        # llama-5M, B=16, T=256, all cores
    python3 dev/reference/bench_pytorch.py --threads 1 --steps 5
    python3 dev/reference/bench_pytorch.py --attention naive      # spelled out, as llama_reference.py
    python3 dev/reference/bench_pytorch.py --bf16                 # autocast to bf16, the twin of train_llama --bf16

Attention uses F.scaled_dot_product_attention (PyTorch's fused CPU kernel) by
default: the fastest eager PyTorch has, so the comparison is not flattered.
"""
import argparse
import math
import os
import statistics
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# {V, C, L, NH, NKV, H, maxT}, as MODEL_PRESETS in train_llama.cpp
PRESETS = {
    "llama-5M": dict(V=4096, C=256, L=6, NH=4, NKV=4, H=512, maxT=256),
    "llama-1M": dict(V=4096, C=128, L=4, NH=4, NKV=2, H=256, maxT=256),
}


class Llama(torch.nn.Module):
    def __init__(self, V, C, L, NH, NKV, H, maxT, attention="sdpa"):
        super().__init__()
        self.C, self.L, self.NH, self.NKV, self.H = C, L, NH, NKV, H
        self.HS = C // NH
        self.attention = attention
        HS = self.HS
        std = 0.02
        def mat(*shape, s=std):
            return torch.nn.Parameter(torch.randn(*shape) * s)
        self.wte = mat(V, C)
        self.rms_att = torch.nn.Parameter(torch.ones(L, C))
        self.wqkv = mat(L, (NH + 2 * NKV) * HS, C)
        self.wo = mat(L, C, NH * HS, s=std / math.sqrt(2 * L))
        self.rms_ffn = torch.nn.Parameter(torch.ones(L, C))
        self.w13 = mat(L, 2 * H, C)
        self.w2 = mat(L, C, H, s=std / math.sqrt(2 * L))
        self.rms_final = torch.nn.Parameter(torch.ones(C))
        i = torch.arange(HS // 2, dtype=torch.float64)
        angle = torch.arange(maxT, dtype=torch.float64)[:, None] * (10000.0 ** (-2.0 * i / HS))[None, :]
        self.register_buffer("cos", torch.cos(angle).float())
        self.register_buffer("sin", torch.sin(angle).float())

    @staticmethod
    def rmsnorm(x, w):
        return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + 1e-5) * w

    def rope(self, x):  # x (B, T, nh, HS), interleaved pairs
        T = x.shape[1]
        cos, sin = self.cos[:T, None, :], self.sin[:T, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)

    def attend(self, q, k, v):  # (B, T, heads, HS) each; returns (B, T, NH·HS)
        B, T = q.shape[:2]
        group = self.NH // self.NKV
        if group > 1:
            k = k.repeat_interleave(group, dim=2)
            v = v.repeat_interleave(group, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, NH, T, HS)
        if self.attention == "sdpa":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.HS)
            s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
            y = torch.softmax(s, dim=-1) @ v
        return y.transpose(1, 2).reshape(B, T, self.NH * self.HS)

    def forward(self, tokens, targets):
        B, T = tokens.shape
        NH, NKV, HS, H = self.NH, self.NKV, self.HS, self.H
        x = self.wte[tokens]
        for l in range(self.L):
            h = self.rmsnorm(x, self.rms_att[l])
            qkv = h @ self.wqkv[l].T
            q = self.rope(qkv[..., : NH * HS].view(B, T, NH, HS))
            k = self.rope(qkv[..., NH * HS : (NH + NKV) * HS].view(B, T, NKV, HS))
            v = qkv[..., (NH + NKV) * HS :].view(B, T, NKV, HS)
            x = x + self.attend(q, k, v) @ self.wo[l].T
            h = self.rmsnorm(x, self.rms_ffn[l])
            h13 = h @ self.w13[l].T
            x = x + (F.silu(h13[..., :H]) * h13[..., H:]) @ self.w2[l].T
        logits = self.rmsnorm(x, self.rms_final) @ self.wte.T
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="llama-5M", choices=sorted(PRESETS))
    ap.add_argument("-b", "--batch", type=int, default=16)
    ap.add_argument("-t", "--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--attention", default="sdpa", choices=["sdpa", "naive"])
    ap.add_argument("--bf16", action="store_true",
                    help="torch.autocast(cpu, bfloat16): matmuls in bf16 with fp32 weights, as train_llama --bf16")
    args = ap.parse_args()

    torch.manual_seed(1337)
    torch.set_num_threads(args.threads)
    cfg = dict(PRESETS[args.model])
    cfg["maxT"] = max(cfg["maxT"], args.seq)
    model = Llama(**cfg, attention=args.attention)
    decay = [model.wqkv, model.wo, model.w13, model.w2]
    no_decay = [model.wte, model.rms_att, model.rms_ffn, model.rms_final]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    B, T, V = args.batch, args.seq, cfg["V"]
    nparams = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.model} ({nparams / 1e6:.2f}M params), "
          f"B={B} T={T}, attention={args.attention}, {'bf16 autocast' if args.bf16 else 'fp32'}")
    times = []
    for step in range(args.warmup + args.steps):
        tokens = torch.randint(0, V, (B, T + 1))
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(tokens[:, :-1], tokens[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ms = (time.perf_counter() - t0) * 1e3
        if step >= args.warmup:
            times.append(ms)
        print(f"step {step + 1}: loss {loss.item():.4f}, {ms:.0f} ms{'' if step >= args.warmup else ' (warm-up)'}")
    med = statistics.median(times)
    print(f"pytorch: median {med:.0f} ms/step, {B * T / (med / 1e3):.0f} tok/s over {len(times)} steps")


if __name__ == "__main__":
    main()
