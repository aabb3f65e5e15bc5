#!/usr/bin/env python3
"""PyTorch reference of our GPT-2, written out as binary test fixtures and llm.c model files.

The model is spelled out op by op (no nn.LayerNorm, no nn.GELU, no
scaled_dot_product_attention) so that every line can be checked against the
C++ kernels, and it runs in float64 so the fixture is the truth that the fp32
C++ engine is compared against. Tensors are stored as float32; the initial
parameters are rounded to float32 *before* the float64 run, so C++ starts from
exactly the values the reference started from.

The parameters are llm.c's 16 tensors in llm.c's order and layout (what
llm.c's train_gpt2.py writes and train_gpt2.c reads), under llm.c's C names.

Writes, by default into tests/fixtures/:
    gpt2_tiny.bin        the fixture (format: tests/fixture.h, dev/reference/README.md)
    gpt2_tiny_llmc.bin   the fixture's initial parameters as an llm.c model file (version 3, fp32)
On request (--gpt2-124M PATH) also a randomly initialised GPT-2 124M llm.c
model file (~500 MB; for timing, not for git).

    python3 dev/reference/gpt2_reference.py [--out-dir tests/fixtures] [--gpt2-124M /tmp/gpt2_124M_random.bin]
"""
import argparse
import ctypes
import math
import os
import struct
import sys
import warnings

# torch warns on import when numpy is absent; nothing here uses numpy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402

# The fixture container is shared with the Llama reference: one writer, one format.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import FIXTURE_MAGIC, FIXTURE_VERSION, f32, i32  # noqa: E402

LLMC_MODEL_MAGIC = 20240326  # common/llmc_model.h
LLMC_MODEL_VERSION = 3       # fp32 parameters, padded vocab in header[7]
LLMC_HEADER_INTS = 256

# Shapes: V vocab, Vp vocab padded to a multiple of 128 (llm.c), C channels, L layers, NH heads,
# maxT longest sequence (rows of wpe), B batch, T time. HS = C/NH = 9 and C = 36 are deliberately
# not multiples of 8 or 16, so vectorised loops need their tails; T < maxT leaves wpe rows the batch
# never reads, whose gradient must be exactly zero; V < Vp leaves padded wte rows, which must not
# reach the logits (they are random here, not zero as in llm.c's files, so a leak would show).
CONFIG = dict(V=100, Vp=128, C=36, L=2, NH=4, maxT=24, B=2, T=16)
HPARAMS = dict(
    lr=1e-2,
    beta1=0.9,
    beta2=0.95,
    eps=1e-8,
    weight_decay=0.1,
    # Pre-clip norms are 2.87, 2.52, 2.29: 2.4 clips steps 0 and 1 and not step 2, so both branches of
    # the clip coefficient are exercised, with every norm at least 4% away from it. Asserted in run_reference.
    max_norm=2.4,
    norm_eps=1e-5,
    n_steps=3,
)
SEED = 1337
INIT_STD = 0.15  # matrices and embeddings: enough signal that no gradient is negligible

# llm.c's order (train_gpt2.c's ParameterTensors); AdamW decays the 2-D tensors as llm.c and
# nanoGPT do: both embeddings and the four weight matrices, never biases or LayerNorm parameters.
PARAM_NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
               "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
DECAY_NAMES = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def param_shapes(cfg):
    Vp, C, L, maxT = cfg["Vp"], cfg["C"], cfg["L"], cfg["maxT"]
    return {
        "wte": (Vp, C), "wpe": (maxT, C),
        "ln1w": (L, C), "ln1b": (L, C),
        "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C),
        "attprojw": (L, C, C), "attprojb": (L, C),
        "ln2w": (L, C), "ln2b": (L, C),
        "fcw": (L, 4 * C, C), "fcb": (L, 4 * C),
        "fcprojw": (L, C, 4 * C), "fcprojb": (L, C),
        "lnfw": (C,), "lnfb": (C,),
    }


def init_fixture_params(cfg, gen):
    """Weights and embeddings ~ N(0, INIT_STD²); LayerNorm weights 1 + 0.1·N(0,1); biases 0.1·N(0,1),
    so every bias and norm path carries signal. Rounded to float32 first: that is what is stored."""
    params = {}
    for name, shape in param_shapes(cfg).items():
        z = torch.randn(shape, generator=gen, dtype=torch.float64)
        if name in ("ln1w", "ln2w", "lnfw"):
            t = 1.0 + 0.1 * z
        elif name in DECAY_NAMES:
            t = INIT_STD * z
        else:
            t = 0.1 * z
        params[name] = t.to(torch.float32).to(torch.float64).requires_grad_(True)
    return params


