#!/usr/bin/env bash
# Step time and peak memory of every PEFT method vs full fine-tuning: one training step
# (both towers forward, CLIP loss, backward, AdamW over the trainable parameters) on random
# inputs, each method in its own process (so peak RSS is per method). Prints the JSON lines
# of `rsclip bench peft` and a table with ratios against `full`.
#   scripts/bench_peft.sh [--model ViT-B-32] [--batch-size 8] [--threads 1] [--iters 3] [--grad-checkpointing]
# Methods run with their defaults (models/peft/peft_config.h); lock = LiT (image tower locked).
# RSCLIP_BENCH_METHODS="full lora" limits the list (it must include full).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh" >/dev/null
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
METHODS=(${RSCLIP_BENCH_METHODS:-full lora coop vpt houlsby adaptformer clip_adapter mrs_adapter bitfit linear_probe lock})
lines=()
for m in "${METHODS[@]}"; do
  line=$("$BUILD/rsclip" --log-level warn bench peft --method "$m" "$@")
  echo "$line"
  lines+=("$line")
done
"$ROOT/.venv/bin/python" - "${lines[@]}" <<'PY'
import json, sys
rows = [json.loads(line) for line in sys.argv[1:]]
full = next(r for r in rows if r["method"] == "full")
print(f"\n{full['model']}, batch {full['batch']}, {full['threads']} thread(s), "
      f"grad checkpointing {full['grad_checkpointing']}")
print(f"{'method':<13} {'trainable':>12} {'% total':>8} {'step s':>8} {'x full':>7} "
      f"{'peak tensor MiB':>16} {'x full':>7} {'peak RSS MiB':>13} {'x full':>7}")
for r in rows:
    print(f"{r['method']:<13} {r['trainable']:>12,} {100 * r['trainable'] / r['total']:>7.3f}% "
          f"{r['step_s']:>8.3f} {r['step_s'] / full['step_s']:>7.2f} "
          f"{r['peak_tensor_mib']:>16.1f} {r['peak_tensor_mib'] / full['peak_tensor_mib']:>7.2f} "
          f"{r['peak_rss_mib']:>13.1f} {r['peak_rss_mib'] / full['peak_rss_mib']:>7.2f}")
PY
