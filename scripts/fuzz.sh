#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz/ (clang, -DRSCLIP_FUZZ=ON, ASan on rsclip's
# code, the same venv torch as the main build) and runs each for SECONDS (default 60), one
# at a time in a single process (one job, one worker). Seeds come from valid files written by
# scripts/reference/make_torch_files.py; the corpus grows in build-fuzz/corpus/<target>
# across runs, and crashes land in build-fuzz/crashes/<target>/.
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (targets: fuzz_safetensors fuzz_pickle
#                                                    fuzz_torch_zip fuzz_torchscript fuzz_tar_samples;
#                                                    default all)
# Needs scripts/setup.sh to have run once (for .venv). RSCLIP_JOBS: compile jobs (default 1).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_safetensors fuzz_pickle fuzz_torch_zip fuzz_torchscript fuzz_tar_samples)
BUILD=$ROOT/build-fuzz
PY=$ROOT/.venv/bin/python
say() { printf '[fuzz] %s\n' "$*"; }
die() { printf '[fuzz] error: %s\n' "$*" >&2; exit 1; }

[ -x "$PY" ] || die "no $PY: run scripts/setup.sh first"
command -v clang++ >/dev/null || die "clang++ not found (apt-get install clang)"
export CCACHE_DIR=${RSCLIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rsclip}/ccache
export CCACHE_BASEDIR=$ROOT CCACHE_NOHASHDIR=1 CCACHE_COMPILERCHECK=content
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
mkdir -p "$BUILD"
if [ ! -f "$BUILD/build.ninja" ]; then
  say "configuring $BUILD"
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DRSCLIP_FUZZ=ON -DRSCLIP_BUILD_TESTS=OFF -DRSCLIP_PYTHON="$PY" >"$BUILD/configure.log" 2>&1 \
    || { tail -n 30 "$BUILD/configure.log" >&2; die "CMake configure failed"; }
fi
cmake --build "$BUILD" -j "${RSCLIP_JOBS:-1}" --target "${TARGETS[@]}"

SEEDS=$BUILD/seeds
if [ ! -f "$SEEDS/.complete" ]; then
  say "writing seed files"
  rm -rf "$SEEDS"
  mkdir -p "$SEEDS/files" "$SEEDS/fuzz_safetensors" "$SEEDS/fuzz_pickle" "$SEEDS/fuzz_torch_zip" "$SEEDS/fuzz_torchscript"
  "$PY" "$ROOT/scripts/reference/make_torch_files.py" "$SEEDS/files" >/dev/null
  "$PY" - "$SEEDS" <<'PYEOF'
import glob, os, shutil, sys, zipfile
seeds = sys.argv[1]
for path in sorted(glob.glob(os.path.join(seeds, "files", "*"))):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":
        shutil.copy(path, os.path.join(seeds, "fuzz_torchscript" if name.startswith("scripted") else "fuzz_torch_zip", name))
        with zipfile.ZipFile(path) as z:
            for rec in z.namelist():
                if rec.endswith("/data.pkl"):
                    with open(os.path.join(seeds, "fuzz_pickle", name + ".pkl"), "wb") as out:
                        out.write(z.read(rec))
    elif name.endswith(".safetensors") or name.endswith(".pt"):
        shutil.copy(path, os.path.join(seeds, "fuzz_safetensors", name))
PYEOF
  # Tar seeds: webdataset shards with tricky member names (GNU/pax long names, unicode,
  # gzip, repeated fields), as the webdataset parity test writes them.
  mkdir -p "$SEEDS/fuzz_tar_samples"
  "$PY" "$ROOT/scripts/reference/webdataset_reference.py" make_tricky "$SEEDS/fuzz_tar_samples" >/dev/null
  touch "$SEEDS/.complete"
fi

for t in "${TARGETS[@]}"; do
  corpus=$BUILD/corpus/$t crashes=$BUILD/crashes/$t
  mkdir -p "$corpus" "$crashes"
  dict=()
  [ -f "$ROOT/tests/fuzz/$t.dict" ] && dict=(-dict="$ROOT/tests/fuzz/$t.dict")
  say "$t for ${SECONDS_EACH}s (corpus $corpus)"
  # -malloc_limit_mb: any single allocation over 256 MiB from a <= 64 KiB input is a bug.
  set +e
  "$BUILD/tests/fuzz/$t" "${dict[@]}" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
    -malloc_limit_mb=256 -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$corpus" "$SEEDS/$t" >"$BUILD/$t.log" 2>&1
  status=$?
  set -e
  grep -E 'INITED cov:' "$BUILD/$t.log" | head -n 1 || true
  grep -E 'cov:' "$BUILD/$t.log" | tail -n 1 || true
  grep -E 'ERROR|SUMMARY|stat::number_of_executed_units|stat::average_exec|stat::peak_rss|Test unit written' \
    "$BUILD/$t.log" || true
  [ "$status" -eq 0 ] || die "$t found a failure (exit $status): see $BUILD/$t.log and $crashes/"
done
say "done"
