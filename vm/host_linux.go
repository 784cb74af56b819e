package vm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// errKVM marks a run that KVM could not execute: QEMU's "internal-error",
// or a guest that did not start within kvmBootLimit (under KVM a boot
// takes well under a second; hosts where KVM cannot run Linux hang).
var errKVM = errors.New("KVM could not run the guest")

const kvmBootLimit = 15 * time.Second

// errQboot marks QEMU exiting before the guest started while asked to use
// qboot, the minimal firmware that boots Linux faster than SeaBIOS and
// writes nothing to the console; a QEMU without it gets its default.
var errQboot = errors.New("QEMU failed with qboot")

// Run boots the VM, runs the job and returns the handler's result (JSON).
func Run(c Config) (json.RawMessage, *Stats, error) {
	if c.Console == nil {
		c.Console = os.Stderr
	}
	if c.MemoryMB <= 0 {
		c.MemoryMB = 512
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Hour
	}
	if c.QEMU == "" {
		return nil, nil, errors.New("no QEMU program given")
	}
	tmp, err := os.MkdirTemp(c.WorkDir, "vm-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	if err := writeInitramfs(&c, tmp); err != nil {
		return nil, nil, err
	}
	accels := []string{c.Accel}
	if c.Accel == "" {
		accels = []string{"tcg"}
		if kvmUsable() {
			accels = []string{"kvm", "tcg"}
		}
	}
	for i, accel := range accels {
		res, st, err := attempt(&c, tmp, accel, true)
		if errors.Is(err, errQboot) {
			fmt.Fprintf(c.Console, "vm: QEMU did not start with qboot; starting again with its default firmware\n")
			res, st, err = attempt(&c, tmp, accel, false)
		}
		if errors.Is(err, errKVM) && i+1 < len(accels) {
			fmt.Fprintf(c.Console, "vm: KVM could not run the guest; starting again under TCG emulation\n")
			continue
		}
		return res, st, err
	}
	panic("unreachable")
}

func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func writeInitramfs(c *Config, dir string) error {
	mods, err := c.Kernel.ModulesFor(append([]string{"virtio_pci", "9pnet_virtio", "9p"}, c.Modules...)...)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(c.Payload)
	if err != nil {
		return fmt.Errorf("vm job payload: %w", err)
	}
	j := job{Name: c.Job, Payload: payload, Shares: c.Shares}
	for i, m := range mods {
		j.Modules = append(j.Modules, fmt.Sprintf("/modules/%02d-%s", i, filepath.Base(m)))
	}
	jb, err := json.Marshal(j)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "initrd"))
	if err != nil {
		return err
	}
	defer f.Close()
	w := &cpioWriter{w: f}
	w.dir("dev")
	w.char("dev/console", 5, 1)
	w.dir("modules")
	for i, m := range mods {
		w.file(strings.TrimPrefix(j.Modules[i], "/"), 0o644, m)
	}
	w.bytes("job.json", 0o644, jb)
	w.file("init", 0o755, self)
	if err := w.close(); err != nil {
		return fmt.Errorf("writing the VM's initramfs: %w", err)
	}
	return os.Mkdir(filepath.Join(dir, "ctl"), 0o755)
}

