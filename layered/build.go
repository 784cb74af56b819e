package layered

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/fakeroot"
	"github.com/nix-dockertools/dockertools/layer"
	"github.com/nix-dockertools/dockertools/layering"
	"github.com/nix-dockertools/dockertools/nixattrs"
	"github.com/nix-dockertools/dockertools/nixdb"
	"github.com/nix-dockertools/dockertools/outfile"
	"github.com/nix-dockertools/dockertools/shell"
)

// Options are streamLayeredImage's attributes, as the stream derivation gets them.
type Options struct {
	Builder      string // the program the script's shebang runs
	Name         string // the derivation's name, stream-<image's base name>
	ImageName    string
	ImageTag     string
	FromImage    string
	Contents     []string
	Config       []byte // JSON object or null
	Architecture string
	Variant      string // of the architecture ("v7" for arm/v7), "" for none
	Created      string
	MTime        string
	Owner        layer.Owner
	MaxLayers    int
	// Layering is "auto" (nixpkgs 25.11's auto-layer) or "popularity"
	// (the popularity order nixpkgs used before); Pipeline, when not nil,
	// replaces both and ignores MaxLayers, as nixpkgs' layeringPipeline does.
	Layering          string
	Pipeline          *layering.Pipeline
	Debug             bool // explain the layering on Log
	IncludeStorePaths bool
	IncludeNixDB      bool // register the closure in /nix/var/nix/db
	ExtraCommands     string
	FakeRootCommands  string // runs after ExtraCommands as an apparent root (package fakeroot)
	EnableFakechroot  bool   // FakeRootCommands sees the layer as /
	ScriptTools       []string
	StoreDir          string
	Closure           []byte // exportReferencesGraph of ClosureRoot
	ClosureRoot       string // a file holding the contents and config, whose references are the image's roots
	Scripts           []byte // exportReferencesGraph of ScriptsRoot (closure.RefScanner looks for them in the layer)
	ScriptsRoot       string // a file of the scripts' text, whose references are the store paths they mention
	ConfOut           string // where passthru.conf goes (the "conf" output), "" without one
	PlanOnly          bool   // write only passthru.conf (to ConfOut): the conf derivation
	WorkDir           string // scratch space for the customisation layer
	Log               io.Writer
}

// The values of the layering attribute.
const (
	layeringAuto       = "auto"
	layeringPopularity = "popularity"
)

