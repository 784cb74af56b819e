# pullImage: a fixed-output derivation whose builder pulls imageName@imageDigest
# from a registry into the docker-archive nixpkgs' pullImage (skopeo) writes,
# byte for byte, so that hashes pinned with nixpkgs verify.
{ lib, defaultArchitecture, defaultVariant ? null }:
let
  inherit (lib) mkDerivation check;

  fixName = builtins.replaceStrings [ "/" ":" ] [ "-" "-" ];

  # As nixpkgs' fetchers: proxies reach the builder. The registry
  # credentials' location too (its content never enters the store).
  impureEnvVars = [
    "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy"
    "HTTP_PROXY" "HTTPS_PROXY" "FTP_PROXY" "ALL_PROXY" "NO_PROXY"
    "DOCKER_CONFIG" "REGISTRY_AUTH_FILE" "DOCKERTOOLS_IDLE_TIMEOUT"
  ];

  pullImage =
    { imageName
    , imageDigest
    , sha256 ? ""
    , hash ? ""
    , os ? "linux"
    , arch ? defaultArchitecture
    , variant ? defaultVariant
    , tlsVerify ? true
    , finalImageName ? imageName
    , finalImageTag ? "latest"
    , name ? fixName "docker-image-${finalImageName}-${finalImageTag}.tar"
      # Not in nixpkgs: seconds a registry may send nothing before the pull
      # fails (null: DOCKERTOOLS_IDLE_TIMEOUT, else 300).
    , idleTimeout ? null
    }@args:
    let
      fname = "pullImage";
      checks = [
        (check fname (builtins.isString imageName && imageName != "") "imageName must be a non-empty string")
        (check fname (builtins.match "sha256:[0-9a-f]{64}" imageDigest != null) "imageDigest must be \"sha256:\" and 64 hexadecimal digits, got \"${toString imageDigest}\" (nix-prefetch-docker prints it)")
        (check fname (sha256 == "" || hash == "") "give either `hash` or `sha256`, not both")
        (check fname (builtins.isBool tlsVerify) "tlsVerify must be true or false")
        (lib.checkVariant fname variant)
        (check fname (idleTimeout == null || (builtins.isInt idleTimeout && idleTimeout > 0)) "idleTimeout must be a positive number of seconds or null, got ${builtins.toJSON idleTimeout}")
        (lib.checkName fname "finalImageName" finalImageName)
        (lib.checkTag fname "finalImageTag" finalImageTag)
      ];
    in
    builtins.seq (builtins.deepSeq checks null) (lib.withOverride pullImage args (mkDerivation ({
      inherit name imageDigest os arch variant tlsVerify impureEnvVars;
    } // lib.optionalAttrs (idleTimeout != null) { inherit idleTimeout; } // {
      command = "pull";
      imageName = imageName;
      finalImageName = finalImageName;
      finalImageTag = finalImageTag;
      outputHashMode = "flat";
      outputHash = if hash != "" then hash else sha256;
      preferLocalBuild = true;
      # As nixpkgs: what the image is called once loaded.
      passthru = { imageName = finalImageName; imageTag = finalImageTag; };
    } // lib.optionalAttrs (hash == "") { outputHashAlgo = "sha256"; })));
in
{
  pullImage = pullImage;
}
