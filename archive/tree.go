package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"path"
	"strings"
)

// Linux's limits, which the engines meet when they extract a layer: a path
// given to a system call has at most PathMax bytes with its terminating
// NUL, one name at most NameMax, and one lookup follows at most MaxSymlinks
// symbolic links (ELOOP after that).
const (
	PathMax     = 4096
	NameMax     = 255
	MaxSymlinks = 40
)

// Node is one path of a tree built by applying layers. Hard links to one
// file are nodes sharing Data (T is a pointer type where that matters).
type Node[T any] struct {
	Type     byte   // tar.TypeDir, TypeReg, TypeSymlink, TypeChar, TypeBlock or TypeFifo
	Link     string // a symlink's target
	Data     T
	Children map[string]*Node[T] // non-nil exactly for directories

	parent *Node[T] // of a directory: where ".." leads
	// Listings (Tree.gen) that made this node, named it in an entry, and
	// made it or something below it: what an opaque marker keeps, and what
	// a whiteout of the same layer may not delete.
	made, named, touched int32
}

// Kind tells the caller of Tree.Apply what an entry did.
type Kind int

const (
	Skipped Kind = iota // no file: a whiteout, an opaque marker, AUFS metadata, a PAX global header
	Created             // a new node; the caller sets its Data
	Merged              // a directory over a directory: the caller replaces its Data (metadata)
	Linked              // a hard link: Data is the target's, the entry's owner and mode apply to it
	Plink               // a file of AUFS' .wh..wh.plnk, kept out of the tree for hard links to it
)

// Tree applies layers as Docker and podman apply them when they load an
// image: entries in stream order, each path resolved inside the root
// through the symbolic links already there (as in a chroot, where "/" and
// ".." stop at the root), missing parents made, an existing path replaced
// unless a directory meets a directory. What they refuse is an error.
//
// Where their storage drivers disagree, the tree follows the one that
// refuses, and otherwise Docker's vfs driver and podman (the tree that
// `docker export` shows): overlay2 refuses a hard link to a file of a
// lower layer and a whiteout of a path the same layer wrote, which vfs
// accepts; vfs and podman refuse a lower layer's file or dangling symlink
// as a parent, which overlay2 replaces by a directory; for a lower layer's
// symlink to a directory as a parent, vfs and podman write through it (the
// tree does) while overlay2 replaces it by a directory. Parents that no
// entry lists are made 0755 (overlay2 and podman; Docker's vfs makes them
// 0600).
type Tree[T any] struct {
	Root   *Node[T]
	newDir func() T // Data of the parents no entry lists
	gen    int32    // the listing being applied, from 1
	seen   map[string]bool
	plinks map[string]*Node[T]
}

// NewTree starts a tree whose root has the given Data; newDir gives the
// Data of every directory that entries imply but do not list.
func NewTree[T any](root T, newDir func() T) *Tree[T] {
	t := &Tree[T]{newDir: newDir}
	t.Root = &Node[T]{Type: tar.TypeDir, Data: root, Children: map[string]*Node[T]{}}
	t.Root.parent = t.Root
	return t
}

// Begin starts the next layer listing.
func (t *Tree[T]) Begin() {
	t.gen++
	t.seen = map[string]bool{}
	t.plinks = map[string]*Node[T]{}
}

// AUFS' own files: .wh..wh.plnk holds the targets of hard links.
const (
	metaPrefix = ".wh..wh."
	plinkDir   = ".wh..wh.plnk"
)

var (
	errNotExist = errors.New("no such file or directory")
	errNotDir   = errors.New("not a directory")
	errLoop     = errors.New("too many levels of symbolic links")
)

// CheckName checks a tar name against what the engines refuse: leaving the
// root, a path of PathMax bytes or more, a name over NameMax; it returns
// the name relative to the root ("." for the root).
func CheckName(name string) (string, error) {
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("entry %q leaves the image's root", name)
	}
	abs := "/" + strings.TrimPrefix(rel, ".")
	if len(abs) >= PathMax {
		return "", fmt.Errorf("entry %.80q… is a path of %d bytes, over Linux's PATH_MAX of %d with its NUL", name, len(abs), PathMax)
	}
	for rest := abs[1:]; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		if len(c) > NameMax {
			return "", fmt.Errorf("entry %.80q… has a name of %d bytes, over Linux's NAME_MAX of %d", name, len(c), NameMax)
		}
	}
	return rel, nil
}

