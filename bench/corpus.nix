# The benchmark's corpus: directories of this machine imported as store
# paths. `corpus` is a JSON file listing { name, dir, prefixes? }: with
# prefixes, only the top-level entries whose names start with one of them.
{ corpus }:
map
  (c: builtins.path {
    inherit (c) name;
    path = /. + c.dir;
    filter = path: type:
      if c ? prefixes && dirOf path == c.dir then
        type != "directory" && builtins.any (p: builtins.substring 0 (builtins.stringLength p) (baseNameOf path) == p) c.prefixes
      else true;
  })
  (builtins.fromJSON (builtins.readFile corpus))
