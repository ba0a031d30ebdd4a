#!/usr/bin/env bash
# The main job on the embedded default, end to end on CPU in a few minutes:
#   synthetic RS scenes in webdataset shards -> evaluate the untrained model -> train
#   -> evaluate again (before/after table + recall chart) -> export to open_clip format
#   -> (with .venv) open_clip loads the export strict=True and reproduces the embeddings.
#
# usage: scripts/demo.sh [--config FILE] [--steps N]
#   --config FILE  another training config (default configs/train/demo.yaml); its eval sets
#                  are used for before/after (the synthetic ones unless it names others)
#   --steps N      stop after N optimiser steps (a shortened demo; tests use it)
# Environment: DEMO_TRAIN / DEMO_TEST (training / test images, default 2600 / 260); DEMO_WORK (where datasets/demo and
# runs/ go, default the checkout).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG=$ROOT/configs/train/demo.yaml
STEPS=0
while [ $# -gt 0 ]; do
  case $1 in
    --config) CONFIG=$(realpath "$2"); shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
say() { printf '\n\033[1m[demo] %s\033[0m\n' "$*"; }
start=$(date +%s)

"$ROOT/scripts/setup.sh" rsclip  # the demo builds only what it runs, not the tests
RSCLIP=$ROOT/build/rsclip
cd "$ROOT"
WORK=${DEMO_WORK:-$ROOT}
DATA=$WORK/datasets/demo
SETS=()
if [ "$CONFIG" = "$ROOT/configs/train/demo.yaml" ]; then
  SETS=(--set "output_dir=$WORK/runs" --set "data.shards=$DATA/train/synth-train-*.tar"
        --set "eval.zeroshot=[{name: synth-scenes, path: $DATA/test/imagefolder}]"
        --set "eval.retrieval=[{name: synth-captions, path: $DATA/test/captions.json}]")
fi
[ "$STEPS" -gt 0 ] && SETS+=(--set "schedule.max_steps=$STEPS")
RESOLVED=$("$RSCLIP" train --config "$CONFIG" "${SETS[@]}" --print-config)
NAME=$(sed -n 's/^name: *//p' <<<"$RESOLVED")
OUTDIR=$(sed -n 's/^output_dir: *//p' <<<"$RESOLVED")
RUN=$OUTDIR/$NAME

if [ ! -f "$DATA/synth.json" ]; then
  say "1. generating the synthetic RS dataset in $DATA (held-out test sets never seen in training)"
  "$RSCLIP" synth --out "$DATA" --seed 0 --train "${DEMO_TRAIN:-2600}" --test "${DEMO_TEST:-260}" --shard-size 1000
else
  say "1. synthetic dataset already in $DATA"
fi

rm -rf "$RUN"
mkdir -p "$RUN"
say "2. evaluating the untrained model (chance: 1/13 = 7.7% zero-shot top-1)"
"$RSCLIP" eval --config "$CONFIG" "${SETS[@]}" --out "$RUN/eval_before.json"

say "3. training ($CONFIG)"
"$RSCLIP" train --config "$CONFIG" "${SETS[@]}" --resume never

CKPT=$(ls -d "$RUN"/checkpoints/step_* | sort | tail -1)
say "4. evaluating the trained model ($CKPT)"
"$RSCLIP" eval --config "$CONFIG" "${SETS[@]}" --checkpoint "$CKPT" --out "$RUN/eval_after.json" \
  --baseline "$RUN/eval_before.json" --chart "$RUN/plots/recall_before_after.png"
"$RSCLIP" plot "$RUN" >/dev/null

say "5. exporting to open_clip format"
"$RSCLIP" export --checkpoint "$CKPT" --out "$RUN/export"
if [ -x "$ROOT/.venv/bin/python" ]; then
  say "6. loading the export with open_clip (Python, strict=True) and comparing embeddings"
  mapfile -t IMAGES < <(ls "$DATA"/test/images/*.jpg | head -4)
  "$ROOT/.venv/bin/python" "$ROOT/scripts/reference/check_export.py" --dir "$RUN/export" \
    --rsclip "$RSCLIP" --images "${IMAGES[@]}" --texts "an aerial image of a forest." "a satellite image of a river."
fi

say "done in $(( $(date +%s) - start )) s. Files:"
ls "$RUN"/plots/*.png "$RUN"/export/* "$RUN"/eval_*.json "$RUN"/metrics.jsonl
