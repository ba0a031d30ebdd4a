#!/usr/bin/env bash
# The main job on the embedded default: synthetic RS shards -> train -> eval -> export.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh"
echo "[demo] rsclip is built ($ROOT/build/rsclip); the end-to-end demo is not there yet."
