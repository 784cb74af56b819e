package chroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Mount is one directory the chroot gets from outside.
type Mount struct {
	Path    string // relative to the root, e.g. "nix/store"
	Scratch bool   // only where the root has no such directory: the root's own stays in use
	Do      func(target string) error
}

// Prepare makes the mount points root lacks, parents first, and returns
// them for Apply and Remove.
func Prepare(root string, mounts []Mount) ([]string, error) {
	var made []string
	for _, m := range mounts {
		p := root
		for _, c := range strings.Split(m.Path, "/") {
			p = filepath.Join(p, c)
			if _, err := os.Lstat(p); err == nil {
				continue
			} else if !errors.Is(err, os.ErrNotExist) {
				return made, err
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				return made, fmt.Errorf("making the mount point %s: %w", p, err)
			}
			made = append(made, p)
		}
	}
	return made, nil
}

// Apply mounts each m on its point under root when that is a directory
// (a file or link of the root's own stays as it is); scratch mounts go only
// where Prepare made the point.
func Apply(root string, mounts []Mount, made []string) error {
	for _, m := range mounts {
		target := filepath.Join(root, m.Path)
		if fi, err := os.Lstat(target); err != nil || !fi.IsDir() {
			continue
		}
		if m.Scratch && !slices.Contains(made, target) {
			continue
		}
		if err := m.Do(target); err != nil {
			return err
		}
	}
	return nil
}

// Remove removes the mount points Prepare made, deepest first, unless
// something was put in them (then they belong to the root).
func Remove(made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		os.Remove(made[i])
	}
}
