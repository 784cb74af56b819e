// Package vm runs a job as root in a throw-away QEMU virtual machine: what
// buildImage's runAsRoot needs, without privileges on the build machine.
//
// The host side (Run) writes an initramfs holding this very program as
// /init, the kernel modules the guest needs (virtio, 9p, overlay, resolved
// from the modules' own dependency lists) and the job, then starts QEMU
// with the job's directories shared over virtio-9p and watches it over
// QMP. KVM is used when /dev/kvm opens and the guest runs under it; a
// guest that KVM cannot run (QEMU reports an internal error) is restarted
// under TCG emulation, as is every run where KVM is absent.
//
// The guest side (Main, when this program is PID 1 of the VM) mounts what
// the job asked for, runs the handler registered under the job's name and
// writes its result to the control share before powering off. A guest
// that hangs is stopped when the timeout passes; QEMU never outlives Run.
package vm
