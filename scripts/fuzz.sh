#!/usr/bin/env bash
# Runs every fuzz target (func FuzzXxx in a _test.go file) for a while:
#   scripts/fuzz.sh [DURATION]    default 2m each; CI runs it with 3s
# A failing input is saved under the package's testdata/fuzz/ by go test;
# commit it, so that every later `go test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
time=${1:-2m}
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | cut -d' ' -f2); do
    echo "== fuzz $pkg $target ($time)"
    go test -run '^$' -fuzz "^$target\$" -fuzztime "$time" -fuzzminimizetime 1x "$pkg"
  done
done
