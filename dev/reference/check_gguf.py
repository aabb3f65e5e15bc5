#!/usr/bin/env python3
"""Check build/export's GGUF against the checkpoint it came from, with the real clients.

    python3 dev/reference/check_gguf.py --ckpt out/demo/ckpt_000800.bin --gguf out/demo/model.gguf \
        [--tokenizer data/tinystories/tokenizer.bin] [--prompt "Once upon a time"] [--tokens 40]

1. Reads the GGUF with the `gguf` package's GGUFReader (pip install gguf) and checks every tensor
   against the checkpoint's parameters, mapped by hand here: names, shapes, types, and data
   (F32 bit-exact; F16 bit-exact against numpy's float16 rounding), plus the architecture
   metadata and the tokenizer (tokens in bytes_to_unicode form, merges, eot as bos/eos).
2. If `llama_cpp` (pip install llama-cpp-python) imports: loads the GGUF in llama.cpp, compares its
   logits for the prompt with a numpy forward pass of the checkpoint (Llama or GPT-2, float64), and
   decodes greedily in both, printing the two continuations.

    python3 dev/reference/check_gguf.py --write-fixture tests/fixtures --tokenizer tests/fixtures/gguf_tiny_tok.bin

writes the CI fixture: a tiny checkpoint and what gguf's own GGUFWriter makes of it (F32 and F16);
tests/test_export_gguf.cpp checks that build/export writes the same bytes.

Needs numpy and gguf; llama_cpp is optional. Not part of CI (tests/test_export_gguf.cpp is).
Exit status 1 if any check fails.
"""
import argparse
import importlib.metadata
import json
import os
import struct
import sys

import numpy as np

CKPT_MAGIC, LLMC_MAGIC, TOK_MAGIC = 20261126, 20240326, 20261124


def read_checkpoint(path):
    """(kind, config dict, params float32 array) from our checkpoint or an llm.c GPT-2 model file."""
    raw = open(path, "rb").read()
    h = np.frombuffer(raw[:1024], dtype=np.int32)
    if h[0] == LLMC_MAGIC:
        cfg = dict(maxT=int(h[2]), V=int(h[3]), L=int(h[4]), NH=int(h[5]), C=int(h[6]), Vp=int(h[7]), eps=1e-5)
        return "gpt2", cfg, np.frombuffer(raw[1024:], dtype=np.float32)
    assert h[0] == CKPT_MAGIC, f"{path}: bad magic {h[0]}"
    n = struct.unpack("<q", raw[1024:1032])[0]
    params = np.frombuffer(raw[1032:1032 + 4 * n], dtype=np.float32)
    c = h[4:]  # the config; its floats (theta, eps) through the header's float view
    fl = np.frombuffer(raw[:1024], dtype=np.float32)
    if h[2] == 1:
        cfg = dict(V=int(c[0]), C=int(c[1]), L=int(c[2]), NH=int(c[3]), NKV=int(c[4]), H=int(c[5]), maxT=int(c[6]),
                   tied=int(c[7]), theta=float(fl[4 + 8]), eps=float(fl[4 + 9]))
        return "llama", cfg, params
    cfg = dict(maxT=int(c[0]), V=int(c[1]), Vp=int(c[2]), L=int(c[3]), NH=int(c[4]), C=int(c[5]), eps=float(fl[4 + 6]))
    return "gpt2", cfg, params


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def read_tokenizer(path):
    """(tokens as bytes_to_unicode strings, merges as 'a b' strings, eot id) from our tokenizer.bin or a GPT-2 dir."""
    if os.path.isdir(path):
        enc = json.load(open(os.path.join(path, "encoder.json"), encoding="utf-8"))
        tokens = [None] * len(enc)
        for s, i in enc.items():
            tokens[i] = s
        merges = [l for l in open(os.path.join(path, "vocab.bpe"), encoding="utf-8").read().split("\n")[1:] if l]
        return tokens, merges, enc.get("<|endoftext|>")
    raw = open(path, "rb").read()
    h = struct.unpack("<256i", raw[:1024])
    assert h[0] == TOK_MAGIC, f"{path}: bad magic {h[0]}"
    V, eot, M = h[2], h[3], h[4]
    at, table, byts = 2048, bytes_to_unicode(), []
    for _ in range(V):
        (n,) = struct.unpack("<i", raw[at:at + 4])
        byts.append(raw[at + 4:at + 4 + n])
        at += 4 + n
    tokens = ["".join(table[b] for b in t) for t in byts]
    tokens[eot] = "<|endoftext|>"
    merges = []
    for _ in range(M):
        l, r, _res = struct.unpack("<3i", raw[at:at + 12])
        merges.append(tokens[l] + " " + tokens[r])
        at += 12
    return tokens, merges, eot


