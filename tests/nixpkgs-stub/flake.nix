# A stand-in for nixpkgs with just what flake.nix and package.nix touch, so
# that CI can evaluate the flake's outputs where nixpkgs cannot be fetched:
#   nix eval .#packages.x86_64-linux.hello-image.drvPath --override-input nixpkgs path:tests/nixpkgs-stub
# Nothing it defines is meant to be built.
{
  outputs = { self }:
    let
      hasPrefix = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
      lib = {
        genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
        inherit hasPrefix;
        hasSuffix = x: s: let l = builtins.stringLength s; k = builtins.stringLength x; in l >= k && builtins.substring (l - k) k s == x;
        removePrefix = p: s: if hasPrefix p s then builtins.substring (builtins.stringLength p) (-1) s else s;
        cleanSourceWith = { src, filter }: builtins.path { path = src; name = "source"; inherit filter; };
        licenses.mit = "mit";
        platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
      };
      pkgsFor = system:
        let
          stub = name: derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo stub; exit 1" ]; };
          pkgs = {
            inherit lib;
            stdenv = { hostPlatform.system = system; buildPlatform.system = system; initialPath = [ (stub "coreutils") ]; };
            go.GOARCH = { x86_64-linux = "amd64"; aarch64-linux = "arm64"; }.${system};
            bash = stub "bash";
            # What dockerTools' environment helpers take from nixpkgs.
            coreutils = stub "coreutils";
            bashInteractive = stub "bash-interactive";
            runtimeShell = "${pkgs.bash}/bin/bash";
            cacert = stub "cacert";
            shadow = stub "shadow";
            fakeNss = stub "fake-nss" // { override = _: stub "fake-nss"; };
            hello = stub "hello";
            buildGoModule = args: stub "${args.pname}-${args.version}" // { inherit (args) vendorHash; };
            callPackage = f: over: (if builtins.isFunction f then f else import f) (builtins.intersectAttrs (builtins.functionArgs (import f)) pkgs // over);
          };
        in pkgs;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] pkgsFor;
    };
}
