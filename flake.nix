{
  description = "A faster, reproducible drop-in replacement for nixpkgs' dockerTools, built by one static Go program";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      systemOf = pkgs: pkgs.stdenv.hostPlatform.system;
      # dockerTools for a package set, its builder built from this flake.
      dockerToolsFor = pkgs: import ./nixlib {
        builder = pkgs.callPackage ./package.nix { };
        inherit pkgs;
      };
    in
    {
      lib = { inherit dockerToolsFor; };

      dockerTools = forAllSystems dockerToolsFor;

      legacyPackages = forAllSystems (pkgs: { dockerTools = dockerToolsFor pkgs; });

      # Replaces pkgs.dockerTools with this implementation; what nixpkgs'
      # has and this does not (examples, tests, ...) stays nixpkgs'.
      overlays.default = final: prev: {
        dockerTools = (if builtins.isAttrs (prev.dockerTools or null) then prev.dockerTools else { }) // dockerToolsFor final;
      };

      packages = forAllSystems (pkgs: rec {
        dockertools = pkgs.callPackage ./package.nix { };
        default = dockertools;
        hello-image = (dockerToolsFor pkgs).buildLayeredImage {
          name = "hello";
          tag = "latest";
          contents = [ pkgs.hello ];
          config.Cmd = [ "/bin/hello" ];
        };
      });

      checks = forAllSystems (pkgs: {
        inherit (self.packages.${systemOf pkgs}) dockertools hello-image;
        # The NixOS VM test (needs KVM): tests/nixos.
        nixos-docker-tools = import ./tests/nixos { inherit pkgs; dockerTools = dockerToolsFor pkgs; };
      });
    };
}
