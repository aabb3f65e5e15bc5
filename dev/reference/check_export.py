#!/usr/bin/env python3
"""Checks build/export --format hf with Hugging Face transformers (dev only, not in CI).

For each model it exports our checkpoint to a transformers directory, loads it with
AutoModelForCausalLM / AutoTokenizer (offline), and compares:
  - logits on a batch with ours (build/dump_logits): max abs diff must be <= 1e-4 (fp32);
  - the tokenizer's ids with ours (build/tokenizer encode --allow-special): must be identical.

Models:
  llama   a Llama with the data/tinystories tokenizer: --llama-ckpt, or a synthetic one
          (V 4096) if not given; ids compared on the whole ../shared/data/tinystories/valid_head.txt
  gpt2    a GPT-2 with GPT-2's vocabulary (../shared/data/gpt2): --gpt2-ckpt, or a synthetic
          one (V 50257); ids compared on the whole valid_head.txt too
  tiny    three tiny synthetic models (Llama tied, Llama untied with NKV < NH, GPT-2) and a
          300-token tokenizer trained on a slice of train_head.txt; with --write-fixture their HF
          logits and HF token ids go to tests/fixtures/hf_export.bin, which tests/test_export_hf.cpp
          compares with ours in CI (no Python there).

Synthetic parameters come from an integer hash (synthetic_params below), not from an RNG, so the C++
test rebuilds exactly the same floats: each value is k/4096 with |k| <= 1024 (exact in float32);
norm weights are 1 + value/4.

    make -j2 export dump_logits build/tokenizer && make data
    python3 dev/reference/check_export.py [--llama-ckpt out/quickstart/ckpt_000200.bin] [--write-fixture]
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from llama_reference import FIXTURE_MAGIC, FIXTURE_VERSION, f32, i32  # noqa: E402

SHARED = os.path.join(ROOT, "..", "shared", "data")
VALID = os.path.join(SHARED, "tinystories", "valid_head.txt")
TRAIN = os.path.join(SHARED, "tinystories", "train_head.txt")
GPT2_DIR = os.path.join(SHARED, "gpt2")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "hf_export.bin")
TOL = 1e-4

# common/checkpoint.h
CKPT_MAGIC, CKPT_VERSION, KIND_LLAMA, KIND_GPT2 = 20261126, 1, 1, 2

# The tiny models of the fixture (tests/test_export_hf.cpp reads the same numbers from it).
TINY_TOKENIZER = dict(vocab=300, slice_bytes=200_000)
TINY_LLAMA = dict(V=300, C=32, L=2, NH=4, NKV=2, H=40, maxT=32)
TINY_GPT2 = dict(V=300, Vp=384, C=32, L=2, NH=4, maxT=32)
TINY_B, TINY_T = 2, 12
# Text for the fixture's tokenizer check: a slice of the validation stories (with an <|endoftext|>)
# and the pre-tokenizer's corner cases: contractions, digits, runs of spaces, tabs, non-ASCII letters.
EXTRA_TEXT = ("\n<|endoftext|>\nIt's 3.14159, isn't it? We'll see   you'd  I'M 2024\t\ttabs\r\n"
              "caf\u00e9 na\u00efve \u00fcber \u4e2d\u6587 \u0430\u0431\u0432 \U0001F600!! ...   trailing   \n\n")


def run(cmd, stdin=None):
    r = subprocess.run(cmd, cwd=ROOT, input=stdin, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout.decode()}{r.stderr.decode()}")
    return r.stdout


def synthetic_params(n, salt):
    """n values k/4096, k in [-1024, 1024], from a hash of (salt, index): what the C++ test computes."""
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = i * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt) * np.uint64(0xD1B54A32D192ED03)
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    k = (h % np.uint64(2049)).astype(np.int64) - 1024
    return (k / 4096.0).astype(np.float32)


def llama_sizes(c, tied):
    HS = c["C"] // c["NH"]
    QKV = (c["NH"] + 2 * c["NKV"]) * HS
    V, C, L, H = c["V"], c["C"], c["L"], c["H"]
    return [V * C, L * C, L * QKV * C, L * C * c["NH"] * HS, L * C, L * 2 * H * C, L * C * H, C, 0 if tied else V * C]


def gpt2_sizes(c):
    C, L, Vp, maxT = c["C"], c["L"], c["Vp"], c["maxT"]
    return [Vp * C, maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C, L * C, L * C,
            L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C]


LLAMA_NORMS = {1, 4, 7}   # rms_att, rms_ffn, rms_final
GPT2_NORMS = {2, 8, 14}   # ln1w, ln2w, lnfw (the LayerNorm biases are ordinary values)


def synthetic_blob(sizes, norms):
    parts = []
    for t, n in enumerate(sizes):
        v = synthetic_params(n, t)
        parts.append((1.0 + v / 4.0).astype(np.float32) if t in norms else v)
    return np.concatenate(parts)


def write_checkpoint(path, kind, config_ints, config_floats, blob):
    """A parameters-only checkpoint (common/checkpoint.h): header[256], int64 count, float32 params."""
    header = [0] * 256
    header[0:4] = [CKPT_MAGIC, CKPT_VERSION, kind, 0]
    cfg = list(config_ints) + [struct.unpack("<i", struct.pack("<f", x))[0] for x in config_floats]
    header[4:4 + len(cfg)] = cfg
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", *header) + struct.pack("<q", blob.size) + blob.astype("<f4").tobytes())


def synthetic_llama(path, c, tied, theta=10000.0, eps=1e-5):
    blob = synthetic_blob(llama_sizes(c, tied), LLAMA_NORMS)
    ints = [c["V"], c["C"], c["L"], c["NH"], c["NKV"], c["H"], c["maxT"], int(tied)]
    write_checkpoint(path, KIND_LLAMA, ints, [theta, eps], blob)


def synthetic_gpt2(path, c, eps=1e-5):
    blob = synthetic_blob(gpt2_sizes(c), GPT2_NORMS)
    ints = [c["maxT"], c["V"], c["Vp"], c["L"], c["NH"], c["C"]]
    write_checkpoint(path, KIND_GPT2, ints, [eps], blob)


def export(ckpt, out_dir, tokenizer):
    run(["build/export", "-e", ckpt, "-f", "hf", "-o", out_dir, "-z", tokenizer])


def our_logits(ckpt, tokens, tmp):
    B, T = tokens.shape
    tok_path, out_path = os.path.join(tmp, "tokens.bin"), os.path.join(tmp, "logits.bin")
    tokens.astype("<i4").tofile(tok_path)
    run(["build/dump_logits", "-e", ckpt, "-i", tok_path, "-o", out_path, "-b", str(B), "-t", str(T)])
    return np.fromfile(out_path, dtype="<f4").reshape(B, T, -1)


def hf_logits(hf_dir, tokens):
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(tokens, dtype=torch.long)).logits.numpy()


def our_ids(tokenizer, text):
    flag = ["--gpt2", tokenizer] if os.path.isdir(tokenizer) else ["--tokenizer", tokenizer]
    return [int(x) for x in run(["build/tokenizer", "encode", "--allow-special"] + flag, stdin=text.encode()).split()]


def hf_ids(hf_dir, text):
    return AutoTokenizer.from_pretrained(hf_dir).encode(text)


def compare_logits(name, ckpt, hf_dir, tokens, tmp):
    ours, theirs = our_logits(ckpt, tokens, tmp), hf_logits(hf_dir, tokens)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = float(np.abs(ours - theirs).max())
    ok = diff <= TOL
    print(f"{name}: logits {tuple(ours.shape)}, max |ours - transformers| = {diff:.3g} "
          f"(max |logit| {float(np.abs(ours).max()):.3g}) {'ok' if ok else 'FAIL'}")
    return ok, theirs


def compare_ids(name, tokenizer, hf_dir, text, what):
    ours, theirs = our_ids(tokenizer, text), hf_ids(hf_dir, text)
    same = ours == theirs
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    print(f"{name}: token ids on {what}: ours {len(ours)}, transformers {len(theirs)}, "
          + ("identical" if same else f"FIRST DIFFERENCE AT {first}"))
    return same, theirs


def fnv1a32(data):
    h = 0x811C9DC5
    arr = np.frombuffer(data, dtype=np.uint8)
    for b in arr.tolist():  # ~seconds for the 2 MB GPT-2 tokenizer.json
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h  # stored as int32


def check_real(args, tmp):
    ok = True
    valid = open(VALID, encoding="utf-8").read()
    # Llama with our TinyStories tokenizer
    llama_tok = os.path.join(ROOT, "data", "tinystories", "tokenizer.bin")
    ckpt = args.llama_ckpt
    if not ckpt:
        ckpt = os.path.join(tmp, "llama_4096.bin")
        synthetic_llama(ckpt, dict(V=4096, C=64, L=2, NH=4, NKV=2, H=128, maxT=128), tied=True)
    hf = os.path.join(tmp, "hf_llama")
    export(ckpt, hf, llama_tok)
    same, _ = compare_ids("llama", llama_tok, hf, valid, "valid_head.txt")
    ids = np.array(our_ids(llama_tok, valid)[: 4 * 64], dtype=np.int32).reshape(4, 64)
    good, _ = compare_logits(f"llama ({os.path.relpath(ckpt, ROOT) if args.llama_ckpt else 'synthetic V 4096'})",
                             ckpt, hf, ids, tmp)
    ok &= same and good
    # GPT-2 with GPT-2's vocabulary
    ckpt = args.gpt2_ckpt
    if not ckpt:
        ckpt = os.path.join(tmp, "gpt2_50257.bin")
        synthetic_gpt2(ckpt, dict(V=50257, Vp=50304, C=32, L=2, NH=4, maxT=64))
    hf = os.path.join(tmp, "hf_gpt2")
    export(ckpt, hf, GPT2_DIR)
    same, _ = compare_ids("gpt2", GPT2_DIR, hf, valid, "valid_head.txt")
    ids = np.array(our_ids(GPT2_DIR, valid)[: 4 * 64], dtype=np.int32).reshape(4, 64)
    good, _ = compare_logits(f"gpt2 ({os.path.relpath(ckpt, ROOT) if args.gpt2_ckpt else 'synthetic V 50257'})",
                             ckpt, hf, ids, tmp)
    return ok and same and good


def check_tiny(args, tmp):
    ok = True
    records = []
    # the fixture's tokenizer: build/tokenizer train on the first slice_bytes of train_head.txt
    slice_path, tok300 = os.path.join(tmp, "slice.txt"), os.path.join(tmp, "tok300.bin")
    with open(TRAIN, "rb") as f:
        open(slice_path, "wb").write(f.read(TINY_TOKENIZER["slice_bytes"]))
    run(["build/tokenizer", "train", "--vocab", str(TINY_TOKENIZER["vocab"]), "--quiet", "--out", tok300, slice_path])
    records.append(i32("tok300.spec", [TINY_TOKENIZER["vocab"], TINY_TOKENIZER["slice_bytes"]]))

    rng = np.random.default_rng(1337)
    models = [("llama_tied", True), ("llama_untied", False), ("gpt2", None)]
    for name, tied in models:
        ckpt, hf = os.path.join(tmp, name + ".bin"), os.path.join(tmp, "hf_" + name)
        if name.startswith("llama"):
            c = TINY_LLAMA
            synthetic_llama(ckpt, c, tied)
            config = [c["V"], c["C"], c["L"], c["NH"], c["NKV"], c["H"], c["maxT"], int(tied)]
        else:
            c = TINY_GPT2
            synthetic_gpt2(ckpt, c)
            config = [c["V"], c["Vp"], c["C"], c["L"], c["NH"], c["maxT"]]
        export(ckpt, hf, tok300)
        tokens = rng.integers(0, c["V"], size=(TINY_B, TINY_T), dtype=np.int64).astype(np.int32)
        good, logits = compare_logits(f"tiny {name}", ckpt, hf, tokens, tmp)
        ok &= good
        st = open(os.path.join(hf, "model.safetensors"), "rb").read()
        records += [i32(name + ".config", config), i32(name + ".tokens", tokens), f32(name + ".hf_logits", logits),
                    i32(name + ".safetensors_fnv1a", [fnv1a32(st)])]

    # tokenizer ids: the 300-token tokenizer (from the tiny Llama's export) and GPT-2's
    text = open(VALID, encoding="utf-8").read()[:3000] + EXTRA_TEXT
    records.append(i32("text", list(text.encode("utf-8"))))
    same, ids = compare_ids("tiny tok300", tok300, os.path.join(tmp, "hf_llama_tied"), text, "the fixture text")
    ok &= same
    tj = open(os.path.join(tmp, "hf_llama_tied", "tokenizer.json"), "rb").read()
    records += [i32("tok300.hf_ids", ids), i32("tok300.tokenizer_json_fnv1a", [fnv1a32(tj)])]
    gpt2_ckpt, gpt2_hf = os.path.join(tmp, "gpt2_vocab.bin"), os.path.join(tmp, "hf_gpt2_vocab")
    synthetic_gpt2(gpt2_ckpt, dict(V=50257, Vp=50304, C=4, L=1, NH=1, maxT=8))
    export(gpt2_ckpt, gpt2_hf, GPT2_DIR)
    same, ids = compare_ids("tiny gpt2 vocab", GPT2_DIR, gpt2_hf, text, "the fixture text")
    ok &= same
    tj = open(os.path.join(gpt2_hf, "tokenizer.json"), "rb").read()
    records += [i32("gpt2.hf_ids", ids), i32("gpt2.tokenizer_json_fnv1a", [fnv1a32(tj)])]

    if args.write_fixture:
        if not ok:
            sys.exit("not writing the fixture: a check above failed")
        blob = struct.pack("<iii", FIXTURE_MAGIC, FIXTURE_VERSION, len(records)) + b"".join(records)
        with open(FIXTURE + ".tmp", "wb") as f:
            f.write(blob)
        os.replace(FIXTURE + ".tmp", FIXTURE)
        print(f"wrote {os.path.relpath(FIXTURE, ROOT)} ({len(blob)} bytes)")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-ckpt", help="a Llama checkpoint of ours (default: a synthetic V 4096 one)")
    ap.add_argument("--gpt2-ckpt", help="a GPT-2 checkpoint of ours with GPT-2's vocab (default: synthetic)")
    ap.add_argument("--write-fixture", action="store_true", help="write tests/fixtures/hf_export.bin")
    ap.add_argument("--only", choices=["real", "tiny"], help="run one half")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, transformers {__import__('transformers').__version__}, "
          f"tokenizers {__import__('tokenizers').__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        ok = True
        if args.only != "tiny":
            ok &= check_real(args, tmp)
        if args.only != "real":
            ok &= check_tiny(args, tmp)
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
