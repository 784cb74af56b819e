#!/usr/bin/env bash
# The main job end to end: build the static builder, build the
# documentation's hello example with Nix (buildLayeredImage), load it into
# podman and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
. scripts/env.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/dockertools" ./builder
image=$(nix-build examples -A hello-layered --arg builder "$work/dockertools" --no-out-link)
echo "built $image" >&2

podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs)
zcat "$image" | "${podman[@]}" load
"${podman[@]}" run --rm --network=none hello:latest
"${podman[@]}" system reset --force >/dev/null 2>&1 || true
