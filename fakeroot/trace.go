//go:build linux && amd64

package fakeroot

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// proc is the supervisor's state for one traced thread. Most calls need
// one stop (the seccomp stop) and one more at their exit; a call that
// needs the file's inode first runs a stat in its place (or, after a
// SIGSYS, rewinds the process into one), then the real call.
type proc struct {
	seen  bool
	entry bool                // the next syscall stop is the entry of a rewound call
	pass  uint64              // let this call through at its seccomp stop (it is ours)
	then  func(r *regs) error // runs at the next syscall-exit stop
	saved regs                // the registers of the intercepted call
}

const noPass = ^uint64(0)

type tracer struct {
	rec   records
	procs map[int]*proc
	pid   int // the thread a handler works on
	p     *proc
}

const ptraceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK |
	unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_EXITKILL

// run traces main (started with PTRACE_TRACEME, stopped at its exec) and
// every process it starts, until main exits; its status is returned.
// The caller's goroutine must be locked to its thread.
func (t *tracer) run(main int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	if _, err := unix.Wait4(main, &ws, unix.WALL, nil); err != nil {
		return ws, fmt.Errorf("waiting for the script to start: %w", err)
	}
	if !ws.Stopped() {
		return ws, errors.New("the script's process did not start")
	}
	if err := unix.PtraceSetOptions(main, ptraceOptions); err != nil {
		return ws, fmt.Errorf("ptrace(SETOPTIONS): %w", err)
	}
	t.procs = map[int]*proc{main: {seen: true, pass: noPass}}
	if err := unix.PtraceCont(main, 0); err != nil {
		return ws, fmt.Errorf("ptrace(CONT): %w", err)
	}
	for {
		pid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, fmt.Errorf("waiting for the script: %w", err)
		}
		if ws.Exited() || ws.Signaled() {
			delete(t.procs, pid)
			if pid == main {
				return ws, nil
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		p := t.procs[pid]
		if p == nil {
			p = &proc{pass: noPass}
			t.procs[pid] = p
		}
		t.pid, t.p = pid, p
		// ESRCH: the thread was killed while stopped; its exit follows.
		if err := t.stop(ws); err != nil && !errors.Is(err, unix.ESRCH) {
			return ws, err
		}
	}
}

func (t *tracer) stop(ws unix.WaitStatus) error {
	sig := ws.StopSignal()
	first := !t.p.seen
	t.p.seen = true
	switch {
	case sig == unix.SIGTRAP|0x80:
		return t.syscallStop()
	case sig == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_SECCOMP:
		return t.seccompStop()
	case sig == unix.SIGTRAP && ws.TrapCause() > 0: // fork, clone, exec
		return t.resume(0)
	case sig == unix.SIGSTOP && first: // a new child's initial stop
		return t.resume(0)
	case sig == unix.SIGSYS && t.fromSeccomp():
		return t.trapStop()
	}
	return t.resume(int(sig))
}

// resume continues the thread, to its next syscall stop when a handler
// waits for one.
func (t *tracer) resume(sig int) error {
	if t.p.entry || t.p.then != nil {
		return unix.PtraceSyscall(t.pid, sig)
	}
	return unix.PtraceCont(t.pid, sig)
}

func (t *tracer) fromSeccomp() bool {
	var si [128]byte
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(t.pid), 0, uintptr(unsafe.Pointer(&si[0])), 0, 0)
	return errno == 0 && int32(le.Uint32(si[8:])) == 1 // si_code SYS_SECCOMP
}

func (t *tracer) getRegs() (*regs, error) {
	r := new(regs)
	if err := unix.PtraceGetRegs(t.pid, r); err != nil {
		return nil, fmt.Errorf("ptrace(GETREGS): %w", err)
	}
	return r, nil
}

func (t *tracer) setRegs(r *regs) error {
	if err := unix.PtraceSetRegs(t.pid, r); err != nil {
		return fmt.Errorf("ptrace(SETREGS): %w", err)
	}
	return nil
}

func (t *tracer) syscallStop() error {
	if t.p.entry {
		t.p.entry = false
		return t.resume(0)
	}
	then := t.p.then
	t.p.then = nil
	if then == nil {
		return t.resume(0)
	}
	r, err := t.getRegs()
	if err != nil {
		return err
	}
	return then(r)
}

func (t *tracer) seccompStop() error {
	r, err := t.getRegs()
	if err != nil {
		return err
	}
	if n := callNr(r); n == t.p.pass {
		t.p.pass = noPass
		return t.resume(0)
	}
	return t.handle(r, false)
}

// trapStop handles a chmod that set setuid or setgid bits: our filter
// made it a SIGSYS; the call did not run.
func (t *tracer) trapStop() error {
	r, err := t.getRegs()
	if err != nil {
		return err
	}
	return t.handle(r, true)
}

// statCall is a stat the supervisor has the process run (into scratch
// memory) to learn which inode a call is about; the kernel resolves the
// path exactly as for the call itself.
type statCall struct {
	fd           bool // fstat(dirfd)
	dirfd, path  uint64
	noFollow     bool
	emptyPathArg uint64
}

