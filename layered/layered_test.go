package layered

import (
	"github.com/nix-dockertools/dockertools/layer"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// symlinkTree writes the contents' tree under root, as a build with a
// script does.
func symlinkTree(root string, contents []string) error {
	tree, err := contentsTree("/nix/store", contents)
	if err != nil {
		return err
	}
	return tree.write(root)
}

func TestSymlinkTree(t *testing.T) {
	src := t.TempDir()
	a, b := filepath.Join(src, "a"), filepath.Join(src, "b")
	for _, d := range []string{"a/bin", "a/share/man", "b/bin", "b/lib"} {
		os.MkdirAll(filepath.Join(src, d), 0o755)
	}
	os.WriteFile(filepath.Join(a, "bin/hello"), []byte("a"), 0o555)
	os.WriteFile(filepath.Join(a, "share/man/hello.1"), []byte("m"), 0o444)
	os.WriteFile(filepath.Join(b, "bin/hello"), []byte("b"), 0o555) // loses to a's
	os.WriteFile(filepath.Join(b, "bin/other"), []byte("o"), 0o555)
	os.Symlink("libfoo.so.1", filepath.Join(b, "lib/libfoo.so"))
	bare := filepath.Join(src, "bare-file")
	os.WriteFile(bare, []byte("x"), 0o444)

	root := t.TempDir()
	if err := symlinkTree(root, []string{a, b, bare}); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"bin/hello":         filepath.Join(a, "bin/hello"),
		"bin/other":         filepath.Join(b, "bin/other"),
		"share/man/hello.1": filepath.Join(a, "share/man/hello.1"),
		"lib/libfoo.so":     "libfoo.so.1", // links are copied as they are
		"bare-file":         bare,
	}
	for name, want := range links {
		got, err := os.Readlink(filepath.Join(root, name))
		if err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %q", name, got, err, want)
		}
	}
	for _, d := range []string{"bin", "share", "share/man", "lib"} {
		if fi, err := os.Lstat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s is not a real directory", d)
		}
	}
	if err := symlinkTree(t.TempDir(), []string{filepath.Join(src, "missing")}); err == nil {
		t.Error("a missing content was accepted")
	}
}

func TestStorePathsIn(t *testing.T) {
	h1, h2 := "0123456789abcdfghijklmnpqrsvwxyz", "zyxwvsrqpnmlkjihgfdcba9876543210"
	byHash := map[string]string{h1: "/nix/store/" + h1 + "-hello", h2: "/nix/store/" + h2 + "-bash"}
	text := `{"Cmd":["/nix/store/` + h1 + `-hello/bin/hello","/nix/store/` + h2 + `-bash/bin/sh","/nix/store/` + h1 + `-hello/x"],"Env":["/nix/store/short"]}`
	got := storePathsIn("/nix/store", text, byHash)
	if !slices.Equal(got, []string{byHash[h1], byHash[h2]}) {
		t.Fatalf("storePathsIn = %v", got)
	}
}

func TestPyList(t *testing.T) {
	if got := pyList([]string{"/nix/store/a", "it's"}); got != `['/nix/store/a', 'it\'s']` {
		t.Fatalf("pyList = %s", got)
	}
}

// Without a script the layer comes from the tree in memory; with one, from
// the tree written to disk. Both must give the same bytes.
func TestTreeEntriesMatchDisk(t *testing.T) {
	src := t.TempDir()
	for _, d := range []string{"a/bin", "a/share/man/man1", "a/a-b", "a/a.b", "b/bin", "b/lib/sub"} {
		os.MkdirAll(filepath.Join(src, d), 0o755)
	}
	for _, f := range []string{"a/bin/x", "a/share/man/man1/x.1", "a/a-b/f", "a/a.b/f", "b/bin/y", "b/lib/sub/z", "b/.hidden"} {
		os.WriteFile(filepath.Join(src, f), []byte(f), 0o444)
	}
	os.Symlink("sub", filepath.Join(src, "b/lib/link"))
	contents := []string{filepath.Join(src, "a"), filepath.Join(src, "b")}
	tree, err := contentsTree("/nix/store", contents)
	if err != nil {
		t.Fatal(err)
	}
	o := layer.Owner{Uname: "root", Gname: "root"}
	_, memory, err := layer.Digest(tree.entries(o, 1))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := symlinkTree(root, contents); err != nil {
		t.Fatal(err)
	}
	onDisk, err := layer.DirEntries(root, o, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, disk, err := layer.Digest(onDisk)
	if err != nil {
		t.Fatal(err)
	}
	if memory != disk {
		var names []string
		for _, e := range tree.entries(o, 1) {
			names = append(names, e.Name)
		}
		t.Fatalf("in-memory layer %s differs from the on-disk one %s; memory order %v", memory, disk, names)
	}
}
