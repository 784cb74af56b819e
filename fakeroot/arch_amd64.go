//go:build linux && amd64

package fakeroot

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The x86-64 system call ABI: number in orig_rax (rax on entry), arguments
// in rdi, rsi, rdx, r10, r8, r9, result in rax; `syscall` is 2 bytes long.

const auditArch = unix.AUDIT_ARCH_X86_64

var tracedCalls = []uint32{
	unix.SYS_STAT, unix.SYS_FSTAT, unix.SYS_LSTAT, unix.SYS_NEWFSTATAT, unix.SYS_STATX,
	unix.SYS_CHOWN, unix.SYS_FCHOWN, unix.SYS_LCHOWN, unix.SYS_FCHOWNAT,
	unix.SYS_MKNOD, unix.SYS_MKNODAT,
	unix.SYS_UNLINK, unix.SYS_UNLINKAT, unix.SYS_RMDIR,
	unix.SYS_RENAME, unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2,
}

// {number, index of the mode argument}
var chmodCalls = [][2]uint32{
	{unix.SYS_CHMOD, 1}, {unix.SYS_FCHMOD, 1}, {unix.SYS_FCHMODAT, 2}, {unix.SYS_FCHMODAT2, 2},
}

type regs = unix.PtraceRegs

func arg(r *regs, i int) uint64 {
	return [...]uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}[i]
}

func setArg(r *regs, i int, v uint64) {
	*[...]*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}[i] = v
}

func callNr(r *regs) uint64       { return r.Orig_rax }
func setCallNr(r *regs, n uint64) { r.Orig_rax = n }
func result(r *regs) int64        { return int64(r.Rax) }
func setResult(r *regs, v int64)  { r.Rax = uint64(v) }

// rewind makes the process execute its system call instruction again, as
// call n, when it resumes.
func rewind(r *regs, n uint64) {
	r.Rip -= 2
	r.Rax = n
	r.Orig_rax = ^uint64(0)
}

// scratch is where an injected stat writes: below the stack pointer and
// its red zone, memory the process does not use at a system call.
func scratch(r *regs) uint64 { return (r.Rsp - 1024) &^ 15 }

// struct stat of x86-64.
const (
	statSize          = 144
	statDev, statIno  = 0, 8
	statNlink         = 16 // 8 bytes here
	statMode          = 24
	statUID, statGID  = 28, 32
	statRdev          = 40
	statNlinkIs64     = true
	sysNewfstatat     = unix.SYS_NEWFSTATAT
	sysFstat          = unix.SYS_FSTAT
	chmodTakesNoFlags = unix.SYS_FCHMODAT
)

var le = binary.LittleEndian
