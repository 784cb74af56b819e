package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/flatten"
	"github.com/nix-dockertools/dockertools/layer"
	"github.com/nix-dockertools/dockertools/outfile"
	"github.com/nix-dockertools/dockertools/shell"
	"github.com/nix-dockertools/dockertools/vm"
)

// rootJob is what the guest gets: where the trees are (in the job share),
// what to run, and how much room it has.
type rootJob struct {
	Base     string // the base image's filesystem as one tar; "" without a base
	Layer    string // the copyToRoot tree as a tar
	Out      string // where the guest writes the new layer's tar
	Script   []string
	Extra    []string // extraCommands, run in the new layer's directory afterwards
	Env      []string
	DiskMB   int
	MTime    int64
	StoreDir string
}

// rootResult is what the guest answers: the first script that failed.
type rootResult struct {
	Status int
	Stage  string
}

// jobMount is where the guest finds its job.
const jobMount = "/job"

// runAsRootEntries runs runAsRoot as root in a VM holding the base image's
// files and the copyToRoot tree (not yet its closure), then extraCommands
// in the new layer's directory, and returns the new layer: the tree and
// what the scripts changed, with whiteouts for what they deleted from the
// base. File contents are kept under work.
func runAsRootEntries(o *Options, base *archive.Base, tree *rootTree, work string) ([]layer.Entry, error) {
	share := filepath.Join(work, "vm-job")
	if err := os.Mkdir(share, 0o755); err != nil {
		return nil, err
	}
	j := rootJob{Layer: jobMount + "/layer.tar", Out: jobMount + "/out.tar", DiskMB: o.DiskSize,
		MTime: layerMTime, StoreDir: o.StoreDir}
	if err := outfile.Write(filepath.Join(share, "layer.tar"), 0o644, func(w io.Writer) error {
		_, _, err := layer.Write(w, tree.entries())
		return err
	}); err != nil {
		return nil, fmt.Errorf("runAsRoot: writing the copyToRoot tree: %w", err)
	}
	if base != nil {
		j.Base = jobMount + "/base.tar"
		if err := outfile.Write(filepath.Join(share, "base.tar"), 0o644, func(w io.Writer) error {
			return flatten.Write(w, base, work, layerMTime)
		}); err != nil {
			return nil, fmt.Errorf("runAsRoot: writing the base image's files: %w", err)
		}
	}
	argv, env, err := shell.Command("runAsRoot", o.RunAsRoot, o.ScriptTools)
	if err != nil {
		return nil, err
	}
	j.Script, j.Env = argv, guestEnv(env)
	if !shell.Blank(o.ExtraCommands) {
		if j.Extra, _, err = shell.Command("extraCommands", o.ExtraCommands, o.ScriptTools); err != nil {
			return nil, err
		}
	}
	kernel, err := vm.FindKernel(o.VMKernel)
	if err != nil {
		return nil, fmt.Errorf("attribute \"vmKernel\": %w", err)
	}
	start := time.Now()
	raw, st, err := vm.Run(vm.Config{
		QEMU: o.QEMU, Kernel: kernel, Modules: []string{"overlay"}, MemoryMB: o.BuildVMMemorySize,
		Timeout: time.Duration(o.RunAsRootTimeout) * time.Second, WorkDir: work,
		Job: "runAsRoot", Payload: j,
		Shares: []vm.Share{
			{Tag: "job", Path: share, Mount: jobMount},
			{Tag: "store", Path: o.StoreDir, Mount: o.StoreDir, ReadOnly: true},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("runAsRoot: %w", err)
	}
	fmt.Fprintf(os.Stderr, "runAsRoot: the VM (%s) booted in %.1f s; %.1f s in all (%.1f s with preparing its files)\n",
		st.Accel, st.Boot.Seconds(), st.Total.Seconds(), time.Since(start).Seconds())
	var res rootResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("runAsRoot: the guest's answer: %w", err)
	}
	if res.Status != 0 {
		return nil, shell.Failed(res.Stage, res.Status)
	}
	return readLayer(filepath.Join(share, "out.tar"), filepath.Join(work, "vm-files"))
}

// guestEnv is the scripts' environment in the VM: the build's variables
// name directories the guest lacks, so only PATH (the tools, then the
// image's own directories) and the usual basics are kept.
func guestEnv(env []string) []string {
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v + ":"
		}
	}
	return []string{"PATH=" + path + "/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/root", "TMPDIR=/tmp", "USER=root", "PWD=/"}
}

// readLayer turns the tar the guest wrote into entries, regular files'
// contents written under dir.
func readLayer(path, dir string) ([]layer.Entry, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runAsRoot: the guest wrote no layer: %w", err)
	}
	defer f.Close()
	var entries []layer.Entry
	tr := tar.NewReader(f)
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, fmt.Errorf("runAsRoot: reading the guest's layer: %w", err)
		}
		e := layer.Entry{Header: layer.Header{Name: h.Name, Linkname: h.Linkname, Typeflag: h.Typeflag,
			Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid, Uname: h.Uname, Gname: h.Gname, Size: h.Size,
			MTime: h.ModTime.Unix(), Devmajor: h.Devmajor, Devminor: h.Devminor}}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			e.Source = filepath.Join(dir, fmt.Sprint(i))
			if err := outfile.Write(e.Source, 0o644, func(w io.Writer) error {
				_, err := io.Copy(w, tr)
				return err
			}); err != nil {
				return nil, err
			}
		}
		entries = append(entries, e)
	}
}
