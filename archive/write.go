package archive

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Writer writes a docker-archive as a stream. Members have fixed metadata
// so that the same image always gives the same bytes.
type Writer struct {
	tw      *tar.Writer
	written map[string]bool
	layers  []string
	images  []ManifestEntry
}

// NewWriter starts a docker-archive on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{tw: tar.NewWriter(w), written: map[string]bool{}}
}

func header(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Size: size, Mode: 0o644, Typeflag: tar.TypeReg,
		ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
}

// LayerMember is the archive member name of the layer with this diff_id.
func LayerMember(diffID string) string {
	return strings.TrimPrefix(diffID, "sha256:") + "/layer.tar"
}

// AddLayer appends a layer of the given uncompressed size. write must write
// exactly size bytes. A layer already in the archive is only listed again,
// as `docker save` does for repeated layers.
func (w *Writer) AddLayer(diffID string, size int64, write func(io.Writer) error) error {
	name := LayerMember(diffID)
	w.layers = append(w.layers, name)
	if w.written[name] {
		return nil
	}
	w.written[name] = true
	if err := w.tw.WriteHeader(header(name, size)); err != nil {
		return err
	}
	if err := write(w.tw); err != nil {
		return err
	}
	// The tar writer knows whether the layer had the announced size.
	if err := w.tw.Flush(); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	return nil
}

// AddBaseLayers copies every layer of a base image, uncompressed, in order;
// before (if not nil) is called ahead of each, for progress and history.
func (w *Writer) AddBaseLayers(b *Base, before func(i int, l *BaseLayer)) error {
	err := b.EachListing(func(i int, l *BaseLayer, r io.Reader) error {
		if before != nil {
			before(i, l)
		}
		return w.AddLayer(l.DiffID, l.TarSize, func(w io.Writer) error { return l.Uncompressed(w, r) })
	}, func(i, _ int) error {
		// Listed again: AddLayer lists it without its bytes.
		l := &b.Layers[i]
		if before != nil {
			before(i, l)
		}
		return w.AddLayer(l.DiffID, l.TarSize, func(io.Writer) error { return fmt.Errorf("layer %s written twice", l.Member) })
	})
	if err != nil {
		return fmt.Errorf("copying %s from %s: %w", b.RepoTag, b.Path, err)
	}
	return nil
}

// Layers lists the member names of the layers added so far, in order.
func (w *Writer) Layers() []string { return w.layers }

// AddFile appends a small file.
func (w *Writer) AddFile(name string, data []byte) error {
	if err := w.tw.WriteHeader(header(name, int64(len(data)))); err != nil {
		return err
	}
	_, err := w.tw.Write(data)
	return err
}

// Finish writes the config and manifest.json for one image and closes the
// archive.
func (w *Writer) Finish(config []byte, repoTag string) error {
	if err := w.AddImage(config, []string{repoTag}); err != nil {
		return err
	}
	return w.Close()
}

// AddImage writes an image's config and lists the image, with the layers
// added since the previous image, in manifest.json. An archive holds as
// many images as are added; layers and configs they share are written once.
func (w *Writer) AddImage(config []byte, repoTags []string) error {
	cfgName := strings.TrimPrefix(Digest(config), "sha256:") + ".json"
	if !w.written[cfgName] {
		w.written[cfgName] = true
		if err := w.AddFile(cfgName, config); err != nil {
			return err
		}
	}
	if repoTags == nil {
		repoTags = []string{}
	}
	w.images = append(w.images, ManifestEntry{Config: cfgName, RepoTags: repoTags, Layers: w.layers})
	w.layers = nil
	return nil
}

// Close writes manifest.json and ends the archive.
func (w *Writer) Close() error {
	m, err := json.Marshal(w.images)
	if err != nil {
		return err
	}
	if err := w.AddFile("manifest.json", m); err != nil {
		return err
	}
	return w.tw.Close()
}
