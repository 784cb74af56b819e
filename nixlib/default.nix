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
{ builder
, pkgs ? null
, scriptTools ? (if pkgs != null then [ pkgs.bash ] ++ pkgs.stdenv.initialPath else [ ])
, system ? (if pkgs != null then pkgs.stdenv.buildPlatform.system else builtins.currentSystem)
, vmKernel ? (if pkgs != null then pkgs.linux else null)
, qemu ? (if pkgs != null then pkgs.qemu_kvm or pkgs.qemu else null)
, cacert ? null
, shadow ? null
, ...
}:
let
  lib = import ./lib.nix { inherit builder system scriptTools; };
  # As nixpkgs: the image is for the host platform.
  defaultArchitecture =
    if pkgs != null then pkgs.go.GOARCH
    else lib.goarchOf system;
  layered = import ./layered.nix { inherit lib defaultArchitecture; };
  image = import ./image.nix { inherit lib defaultArchitecture vmKernel qemu; };
  merge = import ./merge.nix { inherit lib; };
  pull = import ./pull.nix { inherit lib defaultArchitecture; };
  export = import ./export.nix { inherit lib; };
  nixShell = import ./nixshell.nix { inherit lib layered pkgs; };
  helpers = import ./helpers.nix { inherit lib pkgs cacert shadow; };
in
{
  inherit (layered) streamLayeredImage buildLayeredImage;
  inherit (image) buildImage;
  inherit (merge) mergeImages;
  inherit (pull) pullImage;
  inherit (export) exportImage;
  inherit (nixShell) streamNixShellImage buildNixShellImage;
  inherit (helpers) usrBinEnv binSh caCertificates fakeNss shadowSetup;
}
