# Helpers shared by the dockerTools functions, written with builtins only so
# that nixlib evaluates without nixpkgs.
{ builder, system, scriptTools }:
let
  inherit (builtins) isPath isString isAttrs isList isFunction concatStringsSep
    stringLength substring replaceStrings elemAt match;

  # `builder` may be a path to the static executable, a string naming it, or
  # a package holding bin/dockertools (what default.nix and the flake build).
  builderPath =
    if isPath builder then "${builder}"
    else if isAttrs builder then "${builder}/bin/dockertools"
    else if isString builder then builder
    else throw "nixlib: `builder` must be the dockertools executable (a path, a string, or a package with bin/dockertools)";

  upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];

  goarchOf = sys:
    let
      cpu = elemAt (match "([^-]*)-.*" sys) 0;
      table = {
        x86_64 = "amd64"; i686 = "386"; i586 = "386"; i486 = "386"; i386 = "386";
        aarch64 = "arm64"; armv5tel = "arm"; armv6l = "arm"; armv7l = "arm"; armv7a = "arm";
        riscv64 = "riscv64"; powerpc64le = "ppc64le"; powerpc64 = "ppc64"; s390x = "s390x";
        mips64el = "mips64le"; mipsel = "mipsle"; loongarch64 = "loong64"; wasm32 = "wasm";
      };
    in table.${cpu} or cpu;
in
rec {
  inherit builderPath goarchOf system scriptTools;

  toLower = replaceStrings upper lower;

  # The part of a name that can be a store path name ("registry:5000/x" -> "x").
  baseName = name: baseNameOf name;

  toList = x: if x == null then [ ] else if isList x then x else [ x ];

  optionalAttrs = cond: attrs: if cond then attrs else { };

  # The hash part of a derivation's output path, known at evaluation.
  hashOf = drv: substring 0 32 (baseNameOf (builtins.unsafeDiscardStringContext drv.outPath));

  hashString = s: builtins.hashString "sha256" (builtins.unsafeDiscardStringContext (toString s));

  # A derivation built by our Go program running `command`; every other
  # attribute reaches it through .attrs.json.
  mkDerivation = { name, command, ... }@attrs:
    derivation (removeAttrs attrs [ "command" ] // {
      inherit name system;
      builder = builderPath;
      args = [ command ];
      __structuredAttrs = true;
    });

  # `f args` with `.override`, as nixpkgs' lib.makeOverridable gives.
  makeOverridable = f: args:
    f args // {
      override = newArgs: makeOverridable f (args // (if isFunction newArgs then newArgs args else newArgs));
    };

  # The tools a script runs with, or an evaluation error when there is no
  # shell to run a non-empty script.
  # A script with nothing to run.
  isBlank = script: builtins.match "[[:space:]]*" script != null;

  toolsFor = fname: attr: script:
    if isBlank script then [ ]
    else if scriptTools == [ ] then
      throw "dockerTools.${fname}: `${attr}` needs a shell, but nixlib was given no scriptTools: pass `scriptTools = [ bash coreutils ]` (packages with bin/bash or bin/sh) or `pkgs` to nixlib"
    else map toString scriptTools;

  check = fname: cond: msg: if cond then true else throw "dockerTools.${fname}: ${msg}";

  compressors = {
    none = { ext = ""; };
    gz = { ext = ".gz"; };
    zstd = { ext = ".zst"; };
  };

  extensionOf = fname: compressor:
    (compressors.${compressor} or (throw "dockerTools.${fname}: compressor must be one of none, gz, zstd; got \"${toString compressor}\"")).ext;
}