func atPath(dirfd, path uint64, flags uint64) statCall {
	return statCall{dirfd: dirfd, path: path, noFollow: flags&unix.AT_SYMLINK_NOFOLLOW != 0, emptyPathArg: flags & unix.AT_EMPTY_PATH}
}

// atFDCWD is AT_FDCWD (-100) as a register holds it.
const atFDCWD = ^uint64(0) - 99

func (c statCall) load(r *regs, buf uint64, rewound bool) {
	n := uint64(sysNewfstatat)
	if c.fd {
		n = sysFstat
		setArg(r, 0, c.dirfd)
		setArg(r, 1, buf)
	} else {
		flags := c.emptyPathArg
		if c.noFollow {
			flags |= unix.AT_SYMLINK_NOFOLLOW
		}
		setArg(r, 0, c.dirfd)
		setArg(r, 1, c.path)
		setArg(r, 2, buf)
		setArg(r, 3, flags)
	}
	if rewound {
		rewind(r, n)
	} else {
		setCallNr(r, n)
	}
}

// stat runs c in the process, then next with its result (or -errno).
// inPlace replaces the call at its seccomp stop (r are its registers);
// otherwise the process is rewound into the stat.
func (t *tracer) stat(r *regs, inPlace bool, c statCall, next func(st statInfo, errno int64) error) error {
	buf := scratch(&t.p.saved)
	rr := t.p.saved
	if inPlace {
		rr = *r
	}
	c.load(&rr, buf, !inPlace)
	if !inPlace {
		t.p.entry, t.p.pass = true, sysNewfstatat
		if c.fd {
			t.p.pass = sysFstat
		}
	}
	if err := t.setRegs(&rr); err != nil {
		return err
	}
	t.p.then = func(r *regs) error {
		if rv := result(r); rv < 0 {
			return next(statInfo{}, rv)
		}
		b := make([]byte, statSize)
		if err := t.read(buf, b); err != nil {
			return err
		}
		return next(parseStat(b), 0)
	}
	return t.resume(0)
}

// finish ends the intercepted call with result rv, registers as before.
func (t *tracer) finish(rv int64) error {
	r := t.p.saved
	setResult(&r, rv)
	if err := t.setRegs(&r); err != nil {
		return err
	}
	return t.resume(0)
}

// rerun has the process run its intercepted call (nr n) for real, with
// the registers edit makes; then (if any) sees its exit.
func (t *tracer) rerun(n uint64, edit func(r *regs), then func(r *regs) error) error {
	r := t.p.saved
	rewind(&r, n)
	if edit != nil {
		edit(&r)
	}
	if err := t.setRegs(&r); err != nil {
		return err
	}
	t.p.entry, t.p.pass, t.p.then = true, n, then
	return t.resume(0)
}

func (t *tracer) read(addr uint64, b []byte) error {
	_, err := unix.ProcessVMReadv(t.pid, []unix.Iovec{{Base: &b[0], Len: uint64(len(b))}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}, 0)
	if err != nil {
		return fmt.Errorf("reading the memory of process %d: %w", t.pid, err)
	}
	return nil
}

func (t *tracer) write(addr uint64, b []byte) error {
	_, err := unix.ProcessVMWritev(t.pid, []unix.Iovec{{Base: &b[0], Len: uint64(len(b))}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}, 0)
	if err != nil {
		return fmt.Errorf("writing the memory of process %d: %w", t.pid, err)
	}
	return nil
}