// OptionsFromAttrs reads and checks the stream derivation's attributes.
func OptionsFromAttrs(a *nixattrs.Attrs) (*Options, error) {
	g := a.Getter()
	o := &Options{
		Builder:           g.String("builder", ""),
		Name:              g.String("name", ""),
		ImageName:         strings.ToLower(g.String("imageName", "")),
		ImageTag:          g.String("imageTag", ""),
		FromImage:         g.String("fromImage", ""),
		Architecture:      g.String("architecture", runtime.GOARCH),
		Variant:           g.String("variant", ""),
		Created:           g.String("created", "1970-01-01T00:00:01Z"),
		MTime:             g.String("mtime", "1970-01-01T00:00:01Z"),
		Owner:             layer.Owner{UID: int(g.Int("uid", 0)), GID: int(g.Int("gid", 0)), Uname: g.String("uname", "root"), Gname: g.String("gname", "root")},
		MaxLayers:         int(g.Int("maxLayers", 100)),
		Layering:          g.String("layering", layeringAuto),
		Debug:             g.Bool("debug", false),
		ExtraCommands:     g.String("extraCommands", ""),
		FakeRootCommands:  g.String("fakeRootCommands", ""),
		EnableFakechroot:  g.Bool("enableFakechroot", false),
		StoreDir:          g.String("storeDir", ""),
		ClosureRoot:       g.String("closureRoot", ""),
		ScriptsRoot:       g.String("scriptsRoot", ""),
		IncludeStorePaths: g.Bool("includeStorePaths", true),
		IncludeNixDB:      g.Bool("includeNixDB", false),
		Contents:          g.Strings("contents"),
		ScriptTools:       g.Strings("scriptTools"),
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	o.Config = a.Raw("config")
	o.Closure = a.Raw("closure")
	o.Scripts = a.Raw("scripts")
	if raw := a.Raw("layeringPipeline"); raw != nil {
		p, err := layering.ParsePipeline(raw)
		if err != nil {
			return nil, pipelineError(err)
		}
		o.Pipeline = &p
	}
	var err error
	if o.ConfOut, err = a.OptionalOutput("conf"); err != nil {
		return nil, err
	}
	return o, o.check()
}

// pipelineError makes sure an error of the layering pipeline names the
// attribute it came from (package layering's errors start with it).
func pipelineError(err error) error {
	if strings.HasPrefix(err.Error(), "layeringPipeline") {
		return err
	}
	return fmt.Errorf("layeringPipeline: %w", err)
}

func (o *Options) check() error {
	dir, err := closure.ParseStoreDir(o.StoreDir)
	if err != nil {
		return fmt.Errorf("attribute \"storeDir\": %w", err)
	}
	o.StoreDir = dir
	switch {
	case o.Builder == "":
		return errors.New(`attribute "builder" is required (the stream script runs it)`)
	case o.ImageName == "":
		return errors.New(`attribute "imageName" must be a non-empty string`)
	case o.ImageTag == "":
		return errors.New(`attribute "imageTag" must be a non-empty string (nixlib derives it when tag is null)`)
	case o.Layering != layeringAuto && o.Layering != layeringPopularity:
		return fmt.Errorf(`attribute "layering": expected %q or %q, got %q`, layeringAuto, layeringPopularity, o.Layering)
	// nixpkgs checks maxLayers only for its own layerings.
	case o.Pipeline == nil && o.MaxLayers < 2:
		return fmt.Errorf(`attribute "maxLayers": expected a number greater than 1, got %d`, o.MaxLayers)
	case o.Owner.UID < 0 || o.Owner.GID < 0:
		return fmt.Errorf(`attributes "uid"/"gid": expected non-negative numbers, got %d/%d`, o.Owner.UID, o.Owner.GID)
	case (o.IncludeStorePaths || o.IncludeNixDB) && (len(o.Closure) == 0 || o.ClosureRoot == ""):
		return errors.New(`attributes "closure" and "closureRoot" are required when includeStorePaths or includeNixDB is true`)
	}
	for _, c := range o.Contents {
		if !strings.HasPrefix(c, "/") {
			return fmt.Errorf("attribute \"contents\": %q is not an absolute path (expected store paths)", c)
		}
	}
	if _, _, err := nixattrs.ParseTime("created", o.Created); err != nil {
		return err
	}
	_, _, err = nixattrs.ParseTime("mtime", o.MTime)
	return err
}

func (o *Options) log() io.Writer {
	if o.Log == nil {
		return io.Discard
	}
	return o.Log
}

// Build writes the stream script to out, and passthru.conf to o.ConfOut
// when there is one.
func Build(o *Options, out string) error {
	conf := &Conf{Version: scriptVersion, RepoTag: o.ImageName + ":" + o.ImageTag, Created: o.Created,
		Architecture: o.Architecture, Variant: o.Variant, StoreDir: o.StoreDir, Owner: o.Owner}
	mt, err := nixattrs.ResolveTime("mtime", o.MTime, time.Now())
	if err != nil {
		return err
	}
	conf.MTime = mt.Unix()

	var baseEnv []string
	available := o.MaxLayers - 1
	if o.FromImage != "" {
		b, err := archive.OpenBase(o.FromImage, "", "", "")
		if err != nil {
			return err
		}
		conf.Base = b
		baseEnv = b.Env
		available -= len(b.Layers)
		// A pipeline makes as many layers as it makes, in nixpkgs too.
		if available < 1 && o.Pipeline == nil {
			return fmt.Errorf("attribute \"maxLayers\" (%d) leaves no layer for store paths: fromImage has %d layers and the customisation layer takes one", o.MaxLayers, len(b.Layers))
		}
	}
	cfg, err := archive.ContainerConfig(o.Config, baseEnv)
	if err != nil {
		return err
	}
	conf.Config = cfg

	var paths, scripts []closure.Path
	if o.IncludeStorePaths || o.IncludeNixDB {
		if paths, err = closure.ParseRooted(o.Closure, o.ClosureRoot); err != nil {
			return fmt.Errorf("attribute \"closure\": %w", err)
		}
		if o.ScriptsRoot != "" {
			if scripts, err = closure.ParseRooted(o.Scripts, o.ScriptsRoot); err != nil {
				return fmt.Errorf("attribute \"scripts\": %w", err)
			}
		}
	}
	// The customisation layer comes first: its size takes part in the
	// layering, as the size of nixpkgs' customisation layer does.
	customTar, layerRefs, err := customisationLayer(o, conf, paths, scripts)
	if err != nil {
		return err
	}
	defer os.Remove(customTar)
	paths = closure.WithClosures(paths, scripts, layerRefs)

	groups := [][]string{}
	if o.IncludeStorePaths {
		if groups, err = storeLayers(o, paths, available, conf.Customisation.Size, layerRefs); err != nil {
			return err
		}
	}
	// passthru.conf is its own derivation, built only when asked for: it
	// needs the groups, not the layers' digests.
	if o.PlanOnly {
		return writePlan(o, groups)
	}
	if o.IncludeStorePaths {
		if conf.StoreLayers, err = digestLayers(o.StoreDir, groups, o.Owner, conf.MTime); err != nil {
			return err
		}
	}
	if o.ConfOut != "" {
		if err := writePlan(o, groups); err != nil {
			return fmt.Errorf("writing passthru.conf: %w", err)
		}
	}
	return outfile.Write(out, 0o555, func(w io.Writer) error {
		f, err := os.Open(customTar)
		if err != nil {
			return err
		}
		defer f.Close()
		return writeScript(w, o.Builder, conf, f)
	})
}

// fakeRoot runs fakeRootCommands in the layer directory root and returns
// the hook that puts the owners, modes and device types it set into the
// layer's headers (nil when there is no script).
func fakeRoot(o *Options, root string) (func(string, os.FileInfo, *layer.Header), error) {
	const attr = "fakeRootCommands"
	if shell.Blank(o.FakeRootCommands) {
		return nil, nil
	}
	argv, env, err := shell.Command(attr, o.FakeRootCommands, o.ScriptTools)
	if err != nil {
		return nil, err
	}
	t, err := fakeroot.Run(fakeroot.Options{Attr: attr, Dir: root, Chroot: o.EnableFakechroot, StoreDir: o.StoreDir, Argv: argv, Env: env})
	if err != nil {
		return nil, err
	}
	return t.Override(root, o.StoreDir)
}

// digestLayers computes each store layer's size and digest, in parallel:
// they are independent and reading the store is most of a build's work.
func digestLayers(storeDir string, groups [][]string, owner layer.Owner, mtime int64) ([]StoreLayer, error) {
	out := make([]StoreLayer, len(groups))
	errs := make([]error, len(groups))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i], errs[i] = digestLayer(storeDir, groups[i], owner, mtime)
			}
		}()
	}
	for i := range groups {
		work <- i
	}
	close(work)
	wg.Wait()
	return out, errors.Join(errs...)
}

