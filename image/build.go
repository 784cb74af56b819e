package image

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layer"
	"github.com/nix-dockertools/dockertools/nixattrs"
	"github.com/nix-dockertools/dockertools/nixdb"
	"github.com/nix-dockertools/dockertools/outfile"
	"github.com/nix-dockertools/dockertools/shell"
)

// layerMTime is the mtime of every file of the new layer: nixpkgs packs it
// with tar --mtime=@$SOURCE_DATE_EPOCH, which stdenv sets to 315532800
// (1980-01-01T00:00:00Z), whatever `created` says.
const layerMTime = 315532800

// Build writes buildImage's image to out: the base image's layers, the new
// layer, the config and manifest, compressed with o.Compressor.
func Build(o *Options, out string, log io.Writer) error {
	base, err := openBase(o)
	if err != nil {
		return err
	}
	tag := o.ImageTag
	if tag == "" {
		// As nixpkgs: the tag is the hash part of the image's own path,
		// which nixlib also knows at evaluation (passthru.imageTag).
		tag = strings.SplitN(filepath.Base(out), "-", 2)[0]
	}
	t, err := nixattrs.ResolveTime("created", o.Created, time.Now())
	if err != nil {
		return err
	}
	created := nixattrs.FormatTime(t)
	var baseEnv []string
	if base != nil {
		baseEnv = base.Env
	}
	cfg, err := archive.ContainerConfig(o.Config, baseEnv)
	if err != nil {
		return err
	}

	fmt.Fprintln(log, "Adding layer...")
	tmp, err := os.CreateTemp(o.WorkDir, "layer-*.tar")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	size, diffID, err := writeLayer(o, base, tmp)
	if err != nil {
		return err
	}

	var diffIDs []string
	var history []archive.History
	if base != nil {
		for _, l := range base.Layers {
			diffIDs = append(diffIDs, l.DiffID)
			history = append(history, archive.History{Created: created, Comment: "base layer " + l.Member})
		}
	}
	diffIDs = append(diffIDs, diffID)
	history = append(history, archive.History{Created: created, Comment: "buildImage layer"})
	fmt.Fprintln(log, "Adding meta...")
	config, err := json.Marshal(archive.Config{Created: created, Architecture: o.Architecture, Variant: o.Variant, OS: "linux",
		Config: cfg, RootFS: archive.RootFS{Type: "layers", DiffIDs: diffIDs}, History: history})
	if err != nil {
		return err
	}

	fmt.Fprintln(log, "Cooking the image...")
	err = outfile.WriteCompressed(out, o.Compressor, func(w io.Writer) error {
		aw := archive.NewWriter(w)
		if base != nil {
			if err := aw.AddBaseLayers(base, nil); err != nil {
				return fmt.Errorf("fromImage: %w", err)
			}
		}
		err := aw.AddLayer(diffID, size, func(w io.Writer) error {
			_, err := io.Copy(w, io.NewSectionReader(tmp, 0, size))
			return err
		})
		if err != nil {
			return err
		}
		return aw.Finish(config, o.ImageName+":"+tag)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(log, "Finished.")
	return nil
}

// BuildLayer writes only the new layer, as out/layer.tar with its diff_id
// in out/diff_id: buildImage's passthru.layer, for inspecting it.
func BuildLayer(o *Options, out string) error {
	base, err := openBase(o)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	defer outfile.Track(tmp)()
	f, err := os.Create(filepath.Join(tmp, "layer.tar"))
	if err != nil {
		return err
	}
	_, diffID, err := writeLayer(o, base, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "diff_id"), []byte(diffID+"\n"), 0o444); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o555); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func openBase(o *Options) (*archive.Base, error) {
	if o.FromImage == "" {
		return nil, nil
	}
	name, tag := o.FromImageName, o.FromImageTag
	if name == "" || tag == "" {
		// Documented: either alone means the first image.
		name, tag = "", ""
	}
	return archive.OpenBase(o.FromImage, name, tag, o.StoreDir)
}

// writeLayer writes the new layer to w, hashing it on the way.
func writeLayer(o *Options, base *archive.Base, w io.Writer) (int64, string, error) {
	entries, cleanup, err := layerEntries(o, base)
	defer cleanup()
	if err != nil {
		return 0, "", err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	n, diffID, err := layer.Write(bw, entries)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return 0, "", fmt.Errorf("writing the layer: %w", err)
	}
	return n, diffID, nil
}

// layerEntries lists the new layer: the copyToRoot tree (after
// extraCommands ran in it), the store paths of its closure the base lacks,
// and the Nix database.
func layerEntries(o *Options, base *archive.Base) (entries []layer.Entry, cleanup func(), err error) {
	var cleanups []func()
	cleanup = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	tree, err := newRootTree(o.StoreDir, o.CopyToRoot, o.KeepContentsDirlinks, o.Owner, layerMTime)
	if err != nil {
		return nil, cleanup, err
	}
	var treeEntries []layer.Entry
	switch {
	case !shell.Blank(o.RunAsRoot):
		work, err := os.MkdirTemp(o.WorkDir, "runasroot-")
		if err != nil {
			return nil, cleanup, err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(work) })
		if treeEntries, err = runAsRootEntries(o, base, tree, work); err != nil {
			return nil, cleanup, err
		}
	case shell.Blank(o.ExtraCommands):
		treeEntries = tree.entries()
	default:
		work, err := os.MkdirTemp(o.WorkDir, "layer-")
		if err != nil {
			return nil, cleanup, err
		}
		cleanups = append(cleanups, func() { makeWritable(work); os.RemoveAll(work) })
		root := filepath.Join(work, "layer")
		if err := os.Mkdir(root, 0o755); err != nil {
			return nil, cleanup, err
		}
		if err := tree.write(root); err != nil {
			return nil, cleanup, fmt.Errorf("attribute \"copyToRoot\": %w", err)
		}
		if err := shell.Run("extraCommands", o.ExtraCommands, root, o.ScriptTools); err != nil {
			return nil, cleanup, err
		}
		if treeEntries, err = layer.DirEntries(root, o.Owner, layerMTime, nil); err != nil {
			return nil, cleanup, fmt.Errorf("after extraCommands: %w", err)
		}
	}

	paths, err := closurePaths(o)
	if err != nil {
		return nil, cleanup, err
	}
	// Files the scripts made may refer to store paths they mention: those
	// join the closure, as Nix's reference scan of nixpkgs' layer adds them.
	if o.ScriptsRoot != "" {
		scripts, err := closure.ParseRooted(o.Scripts, o.ScriptsRoot)
		if err != nil {
			return nil, cleanup, fmt.Errorf("attribute \"scripts\": %w", err)
		}
		scan := closure.NewRefScanner(o.StoreDir, closure.Candidates(o.StoreDir, paths, scripts))
		if err := layer.References(treeEntries, scan); err != nil {
			return nil, cleanup, err
		}
		paths = closure.WithClosures(paths, scripts, scan.Found())
	}
	var inBase []string
	if base != nil {
		inBase = base.StorePaths
	}
	var added []string
	for _, p := range paths {
		if _, found := slices.BinarySearch(inBase, p.Path); !found {
			added = append(added, p.Path)
		}
	}
	var storeEntries []layer.Entry
	if len(added) > 0 {
		if storeEntries, err = layer.StoreEntries(o.StoreDir, added, o.Owner, layerMTime); err != nil {
			return nil, cleanup, err
		}
		// Relative like the tree's names, so the layer has one kind.
		for i := range storeEntries {
			storeEntries[i].Name = strings.TrimPrefix(storeEntries[i].Name, "/")
		}
	}

	var dbEntries []layer.Entry
	if o.IncludeNixDB {
		var done func()
		dbEntries, done, err = nixdb.LayerEntries(o.WorkDir, o.StoreDir, paths, o.CopyToRoot, o.Owner, layerMTime)
		cleanups = append(cleanups, done)
		if err != nil {
			return nil, cleanup, err
		}
	}
	return layer.Merge(treeEntries, storeEntries, dbEntries), cleanup, nil
}

// closurePaths is the closure of copyToRoot, without the file that
// carried it.
func closurePaths(o *Options) ([]closure.Path, error) {
	if o.ClosureRoot == "" {
		return nil, nil
	}
	paths, err := closure.ParseRooted(o.Closure, o.ClosureRoot)
	if err != nil {
		return nil, fmt.Errorf("attribute \"closure\": %w", err)
	}
	return paths, nil
}
