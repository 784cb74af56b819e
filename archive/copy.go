package archive

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/nix-dockertools/dockertools/outfile"
)

// firsts lists, for each layer listing, the index of its first listing.
func (b *Base) firsts() []int {
	seen := map[string]int{}
	out := make([]int, len(b.Layers))
	for i, l := range b.Layers {
		if j, ok := seen[l.Member]; ok {
			out[i] = j
			continue
		}
		seen[l.Member] = i
		out[i] = i
	}
	return out
}

// Recurs tells whether the layer listed first at i is listed again later.
func (b *Base) Recurs(i int) bool {
	for j := i + 1; j < len(b.Layers); j++ {
		if b.Layers[j].Member == b.Layers[i].Member {
			return true
		}
	}
	return false
}

// Copy calls fn with the stored bytes of each distinct layer, once, in
// image order (i is the layer's first listing). An uncompressed archive is
// read in place. A compressed one is decompressed once: the layers that
// come before they are needed are kept in a temporary file in TmpDir (the
// system's when empty) until their turn, so reading is linear in the
// archive whatever its order (docker save writes layers in name order).
func (b *Base) Copy(fn func(i int, l *BaseLayer, r io.Reader) error) error {
	var order []int // first listings, in image order
	for i, f := range b.firsts() {
		if f == i {
			order = append(order, i)
		}
	}
	if b.Compression == None {
		f, err := os.Open(b.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		for _, i := range order {
			l := &b.Layers[i]
			if err := fn(i, l, io.NewSectionReader(f, l.Offset, l.Size)); err != nil {
				return err
			}
		}
		return nil
	}
	rc, _, err := openArchive(b.Path)
	if err != nil {
		return err
	}
	defer rc.Close()
	byOffset := slices.Clone(order)
	slices.SortStableFunc(byOffset, func(x, y int) int {
		switch a, c := b.Layers[x].Offset, b.Layers[y].Offset; {
		case a < c:
			return -1
		case a > c:
			return 1
		}
		return 0
	})
	var spool *os.File
	forget := func() {}
	defer func() {
		if spool != nil {
			spool.Close()
			os.Remove(spool.Name())
			forget()
		}
	}()
	kept := map[int]int64{} // layer -> offset in the spool
	var spooled int64
	var pos int64
	next := 0 // in order: the next layer fn wants
	// deliver gives fn the kept layers whose turn has come.
	deliver := func() error {
		for next < len(order) {
			i := order[next]
			off, ok := kept[i]
			if !ok {
				return nil
			}
			l := &b.Layers[i]
			if err := fn(i, l, io.NewSectionReader(spool, off, l.Size)); err != nil {
				return err
			}
			delete(kept, i)
			next++
		}
		return nil
	}
	for _, i := range byOffset {
		l := &b.Layers[i]
		if l.Offset < pos {
			return fmt.Errorf("%s: layers %s and another overlap in the archive", b.Path, l.Member)
		}
		if _, err := io.CopyN(io.Discard, rc, l.Offset-pos); err != nil {
			return fmt.Errorf("%s: seeking to layer %s: %w", b.Path, l.Member, err)
		}
		lr := &io.LimitedReader{R: rc, N: l.Size}
		if order[next] == i {
			if err := fn(i, l, lr); err != nil {
				return err
			}
			next++
		} else {
			if spool == nil {
				if spool, err = os.CreateTemp(b.TmpDir, "base-layers-*"); err != nil {
					return fmt.Errorf("keeping layer %s for later: %w", l.Member, err)
				}
				// At stream time this is the user's temporary directory.
				forget = outfile.Track(spool.Name())
			}
			n, err := io.Copy(&offsetWriter{spool, spooled}, lr)
			if err != nil {
				return fmt.Errorf("%s: reading layer %s: %w", b.Path, l.Member, err)
			}
			if n != l.Size {
				return fmt.Errorf("%s: layer %s is cut short", b.Path, l.Member)
			}
			kept[i] = spooled
			spooled += n
		}
		if _, err := io.Copy(io.Discard, lr); err != nil {
			return fmt.Errorf("%s: reading layer %s: %w", b.Path, l.Member, err)
		}
		pos = l.Offset + l.Size
		if err := deliver(); err != nil {
			return err
		}
	}
	return nil
}

type offsetWriter struct {
	f   *os.File
	off int64
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// EachListing calls read for each distinct layer, as Copy does, and replay
// for every later listing of a layer already read, each in its place in
// image order: what applying the image's layers in order needs.
func (b *Base) EachListing(read func(i int, l *BaseLayer, r io.Reader) error, replay func(i, first int) error) error {
	firsts := b.firsts()
	done := 0 // listings handled
	catchUp := func(upTo int) error {
		for ; done < upTo; done++ {
			if err := replay(done, firsts[done]); err != nil {
				return err
			}
		}
		return nil
	}
	err := b.Copy(func(i int, l *BaseLayer, r io.Reader) error {
		if err := catchUp(i); err != nil {
			return err
		}
		done = i + 1
		return read(i, l, r)
	})
	if err != nil {
		return err
	}
	return catchUp(len(b.Layers))
}

// Uncompressed copies the layer's uncompressed tar from r (its stored bytes) to w.
func (l *BaseLayer) Uncompressed(w io.Writer, r io.Reader) error {
	d, err := Decompress(r, l.Compression)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := io.Copy(w, d)
	if err != nil {
		return err
	}
	if n != l.TarSize {
		return fmt.Errorf("base layer %s changed: %d bytes, expected %d", l.Member, n, l.TarSize)
	}
	return nil
}
