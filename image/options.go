package image

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/compress"
	"github.com/nix-dockertools/dockertools/layer"
	"github.com/nix-dockertools/dockertools/nixattrs"
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
	Config               []byte // JSON object or null
	Architecture         string
	Created              string
	Owner                layer.Owner
	Compressor           string
	IncludeNixDB         bool
	Closure              []byte // exportReferencesGraph of ClosureRoot
	ClosureRoot          string // a file whose references are copyToRoot
	WorkDir              string // scratch space
}

// OptionsFromAttrs reads and checks the attributes of a buildImage derivation.
func OptionsFromAttrs(a *nixattrs.Attrs) (*Options, error) {
	o := &Options{}
	var err error
	str := func(name, def string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = a.String(name, def)
		return s
	}
	num := func(name string) int {
		if err != nil {
			return 0
		}
		var n int64
		n, err = a.Int(name, 0)
		return int(n)
	}
	boolean := func(name string) bool {
		if err != nil {
			return false
		}
		var b bool
		b, err = a.Bool(name, false)
		return b
	}
	o.ImageName = strings.ToLower(str("imageName", ""))
	o.ImageTag = str("imageTag", "")
	o.FromImage = str("fromImage", "")
	o.FromImageName = str("fromImageName", "")
	o.FromImageTag = str("fromImageTag", "")
	o.ExtraCommands = str("extraCommands", "")
	o.Architecture = str("architecture", runtime.GOARCH)
	o.Created = str("created", "1970-01-01T00:00:01Z")
	o.Compressor = str("compressor", "gz")
	o.ClosureRoot = str("closureRoot", "")
	o.Owner.UID, o.Owner.GID = num("uid"), num("gid")
	o.KeepContentsDirlinks = boolean("keepContentsDirlinks")
	o.IncludeNixDB = boolean("includeNixDB")
	if err != nil {
		return nil, err
	}
	if o.CopyToRoot, err = a.Strings("copyToRoot"); err != nil {
		return nil, err
	}
	if o.ScriptTools, err = a.Strings("scriptTools"); err != nil {
		return nil, err
	}
	o.Config = a.Raw("config")
	o.Closure = a.Raw("closure")
	if s, err := a.String("runAsRoot", ""); err != nil || strings.TrimSpace(s) != "" {
		if err != nil {
			return nil, err
		}
		return nil, errors.New(`attribute "runAsRoot" is not supported by this version of the builder yet`)
	}
	return o, o.check()
}

func (o *Options) check() error {
	switch {
	case o.ImageName == "":
		return errors.New(`attribute "imageName" must be a non-empty string`)
	case o.Owner.UID < 0 || o.Owner.GID < 0:
		return fmt.Errorf(`attributes "uid"/"gid": expected non-negative numbers, got %d/%d`, o.Owner.UID, o.Owner.GID)
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
	_, _, err := nixattrs.ParseTime("created", o.Created)
	return err
}
