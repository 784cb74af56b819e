//go:build unix

package layer

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDirEntries(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a", "b"), 3, 0o644)
	writeFile(t, filepath.Join(root, "a-b"), 3, 0o644)
	writeFile(t, filepath.Join(root, "a.b"), 3, 0o644)
	writeFile(t, filepath.Join(root, ".dot"), 1, 0o600)
	writeFile(t, filepath.Join(root, "etc", "passwd"), 20, 0o644)
	mustDo(t, os.Link(filepath.Join(root, "etc", "passwd"), filepath.Join(root, "etc", "passwd-")))
	symlink(t, "/nix/store/xxx-bash/bin", filepath.Join(root, "bin"))
	mustDo(t, os.MkdirAll(filepath.Join(root, "tmp"), 0o755))
	mustDo(t, syscall.Mkfifo(filepath.Join(root, "tmp", "fifo"), 0o600))
	want := []string{".dot", "a/", "a/b", "a-b", "a.b", "bin", "etc/", "etc/passwd", "etc/passwd-", "tmp/", "tmp/fifo"}
	wantType := map[string]byte{"a/": TypeDir, "bin": TypeSymlink, "etc/passwd-": TypeReg, "tmp/fifo": TypeFifo}
	if syscall.Mknod(filepath.Join(root, "tmp", "null"), syscall.S_IFCHR|0o666, 1<<8|3) == nil {
		want = append(want, "tmp/null")
		wantType["tmp/null"] = TypeChar
	}

	var seen []string
	override := func(rel string, _ os.FileInfo, h *Header) {
		seen = append(seen, rel)
		switch rel {
		case "etc/passwd":
			h.UID, h.GID, h.Mode = 0, 42, 0o600
		case "a.b": // fakeroot's mknod leaves an empty placeholder file
			h.Typeflag, h.Devmajor, h.Devminor = TypeBlock, 8, 1
		}
	}
	entries, err := DirEntries(root, Owner{1000, 100, "user", "users"}, 7, override)
	mustDo(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if e.MTime != 7 || e.Uname != "user" || e.Gname != "users" {
			t.Errorf("%s: owner/mtime not applied: %+v", e.Name, e.Header)
		}
		if typ, ok := wantType[e.Name]; ok && e.Typeflag != typ {
			t.Errorf("%s: type %q, want %q", e.Name, e.Typeflag, typ)
		}
		switch e.Name {
		case "tmp/null":
			if e.Devmajor != 1 || e.Devminor != 3 {
				t.Errorf("tmp/null: device %d,%d, want 1,3", e.Devmajor, e.Devminor)
			}
		case "etc/passwd":
			if e.UID != 0 || e.GID != 42 || e.Mode != 0o600 {
				t.Errorf("override not applied: %+v", e.Header)
			}
		case "a.b":
			if e.Typeflag != TypeBlock || e.Size != 0 || e.Source != "" {
				t.Errorf("override to device kept content: %+v", e)
			}
		case "etc/passwd-":
			if e.Size != 20 || e.Source == "" {
				t.Errorf("hard link not a regular file with content: %+v", e)
			}
		}
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("names\n got %q\nwant %q", names, want)
	}
	if len(seen) != len(entries) || seen[1] != "a" || seen[2] != "a/b" {
		t.Fatalf("override saw %q", seen)
	}
	out, _ := writeAll(t, entries)
	size, err := ArchiveSize(entries)
	mustDo(t, err)
	if size != int64(len(out)) {
		t.Fatalf("ArchiveSize %d, wrote %d", size, len(out))
	}
}
