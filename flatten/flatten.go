package flatten

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
)

const (
	metaPrefix = ".wh..wh."     // AUFS metadata, never part of the filesystem
	plinkDir   = ".wh..wh.plnk" // AUFS keeps hard link targets here
	bufSize    = 1 << 20
)

// file is what a tar header says of one inode: shared by every hard link
// to it, never changed once read (a later layer replaces it instead).
type file struct {
	typ                byte
	mode               int64
	uid, gid           int
	uname, gname       string
	linkname           string // symlink target
	devmajor, devminor int64
	size               int64

	// Where a regular file's bytes are: the ordinal of its entry in its
	// layer; once found, an offset in the spill file, or in the archive
	// itself when direct.
	layer, ordinal int
	direct         bool
	off            int64

	needed  bool   // its content is to be spilled
	written string // output name of its first path, once written
}

// node is one path of the merged tree.
type node struct {
	f        *file
	children map[string]*node // non-nil exactly for directories
}

type opKind int

const (
	opEntry opKind = iota
	opLink
	opWhiteout
	opOpaque
)

// op is one entry of a layer, to be applied once the whole layer is read.
type op struct {
	kind opKind
	name string // cleaned, relative to the root ("." for the root)
	f    *file  // opEntry
	link string // opLink: cleaned target
}

type flattener struct {
	base    *archive.Base
	root    *node
	strings map[string]string // owner names, shared between entries
}

// Write writes the flattened filesystem of base to w: layers applied in
// order, whiteouts (.wh.NAME) and opaque directories (.wh..wh..opq)
// honoured, as an uncompressed tar with names "./…", sorted component-wise
// (parents before children; "a/b" before "a-b"), every mtime set to mtime.
//
// File contents that cannot be read in place are spilled to one temporary
// file in tmpDir (the system's temporary directory when empty), removed
// before Write returns; it holds at most the size of the resulting files.
func Write(w io.Writer, base *archive.Base, tmpDir string, mtime int64) error {
	fl := &flattener{
		base:    base,
		root:    &node{f: &file{typ: tar.TypeDir, mode: 0o755, uname: "root", gname: "root"}, children: map[string]*node{}},
		strings: map[string]string{},
	}
	if err := base.Copy(fl.readLayer); err != nil {
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

// cleanName makes a tar name relative to the image's root ("." for the
// root itself) and refuses names that would leave it.
func cleanName(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("entry %q leaves the image's root", name)
	}
	return c, nil
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
	fail := func(err error) error { return fmt.Errorf("layer %s: %w", l.Member, err) }
	tr := tar.NewReader(src)
	var ops []op
	plinks := map[string]*file{}
	for ordinal := 0; ; ordinal++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue // PAX global records (git archive writes them): no file
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return fail(err)
		}
		dir, base := path.Split(name)
		dir = path.Clean(dir)

		if hasMetaComponent(dir) || (strings.HasPrefix(base, metaPrefix) && base != archive.OpaqueMarker) {
			// AUFS metadata. Files under .wh..wh.plnk are the targets of
			// this layer's hard links into it.
			if first, _, _ := strings.Cut(name, "/"); first == plinkDir && isRegular(h) {
				plinks[name] = fl.regular(h, i, ordinal, nil)
			}
			continue
		}
		if base == archive.OpaqueMarker {
			ops = append(ops, op{kind: opOpaque, name: dir})
			continue
		}
		if hidden, ok := strings.CutPrefix(base, archive.WhiteoutPrefix); ok {
			if hidden != "" && hidden != "." && hidden != ".." {
				ops = append(ops, op{kind: opWhiteout, name: path.Join(dir, hidden)})
			}
			continue
		}

		if h.Typeflag == tar.TypeLink {
			target, err := cleanName(h.Linkname)
			if err != nil {
				return fail(fmt.Errorf("hard link %q: %w", h.Name, err))
			}
			ops = append(ops, op{kind: opLink, name: name, link: target})
			continue
		}
		var f *file
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
			f = fl.regular(h, i, ordinal, seeker)
			if f.direct {
				pos, err := seeker.Seek(0, io.SeekCurrent)
				if err != nil {
					return fail(err)
				}
				if pos%512 != 0 || pos+f.size > l.Size {
					return fail(fmt.Errorf("entry %q: content at %d of %d bytes lies outside the layer", h.Name, pos, f.size))
				}
				f.off = l.Offset + pos
			}
		case tar.TypeDir, tar.TypeFifo, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock:
			f = &file{
				typ:   h.Typeflag,
				mode:  h.Mode & 0o7777,
				uid:   h.Uid,
				gid:   h.Gid,
				uname: fl.intern(h.Uname),
				gname: fl.intern(h.Gname),
			}
			switch h.Typeflag {
			case tar.TypeSymlink:
				f.linkname = h.Linkname
			case tar.TypeChar, tar.TypeBlock:
				f.devmajor, f.devminor = h.Devmajor, h.Devminor
			}
		default:
			return fail(fmt.Errorf("entry %q has unsupported type %q", h.Name, h.Typeflag))
		}
		if name == "." && f.typ != tar.TypeDir {
			return fail(fmt.Errorf("entry %q replaces the root directory with a non-directory", h.Name))
		}
		ops = append(ops, op{kind: opEntry, name: name, f: f})
	}
	return fl.apply(ops, plinks)
}

// isRegular tells whether an entry carries a file's content.
func isRegular(h *tar.Header) bool {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		return true
	}
	return false
}

