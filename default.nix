# Entry point without flakes.
#
# With nixpkgs (builds the Go program with buildGoModule):
#   dockerTools = (import ./. { pkgs = import <nixpkgs> { }; }).dockerTools;
# Without nixpkgs (takes the prebuilt static executable):
#   dockerTools = (import ./. { builder = ./dockertools; scriptTools = [ busybox ]; }).dockerTools;
{ pkgs ? null
, builder ? null
, scriptTools ? null
, system ? null
}:
let
  dockertools =
    if builder != null then builder
    else if pkgs != null then pkgs.callPackage ./package.nix { }
    else throw "dockertools: pass `pkgs` (nixpkgs, to build the Go program) or `builder` (the prebuilt static dockertools executable)";
  optional = name: value: if value != null then { ${name} = value; } else { };
  args = { builder = dockertools; inherit pkgs; } // optional "scriptTools" scriptTools // optional "system" system;
in
{
  inherit dockertools;
  dockerTools = import ./nixlib args;
  examples = import ./examples args;
}
