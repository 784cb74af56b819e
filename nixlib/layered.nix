# streamLayeredImage and buildLayeredImage.
{ lib, defaultArchitecture, defaultVariant, defaultLayering, storeDir }:
let
  inherit (lib) mkDerivation withOverride toList toLower baseName hashOf hashString check toolsFor extensionOf;

  streamLayeredImage =
    { name
    , tag ? null
    , fromImage ? null
    , contents ? [ ]
    , config ? { }
    , architecture ? defaultArchitecture
    , variant ? defaultVariant
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
      # nixpkgs 25.11's: a list of steps, or null for the default grouping.
    , layeringPipeline ? null
    , debug ? false
      # Not in nixpkgs: the default grouping, "auto" (nixpkgs 25.11 and
      # later) or "popularity" (before); nixlib picks it from pkgs' version.
    , layering ? defaultLayering
    }@args:
    let
      fname = "streamLayeredImage";
      # "${x}", not toString: a path literal must be copied into the store.
      contentsList = map (x: "${x}") (toList contents);
      # One PATH serves both scripts; the error names the first that needs it.
      tools =
        if builtins.isString fakeRootCommands && lib.isBlank extraCommands
        then toolsFor fname "fakeRootCommands" fakeRootCommands
        else toolsFor fname "extraCommands" extraCommands;
      checks = [
        # As nixpkgs: a pipeline makes maxLayers irrelevant.
        (check fname (builtins.isInt maxLayers && (layeringPipeline != null || maxLayers > 1)) "maxLayers must be a number greater than 1, got ${builtins.toJSON maxLayers}")
        (check fname (builtins.isString fakeRootCommands) "fakeRootCommands must be a string (a script), got ${builtins.typeOf fakeRootCommands}")
        (check fname (builtins.isBool enableFakechroot) "enableFakechroot must be true or false")
        (check fname (builtins.isBool includeNixDB) "includeNixDB must be true or false")
        (check fname (builtins.isBool debug) "debug must be true or false")
        (check fname (layeringPipeline == null || builtins.isList layeringPipeline) "layeringPipeline must be a list of steps (such as [ [ \"popularity_contest\" ] [ \"limit_layers\" 100 ] ]) or null, got ${builtins.typeOf layeringPipeline}")
        (check fname (builtins.elem layering [ "auto" "popularity" ]) "layering must be \"auto\" or \"popularity\", got ${builtins.toJSON layering}")
      ] ++ lib.checkImage fname { inherit name tag uid gid variant config; };

      # Its references are the contents and the store paths used in config:
      # the roots of the image's closure. Everything that changes the image
      # is in it, so its hash can serve as the default tag.
      roots = mkDerivation {
        name = "${baseName name}-roots.json";
        command = "write-file";
        text = builtins.toJSON ({
          contents = contentsList;
          inherit config architecture created mtime uid gid uname gname maxLayers includeStorePaths includeNixDB;
          name = toLower name;
          extraCommands = hashString extraCommands;
          fakeRootCommands = hashString fakeRootCommands;
          inherit enableFakechroot;
          fromImage = if fromImage == null then null else hashString fromImage;
        } // lib.optionalAttrs (variant != null) { inherit variant; }
          // lib.optionalAttrs (layeringPipeline != null) { layeringPipeline = hashString (builtins.toJSON layeringPipeline); }
          // { inherit layering; });
        preferLocalBuild = true;
        allowSubstitutes = false;
      };

      imageTag = if tag != null then tag else hashOf roots;

      # The store paths the scripts mention, as its references: files the
      # scripts make may refer to them (a link into hello), and nixpkgs'
      # image then holds them, since Nix scans its customisation layer for
      # references. The builder keeps those the layer refers to.
      withScripts = !(lib.isBlank extraCommands && lib.isBlank fakeRootCommands);
      scriptRefs = lib.scriptRefs name (extraCommands + "\n" + fakeRootCommands);

      # The stream derivation's attributes; `conf` is the same build, writing
      # only the image's plan.
      streamAttrs = {
        imageName = toLower name;
        inherit imageTag config architecture variant created mtime uid gid uname gname maxLayers
          includeStorePaths extraCommands fakeRootCommands enableFakechroot includeNixDB
          layering layeringPipeline debug storeDir;
        fromImage = if fromImage == null then null else "${fromImage}";
        contents = contentsList;
        scriptTools = tools;
        closureRoot = "${roots}";
      } // lib.optionalAttrs (includeStorePaths || includeNixDB) {
        exportReferencesGraph = { closure = [ roots ]; } // lib.optionalAttrs withScripts { scripts = [ scriptRefs ]; };
      } // lib.optionalAttrs ((includeStorePaths || includeNixDB) && withScripts) {
        scriptsRoot = "${scriptRefs}";
      };

      conf = mkDerivation (streamAttrs // {
        name = "${baseName name}-conf.json";
        command = "build-conf";
        debug = false;
        preferLocalBuild = true;
      });

      drv = mkDerivation (streamAttrs // {
        name = "stream-${baseName name}";
        command = "build-stream";
        inherit meta;
        passthru = passthru // {
          inherit imageTag conf;
          # The program the script runs (the script is `#!streamScript stream`).
          streamScript = lib.builderPath;
          isExe = true;
        };
      });
    in
    builtins.seq (builtins.deepSeq checks null) (withOverride streamLayeredImage args (drv // {
      inherit imageTag;
      isExe = true;
    }));

  # The image a stream script writes, compressed into the store.
  compressStream = fname: name: stream: compressor: meta:
    mkDerivation {
      name = "${baseName name}.tar${extensionOf fname compressor}";
      command = "build-layered";
      inherit compressor meta;
      inherit (stream) imageName;
      stream = "${stream}";
      passthru = { inherit (stream) imageTag; inherit stream; };
    };

  # As nixpkgs: meta goes on this result, not on the stream.
  buildLayeredImage =
    { name, compressor ? "gz", meta ? { }, ... }@args:
    withOverride buildLayeredImage args
      (compressStream "buildLayeredImage" name (streamLayeredImage (removeAttrs args [ "compressor" "meta" ])) compressor meta);

  buildLayeredImageWithNixDb = { name, ... }@args:
    buildLayeredImage (args // { includeNixDB = true; });
in
{
  inherit streamLayeredImage buildLayeredImage buildLayeredImageWithNixDb compressStream;
}
