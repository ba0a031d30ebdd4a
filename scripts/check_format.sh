#!/usr/bin/env bash
# Checks that rsclip's C++ files follow .clang-format (Google style, 120 columns), as
# Debian bookworm's clang-format 14 formats them; run by ctest (tree/Format).
#   scripts/check_format.sh          list the files that differ, exit 1 if any
#   scripts/check_format.sh --fix    reformat them in place
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FORMAT=${CLANG_FORMAT:-clang-format}
command -v "$FORMAT" >/dev/null || { echo "clang-format not found (apt-get install clang-format)" >&2; exit 1; }
# Tracked and new (untracked, not ignored) files: what the next commit holds.
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.h' ':!:third_party/*' 2>/dev/null || find core data models train tests -name '*.cpp' -o -name '*.h')
if [ "${1:-}" = --fix ]; then
  "$FORMAT" -i --style=file "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! "$FORMAT" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (scripts/check_format.sh --fix)"
    bad=1
  fi
done
[ $bad = 0 ] && echo "${#files[@]} files follow .clang-format"
exit $bad
