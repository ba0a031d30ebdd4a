#!/usr/bin/env bash
# Loader benchmark (not a test): ~5,000 synthetic 256x256 JPEG image-caption samples in
# webdataset shards, read by
#   (a) Python: open_clip_train's webdataset pipeline + PIL + GeoRSCLIP's train transform
#       (RandomResizedCrop 0.9-1.0 bicubic, flip, rotation 0-360) + open_clip tokenizer,
#       WORKERS DataLoader processes (scripts/reference/bench_loader.py);
#   (b) rsclip's loader, same transform and tokenizer, WORKERS threads (rsclip shards --bench),
#       Pillow-equal (the default) and with augment.fast_resize (OpenCV bilinear resize).
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
rsclip_bench() {
  "$BUILD/rsclip" --log-level warn shards --bench "$SPEC" --workers "$WORKERS" --batch-size "$BATCH" \
    --batches "$BATCHES" --warmup "$WARMUP" --jpeg-min-side "${RSCLIP_BENCH_JPEG_MIN_SIDE:-0}" "$@"
}
say "rsclip: $WORKERS worker threads"
CXXOUT=$(rsclip_bench)
echo "$CXXOUT" | head -n 2
CXXJSON=$(echo "$CXXOUT" | tail -n 1)
say "rsclip, augment.fast_resize: $WORKERS worker threads"
FUSEDOUT=$(rsclip_bench --fast-resize)
echo "$FUSEDOUT" | head -n 2
FUSEDJSON=$(echo "$FUSEDOUT" | tail -n 1)

"$PY" - "$PYJSON" "$CXXJSON" "$FUSEDJSON" <<'PYEOF'
import json, sys
py, cx, fu = (json.loads(a) for a in sys.argv[1:4])
def rates(r):
    return r["images"] / r["wall_s"], r["images"] / r["cpu_s"]
pw, pc = rates(py)
cw, cc = rates(cx)
fw, fc = rates(fu)
w = py["workers"]
print(f"{'':24}{'python':>10}{'rsclip':>10}{'ratio':>7}{'fast':>10}{'ratio':>7}")
print(f"{'images/s (' + str(w) + ' workers)':24}{pw:10.0f}{cw:10.0f}{cw / pw:7.1f}{fw:10.0f}{fw / pw:7.1f}")
print(f"{'images/s per worker':24}{pw / w:10.0f}{cw / w:10.0f}{cw / pw:7.1f}{fw / w:10.0f}{fw / pw:7.1f}")
print(f"{'images per CPU-second':24}{pc:10.0f}{cc:10.0f}{cc / pc:7.1f}{fc:10.0f}{fc / pc:7.1f}")
print("one core, ms per image:")
print(f"  python: decode {py['decode_ms']:.3f}, crop+resize {py['crop_resize_ms']:.3f}, flip+rotate "
      f"{py['flip_rotate_ms']:.3f}, normalise {py['normalise_ms']:.3f}, tokenize {py['tokenize_ms']:.3f}")
for name, r in (("rsclip", cx), ("fast", fu)):
    rest = 1e3 * r["cpu_s"] / r["images"] - r["decode_ms"] - r["transform_ms"] - r["tokenize_ms"]
    print(f"  {name}: decode {r['decode_ms']:.3f}, crop+resize+flip+rotate+normalise {r['transform_ms']:.3f}, "
          f"tokenize {r['tokenize_ms']:.3f}, rest (tar, shuffle, collate, threads) {rest:.3f}")
PYEOF
