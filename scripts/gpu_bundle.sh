#!/usr/bin/env bash
# A relocatable bundle for the GPU machine (no package registry, at most 64 MiB of files):
# the rsclip binary and the test binaries, plus the non-torch shared libraries they need
# (libarchive, OpenCV core/imgproc, yaml-cpp, sentencepiece, ICU, codecs, ...). torch, CUDA,
# cuDNN and NCCL are NOT bundled: the GPU machine's own torch 2.11.0 (same version as the
# wheel built against here) provides them.
#
#   scripts/gpu_bundle.sh [OUT.tar.zst]        (default: build/rsclip-gpu.tar.zst)
#
# On the GPU machine:
#   tar --zstd -xf rsclip-gpu.tar.zst && cd rsclip-gpu
#   ./run.sh rsclip info --model ViT-B-32        # any rsclip command
#   ./run.sh tests/core_dist_test --gtest_filter='DistributedCuda.*'   # a test binary
#   ./run_tests.sh [REGEX]                       # every bundled test (gtest), REGEX filters names
# run.sh puts bundle/lib first and the torch of $RSCLIP_TORCH_VENV (default /opt/torch/.venv),
# with its nvidia/* libraries, on LD_LIBRARY_PATH; the binaries' RUNPATH is $ORIGIN/lib
# when patchelf is available here, so lib/ is found without run.sh too.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh" >/dev/null
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
OUT=${1:-$BUILD/rsclip-gpu.tar.zst}
LIMIT_MIB=60
say() { printf '[gpu_bundle] %s\n' "$*"; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
B=$STAGE/rsclip-gpu
mkdir -p "$B/lib" "$B/tests" "$B/configs"
cp "$BUILD/rsclip" "$B/"
# The test binaries (those labelled `reference` also need a venv with open_clip there),
# except the few image-file tests that link OpenCV's imgcodecs: its codec plugins (GDAL,
# HDF5, ...) alone would exceed the size limit, and they test nothing GPU-specific.
TESTS=()
while read -r t; do
  if ldd "$t" | grep -q libopencv_imgcodecs; then say "left out (imgcodecs): $(basename "$t")"; continue; fi
  TESTS+=("$t")
  cp "$t" "$B/tests/"
done < <(find "$BUILD/tests" -maxdepth 3 -type f -executable -name '*_test' | sort)
cp -r "$ROOT/configs/." "$B/configs/"

# Shared libraries: everything ldd resolves outside torch's and the C/C++ runtime's own.
skip='/torch/lib/|/nvidia/|/libc\.so|/libm\.so|/libpthread|/libdl\.so|/librt\.so|ld-linux|/libgcc_s|/libstdc\+\+|/libutil\.so'
for bin in "$B/rsclip" "$B"/tests/*; do
  ldd "$bin" | awk '$3 ~ /^\// {print $3}' | grep -Ev "$skip" || true
done | sort -u | while read -r lib; do cp -Ln "$lib" "$B/lib/"; done

if command -v patchelf >/dev/null; then
  for bin in "$B/rsclip" "$B"/tests/*; do patchelf --set-rpath '$ORIGIN/lib:$ORIGIN/../lib' "$bin"; done
  for lib in "$B"/lib/*; do patchelf --set-rpath '$ORIGIN' "$lib" 2>/dev/null || true; done
else
  say "patchelf not installed: binaries keep their RUNPATH; run.sh sets LD_LIBRARY_PATH"
fi

cat > "$B/run.sh" <<'SH'
#!/usr/bin/env bash
# Runs a bundled binary with bundle/lib and the GPU machine's torch on the library path.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${RSCLIP_TORCH_VENV:-/opt/torch/.venv}
SITE=$(ls -d "$VENV"/lib/python3*/site-packages | head -1)
[ -d "$SITE/torch/lib" ] || { echo "run.sh: no torch under $VENV (set RSCLIP_TORCH_VENV)" >&2; exit 1; }
NV=$(find "$SITE/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$HERE/lib:$SITE/torch/lib:$NV${LD_LIBRARY_PATH:-}"
cmd=$1; shift
case $cmd in rsclip) cmd=$HERE/rsclip ;; tests/*) cmd=$HERE/$cmd ;; esac
exec "$cmd" "$@"
SH
cat > "$B/run_tests.sh" <<'SH'
#!/usr/bin/env bash
# Runs every bundled gtest binary whose name matches REGEX (default: all); prints a summary.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pattern=${1:-.}
failed=0
for t in "$HERE"/tests/*_test; do
  name=$(basename "$t")
  [[ $name =~ $pattern ]] || continue
  if "$HERE/run.sh" "tests/$name" > "$HERE/$name.log" 2>&1; then echo "PASS $name"; else echo "FAIL $name (see $name.log)"; failed=1; fi
done
exit $failed
SH
chmod +x "$B/run.sh" "$B/run_tests.sh"

tar -C "$STAGE" -cf - rsclip-gpu | zstd -19 -T0 -q -c > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
size=$(stat -c %s "$OUT")
say "$OUT: $(( size / 1048576 )) MiB ($(ls "$B/lib" | wc -l) libraries, ${#TESTS[@]} test binaries)"
if [ "$size" -gt $(( LIMIT_MIB * 1048576 )) ]; then
  say "over the ${LIMIT_MIB} MiB limit"; exit 1
fi
