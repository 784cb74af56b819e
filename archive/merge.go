package archive

import (
	"fmt"
	"io"
)

// Merge writes one docker-archive holding every image of the archives at
// paths (any compression, any number of images each), in order, so that
// one `docker load` gives all their tags. Layers the images share are
// written once.
func Merge(w io.Writer, paths []string) error {
	aw := NewWriter(w)
	for _, p := range paths {
		bases, err := OpenAll(p)
		if err != nil {
			return err
		}
		for _, b := range bases {
			err := b.Copy(func(i int, l *BaseLayer, r io.Reader) error {
				return aw.AddLayer(l.DiffID, l.TarSize, func(w io.Writer) error { return l.Uncompressed(w, r) })
			})
			if err != nil {
				return fmt.Errorf("copying %s from %s: %w", b.RepoTag, p, err)
			}
			if err := aw.AddImage(b.Config, b.RepoTags); err != nil {
				return err
			}
		}
	}
	return aw.Close()
}