// Apply applies one entry of the current layer.
func (t *Tree[T]) Apply(h *tar.Header) (*Node[T], Kind, error) {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil, Skipped, nil // PAX global records (git archive writes them): no file
	}
	name, err := CheckName(h.Name)
	if err != nil {
		return nil, 0, err
	}
	// Docker and podman keep layers as tar-split, which refuses a name
	// twice in one layer, compared after filepath.Clean.
	if raw := path.Clean(h.Name); t.seen[raw] {
		return nil, 0, fmt.Errorf("entry %q appears twice in the layer", h.Name)
	} else {
		t.seen[raw] = true
	}
	switch h.Typeflag {
	case tar.TypeSymlink:
		if len(h.Linkname) >= PathMax {
			return nil, 0, fmt.Errorf("symlink %q has a target of %d bytes, over Linux's PATH_MAX of %d", h.Name, len(h.Linkname), PathMax-1)
		}
	case tar.TypeLink:
		if _, err := CheckName(h.Linkname); err != nil {
			return nil, 0, fmt.Errorf("hard link %q: %w", h.Name, err)
		}
	}
	if name == "." {
		if h.Typeflag != tar.TypeDir {
			return nil, 0, fmt.Errorf("entry %q replaces the root directory with a non-directory", h.Name)
		}
		t.Root.named = t.gen
		return t.Root, Merged, nil
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	// The engines make the parent first, whatever the entry is.
	parent, viaLink, err := t.parentOf(dir)
	if err != nil && !viaLink {
		return nil, 0, fmt.Errorf("entry %q: resolving %q: %w", h.Name, dir, err)
	}
	// AUFS metadata, recognised by the engines at the root of a relative
	// name only: skipped, but files of .wh..wh.plnk are hard link targets.
	if strings.HasPrefix(path.Clean(h.Name), metaPrefix) && base != OpaqueMarker {
		if first, _, _ := strings.Cut(path.Clean(h.Name), "/"); first == plinkDir && isRegular(h) {
			n := &Node[T]{Type: tar.TypeReg, made: t.gen, named: t.gen}
			t.plinks[base] = n
			return n, Plink, nil
		}
		return nil, Skipped, nil
	}
	switch hidden, isWhiteout := strings.CutPrefix(base, WhiteoutPrefix); {
	case base == OpaqueMarker:
		// Docker walks the directory without following it: through a
		// symlink, or on a non-directory, the marker does nothing.
		if !viaLink && parent.Children != nil {
			t.prune(parent)
		}
		return nil, Skipped, nil
	case isWhiteout:
		if hidden == "" || hidden == "." || hidden == ".." {
			// Docker removes the directory itself or its parent (at the
			// root: "device or resource busy"); overlay2 and podman fail too.
			return nil, 0, fmt.Errorf("whiteout %q names no file (%q): docker load and podman load refuse it", h.Name, path.Join(dir, hidden))
		}
		if errors.Is(err, errNotExist) {
			return nil, Skipped, nil // under a symlink to nothing: nothing to delete
		}
		if err == nil && parent.Children == nil {
			err = errNotDir
		}
		if err != nil {
			return nil, 0, fmt.Errorf("whiteout %q: resolving %q: %w", h.Name, dir, err)
		}
		return nil, Skipped, t.whiteout(parent, dir, hidden, h.Name)
	}
	if err == nil && parent.Children == nil {
		err = errNotDir
	}
	if err != nil {
		return nil, 0, fmt.Errorf("entry %q: resolving %q: %w", h.Name, dir, err)
	}
	var n *Node[T]
	kind := Created
	switch h.Typeflag {
	case tar.TypeLink:
		target, err := t.linkTarget(h)
		if err != nil {
			return nil, 0, err
		}
		if parent.Children[base] == target {
			return nil, 0, fmt.Errorf("hard link %q points to itself", h.Name)
		}
		n = &Node[T]{Type: target.Type, Link: target.Link, Data: target.Data}
		kind = Linked
	case tar.TypeDir:
		if old := parent.Children[base]; old != nil && old.Children != nil {
			old.named = t.gen
			t.touch(old, parent)
			return old, Merged, nil
		}
		n = &Node[T]{Type: tar.TypeDir, Children: map[string]*Node[T]{}, parent: parent}
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		n = &Node[T]{Type: tar.TypeReg}
	case tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		n = &Node[T]{Type: h.Typeflag, Link: h.Linkname}
		if h.Typeflag != tar.TypeSymlink {
			n.Link = ""
		}
	default:
		return nil, 0, fmt.Errorf("entry %q has unsupported type %q", h.Name, h.Typeflag)
	}
	n.made, n.named = t.gen, t.gen
	parent.Children[base] = n
	t.touch(n, parent)
	return n, kind, nil
}

func isRegular(h *tar.Header) bool {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		return true
	}
	return false
}

// touch marks n and the directories above it (parent first) as written
// by this layer.
func (t *Tree[T]) touch(n, parent *Node[T]) {
	n.touched = t.gen
	for d := parent; d.touched != t.gen; d = d.parent {
		d.touched = t.gen
	}
}

// parentOf finds the directory dir (an entry's parent), making missing
// directories as the engines' MkdirAll does. When its last component is a
// symlink that does not lead to a directory, viaLink is set with the error
// (what that means depends on the entry); viaLink is also set when it
// leads to one.
func (t *Tree[T]) parentOf(dir string) (n *Node[T], viaLink bool, err error) {
	if dir == "" {
		return t.Root, false, nil
	}
	grand, last := path.Split(dir)
	g, err := t.resolve(t.Root, strings.TrimSuffix(grand, "/"), true, new(int))
	if err != nil {
		return nil, false, err
	}
	n = g.Children[last]
	if n == nil {
		return t.mkdir(g, last), false, nil
	}
	if n.Type != tar.TypeSymlink {
		return n, false, nil
	}
	r, err := t.follow(g, n, new(int))
	return r, true, err
}

