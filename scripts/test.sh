#!/usr/bin/env bash
# Runs every test: set-up (idempotent: packages, venv, build), then CTest.
# Extra arguments go to ctest, e.g. `scripts/test.sh -L unit` or `-R models/`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh"
BUILD=${RSCLIP_BUILD_DIR:-$ROOT/build}
cd "$BUILD"
exec ctest --output-on-failure --no-tests=error -j "${RSCLIP_TEST_JOBS:-$(nproc)}" "$@"
