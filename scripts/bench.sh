#!/usr/bin/env bash
# The benchmark of issue 3: layered image builds against cat/tar/pigz/zstd on
# the same store paths, at about 900 MB and at twice that, written to
# bench/RESULTS.md. Not part of the test suite (it takes ~15 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
. scripts/env.sh
runs=${RUNS:-3}
one=$(mktemp) two=$(mktemp)
trap 'rm -f "$one" "$two"' EXIT
go run ./bench -scale 1 -runs "$runs" > "$one"
go run ./bench -scale 2 -runs "$runs" > "$two"
{
  echo "# Benchmark results"
  echo
  echo "Written by \`scripts/bench.sh\` (\`go run ./bench\`; see bench/main.go for what each row runs)."
  echo "Ratios compare with baselines measured in the same run on the same store paths."
  echo
  echo "## Corpus of about 900 MB"
  echo
  cat "$one"
  echo
  echo "## Corpus twice as large"
  echo
  cat "$two"
} > bench/RESULTS.md
cat bench/RESULTS.md
