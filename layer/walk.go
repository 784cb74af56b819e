package layer

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// StoreEntries walks store paths (in the given order) and returns the
// entries of a store layer in nixpkgs' order, with o and mtime applied, hard
// links turned into regular files. It does not read file contents (lstat
// only).
//
// The layer starts with storeDir and each directory above it (/nix/ and
// /nix/store/ for the usual store; mode 0755) because Docker tooling
// expects those directories before any store path. Each store path
// contributes itself and, if it is a real directory (not a symlink), its
// whole subtree, sorted the way pathlib sorts paths. Entry names are the
// absolute paths as given, so real store paths yield <storeDir>/... names.
func StoreEntries(storeDir string, paths []string, o Owner, mtime int64) ([]Entry, error) {
	w := walker{o: o, mtime: mtime}
	for _, name := range storeDirEntries(storeDir) {
		w.entries = append(w.entries, Entry{Header: Header{Name: name, Typeflag: TypeDir, Mode: 0o755}})
		w.stamp(&w.entries[len(w.entries)-1].Header)
	}
	for _, p := range paths {
		src := cleanPath(p)
		// gettarinfo strips leading slashes, nixpkgs puts exactly one back.
		name := "/" + strings.TrimLeft(src, "/")
		if err := w.walk(src, name, ""); err != nil {
			return nil, err
		}
	}
	return w.entries, nil
}

// storeDirEntries names storeDir and its parents, outermost first:
// "/nix/store" gives "/nix/", "/nix/store/".
func storeDirEntries(storeDir string) []string {
	var names []string
	dir := "/"
	for _, part := range strings.Split(strings.Trim(storeDir, "/"), "/") {
		if part == "" {
			continue
		}
		dir += part + "/"
		names = append(names, dir)
	}
	return names
}

// PathEntries walks src, which may be a file, a link or a directory tree,
// like StoreEntries walks one store path: the entries are named name and
// name/..., in the same order, with o and mtime applied.
func PathEntries(src, name string, o Owner, mtime int64) ([]Entry, error) {
	w := walker{o: o, mtime: mtime}
	if err := w.walk(cleanPath(src), name, ""); err != nil {
		return nil, err
	}
	return w.entries, nil
}

// DirEntries walks a directory tree (the "customisation layer") and returns
// entries named relative to root (no leading "/" or "./"; directories end in
// "/"; the root itself is not an entry), sorted component-wise, with o and
// mtime applied, hard links written as regular files, device nodes and fifos
// kept as such.
//
// override, if not nil, is called for every entry with its on-disk path
// relative to root (no trailing slash) and what Lstat said of it, after o
// and mtime were applied, so a caller can replay what fakeroot recorded
// (owner, mode, type) or keep real owners. Changing an entry away from a
// regular file drops its content; names are not re-sorted.
func DirEntries(root string, o Owner, mtime int64, override func(rel string, fi os.FileInfo, h *Header)) ([]Entry, error) {
	w := walker{o: o, mtime: mtime, override: override}
	root = cleanPath(root)
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("reading layer root %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("layer root %s is not a directory", root)
	}
	names, err := readSortedNames(root)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := w.walk(joinPath(root, n), n, n); err != nil {
			return nil, err
		}
	}
	return w.entries, nil
}

type walker struct {
	o        Owner
	mtime    int64
	override func(rel string, fi os.FileInfo, h *Header)
	entries  []Entry
}

func (w *walker) stamp(h *Header) {
	h.UID, h.GID = w.o.UID, w.o.GID
	h.Uname, h.Gname = w.o.Uname, w.o.Gname
	h.MTime = w.mtime
}

// walk emits src and, for real directories, its children depth-first with
// siblings sorted: that is exactly pathlib's component-wise order of the
// whole subtree, without building and sorting one big list. rel is only
// used for the override hook.
func (w *walker) walk(src, name, rel string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	e, err := entryFor(src, name, fi)
	if err != nil {
		return err
	}
	w.stamp(&e.Header)
	if w.override != nil {
		w.override(rel, fi, &e.Header)
		if e.Typeflag != TypeReg {
			e.Source, e.Size = "", 0
		}
	}
	w.entries = append(w.entries, e)
	if !fi.IsDir() {
		return nil
	}
	names, err := readSortedNames(src)
	if err != nil {
		return err
	}
	for _, n := range names {
		childRel := n
		if rel != "" {
			childRel = rel + "/" + n
		}
		if err := w.walk(joinPath(src, n), joinPath(name, n), childRel); err != nil {
			return err
		}
	}
	return nil
}