// hasMetaComponent tells whether a cleaned directory lies under AUFS
// metadata.
func hasMetaComponent(dir string) bool {
	for rest := dir; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		if strings.HasPrefix(c, metaPrefix) {
			return true
		}
	}
	return false
}

// regular makes the file of a regular entry. With seeker set, a plain
// (non-sparse) file of an uncompressed layer is marked to be read in place.
func (fl *flattener) regular(h *tar.Header, layer, ordinal int, seeker io.Seeker) *file {
	f := &file{
		typ:     tar.TypeReg,
		mode:    h.Mode & 0o7777,
		uid:     h.Uid,
		gid:     h.Gid,
		uname:   fl.intern(h.Uname),
		gname:   fl.intern(h.Gname),
		size:    h.Size,
		layer:   layer,
		ordinal: ordinal,
	}
	f.direct = seeker != nil && h.Typeflag == tar.TypeReg && !isSparse(h)
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

// apply changes the tree by one layer: first its whiteouts and opaque
// markers, which only hide what the layers below hold, then its entries in
// order.
func (fl *flattener) apply(ops []op, plinks map[string]*file) error {
	for _, o := range ops {
		switch o.kind {
		case opWhiteout:
			if parent := fl.lookup(path.Dir(o.name)); parent != nil && parent.children != nil {
				delete(parent.children, path.Base(o.name))
			}
		case opOpaque:
			if n := fl.lookup(o.name); n != nil && n.children != nil {
				clear(n.children)
			}
		}
	}
	for _, o := range ops {
		f := o.f
		switch o.kind {
		case opWhiteout, opOpaque:
			continue
		case opLink:
			if first, _, _ := strings.Cut(o.link, "/"); first == plinkDir {
				f = plinks[o.link]
			} else if t := fl.lookup(o.link); t != nil {
				if t.children != nil {
					return fmt.Errorf("hard link %q points to directory %q", o.name, o.link)
				}
				f = t.f
			}
			if f == nil {
				return fmt.Errorf("hard link %q points to %q, which is not in this layer or below", o.name, o.link)
			}
			if o.name == "." {
				return fmt.Errorf("hard link %q replaces the root directory", o.name)
			}
		}
		if o.name == "." {
			fl.root.f = f
			continue
		}
		parent := fl.mkdirs(path.Dir(o.name))
		base := path.Base(o.name)
		if f.typ != tar.TypeDir {
			parent.children[base] = &node{f: f}
			continue
		}
		if old := parent.children[base]; old != nil && old.children != nil {
			old.f = f // a directory over a directory: merged, later header wins
			continue
		}
		parent.children[base] = &node{f: f, children: map[string]*node{}}
	}
	return nil
}

// lookup finds a cleaned path in the tree, nil if absent.
func (fl *flattener) lookup(p string) *node {
	n := fl.root
	if p == "." {
		return n
	}
	for rest := p; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		if n.children == nil {
			return nil
		}
		if n = n.children[c]; n == nil {
			return nil
		}
	}
	return n
}

// mkdirs returns the directory at a cleaned path, creating the missing
// ones as extraction does. A non-directory in the way is replaced by a
// directory, as in an overlay whose upper layer has a directory there.
func (fl *flattener) mkdirs(p string) *node {
	n := fl.root
	if p == "." {
		return n
	}
	for rest := p; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		child := n.children[c]
		if child == nil || child.children == nil {
			child = &node{f: &file{typ: tar.TypeDir, mode: 0o755, uname: "root", gname: "root"}, children: map[string]*node{}}
			n.children[c] = child
		}
		n = child
	}
	return n
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
		for _, c := range n.children {
			if c.children != nil {
				mark(c)
				continue
			}
			f := c.f
			if f.typ == tar.TypeReg && f.size > 0 && !f.direct && !f.needed {
				f.needed = true
				needs[f.layer] = append(needs[f.layer], f)
				last = max(last, f.layer)
			}
		}
	}
	mark(fl.root)
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
			want = want[1:]
			n, err := io.Copy(bw, tr)
			if err != nil {
				return fmt.Errorf("layer %s: reading %q: %w", l.Member, h.Name, err)
			}
			if n != f.size {
				return fmt.Errorf("layer %s changed since it was read: %q has %d bytes, not %d", l.Member, h.Name, n, f.size)
			}
			f.off = off
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

// write writes the tree depth-first, siblings in byte order.
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
	var emit func(n *node, name string) error
	emit = func(n *node, name string) error {
		f := n.f
		h := &tar.Header{
			Name:     name,
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
		case n.children != nil:
			h.Typeflag = tar.TypeDir
		case f.written != "":
			h.Typeflag = tar.TypeLink
			h.Linkname = f.written
		default:
			f.written = name
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
			return fmt.Errorf("writing %q: %w", name, err)
		}
		if content != nil {
			k, err := io.CopyBuffer(tw, content, buf)
			if err == nil && k != f.size {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return fmt.Errorf("writing %q: %w", name, err)
			}
		}
		if n.children == nil {
			return nil
		}
		names := make([]string, 0, len(n.children))
		for c := range n.children {
			names = append(names, c)
		}
		slices.Sort(names)
		for _, c := range names {
			child := n.children[c]
			cn := name + c
			if child.children != nil {
				cn += "/"
			}
			if err := emit(child, cn); err != nil {
				return err
			}
		}
		return nil
	}
	if err := emit(fl.root, "./"); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