func attempt(c *Config, dir, accel string, qboot bool) (json.RawMessage, *Stats, error) {
	ctl := filepath.Join(dir, "ctl")
	os.Remove(filepath.Join(ctl, "outcome.json"))
	os.Remove(filepath.Join(ctl, "started"))
	sock := filepath.Join(dir, "qmp-"+accel+".sock")
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	args := []string{
		"-accel", accel, "-cpu", cpu, "-M", "pc", "-m", fmt.Sprint(c.MemoryMB), "-smp", "1",
		"-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-qmp", "unix:" + sock + ",server=on,wait=off",
		"-kernel", c.Kernel.Image, "-initrd", filepath.Join(dir, "initrd"),
		"-append", "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init",
	}
	if qboot {
		args = append(args, "-bios", "qboot.rom")
	}
	for _, s := range append([]Share{{Tag: ctlTag, Path: ctl, Mount: ctlMount}}, c.Shares...) {
		opt := fmt.Sprintf("local,path=%s,mount_tag=%s,security_model=none,id=%s", s.Path, s.Tag, s.Tag)
		if s.ReadOnly {
			opt += ",readonly=on"
		}
		args = append(args, "-virtfs", opt)
	}
	cmd := exec.Command(c.QEMU, args...)
	cmd.Stdout, cmd.Stderr = c.Console, c.Console
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s: %w", c.QEMU, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	deadline := time.NewTimer(c.Timeout)
	defer deadline.Stop()

	mon, err := connectQMP(sock, exited)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if mon != nil {
		defer mon.Disconnect()
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			if _, serr := os.Stat(filepath.Join(ctl, "started")); err != nil && serr != nil && qboot {
				return nil, nil, fmt.Errorf("%w: %v", errQboot, err)
			}
			if err != nil && accel == "kvm" {
				// QEMU gave up on KVM before the guest ran (no outcome yet).
				if _, serr := os.Stat(filepath.Join(ctl, "outcome.json")); serr != nil {
					return nil, nil, fmt.Errorf("%w: %v", errKVM, err)
				}
			}
			return readOutcome(ctl, accel, start, err)
		case <-deadline.C:
			stop()
			return nil, nil, fmt.Errorf("the VM did not finish within %s and was stopped", c.Timeout)
		case <-tick.C:
			if accel == "kvm" && time.Since(start) > kvmBootLimit {
				if _, err := os.Stat(filepath.Join(ctl, "started")); err != nil {
					stop()
					return nil, nil, errKVM
				}
			}
			if mon == nil {
				continue
			}
			out, err := mon.Run([]byte(`{"execute":"query-status"}`))
			if err != nil {
				continue // QEMU is going away; exited will say
			}
			var st struct {
				Return struct{ Status string }
			}
			json.Unmarshal(out, &st)
			switch st.Return.Status {
			case "internal-error":
				stop()
				if accel == "kvm" {
					return nil, nil, errKVM
				}
				return nil, nil, errors.New("QEMU stopped the guest with an internal error (see the console output above)")
			case "guest-panicked":
				stop()
				return nil, nil, errors.New("the guest kernel panicked (see the console output above)")
			}
		}
	}
}

// connectQMP connects to QEMU's monitor socket once QEMU made it; nil if
// QEMU exited first (its exit is then left in exited for the caller).
func connectQMP(sock string, exited chan error) (*qmp.SocketMonitor, error) {
	for i := 0; i < 200; i++ {
		select {
		case err := <-exited:
			exited <- err
			return nil, nil
		default:
		}
		if _, err := os.Stat(sock); err == nil {
			mon, err := qmp.NewSocketMonitor("unix", sock, 5*time.Second)
			if err == nil {
				if err = mon.Connect(); err == nil {
					return mon, nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, errors.New("QEMU did not open its QMP socket within 10 s")
}

func readOutcome(ctl, accel string, start time.Time, exitErr error) (json.RawMessage, *Stats, error) {
	b, err := os.ReadFile(filepath.Join(ctl, "outcome.json"))
	if err != nil {
		if exitErr != nil {
			return nil, nil, fmt.Errorf("QEMU failed (%v) before the guest finished; see the console output above", exitErr)
		}
		return nil, nil, errors.New("the VM stopped without a result from the guest; see the console output above")
	}
	var o outcome
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&o); err != nil {
		return nil, nil, fmt.Errorf("reading the guest's result: %w", err)
	}
	st := &Stats{Accel: accel, Total: time.Since(start), Boot: time.Duration(o.Uptime * float64(time.Second))}
	if o.Error != "" {
		return nil, st, fmt.Errorf("in the VM: %s", o.Error)
	}
	return o.Result, st, nil
}