func digestLayer(storeDir string, paths []string, owner layer.Owner, mtime int64) (StoreLayer, error) {
	entries, err := layer.StoreEntries(storeDir, paths, owner, mtime)
	if err != nil {
		return StoreLayer{}, err
	}
	size, err := layer.ArchiveSize(entries)
	if err != nil {
		return StoreLayer{}, err
	}
	n, digest, err := layer.Write(io.Discard, entries)
	if err != nil {
		return StoreLayer{}, err
	}
	if n != size {
		return StoreLayer{}, fmt.Errorf("layer of %v: wrote %d bytes, computed %d", paths, n, size)
	}
	return StoreLayer{Paths: paths, DiffID: digest, Size: size}, nil
}

// customisationLayer writes the customisation layer's tar to a temporary
// file, recording its digest and size in conf: the contents' symlink tree,
// after extraCommands ran in it when there is a script to run, and with
// includeNixDB the database registering paths (the image's closure). It
// also returns the store paths of scripts (the closure of what the scripts
// mention) that the layer's files refer to and paths lacks.
func customisationLayer(o *Options, conf *Conf, paths, scripts []closure.Path) (string, []string, error) {
	tree, err := contentsTree(o.StoreDir, o.Contents)
	if err != nil {
		return "", nil, err
	}
	owner := layer.Owner{Uname: "root", Gname: "root"}
	var entries []layer.Entry
	var refs []string
	if shell.Blank(o.ExtraCommands) && shell.Blank(o.FakeRootCommands) {
		entries = tree.entries(owner, conf.MTime)
	} else {
		work, err := os.MkdirTemp(o.WorkDir, "customisation-")
		if err != nil {
			return "", nil, err
		}
		defer os.RemoveAll(work)
		root := filepath.Join(work, "layer")
		if err := os.Mkdir(root, 0o755); err != nil {
			return "", nil, err
		}
		if err := tree.write(root); err != nil {
			return "", nil, fmt.Errorf("customisation layer: %w", err)
		}
		if err := shell.Run("extraCommands", o.ExtraCommands, root, o.ScriptTools); err != nil {
			return "", nil, err
		}
		override, err := fakeRoot(o, root)
		if err != nil {
			return "", nil, err
		}
		if entries, err = layer.DirEntries(root, owner, conf.MTime, override); err != nil {
			return "", nil, fmt.Errorf("customisation layer: %w", err)
		}
		// What the scripts made may refer to store paths they mention.
		scan := closure.NewRefScanner(o.StoreDir, closure.Candidates(o.StoreDir, paths, scripts))
		if err := layer.References(entries, scan); err != nil {
			return "", nil, fmt.Errorf("customisation layer: %w", err)
		}
		refs = scan.Found()
	}
	if o.IncludeNixDB {
		db, done, err := nixdb.LayerEntries(o.WorkDir, o.StoreDir, paths, o.Contents, owner, conf.MTime)
		defer done()
		if err != nil {
			return "", nil, err
		}
		entries = layer.Merge(entries, db)
	}
	f, err := os.CreateTemp(o.WorkDir, "customisation-*.tar")
	if err != nil {
		return "", nil, err
	}
	n, digest, err := layer.Write(f, entries)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", nil, fmt.Errorf("customisation layer: %w", err)
	}
	conf.Customisation.DiffID, conf.Customisation.Size = digest, n
	return f.Name(), refs, nil
}
