#!/usr/bin/env bash
# Decode + preprocess throughput, one thread each: rsclip (`rsclip bench preprocess`) vs PIL +
# open_clip/torchvision (scripts/reference/bench_preprocess.py), on the same in-memory files,
# in the same run. Prints both JSON lines per image set and the ratio rsclip / Python.
#   scripts/bench_image.sh [--seconds 2]
# Image sets (generated once into build/bench-images/): RS-dataset-like JPEGs (EuroSAT 64,
# RSICD 224, RESISC45 256, AID 600), UCM-like uncompressed TIFF 256, PNG 256.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh" >/dev/null
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
PY="$ROOT/.venv/bin/python"
SECONDS_ARG=(--seconds 2)
[ $# -ge 2 ] && [ "$1" = --seconds ] && SECONDS_ARG=(--seconds "$2")
IMAGES=$BUILD/bench-images
if [ ! -f "$IMAGES/.complete" ]; then
  rm -rf "$IMAGES"
  PYTHONPATH="$ROOT/scripts/reference" "$PY" - "$IMAGES" <<'PY'
import sys
from pathlib import Path
from PIL import Image
from image_reference import scene
root = Path(sys.argv[1])
sets = {"eurosat64_jpg": (64, 64, "JPEG", 16), "rsicd224_jpg": (224, 224, "JPEG", 16),
        "resisc256_jpg": (256, 256, "JPEG", 16), "aid600_jpg": (600, 600, "JPEG", 8),
        "ucm256_tif": (256, 256, "TIFF", 8), "png256": (256, 256, "PNG", 8)}
for name, (h, w, fmt, n) in sets.items():
    (root / name).mkdir(parents=True)
    for i in range(n):
        kw = {"quality": 90} if fmt == "JPEG" else {}
        Image.fromarray(scene(h, w, 1000 + i)).save(root / name / f"{i:02d}.{fmt.lower()}", fmt, **kw)
PY
  touch "$IMAGES/.complete"
fi

run_set() {  # name transform
  local files=("$IMAGES/$1"/*)
  ours=$("$BUILD/rsclip" --log-level warn bench preprocess --transform "$2" "${SECONDS_ARG[@]}" "${files[@]}")
  theirs=$("$PY" "$ROOT/scripts/reference/bench_preprocess.py" --transform "$2" "${SECONDS_ARG[@]}" "${files[@]}")
  "$PY" - "$1" "$ours" "$theirs" <<'PY'
import json, sys
name, a, b = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{name:>14} {a['transform']:>5}: rsclip {a['images_per_s']:8.1f}/s (decode {a['decode_ms']:.3f} ms + "
      f"transform {a['transform_ms']:.3f} ms)   PIL+open_clip {b['images_per_s']:8.1f}/s (decode {b['decode_ms']:.3f} ms"
      f" + transform {b['transform_ms']:.3f} ms)   ratio {a['images_per_s'] / b['images_per_s']:.2f}x")
PY
}

echo "images/s on one thread (decode + transform to a normalised 3x224x224 float tensor)"
for set in eurosat64_jpg rsicd224_jpg resisc256_jpg aid600_jpg ucm256_tif png256; do run_set "$set" eval; done
for set in resisc256_jpg aid600_jpg; do run_set "$set" train; done