def split(params, sizes):
    out, at = [], 0
    for shape in sizes:
        n = int(np.prod(shape))
        out.append(params[at:at + n].reshape(shape))
        at += n
    assert at == params.size, f"parameter count {params.size}, layout needs {at}"
    return out


def llama_tensors(cfg, params):
    """GGUF name → (rows, cols) or (n,) array, and our named views for the numpy forward."""
    V, C, L, NH, NKV, H = cfg["V"], cfg["C"], cfg["L"], cfg["NH"], cfg["NKV"], cfg["H"]
    HS = C // NH
    QKV = (NH + 2 * NKV) * HS
    shapes = [(V, C), (L, C), (L, QKV, C), (L, C, NH * HS), (L, C), (L, 2 * H, C), (L, C, H), (C,)]
    if not cfg["tied"]:
        shapes.append((V, C))
    p = split(params, shapes)
    wte, rms_att, wqkv, wo, rms_ffn, w13, w2, rms_final = p[:8]
    t = {"token_embd.weight": wte, "output_norm.weight": rms_final}
    if not cfg["tied"]:
        t["output.weight"] = p[8]
    for l in range(L):
        b = f"blk.{l}."
        t[b + "attn_norm.weight"] = rms_att[l]
        t[b + "attn_q.weight"] = wqkv[l][:NH * HS]
        t[b + "attn_k.weight"] = wqkv[l][NH * HS:(NH + NKV) * HS]
        t[b + "attn_v.weight"] = wqkv[l][(NH + NKV) * HS:]
        t[b + "attn_output.weight"] = wo[l]
        t[b + "ffn_norm.weight"] = rms_ffn[l]
        t[b + "ffn_gate.weight"] = w13[l][:H]
        t[b + "ffn_up.weight"] = w13[l][H:]
        t[b + "ffn_down.weight"] = w2[l]
    return t


def gpt2_tensors(cfg, params):
    V, Vp, C, L, T = cfg["V"], cfg["Vp"], cfg["C"], cfg["L"], cfg["maxT"]
    shapes = [(Vp, C), (T, C), (L, C), (L, C), (L, 3 * C, C), (L, 3 * C), (L, C, C), (L, C), (L, C), (L, C),
              (L, 4 * C, C), (L, 4 * C), (L, C, 4 * C), (L, C), (C,), (C,)]
    wte, wpe, ln1w, ln1b, qkvw, qkvb, aw, ab, ln2w, ln2b, fcw, fcb, pw, pb, lnfw, lnfb = split(params, shapes)
    t = {"token_embd.weight": wte[:V], "position_embd.weight": wpe, "output_norm.weight": lnfw,
         "output_norm.bias": lnfb}
    for l in range(L):
        b = f"blk.{l}."
        t.update({b + "attn_norm.weight": ln1w[l], b + "attn_norm.bias": ln1b[l], b + "attn_qkv.weight": qkvw[l],
                  b + "attn_qkv.bias": qkvb[l], b + "attn_output.weight": aw[l], b + "attn_output.bias": ab[l],
                  b + "ffn_norm.weight": ln2w[l], b + "ffn_norm.bias": ln2b[l], b + "ffn_up.weight": fcw[l],
                  b + "ffn_up.bias": fcb[l], b + "ffn_down.weight": pw[l], b + "ffn_down.bias": pb[l]})
    return t


