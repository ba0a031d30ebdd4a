#!/usr/bin/env bash
# End-to-end `rsclip eval` vs the open_clip Python loop (scripts/reference/eval_reference.py)
# in the same run: same synth test sets (zero-shot ImageFolder + Karpathy caption JSON), same
# random-weight model and checkpoint, same ensemble, batch and threads. Wall seconds of each
# whole process (start-up, model load, decode, encode, metrics); prints both results and the
# ratio (open_clip seconds / rsclip seconds, > 1 = rsclip faster).
#   scripts/bench_eval.sh [--model ViT-tiny-test|ViT-B-32|FILE.json] [--test 260] [--threads N]
#                         [--ensemble georsclip|open_clip] [--batch-size 64]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
[ -x "$BUILD/rsclip" ] || "$ROOT/scripts/setup.sh" >/dev/null
PY=$ROOT/.venv/bin/python
MODEL=ViT-tiny-test TEST=260 THREADS=$(nproc) ENSEMBLE=georsclip BATCH=64
while [ $# -gt 0 ]; do
  case $1 in
    --model) MODEL=$2; shift 2 ;; --test) TEST=$2; shift 2 ;; --threads) THREADS=$2; shift 2 ;;
    --ensemble) ENSEMBLE=$2; shift 2 ;; --batch-size) BATCH=$2; shift 2 ;;
    *) echo "bench_eval.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
CONFIG_JSON=$MODEL
[ -f "$MODEL" ] || CONFIG_JSON=$ROOT/configs/models/$MODEL.json
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
"$BUILD/rsclip" --log-level warn synth --out "$WORK/data" --seed 0 --train 13 --test "$TEST" --shard-size 13 >/dev/null
"$PY" "$ROOT/scripts/reference/eval_reference.py" --model "$CONFIG_JSON" --checkpoint "$WORK/init.safetensors" \
  --make-init >/dev/null
SETS=(--zeroshot "$WORK/data/test/imagefolder" --retrieval "$WORK/data/test/captions.json" --ensemble "$ENSEMBLE"
      --batch-size "$BATCH")

now() { date +%s.%N; }
t0=$(now)
"$BUILD/rsclip" --log-level warn eval --model "$CONFIG_JSON" --checkpoint "$WORK/init.safetensors" --device cpu \
  "${SETS[@]}" --out "$WORK/rsclip.json" >/dev/null
t1=$(now)
"$PY" "$ROOT/scripts/reference/eval_reference.py" --model "$CONFIG_JSON" --checkpoint "$WORK/init.safetensors" \
  --threads "$THREADS" "${SETS[@]}" --out "$WORK/open_clip.json" >/dev/null
t2=$(now)

"$PY" - "$WORK/rsclip.json" "$WORK/open_clip.json" "$t0" "$t1" "$t2" "$MODEL" "$TEST" "$THREADS" <<'PY'
import json, sys
ours, theirs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
t0, t1, t2 = map(float, sys.argv[3:6])
model, test, threads = sys.argv[6:9]
def flat(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flat(v, f"{prefix}{k}/")
        elif k not in ("per_class",):
            yield f"{prefix}{k}", v
a, b = dict(flat(ours)), dict(flat(theirs))
print(f"{'metric':<36} {'rsclip':>9} {'open_clip':>9}")
for k in a:
    if "/per_class/" not in k:
        print(f"{k:<36} {a[k]:>9} {b.get(k, '-'):>9}")
print("results equal:", ours == theirs)
rs, oc = t1 - t0, t2 - t1
print(f"{model}, {test} zero-shot + {test} retrieval images, {threads} threads")
print(f"wall seconds: rsclip {rs:.2f}  open_clip {oc:.2f}  ratio (open_clip / rsclip) {oc / rs:.2f}x")
PY
