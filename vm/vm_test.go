package vm

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func init() {
	Handle("test-echo", func(p json.RawMessage) (any, error) {
		var in struct{ Write, Hang string }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, err
		}
		if in.Hang != "" {
			time.Sleep(time.Hour)
		}
		b, err := os.ReadFile("/in/hello")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile("/out/written", []byte(in.Write), 0o644); err != nil {
			return nil, err
		}
		mods, _ := os.ReadFile("/proc/modules")
		return map[string]any{"read": string(b), "uid": os.Getuid(), "overlay": strings.Contains(string(mods), "overlay")}, nil
	})
}

func TestMain(m *testing.M) {
	Main() // the test binary is the guest's init too
	os.Exit(m.Run())
}

// testVM gives the kernel and QEMU that scripts/vm-deps.sh prepares.
func testVM(t *testing.T) (*Kernel, string) {
	t.Helper()
	dir := os.Getenv("DOCKERTOOLS_VM_DIR")
	if dir == "" {
		dir = "/var/cache/dockertools/vm"
	}
	k, err := FindKernel(filepath.Join(dir, "kernel"))
	if err != nil {
		t.Skipf("no VM kernel (run scripts/vm-deps.sh): %v", err)
	}
	if _, err := os.Stat("/usr/bin/qemu-system-x86_64"); err != nil {
		t.Skip("no qemu-system-x86_64")
	}
	if self, err := elf.Open("/proc/self/exe"); err == nil {
		defer self.Close()
		for _, p := range self.Progs {
			if p.Type == elf.PT_INTERP {
				t.Skip("the test binary is dynamically linked and cannot be the guest's init: test with CGO_ENABLED=0")
			}
		}
	}
	return k, "/usr/bin/qemu-system-x86_64"
}

func TestRunJob(t *testing.T) {
	k, qemu := testVM(t)
	in, out := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(in, "hello"), []byte("from the host"), 0o644)
	var console bytes.Buffer
	res, st, err := Run(Config{QEMU: qemu, Kernel: k, Modules: []string{"overlay"}, MemoryMB: 256,
		Timeout: 2 * time.Minute, Console: &console, WorkDir: t.TempDir(), Job: "test-echo",
		Payload: map[string]string{"Write": "from the guest"},
		Shares:  []Share{{Tag: "in", Path: in, Mount: "/in", ReadOnly: true}, {Tag: "out", Path: out, Mount: "/out"}}})
	if err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, console.String())
	}
	t.Logf("%s: boot %s, total %s", st.Accel, st.Boot, st.Total)
	var got struct {
		Read    string
		UID     int
		Overlay bool
	}
	json.Unmarshal(res, &got)
	if got.Read != "from the host" || got.UID != 0 || !got.Overlay {
		t.Errorf("guest result %s", res)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "written")); string(b) != "from the guest" {
		t.Errorf("the guest wrote %q", b)
	}
}

func TestTimeout(t *testing.T) {
	k, qemu := testVM(t)
	start := time.Now()
	_, _, err := Run(Config{QEMU: qemu, Kernel: k, Accel: "tcg", MemoryMB: 256, Timeout: 15 * time.Second,
		Console: &bytes.Buffer{}, WorkDir: t.TempDir(), Job: "test-echo", Payload: map[string]string{"Hang": "yes"}})
	if err == nil || !strings.Contains(err.Error(), "did not finish within 15s") {
		t.Fatalf("error = %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("stopping took until %s", d)
	}
}

func TestKernelErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := FindKernel(empty); err == nil || !strings.Contains(err.Error(), "no vmlinux, bzImage or vmlinuz*") {
		t.Errorf("FindKernel(empty dir) = %v", err)
	}
	if _, err := FindKernel(filepath.Join(empty, "missing")); err == nil {
		t.Error("FindKernel(missing) succeeded")
	}
	mods := filepath.Join(empty, "lib/modules/6.0-test")
	os.MkdirAll(mods, 0o755)
	os.WriteFile(filepath.Join(empty, "bzImage"), nil, 0o644)
	os.WriteFile(filepath.Join(mods, "modules.builtin"), []byte("kernel/fs/9p/9p.ko\n"), 0o644)
	os.WriteFile(filepath.Join(mods, "modules.dep"), []byte("kernel/a/virtio_pci.ko: kernel/a/virtio.ko\nkernel/a/virtio.ko:\n"), 0o644)
	k, err := FindKernel(empty)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.ModulesFor("virtio-pci", "9p")
	if err != nil || len(got) != 2 || !strings.HasSuffix(got[0], "virtio.ko") || !strings.HasSuffix(got[1], "virtio_pci.ko") {
		t.Errorf("ModulesFor = %v, %v; want virtio then virtio_pci (9p is built in)", got, err)
	}
	if _, err := k.ModulesFor("overlay"); err == nil || !strings.Contains(err.Error(), "has no module overlay") {
		t.Errorf("ModulesFor(overlay) = %v", err)
	}
}

// A QEMU without qboot gets its default firmware.
func TestWithoutQboot(t *testing.T) {
	k, qemu := testVM(t)
	wrapper := filepath.Join(t.TempDir(), "qemu")
	os.WriteFile(wrapper, []byte("#!/bin/sh\ncase \"$*\" in *qboot.rom*) echo 'could not load PC BIOS' >&2; exit 1;; esac\nexec "+qemu+" \"$@\"\n"), 0o755)
	in, out := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(in, "hello"), []byte("x"), 0o644)
	var console bytes.Buffer
	_, _, err := Run(Config{QEMU: wrapper, Kernel: k, Accel: "tcg", MemoryMB: 256, Timeout: time.Minute,
		Console: &console, WorkDir: t.TempDir(), Job: "test-echo", Payload: map[string]string{},
		Shares: []Share{{Tag: "in", Path: in, Mount: "/in", ReadOnly: true}, {Tag: "out", Path: out, Mount: "/out"}}})
	if err != nil || !strings.Contains(console.String(), "starting again with its default firmware") {
		t.Fatalf("%v\nconsole:\n%s", err, console.String())
	}
}
