package vm

import (
	"encoding/json"
	"io"
	"time"
)

// Share is a host directory the guest mounts over virtio-9p.
type Share struct {
	Tag      string // the 9p mount tag: letters and digits
	Path     string // on the host
	Mount    string // in the guest
	ReadOnly bool
}

// Config says how to run a job.
type Config struct {
	QEMU     string // the qemu-system-* program
	Kernel   *Kernel
	Modules  []string // modules the job needs besides virtio and 9p
	MemoryMB int
	Timeout  time.Duration // the whole run, boot included
	Console  io.Writer     // the guest's console (default os.Stderr, the build log)
	WorkDir  string        // for the initramfs and the control share
	Job      string        // the name of the guest handler (see Handle)
	Payload  any           // JSON-encoded for the handler
	Shares   []Share
	// Accel forces "kvm" or "tcg"; empty tries KVM and falls back to TCG.
	Accel string
}

// Stats say how a run went.
type Stats struct {
	Accel string        // what the guest ran under
	Boot  time.Duration // from starting QEMU to the handler starting
	Total time.Duration
}

// job is what the guest reads from /job.json in its initramfs.
type job struct {
	Name    string
	Payload json.RawMessage
	Shares  []Share
	Modules []string // initramfs paths, in load order
}

// outcome is what the guest writes to the control share.
type outcome struct {
	Result json.RawMessage
	Error  string
	Uptime float64 // the guest's uptime when the handler started, seconds
}

const ctlTag, ctlMount = "vmctl", "/run/vmctl"

// A Handler is a job's guest side: it runs as root in the VM with the
// shares mounted and returns a JSON-encodable result.
type Handler func(payload json.RawMessage) (any, error)

var handlers = map[string]Handler{}

// Handle registers the guest side of a job (from an init function, so
// that it exists when Main runs in the guest).
func Handle(name string, h Handler) { handlers[name] = h }
