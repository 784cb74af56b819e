package archive

import (
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
			if err := aw.AddBaseLayers(b, nil); err != nil {
				return err
			}
			if err := aw.AddImage(b.Config, b.RepoTags); err != nil {
				return err
			}
		}
	}
	return aw.Close()
}
