package fakeroot

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A small BPF assembler: jumps name labels, resolved into the relative
// offsets seccomp wants.
type insn struct {
	code   uint16
	jt, jf string // labels; "" is the next instruction
	k      uint32
	label  string // this instruction's label
}

func assemble(prog []insn) ([]unix.SockFilter, error) {
	at := map[string]int{}
	for i, in := range prog {
		if in.label != "" {
			at[in.label] = i
		}
	}
	off := func(i int, l string) (uint8, error) {
		if l == "" {
			return 0, nil
		}
		j, ok := at[l]
		if !ok || j <= i || j-i-1 > 255 {
			return 0, fmt.Errorf("seccomp filter: bad jump from %d to %q", i, l)
		}
		return uint8(j - i - 1), nil
	}
	out := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		jt, err := off(i, in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := off(i, in.jf)
		if err != nil {
			return nil, err
		}
		out[i] = unix.SockFilter{Code: in.code, Jt: jt, Jf: jf, K: in.k}
	}
	return out, nil
}

const (
	ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	ret   = unix.BPF_RET | unix.BPF_K

	offNr   = 0
	offArch = 4
	offArgs = 16 // args[i] at 16+8i; the low 32 bits come first (little endian)

	setuidBits = unix.S_ISUID | unix.S_ISGID
)

// filter traces the calls in traced and, for each chmod-like call
// ({number, index of its mode argument}), traps it when it sets setuid or setgid
// bits and traces it otherwise. Calls of other ABIs (i386, x32) pass.
func filter(arch uint32, traced []uint32, chmods [][2]uint32) ([]unix.SockFilter, error) {
	p := []insn{
		{code: ldAbs, k: offArch},
		{code: jeq, k: arch, jf: "allow"},
		{code: ldAbs, k: offNr},
		{code: jge, k: 0x40000000, jt: "allow"},
	}
	modeArgs := map[uint32]bool{}
	for _, c := range chmods {
		p = append(p, insn{code: jeq, k: c[0], jt: fmt.Sprintf("mode%d", c[1])})
		modeArgs[c[1]] = true
	}
	for _, nr := range traced {
		p = append(p, insn{code: jeq, k: nr, jt: "trace"})
	}
	p = append(p, insn{code: ret, k: unix.SECCOMP_RET_ALLOW})
	for arg := range uint32(6) {
		if modeArgs[arg] {
			p = append(p,
				insn{label: fmt.Sprintf("mode%d", arg), code: ldAbs, k: offArgs + 8*arg},
				insn{code: jset, k: setuidBits, jt: "trap", jf: "trace"})
		}
	}
	p = append(p,
		insn{label: "allow", code: ret, k: unix.SECCOMP_RET_ALLOW},
		insn{label: "trace", code: ret, k: unix.SECCOMP_RET_TRACE},
		insn{label: "trap", code: ret, k: unix.SECCOMP_RET_TRAP},
	)
	return assemble(p)
}

// installFilter sets no_new_privs (Nix already did in its sandbox) and
// loads prog for every thread of this process; an exec follows.
func installFilter(prog []unix.SockFilter) error {
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(NO_NEW_PRIVS): %w", err)
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fp)))
	if errno != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER): %w", errno)
	}
	return nil
}
