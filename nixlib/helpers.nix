# The environment helpers: small trees to put in copyToRoot or contents,
# and shadowSetup, a script string.
{ lib, pkgs, cacert, shadow }:
let
  inherit (lib) mkDerivation makeOverridable;

  tree = name: attrs: mkDerivation ({ inherit name; command = "write-tree"; } // attrs);

  missing = helper: arg: what:
    throw "dockerTools.${helper}: pass `${arg}` (${what}) or `pkgs` to nixlib";

  # Where the tools' programs may be: the first that exists at build time.
  inTools = names: builtins.concatMap (t: map (n: "${t}/bin/${n}") names) lib.scriptTools;

  fakeNss = makeOverridable
    ({ extraPasswdLines ? [ ], extraGroupLines ? [ ] }:
      tree "fake-nss" {
        files = {
          "etc/passwd" = builtins.concatStringsSep "\n" ([
            "root:x:0:0:root user:/var/empty:/bin/sh"
            "nobody:x:65534:65534:nobody:/var/empty:/bin/sh"
          ] ++ extraPasswdLines) + "\n";
          "etc/group" = builtins.concatStringsSep "\n" ([ "root:x:0:" "nobody:x:65534:" ] ++ extraGroupLines) + "\n";
          "etc/nsswitch.conf" = "hosts: files dns\n";
        };
        dirs = [ "var/empty" ];
      })
    { };
in
{
  # The documentation calls it a re-export of nixpkgs' fakeNss.
  fakeNss = if pkgs != null && pkgs ? fakeNss then pkgs.fakeNss else fakeNss;

  usrBinEnv = tree "usr-bin-env" {
    links."usr/bin/env" =
      if pkgs != null then [ "${pkgs.coreutils}/bin/env" ]
      else if lib.scriptTools != [ ] then inTools [ "env" ]
      else missing "usrBinEnv" "scriptTools" "packages, one with bin/env";
  };

  binSh = tree "bin-sh" {
    links."bin/sh" =
      if pkgs != null then [ "${pkgs.bashInteractive}/bin/bash" ]
      else if lib.scriptTools != [ ] then inTools [ "bash" ] ++ inTools [ "sh" ]
      else missing "binSh" "scriptTools" "packages, one with bin/bash or bin/sh";
  };

  caCertificates =
    let
      c = if cacert != null then cacert
        else if pkgs != null then pkgs.cacert
        else missing "caCertificates" "cacert" "a package with etc/ssl/certs/ca-bundle.crt";
      bundle = [ "${c}/etc/ssl/certs/ca-bundle.crt" ];
    in
    tree "ca-certificates" {
      links = {
        "etc/ssl/certs/ca-bundle.crt" = bundle;
        "etc/ssl/certs/ca-certificates.crt" = bundle;
        "etc/pki/tls/certs/ca-bundle.crt" = bundle;
      };
    };

  # Runs in `/` (runAsRoot, or fakeRootCommands with enableFakechroot):
  # the files shadow's tools need, kept when the image has them already,
  # and the tools on PATH. POSIX sh, so any shell runs it.
  shadowSetup =
    let
      s = if shadow != null then shadow
        else if pkgs != null then pkgs.shadow
        else missing "shadowSetup" "shadow" "a package with bin/useradd and bin/groupadd";
      rootShell = if pkgs != null then pkgs.runtimeShell else "/bin/sh";
    in
    ''
      export PATH=${s}/bin:$PATH
      mkdir -p /etc/pam.d
      if [ ! -f /etc/passwd ]; then
        echo 'root:x:0:0::/root:${rootShell}' > /etc/passwd
        echo 'root:!x:::::::' > /etc/shadow
      fi
      if [ ! -f /etc/group ]; then
        echo 'root:x:0:' > /etc/group
        echo 'root:x::' > /etc/gshadow
      fi
      if [ ! -f /etc/pam.d/other ]; then
        printf '%s\n' 'account sufficient pam_unix.so' 'auth sufficient pam_rootok.so' \
          'password requisite pam_unix.so nullok yescrypt' 'session required pam_unix.so' > /etc/pam.d/other
      fi
      [ -f /etc/login.defs ] || : > /etc/login.defs
    '';
}
