package layered

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
)

func TestScriptRefs(t *testing.T) {
	store := "/nix/store"
	hash := func(c byte) string { return strings.Repeat(string(c), 32) }
	hello := store + "/" + hash('a') + "-hello"
	glibc := store + "/" + hash('b') + "-glibc"
	unused := store + "/" + hash('c') + "-unused"
	inFile := store + "/" + hash('d') + "-data"
	root := t.TempDir()
	if err := os.Symlink(hello+"/bin/hello", filepath.Join(root, "hello")); err != nil {
		t.Fatal(err)
	}
	// A reference across the scanner's 1 MiB chunks.
	big := strings.Repeat("x", 1<<20-10) + inFile + "/share"
	if err := os.WriteFile(filepath.Join(root, "big"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts := []closure.Path{
		{Path: glibc},
		{Path: hello, References: []string{glibc}},
		{Path: inFile},
		{Path: unused},
	}
	refs, err := scriptRefs(root, store, candidates(store, nil, scripts))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{hello, inFile}; !slices.Equal(refs, want) {
		t.Errorf("refs = %v, want %v (not %s: no file mentions it)", refs, want, unused)
	}
	// Only what the closure lacks is a candidate.
	if c := candidates(store, []closure.Path{{Path: hello}}, scripts); len(c) != 3 || c[hash('a')] != "" {
		t.Errorf("candidates = %v", c)
	}
	got := withScriptRefs([]closure.Path{{Path: store + "/" + hash('z') + "-z"}}, scripts, refs)
	var names []string
	for _, p := range got {
		names = append(names, p.Path)
	}
	if want := []string{hello, glibc, inFile, store + "/" + hash('z') + "-z"}; !slices.Equal(names, want) {
		t.Errorf("closure = %v, want %v (hello's closure and the data, sorted by path)", names, want)
	}
}