// entryFor builds the header gettarinfo would: every regular file is a '0'
// entry with its own content (a second hard link gets the same treatment as
// the first, which is what nixpkgs does after undoing tarfile's link
// detection), sockets are refused like CPython refuses them.
func entryFor(src, name string, fi os.FileInfo) (Entry, error) {
	e := Entry{Header: Header{Name: name, Mode: permBits(fi)}}
	m := fi.Mode()
	switch {
	case m.IsRegular():
		e.Typeflag, e.Size, e.Source = TypeReg, fi.Size(), src
	case m.IsDir():
		e.Typeflag = TypeDir
		if !strings.HasSuffix(e.Name, "/") {
			e.Name += "/"
		}
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return e, fmt.Errorf("reading symlink %s: %w", src, err)
		}
		e.Typeflag, e.Linkname = TypeSymlink, target
	case m&fs.ModeNamedPipe != 0:
		e.Typeflag = TypeFifo
	case m&fs.ModeDevice != 0:
		e.Typeflag = TypeBlock
		if m&fs.ModeCharDevice != 0 {
			e.Typeflag = TypeChar
		}
		major, minor, err := deviceNumbers(src, fi)
		if err != nil {
			return e, err
		}
		e.Devmajor, e.Devminor = major, minor
	default:
		return e, fmt.Errorf("adding %s to layer: unsupported file type %v", src, m.Type())
	}
	return e, nil
}

func readSortedNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("opening directory %s: %w", dir, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("listing directory %s: %w", dir, err)
	}
	slices.SortFunc(names, comparePyStr)
	return names, nil
}

func joinPath(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// cleanPath normalises like pathlib.PurePosixPath: repeated slashes and "."
// components vanish, ".." is kept (pathlib never resolves it), and a
// trailing slash is dropped.
func cleanPath(p string) string {
	if p == "" {
		return "."
	}
	var b strings.Builder
	if p[0] == '/' {
		b.WriteByte('/')
	}
	first := true
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." {
			continue
		}
		if !first {
			b.WriteByte('/')
		}
		b.WriteString(part)
		first = false
	}
	if b.Len() == 0 {
		return "."
	}
	if s := b.String(); s != p {
		return s
	}
	return p
}

// comparePyStr orders file names the way Python orders the str objects
// os.fsdecode makes of them: by code point, where each byte that is not
// valid UTF-8 stands for the surrogate U+DC80..U+DCFF. For valid UTF-8 that
// equals byte order; it differs only when such bytes meet characters
// above U+DCFF.
func comparePyStr(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) {
		ca, cb := a[i], b[i]
		if ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			if ca != cb {
				return int(ca) - int(cb)
			}
			i++
			continue
		}
		ra, size := pyRune(a[i:])
		rb, _ := pyRune(b[i:])
		if ra != rb {
			return int(ra) - int(rb)
		}
		// Equal code points come from equal byte sequences, so both
		// strings advance by the same amount.
		i += size
	}
	return len(a) - len(b)
}

func pyRune(s string) (rune, int) {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		return 0xDC00 + rune(s[0]), 1
	}
	return r, size
}

// fallbackPerm rebuilds st_mode permission bits from fs.FileMode where no
// raw stat data is available.
func fallbackPerm(fi os.FileInfo) int64 {
	m := fi.Mode()
	perm := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	return perm
}

// SortedNames returns a directory's names (the keys of m) in the order of
// CompareNames, for callers that build trees in memory.
func SortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.SortFunc(names, comparePyStr)
	return names
}

// CompareNames orders sibling names as every layer here orders them
// (pathlib's order), for callers that build entries without a directory on
// disk.
func CompareNames(a, b string) int { return comparePyStr(a, b) }
