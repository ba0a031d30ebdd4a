#!/usr/bin/env bash
# One idempotent set-up for rsclip: Debian packages, the Python venv (reference tests and
# benchmarks only), then CMake + Ninja build with ccache and precompiled torch headers.
#   scripts/setup.sh [TARGET...]     build these targets (e.g. rsclip), default everything
# A second run skips every slow step. Caches live outside the clone so a fresh clone
# (CI) reuses them:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/rsclip/venv-<hash of requirements.lock>   the venv
#   .../rsclip/pip                                                         pip downloads
#   .../rsclip/ccache                                                      compiler cache
#
# Variables:
#   RSCLIP_VENV=/opt/torch/.venv   use an existing venv with torch 2.11.0 instead of creating
#                                  one (the GPU machine); nothing is pip-installed then.
#   RSCLIP_BUILD_DIR=DIR           build directory (default: build/ in the clone).
#   RSCLIP_BUILD_TYPE=Release      CMake build type.
#   RSCLIP_JOBS=N                  parallel compile jobs (default: number of cores).
#   RSCLIP_SKIP_APT=1              never call apt-get (fail with the list of what is missing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RSCLIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rsclip}
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
JOBS=${RSCLIP_JOBS:-$(nproc)}
mkdir -p "$CACHE"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$1" >&2; [ $# -gt 1 ] && printf '[setup] hint: %s\n' "$2" >&2; exit 1; }

# --- 1. Debian packages -------------------------------------------------------------
APT_PACKAGES=(
  cmake ninja-build ccache g++ pkg-config python3-venv
  libarchive-dev libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev zlib1g-dev
  libsentencepiece-dev libyaml-cpp-dev libgtest-dev libcli11-dev nlohmann-json3-dev
  libpcre2-dev libicu-dev libxxhash-dev libisal-dev clang clang-format
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${RSCLIP_SKIP_APT:-0}" = 1 ] && die "missing Debian packages: ${missing[*]}" \
    "install them with: apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get" \
    "rsclip's set-up expects Debian 12 (bookworm) or a compatible system"
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}" "run it by hand to see why"
fi

# --- 2. Python venv (reference tests + benchmarks) -----------------------------------
if [ -n "${RSCLIP_VENV:-}" ]; then
  VENV=$RSCLIP_VENV
  [ -x "$VENV/bin/python" ] || die "RSCLIP_VENV=$VENV has no bin/python" "point it at a venv with torch 2.11.0"
else
  LOCK=$ROOT/scripts/requirements.lock
  HASH=$( (cat "$LOCK"; python3 --version) | sha256sum | cut -c1-12)
  VENV=$CACHE/venv-$HASH
  if [ ! -f "$VENV/.rsclip-complete" ]; then
    command -v python3 >/dev/null || die "python3 not found" "install python3 (3.10 or newer)"
    say "creating the Python venv $VENV (torch, open_clip, webdataset: a few GB, once)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed" "install python3-venv"
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$VENV/bin/pip" install -q --cache-dir "$CACHE/pip" -r "$LOCK" \
      || die "pip install of scripts/requirements.lock failed" "check network access to PyPI"
    touch "$VENV/.rsclip-complete"
  fi
fi
if [ "$(readlink "$ROOT/.venv" 2>/dev/null)" != "$VENV" ]; then
  [ -e "$ROOT/.venv" ] && [ ! -L "$ROOT/.venv" ] && die "$ROOT/.venv exists and is not a link" "remove it"
  ln -sfn "$VENV" "$ROOT/.venv"
fi
PY=$ROOT/.venv/bin/python
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)') \
  || die "torch is not importable from $PY" "delete $VENV and run setup again"
TORCH_VERSION=$("$PY" -c 'import torch; print(torch.__version__)')
case "$TORCH_VERSION" in 2.11.0*) ;; *) die "torch $TORCH_VERSION found, 2.11.0 expected" "use the pinned venv";; esac

# --- 3. Configure and build ------------------------------------------------------------
export CCACHE_DIR=$CACHE/ccache
export CCACHE_BASEDIR=$ROOT
export CCACHE_NOHASHDIR=1
export CCACHE_COMPILERCHECK=content
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
if [ ! -f "$BUILD/build.ninja" ] || [ "$(cat "$BUILD/.rsclip-python" 2>/dev/null)" != "$PY" ]; then
  say "configuring $BUILD (torch $TORCH_VERSION)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE="${RSCLIP_BUILD_TYPE:-Release}" \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DRSCLIP_PYTHON="$PY" >"$CACHE/cmake-configure.log" 2>&1 \
    || { tail -n 30 "$CACHE/cmake-configure.log" >&2; die "CMake configure failed (log: $CACHE/cmake-configure.log)"; }
  echo "$PY" >"$BUILD/.rsclip-python"
fi
# Targets to build: the arguments (scripts/demo.sh asks for `rsclip` only), else all.
TARGETS=()
[ $# -gt 0 ] && TARGETS=(--target "$@")
say "building ${*:-everything} (ninja -j$JOBS)"
cmake --build "$BUILD" -j "$JOBS" "${TARGETS[@]}" || die "build failed" "the compiler output above names the file"
say "ready: $BUILD/rsclip"
