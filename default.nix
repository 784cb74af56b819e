# Entry point without flakes.
#
# With nixpkgs (builds the Go program with buildGoModule):
#   dockerTools = (import ./. { pkgs = import <nixpkgs> { }; }).dockerTools;
# Without nixpkgs (takes the prebuilt static executable):
#   dockerTools = (import ./. { builder = ./dockertools; scriptTools = [ busybox ]; }).dockerTools;
# Every other argument (scriptTools, system, vmKernel, qemu, ...) goes to
# nixlib as it is.
{ pkgs ? null
, builder ? null
, ...
}@args:
let
  dockertools =
    if builder != null then builder
    else if pkgs != null then pkgs.callPackage ./package.nix { }
    else throw "dockertools: pass `pkgs` (nixpkgs, to build the Go program) or `builder` (the prebuilt static dockertools executable)";
  nixlibArgs = args // { builder = dockertools; };
in
{
  inherit dockertools;
  dockerTools = import ./nixlib nixlibArgs;
  examples = import ./examples ({ inherit pkgs; builder = dockertools; }
    // (if args ? system then { inherit (args) system; } else { }));
}
