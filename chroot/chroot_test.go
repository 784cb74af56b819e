package chroot

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPrepareApplyRemove(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "tmp"), 0o755) // the root's own /tmp
	os.WriteFile(filepath.Join(root, "dev"), nil, 0o644)
	var mounted []string
	do := func(target string) error { mounted = append(mounted, target); return nil }
	mounts := []Mount{{Path: "nix/store", Do: do}, {Path: "dev", Do: do}, {Path: "proc", Do: do}, {Path: "tmp", Scratch: true, Do: do}, {Path: "run", Scratch: true, Do: do}}
	made, err := Prepare(root, mounts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"nix", "nix/store", "proc", "run"}
	for i := range want {
		want[i] = filepath.Join(root, want[i])
	}
	if !slices.Equal(made, want) {
		t.Errorf("made %v, want %v", made, want)
	}
	if err := Apply(root, mounts, made); err != nil {
		t.Fatal(err)
	}
	// dev is a file of the root's: left alone; tmp is the root's own: not a scratch mount.
	if w := []string{want[1], want[2], want[3]}; !slices.Equal(mounted, w) {
		t.Errorf("mounted %v, want %v", mounted, w)
	}
	os.WriteFile(filepath.Join(root, "proc", "kept"), nil, 0o644)
	Remove(made)
	for _, name := range []string{"nix", "run"} {
		if _, err := os.Lstat(filepath.Join(root, name)); err == nil {
			t.Errorf("%s was left behind", name)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "proc", "kept")); err != nil {
		t.Errorf("a mount point with content was removed: %v", err)
	}
}
