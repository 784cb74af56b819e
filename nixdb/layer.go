package nixdb

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layer"
)

// RegistrationTime is every path's registration time in an image's
// database: fixed, so that images are reproducible (nixpkgs uses
// SOURCE_DATE_EPOCH, 1).
const RegistrationTime = 1

// LayerEntries writes the database registering paths (a closure in
// storeDir, as exportReferencesGraph gives it) under workDir and returns the layer
// entries of /nix/var/nix/db and of a GC root in
// /nix/var/nix/gcroots/docker/ for each of roots, so the paths survive a
// garbage collection in the container. done removes the temporary files;
// call it once the entries are written.
func LayerEntries(workDir, storeDir string, paths []closure.Path, roots []string, o layer.Owner, mtime int64) (entries []layer.Entry, done func(), err error) {
	tmp, err := os.MkdirTemp(workDir, "nixdb-")
	if err != nil {
		return nil, func() {}, err
	}
	done = func() { os.RemoveAll(tmp) }
	infos := make([]PathInfo, len(paths))
	for i, p := range paths {
		infos[i] = PathInfo{Path: p.Path, NarHash: p.NarHash, NarSize: p.NarSize, References: p.References}
	}
	db := filepath.Join(tmp, "nix", "var", "nix", "db")
	gc := filepath.Join(tmp, "nix", "var", "nix", "gcroots", "docker")
	for _, d := range []string{db, gc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, done, err
		}
	}
	if err := Write(db, storeDir, infos, RegistrationTime); err != nil {
		return nil, done, fmt.Errorf("includeNixDB: %w", err)
	}
	for _, r := range roots {
		if err := os.Symlink(r, filepath.Join(gc, filepath.Base(r))); err != nil && !os.IsExist(err) {
			return nil, done, fmt.Errorf("includeNixDB: GC root for %s: %w", r, err)
		}
	}
	// Directories on disk have the umask's mode; the image's are 0755.
	entries, err = layer.DirEntries(tmp, o, mtime, func(_ string, _ os.FileInfo, h *layer.Header) {
		if h.Typeflag == layer.TypeDir {
			h.Mode = 0o755
		}
	})
	return entries, done, err
}
