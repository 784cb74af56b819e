package vm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Main runs the guest when this program is the VM's init and never
// returns then; otherwise it returns at once. The builder's main calls it
// first.
func Main() {
	if os.Getpid() != 1 {
		return
	}
	if _, err := os.Stat("/job.json"); err != nil {
		return
	}
	var o outcome
	func() {
		defer func() {
			if r := recover(); r != nil {
				o.Error = fmt.Sprintf("the guest failed: %v", r)
			}
		}()
		if err := guest(&o); err != nil {
			o.Error = err.Error()
		}
	}()
	if b, err := json.Marshal(o); err == nil {
		if err := os.WriteFile(filepath.Join(ctlMount, "outcome.json"), b, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "vm: writing the outcome: %v\n", err)
		}
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour) // init must not exit (nor block forever: Go would call that a deadlock)
	}
}

func guest(o *outcome) error {
	for _, m := range []struct{ fs, dir string }{{"proc", "/proc"}, {"sysfs", "/sys"}, {"devtmpfs", "/dev"}} {
		os.MkdirAll(m.dir, 0o755)
		if err := unix.Mount(m.fs, m.dir, m.fs, 0, ""); err != nil {
			return fmt.Errorf("mounting %s: %w", m.dir, err)
		}
	}
	b, err := os.ReadFile("/job.json")
	if err != nil {
		return err
	}
	var j job
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("reading the job: %w", err)
	}
	for _, m := range j.Modules {
		if err := loadModule(m); err != nil {
			return err
		}
	}
	for _, s := range append([]Share{{Tag: ctlTag, Mount: ctlMount}}, j.Shares...) {
		if err := os.MkdirAll(s.Mount, 0o755); err != nil {
			return err
		}
		var flags uintptr
		opts := "trans=virtio,version=9p2000.L,msize=512000"
		if s.ReadOnly {
			flags, opts = unix.MS_RDONLY, opts+",cache=loose"
		}
		if err := unix.Mount(s.Tag, s.Mount, "9p", flags, opts); err != nil {
			return fmt.Errorf("mounting the shared directory %s on %s: %w", s.Tag, s.Mount, err)
		}
	}
	// Tells the host the guest runs (under KVM that it may stop waiting).
	if err := os.WriteFile(filepath.Join(ctlMount, "started"), nil, 0o644); err != nil {
		return err
	}
	if up, err := os.ReadFile("/proc/uptime"); err == nil {
		fmt.Sscanf(string(up), "%f", &o.Uptime)
	}
	h, ok := handlers[j.Name]
	if !ok {
		return fmt.Errorf("no guest handler %q", j.Name)
	}
	res, err := h(j.Payload)
	if err != nil {
		return err
	}
	o.Result, err = json.Marshal(res)
	return err
}

// loadModule loads a kernel module file; compressed ones are left to the
// kernel to decompress.
func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if !strings.HasSuffix(path, ".ko") {
		flags = 4 // MODULE_INIT_COMPRESSED_FILE
	}
	if err := unix.FinitModule(int(f.Fd()), "", flags); err != nil && err != unix.EEXIST {
		return fmt.Errorf("loading the kernel module %s: %w", filepath.Base(path), err)
	}
	return nil
}
