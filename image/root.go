package image

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layer"
)

// rnode is one name of the copyToRoot tree: a directory (children != nil)
// or a leaf whose entry was read from the store (file or link).
type rnode struct {
	entry    layer.Entry
	src      string // where a leaf was read from
	children map[string]*rnode
}

func (n *rnode) isDir() bool { return n.children != nil }

// rootTree merges copyToRoot as nixpkgs' `rsync -a -k` (or `-K`) of each
// item into one directory does, without copying anything: later items
// overwrite files of earlier ones; without keepDirlinks a symlink to a
// directory is copied as the directory it points to; with it, links are
// kept, and a directory meeting a link to a directory is merged into the
// link's target.
type rootTree struct {
	keep  bool
	owner layer.Owner
	mtime int64
	root  *rnode
}

func newRootTree(storeDir string, items []string, keep bool, o layer.Owner, mtime int64) (*rootTree, error) {
	t := &rootTree{keep: keep, owner: o, mtime: mtime, root: newDirNode(0o755)}
	for _, item := range items {
		fi, err := os.Stat(item)
		if err != nil {
			return nil, fmt.Errorf("attribute \"copyToRoot\": %w", err)
		}
		if !fi.IsDir() {
			// nixpkgs' rsync refuses a bare file; putting it at the top
			// under its name is what users of `contents` expect.
			if err := t.addLeaf(t.root, []string{closure.Name(storeDir, item)}, item); err != nil {
				return nil, err
			}
			continue
		}
		if err := t.merge(t.root, nil, item, []fileID{idOf(fi)}); err != nil {
			return nil, fmt.Errorf("attribute \"copyToRoot\": adding %s: %w", item, err)
		}
	}
	return t, nil
}

func newDirNode(mode int64) *rnode {
	return &rnode{entry: layer.Entry{Header: layer.Header{Typeflag: layer.TypeDir, Mode: mode}}, children: map[string]*rnode{}}
}

type fileID struct{ dev, ino uint64 }

func idOf(fi os.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), uint64(st.Ino)}
	}
	return fileID{}
}

func dirMode(fi os.FileInfo) int64 {
	m := int64(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	return m
}

// merge copies the directory src into dst (at rel). stack holds the
// directories being copied, so that a link back to one of them (which
// rsync -k would follow forever) is an error.
func (t *rootTree) merge(dst *rnode, rel []string, src string, stack []fileID) error {
	names, err := readNames(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		s := filepath.Join(src, name)
		childRel := append(slices.Clip(rel), name)
		fi, err := os.Lstat(s)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 && !t.keep {
			if target, err := os.Stat(s); err == nil && target.IsDir() {
				fi = target // copied as the directory it points to
			}
		}
		if !fi.IsDir() {
			if err := t.addLeaf(dst, childRel, s); err != nil {
				return err
			}
			continue
		}
		id := idOf(fi)
		if slices.Contains(stack, id) {
			return fmt.Errorf("%s leads back to a directory it is in (a symlink loop)", s)
		}
		child, err := t.dirFor(dst, childRel, dirMode(fi), stack)
		if err != nil {
			return err
		}
		if err := t.merge(child, childRel, s, append(stack, id)); err != nil {
			return err
		}
	}
	return nil
}

// dirFor returns the directory node named rel[len-1] in parent, making one
// where there is none or where a file or link was (rsync replaces them);
// with keepDirlinks, a link to a directory stands for that directory.
func (t *rootTree) dirFor(parent *rnode, rel []string, mode int64, stack []fileID) (*rnode, error) {
	name := rel[len(rel)-1]
	old := parent.children[name]
	if old != nil && old.isDir() {
		old.entry.Mode = mode // rsync -a gives it the last item's permissions
		return old, nil
	}
	if old != nil && t.keep && old.entry.Typeflag == layer.TypeSymlink {
		if target := t.resolve(rel[:len(rel)-1], old.entry.Linkname, 0); target != nil {
			return target, nil
		}
		// A link out of the tree (a buildEnv's link into the store):
		// copy what it points to, so the two items' files are merged.
		abs := old.entry.Linkname
		if !strings.HasPrefix(abs, "/") {
			abs = filepath.Join(filepath.Dir(old.src), abs)
		}
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			d := newDirNode(dirMode(fi))
			parent.children[name] = d
			if err := t.merge(d, rel, abs, append(stack, idOf(fi))); err != nil {
				return nil, err
			}
			d.entry.Mode = mode
			return d, nil
		}
	}
	d := newDirNode(mode)
	parent.children[name] = d
	return d, nil
}

