//go:build linux && amd64

package fakeroot

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nix-dockertools/dockertools/layer"
)

func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

const busybox = "/bin/busybox"

// run runs script with busybox's sh in a fresh layer directory (busybox
// copied into it for the chroot) and returns the table, output and dir.
func run(t *testing.T, chroot bool, script string) (*Table, string, string, error) {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("no static busybox at " + busybox)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	if err := exec.Command("cp", busybox, filepath.Join(dir, "bin/busybox")).Run(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nusers:x:100:\nwheel:x:10:\n"), 0o644)
	sh := busybox
	if chroot {
		sh = "/bin/busybox"
	}
	var out bytes.Buffer
	tab, err := Run(Options{Attr: "fakeRootCommands", Dir: dir, Chroot: chroot, StoreDir: "/nix/store",
		Argv:   []string{sh, "sh", "-e", "-c", script},
		Env:    []string{"PATH=/bin"},
		Stdout: &out, Stderr: &out})
	return tab, out.String(), dir, err
}

func TestOwnershipModesAndDevices(t *testing.T) {
	script := `
busybox mkdir -p home/alice data
busybox touch home/alice/file suid sgid plain
busybox chown alice:users home/alice
busybox chown 1000:100 home/alice/file
busybox chown -h 5:6 bin
busybox chgrp wheel data
busybox chmod 4755 suid
busybox chmod 2711 sgid
busybox chmod 0640 plain
busybox mknod null c 1 3
busybox mknod sda b 8 0
busybox ls -ln home/alice/file suid sgid plain null sda
busybox stat -c '%n %u:%g %a %F %t,%T' home/alice home/alice/file data suid sgid plain null sda
`
	for _, chroot := range []bool{false, true} {
		t.Run(map[bool]string{false: "fakeroot", true: "fakechroot"}[chroot], func(t *testing.T) {
			tab, out, dir, err := run(t, chroot, script)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, want := range []string{
				"home/alice 1000:100 755 directory",
				"home/alice/file 1000:100 644 regular",
				"data 0:10 755 directory",
				"suid 0:0 4755 regular",
				"sgid 0:0 2711 regular",
				"plain 0:0 640 regular",
				"null 0:0 644 character special file 1,3",
				"sda 0:0 644 block special file 8,0",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("stat inside the script: no %q in\n%s", want, out)
				}
			}
			if !strings.Contains(out, "-rwsr-xr-x") || !strings.Contains(out, "crw-r--r--") {
				t.Errorf("ls -ln inside the script:\n%s", out)
			}
			entries, err := layer.DirEntries(dir, layer.Owner{Uname: "root", Gname: "root"}, 1, mustOverride(t, tab, dir))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, e := range entries {
				got[e.Name] = headerString(e.Header)
			}
			for name, want := range map[string]string{
				"home/alice/":     "5 1000:100 alice:users 755",
				"home/alice/file": "0 1000:100 alice:users 644",
				"data/":           "5 0:10 root:wheel 755",
				"suid":            "0 0:0 root:root 4755",
				"sgid":            "0 0:0 root:root 2711",
				"plain":           "0 0:0 root:root 640",
				"null":            "3 0:0 root:root 644 1,3",
				"sda":             "4 0:0 root:root 644 8,0",
				"bin/":            "5 5:6 : 755",
				"etc/":            "5 0:0 root:root 755",
			} {
				if got[name] != want {
					t.Errorf("%s: header %q, want %q", name, got[name], want)
				}
			}
			for _, mp := range []string{"nix", "dev", "proc"} {
				if _, ok := got[mp+"/"]; ok {
					t.Errorf("mount point %s left in the layer", mp)
				}
			}
		})
	}
}

func headerString(h layer.Header) string {
	s := fmt.Sprintf("%c %d:%d %s:%s %o", h.Typeflag, h.UID, h.GID, h.Uname, h.Gname, h.Mode)
	if h.Typeflag == layer.TypeChar || h.Typeflag == layer.TypeBlock {
		s += fmt.Sprintf(" %d,%d", h.Devmajor, h.Devminor)
	}
	return s
}

