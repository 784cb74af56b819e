#!/usr/bin/env bash
# Installs what building and testing need on Debian 12, as root: Nix (for
# sandboxed builds), the static busybox/bash the test packages are made of,
# and the container tools that check the images. Idempotent and quick when
# everything is there already.
set -euo pipefail

pkgs=(nix-bin busybox-static bash-static podman docker.io skopeo umoci docker-registry apache2-utils zstd pigz uidmap python3 tar procps qemu-system-x86 seabios)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go: the machines have it in /usr/local/go; Debian's own is too old.
export PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null; then
  echo "install-deps: Go >= 1.25 is required (expected in /usr/local/go)" >&2
  exit 1
fi

# runAsRoot's VM: Debian's kernel and a QEMU that runs inside the sandbox.
"$(dirname "$0")/vm-deps.sh"
