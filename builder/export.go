package main

import (
	"fmt"
	"io"
	"os"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/flatten"
	"github.com/nix-dockertools/dockertools/outfile"
)

// exportMTime is every file's mtime in exportImage's tar: nixpkgs' tar gets
// it from stdenv's SOURCE_DATE_EPOCH (1980-01-01T00:00:00Z).
const exportMTime = 315532800

// exportImage is exportImage's derivation: the image's filesystem as one tar.
func exportImage(_ []string) error {
	a, out, err := loadBuild()
	if err != nil {
		return err
	}
	g := a.Getter()
	from, name, tag := g.String("fromImage", ""), g.String("fromImageName", ""), g.String("fromImageTag", "")
	if err := g.Err(); err != nil {
		return err
	}
	if from == "" {
		return fmt.Errorf(`attribute "fromImage" is required (the image to export)`)
	}
	if name == "" || tag == "" {
		fmt.Fprintln(os.Stderr, "From-image name or tag wasn't set. Reading the first image.")
		name, tag = "", ""
	}
	base, err := archive.OpenBase(from, name, tag, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Flattening %d layers of %s...\n", len(base.Layers), base.RepoTag)
	return outfile.Write(out, 0o444, func(w io.Writer) error { return flatten.Write(w, base, workDir(), exportMTime) })
}
