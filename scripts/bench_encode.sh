#!/usr/bin/env bash
# Encode throughput of rsclip vs open_clip (eager) in the same run, same model, batch,
# threads and precision. Prints both JSON lines and the ratios (rsclip / open_clip).
#   scripts/bench_encode.sh [--model ViT-B-32] [--batch-size 16] [--threads 2] [--device cpu] [--precision fp32]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh" >/dev/null
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
ARGS=(--threads "$(nproc)" "$@")
ours=$("$BUILD/rsclip" --log-level warn bench encode "${ARGS[@]}")
theirs=$("$ROOT/.venv/bin/python" "$ROOT/scripts/reference/bench_encode.py" "${ARGS[@]}")
echo "$ours"
echo "$theirs"
"$ROOT/.venv/bin/python" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for k in ("images_per_s", "texts_per_s"):
    print(f"{k:>13}: rsclip {a[k]:9.2f}  open_clip {b[k]:9.2f}  ratio {a[k] / b[k]:.2f}x")
PY
