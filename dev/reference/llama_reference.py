#!/usr/bin/env python3
"""PyTorch reference of our Llama, written out as binary test fixtures.

The model is spelled out op by op (no nn.MultiheadAttention, no
scaled_dot_product_attention) so that every line can be checked against the
C++ kernels, and it runs in float64 so the fixture is the truth that the fp32
C++ engine is compared against. Tensors are stored as float32; the initial
parameters are rounded to float32 *before* the float64 run, so C++ starts from
exactly the values the reference started from.

Writes <out-dir>/llama_tiny_tied.bin and <out-dir>/llama_tiny_untied.bin.
The binary format is defined in tests/fixture.h (and dev/reference/README.md).

    python3 dev/reference/llama_reference.py [--out-dir tests/fixtures]
"""
import argparse
import math
import os
import struct

import warnings

# torch warns on import when numpy is absent; nothing here uses numpy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402

FIXTURE_MAGIC = 20261127
FIXTURE_VERSION = 1
DTYPE_F32 = 0
DTYPE_I32 = 1

# Shapes: V vocab, C dim, L layers, NH heads, NKV kv heads, H hidden, B batch, T time.
# H = 72 is deliberately not a multiple of 16, so vectorised loops need their tails.
CONFIG = dict(V=64, C=32, L=2, NH=4, NKV=2, H=72, B=2, T=16)
HPARAMS = dict(
    lr=1e-2,
    beta1=0.9,
    beta2=0.95,
    eps=1e-8,
    weight_decay=0.1,
    # Pre-clip norms are 3.37, 2.81, 2.83 (tied) and 3.96, 2.51, 3.07 (untied): 2.9 clips step 0
    # of both and leaves some later steps unclipped, so both branches of the clip coefficient are
    # exercised, with every norm at least 3% away from it. Asserted in run_reference.
    max_norm=2.9,
    rope_theta=10000.0,
    norm_eps=1e-5,
    n_steps=3,
)
SEED = 1337
INIT_STD = 0.15  # for every matrix, wte included: enough signal that no gradient is negligible

# Stored order of the parameters; wcls only exists when untied.
PARAM_NAMES = ["wte", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final"]
# AdamW weight decay applies to these matrices only, never to norms or wte (even when tied).
DECAY_NAMES = {"wq", "wk", "wv", "wo", "w1", "w2", "w3", "wcls"}


def param_shapes(cfg, tied):
    V, C, L, NH, NKV, H = cfg["V"], cfg["C"], cfg["L"], cfg["NH"], cfg["NKV"], cfg["H"]
    HS = C // NH
    shapes = {
        "wte": (V, C),
        "rms_att": (L, C),
        "wq": (L, NH * HS, C),
        "wk": (L, NKV * HS, C),
        "wv": (L, NKV * HS, C),
        "wo": (L, C, NH * HS),
        "rms_ffn": (L, C),
        "w1": (L, H, C),
        "w2": (L, C, H),
        "w3": (L, H, C),
        "rms_final": (C,),
    }
    if not tied:
        shapes["wcls"] = (V, C)
    return shapes


def init_params(cfg, tied, gen):
    """Matrices ~ N(0, INIT_STD^2); norm weights 1 + 0.1 N(0,1) so the weight path is exercised.
    Values are rounded to float32 first: that is what the fixture stores."""
    params = {}
    for name, shape in param_shapes(cfg, tied).items():
        if name.startswith("rms"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen, dtype=torch.float64)
        else:
            t = INIT_STD * torch.randn(shape, generator=gen, dtype=torch.float64)
        params[name] = t.to(torch.float32).to(torch.float64).requires_grad_(True)
    return params


def rmsnorm(x, w, eps):
    # x is (..., C), w is (C)
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps) * w