func (t *Tree[T]) mkdir(parent *Node[T], name string) *Node[T] {
	n := &Node[T]{Type: tar.TypeDir, Data: t.newDir(), Children: map[string]*Node[T]{}, parent: parent, made: t.gen}
	parent.Children[name] = n
	t.touch(n, parent)
	return n
}

// resolve walks a cleaned relative path from dir, following every symlink.
// With create, missing directories are made (a symlink to nothing is still
// an error, as for mkdir -p).
func (t *Tree[T]) resolve(dir *Node[T], p string, create bool, links *int) (*Node[T], error) {
	n := dir
	for rest := p; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		switch c {
		case "", ".":
			continue
		case "..":
			n = n.parent
			continue
		}
		if n.Children == nil {
			return nil, errNotDir
		}
		child := n.Children[c]
		if child == nil {
			if !create {
				return nil, errNotExist
			}
			child = t.mkdir(n, c)
		}
		if child.Type == tar.TypeSymlink {
			r, err := t.follow(n, child, links)
			if err != nil {
				return nil, err
			}
			child = r
		}
		n = child
	}
	if n.Children == nil {
		return nil, errNotDir
	}
	return n, nil
}

// follow resolves symlink s found in dir to the directory it names.
func (t *Tree[T]) follow(dir, s *Node[T], links *int) (*Node[T], error) {
	if *links++; *links > MaxSymlinks {
		return nil, errLoop
	}
	start := dir
	if strings.HasPrefix(s.Link, "/") {
		start = t.Root
	}
	return t.resolve(start, s.Link, false, links)
}

// Lookup finds a path (relative to the root) following every symlink, nil
// when it does not resolve.
func (t *Tree[T]) Lookup(p string) *Node[T] {
	dir, base := path.Split(strings.Trim(path.Clean("/"+p), "/"))
	d, err := t.resolve(t.Root, strings.TrimSuffix(dir, "/"), false, new(int))
	if err != nil {
		return nil
	}
	if base == "" {
		return d
	}
	n := d.Children[base]
	if n != nil && n.Type == tar.TypeSymlink {
		if n, err = t.follow(d, n, new(int)); err != nil {
			return nil
		}
	}
	return n
}

// whiteout deletes dir/hidden, as the engines' RemoveAll does.
func (t *Tree[T]) whiteout(parent *Node[T], dir, hidden, name string) error {
	n := parent.Children[hidden]
	if n == nil {
		return nil
	}
	if n.touched == t.gen {
		// vfs deletes what the layer just wrote, overlay2 refuses it.
		return fmt.Errorf("whiteout %q deletes %q, which the same layer wrote (Docker's overlay2 driver refuses it)", name, path.Join(dir, hidden))
	}
	delete(parent.Children, hidden)
	return nil
}

// prune deletes what d holds that this layer did not list, at every depth
// (an opaque marker).
func (t *Tree[T]) prune(d *Node[T]) {
	for name, c := range d.Children {
		if c.named != t.gen {
			delete(d.Children, name)
			continue
		}
		if c.Children != nil {
			t.prune(c)
		}
	}
}

// linkTarget finds the file a hard link names, relative to the root, its
// last component not followed (as link(2)).
func (t *Tree[T]) linkTarget(h *tar.Header) (*Node[T], error) {
	target, _ := CheckName(h.Linkname)
	if first, _, _ := strings.Cut(path.Clean(h.Linkname), "/"); first == plinkDir {
		if n := t.plinks[path.Base(target)]; n != nil {
			return n, nil
		}
		return nil, fmt.Errorf("hard link %q points to %q, which this layer's .wh..wh.plnk does not hold", h.Name, h.Linkname)
	}
	dir, base := path.Split(target)
	var n *Node[T]
	if d, err := t.resolve(t.Root, strings.TrimSuffix(dir, "/"), false, new(int)); err == nil && target != "." {
		n = d.Children[base]
	}
	switch {
	case n == nil:
		return nil, fmt.Errorf("hard link %q points to %q, which is not in the layer before it (docker load fails: no such file or directory)", h.Name, h.Linkname)
	case n.Children != nil:
		return nil, fmt.Errorf("hard link %q points to directory %q", h.Name, h.Linkname)
	case n.named != t.gen:
		// vfs links to a lower layer's file, overlay2 (Docker's default)
		// extracts each layer on its own and does not find it.
		return nil, fmt.Errorf("hard link %q points to %q of a lower layer (Docker's overlay2 driver refuses it: no such file or directory)", h.Name, h.Linkname)
	}
	return n, nil
}
