package archive

import (
	"archive/tar"
	"fmt"
	"io"
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

// checkTree is the tree a base's check builds: shape only, no metadata.
type checkTree = Tree[struct{}]

func newCheckTree() *checkTree {
	return NewTree(struct{}{}, func() struct{} { return struct{}{} })
}

// ApplyLayer reads a layer's tar headers and applies them to t, refusing
// what `docker load` or `podman load` would refuse (see Tree), so that a
// bad base fails the build and not the user's load. Errors name the entry;
// callers add the layer. each, when not nil, is called with every header
// and what it did, before the next header is read (the entry's content is
// still readable from tr).
func ApplyLayer[T any](t *Tree[T], tr *tar.Reader, each func(h *tar.Header, n *Node[T], k Kind) error) error {
	t.Begin()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not a tar: %w", err)
		}
		n, k, err := t.Apply(h)
		if err != nil {
			return err
		}
		if each != nil {
			if err := each(h, n, k); err != nil {
				return err
			}
		}
	}
}

// storePaths lists the store paths (<storeDir>/NAME) the tree holds, with
// the store directory resolved as the engines resolve it, sorted.
func storePaths[T any](t *Tree[T], storeDir string) []string {
	d := t.Lookup(strings.TrimPrefix(storeDir, "/"))
	if d == nil || d.Children == nil {
		return nil
	}
	out := make([]string, 0, len(d.Children))
	for n := range d.Children {
		out = append(out, storeDir+"/"+n)
	}
	slices.Sort(out)
	return out
}
