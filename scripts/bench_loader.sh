#!/usr/bin/env bash
# Loader benchmark (not a test): ~5,000 synthetic 256x256 JPEG image-caption samples in
# webdataset shards, read by
#   (a) Python: open_clip_train's webdataset pipeline + PIL + GeoRSCLIP's train transform
#       (RandomResizedCrop 0.9-1.0 bicubic, flip, rotation 0-360) + open_clip tokenizer,
#       WORKERS DataLoader processes (scripts/reference/bench_loader.py);
#   (b) rsclip's loader, same transform and tokenizer, WORKERS threads (rsclip shards --bench).
# Prints images/s and images per CPU-second ("per core") of both, their ratio, and where a
# core's time goes per image. Needs scripts/setup.sh to have built build/rsclip.
#
# usage: scripts/bench_loader.sh [WORKERS] [BATCHES]    (defaults: number of cores, 25)
#   RSCLIP_BENCH_SAMPLES=5000  samples to generate;  RSCLIP_BENCH_BATCH=64  batch size
#   RSCLIP_BENCH_JPEG_MIN_SIDE=0  rsclip's decode-time JPEG downscale (0: PIL-exact decode)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
PY=$ROOT/.venv/bin/python
WORKERS=${1:-$(nproc)}
BATCHES=${2:-25}
BATCH=${RSCLIP_BENCH_BATCH:-64}
SAMPLES=${RSCLIP_BENCH_SAMPLES:-5000}
WARMUP=$((2 * WORKERS + 1))
DATA=$BUILD/bench-loader-data
say() { printf '[bench_loader] %s\n' "$*"; }

[ -x "$BUILD/rsclip" ] || { echo "no $BUILD/rsclip: run scripts/setup.sh" >&2; exit 1; }
if [ ! -f "$DATA/.complete-$SAMPLES" ]; then
  say "writing $SAMPLES samples to $DATA"
  rm -rf "$DATA" && mkdir -p "$DATA"
  "$PY" "$ROOT/scripts/reference/bench_loader.py" make "$DATA" "$SAMPLES"
  touch "$DATA/.complete-$SAMPLES"
fi
LAST=$(ls "$DATA"/bench-*.tar | wc -l)
SPEC="$DATA/bench-{000000..$(printf '%06d' $((LAST - 1)))}.tar"
NEED=$(( (BATCHES + WARMUP) * BATCH ))
[ "$NEED" -le "$SAMPLES" ] || { echo "need $NEED samples for $BATCHES+$WARMUP batches of $BATCH" >&2; exit 1; }

say "python: $WORKERS worker processes, batch $BATCH, $BATCHES timed batches"
PYJSON=$("$PY" "$ROOT/scripts/reference/bench_loader.py" run "$SPEC" "$WORKERS" "$BATCH" "$BATCHES" "$WARMUP" | tail -n 1)
say "rsclip: $WORKERS worker threads"
CXXOUT=$("$BUILD/rsclip" --log-level warn shards --bench "$SPEC" --workers "$WORKERS" --batch-size "$BATCH" \
  --batches "$BATCHES" --warmup "$WARMUP" --jpeg-min-side "${RSCLIP_BENCH_JPEG_MIN_SIDE:-0}")
echo "$CXXOUT" | head -n 2
CXXJSON=$(echo "$CXXOUT" | tail -n 1)

"$PY" - "$PYJSON" "$CXXJSON" <<'PYEOF'
import json, sys
py, cx = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def rates(r):
    return r["images"] / r["wall_s"], r["images"] / r["cpu_s"]
pw, pc = rates(py)
cw, cc = rates(cx)
w = py["workers"]
print(f"{'':24}{'python':>12}{'rsclip':>12}{'ratio':>9}")
print(f"{'images/s (' + str(w) + ' workers)':24}{pw:12.0f}{cw:12.0f}{cw / pw:9.1f}")
print(f"{'images/s per worker':24}{pw / w:12.0f}{cw / w:12.0f}{cw / pw:9.1f}")
print(f"{'images per CPU-second':24}{pc:12.0f}{cc:12.0f}{cc / pc:9.1f}")
print("one core, ms per image:")
print(f"  python: decode {py['decode_ms']:.3f}, crop+resize {py['crop_resize_ms']:.3f}, flip+rotate "
      f"{py['flip_rotate_ms']:.3f}, normalise {py['normalise_ms']:.3f}, tokenize {py['tokenize_ms']:.3f}")
rest = 1e3 * cx["cpu_s"] / cx["images"] - cx["decode_ms"] - cx["transform_ms"] - cx["tokenize_ms"]
print(f"  rsclip: decode {cx['decode_ms']:.3f}, crop+resize+flip+rotate+normalise {cx['transform_ms']:.3f}, "
      f"tokenize {cx['tokenize_ms']:.3f}, rest (tar, shuffle, collate, threads) {rest:.3f}")
PYEOF
