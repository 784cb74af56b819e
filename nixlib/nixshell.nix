# streamNixShellImage and buildNixShellImage: an image whose shell has a
# derivation's build environment, as `nix-shell` gives it.
{ lib, layered, pkgs, cacert ? null, storeDir ? builtins.storeDir }:
let
  inherit (lib) mkDerivation check baseName;
  inherit (builtins) isAttrs isList isBool isInt isString isPath isNull concatStringsSep
    attrNames filter match replaceStrings toString map;

  # A value in single quotes for bash.
  quote = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  # What Nix puts in the builder's environment for an attribute.
  envValue = v:
    if isNull v then ""
    else if isBool v then (if v then "1" else "")
    else if isList v then concatStringsSep " " (map envValue v)
    else if isPath v then "${v}"
    else toString v;

  validName = n: match "[A-Za-z_][A-Za-z0-9_]*" n != null;

  streamNixShellImage =
    { drv
    , name ? (drv.name or "nix-shell") + "-env"
    , tag ? null
    , uid ? 1000
    , gid ? 1000
    , homeDirectory ? "/build"
    , shell ? (if pkgs != null then "${pkgs.bashInteractive}/bin/bash"
               else if lib.scriptTools != [ ] then "${builtins.head lib.scriptTools}/bin/bash"
               else throw "dockerTools.streamNixShellImage: pass `shell` (a bash) or give nixlib `pkgs` or `scriptTools` with bin/bash")
    , command ? null
    , run ? null
    }@args:
    let
      fname = "streamNixShellImage";
      attrs = drv.drvAttrs or { };
      checks = [
        (check fname (isAttrs drv && drv ? drvAttrs) "drv must be a derivation")
        (check fname (!(attrs.__structuredAttrs or false)) "drv uses __structuredAttrs, whose environment (.attrs.json) the image cannot reproduce")
        (check fname (!(attrs ? outputHash)) "drv is a fixed-output derivation (outputHash is set), which this function does not support")
        (check fname (!(attrs.__contentAddressed or false) && !(attrs.__impure or false)) "drv is content-addressed or impure, which this function does not support")
        (check fname (command == null || run == null) "give `command` or `run`, not both")
        (check fname (command == null || isString command) "command must be a string or null")
        (check fname (run == null || isString run) "run must be a string or null")
        (lib.checkId fname "uid" uid)
        (lib.checkId fname "gid" gid)
        (check fname (isString homeDirectory && match "/.*" homeDirectory != null) "homeDirectory must be an absolute path, got ${builtins.toJSON homeDirectory}")
      ];

      outputs = attrs.outputs or [ "out" ];
      # The outputs' paths without their context: the image must not need
      # the derivation built, only its inputs.
      outputPath = o: builtins.unsafeDiscardStringContext drv.${o}.outPath;
      passAsFile = attrs.passAsFile or [ ];
      fileFor = n: mkDerivation {
        name = "${baseName name}-${n}";
        command = "write-file";
        text = envValue attrs.${n};
      };
      # Nix passes every attribute but `args` (the builder's arguments).
      plain = filter (n: validName n && n != "args" && !(builtins.elem n passAsFile) && !(builtins.elem n outputs)) (attrNames attrs);

      # The shell's startup file: the derivation's environment, then what
      # nix-shell adds (stdenv's setup, the prompt, shellHook).
      rcfile = mkDerivation {
        name = "${baseName name}-rc";
        command = "write-file";
        text = concatStringsSep "\n" (
          [
            "# The build environment of ${drv.name or "the derivation"}, as nix-shell sets it up."
            "_nix_shell_PATH=\"\${PATH:-}\""
          ]
          ++ map (n: "export ${n}=${quote (envValue attrs.${n})}") plain
          ++ map (o: "export ${o}=${quote (outputPath o)}") outputs
          ++ map (n: "export ${n}Path=${quote "${fileFor n}"}") passAsFile
          ++ [
            "export HOME=${quote homeDirectory} NIX_BUILD_TOP=${quote homeDirectory} TMPDIR=${quote homeDirectory}"
            "export TMP=\"$TMPDIR\" TEMP=\"$TMPDIR\" TEMPDIR=\"$TMPDIR\" NIX_STORE=${quote storeDir} NIX_BUILD_CORES=\"\${NIX_BUILD_CORES:-1}\" NIX_LOG_FD=2"
            "export NIX_BUILD_SHELL=${quote shell} IN_NIX_SHELL=impure"
            "cd \"$NIX_BUILD_TOP\""
            "if [ -n \"\${stdenv:-}\" ] && [ -e \"$stdenv/setup\" ]; then source \"$stdenv/setup\"; fi"
            # As nix-shell: the container's own PATH after the derivation's.
            "export PATH=\"\${PATH:+$PATH:}$_nix_shell_PATH\""
            "buildDerivation() { ( exec ${concatStringsSep " " (map (a: quote (envValue a)) ([ attrs.builder ] ++ (attrs.args or [ ])))} ); }"
            "PS1='\\n\\[\\033[1;32m\\][nix-shell:\\w]\\$\\[\\033[0m\\] '"
            "eval \"\${shellHook:-}\""
          ]
          ++ (if command != null then [ command "exit" ] else [ ])
          ++ (if run != null then [ run "exit" ] else [ ])
        ) + "\n";
      };

      stream = layered.streamLayeredImage {
        inherit name tag;
        config = {
          Cmd = if run != null then [ shell "${rcfile}" ] else [ shell "--rcfile" "${rcfile}" "-i" ];
          User = "${toString uid}:${toString gid}";
          WorkingDir = homeDirectory;
          # As nixpkgs' image: a terminal type, and the CA bundle for
          # programs that fetch (when nixlib has one: `cacert` or pkgs).
          Env = [ "TERM=xterm-256color" ]
            ++ (if bundle != null then [ "SSL_CERT_FILE=${bundle}" "NIX_SSL_CERT_FILE=${bundle}" ] else [ ]);
        };
        # A user of uid/gid owning the home; /tmp and the store writable,
        # so that the derivation's outputs can be built; /bin/sh and, when
        # the tools have one, /usr/bin/env, as builders expect.
        fakeRootCommands = ''
          [ -x ${shell} ] || { echo "${fname}: the shell ${shell} does not exist: pass \`shell\` (a bash)" >&2; exit 1; }
          mkdir -p .${homeDirectory} tmp .${storeDir} etc bin usr/bin
          chown ${toString uid}:${toString gid} .${homeDirectory}
          chmod 1777 tmp .${storeDir}
          printf 'root:x:0:0:root:/root:%s\nnixbld:x:${toString uid}:${toString gid}:Nix build user:${homeDirectory}:%s\n' ${shell} ${shell} > etc/passwd
          printf 'root:x:0:\nnixbld:!:${toString gid}:\n' > etc/group
          ln -s ${shell} bin/sh
          for t in ${toString (lib.scriptTools ++ (if pkgs != null then [ pkgs.coreutils ] else [ ]))}; do
            if [ -x "$t/bin/env" ]; then ln -s "$t/bin/env" usr/bin/env; break; fi
          done
        '';
      };
      bundle =
        if cacert != null then "${cacert}/etc/ssl/certs/ca-bundle.crt"
        else if pkgs != null && pkgs ? cacert then "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
        else null;
    in
    builtins.seq (builtins.deepSeq checks null) (lib.withOverride streamNixShellImage args stream);

  # As nixpkgs, the file is named after the derivation, whatever `name` is.
  buildNixShellImage = { drv, compressor ? "gz", ... }@args:
    lib.withOverride buildNixShellImage args
      (layered.compressStream "buildNixShellImage" ((drv.name or "nix-shell") + "-env")
        (streamNixShellImage (removeAttrs args [ "compressor" ])) compressor { });
in
{
  inherit streamNixShellImage buildNixShellImage;
}
