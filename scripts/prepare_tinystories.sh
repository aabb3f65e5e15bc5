#!/usr/bin/env bash
# Prepares TinyStories for training: tokenizer.bin + train/val token shards in
# data/tinystories/ (git-ignored). It takes the text from the first source
# that exists, and says which one it used:
#   1. $TINYSTORIES_DIR: *train*.txt files for training, *valid*.txt for validation
#   2. ../shared/data/tinystories/ (an offline copy: train_*.txt, valid_head.txt)
#   3. the real dataset from the Hugging Face hub (roneneldan/TinyStories,
#      the V2-GPT4 txt files, ~2.2 GB) with curl, when a network exists
#   4. prepro/sample/stories.txt: a small demo corpus written by this project
#      (not TinyStories), with a loud notice
# Environment: VOCAB (default 4096), OUT (default data/tinystories),
# FORCE=1 to redo a prepared directory, SHARED (default ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."

VOCAB=${VOCAB:-4096}
OUT=${OUT:-data/tinystories}
SHARED=${SHARED:-../shared}
HF_BASE=https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main
PREPRO=build/prepro

if [ ! -x "$PREPRO" ]; then
    echo "building $PREPRO"
    make -s "$PREPRO"
fi

if [ -z "${FORCE:-}" ] && [ -f "$OUT/SOURCE" ] && [ -f "$OUT/tokenizer.bin" ] && ls "$OUT"/train_*.bin >/dev/null 2>&1; then
    echo "data: $OUT is already prepared from $(cat "$OUT/SOURCE") (FORCE=1 to redo)"
    exit 0
fi
mkdir -p "$OUT"

train=()
val=""
source=""
if [ -n "${TINYSTORIES_DIR:-}" ]; then
    [ -d "$TINYSTORIES_DIR" ] || { echo "error: TINYSTORIES_DIR=$TINYSTORIES_DIR is not a directory" >&2; exit 1; }
    shopt -s nullglob
    train=("$TINYSTORIES_DIR"/*train*.txt)
    vals=("$TINYSTORIES_DIR"/*valid*.txt)
    shopt -u nullglob
    if [ ${#train[@]} -eq 0 ] || [ ${#vals[@]} -ne 1 ]; then
        echo "error: TINYSTORIES_DIR=$TINYSTORIES_DIR needs *train*.txt file(s) and exactly one *valid*.txt;" \
             "found ${#train[@]} train and ${#vals[@]} valid file(s)" >&2
        exit 1
    fi
    val=${vals[0]}
    source="\$TINYSTORIES_DIR ($TINYSTORIES_DIR)"
elif [ -f "$SHARED/data/tinystories/valid_head.txt" ] && ls "$SHARED"/data/tinystories/train_*.txt >/dev/null 2>&1; then
    train=("$SHARED"/data/tinystories/train_*.txt)
    val="$SHARED/data/tinystories/valid_head.txt"
    source="the offline TinyStories copy in $SHARED/data/tinystories/"
elif command -v curl >/dev/null && curl -sfI --connect-timeout 5 --max-time 10 "$HF_BASE/TinyStoriesV2-GPT4-valid.txt" >/dev/null 2>&1; then
    mkdir -p "$OUT/raw"
    for f in TinyStoriesV2-GPT4-train.txt TinyStoriesV2-GPT4-valid.txt; do
        if [ ! -s "$OUT/raw/$f" ]; then
            echo "downloading $f from the Hugging Face hub (roneneldan/TinyStories)"
            # -C - resumes a partial download; the .part name keeps a cut-off file from looking complete
            curl -fL --retry 3 -C - -o "$OUT/raw/$f.part" "$HF_BASE/$f"
            mv "$OUT/raw/$f.part" "$OUT/raw/$f"
        fi
    done
    train=("$OUT/raw/TinyStoriesV2-GPT4-train.txt")
    val="$OUT/raw/TinyStoriesV2-GPT4-valid.txt"
    source="the Hugging Face hub (roneneldan/TinyStories, V2-GPT4)"
else
    cat <<'NOTICE'
==============================================================================
 NOTICE: no TinyStories text found (no $TINYSTORIES_DIR, no ../shared copy,
 no network). Using the DEMO corpus prepro/sample/stories.txt: 300 short
 stories written by this project, NOT TinyStories. Expect a model that only
 parrots these stories; losses are not comparable with TinyStories runs.
==============================================================================
NOTICE
    # the last 50 stories are held out for validation; they never train anything
    mkdir -p "$OUT/raw"
    awk -v tr="$OUT/raw/demo_train.txt" -v va="$OUT/raw/demo_valid.txt" '
        BEGIN { n = 0; RS = "<\\|endoftext\\|>\n" }
        { n++; story[n] = $0 }
        END { for (i = 1; i <= n; i++) printf "%s<|endoftext|>\n", story[i] > (i <= n - 50 ? tr : va) }
    ' prepro/sample/stories.txt
    train=("$OUT/raw/demo_train.txt")
    val="$OUT/raw/demo_valid.txt"
    source="the DEMO corpus prepro/sample/stories.txt (not TinyStories)"
fi

echo "data: using $source"
rm -f "$OUT"/train_*.bin "$OUT"/val_*.bin "$OUT/SOURCE"
"$PREPRO" --train "${train[@]}" --val "$val" --vocab "$VOCAB" --out "$OUT"
echo "$source" > "$OUT/SOURCE"
