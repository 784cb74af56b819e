#!/usr/bin/env bash
# Proves, in seconds, that this machine can run the scripts: Nix's build
# users exist, a sandboxed derivation builds with the scripts' NIX_CONFIG,
# podman runs a container, and the other tools the tests call are there.
# Prints one line per check and, for each failure, what is wrong and what
# to run; exits non-zero if anything failed. scripts/test.sh runs it first.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

failed=0
ok() { echo "check-setup: ok: $*"; }
bad() { echo "check-setup: FAIL: $*" >&2; failed=1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for t in nix-build nix-instantiate nix-store podman /usr/bin/docker dockerd skopeo docker-registry go; do
  command -v "$t" >/dev/null || bad "$t is not installed; run: scripts/install-deps.sh"
done

if members=$(getent group nixbld); then
  members=${members##*:}
  n=$(tr ',' '\n' <<<"$members" | grep -c . || true)
  if ((n == 0)); then
    bad "group nixbld has no members, so Nix has no build user; run: scripts/install-deps.sh"
  else
    ok "group nixbld with $n build users"
  fi
else
  bad "group nixbld does not exist, so every Nix build fails; run: scripts/install-deps.sh"
fi

if command -v nix-instantiate >/dev/null && [ -x /bin/bash-static ]; then
  # /usr is absent in the sandbox: a build that sees it ran unsandboxed.
  expr='derivation {
    name = "dockertools-check-setup";
    system = builtins.currentSystem;
    builder = builtins.path { path = /bin/bash-static; name = "bash"; };
    args = [ "-c" "if test -e /usr; then echo not sandboxed >&2; exit 1; fi; echo ok > $out" ];
  }'
  if ! drv=$(nix-instantiate -E "$expr" 2>"$work/nix.log"); then
    bad "Nix cannot evaluate a trivial derivation: $(tail -3 "$work/nix.log")"
  else
    out=$(nix-store -q --outputs "$drv")
    # Once built, check it by rebuilding: a cached output proves nothing.
    check=()
    nix-store --check-validity "$out" 2>/dev/null && check=(--check)
    if nix-store --realise "${check[@]}" "$drv" >/dev/null 2>"$work/nix.log"; then
      ok "a sandboxed derivation builds"
    else
      bad "a trivial sandboxed derivation does not build: $(grep -v '^warning:' "$work/nix.log" | tail -3)"
    fi
  fi
else
  bad "/bin/bash-static or Nix is missing; run: scripts/install-deps.sh"
fi

if command -v podman >/dev/null && [ -x /bin/bash-static ]; then
  mkdir -p "$work/rootfs/bin"
  cp /bin/bash-static "$work/rootfs/bin/sh"
  tar -C "$work/rootfs" -cf "$work/image.tar" .
  podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs)
  if "${podman[@]}" import -q "$work/image.tar" localhost/check-setup:latest >/dev/null 2>"$work/podman.log" &&
     got=$("${podman[@]}" run --rm --network=none localhost/check-setup:latest /bin/sh -c 'echo ran' 2>>"$work/podman.log") &&
     [ "$got" = ran ]; then
    ok "podman runs a container"
  else
    bad "podman cannot run a one-file image (CONTAINERS_CONF=$CONTAINERS_CONF): $(tail -3 "$work/podman.log")"
  fi
  "${podman[@]}" system reset --force >/dev/null 2>&1 || true
fi

if [ -e /dev/kvm ]; then
  ok "/dev/kvm exists (runAsRoot tries KVM, then TCG)"
else
  ok "no /dev/kvm: runAsRoot's VM uses TCG emulation"
fi

exit "$failed"
