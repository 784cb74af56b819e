# The dockertools Go program, built with nixpkgs (default.nix and the flake).
{ lib, buildGoModule }:
buildGoModule {
  pname = "dockertools";
  version = "0.1.0";
  # Only what the program is built from, so editing tests or docs does not
  # rebuild it.
  src = lib.cleanSourceWith {
    src = ./.;
    filter = path: type:
      let base = baseNameOf path; rel = lib.removePrefix (toString ./. + "/") path; in
      !(lib.hasPrefix "tests" rel || lib.hasPrefix "bench" rel || lib.hasPrefix "examples" rel)
      && (type == "directory" || lib.hasSuffix ".go" base || base == "go.mod" || base == "go.sum"
          || lib.hasPrefix "layer/testdata" rel);
  };
  # The NAR hash of `go mod vendor`; scripts/vendor-hash.sh recomputes it and CI checks it.
  vendorHash = "sha256-sBEMx00c9BeRqUweabr4izRZ9pPnQwQm/mn95c5cxs8=";
  subPackages = [ "builder" ];
  env.CGO_ENABLED = "0";
  ldflags = [ "-s" "-w" ];
  postInstall = ''
    mv $out/bin/builder $out/bin/dockertools
    # The same program is nixpkgs' nix-prefetch-docker under that name.
    ln -s dockertools $out/bin/nix-prefetch-docker
  '';
  meta = {
    description = "Builds Docker/OCI images from Nix store paths: the builder behind this dockerTools";
    mainProgram = "dockertools";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
  };
}
