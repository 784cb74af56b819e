//go:build linux && amd64

package fakeroot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nix-dockertools/dockertools/chroot"
)

// The builder re-executes itself (/proc/self/exe) with these first
// arguments for the two processes of a run: the supervisor, inside the
// new namespaces, and the stub that loads the seccomp filter and executes
// the script's shell.
const (
	superviseArg = "__fakeroot"
	execArg      = "__fakeroot-exec"
)

// config is what Run passes to the supervisor (on fd 3); the supervisor
// writes the Table as JSON to fd 4 once the script ended.
type config struct {
	Dir      string
	Chroot   bool
	StoreDir string   // borrowed by the chroot
	Made     []string // the mount points Run made in Dir (absolute paths)
	Argv     []string
	Env      []string
}

// Main runs the supervisor or the stub when this process is one and does
// not return then; otherwise it returns at once. The builder's main calls
// it first (and test binaries that run Run, from TestMain).
func Main() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case superviseArg:
		os.Exit(supervise())
	case execArg:
		err := execTraced(os.Args[2:])
		fmt.Fprintf(os.Stderr, "fakeroot: %v\n", err)
		os.Exit(126)
	}
}

func supervise() int {
	runtime.LockOSThread() // ptrace requests must come from the tracing thread
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "fakeroot: %v\n", err)
		return 125
	}
	in, out := os.NewFile(3, "config"), os.NewFile(4, "result")
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	var c config
	if err := json.NewDecoder(in).Decode(&c); err != nil {
		return fail(fmt.Errorf("reading the configuration: %w", err))
	}
	dir := c.Dir
	if err := mountNamespace(&c); err != nil {
		return fail(err)
	}
	if c.Chroot {
		dir = "/"
	}
	pinToThisCPU()
	pid, err := syscall.ForkExec("/proc/self/exe", append([]string{"fakeroot", execArg}, c.Argv...), &syscall.ProcAttr{
		Dir: dir, Env: c.Env, Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Ptrace: true},
	})
	if err != nil {
		if c.Chroot && errors.Is(err, syscall.ENOENT) {
			err = fmt.Errorf("%w (with enableFakechroot the script sees the layer as / and the Nix store, nothing else of the build)", err)
		}
		return fail(fmt.Errorf("starting %s: %w", c.Argv[0], err))
	}
	t := &tracer{rec: records{}}
	ws, err := t.run(pid)
	if err != nil {
		return fail(err)
	}
	status := ws.ExitStatus()
	if ws.Signaled() {
		status = 128 + int(ws.Signal())
	}
	if err := json.NewEncoder(out).Encode(t.rec.table(status)); err != nil {
		return fail(fmt.Errorf("writing the result: %w", err))
	}
	return 0
}

// execTraced runs in the traced stub: it loads the filter that makes the
// calls the supervisor handles stop, then becomes the script's shell.
func execTraced(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("%s: no program to run", execArg)
	}
	prog, err := filter(auditArch, tracedCalls, chmodCalls)
	if err != nil {
		return err
	}
	if err := installFilter(prog); err != nil {
		return err
	}
	return fmt.Errorf("executing %s: %w", argv[0], unix.Exec(argv[0], argv, os.Environ()))
}

// mountNamespace prepares the view of the files the script gets. The
// namespace is private, so nothing here outlives the run.
func mountNamespace(c *config) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making the mounts private: %w", err)
	}
	if !c.Chroot {
		return layerEtc(c.Dir)
	}
	root := c.Dir
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding %s: %w", root, err)
	}
	if err := chroot.Apply(root, chrootMounts(c.StoreDir), c.Made); err != nil {
		return err
	}
	if err := unix.Chdir(root); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on the new one; detaching it
	// leaves the layer as /, with no directory of ours in it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return unix.Chdir("/")
}

// chrootMounts are what the fake chroot borrows; Run makes their mount
// points (chroot.Prepare) before the namespaces exist and removes them after.
func chrootMounts(storeDir string) []chroot.Mount {
	store := chroot.Mount{Path: strings.TrimPrefix(storeDir, "/"), Do: func(target string) error {
		if _, err := os.Stat(storeDir); err != nil {
			return nil
		}
		if err := unix.Mount(storeDir, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding %s: %w", storeDir, err)
		}
		return readOnlyUnder(target)
	}}
	return append([]chroot.Mount{store}, systemMounts...)
}

