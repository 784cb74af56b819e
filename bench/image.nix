# The images the benchmark builds from the corpus.
{ builder, corpus }:
let
  dockerTools = import ../nixlib { inherit builder; };
  contents = import ./corpus.nix { inherit corpus; };
  args = { name = "bench"; tag = "latest"; inherit contents; };
in
{
  stream = dockerTools.streamLayeredImage args;
  gz = dockerTools.buildLayeredImage (args // { compressor = "gz"; });
  zstd = dockerTools.buildLayeredImage (args // { compressor = "zstd"; });
}
