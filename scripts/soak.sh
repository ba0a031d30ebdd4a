#!/usr/bin/env bash
# Soak test of rsclip's reliability (a benchmark-like script, not run by CI): an
# uninterrupted reference run, then the same run under a chaos monkey, then a comparison.
#
# Both runs are 2 ranks over Gloo under torchrun (ViT-tiny-test, `rsclip synth` data,
# frequent checkpoints and evaluations). The chaos run is interrupted at random times in
# random ways, each followed by a restart (torchrun's own --max-restarts, or the monkey
# starting torchrun again):
#   kill_rank        SIGKILL one rank (torchrun restarts the group)
#   term_rank        SIGTERM one rank (it checkpoints or stops; the group restarts)
#   kill_torchrun    SIGKILL torchrun and its ranks (a lost node), then start again
#   term_torchrun    SIGTERM torchrun (it stops its ranks: a scheduler's preemption)
#   kill_in_save     SIGKILL rank 0 while a checkpoint is being written
#   corrupt_latest   flip a byte in the newest checkpoint, then kill everything: the restart
#                    must fall back to the checkpoint before it
#   disk_full        restart under a 64 KiB file-size limit (writes fail), then normally
# At the end the final model, optimiser and RNG state must equal the reference run's bit for
# bit, and metrics.jsonl and the evaluation files must hold every step exactly once.
#
#   scripts/soak.sh                      2,000 steps, at least 30 interruptions
#   SOAK_STEPS=4000 SOAK_INTERRUPTIONS=60 SOAK_SEED=2 scripts/soak.sh
# Writes the report to $SOAK_WORK/report.md (default build/soak/).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# RSCLIP=/path/to/rsclip soaks that binary (e.g. a copy, while the build tree changes).
if [ -z "${RSCLIP:-}" ]; then
  "$ROOT/scripts/setup.sh" rsclip >/dev/null
  RSCLIP=${RSCLIP_BUILD_DIR:-$ROOT/build}/rsclip
