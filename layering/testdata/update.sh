#!/bin/sh
# Packs the layering test vectors (one JSON file per case, made with
# nixpkgs) into vectors.json.gz, which vectors_test.go reads, so the tests
# need nothing outside the repository.
#
# usage: layering/testdata/update.sh [VECTOR_DIR]
# VECTOR_DIR defaults to ../shared/testdata/layering next to the repository.
#
# Most cases share a graph with others (the same closure under several
# limits and pipelines), so the pack stores each distinct graph once and
# the cases refer to it by index: {"graphs": [...], "cases": [...]}.
# The output only changes when the vectors do (sorted, gzip without a
# timestamp).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../../../shared/testdata/layering}
out=$here/vectors.json.gz

if ! ls "$src"/*.json >/dev/null 2>&1; then
	echo "update.sh: no *.json vectors in $src" >&2
	exit 1
fi

# jq -n with inputs reads the files one by one; bsearch works because
# unique sorts the graphs.
jq -n -c '
	[inputs] | sort_by(.name)
	| (map(.graph) | unique) as $graphs
	| {graphs: $graphs, cases: map(.graph as $g | .graph = ($graphs | bsearch($g)))}
' "$src"/*.json | gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"

count=$(gzip -dc "$out" | jq '.cases | length')
echo "update.sh: packed $count cases into $out ($(wc -c <"$out") bytes)" >&2
