package image

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/compress"
	"github.com/nix-dockertools/dockertools/layer"
	"github.com/nix-dockertools/dockertools/nixattrs"
	"github.com/nix-dockertools/dockertools/shell"
)

// Options are buildImage's attributes, as its derivations get them.
type Options struct {
	ImageName     string
	ImageTag      string // empty: the hash part of the output path, as nixpkgs does
	FromImage     string
	FromImageName string
	FromImageTag  string
	CopyToRoot    []string
	// KeepContentsDirlinks keeps symlinks to directories (rsync -K);
	// otherwise they become directories (rsync -k).
	KeepContentsDirlinks bool
	ExtraCommands        string
	ScriptTools          []string
	// runAsRoot and its VM (see runasroot.go).
	RunAsRoot         string
	DiskSize          int // MB: the guest's scratch filesystem
	BuildVMMemorySize int // MB
	RunAsRootTimeout  int // seconds, for the whole VM run
	VMKernel          string
	QEMU              string
	Config            []byte // JSON object or null
	Architecture      string
	Variant           string // of the architecture, "" for none
	Created           string
	StoreDir          string // where copyToRoot's closure lives
	Owner             layer.Owner
	Compressor        string
	IncludeNixDB      bool
	Closure           []byte // exportReferencesGraph of ClosureRoot
	ClosureRoot       string // a file whose references are copyToRoot
	Scripts           []byte // exportReferencesGraph of ScriptsRoot
	ScriptsRoot       string // a file of runAsRoot and extraCommands, whose references are the store paths they mention
	WorkDir           string // scratch space
}

// OptionsFromAttrs reads and checks the attributes of a buildImage derivation.
func OptionsFromAttrs(a *nixattrs.Attrs) (*Options, error) {
	g := a.Getter()
	o := &Options{
		ImageName:            strings.ToLower(g.String("imageName", "")),
		ImageTag:             g.String("imageTag", ""),
		FromImage:            g.String("fromImage", ""),
		FromImageName:        g.String("fromImageName", ""),
		FromImageTag:         g.String("fromImageTag", ""),
		ExtraCommands:        g.String("extraCommands", ""),
		Architecture:         g.String("architecture", runtime.GOARCH),
		Variant:              g.String("variant", ""),
		StoreDir:             g.String("storeDir", ""),
		Created:              g.String("created", "1970-01-01T00:00:01Z"),
		Compressor:           g.String("compressor", "gz"),
		ClosureRoot:          g.String("closureRoot", ""),
		ScriptsRoot:          g.String("scriptsRoot", ""),
		Owner:                layer.Owner{UID: int(g.Int("uid", 0)), GID: int(g.Int("gid", 0))},
		KeepContentsDirlinks: g.Bool("keepContentsDirlinks", false),
		IncludeNixDB:         g.Bool("includeNixDB", false),
		CopyToRoot:           g.Strings("copyToRoot"),
		ScriptTools:          g.Strings("scriptTools"),
		RunAsRoot:            g.String("runAsRoot", ""),
		DiskSize:             int(g.Int("diskSize", 1024)),
		BuildVMMemorySize:    int(g.Int("buildVMMemorySize", 512)),
		RunAsRootTimeout:     int(g.Int("runAsRootTimeout", 3600)),
		VMKernel:             g.String("vmKernel", ""),
		QEMU:                 g.String("qemu", ""),
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	o.Config = a.Raw("config")
	o.Closure = a.Raw("closure")
	o.Scripts = a.Raw("scripts")
	return o, o.check()
}

func (o *Options) check() error {
	dir, err := closure.ParseStoreDir(o.StoreDir)
	if err != nil {
		return fmt.Errorf("attribute \"storeDir\": %w", err)
	}
	o.StoreDir = dir
	switch {
	case o.ImageName == "":
		return errors.New(`attribute "imageName" must be a non-empty string`)
	case o.Owner.UID < 0 || o.Owner.GID < 0:
		return fmt.Errorf(`attributes "uid"/"gid": expected non-negative numbers, got %d/%d`, o.Owner.UID, o.Owner.GID)
	case o.DiskSize <= 0:
		return fmt.Errorf(`attribute "diskSize": expected a positive number of megabytes, got %d`, o.DiskSize)
	case o.BuildVMMemorySize <= 0:
		return fmt.Errorf(`attribute "buildVMMemorySize": expected a positive number of megabytes, got %d`, o.BuildVMMemorySize)
	case o.RunAsRootTimeout <= 0:
		return fmt.Errorf(`attribute "runAsRootTimeout": expected a positive number of seconds, got %d`, o.RunAsRootTimeout)
	case !shell.Blank(o.RunAsRoot) && (o.VMKernel == "" || o.QEMU == ""):
		return errors.New(`attribute "runAsRoot" needs the attributes "vmKernel" (a kernel package) and "qemu" (a qemu-system program): nixlib passes them from its vmKernel and qemu arguments, or from pkgs`)
	}
	for _, c := range o.CopyToRoot {
		if !strings.HasPrefix(c, "/") {
			return fmt.Errorf("attribute \"copyToRoot\": %q is not an absolute path (expected store paths)", c)
		}
	}
	if len(o.CopyToRoot) > 0 && (len(o.Closure) == 0 || o.ClosureRoot == "") {
		return errors.New(`attributes "closure" and "closureRoot" are required when copyToRoot is not empty`)
	}
	if _, err := archive.ContainerConfig(o.Config, nil); err != nil {
		return err
	}
	if o.Owner.UID == 0 {
		o.Owner.Uname = "root"
	}
	if o.Owner.GID == 0 {
		o.Owner.Gname = "root"
	}
	if _, err := compress.Extension(o.Compressor); err != nil {
		return err
	}
	_, _, err = nixattrs.ParseTime("created", o.Created)
	return err
}
