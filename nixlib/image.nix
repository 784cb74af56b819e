# buildImage: one new layer on top of an optional base image.
{ lib, defaultArchitecture, defaultVariant ? null, storeDir ? builtins.storeDir, vmKernel ? null, qemu ? null }:
let
  inherit (lib) mkDerivation withOverride toList toLower baseName hashOf check toolsFor extensionOf optionalAttrs;

  buildImage =
    { name
    , tag ? null
    , fromImage ? null
    , fromImageName ? null
    , fromImageTag ? null
    , copyToRoot ? null
    , keepContentsDirlinks ? false
    , runAsRoot ? null
    , diskSize ? 1024
    , buildVMMemorySize ? 512
      # Not in nixpkgs: how long runAsRoot's VM may take, in seconds.
    , runAsRootTimeout ? 3600
    , extraCommands ? ""
    , config ? null
    , architecture ? defaultArchitecture
    , variant ? defaultVariant
    , created ? "1970-01-01T00:00:01Z"
    , uid ? 0
    , gid ? 0
    , contents ? null
    , compressor ? "gz"
    , includeNixDB ? false
    , meta ? { }
    , passthru ? { }
    }@args:
    let
      fname = "buildImage";
      ext = extensionOf fname compressor;
      isInt = builtins.isInt;
      checks = [
        (check fname (contents == null || copyToRoot == null) "`contents` and `copyToRoot` are both set; `contents` is the deprecated name of `copyToRoot`: keep only `copyToRoot`")
        (check fname (runAsRoot == null || builtins.isString runAsRoot) "runAsRoot must be a string (a script) or null, got ${builtins.typeOf runAsRoot}")
        (check fname (!withVM || vmKernel != null) "runAsRoot boots a VM: pass `vmKernel` (a kernel package with virtio, 9p and overlay) or `pkgs` to nixlib")
        (check fname (!withVM || qemu != null) "runAsRoot boots a VM: pass `qemu` (a package with bin/qemu-system-x86_64) or `pkgs` to nixlib")
        (check fname (!withVM || lib.system == "x86_64-linux") "runAsRoot's VM runs on x86_64-linux builders only, not ${lib.system}")
        (check fname (isInt runAsRootTimeout && runAsRootTimeout > 0) "runAsRootTimeout must be a positive number of seconds, got ${builtins.toJSON runAsRootTimeout}")
        (check fname (builtins.isBool keepContentsDirlinks) "keepContentsDirlinks must be true or false")
        (check fname (builtins.isBool includeNixDB) "includeNixDB must be true or false")
        (check fname (isInt diskSize && diskSize > 0) "diskSize must be a positive number of megabytes, got ${builtins.toJSON diskSize}")
        (check fname (isInt buildVMMemorySize && buildVMMemorySize > 0) "buildVMMemorySize must be a positive number of megabytes, got ${builtins.toJSON buildVMMemorySize}")
        (check fname (fromImageName == null || builtins.isString fromImageName) "fromImageName must be a string or null")
        (check fname (fromImageTag == null || builtins.isString fromImageTag) "fromImageTag must be a string or null")
      ] ++ lib.checkImage fname { inherit name tag uid gid variant config; };
      rootContents =
        if contents != null then
          builtins.trace "warning: dockerTools.buildImage (${name}): `contents` is deprecated; use `copyToRoot` (for example `copyToRoot = buildEnv { name = \"image-root\"; paths = [ ... ]; pathsToLink = [ \"/bin\" ]; }`)" contents
        else copyToRoot;
      # "${x}", not toString: a path literal must be copied into the store.
      contentsList = map (x: "${x}") (toList rootContents);
      withVM = builtins.isString runAsRoot && !lib.isBlank runAsRoot;
      tools =
        if withVM then toolsFor fname "runAsRoot" runAsRoot
        else toolsFor fname "extraCommands" extraCommands;

      # Its references are copyToRoot: exporting its graph gives their
      # closure, also for items that are paths inside a store path.
      roots = mkDerivation {
        name = "${baseName name}-roots.json";
        command = "write-file";
        text = builtins.toJSON contentsList;
        preferLocalBuild = true;
        allowSubstitutes = false;
      };

      # The store paths the scripts mention, as references: the layer keeps
      # those its files refer to, as Nix's scan of nixpkgs' layer does.
      scripts = (if withVM then runAsRoot else "") + "\n" + extraCommands;
      scriptRefs = lib.scriptRefs name scripts;

      # What the new layer depends on.
      layerAttrs = {
        copyToRoot = contentsList;
        inherit keepContentsDirlinks extraCommands uid gid includeNixDB;
        fromImage = if fromImage == null then null else "${fromImage}";
        fromImageName = if fromImageName != null && fromImageTag != null then fromImageName else null;
        fromImageTag = if fromImageName != null && fromImageTag != null then fromImageTag else null;
        scriptTools = tools;
        imageName = toLower name;
        inherit storeDir;
      } // optionalAttrs withVM {
        inherit runAsRoot runAsRootTimeout diskSize buildVMMemorySize;
        vmKernel = "${vmKernel}";
        qemu = "${qemu}/bin/qemu-system-x86_64";
      } // optionalAttrs (contentsList != [ ] || !lib.isBlank scripts) {
        closureRoot = "${roots}";
        exportReferencesGraph = { closure = [ roots ]; } // optionalAttrs (!lib.isBlank scripts) { scripts = [ scriptRefs ]; };
      } // optionalAttrs (!lib.isBlank scripts) {
        scriptsRoot = "${scriptRefs}";
      };

      layer = mkDerivation (layerAttrs // {
        name = "docker-layer-${baseName name}";
        command = "build-image-layer";
      });

      result = mkDerivation (layerAttrs // {
        name = "docker-image-${baseName name}.tar${ext}";
        command = "build-image";
        # Empty: the builder uses the hash part of $out, as nixpkgs does.
        imageTag = if tag == null then "" else tag;
        inherit config architecture variant created compressor meta;
        passthru = passthru // { buildArgs = args; inherit layer imageTag; };
      });

      # Lazily: the derivation does not depend on its passthru.
      imageTag = if tag != null then tag else hashOf result;
    in
    builtins.seq (builtins.deepSeq checks null) (withOverride buildImage args result);

  buildImageWithNixDb = { name, ... }@args:
    buildImage (args // { includeNixDB = true; });
in
{
  inherit buildImage buildImageWithNixDb;
}