// systemMounts are the chroot's mounts besides the store.
var systemMounts = []chroot.Mount{
	{Path: "dev", Do: func(target string) error {
		if err := unix.Mount("/dev", target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding /dev: %w", err)
		}
		return nil
	}},
	{Path: "proc", Do: func(target string) error {
		// A proc of our own pid namespace; where the host hides parts of
		// /proc (containers) a new one is refused, so bind the old.
		if unix.Mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "") == nil {
			return nil
		}
		if err := unix.Mount("/proc", target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting /proc: %w", err)
		}
		return nil
	}},
	// TMPDIR is /tmp in the chroot; a layer without /tmp gets a scratch one
	// that does not end up in the image.
	{Path: "tmp", Scratch: true, Do: func(target string) error {
		if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
			return fmt.Errorf("mounting a tmpfs on /tmp: %w", err)
		}
		return nil
	}},
}

// keptMountFlags are the per-mount options (mountinfo's sixth field) that a
// remount must repeat.
var keptMountFlags = map[string]uintptr{
	"nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
	"noatime": unix.MS_NOATIME, "nodiratime": unix.MS_NODIRATIME, "relatime": unix.MS_RELATIME,
}

// readOnlyUnder remounts target and every mount below it read-only (the
// sandbox's store is one mount per input path).
func readOnlyUnder(target string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		mp := unescapeMountPath(f[4])
		if mp != target && !strings.HasPrefix(mp, target+"/") {
			continue
		}
		flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY)
		// Keep the flags the mount has: a user namespace may not clear them.
		for _, o := range strings.Split(f[5], ",") {
			flags |= keptMountFlags[o]
		}
		if err := unix.Mount("", mp, "", flags, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", mp, err)
		}
	}
	return nil
}

func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// layerEtc makes /etc/passwd and /etc/group the layer's (links to them),
// so that chown by name resolves as it will in the container; the rest of
// the sandbox's /etc stays as it was.
func layerEtc(dir string) error {
	entries, err := os.ReadDir("/etc")
	if err != nil {
		return nil // no /etc to cover
	}
	type saved struct {
		name, link string
		data       []byte
		mode       os.FileMode
		fd         int
	}
	var keep []saved
	for _, e := range entries {
		s := saved{name: e.Name(), fd: -1}
		p := filepath.Join("/etc", s.name)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		s.mode = fi.Mode()
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			s.link, err = os.Readlink(p)
		case fi.Mode().IsRegular():
			s.data, err = os.ReadFile(p)
		default:
			s.fd, err = unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			continue // unreadable: it just will not be there
		}
		keep = append(keep, s)
	}
	if err := unix.Mount("tmpfs", "/etc", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mounting a tmpfs on /etc: %w", err)
	}
	for _, s := range keep {
		p := filepath.Join("/etc", s.name)
		switch {
		case s.name == "passwd" || s.name == "group":
		case s.link != "":
			err = os.Symlink(s.link, p)
		case s.fd >= 0:
			if s.mode.IsDir() {
				err = os.Mkdir(p, 0o755)
			} else {
				err = os.WriteFile(p, nil, 0o644)
			}
			if err == nil {
				err = unix.Mount(fmt.Sprintf("/proc/self/fd/%d", s.fd), p, "", unix.MS_BIND|unix.MS_REC, "")
			}
			unix.Close(s.fd)
		default:
			err = os.WriteFile(p, s.data, s.mode.Perm())
		}
		if err != nil {
			return fmt.Errorf("rebuilding /etc/%s: %w", s.name, err)
		}
	}
	for _, n := range []string{"passwd", "group"} {
		if err := os.Symlink(filepath.Join(dir, "etc", n), filepath.Join("/etc", n)); err != nil {
			return err
		}
	}
	return nil
}

// pinToThisCPU confines the supervisor's thread, and so the script it
// starts (children inherit the mask), to the CPU it runs on. Every handled
// call is two context switches between tracee and tracer; on one CPU they
// are direct hand-offs, across CPUs each is a wake-up of an idle core,
// which made a chown-heavy script twice as slow (see BenchmarkChownStat).
// Scripts that want many cores lose them; fakeRootCommands are ownership
// fixes, not builds. Failing to pin only costs speed.
func pinToThisCPU() {
	var cpu uint32
	if _, _, errno := syscall.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); errno != 0 {
		return
	}
	var set unix.CPUSet
	set.Set(int(cpu))
	_ = unix.SchedSetaffinity(0, &set)
}
