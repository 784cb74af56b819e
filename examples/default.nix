# The documentation's dockerTools examples, built with this project.
#
# With nixpkgs:    nix-build examples -A hello-layered --arg pkgs 'import <nixpkgs> {}' --arg builder ...
# Without nixpkgs: nix-build examples -A hello-layered --arg builder ./dockertools
#   (then `hello` is the static test package of tests/fixtures/pkgs.nix)
{ builder ? null
, pkgs ? null
, system ? (if pkgs != null then pkgs.stdenv.buildPlatform.system else builtins.currentSystem)
, dockerTools ? null
}:
let
  fixtures = import ../tests/fixtures/pkgs.nix { inherit system; };
  dt =
    if dockerTools != null then dockerTools
    else import ../nixlib ({ inherit builder pkgs system; } // (if pkgs == null then {
      scriptTools = [ fixtures.busybox ];
      inherit (fixtures) vmKernel qemu shadow cacert;
    } else { }));
  hello = if pkgs != null then pkgs.hello else fixtures.hello;
  redis = if pkgs != null then pkgs.redis else fixtures.redis;
  buildEnv = if pkgs != null then pkgs.buildEnv else fixtures.buildEnv;
  getExe = p: "${p}/bin/hello";
  cowsay = if pkgs != null then pkgs.cowsay else fixtures.cowsay;
  # The fixtures' packages are plain derivations: overrideAttrs for them.
  overrideAttrs = drv: f:
    if drv ? overrideAttrs then drv.overrideAttrs f
    else derivation (removeAttrs drv.drvAttrs [ "outputs" ] // f drv.drvAttrs);
  # Without nixpkgs there is no bashInteractive: the fixtures' static bash.
  nixShellArgs = if pkgs != null then { } else { shell = "${fixtures.bash}/bin/bash"; };
  inherit (dt) shadowSetup;
in
{
  # ex-dockerTools-buildLayeredImage-hello
  hello-layered = dt.buildLayeredImage {
    name = "hello";
    tag = "latest";
    contents = [ hello ];
    config.Cmd = [ "/bin/hello" ];
  };

  # ex-dockerTools-streamLayeredImage-hello
  hello-stream = dt.streamLayeredImage {
    name = "hello";
    tag = "latest";
    contents = [ hello ];
    config.Cmd = [ "/bin/hello" ];
  };

  # ex-dockerTools-streamLayeredImage-exploringlayers
  exploring = dt.streamLayeredImage {
    name = "hello-exploring";
    contents = [ hello ];
  };
  exploring-no-store = dt.streamLayeredImage {
    name = "hello-exploring-nostore";
    contents = [ hello ];
    includeStorePaths = false;
  };

  # ex-dockerTools-streamLayeredImage-configclosure
  configclosure = dt.streamLayeredImage {
    name = "hello-configclosure";
    tag = "latest";
    config.Cmd = [ (getExe hello) ];
  };

  # ex-dockerTools-buildImage (runAsRoot's `mkdir -p /data` left out until
  # runAsRoot is supported: Docker creates the WorkingDir anyway).
  redis = dt.buildImage {
    name = "redis";
    tag = "latest";
    copyToRoot = buildEnv {
      name = "image-root";
      paths = [ redis ];
      pathsToLink = [ "/bin" ];
    };
    runAsRoot = ''
      mkdir -p /data
    '';
    config = {
      Cmd = [ "/bin/redis-server" ];
      WorkingDir = "/data";
      Volumes = { "/data" = { }; };
    };
  };

  # ex-dockerTools-buildImage-extraCommands
  hello-extra-commands = dt.buildImage {
    name = "hello";
    tag = "latest";
    copyToRoot = buildEnv {
      name = "image-root";
      paths = [ hello ];
      pathsToLink = [ "/bin" ];
    };
    extraCommands = ''
      mkdir -p data
      echo "some content" > my-file
    '';
    config = {
      Cmd = [ "/bin/hello" ];
      WorkingDir = "/data";
    };
  };

  # ex-dockerTools-buildImage-creatednow
  hello-created-now = dt.buildImage {
    name = "hello";
    tag = "latest";
    created = "now";
    copyToRoot = buildEnv {
      name = "image-root";
      paths = [ hello ];
      pathsToLink = [ "/bin" ];
    };
    config.Cmd = [ "/bin/hello" ];
  };

  # ex-dockerTools-exportImage-hello (and -importingDocker)
  hello-export = dt.exportImage {
    name = "hello";
    fromImage = dt.buildLayeredImage {
      name = "hello";
      contents = [ hello ];
    };
  };

  # ex-dockerTools-exportImage-naming: the name comes from fromImage.
  hello-export-unnamed = dt.exportImage {
    fromImage = dt.buildLayeredImage {
      name = "hello";
      contents = [ hello ];
    };
  };

  # ex-dockerTools-shadowSetup-buildLayeredImage
  shadow-basic = dt.buildLayeredImage {
    name = "shadow-basic";
    tag = "latest";

    contents = [ hello ];

    fakeRootCommands = ''
      ${shadowSetup}
      groupadd -r hello
      useradd -r -g hello hello
      mkdir /data
      chown hello:hello /data
    '';
    enableFakechroot = true;

    config = {
      Cmd = [ "/bin/hello" ];
      WorkingDir = "/data";
    };
  };

  # ex-dockerTools-buildImage-runAsRoot
  hello-run-as-root = dt.buildImage {
    name = "hello";
    tag = "latest";

    copyToRoot = buildEnv {
      name = "image-root";
      paths = [ hello ];
      pathsToLink = [ "/bin" ];
    };

    runAsRoot = ''
      mkdir -p /data
      echo "some content" > my-file
    '';

    config = {
      Cmd = [ "/bin/hello" ];
      WorkingDir = "/data";
    };
  };

  # ex-dockerTools-shadowSetup-buildImage
  shadow-basic-image = dt.buildImage {
    name = "shadow-basic";
    tag = "latest";

    copyToRoot = [ hello ];

    runAsRoot = ''
      ${shadowSetup}
      groupadd -r hello
      useradd -r -g hello hello
      mkdir /data
      chown hello:hello /data
    '';

    config = {
      Cmd = [ "/bin/hello" ];
      WorkingDir = "/data";
    };
  };

  # ex-dockerTools-streamNixShellImage-hello
  nix-shell-hello = dt.streamNixShellImage ({
    drv = hello;
    tag = "latest";
  } // nixShellArgs);

  # ex-dockerTools-buildNixShellImage-hello
  nix-shell-hello-build = dt.buildNixShellImage ({
    drv = hello;
    tag = "latest";
  } // nixShellArgs);

  # ex-dockerTools-streamNixShellImage-extendingBuildInputs
  nix-shell-cowsay = dt.streamNixShellImage ({
    tag = "latest";
    drv = overrideAttrs hello (old: {
      nativeBuildInputs = old.nativeBuildInputs or [ ] ++ [
        cowsay
      ];
    });
  } // nixShellArgs);

  # ex-dockerTools-streamNixShellImage-addingShellHook
  nix-shell-hook = dt.streamNixShellImage ({
    tag = "latest";
    drv = overrideAttrs hello (old: {
      shellHook = ''
        ${old.shellHook or ""}
        echo "Hello, world!"
      '';
    });
  } // nixShellArgs);

  # ex-dockerTools-helpers-buildImage
  env-helpers-image = dt.buildImage {
    name = "env-helpers";
    tag = "latest";

    copyToRoot = [
      hello
      dt.binSh
    ];
  };

  # ex-dockerTools-helpers-buildLayeredImage
  env-helpers-layered = dt.buildLayeredImage {
    name = "env-helpers";
    tag = "latest";

    contents = [
      hello
      dt.binSh
    ];

    config = {
      Cmd = [ "/bin/hello" ];
    };
  };
}