def rope(x, theta):
    """Interleaved-pair rotary embedding (Meta's llama, llama2.c), not rotate_half.
    x is (B, T, nh, HS); pair i of a head is (x[2i], x[2i+1]), rotated by t * theta^(-2i/HS)."""
    B, T, nh, HS = x.shape
    i = torch.arange(HS // 2, dtype=torch.float64)
    freq = theta ** (-2.0 * i / HS)  # (HS/2)
    t = torch.arange(T, dtype=torch.float64)
    angle = t[:, None] * freq[None, :]  # (T, HS/2)
    cos = torch.cos(angle)[None, :, None, :]  # (1, T, 1, HS/2)
    sin = torch.sin(angle)[None, :, None, :]
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack([r0, r1], dim=-1).reshape(B, T, nh, HS)


def attention(q, k, v, NH, NKV):
    """Causal softmax attention, scale 1/sqrt(HS); query head h reads kv head h // (NH/NKV).
    q is (B, T, NH, HS), k and v are (B, T, NKV, HS); returns (B, T, NH*HS), heads in order."""
    B, T, _, HS = q.shape
    group = NH // NKV
    kv_head = torch.arange(NH) // group  # (NH)
    k = k[:, :, kv_head, :]  # (B, T, NH, HS)
    v = v[:, :, kv_head, :]
    q = q.permute(0, 2, 1, 3)  # (B, NH, T, HS)
    k = k.permute(0, 2, 1, 3)
    v = v.permute(0, 2, 1, 3)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(HS)  # (B, NH, T, T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    scores = scores - scores.max(dim=-1, keepdim=True).values
    e = torch.exp(scores)
    att = e / e.sum(dim=-1, keepdim=True)
    out = att @ v  # (B, NH, T, HS)
    return out.permute(0, 2, 1, 3).reshape(B, T, NH * HS)


def forward(params, tokens, targets, cfg, hp, tied):
    """Returns logits (B, T, V) and the mean cross-entropy over B*T."""
    L, NH, NKV, C = cfg["L"], cfg["NH"], cfg["NKV"], cfg["C"]
    HS = C // NH
    B, T = tokens.shape
    eps, theta = hp["norm_eps"], hp["rope_theta"]
    x = params["wte"][tokens]  # (B, T, C)
    for l in range(L):
        h = rmsnorm(x, params["rms_att"][l], eps)
        q = (h @ params["wq"][l].T).view(B, T, NH, HS)
        k = (h @ params["wk"][l].T).view(B, T, NKV, HS)
        v = (h @ params["wv"][l].T).view(B, T, NKV, HS)
        q = rope(q, theta)
        k = rope(k, theta)
        a = attention(q, k, v, NH, NKV)  # (B, T, NH*HS)
        x = x + a @ params["wo"][l].T
        h2 = rmsnorm(x, params["rms_ffn"][l], eps)
        g1 = h2 @ params["w1"][l].T  # (B, T, H)
        g3 = h2 @ params["w3"][l].T
        silu = g1 / (1.0 + torch.exp(-g1))
        x = x + (silu * g3) @ params["w2"][l].T
    xf = rmsnorm(x, params["rms_final"], eps)
    wcls = params["wte"] if tied else params["wcls"]
    logits = xf @ wcls.T  # (B, T, V)
    # cross-entropy written out: logsumexp(logits) - logits[target], averaged over B*T
    lse = torch.logsumexp(logits, dim=-1)  # (B, T)
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    loss = (lse - picked).mean()
    return logits, loss


def run_reference(cfg, hp, tied, seed):
    """Initial forward/backward, then n_steps of clipped AdamW on the same batch."""
    gen = torch.Generator().manual_seed(seed)
    V, B, T = cfg["V"], cfg["B"], cfg["T"]
    tokens = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)
    targets = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)
    params = init_params(cfg, tied, gen)
    names = list(params.keys())
    init = {n: p.detach().clone() for n, p in params.items()}

    decay = [params[n] for n in names if n in DECAY_NAMES]
    no_decay = [params[n] for n in names if n not in DECAY_NAMES]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": hp["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"], foreach=False,
    )

    losses, grad_norms, clip_active = [], [], []
    logits0 = loss0 = grads0 = None
    for step in range(hp["n_steps"]):
        opt.zero_grad(set_to_none=True)
        logits, loss = forward(params, tokens, targets, cfg, hp, tied)
        loss.backward()
        if step == 0:
            logits0, loss0 = logits.detach().clone(), loss.detach().clone()
            grads0 = {n: params[n].grad.detach().clone() for n in names}  # before clipping scales them
        # clip_grad_norm_ returns the norm before clipping and scales grads by min(1, max_norm/(norm+1e-6))
        norm = torch.nn.utils.clip_grad_norm_([params[n] for n in names], hp["max_norm"])
        losses.append(loss.item())
        grad_norms.append(norm.item())
        clip_active.append(norm.item() > hp["max_norm"])
        opt.step()
    assert clip_active[0], f"max_norm {hp['max_norm']} does not clip step 0 (norm {grad_norms[0]:.4f})"
    # fp32 C++ must make the same clip/no-clip decision at every step, so no norm may sit near max_norm
    for s, n in enumerate(grad_norms):
        assert abs(n / hp["max_norm"] - 1.0) > 0.02, f"step {s}: grad norm {n:.6f} is too close to max_norm"
    after = {n: p.detach().clone() for n, p in params.items()}
    return dict(tokens=tokens, targets=targets, init=init, logits=logits0, loss=loss0, grads=grads0,
                losses=losses, grad_norms=grad_norms, clip_active=clip_active, after=after)


