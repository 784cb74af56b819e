package layer

import (
	"slices"
	"testing"
)

func TestMerge(t *testing.T) {
	d := func(n string, mode int64) Entry { return Entry{Header: Header{Name: n, Typeflag: TypeDir, Mode: mode}} }
	f := func(n string) Entry { return Entry{Header: Header{Name: n, Typeflag: TypeReg, Mode: 0o644}} }
	l := func(n, to string) Entry { return Entry{Header: Header{Name: n, Typeflag: TypeSymlink, Linkname: to}} }
	tree := []Entry{d("bin/", 0o555), f("bin/sh"), d("etc/", 0o755), f("etc/x"), d("nix/", 0o700), f("a-b")}
	store := []Entry{d("/nix/", 0o755), d("/nix/store/", 0o755), f("/nix/store/h-p")}
	later := []Entry{l("etc", "/nix/store/h-p"), f("bin/sh"), d("./nix/var/", 0o755)}
	got := Merge(tree, store, later)
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
	}
	want := []string{"a-b", "bin/", "bin/sh", "etc", "nix/", "/nix/store/", "/nix/store/h-p", "./nix/var/"}
	if !slices.Equal(names, want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
	if got[4].Mode != 0o700 {
		t.Fatalf("the first directory's header should stay: %+v", got[4])
	}
	if got[3].Typeflag != TypeSymlink {
		t.Fatalf("a later link should replace a directory: %+v", got[3])
	}
}

func TestComparePaths(t *testing.T) {
	paths := []string{"a-b", "a/b", "a", "a/b/c", "b", "a.b"}
	slices.SortFunc(paths, comparePaths)
	want := []string{"a", "a/b", "a/b/c", "a-b", "a.b", "b"}
	if !slices.Equal(paths, want) {
		t.Fatalf("%q", paths)
	}
}