fi
STEPS=${SOAK_STEPS:-2000}
WANT=${SOAK_INTERRUPTIONS:-30}
RANDOM=${SOAK_SEED:-1}
WORK=${SOAK_WORK:-$ROOT/build/soak}
TORCHRUN=$ROOT/.venv/bin/torchrun
[ -x "$TORCHRUN" ] || { echo "soak: no $TORCHRUN (scripts/setup.sh makes the venv)" >&2; exit 1; }
say() { printf '[soak %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

rm -rf "$WORK"
mkdir -p "$WORK"
"$RSCLIP" synth --out "$WORK/data" --seed 3 --train 256 --test 26 --shard-size 64 --image-size 64 >/dev/null
ARGS=(train --config "$ROOT/configs/train/tiny_cpu.yaml"
  --set "data.shards=$WORK/data/train/synth-train-{0000..0003}.tar"
  --set "schedule.max_steps=$STEPS" --set checkpoint.every_steps=10 --set checkpoint.keep_last=3
  --set logging.every_steps=1 --set logging.progress=off --set eval.every_steps=250
  --set "eval.zeroshot=[{name: scenes, path: $WORK/data/test/imagefolder}]"
  --set distributed.timeout_s=60 --set distributed.init_timeout_s=60)
export OMP_NUM_THREADS=1

# torchrun with the run's arguments, in its own process group; $1 = output dir, $2 = restarts.
start() {
  setsid "$TORCHRUN" --nnodes 1 --nproc-per-node 2 --max-restarts "$2" --monitor-interval 0.5 \
    --master-port $((20000 + RANDOM % 20000)) --no-python "$RSCLIP" "${ARGS[@]}" --set "output_dir=$1" \
    >>"$WORK/torchrun.log" 2>&1 &
  TR=$!
}
ranks() { pgrep -P "$TR" 2>/dev/null || true; }
rank0() {
  for p in $(ranks); do tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx RANK=0 && { echo "$p"; return; }; done
}
# torchrun may start its ranks in sessions of their own: kill those and torchrun's group.
kill_all() {
  for p in $(ranks); do kill -9 -- "-$p" "$p" 2>/dev/null || true; done
  kill -9 -- "-$TR" 2>/dev/null || true
  wait "$TR" 2>/dev/null || true
}
finished() { grep -q '"status": "finished"' "$1/tiny_cpu/summary.json" 2>/dev/null; }

say "reference run: $STEPS steps, 2 ranks"
t0=$SECONDS
start "$WORK/reference" 0
wait "$TR" || { echo "soak: the reference run failed (log: $WORK/torchrun.log)" >&2; exit 1; }
REF_SECONDS=$((SECONDS - t0))
say "reference done in $REF_SECONDS s"
# Interruptions come at random times spread over about the reference run's length: the
# wait before each is uniform in [0, 2 * REF_SECONDS / WANT] seconds.
GAP=$((2 * REF_SECONDS / WANT + 1))

declare -A COUNT
KINDS=(kill_rank term_rank kill_torchrun term_torchrun kill_in_save corrupt_latest disk_full)
RUN=$WORK/chaos
CK=$RUN/tiny_cpu/checkpoints
done_count=0
start "$RUN" 1000
t0=$SECONDS
while ! finished "$RUN"; do
  if ! kill -0 "$TR" 2>/dev/null; then  # torchrun ended by itself: failed for good, or done
    wait "$TR" || true
    finished "$RUN" && break
    say "torchrun ended without finishing; starting it again"
    start "$RUN" 1000
  fi
  [ "$done_count" -ge "$WANT" ] && { sleep 1; continue; }
  sleep "$((RANDOM % GAP)).$((RANDOM % 10))"
  ls "$CK"/step_* >/dev/null 2>&1 || continue  # let it make a first checkpoint
  finished "$RUN" && break
  kind=${KINDS[$((RANDOM % ${#KINDS[@]}))]}
  case $kind in
    kill_rank|term_rank)
      mapfile -t r < <(ranks)
      [ ${#r[@]} -gt 0 ] || continue
      kill "$([ "$kind" = kill_rank ] && echo -9 || echo -TERM)" "${r[$((RANDOM % ${#r[@]}))]}" 2>/dev/null || continue ;;
    kill_torchrun)
      kill_all; start "$RUN" 1000 ;;
    term_torchrun)
      kill -TERM "$TR" 2>/dev/null || true
      for _ in $(seq 300); do kill -0 "$TR" 2>/dev/null || break; sleep 0.1; done
      kill_all; start "$RUN" 1000 ;;
    kill_in_save)
      caught=0
      for _ in $(seq 2000); do
        if compgen -G "$CK/.tmp-*" >/dev/null; then p=$(rank0); [ -n "$p" ] && kill -9 "$p" && caught=1; break; fi
        sleep 0.01
      done
      [ $caught = 1 ] || continue ;;
    corrupt_latest)
      latest=$(ls -d "$CK"/step_* 2>/dev/null | sort | tail -n 1)
      [ -n "$latest" ] || continue
      kill_all
      latest=$(ls -d "$CK"/step_* | sort | tail -n 1)
      size=$(stat -c %s "$latest/model.safetensors")
      printf '\xff' | dd of="$latest/model.safetensors" bs=1 seek=$((size - 5)) conv=notrunc status=none
      say "corrupted $(basename "$latest")/model.safetensors"
      start "$RUN" 1000 ;;
    disk_full)
      kill_all
      ( ulimit -f 64; start "$RUN" 0; wait "$TR" ) || true  # its first checkpoint cannot be written
      start "$RUN" 1000 ;;
  esac
  COUNT[$kind]=$(( ${COUNT[$kind]:-0} + 1 ))
  done_count=$((done_count + 1))
  say "interruption $done_count: $kind (at step $(grep -c '"loss"' "$RUN/tiny_cpu/metrics.jsonl" 2>/dev/null || echo 0))"
done
wait "$TR" 2>/dev/null || true
seconds=$((SECONDS - t0))

# --- the comparison ---------------------------------------------------------------------
ref_ck=$(ls -d "$WORK/reference/tiny_cpu/checkpoints"/step_* | sort | tail -n 1)
run_ck=$(ls -d "$CK"/step_* | sort | tail -n 1)
equal=yes
for f in model.safetensors optimizer.safetensors rng.safetensors; do
  cmp -s "$ref_ck/$f" "$run_ck/$f" || { equal=no; say "DIFFERS: $f"; }
done
[ "$(basename "$ref_ck")" = "$(basename "$run_ck")" ] || equal=no
steps_of() { grep '"loss"' "$1" | sed 's/.*"step":\([0-9]*\).*/\1/' | sort -n; }
logged=$(steps_of "$RUN/tiny_cpu/metrics.jsonl" | wc -l)
unique=$(steps_of "$RUN/tiny_cpu/metrics.jsonl" | uniq | wc -l)
lost=$(( STEPS - unique ))
dup=$(( logged - unique ))
evals_ok=yes
[ "$(ls "$WORK/reference/tiny_cpu/eval")" = "$(ls "$RUN/tiny_cpu/eval")" ] || evals_ok=no
eval_records() { grep -c '"eval/' "$1" || true; }
[ "$(eval_records "$WORK/reference/tiny_cpu/metrics.jsonl")" = "$(eval_records "$RUN/tiny_cpu/metrics.jsonl")" ] || evals_ok=no
damaged=$("$RSCLIP" checkpoint verify "$CK" 2>/dev/null | grep -c damaged || true)

{
  echo "## soak: $STEPS steps, 2 ranks (Gloo, torchrun), $done_count interruptions in ${seconds} s"
  echo
  echo "| interruption | count |"
  echo "|---|---:|"
  for k in "${KINDS[@]}"; do echo "| $k | ${COUNT[$k]:-0} |"; done
  echo
  echo "- steps logged once: $unique of $STEPS (steps lost: $lost, logged twice: $dup)"
  echo "- evaluation files and records as in the reference: $evals_ok"
  echo "- final model, optimiser and RNG state equal to the reference, bit for bit: $equal ($(basename "$run_ck"))"
  echo "- damaged checkpoints left at the end: $damaged"
} | tee "$WORK/report.md"
[ "$equal" = yes ] && [ "$lost" = 0 ] && [ "$dup" = 0 ] && [ "$evals_ok" = yes ]
