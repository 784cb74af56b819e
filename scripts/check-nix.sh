#!/usr/bin/env bash
# Evaluates the Nix entry points where nixpkgs cannot be fetched: the flake's
# outputs and overlay against tests/nixpkgs-stub, and default.nix with and
# without a package set. Building them needs the real nixpkgs; evaluating
# them here catches broken wiring.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
repo=$PWD
stub="path:$repo/tests/nixpkgs-stub"
sys=$(nix-instantiate --eval -E builtins.currentSystem | tr -d '"')

ev() { nix eval --override-input nixpkgs "$stub" "$@" 2>&1 | grep -v -e '^warning:' -e "^• Updated input" -e "^    'github:" -e '^  → ' || true; }
check() { # NAME EXPECTED-REGEX OUTPUT
  if ! grep -qE -e "$2" <<<"$3"; then echo "check-nix: $1: got: $3" >&2; exit 1; fi
  echo "ok: $1"
}

check "flake packages.$sys.hello-image" '^/nix/store/.*-hello\.tar\.gz\.drv$' "$(ev --raw ".#packages.$sys.hello-image.drvPath")"
check "flake packages.$sys.dockertools" '^/nix/store/.*-dockertools-.*\.drv$' "$(ev --raw ".#packages.$sys.dockertools.drvPath")"
check "flake dockerTools.$sys" 'buildImage.*buildLayeredImage.*streamLayeredImage' "$(ev ".#dockerTools.$sys" --apply builtins.attrNames)"
check "flake lib.dockerToolsFor" 'true' "$(ev .#lib --apply 'l: builtins.isFunction l.dockerToolsFor')"
check "flake checks.$sys" 'dockertools.*hello-image' "$(ev ".#checks.$sys" --apply builtins.attrNames)"
check "flake overlay" 'buildImage.*buildLayeredImage.*streamLayeredImage' "$(nix eval --impure --expr "
  let f = builtins.getFlake \"git+file://$repo\"; s = builtins.getFlake \"$stub\";
      final = s.legacyPackages.$sys // { dockerTools = null; };
  in builtins.attrNames (f.overlays.default final final).dockerTools" 2>&1 | grep -v '^warning:')"
check "flake overlay keeps what only nixpkgs' dockerTools has" '^\["e","t",true\]$' "$(nix eval --json --impure --expr "
  let f = builtins.getFlake \"git+file://$repo\"; s = builtins.getFlake \"$stub\";
      final = s.legacyPackages.$sys // { dockerTools = null; };
      prev = final // { dockerTools = { examples = \"e\"; tarsum = \"t\"; buildImage = null; }; };
      d = (f.overlays.default final prev).dockerTools;
  in [ d.examples d.tarsum (builtins.isFunction d.buildImage) ]" 2>&1 | grep -v '^warning:')"
check "default.nix with pkgs" '-hello\.tar\.gz\.drv"$' "$(nix-instantiate --eval -E "
  let s = builtins.getFlake \"$stub\"; in (import $repo { pkgs = s.legacyPackages.$sys; }).examples.hello-layered.drvPath" --impure 2>&1 | tail -1)"
check "default.nix with a builder only" '-stream-hello\.drv"$' "$(nix-instantiate --eval -E "
  (import $repo { builder = /bin/sh; }).examples.hello-stream.drvPath" 2>&1 | tail -1)"
check "default.nix with pkgs: environment helpers" '^"usr-bin-env bin-sh ca-certificates fake-nss .*-shadow/bin:' "$(nix-instantiate --eval --strict -E "
  let s = builtins.getFlake \"$stub\"; d = (import $repo { pkgs = s.legacyPackages.$sys; }).dockerTools;
      name = drv: builtins.seq drv.drvPath drv.name;
  in builtins.concatStringsSep \" \" ((map (h: name d.\${h}) [ \"usrBinEnv\" \"binSh\" \"caCertificates\" \"fakeNss\" ]) ++ [ d.shadowSetup ])" --impure 2>&1 | tail -1)"
check "default.nix with pkgs: helper examples" '-docker-image-env-helpers\.tar\.gz\.drv"$' "$(nix-instantiate --eval -E "
  let s = builtins.getFlake \"$stub\"; in (import $repo { pkgs = s.legacyPackages.$sys; }).examples.env-helpers-image.drvPath" --impure 2>&1 | tail -1)"
# tests/nixos needs nixpkgs to build; its images must at least evaluate,
# here with the static fixtures standing in for nixpkgs' packages.
check "tests/nixos images evaluate" '^\[ "/nix/store/.*\.drv"( "/nix/store/.*\.drv")* \]$' "$(nix-instantiate --eval --strict -E "
  let
    f = import $repo/tests/fixtures/pkgs.nix { };
    pkgs = f // {
      bashInteractive = f.bash; coreutils = f.busybox; nix = f.busybox;
      runCommand = name: env: script: f.mk name script;
      writeText = name: text: builtins.toFile name text;
    };
    dockerTools = import $repo/nixlib { builder = /bin/sh; scriptTools = [ f.busybox ]; inherit (f) vmKernel qemu shadow cacert; };
    images = import $repo/tests/nixos/images.nix { inherit pkgs dockerTools; };
  in map (n: images.\${n}.drvPath) (builtins.attrNames images)" 2>&1 | tail -1)"
