package layered

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/nix-dockertools/dockertools/fakeroot"
)

func TestMain(m *testing.M) {
	fakeroot.Main() // the fake root's processes are this test binary again
	os.Exit(m.Run())
}

// The customisation layer carries what fakeRootCommands set, after
// extraCommands ran; untouched files stay root's.
func TestFakeRootCommandsInLayer(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("fakeRootCommands is implemented on amd64 only")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static /bin/busybox")
	}
	tools := t.TempDir()
	os.Mkdir(filepath.Join(tools, "bin"), 0o755)
	for _, a := range []string{"sh", "mkdir", "chown", "chmod", "mknod", "touch"} {
		if err := os.Symlink("/bin/busybox", filepath.Join(tools, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	// With enableFakechroot the shell would have to be in /nix/store;
	// package fakeroot and the Nix tests cover that mode.
	const chroot = false
	{
		o := &Options{
			ExtraCommands:    "mkdir data; touch plain",
			FakeRootCommands: "chown 1000:100 data; chmod 4755 plain; mknod null c 1 3",
			EnableFakechroot: chroot,
			ScriptTools:      []string{tools},
			WorkDir:          t.TempDir(),
		}
		conf := &Conf{MTime: 1}
		name, _, err := customisationLayer(o, conf, nil, nil)
		if err != nil {
			t.Fatalf("chroot=%v: %v", chroot, err)
		}
		got := map[string]tar.Header{}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			got[h.Name] = *h
		}
		f.Close()
		check := func(name string, typ byte, uid, gid int, mode int64) {
			h, ok := got[name]
			if !ok {
				t.Errorf("chroot=%v: no %s in %v", chroot, name, got)
				return
			}
			if h.Typeflag != typ || h.Uid != uid || h.Gid != gid || h.Mode != mode {
				t.Errorf("chroot=%v: %s = type %c %d:%d %o, want type %c %d:%d %o", chroot, name, h.Typeflag, h.Uid, h.Gid, h.Mode, typ, uid, gid, mode)
			}
		}
		check("data/", tar.TypeDir, 1000, 100, 0o755)
		check("plain", tar.TypeReg, 0, 0, 0o4755)
		check("null", tar.TypeChar, 0, 0, 0o644)
		if h := got["null"]; h.Devmajor != 1 || h.Devminor != 3 {
			t.Errorf("chroot=%v: null is %d,%d, want 1,3", chroot, h.Devmajor, h.Devminor)
		}
		for _, mp := range []string{"proc/", "dev/", "nix/"} {
			if _, ok := got[mp]; ok {
				t.Errorf("chroot=%v: the mount point %s was left in the layer", chroot, mp)
			}
		}
	}
}
