# pkgs.dockerTools' functions, built by the dockertools Go program.
#
#   dockerTools = import ./nixlib { builder = ./dockertools; scriptTools = [ busybox ]; };
#
# builder:     the static dockertools executable (a path, a string naming a
#              store file, or a package with bin/dockertools).
# pkgs:        optional nixpkgs; defaults (shell tools, architecture) come from it.
# scriptTools: packages whose bin/ is the PATH of extraCommands and the other
#              scripts; the first bin/bash, else bin/sh, runs them.
# system:      the system the derivations build on.
# vmKernel:    the kernel buildImage's runAsRoot boots (a package with
#              bzImage, vmlinux or boot/vmlinuz*, and lib/modules/<version>
#              holding virtio, 9p and overlay); default pkgs.linux.
# qemu:        a package with bin/qemu-system-<cpu> for that VM; default
#              pkgs.qemu_kvm.
# cacert:      the package caCertificates links (etc/ssl/certs/ca-bundle.crt);
#              default pkgs.cacert.
# shadow:      the package shadowSetup puts on PATH (useradd, groupadd, ...);
#              default pkgs.shadow.
# storeDir:    the Nix store's directory; default builtins.storeDir.
# layering:    how streamLayeredImage groups store paths when it has no
#              layeringPipeline: "auto" (nixpkgs 25.11 and later) or
#              "popularity" (before); default "auto" without pkgs, else the
#              one pkgs' own version uses, so images keep the layers (and
#              the shared cache) that user's nixpkgs would give them.
{ builder
, pkgs ? null
, scriptTools ? (if pkgs != null then [ pkgs.bash ] ++ pkgs.stdenv.initialPath else [ ])
, system ? (if pkgs != null then pkgs.stdenv.buildPlatform.system else builtins.currentSystem)
, vmKernel ? (if pkgs != null then pkgs.linux else null)
, qemu ? (if pkgs != null then pkgs.qemu_kvm or pkgs.qemu else null)
, cacert ? null
, shadow ? null
, storeDir ? builtins.storeDir
, layering ? null
, ...
}:
let
  lib = import ./lib.nix { inherit builder system scriptTools storeDir; };
  # As nixpkgs: the image is for the host platform.
  defaultArchitecture =
    if pkgs != null then pkgs.go.GOARCH
    else lib.goarchOf system;
  # v6, v7 on 32-bit ARM (Go's GOARM), none elsewhere.
  defaultVariant =
    if pkgs != null then (if (pkgs.go.GOARM or null) != null then "v${toString pkgs.go.GOARM}" else null)
    else lib.goarmOf system;
  defaultLayering =
    if layering != null then layering
    else if pkgs == null || builtins.compareVersions (pkgs.lib.version or "0") "25.11pre" >= 0 then "auto"
    else "popularity";
  layered = import ./layered.nix { inherit lib defaultArchitecture defaultVariant defaultLayering storeDir; };
  image = import ./image.nix { inherit lib defaultArchitecture defaultVariant storeDir vmKernel qemu; };
  merge = import ./merge.nix { inherit lib; };
  pull = import ./pull.nix { inherit lib defaultArchitecture defaultVariant; };
  export = import ./export.nix { inherit lib; };
  nixShell = import ./nixshell.nix { inherit lib layered pkgs cacert storeDir; };
  helpers = import ./helpers.nix { inherit lib pkgs cacert shadow; };
in
{
  inherit (layered) streamLayeredImage buildLayeredImage buildLayeredImageWithNixDb;
  inherit (image) buildImage buildImageWithNixDb;
  inherit (merge) mergeImages;
  inherit (pull) pullImage;
  inherit (export) exportImage;
  inherit (nixShell) streamNixShellImage buildNixShellImage;
  inherit (helpers) usrBinEnv binSh caCertificates fakeNss shadowSetup;
}
