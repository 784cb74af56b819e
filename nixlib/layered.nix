# streamLayeredImage and buildLayeredImage.
{ lib, defaultArchitecture }:
let
  inherit (lib) mkDerivation makeOverridable toList toLower baseName hashOf hashString check toolsFor extensionOf;

  streamLayeredImage =
    { name
    , tag ? null
    , fromImage ? null
    , contents ? [ ]
    , config ? null
    , architecture ? defaultArchitecture
    , created ? "1970-01-01T00:00:01Z"
    , mtime ? "1970-01-01T00:00:01Z"
    , uid ? 0
    , gid ? 0
    , uname ? "root"
    , gname ? "root"
    , maxLayers ? 100
    , extraCommands ? ""
    , fakeRootCommands ? ""
    , enableFakechroot ? false
    , includeStorePaths ? true
    , includeNixDB ? false
    , passthru ? { }
    , meta ? { }
    }:
    let
      fname = "streamLayeredImage";
      contentsList = toList contents;
      # One PATH serves both scripts; the error names the first that needs it.
      tools =
        if builtins.isString fakeRootCommands && lib.isBlank extraCommands
        then toolsFor fname "fakeRootCommands" fakeRootCommands
        else toolsFor fname "extraCommands" extraCommands;
      checks = [
        (check fname (builtins.isInt maxLayers && maxLayers > 1) "maxLayers must be a number greater than 1, got ${builtins.toJSON maxLayers}")
        (check fname (builtins.isString fakeRootCommands) "fakeRootCommands must be a string (a script), got ${builtins.typeOf fakeRootCommands}")
        (check fname (builtins.isBool enableFakechroot) "enableFakechroot must be true or false")
        (check fname (builtins.isBool includeNixDB) "includeNixDB must be true or false")
        (check fname (config == null || builtins.isAttrs config) "config must be an attribute set or null")
      ];

      # Its references are the contents and the store paths used in config:
      # the roots of the image's closure. Everything that changes the image
      # is in it, so its hash can serve as the default tag.
      roots = mkDerivation {
        name = "${baseName name}-roots.json";
        command = "write-file";
        text = builtins.toJSON {
          contents = map toString contentsList;
          inherit config architecture created mtime uid gid uname gname maxLayers includeStorePaths includeNixDB;
          name = toLower name;
          extraCommands = hashString extraCommands;
          fakeRootCommands = hashString fakeRootCommands;
          inherit enableFakechroot;
          fromImage = if fromImage == null then null else hashString fromImage;
        };
        preferLocalBuild = true;
        allowSubstitutes = false;
      };

      imageTag = if tag != null then tag else hashOf roots;

      drv = mkDerivation ({
        name = "stream-${baseName name}";
        command = "build-stream";
        imageName = toLower name;
        inherit imageTag config architecture created mtime uid gid uname gname maxLayers
          includeStorePaths extraCommands fakeRootCommands enableFakechroot includeNixDB;
        fromImage = if fromImage == null then null else "${fromImage}";
        contents = map toString contentsList;
        scriptTools = tools;
        closureRoot = "${roots}";
      } // lib.optionalAttrs (includeStorePaths || includeNixDB) {
        exportReferencesGraph.closure = [ roots ];
      });
    in
    builtins.seq (builtins.deepSeq checks null) (drv // passthru // {
      passthru = passthru // { inherit imageTag; isExe = true; };
      inherit imageTag meta;
      isExe = true;
    });

  # The image a stream script writes, compressed into the store.
  compressStream = fname: name: stream: compressor:
    mkDerivation {
      name = "${baseName name}.tar${extensionOf fname compressor}";
      command = "build-layered";
      inherit compressor;
      inherit (stream) imageName;
      stream = "${stream}";
    } // {
      passthru = { inherit (stream) imageTag; inherit stream; };
      inherit (stream) imageTag;
      inherit stream;
    };

  buildLayeredImage =
    { name, compressor ? "gz", ... }@args:
    compressStream "buildLayeredImage" name (streamLayeredImage (removeAttrs args [ "compressor" ])) compressor;
in
{
  streamLayeredImage = makeOverridable streamLayeredImage;
  buildLayeredImage = makeOverridable buildLayeredImage;
  inherit compressStream;
}
