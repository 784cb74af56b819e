# Sourced by the scripts: the Nix settings every build here uses (sandboxed
# builds, no binary cache to wait for) without touching /etc/nix/nix.conf.
export PATH="/usr/local/go/bin:$PATH"
export NIX_CONFIG="sandbox = true
sandbox-fallback = false
substituters =
experimental-features = nix-command flakes"
# Static test binaries: the VM tests boot the test binary as the guest's init.
export CGO_ENABLED=0

# podman's settings for a machine without systemd, whatever /etc/containers holds.
export CONTAINERS_CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf"
