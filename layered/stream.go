package layered

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/layer"
	"github.com/nix-dockertools/dockertools/nixattrs"
)

func newBufferedWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 1<<20) }

// Stream writes the image of a stream script to w as an uncompressed
// docker-archive, with nixpkgs' progress lines on log.
func (s *Script) Stream(w io.Writer, log io.Writer) error {
	c := &s.Conf
	t, err := nixattrs.ResolveTime("created", c.Created, time.Now())
	if err != nil {
		return err
	}
	created := nixattrs.FormatTime(t)

	bw := newBufferedWriter(w)
	aw := archive.NewWriter(bw)
	var diffIDs []string
	var history []archive.History
	add := func(diffID, comment string) {
		diffIDs = append(diffIDs, diffID)
		history = append(history, archive.History{Created: created, Comment: comment})
	}

	if c.Base == nil {
		fmt.Fprintln(log, "No 'fromImage' provided")
	} else {
		err := aw.AddBaseLayers(c.Base, func(i int, l *archive.BaseLayer) {
			fmt.Fprintf(log, "Adding base layer %d from %s\n", i+1, l.Member)
			add(l.DiffID, "base layer "+l.Member+" of "+c.Base.Path)
		})
		if err != nil {
			return fmt.Errorf("fromImage: %w", err)
		}
	}
	n := len(diffIDs)
	for i, sl := range c.StoreLayers {
		fmt.Fprintf(log, "Creating layer %d from paths: %s\n", n+i+1, pyList(sl.Paths))
		add(sl.DiffID, "store paths: "+pyList(sl.Paths))
		if err := aw.AddLayer(sl.DiffID, sl.Size, func(w io.Writer) error { return writeStoreLayer(w, sl, c) }); err != nil {
			return err
		}
	}
	fmt.Fprintf(log, "Creating layer %d with customisation...\n", len(diffIDs)+1)
	add(c.Customisation.DiffID, "customisation layer")
	custom, err := s.customisation()
	if err != nil {
		return err
	}
	defer custom.Close()
	if err := aw.AddLayer(c.Customisation.DiffID, c.Customisation.Size, func(w io.Writer) error {
		_, err := io.Copy(w, custom)
		return err
	}); err != nil {
		return fmt.Errorf("customisation layer: %w", err)
	}

	fmt.Fprintln(log, "Adding manifests...")
	cfg, err := json.Marshal(archive.Config{Created: created, Architecture: c.Architecture, Variant: c.Variant, OS: "linux",
		Config: c.Config, RootFS: archive.RootFS{Type: "layers", DiffIDs: diffIDs}, History: history})
	if err != nil {
		return err
	}
	if err := aw.Finish(cfg, c.RepoTag); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(log, "Done.")
	return nil
}

// writeStoreLayer tars the layer's store paths again. Its size and digest
// were computed when the script was built, and store paths do not change, so
// the bytes are only copied, not hashed again; a file whose size changed
// still stops the stream with an error rather than a corrupt image.
func writeStoreLayer(w io.Writer, sl StoreLayer, c *Conf) error {
	entries, err := layer.StoreEntries(c.StoreDir, sl.Paths, c.Owner, c.MTime)
	if err != nil {
		return err
	}
	n, err := layer.Stream(w, entries)
	if err != nil {
		return fmt.Errorf("store paths %v changed since the stream script was built: %w", sl.Paths, err)
	}
	if n != sl.Size {
		return fmt.Errorf("store paths %v changed since the stream script was built: layer is %d bytes, expected %d", sl.Paths, n, sl.Size)
	}
	return nil
}

// pyList formats paths as Python prints a list of strings, as nixpkgs' progress lines do.
func pyList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), "'", `\'`) + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// StreamFile streams the script at path to stdout.
func StreamFile(path string) error {
	s, err := ReadScript(path)
	if err != nil {
		return err
	}
	return s.Stream(os.Stdout, os.Stderr)
}