def llama_logits(cfg, t, ids):
    """Our Llama in numpy, float64 (dev/reference/README.md's model), interleaved-pair RoPE."""
    C, L, NH, NKV, eps, theta = cfg["C"], cfg["L"], cfg["NH"], cfg["NKV"], cfg["eps"], cfg["theta"]
    HS, T = C // NH, len(ids)
    f = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
    rms = lambda x, w: x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * f(w)  # noqa: E731
    ang = np.arange(T)[:, None] * theta ** (-2.0 * np.arange(HS // 2) / HS)
    cos, sin = np.cos(ang), np.sin(ang)

    def rope(x):  # (T, heads, HS)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * cos[:, None] - x1 * sin[:, None]
        out[..., 1::2] = x0 * sin[:, None] + x1 * cos[:, None]
        return out

    x = f(t["token_embd.weight"])[ids]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(L):
        b = f"blk.{l}."
        h = rms(x, t[b + "attn_norm.weight"])
        q = rope((h @ f(t[b + "attn_q.weight"]).T).reshape(T, NH, HS))
        k = rope((h @ f(t[b + "attn_k.weight"]).T).reshape(T, NKV, HS))
        v = (h @ f(t[b + "attn_v.weight"]).T).reshape(T, NKV, HS)
        k, v = np.repeat(k, NH // NKV, axis=1), np.repeat(v, NH // NKV, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(HS) + mask
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        a = np.einsum("hts,shd->thd", p, v).reshape(T, C)
        x = x + a @ f(t[b + "attn_output.weight"]).T
        h = rms(x, t[b + "ffn_norm.weight"])
        g, u = h @ f(t[b + "ffn_gate.weight"]).T, h @ f(t[b + "ffn_up.weight"]).T
        x = x + (g / (1 + np.exp(-g)) * u) @ f(t[b + "ffn_down.weight"]).T
    head = t.get("output.weight", t["token_embd.weight"])
    return rms(x, t["output_norm.weight"]) @ f(head).T


def gpt2_logits(cfg, t, ids):
    """Our GPT-2 in numpy, float64 (dev/reference/README.md's model), tanh GELU, tied head of V rows."""
    C, L, NH, eps = cfg["C"], cfg["L"], cfg["NH"], cfg["eps"]
    HS, T = C // NH, len(ids)
    f = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731

    def ln(x, w, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + eps) * f(w) + f(b)

    x = f(t["token_embd.weight"])[ids] + f(t["position_embd.weight"])[:T]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(L):
        b = f"blk.{l}."
        h = ln(x, t[b + "attn_norm.weight"], t[b + "attn_norm.bias"])
        qkv = h @ f(t[b + "attn_qkv.weight"]).T + f(t[b + "attn_qkv.bias"])
        q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(T, NH, HS) for i in range(3))
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(HS) + mask
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        a = np.einsum("hts,shd->thd", p, v).reshape(T, C)
        x = x + a @ f(t[b + "attn_output.weight"]).T + f(t[b + "attn_output.bias"])
        h = ln(x, t[b + "ffn_norm.weight"], t[b + "ffn_norm.bias"])
        u = h @ f(t[b + "ffn_up.weight"]).T + f(t[b + "ffn_up.bias"])
        g = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
        x = x + g @ f(t[b + "ffn_down.weight"]).T + f(t[b + "ffn_down.bias"])
    return ln(x, t["output_norm.weight"], t["output_norm.bias"]) @ f(t["token_embd.weight"]).T


def write_fixture(out_dir, tok_path):
    """The CI fixture: a tiny Llama checkpoint (seeded random parameters, tied head) and the GGUF files that
    the `gguf` package's own GGUFWriter makes of it, F32 and F16, with the keys, tensors and values in the
    order build/export writes them. tests/test_export_gguf.cpp exports the checkpoint and compares bytes."""
    import gguf

    os.makedirs(out_dir, exist_ok=True)
    tokens, merges, eot = read_tokenizer(tok_path)
    V, C, L, NH, NKV, H, maxT = len(tokens), 8, 1, 2, 1, 12, 8
    cfg = dict(V=V, C=C, L=L, NH=NH, NKV=NKV, H=H, maxT=maxT, tied=1, theta=10000.0, eps=1e-5)
    HS = C // NH
    n = V * C + L * C + L * (NH + 2 * NKV) * HS * C + L * C * C + L * C + L * 2 * H * C + L * C * H + C
    params = (np.random.default_rng(1337).standard_normal(n) * 0.5).astype(np.float32)
    header = np.zeros(256, dtype=np.int32)
    header[:4] = [CKPT_MAGIC, 1, 1, 0]
    header[4:12] = [V, C, L, NH, NKV, H, maxT, 1]
    header[12:14] = np.array([cfg["theta"], cfg["eps"]], dtype=np.float32).view(np.int32)
    ckpt = os.path.join(out_dir, "gguf_tiny_ckpt.bin")
    with open(ckpt, "wb") as f:
        f.write(header.tobytes() + struct.pack("<q", n) + params.tobytes())
    t = llama_tensors(cfg, params)
    order = ["token_embd.weight"]
    for l in range(L):
        order += [f"blk.{l}.{x}.weight" for x in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                                    "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")]
    order.append("output_norm.weight")
    for f16 in (False, True):
        path = os.path.join(out_dir, f"gguf_tiny_{'f16' if f16 else 'f32'}.gguf")
        w = gguf.GGUFWriter(path, "llama")
        w.add_name("llm.cpp llama")
        w.add_custom_alignment(32)
        w.add_file_type(1 if f16 else 0)
        w.add_context_length(maxT)
        w.add_embedding_length(C)
        w.add_block_count(L)
        w.add_feed_forward_length(H)
        w.add_head_count(NH)
        w.add_head_count_kv(NKV)
        w.add_layer_norm_rms_eps(cfg["eps"])
        w.add_rope_freq_base(cfg["theta"])
        w.add_rope_dimension_count(HS)
        w.add_vocab_size(V)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("gpt-2")
        w.add_token_list(tokens)
        w.add_token_types([3 if i == eot else 1 for i in range(V)])
        w.add_token_merges(merges)
        w.add_bos_token_id(eot)
        w.add_eos_token_id(eot)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        for name in order:
            a = np.ascontiguousarray(t[name])
            w.add_tensor(name, a.astype(np.float16) if f16 and a.ndim == 2 else a)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        print(f"wrote {path} ({os.path.getsize(path)} bytes) with gguf {importlib.metadata.version('gguf')}")
    print(f"wrote {ckpt} ({os.path.getsize(ckpt)} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt")
    ap.add_argument("--gguf")
    ap.add_argument("--write-fixture", metavar="DIR", help="write the CI fixture (needs --tokenizer) and exit")
    ap.add_argument("--tokenizer", default=None, help="our tokenizer.bin or a GPT-2 vocab dir (default: by kind)")
    ap.add_argument("--prompt", default="Once upon a time")
    ap.add_argument("--tokens", type=int, default=40, help="greedy tokens to compare")
    ap.add_argument("--f32-kv", action="store_true", help="llama.cpp's KV cache in F32 (its default is F16)")
    args = ap.parse_args()
    if args.write_fixture:
        write_fixture(args.write_fixture, args.tokenizer)
        return 0
    if not args.ckpt or not args.gguf:
        ap.error("--ckpt and --gguf are required")
    from gguf import GGUFReader

    kind, cfg, params = read_checkpoint(args.ckpt)
    tok_path = args.tokenizer or ("data/tinystories/tokenizer.bin" if kind == "llama" else "../shared/data/gpt2")
    want = llama_tensors(cfg, params) if kind == "llama" else gpt2_tensors(cfg, params)
    r = GGUFReader(args.gguf)
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)
            print("FAIL:", what)

    def field(key):
        return r.fields[key].contents()

    check(field("general.architecture") == kind, "general.architecture")
    names = [t.name for t in r.tensors]
    check(sorted(names) == sorted(want), f"tensor names: {sorted(set(names) ^ set(want))}")
    f16_count = 0
    for t in r.tensors:
        if t.name not in want:
            continue
        w = want[t.name]
        data = np.asarray(t.data)
        check(list(t.shape) == list(w.shape[::-1]), f"{t.name}: GGUF dims {list(t.shape)}, expected {list(w.shape[::-1])}")
        if t.tensor_type.name == "F16":
            f16_count += 1
            check(w.ndim == 2, f"{t.name}: F16 but not a matrix")
            check(np.array_equal(data.view(np.uint16).reshape(w.shape), w.astype(np.float16).view(np.uint16)),
                  f"{t.name}: F16 data differs from numpy's float16 rounding")
        else:
            check(t.tensor_type.name == "F32", f"{t.name}: type {t.tensor_type.name}")
            check(np.array_equal(data.reshape(w.shape), w), f"{t.name}: F32 data differs")
    a = kind
    if kind == "llama":
        meta = {f"{a}.context_length": cfg["maxT"], f"{a}.embedding_length": cfg["C"], f"{a}.block_count": cfg["L"],
                f"{a}.feed_forward_length": cfg["H"], f"{a}.attention.head_count": cfg["NH"],
                f"{a}.attention.head_count_kv": cfg["NKV"], f"{a}.rope.dimension_count": cfg["C"] // cfg["NH"]}
        check(np.float32(field(f"{a}.attention.layer_norm_rms_epsilon")) == np.float32(cfg["eps"]), "rms eps")
        check(np.float32(field(f"{a}.rope.freq_base")) == np.float32(cfg["theta"]), "rope.freq_base")
    else:
        meta = {f"{a}.context_length": cfg["maxT"], f"{a}.embedding_length": cfg["C"], f"{a}.block_count": cfg["L"],
                f"{a}.feed_forward_length": 4 * cfg["C"], f"{a}.attention.head_count": cfg["NH"]}
    for k, v in meta.items():
        check(field(k) == v, f"{k} = {field(k)}, expected {v}")
    tokens, merges, eot = read_tokenizer(tok_path)
    check(field("tokenizer.ggml.model") == "gpt2", "tokenizer.ggml.model")
    check(field("tokenizer.ggml.tokens") == tokens, "tokenizer.ggml.tokens")
    check(field("tokenizer.ggml.merges") == merges, "tokenizer.ggml.merges")
    check(field("tokenizer.ggml.bos_token_id") == eot and field("tokenizer.ggml.eos_token_id") == eot, "bos/eos")
    print(f"gguf {r.fields['GGUF.version'].contents()}: {len(r.tensors)} tensors ({f16_count} F16) checked against "
          f"{args.ckpt}; {len(tokens)} tokens, {len(merges)} merges: {'OK' if not failures else 'FAILED'}")

    try:
        from llama_cpp import Llama
    except ImportError:
        print("llama_cpp not installed: skipping llama.cpp's logits and greedy decoding")
        return 1 if failures else 0
    kv = dict(type_k=0, type_v=0) if args.f32_kv else {}  # 0 = GGML_TYPE_F32
    llm = Llama(model_path=args.gguf, n_ctx=cfg["maxT"], logits_all=True, verbose=False, n_threads=1, **kv)
    ids = llm.tokenize(args.prompt.encode(), add_bos=True)
    print(f"llama.cpp tokenises {args.prompt!r} as {ids}")
    forward = llama_logits if kind == "llama" else gpt2_logits
    llm.reset()
    llm.eval(ids)
    cpp = np.array(llm.scores[:len(ids)], dtype=np.float64)
    ref = forward(cfg, want, ids)
    diff = np.abs(cpp - ref).max()
    print(f"logits at {len(ids)} positions: max |llama.cpp - numpy forward of the checkpoint| = {diff:.3g}")
    # what llama.cpp rounds: its KV cache to F16 unless --f32-kv, GELU's input and output to F16 (ggml's CPU
    # GELU is a table lookup), and the weights of a --dtype f16 file
    bound = 5e-2 if f16_count else 1e-2 if not args.f32_kv else 1e-3 if kind == "gpt2" else 1e-4
    check(diff < bound, f"llama.cpp logits differ by {diff:.3g} > {bound:g}")
    seq = list(ids)
    for _ in range(args.tokens):
        seq.append(int(np.argmax(forward(cfg, want, seq)[-1])))
    ours = llm.detokenize(seq[len(ids):]).decode(errors="replace")
    out = llm.create_completion(args.prompt, max_tokens=args.tokens, temperature=0.0, top_k=1)
    text = out["choices"][0]["text"]
    print(f"llama.cpp greedy: {args.prompt!r} + {text!r}")
    print(f"numpy greedy:     {args.prompt!r} + {ours!r}")
    # llama.cpp stops at <|endoftext|>, which detokenizes to nothing: its text is then a prefix of ours
    check(ours.startswith(text), "greedy continuations differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
