# exportImage: the filesystem of an image as one uncompressed tar, flattened
# by the builder itself (no VM).
{ lib }:
let
  inherit (lib) mkDerivation check;

  exportImage =
    { fromImage
    , fromImageName ? null
    , fromImageTag ? null
    , diskSize ? 1024
    , name ? (if builtins.isAttrs fromImage && fromImage ? name then fromImage.name
              else throw "dockerTools.exportImage: `name` is required when `fromImage` is a path (there is no derivation name to take it from)")
    }@args:
    let
      fname = "exportImage";
      checks = [
        (check fname (builtins.isInt diskSize && diskSize > 0) "diskSize must be a positive number of megabytes, got ${builtins.toJSON diskSize}")
        (check fname (fromImageName == null || builtins.isString fromImageName) "fromImageName must be a string or null")
        (check fname (fromImageTag == null || builtins.isString fromImageTag) "fromImageTag must be a string or null")
      ];
    in
    builtins.seq (builtins.deepSeq checks null) (lib.withOverride exportImage args (mkDerivation {
      inherit name;
      command = "export-image";
      fromImage = "${fromImage}";
      fromImageName = if fromImageName != null && fromImageTag != null then fromImageName else null;
      fromImageTag = if fromImageName != null && fromImageTag != null then fromImageTag else null;
    }));
in
{
  inherit exportImage;
}
