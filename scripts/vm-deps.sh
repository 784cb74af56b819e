#!/usr/bin/env bash
# Prepares what runAsRoot's tests boot, without nixpkgs, in one directory
# (default /var/cache/dockertools/vm), importable into the Nix store:
#   kernel/  Debian's kernel: vmlinux (uncompressed, boots in ~2.5 s under
#            TCG instead of ~6 s) and only the modules the VM loads;
#   qemu/    qemu-system-x86_64 with every shared library it and its TCG
#            module load, the loader, and its firmware, so that it runs
#            inside the Nix sandbox, where /usr is not.
# Needs qemu-system-x86 installed (scripts/install-deps.sh does that).
set -euo pipefail
out=${1:-/var/cache/dockertools/vm}
if [ -e "$out/.done" ]; then exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out" && mkdir -p "$out"

# The kernel: the newest linux-image-*-amd64-unsigned Debian offers.
pkg=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1)
[ -n "$pkg" ] || { echo "vm-deps: no linux-image-*-amd64-unsigned package found" >&2; exit 1; }
(cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1 && dpkg -x ./*.deb x)
version=$(ls "$work/x/lib/modules")
mkdir -p "$out/kernel/lib/modules/$version/kernel"
python3 - "$work/x/boot/vmlinuz-$version" "$out/kernel/vmlinux" <<'PY'
import lzma, sys
data = open(sys.argv[1], 'rb').read()
start = data.find(b'\xfd7zXZ\x00')
if start < 0:
    sys.exit("vm-deps: no xz stream in " + sys.argv[1])
open(sys.argv[2], 'wb').write(lzma.LZMADecompressor().decompress(data[start:]))
PY
cp "$work/x/lib/modules/$version/modules.builtin" "$out/kernel/lib/modules/$version/"
for d in fs/9p fs/netfs fs/fscache fs/overlayfs net/9p drivers/virtio; do
  mkdir -p "$out/kernel/lib/modules/$version/kernel/$d"
  cp -r "$work/x/lib/modules/$version/kernel/$d/." "$out/kernel/lib/modules/$version/kernel/$d/"
done

# QEMU and what it loads.
q=$out/qemu
mkdir -p "$q/bin" "$q/lib" "$q/lib/qemu" "$q/share/qemu"
cp /usr/bin/qemu-system-x86_64 "$q/bin/"
cp /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so "$q/lib/qemu/"
for f in /usr/bin/qemu-system-x86_64 "$q/lib/qemu/"*.so; do
  ldd "$f" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'
done | sort -u | while read -r lib; do cp -L "$lib" "$q/lib/"; done
cp -L /usr/share/qemu/*.bin /usr/share/qemu/*.rom "$q/share/qemu/" 2>/dev/null || true
cp -L /usr/share/seabios/bios-256k.bin /usr/share/seabios/bios.bin "$q/share/qemu/" 2>/dev/null || true
touch "$out/.done"
echo "vm-deps: $out (kernel $version)" >&2
