# The images the NixOS test (default.nix) loads into Docker, built with this
# project's dockerTools from nixpkgs' packages. Mirrors what nixpkgs' own
# docker-tools test checks. CI evaluates it against the static fixtures
# (scripts/check-nix.sh); building it needs nixpkgs.
{ pkgs, dockerTools }:
let
  inherit (dockerTools) buildImage buildLayeredImage streamLayeredImage;
  inherit (pkgs) hello bashInteractive coreutils;
in
rec {
  # The documentation's hello, layered and stream.
  layered-hello = buildLayeredImage { name = "layered-hello"; tag = "latest"; contents = [ hello ]; config.Cmd = [ "/bin/hello" ]; };
  stream-hello = streamLayeredImage { name = "stream-hello"; tag = "latest"; contents = [ hello ]; config.Cmd = [ "/bin/hello" ]; };
  layered-zstd = layered-hello.override { name = "layered-zstd"; compressor = "zstd"; };
  layered-none = layered-hello.override { name = "layered-none"; compressor = "none"; };

  # Tagless images: the loaded tag is imageTag.
  tagless-layered = buildLayeredImage { name = "tagless-layered"; contents = [ hello ]; };
  tagless-image = buildImage { name = "tagless-image"; copyToRoot = [ hello ]; };

  # created: the default date, and "now".
  created-now = buildLayeredImage { name = "created-now"; tag = "latest"; contents = [ hello ]; created = "now"; };

  # A base, images on top of it (Env inherited, layer order kept), the same
  # base layer repeated, runAsRoot over it.
  base = buildImage {
    name = "base";
    tag = "latest";
    copyToRoot = [ bashInteractive coreutils ];
    config.Env = [ "FROM_BASE=1" "OVERRIDDEN=base" ];
    extraCommands = "mkdir -p etc && echo base > etc/order";
  };
  on-base = buildImage {
    name = "on-base";
    tag = "latest";
    fromImage = base;
    copyToRoot = [ hello ];
    extraCommands = "mkdir -p etc && echo on-base > etc/order";
    config.Env = [ "OVERRIDDEN=on-base" ];
    config.Cmd = [ "/bin/bash" "-c" "echo $FROM_BASE $OVERRIDDEN $(cat /etc/order); hello" ];
  };
  layered-on-base = buildLayeredImage {
    name = "layered-on-base";
    tag = "latest";
    fromImage = base;
    contents = [ hello ];
    config.Cmd = [ "/bin/bash" "-c" "echo $FROM_BASE; hello" ];
  };
  repeated-base = buildImage { name = "repeated-base"; tag = "latest"; fromImage = on-base; copyToRoot = [ coreutils ]; };
  run-as-root = buildImage {
    name = "run-as-root";
    tag = "latest";
    fromImage = base;
    runAsRoot = ''
      mkdir -p /data /home/user
      chown 1000:1000 /home/user
      rm /etc/order
    '';
    config.Cmd = [ "/bin/bash" "-c" "stat -c %u /home/user; test -e /etc/order || echo order-gone" ];
  };

  # Two images from overlapping closures share their store layers.
  shared-a = buildLayeredImage { name = "shared-a"; tag = "latest"; contents = [ hello bashInteractive ]; };
  shared-b = buildLayeredImage { name = "shared-b"; tag = "latest"; contents = [ hello coreutils ]; };

  # Few layers: the rest in one bulk layer.
  bulk = buildLayeredImage { name = "bulk"; tag = "latest"; contents = [ bashInteractive coreutils hello ]; maxLayers = 2; };

  # No store paths at all.
  no-store = streamLayeredImage { name = "no-store"; tag = "latest"; contents = [ hello ]; includeStorePaths = false; };

  # Store files owned by a non-root user; /nix and /nix/store stay 0755.
  non-root = buildLayeredImage {
    name = "non-root";
    tag = "latest";
    contents = [ bashInteractive coreutils ];
    uid = 1000; gid = 1000; uname = "user"; gname = "user";
    config.Cmd = [ "/bin/bash" "-c" "stat -c '%u:%g %a' /nix /nix/store" ];
  };

  # The Nix database: nix-store -qR works in the container.
  nix-db = buildLayeredImage {
    name = "nix-db";
    tag = "latest";
    contents = [ pkgs.nix bashInteractive coreutils ];
    includeNixDB = true;
    config.Cmd = [ "/bin/bash" "-c" "nix-store -qR ${hello} >/dev/null 2>&1 || nix-store -qR /nix/store/*-bash-interactive-* | head -1" ];
  };

  # Architecture override.
  arm64 = buildLayeredImage { name = "arm64"; tag = "latest"; contents = [ hello ]; architecture = "arm64"; };

  # A store path that is a symlink stays a symlink.
  symlink-path = buildLayeredImage {
    name = "symlink-path";
    tag = "latest";
    contents = [ (pkgs.runCommand "link" { } "ln -s ${hello} $out") bashInteractive coreutils ];
  };

  # A registry-prefixed name.
  registry-name = buildLayeredImage { name = "registry-1.docker.io/library/prefixed"; tag = "latest"; contents = [ hello ]; };

  # fakeRootCommands: a home owned by uid 1000; enableFakechroot with
  # shadowSetup.
  fake-root = buildLayeredImage {
    name = "fake-root";
    tag = "latest";
    contents = [ bashInteractive coreutils ];
    fakeRootCommands = ''
      mkdir -p ./home/alice
      chown 1000 ./home/alice
      ln -s ${hello} ./hello
    '';
    config.Cmd = [ "/bin/bash" "-c" "stat -c %u /home/alice" ];
  };
  fake-chroot = buildLayeredImage {
    name = "fake-chroot";
    tag = "latest";
    contents = [ hello ];
    fakeRootCommands = ''
      ${dockerTools.shadowSetup}
      groupadd -r hello
      useradd -r -g hello hello
      mkdir /data
      chown hello:hello /data
    '';
    enableFakechroot = true;
    config = { Cmd = [ "/bin/hello" ]; WorkingDir = "/data"; User = "hello"; };
  };

  # Bare files in contents.
  bare-file = buildLayeredImage {
    name = "bare-file";
    tag = "latest";
    contents = [ (pkgs.writeText "bare-file.txt" "from a bare file\n") bashInteractive coreutils ];
  };

  # mergeImages and exportImage.
  merged = dockerTools.mergeImages [ layered-hello on-base ];
  exported = dockerTools.exportImage { fromImage = base; diskSize = 2048; };

  # The environment helpers.
  helpers = buildLayeredImage {
    name = "helpers";
    tag = "latest";
    contents = [ dockerTools.binSh dockerTools.usrBinEnv dockerTools.caCertificates dockerTools.fakeNss coreutils ];
  };

  # A nix-shell image of hello: buildDerivation builds it in the container.
  nix-shell = dockerTools.streamNixShellImage { drv = hello; tag = "latest"; run = "buildDerivation && $out/bin/hello"; };
}
