package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// The names by which a layer deletes what the layers below it hold: a
// ".wh.NAME" entry deletes NAME, an OpaqueMarker in a directory hides the
// directory's whole content below.
const (
	WhiteoutPrefix = ".wh."
	OpaqueMarker   = ".wh..wh..opq"
)

// layerScan is what one layer does to the image's store directory: the
// store paths it adds, and those it hides from the layers below.
type layerScan struct {
	store   string // the store directory, relative to the root
	added   []string
	removed []string
	opaque  bool // hides every store path below
}

// scanLayer reads a layer's tar headers. It refuses entries that would be
// written outside the image's root, as `docker load` refuses them, so that
// a bad base fails the build and not the user's load; and it records the
// store paths the layer adds or whites out.
//
// store is the store directory relative to the root ("nix/store"); with ""
// no store paths are recorded.
func scanLayer(r io.Reader, store string) (*layerScan, error) {
	s := &layerScan{store: store}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar: %w", err)
		}
		name, ok := insideRoot("", h.Name)
		if !ok {
			return nil, fmt.Errorf("entry %q leaves the image's root", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeLink:
			if _, ok := insideRoot("", h.Linkname); !ok {
				return nil, fmt.Errorf("hard link %q points to %q, outside the image's root", h.Name, h.Linkname)
			}
		case tar.TypeSymlink:
			// Absolute targets resolve inside the container's root; a
			// relative one must not climb above it.
			if !strings.HasPrefix(h.Linkname, "/") {
				if _, ok := insideRoot(path.Dir(name), h.Linkname); !ok {
					return nil, fmt.Errorf("symlink %q points to %q, outside the image's root", h.Name, h.Linkname)
				}
			}
		}
		s.record(name)
	}
}

// insideRoot resolves name (relative to dir, or to the root when it starts
// with "/") without following links, and tells whether it stays inside.
func insideRoot(dir, name string) (string, bool) {
	var c string
	if strings.HasPrefix(name, "/") {
		c = path.Clean(strings.TrimLeft(name, "/"))
	} else {
		c = path.Clean(path.Join(dir, name))
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

// record notes a store path or a whiteout of one. Whiteouts of the store
// directory or of a directory above it hide every store path.
func (s *layerScan) record(name string) {
	if s.store == "" {
		return
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, WhiteoutPrefix) {
		hidden := strings.TrimPrefix(base, WhiteoutPrefix)
		switch {
		case base == OpaqueMarker && s.holdsStore(dir):
			s.opaque = true
		case dir == s.store:
			s.removed = append(s.removed, hidden)
		case s.holdsStore(path.Join(dir, hidden)):
			s.opaque = true
		}
		return
	}
	if rest, ok := strings.CutPrefix(name, s.store+"/"); ok && rest != "" {
		top, _, _ := strings.Cut(rest, "/")
		s.added = append(s.added, top)
	}
}

// holdsStore tells whether dir (relative, "" for the root) is the store
// directory or one above it.
func (s *layerScan) holdsStore(dir string) bool {
	return dir == "" || dir == s.store || strings.HasPrefix(s.store, dir+"/")
}

// storePaths applies the layers' scans in order and returns the store paths
// (<storeDir>/NAME) the base image holds, sorted.
func storePaths(scans []*layerScan, storeDir string) []string {
	set := map[string]bool{}
	for _, s := range scans {
		if s.opaque {
			clear(set)
		}
		for _, r := range s.removed {
			delete(set, r)
		}
		for _, a := range s.added {
			set[a] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, storeDir+"/"+n)
	}
	slices.Sort(out)
	return out
}
