#!/usr/bin/env bash
# Runs every test: installs what they need (Debian packages), then the unit
# and integration tests (real Nix builds, checked in Docker, podman, skopeo),
# and checks that every .nix file parses.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
. scripts/env.sh

echo "== this machine can build and run images"
scripts/check-setup.sh

echo "== nix files parse"
for f in $(git ls-files '*.nix' 2>/dev/null || find . -name '*.nix'); do
  nix-instantiate --parse "$f" >/dev/null
done

echo "== Nix entry points evaluate"
scripts/check-nix.sh

echo "== package.nix vendorHash"
scripts/vendor-hash.sh --check

echo "== go vet"
go vet ./...

echo "== fuzz targets, a few seconds each (scripts/fuzz.sh runs them longer)"
scripts/fuzz.sh 3s | grep -v '^ok\|^PASS$\|^fuzz: '

echo "== go test"
# CI=true turns a missing tool into a failure instead of a skip.
CI="${CI:-true}" go test -count=1 -timeout 30m ./... "$@"
