package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/chroot"
	"github.com/nix-dockertools/dockertools/layer"
	"github.com/nix-dockertools/dockertools/vm"
)

func init() { vm.Handle("runAsRoot", runAsRootGuest) }

// runAsRootGuest is the VM's side: an overlay whose lower directory holds
// the base image's files and whose upper one starts as the copyToRoot
// tree; the script runs chrooted into it, so the upper directory ends up
// holding exactly the new layer (deletions as overlay whiteouts).
func runAsRootGuest(payload json.RawMessage) (any, error) {
	var j rootJob
	if err := json.Unmarshal(payload, &j); err != nil {
		return nil, err
	}
	const w = "/work"
	if err := os.MkdirAll(w, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount("tmpfs", w, "tmpfs", 0, fmt.Sprintf("size=%dm,mode=0755", j.DiskMB)); err != nil {
		return nil, fmt.Errorf("mounting the scratch filesystem: %w", err)
	}
	lower, upper, ovl, root := w+"/lower", w+"/upper", w+"/ovl", w+"/root"
	for _, d := range []string{lower, upper, ovl, root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if j.Base != "" {
		if err := untar(j.Base, lower); err != nil {
			return nil, fmt.Errorf("unpacking the base image (diskSize is %d MB): %w", j.DiskMB, err)
		}
	}
	if err := untar(j.Layer, upper); err != nil {
		return nil, fmt.Errorf("unpacking copyToRoot (diskSize is %d MB): %w", j.DiskMB, err)
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, ovl)
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return nil, fmt.Errorf("mounting the overlay: %w", err)
	}
	status, err := runChrooted(j, root)
	if err != nil {
		return nil, err
	}
	if status != 0 {
		return rootResult{Status: status, Stage: "runAsRoot"}, nil
	}
	if err := unix.Unmount(root, 0); err != nil {
		return nil, fmt.Errorf("unmounting the overlay: %w", err)
	}
	if len(j.Extra) > 0 {
		status, err := runIn(j.Extra, j.Env, "", upper)
		if err != nil {
			return nil, err
		}
		if status != 0 {
			return rootResult{Status: status, Stage: "extraCommands"}, nil
		}
	}
	entries, err := upperEntries(upper, j.MTime)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(j.Out)
	if err != nil {
		return nil, err
	}
	_, _, err = layer.Write(f, entries)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing the new layer: %w", err)
	}
	return rootResult{}, nil
}

// runChrooted runs the script in root with the store, /dev, /proc, /sys
// and a /tmp mounted, and takes them and their mount points away again
// whatever happens, so that they leave no trace in the layer.
func runChrooted(j rootJob, root string) (int, error) {
	bind := func(src string) func(string) error {
		return func(t string) error { return unix.Mount(src, t, "", unix.MS_BIND|unix.MS_REC, "") }
	}
	mounts := []chroot.Mount{
		{Path: strings.TrimPrefix(j.StoreDir, "/"), Do: bind(j.StoreDir)},
		{Path: "dev", Do: bind("/dev")},
		{Path: "proc", Do: func(t string) error { return unix.Mount("proc", t, "proc", 0, "") }},
		{Path: "sys", Do: bind("/sys")},
		{Path: "tmp", Scratch: true, Do: func(t string) error { return unix.Mount("tmpfs", t, "tmpfs", 0, "mode=1777") }},
	}
	made, err := chroot.Prepare(root, mounts)
	defer chroot.Remove(made)
	defer func() {
		for i := len(mounts) - 1; i >= 0; i-- {
			unix.Unmount(filepath.Join(root, mounts[i].Path), unix.MNT_DETACH)
		}
	}()
	if err == nil {
		err = chroot.Apply(root, mounts, made)
	}
	if err != nil {
		return 0, fmt.Errorf("preparing runAsRoot's chroot: %w", err)
	}
	return runIn(j.Script, j.Env, root, "/")
}

// runIn runs argv chrooted into root (unless empty) in dir, its output on
// the console (the build log), and returns its exit status.
func runIn(argv, env []string, root, dir string) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if root != "" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("running %s: %w", argv[0], err)
	}
	return 0, nil
}

// upperEntries lists the overlay's upper directory as layer entries: real
// owners, overlay whiteouts (0/0 character devices) as .wh. files, opaque
// directories with their .wh..wh..opq marker.
func upperEntries(upper string, mtime int64) ([]layer.Entry, error) {
	var opaque []layer.Entry
	entries, err := layer.DirEntries(upper, layer.Owner{}, mtime, func(rel string, fi os.FileInfo, h *layer.Header) {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return
		}
		h.UID, h.GID = int(st.Uid), int(st.Gid)
		h.Uname, h.Gname = "", ""
		if st.Uid == 0 {
			h.Uname = "root"
		}
		if st.Gid == 0 {
			h.Gname = "root"
		}
		if h.Typeflag == layer.TypeDir {
			buf := make([]byte, 8)
			if n, err := unix.Lgetxattr(filepath.Join(upper, rel), "trusted.overlay.opaque", buf); err == nil && string(buf[:n]) == "y" {
				opaque = append(opaque, whiteout(path.Join(rel, archive.OpaqueMarker), mtime))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if e.Typeflag == layer.TypeChar && e.Devmajor == 0 && e.Devminor == 0 {
			dir, base := path.Split(strings.TrimSuffix(e.Name, "/"))
			entries[i] = whiteout(dir+archive.WhiteoutPrefix+base, mtime)
		}
	}
	return layer.Merge(entries, opaque), nil
}

func whiteout(name string, mtime int64) layer.Entry {
	return layer.Entry{Header: layer.Header{Name: name, Typeflag: layer.TypeReg, Mode: 0o644,
		Uname: "root", Gname: "root", MTime: mtime}}
}

// untar unpacks one of our own tars (the flattened base, the copyToRoot
// tree) as root: owners, modes, links and device nodes as recorded.
func untar(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		if name == "/" {
			continue
		}
		p := filepath.Join(dir, name)
		mode := uint32(h.Mode & 0o7777)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
		case tar.TypeReg:
			out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeLink:
			if err := os.Link(filepath.Join(dir, path.Clean("/"+h.Linkname)), p); err != nil {
				return err
			}
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[h.Typeflag]
			if err := unix.Mknod(p, kind|mode, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))); err != nil {
				return err
			}
		default:
			continue
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeSymlink {
			// After chown, which clears setuid and setgid bits.
			if err := unix.Chmod(p, mode); err != nil {
				return err
			}
		}
	}
}
