#!/usr/bin/env bash
# Makes a Debian 12 machine ready to build and test, as root, and changes
# nothing when it is ready already (each step checks before it acts):
#   - Debian packages: Nix (sandboxed builds), the static busybox/bash the
#     test packages are made of, the container tools that check the images,
#     QEMU for runAsRoot;
#   - Nix's build users: group nixbld, users nixbld1..N (scripts/nix-build-users.sh);
#   - /etc/containers/containers.conf, only when there is none (podman's
#     settings for a machine without systemd; see scripts/containers.conf);
#   - runAsRoot's kernel and QEMU in /var/cache/dockertools/vm (scripts/vm-deps.sh).
# It does not touch /etc/nix/nix.conf: the scripts pass their Nix settings
# in NIX_CONFIG (scripts/env.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

root() { # WHAT: stop unless root, saying which command to run
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: $1 needs root; run: sudo $here/install-deps.sh" >&2
    exit 1
  fi
}

pkgs=(nix-bin busybox-static bash-static podman docker.io skopeo umoci docker-registry apache2-utils zstd pigz uidmap python3 tar procps qemu-system-x86 seabios)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  root "installing ${missing[*]}"
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go: the machines have it in /usr/local/go; Debian 12's own (1.19) is too old.
export PATH="/usr/local/go/bin:$PATH"
want=$(awk '$1 == "go" {print $2; exit}' "$here/../go.mod")
if ! command -v go >/dev/null; then
  echo "install-deps: Go >= $want is required and was not found in /usr/local/go/bin or PATH; install it with: tar -C /usr/local -xzf go$want.<patch>.linux-amd64.tar.gz (Go's official release archive)" >&2
  exit 1
fi
have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
  echo "install-deps: Go >= $want is required, found $have ($(command -v go)); install a newer one into /usr/local/go" >&2
  exit 1
fi

# Nix's build users. The script itself says what to run when not root.
"$here/nix-build-users.sh"

if [ ! -e /etc/containers/containers.conf ]; then
  root "writing /etc/containers/containers.conf"
  mkdir -p /etc/containers
  cp "$here/containers.conf" /etc/containers/containers.conf
  echo "install-deps: wrote /etc/containers/containers.conf" >&2
fi

# runAsRoot's VM: Debian's kernel and a QEMU that runs inside the sandbox.
if [ ! -e /var/cache/dockertools/vm/.done ]; then
  root "preparing /var/cache/dockertools/vm"
  "$here/vm-deps.sh"
fi
