# mergeImages: several images in one docker-archive, loaded with one
# `docker load`.
{ lib }:
let
  inherit (lib) mkDerivation check;
in
{
  mergeImages = images:
    builtins.seq
      (check "mergeImages" (builtins.isList images && images != [ ]) "expects a non-empty list of images")
      (mkDerivation {
        name = "merge-docker-images";
        command = "merge-images";
        images = map (x: "${x}") images;
      });
}
