#!/usr/bin/env python3
"""Checks that our GPT-2 encoder (build/tokenizer encode --gpt2) gives exactly
tiktoken's ids, and writes the fixture tests/test_tokenizer.cpp checks.

tiktoken is built offline from the same two local files: its mergeable ranks
are encoder.json's ids with each token mapped back to bytes through GPT-2's
byte-to-unicode table (for GPT-2 the rank of a token is its id).

  pip install tiktoken
  python3 tokenizer/compare_tiktoken.py                 # compare, exit 1 on any mismatch
  python3 tokenizer/compare_tiktoken.py --write-fixture # also rewrite tests/fixtures/gpt2_ids.txt

Run from the repo root after `make build/tokenizer`.
"""
import argparse
import json
import os
import random
import subprocess
import sys

GPT2_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Short strings for the fixture: each one exercises a rule of the pattern or
# of byte-level BPE (contractions, runs of spaces before words and at the
# end, newlines, numbers, non-ASCII letters and numbers, emoji, specials as
# ordinary text).
FIXTURE_STRINGS = [
    "Hello world",
    "hello world",
    "",
    " ",
    "   ",
    "\n",
    "\n\n",
    "Hello\n\nworld",
    "a  b   c    d",
    "trailing spaces   ",
    "  leading spaces",
    "tabs\tand\t\ttabs",
    "line one\r\nline two\r\n",
    "I'm here, you're there, we've been, he'll go, she'd say, it's done, don't.",
    "I'M SHOUTING, DON'T",
    "''quoted'' and 'single' and ''s",
    "The year 2024 had 365 days; 1,000,000 or 3.14159?",
    "x2 + y3 = 42z",
    "Once upon a time, there was a little girl named Lily.",
    "\"Mom, I found this needle!\" she said.",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber Stra\u00dfe",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u4f60\u597d\uff0c\u4e16\u754c\u3002\u65e5\u672c\u8a9e\u306e\u6587",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "emoji \U0001F600\U0001F680 and \u2764\ufe0f hearts",
    "superscripts x\u00b2 y\u00b3 \u00bd \u2460\u2461",
    "no\u00a0break\u00a0space and ideographic\u3000space",
    "zero\u200bwidth joiner\u200d",
    "e\u0301 combining acute",
    "<|endoftext|>",
    "story one<|endoftext|>story two",
    "!!!??? ... --- ***",
    "a\x1cb\x1fc",
    "   \n   \n",
    "word\n   indented\n\tmore",
    "MixedCASE camelCase snake_case kebab-case",
    "https://example.com/path?q=1&r=2#frag",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    " " * 70 + "x",
    "0123456789" * 5,
]

SHARED_TEXTS = [
    "../shared/data/tinystories/train_head.txt",
    "../shared/data/tinystories/train_cont_recased.txt",
    "../shared/data/tinystories/valid_head.txt",
    "../shared/data/tinyshakespeare/input.txt",
]


def bytes_to_unicode():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def build_tiktoken(gpt2_dir):
    import tiktoken

    decoder = {v: k for k, v in bytes_to_unicode().items()}
    with open(os.path.join(gpt2_dir, "encoder.json"), encoding="utf-8") as f:
        encoder = json.load(f)
    ranks = {}
    for tok, i in encoder.items():
        if tok == "<|endoftext|>":
            continue
        ranks[bytes(decoder[c] for c in tok)] = i
    return tiktoken.Encoding(name="gpt2_local", pat_str=GPT2_PAT, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": 50256})


def ours(binary, gpt2_dir, data):
    r = subprocess.run([binary, "encode", "--gpt2", gpt2_dir], input=data, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{binary} failed: {r.stderr.decode(errors='replace')}")
    return [int(x) for x in r.stdout.split()]


def random_text(rng, n):
    pieces = ["a", "b", "Z", "q", "0", "7", " ", " ", " ", "\n", "\t", "\r", "'", "'s", "'re", "'ll", "'S", ".", ",",
              "!", "-", "\u00e9", "\u00df", "\u00b2", "\u00bd", "\u00a0", "\u3000", "\u4e2d", "\U0001F600", "\u0301",
              "\u2028", "\x85", "\x1c", "<|endoftext|>", "the", " the", "  ", "\n\n", "123", "don't"]
    return "".join(rng.choice(pieces) for _ in range(n))


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="build/tokenizer")
    ap.add_argument("--gpt2-dir", default="../shared/data/gpt2")
    ap.add_argument("--write-fixture", action="store_true", help="rewrite tests/fixtures/gpt2_ids.txt")
    ap.add_argument("--fixture", default="tests/fixtures/gpt2_ids.txt")
    ap.add_argument("--random", type=int, default=30, help="number of random 20k-piece documents")
    args = ap.parse_args()

    enc = build_tiktoken(args.gpt2_dir)
    cases = [(f"fixture {i}", s) for i, s in enumerate(FIXTURE_STRINGS)]
    rng = random.Random(1234)
    cases += [(f"random {i}", random_text(rng, 20000)) for i in range(args.random)]
    for path in SHARED_TEXTS:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                cases.append((path, f.read()))
    bad = 0
    total = 0
    for name, text in cases:
        want = enc.encode_ordinary(text)
        got = ours(args.binary, args.gpt2_dir, text.encode("utf-8"))
        total += len(want)
        if got != want:
            bad += 1
            i = first_diff(got, want)
            print(f"MISMATCH {name}: first difference at token {i}: ours {got[i:i+8]} tiktoken {want[i:i+8]}"
                  f" near {enc.decode(want[max(0, i-3):i+5])!r}")
    print(f"{len(cases)} texts, {total} tokens: {len(cases) - bad} identical, {bad} mismatched")
    if args.write_fixture:
        with open(args.fixture, "w", encoding="utf-8") as f:
            f.write("# GPT-2 ids from tiktoken (tokenizer/compare_tiktoken.py --write-fixture).\n")
            f.write("# Each line: a JSON string, a tab, the ids of encode_ordinary separated by spaces.\n")
            for s in FIXTURE_STRINGS:
                f.write(json.dumps(s, ensure_ascii=False) + "\t" + " ".join(map(str, enc.encode_ordinary(s))) + "\n")
        print(f"wrote {args.fixture} ({len(FIXTURE_STRINGS)} strings)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