func (t *tracer) handle(r *regs, trapped bool) error {
	n := callNr(r)
	a := func(i int) uint64 { return arg(r, i) }
	t.p.saved = *r
	switch n {
	case unix.SYS_STAT, unix.SYS_FSTAT, unix.SYS_LSTAT:
		return t.patchAtExit(a(1), statSize)
	case unix.SYS_NEWFSTATAT:
		return t.patchAtExit(a(2), statSize)
	case unix.SYS_STATX:
		return t.patchAtExit(a(4), statxSize)

	case unix.SYS_CHOWN:
		return t.chown(r, atPath(atFDCWD, a(0), 0), a(1), a(2))
	case unix.SYS_LCHOWN:
		return t.chown(r, atPath(atFDCWD, a(0), unix.AT_SYMLINK_NOFOLLOW), a(1), a(2))
	case unix.SYS_FCHOWN:
		return t.chown(r, statCall{fd: true, dirfd: a(0)}, a(1), a(2))
	case unix.SYS_FCHOWNAT:
		return t.chown(r, atPath(a(0), a(1), a(4)), a(2), a(3))

	case unix.SYS_CHMOD:
		return t.chmod(r, trapped, atPath(atFDCWD, a(0), 0), 1)
	case unix.SYS_FCHMOD:
		return t.chmod(r, trapped, statCall{fd: true, dirfd: a(0)}, 1)
	case unix.SYS_FCHMODAT:
		return t.chmod(r, trapped, atPath(a(0), a(1), 0), 2)
	case unix.SYS_FCHMODAT2:
		return t.chmod(r, trapped, atPath(a(0), a(1), a(3)), 2)

	case unix.SYS_MKNOD:
		return t.mknod(r, atPath(atFDCWD, a(0), unix.AT_SYMLINK_NOFOLLOW), 1)
	case unix.SYS_MKNODAT:
		return t.mknod(r, atPath(a(0), a(1), unix.AT_SYMLINK_NOFOLLOW), 2)

	case unix.SYS_UNLINK, unix.SYS_RMDIR:
		return t.remove(r, atPath(atFDCWD, a(0), unix.AT_SYMLINK_NOFOLLOW))
	case unix.SYS_UNLINKAT:
		return t.remove(r, atPath(a(0), a(1), unix.AT_SYMLINK_NOFOLLOW))
	case unix.SYS_RENAME:
		return t.remove(r, atPath(atFDCWD, a(1), unix.AT_SYMLINK_NOFOLLOW))
	case unix.SYS_RENAMEAT:
		return t.remove(r, atPath(a(2), a(3), unix.AT_SYMLINK_NOFOLLOW))
	case unix.SYS_RENAMEAT2:
		if a(4)&unix.RENAME_EXCHANGE != 0 {
			return t.resume(0)
		}
		return t.remove(r, atPath(a(2), a(3), unix.AT_SYMLINK_NOFOLLOW))
	}
	if trapped { // not ours: deliver the SIGSYS
		return t.resume(int(unix.SIGSYS))
	}
	return t.resume(0)
}

// patchAtExit shows recorded values in the struct stat the call fills.
func (t *tracer) patchAtExit(buf uint64, size int) error {
	if len(t.rec) == 0 {
		return t.resume(0)
	}
	t.p.then = func(r *regs) error {
		if result(r) != 0 {
			return t.resume(0)
		}
		b := make([]byte, size)
		if err := t.read(buf, b); err != nil {
			return err
		}
		patched := false
		if size == statxSize {
			patched = t.rec.patchStatx(b)
		} else {
			patched = t.rec.patch(b)
		}
		if patched {
			if err := t.write(buf, b); err != nil {
				return err
			}
		}
		return t.resume(0)
	}
	return t.resume(0)
}

func (t *tracer) chown(r *regs, c statCall, uid, gid uint64) error {
	return t.stat(r, true, c, func(st statInfo, errno int64) error {
		if errno != 0 {
			return t.finish(errno)
		}
		t.rec.chown(st, uint32(uid), uint32(gid))
		return t.finish(0)
	})
}

// chmod records the mode asked for and gives the file a real mode without
// setuid bits (Nix's sandbox refuses those) that the builder can read.
func (t *tracer) chmod(r *regs, trapped bool, c statCall, modeArg int) error {
	n := callNr(r) // after a SIGSYS too
	perm := arg(r, modeArg) & 0o7777
	return t.stat(r, !trapped, c, func(st statInfo, errno int64) error {
		if errno != 0 {
			return t.finish(errno)
		}
		real := perm&0o777 | 0o600
		if st.isDir() {
			real |= 0o700
		}
		return t.rerun(n, func(r *regs) { setArg(r, modeArg, real) }, func(r *regs) error {
			rv := result(r)
			if rv == 0 {
				t.rec.chmod(st, uint32(perm))
			}
			return t.finish(rv)
		})
	})
}

// mknod makes a device node as an empty regular file and records its
// type and number; other node types are made for real.
func (t *tracer) mknod(r *regs, c statCall, modeArg int) error {
	mode := arg(r, modeArg)
	typ := uint32(mode) & sIFMT
	if typ != sIFCHR && typ != sIFBLK {
		return t.resume(0)
	}
	rdev := arg(r, modeArg+1)
	setArg(r, modeArg, unix.S_IFREG|mode&0o7777)
	setArg(r, modeArg+1, 0)
	if err := t.setRegs(r); err != nil {
		return err
	}
	t.p.then = func(r *regs) error {
		if rv := result(r); rv < 0 {
			return t.finish(rv)
		}
		return t.stat(r, false, c, func(st statInfo, errno int64) error {
			if errno == 0 {
				t.rec.mknod(st, typ, rdev)
			}
			return t.finish(0)
		})
	}
	return t.resume(0)
}

// remove forgets the record of an inode whose last name goes away (unlink,
// rmdir, or a rename over it), so a new file reusing its number starts
// clean.
func (t *tracer) remove(r *regs, c statCall) error {
	if len(t.rec) == 0 {
		return t.resume(0)
	}
	n := callNr(r)
	return t.stat(r, true, c, func(st statInfo, errno int64) error {
		if _, ok := t.rec[st.key]; errno != 0 || !ok || !(st.isDir() || st.nlink <= 1) {
			return t.rerun(n, nil, nil)
		}
		return t.rerun(n, nil, func(r *regs) error {
			if result(r) == 0 {
				delete(t.rec, st.key)
			}
			return t.resume(0)
		})
	})
}
