package closure

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRefScanner(t *testing.T) {
	store := "/nix/store"
	hash := func(c byte) string { return strings.Repeat(string(c), 32) }
	hello := store + "/" + hash('a') + "-hello"
	glibc := store + "/" + hash('b') + "-glibc"
	unused := store + "/" + hash('c') + "-unused"
	inFile := store + "/" + hash('d') + "-data"
	graph := []Path{{Path: glibc}, {Path: hello, References: []string{glibc}}, {Path: inFile}, {Path: unused}}

	// Only what the closure lacks is a candidate.
	if c := Candidates(store, []Path{{Path: hello}}, graph); len(c) != 3 || c[hash('a')] != "" {
		t.Errorf("candidates = %v", c)
	}
	s := NewRefScanner(store, Candidates(store, nil, graph))
	s.Bytes([]byte(hello + "/bin/hello"))
	// A reference across the file scanner's 1 MiB chunks.
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", 1<<20-10)+inFile+"/share"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.File(big); err != nil {
		t.Fatal(err)
	}
	refs := s.Found()
	if want := []string{hello, inFile}; !slices.Equal(refs, want) {
		t.Errorf("found %v, want %v (not %s: nothing mentions it)", refs, want, unused)
	}
	z := store + "/" + hash('z') + "-z"
	var names []string
	for _, p := range WithClosures([]Path{{Path: z}}, graph, refs) {
		names = append(names, p.Path)
	}
	if want := []string{hello, glibc, inFile, z}; !slices.Equal(names, want) {
		t.Errorf("closure = %v, want %v (hello's closure and the data, sorted by path)", names, want)
	}
}
