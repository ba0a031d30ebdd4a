#!/usr/bin/env bash
# Tokenizer benchmark: the same remote-sensing captions through open_clip 3.3.0's
# SimpleTokenizer (Python, one process) and `rsclip tokenize` (one thread, then all cores),
# in the same run. Prints texts/s by wall clock and per CPU-second for each (the latter is
# the fairer figure on a shared, loaded machine), the ratios, and checks that the ids are
# identical. Each figure is the best of three runs.
#
# usage: scripts/bench_tokenizer.sh [COUNT]   (default 20000 captions)
# Needs a build (scripts/setup.sh). Not a test: timings depend on the machine and its load.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
PY=$ROOT/.venv/bin/python
COUNT=${1:-20000}
RSCLIP=$BUILD/rsclip
[ -x "$RSCLIP" ] || { echo "no $RSCLIP: run scripts/setup.sh first" >&2; exit 1; }
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

wall_rate() { sed -n 's/.*(\([0-9]*\) texts\/s.*/\1/p' | tail -n 1; }
cpu_rate() { sed -n 's/.* \([0-9]*\) texts per CPU-second.*/\1/p' | tail -n 1; }
best_rsclip() {  # "WALL CPU": best of 3 runs of rsclip tokenize with $1 threads
  local wall=0 cpu=0 log w c
  for _ in 1 2 3; do
    log=$("$RSCLIP" tokenize --texts "$DIR/texts.txt" --out "$DIR/rsclip.safetensors" --threads "$1" 2>&1)
    w=$(echo "$log" | wall_rate)
    c=$(echo "$log" | cpu_rate)
    [ "$w" -gt "$wall" ] && wall=$w
    [ "$c" -gt "$cpu" ] && cpu=$c
  done
  echo "$wall $cpu"
}

echo "tokenizer benchmark: $COUNT captions, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
PY_LINE=$("$PY" "$ROOT/scripts/reference/bench_tokenizer.py" "$DIR" --count "$COUNT")
echo "  $PY_LINE"
PY_WALL=$(echo "$PY_LINE" | wall_rate)
PY_CPU=$(echo "$PY_LINE" | cpu_rate)
read -r ONE_WALL ONE_CPU <<<"$(best_rsclip 1)"
read -r ALL_WALL ALL_CPU <<<"$(best_rsclip "$(nproc)")"
"$PY" - "$DIR" <<'PYEOF'
import sys, torch
from safetensors.torch import load_file
d = sys.argv[1]
a, b = load_file(f"{d}/open_clip.safetensors")["tokens"], load_file(f"{d}/rsclip.safetensors")["tokens"]
same = bool(torch.equal(a, b))
print(f"  ids identical to open_clip: {same} ({int((a == b).all(1).sum())} of {a.shape[0]} rows)")
sys.exit(0 if same else 1)
PYEOF
awk -v pw="$PY_WALL" -v pc="$PY_CPU" -v ow="$ONE_WALL" -v oc="$ONE_CPU" -v aw="$ALL_WALL" -v ac="$ALL_CPU" \
    -v n="$(nproc)" 'BEGIN {
  printf "  %-28s %10s %8s %16s %8s\n", "", "texts/s", "ratio", "texts/CPU-second", "ratio"
  printf "  %-28s %10d %8s %16d %8s\n", "open_clip (Python)", pw, "1.0x", pc, "1.0x"
  printf "  %-28s %10d %7.1fx %16d %7.1fx\n", "rsclip tokenize, 1 thread", ow, ow / pw, oc, oc / pc
  printf "  %-28s %10d %7.1fx %16d %7.1fx\n", "rsclip tokenize, " n " threads", aw, aw / pw, ac, ac / pc
}'