def layernorm(x, w, b, eps):
    # x is (..., C); biased variance, as nn.LayerNorm
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def attention(qkv, NH):
    """Causal softmax attention, scale 1/sqrt(HS). qkv is (B, T, 3C): q, then k, then v, each C wide
    and split into NH heads of HS in order. Returns (B, T, C), heads in order."""
    B, T, C3 = qkv.shape
    C = C3 // 3
    HS = C // NH
    q, k, v = qkv.split(C, dim=-1)
    q = q.view(B, T, NH, HS).permute(0, 2, 1, 3)  # (B, NH, T, HS)
    k = k.view(B, T, NH, HS).permute(0, 2, 1, 3)
    v = v.view(B, T, NH, HS).permute(0, 2, 1, 3)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(HS)  # (B, NH, T, T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    scores = scores - scores.max(dim=-1, keepdim=True).values
    e = torch.exp(scores)
    att = e / e.sum(dim=-1, keepdim=True)
    return (att @ v).permute(0, 2, 1, 3).reshape(B, T, C)


def forward(p, tokens, targets, cfg, hp):
    """Returns logits (B, T, V) over the real vocabulary and the mean cross-entropy over B*T."""
    L, NH, V = cfg["L"], cfg["NH"], cfg["V"]
    B, T = tokens.shape
    eps = hp["norm_eps"]
    x = p["wte"][tokens] + p["wpe"][:T]  # (B, T, C)
    for l in range(L):
        h = layernorm(x, p["ln1w"][l], p["ln1b"][l], eps)
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]  # (B, T, 3C)
        a = attention(qkv, NH)
        x = x + a @ p["attprojw"][l].T + p["attprojb"][l]
        h2 = layernorm(x, p["ln2w"][l], p["ln2b"][l], eps)
        f = gelu_tanh(h2 @ p["fcw"][l].T + p["fcb"][l])  # (B, T, 4C)
        x = x + f @ p["fcprojw"][l].T + p["fcprojb"][l]
    xf = layernorm(x, p["lnfw"], p["lnfb"], eps)
    # the head is tied to the token embedding; its padded rows V..Vp-1 are not part of the vocabulary
    logits = xf @ p["wte"][:V].T  # (B, T, V)
    lse = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return logits, (lse - picked).mean()


def run_reference(cfg, hp, seed):
    """Initial forward/backward, then n_steps of clipped AdamW on the same batch."""
    gen = torch.Generator().manual_seed(seed)
    V, B, T = cfg["V"], cfg["B"], cfg["T"]
    tokens = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)
    targets = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)
    params = init_fixture_params(cfg, gen)
    init = {n: t.detach().clone() for n, t in params.items()}

    decay = [params[n] for n in PARAM_NAMES if n in DECAY_NAMES]
    no_decay = [params[n] for n in PARAM_NAMES if n not in DECAY_NAMES]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": hp["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"], foreach=False,
    )
    losses, grad_norms, clip_active = [], [], []
    logits0 = loss0 = grads0 = None
    for step in range(hp["n_steps"]):
        opt.zero_grad(set_to_none=True)
        logits, loss = forward(params, tokens, targets, cfg, hp)
        loss.backward()
        if step == 0:
            logits0, loss0 = logits.detach().clone(), loss.detach().clone()
            grads0 = {n: params[n].grad.detach().clone() for n in PARAM_NAMES}  # before clipping
        norm = torch.nn.utils.clip_grad_norm_([params[n] for n in PARAM_NAMES], hp["max_norm"])
        losses.append(loss.item())
        grad_norms.append(norm.item())
        clip_active.append(norm.item() > hp["max_norm"])
        opt.step()
    assert clip_active[0], f"max_norm {hp['max_norm']} does not clip step 0 (norm {grad_norms[0]:.4f})"
    assert not all(clip_active), f"max_norm {hp['max_norm']} clips every step: {grad_norms}"
    # fp32 C++ must make the same clip/no-clip decision at every step, so no norm may sit near max_norm
    for s, n in enumerate(grad_norms):
        assert abs(n / hp["max_norm"] - 1.0) > 0.02, f"step {s}: grad norm {n:.6f} is too close to max_norm"
    # the padded rows and the unread wpe rows get exactly no gradient
    assert torch.all(grads0["wte"][V:] == 0) and torch.all(grads0["wpe"][T:] == 0)
    after = {n: t.detach().clone() for n, t in params.items()}
    return dict(tokens=tokens, targets=targets, init=init, logits=logits0, loss=loss0, grads=grads0,
                losses=losses, grad_norms=grad_norms, clip_active=clip_active, after=after)


def write_atomic(path, chunks):
    tmp = path + ".tmp"
    n = 0
    with open(tmp, "wb") as f:
        for c in chunks:
            f.write(c)
            n += len(c)
    os.replace(tmp, path)
    return n


