# The NixOS VM test of this dockerTools, for users who have nixpkgs and KVM:
#   nix build .#checks.x86_64-linux.nixos-docker-tools
#   nix-build tests/nixos -A driverInteractive --arg pkgs 'import <nixpkgs> {}'   # then run_tests()
# It loads the images of images.nix into Docker in a NixOS VM and checks
# them as nixpkgs' own docker-tools test checks its images.
{ pkgs
, dockerTools ? (import ../.. { inherit pkgs; }).dockerTools
}:
let
  images = import ./images.nix { inherit pkgs dockerTools; };
  load = img: "docker.succeed(\"docker load --input='${img}'\")";
  stream = img: "docker.succeed(\"${img} | docker load\")";
in
pkgs.testers.runNixOSTest {
  name = "dockertools";
  nodes.docker = {
    virtualisation.docker.enable = true;
    virtualisation.diskSize = 8192;
    virtualisation.memorySize = 2048;
  };
  testScript = ''
    start_all()
    docker.wait_for_unit("sockets.target")

    def run(image, *args):
        return docker.succeed("docker run --rm " + image + " " + " ".join(args)).strip()

    with subtest("layered and stream images load and run, every compressor"):
        ${load images.layered-hello}
        ${stream images.stream-hello}
        ${load images.layered-zstd}
        ${load images.layered-none}
        for name in ["layered-hello", "stream-hello", "layered-zstd", "layered-none"]:
            assert "Hello, world!" in run(name + ":latest", "/bin/hello")

    with subtest("the default created date is 1970-01-01T00:00:01Z, and now differs"):
        created = docker.succeed("docker inspect layered-hello:latest --format '{{.Created}}'").strip()
        assert created.startswith("1970-01-01T00:00:01"), created
        ${load images.created-now}
        now = docker.succeed("docker inspect created-now:latest --format '{{.Created}}'").strip()
        assert not now.startswith("1970"), now

    with subtest("tagless images are loaded with imageTag"):
        ${load images.tagless-layered}
        ${load images.tagless-image}
        docker.succeed("docker image inspect tagless-layered:${images.tagless-layered.imageTag}")
        docker.succeed("docker image inspect tagless-image:${images.tagless-image.imageTag}")

    with subtest("images on a base: Env inherited, later layers win, repeated base layers"):
        ${load images.base}
        ${load images.on-base}
        ${load images.layered-on-base}
        ${load images.repeated-base}
        out = run("on-base:latest")
        assert out.startswith("1 on-base on-base"), out
        assert "Hello, world!" in out
        assert run("layered-on-base:latest").startswith("1")
        run("repeated-base:latest", "/bin/hello")

    with subtest("runAsRoot"):
        ${load images.run-as-root}
        assert run("run-as-root:latest") == "1000\norder-gone"

    with subtest("overlapping closures share layers"):
        ${load images.shared-a}
        ${load images.shared-b}
        a = set(docker.succeed("docker inspect shared-a:latest --format '{{json .RootFS.Layers}}'").strip()[1:-1].split(","))
        b = set(docker.succeed("docker inspect shared-b:latest --format '{{json .RootFS.Layers}}'").strip()[1:-1].split(","))
        assert len(a & b) > 0, (a, b)

    with subtest("a bulk layer, and no store paths"):
        ${load images.bulk}
        assert len(docker.succeed("docker inspect bulk:latest --format '{{json .RootFS.Layers}}'").split(",")) == 2
        run("bulk:latest", "/bin/hello")
        ${stream images.no-store}
        docker.fail("docker run --rm no-store:latest /bin/hello")

    with subtest("non-root store owner; /nix and /nix/store 0755"):
        ${load images.non-root}
        assert run("non-root:latest") == "1000:1000 755\n1000:1000 755"

    with subtest("the Nix database"):
        ${load images.nix-db}
        docker.succeed("docker run --rm nix-db:latest nix-store -qR ${pkgs.bashInteractive}")

    with subtest("architecture, symlinked store paths, registry-prefixed names"):
        ${load images.arm64}
        assert docker.succeed("docker inspect arm64:latest --format '{{.Architecture}}'").strip() == "arm64"
        ${load images.symlink-path}
        run("symlink-path:latest", "/bin/bash", "-c", "'test -L /nix/store/*-link'")
        ${load images.registry-name}
        docker.succeed("docker image inspect registry-1.docker.io/library/prefixed:latest")

    with subtest("fakeRootCommands and enableFakechroot"):
        ${load images.fake-root}
        assert run("fake-root:latest") == "1000"
        ${load images.fake-chroot}
        assert "Hello, world!" in run("fake-chroot:latest")

    with subtest("bare files in contents"):
        ${load images.bare-file}
        assert run("bare-file:latest", "/bin/cat", "/bare-file.txt") == "from a bare file"

    with subtest("mergeImages and exportImage"):
        docker.succeed("docker rmi layered-hello:latest on-base:latest")
        ${load images.merged}
        run("layered-hello:latest", "/bin/hello")
        run("on-base:latest")
        docker.succeed("tar -tf ${images.exported} | grep -qx './bin/bash'")

    with subtest("environment helpers"):
        ${load images.helpers}
        run("helpers:latest", "/bin/sh", "-c", "'test -x /usr/bin/env'")
        for p in ["/etc/ssl/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]:
            run("helpers:latest", "/bin/sh", "-c", "'test -s " + p + "'")
        assert run("helpers:latest", "/bin/sh", "-c", "'id -un'") == "root"

    with subtest("nix-shell image builds hello"):
        ${stream images.nix-shell}
        assert "Hello, world!" in run("hello-${pkgs.hello.version}-env:latest")
  '';
}
