package layered

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

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
	if err := SymlinkTree(root, []string{a, b, bare}); err != nil {
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
	if err := SymlinkTree(t.TempDir(), []string{filepath.Join(src, "missing")}); err == nil {
		t.Error("a missing content was accepted")
	}
}

func TestStorePathsIn(t *testing.T) {
	h1, h2 := "0123456789abcdfghijklmnpqrsvwxyz", "zyxwvsrqpnmlkjihgfdcba9876543210"
	byHash := map[string]string{h1: "/nix/store/" + h1 + "-hello", h2: "/nix/store/" + h2 + "-bash"}
	text := `{"Cmd":["/nix/store/` + h1 + `-hello/bin/hello","/nix/store/` + h2 + `-bash/bin/sh","/nix/store/` + h1 + `-hello/x"],"Env":["/nix/store/short"]}`
	got := storePathsIn(text, byHash)
	if !slices.Equal(got, []string{byHash[h1], byHash[h2]}) {
		t.Fatalf("storePathsIn = %v", got)
	}
}

func TestPyList(t *testing.T) {
	if got := pyList([]string{"/nix/store/a", "it's"}); got != `['/nix/store/a', 'it\'s']` {
		t.Fatalf("pyList = %s", got)
	}
}
