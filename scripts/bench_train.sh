#!/usr/bin/env bash
# Training throughput and peak memory of `rsclip train` vs `open_clip_train.main` in the same
# run: same model, random init, data (rsclip synth shards, fixed order, eval transform),
# batch, precision fp32 and threads. Prints both JSON lines and the ratios.
#   scripts/bench_train.sh [--model ViT-tiny-test|ViT-B-32|FILE.json] [--batch-size 16] [--steps 20]
#                          [--warmup-steps 3] [--threads N]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh" >/dev/null
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
PY=$ROOT/.venv/bin/python
MODEL=ViT-tiny-test BATCH=16 STEPS=20 WARMUP=3 THREADS=$(nproc)
while [ $# -gt 0 ]; do
  case $1 in
    --model) MODEL=$2; shift 2 ;; --batch-size) BATCH=$2; shift 2 ;; --steps) STEPS=$2; shift 2 ;;
    --warmup-steps) WARMUP=$2; shift 2 ;; --threads) THREADS=$2; shift 2 ;;
    *) echo "bench_train.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
CONFIG_JSON=$MODEL
[ -f "$MODEL" ] || CONFIG_JSON=$ROOT/configs/models/$MODEL.json
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SAMPLES=$((BATCH * STEPS))
"$BUILD/rsclip" --log-level warn synth --out "$WORK/data" --seed 0 --train "$SAMPLES" --test 13 --shard-size "$SAMPLES" >/dev/null
SHARDS=$WORK/data/train/synth-train-{0000..0000}.tar
export OMP_NUM_THREADS=$THREADS

# Python side: open_clip_train.main (its AdamW, schedule, ClipLoss, loop) on the same data.
theirs=$("$PY" - "$PY" "$ROOT" "$SHARDS" "$CONFIG_JSON" "$WORK" "$STEPS" "$BATCH" "$WARMUP" "$THREADS" <<'PYEOF'
import json, resource, subprocess, sys
py, root, shards, config, work, steps, batch, warmup, threads = sys.argv[1:]
subprocess.run([py, f"{root}/scripts/reference/open_clip_train_curve.py", "--shards", shards, "--model-config", config,
                "--init", f"{work}/init.safetensors", "--make-init", "--out", f"{work}/py", "--steps", steps,
                "--batch-size", batch, "--threads", threads], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
curve = json.load(open(f"{work}/py/curve.json"))
t, w = curve["time"], int(warmup)
seconds = t[-1] - t[w - 1]
print(json.dumps({"samples_per_s": (len(t) - w) * int(batch) / seconds, "step_s": seconds / (len(t) - w),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
PYEOF
)
ours=$("$BUILD/rsclip" --log-level warn bench train --config "$ROOT/configs/train/tiny_cpu.yaml" \
  --set "model.name=$CONFIG_JSON" --set "init.checkpoint=$WORK/init.safetensors" --set "data.shards=$SHARDS" \
  --set "data.batch_size=$BATCH" --set data.shuffle_buffer=0 --set data.shuffle_shards=false \
  --set data.augmentation=false --set "data.workers=$THREADS" --steps "$STEPS" --warmup-steps "$WARMUP")
echo "rsclip:    $ours"
echo "open_clip: $theirs"
"$PY" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"samples/s:    rsclip {a['samples_per_s']:9.2f}  open_clip_train {b['samples_per_s']:9.2f}  ratio {a['samples_per_s'] / b['samples_per_s']:.2f}x")
print(f"peak RSS MiB: rsclip {a['peak_rss_mib']:9.1f}  open_clip_train {b['peak_rss_mib']:9.1f}  ratio {a['peak_rss_mib'] / b['peak_rss_mib']:.2f}x")
PY