def write_fixture(path, cfg, hp, r):
    c = cfg
    records = [
        i32("config", [c["V"], c["Vp"], c["C"], c["L"], c["NH"], c["maxT"], c["B"], c["T"]]),
        f32("hparams", [hp["lr"], hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"], hp["max_norm"],
                        hp["norm_eps"], hp["n_steps"]]),
        i32("tokens", r["tokens"]),
        i32("targets", r["targets"]),
    ]
    records += [f32("params." + n, r["init"][n]) for n in PARAM_NAMES]
    records += [f32("logits", r["logits"]), f32("loss", r["loss"].reshape(1))]
    records += [f32("grads." + n, r["grads"][n]) for n in PARAM_NAMES]
    records += [f32("losses", r["losses"]), f32("grad_norms", r["grad_norms"])]
    records += [f32("params_after." + n, r["after"][n]) for n in PARAM_NAMES]
    return write_atomic(path, [struct.pack("<iii", FIXTURE_MAGIC, FIXTURE_VERSION, len(records))] + records)


def tensor_bytes(t):
    """The raw little-endian float32 bytes of a tensor (no numpy needed)."""
    t = t.detach().to(torch.float32).contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * 4)


def write_llmc_model(path, cfg, params):
    """llm.c's model file, as its train_gpt2.py write_model(..., dtype="float32") writes it:
    header int32[256] = [20240326, 3, maxT, V, L, NH, C, Vp, 0...], then the 16 tensors in order."""
    header = [0] * LLMC_HEADER_INTS
    header[:8] = [LLMC_MODEL_MAGIC, LLMC_MODEL_VERSION, cfg["maxT"], cfg["V"], cfg["L"], cfg["NH"], cfg["C"], cfg["Vp"]]
    chunks = [struct.pack(f"<{LLMC_HEADER_INTS}i", *header)]
    shapes = param_shapes(cfg)
    for n in PARAM_NAMES:
        assert tuple(params[n].shape) == shapes[n], (n, params[n].shape, shapes[n])
        chunks.append(tensor_bytes(params[n]))
    return write_atomic(path, chunks)


def gpt2_124m_random(seed):
    """GPT-2 124M initialised as llm.c's train_gpt2.py does: every Linear weight and both embeddings
    N(0, 0.02²), the two projections into the residual stream (attn.c_proj, mlp.c_proj) N(0, (0.02/sqrt(2L))²),
    biases 0, LayerNorm weight 1 and bias 0; the padded vocabulary rows of wte are 0."""
    cfg = dict(V=50257, Vp=50304, C=768, L=12, NH=12, maxT=1024)
    gen = torch.Generator().manual_seed(seed)
    proj_std = 0.02 / math.sqrt(2 * cfg["L"])
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name in ("ln1w", "ln2w", "lnfw"):
            t = torch.ones(shape)
        elif name in DECAY_NAMES:
            std = proj_std if name in ("attprojw", "fcprojw") else 0.02
            t = std * torch.randn(shape, generator=gen, dtype=torch.float32)
        else:
            t = torch.zeros(shape)
        params[name] = t
    params["wte"][cfg["V"]:] = 0.0
    return cfg, params


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default="tests/fixtures", help="where the fixtures go (default tests/fixtures)")
    ap.add_argument("--gpt2-124M", dest="gpt2_124m", metavar="PATH",
                    help="also write a randomly initialised GPT-2 124M llm.c model file here (~500 MB)")
    ap.add_argument("--seed", type=int, default=SEED, help=f"seed for the 124M file (default {SEED})")
    args = ap.parse_args()
    # one thread: float64 BLAS reductions then run in a fixed order, so reruns are bit-identical
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out_dir, exist_ok=True)
    print(f"torch {torch.__version__}")

    r = run_reference(CONFIG, HPARAMS, SEED)
    path = os.path.join(args.out_dir, "gpt2_tiny.bin")
    print(f"{path}: {write_fixture(path, CONFIG, HPARAMS, r)} bytes")
    print(f"  loss {r['loss'].item():.6f}")
    for s, (l, n, c) in enumerate(zip(r["losses"], r["grad_norms"], r["clip_active"])):
        print(f"  step {s}: loss {l:.6f}  grad norm {n:.6f}  clipped {'yes' if c else 'no'}")
    path = os.path.join(args.out_dir, "gpt2_tiny_llmc.bin")
    print(f"{path}: {write_llmc_model(path, CONFIG, r['init'])} bytes")

    if args.gpt2_124m:
        cfg, params = gpt2_124m_random(args.seed)
        n = sum(t.numel() for t in params.values())
        nbytes = write_llmc_model(args.gpt2_124m, cfg, params)
        print(f"{args.gpt2_124m}: GPT-2 124M, random init (seed {args.seed}), {n} parameters, {nbytes} bytes")


if __name__ == "__main__":
    main()
