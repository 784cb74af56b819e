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
	made, err := chrootMounts(root, j.StoreDir)
	if err == nil {
		status, rerr := runIn(j.Script, j.Env, root, "/")
		err = rerr
		if err == nil && status != 0 {
			unmountChroot(root, made)
			return rootResult{Status: status, Stage: "runAsRoot"}, nil
		}
	}
	unmountChroot(root, made)
	if err != nil {
		return nil, err
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

// chrootMounts gives the script the store, /dev, /proc, /sys and a /tmp,
// making the mount points the image lacks; it returns those (parents
// first) so that they leave no trace in the layer.
func chrootMounts(root, store string) ([]string, error) {
	var made []string
	mounts := []struct {
		dir     string
		scratch bool // mounted only where the image has no such directory
		mount   func(target string) error
	}{
		{strings.TrimPrefix(store, "/"), false, func(t string) error { return unix.Mount(store, t, "", unix.MS_BIND|unix.MS_REC, "") }},
		{"dev", false, func(t string) error { return unix.Mount("/dev", t, "", unix.MS_BIND|unix.MS_REC, "") }},
		{"proc", false, func(t string) error { return unix.Mount("proc", t, "proc", 0, "") }},
		{"sys", false, func(t string) error { return unix.Mount("/sys", t, "", unix.MS_BIND|unix.MS_REC, "") }},
		{"tmp", true, func(t string) error { return unix.Mount("tmpfs", t, "tmpfs", 0, "mode=1777") }},
	}
	for _, m := range mounts {
		p := root
		fresh := false
		for _, c := range strings.Split(m.dir, "/") {
			p = filepath.Join(p, c)
			fi, err := os.Lstat(p)
			if err == nil {
				if !fi.IsDir() {
					return made, fmt.Errorf("/%s is not a directory in the image, so it cannot be mounted for runAsRoot", m.dir)
				}
				continue
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				return made, err
			}
			made = append(made, p)
			fresh = true
		}
		if m.scratch && !fresh {
			continue
		}
		if err := m.mount(p); err != nil {
			return made, fmt.Errorf("mounting /%s for runAsRoot: %w", m.dir, err)
		}
	}
	return made, nil
}

func unmountChroot(root string, made []string) {
	for _, d := range []string{"tmp", "sys", "proc", "dev", "nix/store"} {
		unix.Unmount(filepath.Join(root, d), unix.MNT_DETACH)
	}
	for i := len(made) - 1; i >= 0; i-- {
		os.Remove(made[i]) // kept if the script put something there
	}
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
	entries, err := layer.DirEntries(upper, layer.Owner{}, mtime, func(rel string, h *layer.Header) {
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(upper, rel), &st) != nil {
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
				opaque = append(opaque, whiteout(path.Join(rel, ".wh..wh..opq"), mtime))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if e.Typeflag == layer.TypeChar && e.Devmajor == 0 && e.Devminor == 0 {
			dir, base := path.Split(strings.TrimSuffix(e.Name, "/"))
			entries[i] = whiteout(dir+".wh."+base, mtime)
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
