package flatten

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
)

const bufSize = 1 << 20

// file is what a tar header says of one inode: shared by every hard link
// to it. A later layer replaces it rather than changing it, but for a hard
// link's header, whose owner and mode the engines give the inode.
type file struct {
	typ                byte
	mode               int64
	uid, gid           int
	uname, gname       string
	linkname           string // symlink target
	devmajor, devminor int64
	size               int64

	// Where a regular file's bytes are: the ordinal of its entry in its
	// layer (the layer's first listing); once found, an offset in the spill
	// file, or in the archive itself when direct.
	layer, ordinal int
	direct         bool
	off            int64

	needed  bool   // its content is to be spilled
	written string // output name of its first path, once written
}

type node = archive.Node[*file]

// kept is an entry of a layer listed again later, to be applied again.
type kept struct {
	h *tar.Header
	f *file // as read the first time (nil for entries without a file)
}

type flattener struct {
	base    *archive.Base
	tree    *archive.Tree[*file]
	kept    map[int][]kept
	strings map[string]string // owner names, shared between entries
}

func newDir() *file { return &file{typ: tar.TypeDir, mode: 0o755, uname: "root", gname: "root"} }

// Write writes the flattened filesystem of base to w: layers applied in
// order as Docker applies them (see archive.Tree: paths resolved through
// the image's own symlinks, whiteouts .wh.NAME and opaque directories
// .wh..wh..opq honoured), as an uncompressed tar with names "./…", sorted
// component-wise (parents before children; "a/b" before "a-b"), every
// mtime set to mtime.
//
// File contents that cannot be read in place are spilled to one temporary
// file in tmpDir (the system's temporary directory when empty), removed
// before Write returns; it holds at most the size of the resulting files.
func Write(w io.Writer, base *archive.Base, tmpDir string, mtime int64) error {
	fl := &flattener{
		base:    base,
		tree:    archive.NewTree(newDir(), newDir),
		kept:    map[int][]kept{},
		strings: map[string]string{},
	}
	if base.TmpDir == "" {
		base.TmpDir = tmpDir
	}
	if err := base.EachListing(fl.readLayer, fl.replay); err != nil {
		return fmt.Errorf("flattening %s: %w", base.Path, err)
	}
	spill, err := fl.spill(tmpDir)
	if spill != nil {
		defer func() {
			spill.Close()
			os.Remove(spill.Name())
		}()
	}
	if err != nil {
		return fmt.Errorf("flattening %s: %w", base.Path, err)
	}
	if err := fl.write(w, spill, time.Unix(mtime, 0)); err != nil {
		return fmt.Errorf("flattening %s: %w", base.Path, err)
	}
	return nil
}

func (fl *flattener) intern(s string) string {
	if v, ok := fl.strings[s]; ok {
		return v
	}
	fl.strings[s] = s
	return s
}

// readLayer reads the headers of layer i and applies them to the tree.
func (fl *flattener) readLayer(i int, l *archive.BaseLayer, r io.Reader) error {
	var src io.Reader
	var seeker io.Seeker // set when file contents can be read in place later
	if rs, ok := r.(io.ReadSeeker); ok && fl.base.Compression == archive.None && l.Compression == archive.None {
		src, seeker = rs, rs
	} else {
		d, err := archive.Decompress(r, l.Compression)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Member, err)
		}
		defer d.Close()
		src = d
	}
	recurs := fl.base.Recurs(i)
	ordinal := -1
	err := archive.ApplyLayer(fl.tree, tar.NewReader(src), func(h *tar.Header, n *node, k archive.Kind) error {
		ordinal++
		var f *file
		switch k {
		case archive.Created, archive.Merged, archive.Plink:
			f = fl.fileOf(h, i, ordinal, seeker)
			if f.direct {
				pos, err := seeker.Seek(0, io.SeekCurrent)
				if err != nil {
					return err
				}
				if pos%512 != 0 || pos+f.size > l.Size {
					return fmt.Errorf("entry %q: content at %d of %d bytes lies outside the layer", h.Name, pos, f.size)
				}
				f.off = l.Offset + pos
			}
			n.Data = f
		case archive.Linked:
			fl.relink(n.Data, h)
		}
		if recurs {
			fl.kept[i] = append(fl.kept[i], kept{h, f})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Member, err)
	}
	return nil
}

// replay applies again, as listing i, the layer first listed at first.
func (fl *flattener) replay(i, first int) error {
	fl.tree.Begin()
	for _, e := range fl.kept[first] {
		n, k, err := fl.tree.Apply(e.h)
		if err != nil {
			return fmt.Errorf("layer %s (listed again as layer %d): %w", fl.base.Layers[i].Member, i+1, err)
		}
		switch k {
		case archive.Created, archive.Merged, archive.Plink:
			f := *e.f // another inode with the same content
			n.Data = &f
		case archive.Linked:
			fl.relink(n.Data, e.h)
		}
	}
	return nil
}

// relink gives the file a hard link's header links to that header's owner
// and, unless it is a symlink, mode: what chown and chmod of the link do.
func (fl *flattener) relink(f *file, h *tar.Header) {
	f.uid, f.gid = h.Uid, h.Gid
	f.uname, f.gname = fl.intern(h.Uname), fl.intern(h.Gname)
	if f.typ != tar.TypeSymlink {
		f.mode = h.Mode & 0o7777
	}
}