// resolve finds the directory a link inside the tree points to, following
// links within the tree; nil when it does not point into the tree.
func (t *rootTree) resolve(dir []string, target string, hops int) *rnode {
	if hops > 40 {
		return nil
	}
	var p string
	if strings.HasPrefix(target, "/") {
		p = path.Clean(target)
	} else {
		p = path.Clean("/" + path.Join(append(slices.Clip(dir), target)...))
	}
	n := t.root
	var at []string
	for _, c := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if c == "" {
			continue
		}
		if !n.isDir() {
			return nil
		}
		next := n.children[c]
		if next == nil {
			return nil
		}
		if !next.isDir() && next.entry.Typeflag == layer.TypeSymlink {
			next = t.resolve(at, next.entry.Linkname, hops+1)
			if next == nil {
				return nil
			}
		}
		at = append(at, c)
		n = next
	}
	if !n.isDir() {
		return nil
	}
	return n
}

// addLeaf puts the file or link src at rel. A directory is not replaced
// by a file: rsync fails there too ("could not make way").
func (t *rootTree) addLeaf(parent *rnode, rel []string, src string) error {
	name := rel[len(rel)-1]
	if old := parent.children[name]; old != nil && old.isDir() {
		return fmt.Errorf("/%s is a directory in an earlier item of copyToRoot, but %s is not", strings.Join(rel, "/"), src)
	}
	es, err := layer.PathEntries(src, name, t.owner, t.mtime)
	if err != nil {
		return err
	}
	parent.children[name] = &rnode{entry: es[0], src: src}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	slices.SortFunc(names, layer.CompareNames)
	return names, nil
}

// entries lists the tree as the layer's entries, named relative to the root.
func (t *rootTree) entries() []layer.Entry {
	var out []layer.Entry
	var walk func(n *rnode, prefix string)
	walk = func(n *rnode, prefix string) {
		for _, name := range layer.SortedNames(n.children) {
			c := n.children[name]
			e := c.entry
			e.Name = prefix + name
			if c.isDir() {
				e.Name += "/"
				e.UID, e.GID, e.Uname, e.Gname, e.MTime = t.owner.UID, t.owner.GID, t.owner.Uname, t.owner.Gname, t.mtime
			}
			out = append(out, e)
			if c.isDir() {
				walk(c, e.Name)
			}
		}
	}
	walk(t.root, "")
	return out
}

// write creates the tree under dir (which exists), copying files, so that
// extraCommands can change it. Directories get their modes once filled, so
// a script meets the store's read-only directories as it would in nixpkgs.
func (t *rootTree) write(dir string) error {
	var walk func(n *rnode, dir string) error
	walk = func(n *rnode, dir string) error {
		for _, name := range layer.SortedNames(n.children) {
			c, p := n.children[name], filepath.Join(dir, name)
			switch {
			case c.isDir():
				if err := os.Mkdir(p, 0o700); err != nil {
					return err
				}
				if err := walk(c, p); err != nil {
					return err
				}
				if err := os.Chmod(p, fs.FileMode(c.entry.Mode&0o777)|modeBits(c.entry.Mode)); err != nil {
					return err
				}
			case c.entry.Typeflag == layer.TypeSymlink:
				if err := os.Symlink(c.entry.Linkname, p); err != nil {
					return err
				}
			case c.entry.Typeflag == layer.TypeReg:
				if err := copyFile(c.entry.Source, p, c.entry.Mode); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%s: cannot copy a file of this type for extraCommands", c.entry.Source)
			}
		}
		return nil
	}
	return walk(t.root, dir)
}

func modeBits(m int64) fs.FileMode {
	var fm fs.FileMode
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

func copyFile(src, dst string, mode int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return os.Chmod(dst, fs.FileMode(mode&0o777)|modeBits(mode))
}

// makeWritable lets a tree written by write (and changed by a script) be
// removed again.
func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}
