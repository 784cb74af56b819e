package vm

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Kernel is what the guest boots: the kernel image and its modules.
type Kernel struct {
	Image   string // vmlinux boots fastest (no decompression); bzImage and vmlinuz work too
	Modules string // lib/modules/<version>; "" when there are none
}

// FindKernel finds the image and modules in a kernel package (nixpkgs'
// linux: bzImage and lib/modules/<version>; an unpacked Debian
// linux-image: boot/vmlinuz-* and lib/modules/<version>), or takes a path
// to the image itself.
func FindKernel(p string) (*Kernel, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	if !fi.IsDir() {
		return &Kernel{Image: p}, nil
	}
	k := &Kernel{}
	for _, pattern := range []string{"vmlinux", "bzImage", "boot/vmlinux*", "vmlinuz*", "boot/vmlinuz*", "boot/bzImage"} {
		m, _ := filepath.Glob(filepath.Join(p, pattern))
		if len(m) > 0 {
			k.Image = m[0]
			break
		}
	}
	if k.Image == "" {
		return nil, fmt.Errorf("kernel %s: no vmlinux, bzImage or vmlinuz* in it (or in boot/)", p)
	}
	versions, _ := filepath.Glob(filepath.Join(p, "lib/modules/*"))
	switch len(versions) {
	case 0:
	case 1:
		k.Modules = versions[0]
	default:
		return nil, fmt.Errorf("kernel %s: several module directories (%s); give a package with one", p, strings.Join(versions, ", "))
	}
	return k, nil
}

// moduleName is the kernel's name of a module file: no directory, no
// .ko(.xz|.zst|.gz) suffix, dashes as underscores.
func moduleName(path string) string {
	base := filepath.Base(path)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// ModulesFor returns the module files to load, dependencies first, for
// the named modules; modules built into the kernel need no file.
func (k *Kernel) ModulesFor(names ...string) ([]string, error) {
	builtin := map[string]bool{}
	files := map[string]string{} // name -> path
	deps := map[string][]string{}
	if k.Modules != "" {
		if b, err := os.ReadFile(filepath.Join(k.Modules, "modules.builtin")); err == nil {
			for _, l := range strings.Fields(string(b)) {
				builtin[moduleName(l)] = true
			}
		}
		if err := k.readDeps(files, deps); err != nil {
			return nil, err
		}
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("kernel modules: dependency cycle through %s", name)
		case 2:
			return nil
		}
		if builtin[name] {
			state[name] = 2
			return nil
		}
		path, ok := files[name]
		if !ok {
			what := "the kernel " + k.Image
			if from != "" {
				what += " (needed by " + from + ")"
			}
			return fmt.Errorf("%s has no module %s and does not build it in: the VM needs virtio, 9p and overlay", what, name)
		}
		state[name] = 1
		d, known := deps[name]
		if !known && strings.HasSuffix(path, ".ko") {
			var err error
			if d, err = modinfoDepends(path); err != nil {
				return fmt.Errorf("kernel module %s: %w", path, err)
			}
		}
		for _, d := range d {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, path)
		return nil
	}
	for _, n := range names {
		if err := visit(moduleName(n), ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// readDeps fills files, and deps from modules.dep when depmod wrote one.
func (k *Kernel) readDeps(files map[string]string, deps map[string][]string) error {
	if b, err := os.ReadFile(filepath.Join(k.Modules, "modules.dep")); err == nil {
		s := bufio.NewScanner(bytes.NewReader(b))
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			mod, rest, ok := strings.Cut(s.Text(), ":")
			if !ok {
				continue
			}
			name := moduleName(mod)
			files[name] = filepath.Join(k.Modules, mod)
			deps[name] = nil // known, even with no dependencies
			for _, d := range strings.Fields(rest) {
				deps[name] = append(deps[name], moduleName(d))
			}
		}
		return s.Err()
	}
	// Without modules.dep, each needed module's .modinfo says (ModulesFor
	// reads it); compressed modules then load without known dependencies.
	err := filepath.WalkDir(k.Modules, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".ko") {
			files[moduleName(p)] = p
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kernel modules: %w", err)
	}
	return nil
}

// modinfoDepends reads the "depends=" entry of a module's .modinfo section.
func modinfoDepends(p string) ([]string, error) {
	f, err := elf.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section")
	}
	b, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var out []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					out = append(out, moduleName(d))
				}
			}
			return out, nil
		}
	}
	return nil, nil
}