// fileOf makes the file of an entry. With seeker set, a plain (non-sparse)
// file of an uncompressed layer is marked to be read in place.
func (fl *flattener) fileOf(h *tar.Header, layer, ordinal int, seeker io.Seeker) *file {
	f := &file{
		typ:   h.Typeflag,
		mode:  h.Mode & 0o7777,
		uid:   h.Uid,
		gid:   h.Gid,
		uname: fl.intern(h.Uname),
		gname: fl.intern(h.Gname),
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		f.typ = tar.TypeReg
		f.size, f.layer, f.ordinal = h.Size, layer, ordinal
		f.direct = seeker != nil && h.Typeflag == tar.TypeReg && !isSparse(h)
	case tar.TypeSymlink:
		f.linkname = h.Linkname
	case tar.TypeChar, tar.TypeBlock:
		f.devmajor, f.devminor = h.Devmajor, h.Devminor
	}
	return f
}

func isSparse(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

var errDone = errors.New("all needed contents copied")

// spill copies the contents that the tree needs and that cannot be read in
// place, layer by layer, into one temporary file. It returns nil when
// nothing needs copying.
func (fl *flattener) spill(tmpDir string) (*os.File, error) {
	needs := make([][]*file, len(fl.base.Layers))
	last := -1
	var mark func(n *node)
	mark = func(n *node) {
		for _, c := range n.Children {
			if c.Children != nil {
				mark(c)
				continue
			}
			f := c.Data
			if f.typ == tar.TypeReg && f.size > 0 && !f.direct && !f.needed {
				f.needed = true
				needs[f.layer] = append(needs[f.layer], f)
				last = max(last, f.layer)
			}
		}
	}
	mark(fl.tree.Root)
	if last < 0 {
		return nil, nil
	}
	for _, fs := range needs {
		slices.SortFunc(fs, func(a, b *file) int { return a.ordinal - b.ordinal })
	}
	out, err := os.CreateTemp(tmpDir, "flatten-*.spill")
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(out, bufSize)
	var off int64
	err = fl.base.Copy(func(i int, l *archive.BaseLayer, r io.Reader) error {
		if i > last {
			return errDone
		}
		want := needs[i]
		if len(want) == 0 {
			return nil
		}
		d, err := archive.Decompress(r, l.Compression)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Member, err)
		}
		defer d.Close()
		tr := tar.NewReader(d)
		for ordinal := 0; len(want) > 0; ordinal++ {
			h, err := tr.Next()
			if err != nil {
				return fmt.Errorf("layer %s changed since it was read: %w", l.Member, err)
			}
			if ordinal != want[0].ordinal {
				continue
			}
			f := want[0]
			n, err := io.Copy(bw, tr)
			if err != nil {
				return fmt.Errorf("layer %s: reading %q: %w", l.Member, h.Name, err)
			}
			if n != f.size {
				return fmt.Errorf("layer %s changed since it was read: %q has %d bytes, not %d", l.Member, h.Name, n, f.size)
			}
			// A layer listed twice has two files per entry (two inodes).
			for len(want) > 0 && want[0].ordinal == ordinal {
				want[0].off = off
				want = want[1:]
			}
			off += n
		}
		return nil
	})
	if errors.Is(err, errDone) {
		err = nil
	}
	if err == nil {
		err = bw.Flush()
	}
	return out, err
}

// write writes the tree depth-first, siblings in byte order. Names are
// built in one buffer: the work is linear in what is written.
func (fl *flattener) write(w io.Writer, spill *os.File, mtime time.Time) error {
	var arch *os.File
	defer func() {
		if arch != nil {
			arch.Close()
		}
	}()
	bw := bufio.NewWriterSize(w, bufSize)
	tw := tar.NewWriter(bw)
	buf := make([]byte, 256<<10) // tar.Writer has no ReadFrom: io.Copy would allocate per file
	name := make([]byte, 0, archive.PathMax+2)
	var emit func(n *node) error
	emit = func(n *node) error {
		f := n.Data
		h := &tar.Header{
			Name:     string(name),
			Typeflag: f.typ,
			Mode:     f.mode,
			Uid:      f.uid,
			Gid:      f.gid,
			Uname:    f.uname,
			Gname:    f.gname,
			ModTime:  mtime,
		}
		var content io.Reader
		switch {
		case n.Children != nil:
			h.Typeflag = tar.TypeDir
		case f.written != "":
			h.Typeflag = tar.TypeLink
			h.Linkname = f.written
		default:
			f.written = h.Name
			switch f.typ {
			case tar.TypeReg:
				h.Size = f.size
				if f.size == 0 {
					break
				}
				src := spill
				if f.direct {
					if arch == nil {
						var err error
						if arch, err = os.Open(fl.base.Path); err != nil {
							return err
						}
					}
					src = arch
				}
				content = io.NewSectionReader(src, f.off, f.size)
			case tar.TypeSymlink:
				h.Linkname = f.linkname
			case tar.TypeChar, tar.TypeBlock:
				h.Devmajor, h.Devminor = f.devmajor, f.devminor
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing %q: %w", h.Name, err)
		}
		if content != nil {
			k, err := io.CopyBuffer(tw, content, buf)
			if err == nil && k != f.size {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return fmt.Errorf("writing %q: %w", h.Name, err)
			}
		}
		if n.Children == nil {
			return nil
		}
		names := make([]string, 0, len(n.Children))
		for c := range n.Children {
			names = append(names, c)
		}
		slices.Sort(names)
		mark := len(name)
		for _, c := range names {
			child := n.Children[c]
			name = append(name[:mark], c...)
			if child.Children != nil {
				name = append(name, '/')
			}
			if err := emit(child); err != nil {
				return err
			}
		}
		name = name[:mark]
		return nil
	}
	name = append(name, "./"...)
	if err := emit(fl.tree.Root); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
