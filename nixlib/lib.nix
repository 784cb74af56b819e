# Helpers shared by the dockerTools functions, written with builtins only so
# that nixlib evaluates without nixpkgs.
{ builder, system, scriptTools, storeDir ? builtins.storeDir }:
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

  # Go's GOARM for 32-bit ARM systems, as an image variant; null elsewhere.
  goarmOf = sys:
    let cpu = elemAt (match "([^-]*)-.*" sys) 0;
    in { armv5tel = "v5"; armv6l = "v6"; armv7l = "v7"; armv7a = "v7"; }.${cpu} or null;
in
rec {
  inherit builderPath goarchOf goarmOf system scriptTools storeDir;

  toLower = replaceStrings upper lower;

  # The part of a name that can be a store path name ("registry:5000/x" -> "x").
  baseName = name: baseNameOf name;

  toList = x: if x == null then [ ] else if isList x then x else [ x ];

  optionalAttrs = cond: attrs: if cond then attrs else { };

  # The hash part of a derivation's output path, known at evaluation.
  hashOf = drv: substring 0 32 (baseNameOf (builtins.unsafeDiscardStringContext drv.outPath));

  hashString = s: builtins.hashString "sha256" (builtins.unsafeDiscardStringContext (toString s));

  # A derivation built by our Go program running `command`; every other
  # attribute reaches it through .attrs.json, but for `passthru` and `meta`,
  # which stay on the result only (as in stdenv.mkDerivation). The result
  # has `overrideAttrs`, as nixpkgs' runCommand results have: it takes
  # `prev: { ... }`, `final: prev: { ... }` or an attribute set, and makes
  # the derivation again from the merged attributes.
  mkDerivation = { name, command, passthru ? { }, meta ? { }, ... }@attrs:
    let
      drv = derivation (removeAttrs attrs [ "command" "passthru" "meta" ] // {
        inherit name system;
        builder = builderPath;
        args = [ command ];
        __structuredAttrs = true;
      });
    in
    drv // passthru // {
      inherit passthru meta;
      overrideAttrs = f: mkDerivation (attrs // applyOverride f attrs);
    };

  # What `overrideAttrs f` adds to prev, for each form f may take.
  applyOverride = f: prev:
    if isAttrs f then f
    else
      let r = f prev; in
      if isFunction r then (let final = prev // f final prev; in f final prev) else r;

  # Gives `result` an `.override` that calls `self` (the function that made
  # it, with its own formals, so that builtins.functionArgs lists them) with
  # the original arguments updated, as nixpkgs' lib.makeOverridable does.
  withOverride = self: args: result:
    result // {
      override = newArgs: self (args // (if isFunction newArgs then newArgs args else newArgs));
    };

  # `f args` with `.override`, for helpers whose arguments all have
  # defaults (fakeNss).
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

  # Docker's reference grammar (distribution/reference): what `docker
  # load` and podman accept as a repository name and a tag. Names are
  # checked lower-cased, as the image gets them.
  checkName = fname: attr: name:
    let
      component = "[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*";
      domainPart = "([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
      domain = "${domainPart}(\\.${domainPart})*(:[0-9]+)?";
      n = toLower (toString name);
    in
    check fname (isString name && stringLength n <= 255 && match "(${domain}/)?${component}(/${component})*" n != null)
      "${attr} must be an image name Docker accepts (lower-case letters and digits, separated by '.', '_', '__' or '-', components joined by '/', optionally after a registry host[:port]/; at most 255 characters), got ${builtins.toJSON name}";

  checkTag = fname: attr: tag:
    check fname (tag == null || (isString tag && match "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}" tag != null))
      "${attr} must be null or a tag Docker accepts (up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'), got ${builtins.toJSON tag}";

  # The checks every image builder makes of the arguments they share.
  checkImage = fname: { name, tag, uid, gid, variant, config }: [
    (checkName fname "name" name)
    (checkTag fname "tag" tag)
    (checkId fname "uid" uid)
    (checkId fname "gid" gid)
    (checkVariant fname variant)
    (checkConfig fname config)
  ];

  # A file of the scripts' text: its references are the store paths they
  # mention, which the builder keeps when the layer's files refer to them.
  scriptRefs = name: text: mkDerivation {
    name = "${baseName name}-script-refs";
    command = "write-file";
    inherit text;
    preferLocalBuild = true;
    allowSubstitutes = false;
  };

  # Linux ids are 32 bits; (uid_t) -1 means "unchanged".
  checkId = fname: attr: id:
    check fname (builtins.isInt id && id >= 0 && id < 4294967295) "${attr} must be a number from 0 to 4294967294, got ${builtins.toJSON id}";

  checkVariant = fname: variant:
    check fname (variant == null || isString variant) "variant must be a string (such as \"v7\" or \"v8\") or null, got ${builtins.typeOf variant}";

  # The shapes container engines insist on when they load an image (podman:
  # "cannot unmarshal string into ... Cmd of type []string"), so that a
  # wrong one fails at evaluation, naming the key.
  checkConfig = fname: config:
    let
      isStr = v: isString v || isPath v || (isAttrs v && v ? outPath);
      describe = v:
        if isAttrs v && v ? outPath then "a derivation"
        else {
          int = "a number"; float = "a number"; set = "an attribute set"; list = "a list"; string = "a string";
          bool = "a boolean"; null = "null"; lambda = "a function"; path = "a path";
        }.${builtins.typeOf v} or (builtins.typeOf v);
      listOfStrings = k: v:
        check fname (isList v && builtins.all isStr v)
          "config.${k} must be a list of strings, got ${if isList v then "a list holding ${describe (builtins.head (builtins.filter (x: !isStr x) v))}" else describe v}";
      setOfSets = k: v:
        check fname (isAttrs v && !(v ? outPath) && builtins.all isAttrs (builtins.attrValues v))
          "config.${k} must be an attribute set of attribute sets (such as { \"80/tcp\" = { }; }), got ${describe v}";
      setOfStrings = k: v:
        check fname (isAttrs v && !(v ? outPath) && builtins.all isStr (builtins.attrValues v))
          "config.${k} must be an attribute set of strings, got ${describe v}";
      string = k: v: check fname (isStr v) "config.${k} must be a string, got ${describe v}";
      shapes = {
        Cmd = listOfStrings; Entrypoint = listOfStrings; Env = listOfStrings; Shell = listOfStrings; OnBuild = listOfStrings;
        Volumes = setOfSets; ExposedPorts = setOfSets;
        Labels = setOfStrings;
        User = string; WorkingDir = string; StopSignal = string;
      };
      checkKey = k: if shapes ? ${k} && config.${k} != null then shapes.${k} k config.${k} else true;
    in
    if config == null then true
    else if !(isAttrs config) || config ? outPath then throw "dockerTools.${fname}: config must be an attribute set or null, got ${describe config}"
    else builtins.all checkKey (builtins.attrNames config);

  compressors = {
    none = { ext = ""; };
    gz = { ext = ".gz"; };
    zstd = { ext = ".zst"; };
  };

  extensionOf = fname: compressor:
    (compressors.${compressor} or (throw "dockerTools.${fname}: compressor must be one of none, gz, zstd; got \"${toString compressor}\"")).ext;
}
