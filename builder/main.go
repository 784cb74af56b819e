// Command dockertools is the builder of every derivation nixlib makes, and
// the user-side tool that streams images.
//
// Nix runs it with the subcommand in `args`; the attributes come from
// .attrs.json (the derivations use __structuredAttrs). A stream script's
// shebang runs `dockertools stream SCRIPT`.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/compress"
	"github.com/nix-dockertools/dockertools/fakeroot"
	"github.com/nix-dockertools/dockertools/image"
	"github.com/nix-dockertools/dockertools/layered"
	"github.com/nix-dockertools/dockertools/nixattrs"
	"github.com/nix-dockertools/dockertools/outfile"
	"github.com/nix-dockertools/dockertools/vm"
)

type command struct {
	usage string
	run   func(args []string) error
}

var commands = map[string]command{
	"write-file":        {"(derivation builder) write attribute `text` to $out", writeFile},
	"write-tree":        {"(derivation builder) write the `files`, `dirs` and `links` attributes as a tree to $out", writeTree},
	"build-stream":      {"(derivation builder) streamLayeredImage: write the stream script to $out", buildStream},
	"build-conf":        {"(derivation builder) streamLayeredImage's passthru.conf: write the image's plan (nixpkgs' conf.json keys) to $out", buildConf},
	"build-layered":     {"(derivation builder) buildLayeredImage: write the compressed image to $out", buildLayered},
	"stream":            {"SCRIPT: write the image of a stream script to stdout (the scripts' shebang runs this)", stream},
	"build-image":       {"(derivation builder) buildImage: write the compressed image to $out", buildImage},
	"build-image-layer": {"(derivation builder) buildImage's passthru.layer: write $out/layer.tar", buildImageLayer},
	"merge-images":      {"(derivation builder) mergeImages: write one archive of every image in `images`", mergeImages},
	"pull":              {"(derivation builder) pullImage: download imageName@imageDigest to $out", pullImage},
	"export-image":      {"(derivation builder) exportImage: write the image's filesystem as one tar", exportImage},
	"prefetch":          {"[options] NAME [TAG|DIGEST]: nix-prefetch-docker (see `prefetch --help`)", prefetch},
	"layers":            {"GRAPH.json [--limit N] [--exclude FILE] [--pipeline FILE] [--debug]: print streamLayeredImage's store layers as JSON", layers},
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: dockertools COMMAND [ARGS]\n")
	for _, name := range []string{"stream", "prefetch", "layers", "build-stream", "build-conf", "build-layered", "build-image", "build-image-layer", "merge-images", "pull", "export-image", "write-file", "write-tree"} {
		fmt.Fprintf(&b, "  %-18s %s\n", name, commands[name].usage)
	}
	return b.String()
}

func main() {
	// The processes fakeRootCommands runs in, and runAsRoot's VM's init,
	// are this program again.
	fakeroot.Main()
	vm.Main()
	// Installed (or linked) as nix-prefetch-docker, it is that command.
	if filepath.Base(os.Args[0]) == "nix-prefetch-docker" {
		os.Args = append([]string{os.Args[0], "prefetch"}, os.Args[1:]...)
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage())
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Print(usage())
		return
	}
	limitMemory()
	outfile.RemoveOnSignal()
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "dockertools: unknown command %q\n%s", name, usage())
		os.Exit(2)
	}
	if p := os.Getenv("DOCKERTOOLS_CPUPROFILE"); p != "" {
		stop, err := startProfile(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dockertools: %v\n", err)
			os.Exit(1)
		}
		defer stop()
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "dockertools %s: error: %v\n", name, err)
		exit(1)
	}
}

func stream(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("expected one argument, the stream script")
	}
	return layered.StreamFile(args[0])
}

// loadBuild reads the attributes and the output path of the current build.
func loadBuild() (*nixattrs.Attrs, string, error) {
	a, err := nixattrs.Load()
	if err != nil {
		return nil, "", err
	}
	out, err := a.Output("out")
	return a, out, err
}

func writeFile(_ []string) error {
	a, out, err := loadBuild()
	if err != nil {
		return err
	}
	text, err := a.String("text", "")
	if err != nil {
		return err
	}
	return os.WriteFile(out, []byte(text), 0o444)
}

// streamOptions reads the stream derivation's attributes: those of
// build-stream and build-conf, which make the same plan.
func streamOptions() (*layered.Options, string, error) {
	a, out, err := loadBuild()
	if err != nil {
		return nil, "", err
	}
	o, err := layered.OptionsFromAttrs(a)
	if err != nil {
		return nil, "", err
	}
	o.WorkDir = workDir()
	return o, out, nil
}

func buildStream(_ []string) error {
	o, out, err := streamOptions()
	if err != nil {
		return err
	}
	o.Log = os.Stderr
	return layered.Build(o, out)
}

func buildConf(_ []string) error {
	o, out, err := streamOptions()
	if err != nil {
		return err
	}
	o.ConfOut, o.PlanOnly = out, true
	return layered.Build(o, out)
}

func buildLayered(_ []string) error {
	a, out, err := loadBuild()
	if err != nil {
		return err
	}
	script, err := a.RequiredString("stream")
	if err != nil {
		return err
	}
	c, err := a.String("compressor", "gz")
	if err != nil {
		return err
	}
	if _, err := compress.Extension(c); err != nil {
		return err
	}
	return layered.BuildCompressed(script, c, out)
}

// workDir is where a build may keep temporary files: the build directory.
func workDir() string {
	if d := os.Getenv("NIX_BUILD_TOP"); d != "" {
		return d
	}
	return os.TempDir()
}

func imageOptions() (*image.Options, string, error) {
	a, out, err := loadBuild()
	if err != nil {
		return nil, "", err
	}
	o, err := image.OptionsFromAttrs(a)
	if err != nil {
		return nil, "", err
	}
	o.WorkDir = workDir()
	return o, out, nil
}

func buildImage(_ []string) error {
	o, out, err := imageOptions()
	if err != nil {
		return err
	}
	return image.Build(o, out, os.Stderr)
}

func buildImageLayer(_ []string) error {
	o, out, err := imageOptions()
	if err != nil {
		return err
	}
	return image.BuildLayer(o, out)
}

func mergeImages(_ []string) error {
	a, out, err := loadBuild()
	if err != nil {
		return err
	}
	images, err := a.Strings("images")
	if err != nil {
		return err
	}
	if len(images) == 0 {
		return fmt.Errorf(`attribute "images": expected a non-empty list of images`)
	}
	return outfile.Write(out, 0o444, func(w io.Writer) error { return archive.Merge(w, images) })
}
