package fakeroot

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadNames(t *testing.T) {
	store := t.TempDir() // stands in for the store
	storeFile := filepath.Join(store, "passwd")
	if err := os.WriteFile(storeFile, []byte("root:x:0:0::/:/bin/sh\nalice:x:1000:100::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(outside, []byte("mallory:x:1000:1000::/:/bin/sh\n"), 0o644)
	for _, tc := range []struct {
		name  string
		setup func(root string) error
		want  string // the name of uid 1000, or the error's text
		err   bool
	}{
		{"regular file", func(r string) error {
			return os.WriteFile(filepath.Join(r, "etc/passwd"), []byte("bob:x:1000:1::/:/bin/sh\n"), 0o644)
		}, "bob", false},
		{"no file", func(string) error { return nil }, "", false},
		{"link into the store", func(r string) error { return os.Symlink(storeFile, filepath.Join(r, "etc/passwd")) }, "alice", false},
		{"absolute link resolves in the layer", func(r string) error {
			os.WriteFile(filepath.Join(r, "real"), []byte("carol:x:1000:1::/:/bin/sh\n"), 0o644)
			return os.Symlink("/real", filepath.Join(r, "etc/passwd"))
		}, "carol", false},
		{"link out of the layer stays in", func(r string) error {
			return os.Symlink("../../../../../../../.."+outside, filepath.Join(r, "etc/passwd"))
		}, "", false},
		{"link to /dev/zero", func(r string) error {
			os.MkdirAll(filepath.Join(r, "dev"), 0o755)
			if err := syscall.Mknod(filepath.Join(r, "dev/zero"), syscall.S_IFIFO|0o644, 0); err != nil {
				return err
			}
			return os.Symlink("/dev/zero", filepath.Join(r, "etc/passwd"))
		}, "named pipe, want a regular file", true},
		{"fifo", func(r string) error { return syscall.Mkfifo(filepath.Join(r, "etc/passwd"), 0o644) }, "is a named pipe", true},
		{"directory", func(r string) error { return os.Mkdir(filepath.Join(r, "etc/passwd"), 0o755) }, "is a directory", true},
		{"too big", func(r string) error {
			f, err := os.Create(filepath.Join(r, "etc/passwd"))
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(maxNamesFile + 1)
		}, "more than the", true},
		{"link loop", func(r string) error { return os.Symlink("passwd", filepath.Join(r, "etc/passwd")) }, "more than 40 symbolic links", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(root); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var names map[int64]string
			var err error
			go func() { names, err = readNames(root, store, "etc/passwd"); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("readNames hangs")
			}
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want one saying %q", err, tc.want)
				}
				return
			}
			if err != nil || names[1000] != tc.want {
				t.Errorf("uid 1000 = %q (err %v), want %q", names[1000], err, tc.want)
			}
		})
	}
}