func TestChrootView(t *testing.T) {
	if _, err := os.Stat("/nix/store"); err != nil {
		t.Skip("no /nix/store on this machine")
	}
	_, out, dir, err := run(t, true, `
busybox pwd
busybox test -c /dev/null && echo dev-ok
busybox test -r /proc/self/stat && echo proc-ok
busybox test -d /nix/store && echo store-ok
if busybox touch /nix/store/fakeroot-test 2>/dev/null; then echo store-writable; fi
busybox mkdir /installed
f=$(busybox mktemp) && echo "tmp-ok $f $TMPDIR"
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"/\n", "dev-ok", "proc-ok", "store-ok", "tmp-ok /tmp/"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "store-writable") {
		t.Errorf("/nix/store is writable inside the chroot")
	}
	if _, err := os.Stat(filepath.Join(dir, "installed")); err != nil {
		t.Errorf("/installed did not land in the layer: %v", err)
	}
	for _, mp := range []string{"tmp", "dev", "proc", "nix"} {
		if _, err := os.Lstat(filepath.Join(dir, mp)); err == nil {
			t.Errorf("the mount point /%s was left in the layer", mp)
		}
	}
}

// A layer's own /tmp is the script's: what it writes there stays.
func TestChrootOwnTmp(t *testing.T) {
	if _, err := os.Stat("/nix/store"); err != nil {
		t.Skip("no /nix/store on this machine")
	}
	_, out, dir, err := run(t, true, "true") // a layer with busybox in it
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(Options{Attr: "fakeRootCommands", Dir: dir, Chroot: true, StoreDir: "/nix/store",
		Argv: []string{"/bin/busybox", "sh", "-c", "echo kept > /tmp/x"}, Env: []string{"PATH=/bin"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp/x")); err != nil {
		t.Errorf("the file written to the layer's own /tmp is gone: %v", err)
	}
}

// A deleted file's record must not stick to a new file that gets its
// inode number.
func TestRemovedFilesForgotten(t *testing.T) {
	tab, out, dir, err := run(t, false, `
for i in 1 2 3 4 5 6 7 8; do busybox touch f$i; busybox chown 1000:1000 f$i; busybox rm f$i; busybox touch g$i; done
busybox mkdir d; busybox chown 7 d; busybox rmdir d; busybox mkdir e
busybox touch x y; busybox chown 9 x; busybox mv y x
busybox stat -c '%n %u' g1 g8 e x
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"g1 0", "g8 0", "e 0", "x 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	entries, err := layer.DirEntries(dir, layer.Owner{}, 1, mustOverride(t, tab, dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: owner %d:%d, want 0:0", e.Name, e.UID, e.GID)
		}
	}
}

// A failing script fails the run with its status and output, and leaves
// nothing running.
func TestFailingScript(t *testing.T) {
	_, out, dir, err := run(t, true, `(busybox sleep 0.3; busybox touch /late) &
echo about to fail >&2
exit 3`)
	if err == nil || !strings.Contains(err.Error(), "fakeRootCommands failed with exit status 3") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out, "about to fail") {
		t.Errorf("output lost: %q", out)
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "late")); err == nil {
		t.Errorf("a background process of the script kept running")
	}
}

func TestBadProgram(t *testing.T) {
	_, err := Run(Options{Attr: "fakeRootCommands", Dir: t.TempDir(), Argv: []string{"/nonexistent/sh", "-c", "true"}, Stdout: io.Discard, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "fakeRootCommands") {
		t.Fatalf("err = %v", err)
	}
}

// go test -bench . ./fakeroot: 10,000 chown and stat processes, plain and
// under the fake root (ratio = the cost of tracing).
// benchmarkScript compares script run with the fake root against the same
// script in a plain user namespace (as root there, so chown to 0 works),
// where plain is the script with its chown to another owner changed.
func benchmarkScript(b *testing.B, script, plain string) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	b.Run("plain-userns", func(b *testing.B) {
		for range b.N {
			c := exec.Command(busybox, "sh", "-c", plain)
			c.Dir = dir
			c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}}
			if out, err := c.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
		}
	})
	b.Run("fakeroot", func(b *testing.B) {
		for range b.N {
			if _, err := Run(Options{Attr: "bench", Dir: dir, Argv: []string{busybox, "sh", "-c", script},
				Env: []string{"PATH=/bin"}, Stdout: io.Discard}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChownStat: 10,000 chowns and 10,000 stats, each a process.
func BenchmarkChownStat(b *testing.B) {
	script := `i=0; while [ $i -lt 10000 ]; do busybox chown 1000:1000 f; busybox stat -c %u f >/dev/null; i=$((i+1)); done`
	benchmarkScript(b, script, strings.ReplaceAll(script, "chown 1000:1000", "chown 0:0"))
}

// BenchmarkChownStatFiles does as many calls (and an rm -r) in a few
// processes: the cost of the traced calls themselves.
func BenchmarkChownStatFiles(b *testing.B) {
	script := `busybox mkdir d; cd d; i=0; while [ $i -lt 10000 ]; do : > f$i; i=$((i+1)); done; cd ..
busybox chown -R 1000:1000 d; busybox stat -c %u d/* | busybox tail -n1; busybox rm -r d`
	benchmarkScript(b, script, strings.ReplaceAll(script, "chown -R 1000:1000", "chown -R 0:0"))
}

func mustOverride(t *testing.T, tab *Table, dir string) func(string, os.FileInfo, *layer.Header) {
	t.Helper()
	f, err := tab.Override(dir, "/nix/store")
	if err != nil {
		t.Fatal(err)
	}
	return f
}
