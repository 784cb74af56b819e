//go:build linux && amd64

package fakeroot

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nix-dockertools/dockertools/chroot"
	"github.com/nix-dockertools/dockertools/shell"
)

// Options say what to run and where.
type Options struct {
	Attr     string   // the attribute the script comes from, for errors
	Dir      string   // the layer directory: the working directory, or / with Chroot
	Chroot   bool     // enableFakechroot
	StoreDir string   // the store the chroot borrows (read-only); required with Chroot
	Argv     []string // the script's command (an absolute program path first)
	Env      []string
	Stdout   io.Writer // default os.Stderr (the build log)
	Stderr   io.Writer
}

// Run runs the script as an apparent root and returns what it recorded.
// A script that fails is an error naming Attr and its exit status; its
// output went to Stdout/Stderr.
func Run(o Options) (*Table, error) {
	if len(o.Argv) == 0 || !filepath.IsAbs(o.Argv[0]) {
		return nil, fmt.Errorf("%s: the program to run must be an absolute path, got %q", o.Attr, o.Argv)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if o.Stdout == nil {
		o.Stdout = os.Stderr
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	env := o.Env
	var made []string
	if o.Chroot {
		if !filepath.IsAbs(o.StoreDir) || o.StoreDir == "/" {
			return nil, fmt.Errorf("%s: the chroot needs the store directory, got %q", o.Attr, o.StoreDir)
		}
		made, err = chroot.Prepare(dir, chrootMounts(o.StoreDir))
		defer chroot.Remove(made)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Attr, err)
		}
		env = chrootEnv(env)
	}
	tmp, err := os.MkdirTemp("", "fakeroot-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	in, err := os.Create(filepath.Join(tmp, "config.json"))
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if err := json.NewEncoder(in).Encode(config{Dir: dir, Chroot: o.Chroot, StoreDir: o.StoreDir, Made: made, Argv: o.Argv, Env: env}); err != nil {
		return nil, err
	}
	if _, err := in.Seek(0, 0); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(tmp, "result.json"))
	if err != nil {
		return nil, err
	}
	defer out.Close()

	cmd := exec.Command("/proc/self/exe", superviseArg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	cmd.ExtraFiles = []*os.File{in, out}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting the fake root, which needs unprivileged user namespaces (kernel.unprivileged_userns_clone, user.max_user_namespaces, or an AppArmor restriction may forbid them): %w", o.Attr, err)
	}
	runErr := cmd.Wait()
	var t Table
	if _, err := out.Seek(0, 0); err != nil {
		return nil, err
	}
	if err := json.NewDecoder(out).Decode(&t); err != nil {
		if runErr == nil {
			runErr = err
		}
		return nil, fmt.Errorf("%s: the fake root could not run the script (%v); see the messages above", o.Attr, runErr)
	}
	if t.Status != 0 {
		return &t, shell.Failed(o.Attr, t.Status)
	}
	return &t, nil
}

// chrootEnv points the temporary directory variables into the chroot; the
// build directory they name is not there.
func chrootEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "TMPDIR", "TMP", "TEMP", "TEMPDIR", "PWD", "NIX_BUILD_TOP":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "TMPDIR=/tmp", "PWD=/")
}
