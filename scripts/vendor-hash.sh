#!/usr/bin/env bash
# package.nix's vendorHash is the NAR hash of the `go mod vendor` tree, which
# Nix computes offline. `vendor-hash.sh` writes it into package.nix;
# `vendor-hash.sh --check` fails when go.sum changed without it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go mod vendor -o "$tmp/vendor"
hash=$(nix --extra-experimental-features nix-command hash path "$tmp/vendor")
current=$(sed -n 's/.*vendorHash = "\(.*\)";.*/\1/p' package.nix)
if [ "${1:-}" = --check ]; then
  if [ "$hash" != "$current" ]; then
    echo "package.nix: vendorHash is $current, but go mod vendor hashes to $hash (run scripts/vendor-hash.sh)" >&2
    exit 1
  fi
  echo "vendorHash $hash is current"
else
  sed -i "s|vendorHash = \".*\";|vendorHash = \"$hash\";|" package.nix
  echo "vendorHash = $hash"
fi
