// Package fakeroot runs fakeRootCommands as an apparent root without
// privileges, fakeroot, proot or LD_PRELOAD, so static programs work too.
//
// The script runs in a user namespace (uid and gid 0 mapped to the build
// user), a private mount namespace and its own pid namespace. A user
// namespace maps one uid, so a real chown to another owner would fail:
// instead a supervisor traces every process of the script (ptrace, with a
// seccomp filter choosing which system calls stop) and records what chown,
// chmod and mknod asked for in a table keyed by device and inode, while the
// files themselves stay readable by the builder. stat and friends report
// the recorded values, so `ls -l` inside the script shows them; the layer
// writer reads the table (Table.Override) for the tar headers.
//
// setuid and setgid modes need care: Nix's own seccomp filter fails such
// chmods with EPERM, which outranks a trace request, so our filter turns
// them into SIGSYS (which outranks EPERM) and the supervisor completes the
// call on the process's behalf with a safe mode.
//
// With Chroot the layer directory becomes the root (pivot_root), with the
// Nix store bound read-only and /dev and /proc mounted; the mount points
// are removed again when they were not in the layer before.
//
// A traced call costs two context switches; the script is pinned to the
// supervisor's CPU so that they are hand-offs rather than wake-ups of
// another core, which keeps a chown-heavy script within a few percent of
// the same script in a plain user namespace (BenchmarkChownStat).
//
// Only linux/amd64 is implemented (system call numbers and registers are
// per architecture); elsewhere Run reports that.
package fakeroot