def pack_tensor(name, dtype, shape, values):
    """One tensor record: name_len, name, dtype, ndim, dims, data (all little-endian)."""
    values = list(values)
    assert len(values) == math.prod(shape), (name, shape, len(values))
    nb = name.encode("ascii")
    out = struct.pack("<i", len(nb)) + nb + struct.pack("<ii", dtype, len(shape))
    out += struct.pack(f"<{len(shape)}i", *shape)
    fmt = "f" if dtype == DTYPE_F32 else "i"
    return out + struct.pack(f"<{len(values)}{fmt}", *values)


def f32(name, t):
    t = torch.as_tensor(t, dtype=torch.float64)
    return pack_tensor(name, DTYPE_F32, tuple(t.shape), t.reshape(-1).tolist())


def i32(name, t):
    t = torch.as_tensor(t, dtype=torch.int64)
    return pack_tensor(name, DTYPE_I32, tuple(t.shape), t.reshape(-1).tolist())


def write_fixture(path, cfg, hp, tied, r):
    c = cfg
    records = [
        i32("config", [c["V"], c["C"], c["L"], c["NH"], c["NKV"], c["H"], c["B"], c["T"], int(tied)]),
        f32("hparams", [hp["lr"], hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"], hp["max_norm"],
                        hp["rope_theta"], hp["norm_eps"], hp["n_steps"]]),
        i32("tokens", r["tokens"]),
        i32("targets", r["targets"]),
    ]
    names = list(r["init"].keys())
    records += [f32("params." + n, r["init"][n]) for n in names]
    records += [f32("logits", r["logits"]), f32("loss", r["loss"].reshape(1))]
    records += [f32("grads." + n, r["grads"][n]) for n in names]
    records += [f32("losses", r["losses"]), f32("grad_norms", r["grad_norms"])]
    records += [f32("params_after." + n, r["after"][n]) for n in names]
    blob = struct.pack("<iii", FIXTURE_MAGIC, FIXTURE_VERSION, len(records)) + b"".join(records)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, path)
    return len(blob)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default="tests/fixtures", help="where the .bin fixtures go (default tests/fixtures)")
    args = ap.parse_args()
    # one thread: float64 BLAS reductions then run in a fixed order, so reruns are bit-identical
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out_dir, exist_ok=True)
    print(f"torch {torch.__version__}")
    for tied in (True, False):
        r = run_reference(CONFIG, HPARAMS, tied, SEED)
        path = os.path.join(args.out_dir, "llama_tiny_tied.bin" if tied else "llama_tiny_untied.bin")
        nbytes = write_fixture(path, CONFIG, HPARAMS, tied, r)
        print(f"{path}: {nbytes} bytes")
        print(f"  loss {r['loss'].item():.6f}")
        for s, (l, n, c) in enumerate(zip(r["losses"], r["grad_norms"], r["clip_active"])):
            print(f"  step {s}: loss {l:.6f}  grad norm {n:.6f}  clipped {'yes' if c else 'no'}")


if __name__ == "__main__":
    main()
