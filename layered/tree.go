package layered

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SymlinkTree fills root with links to the contents, merged as symlinkJoin
// (lndir) does: directories become real directories, files become links to
// the file in the store, links are copied as they are, and where two
// contents provide the same name the first one wins. A content that is a
// file rather than a directory is linked at the top under its name.
func SymlinkTree(root string, contents []string) error {
	for _, c := range contents {
		fi, err := os.Stat(c)
		if err != nil {
			return fmt.Errorf("attribute \"contents\": %w", err)
		}
		if !fi.IsDir() {
			if err := link(c, filepath.Join(root, storeName(c))); err != nil {
				return err
			}
			continue
		}
		if err := mirror(c, root); err != nil {
			return fmt.Errorf("attribute \"contents\": linking %s: %w", c, err)
		}
	}
	return nil
}

// storeName drops the hash from a store path's base name.
func storeName(p string) string {
	b := filepath.Base(p)
	if len(b) > 33 && b[32] == '-' && strings.HasPrefix(p, storeDir) {
		return b[33:]
	}
	return b
}

func link(target, at string) error {
	err := os.Symlink(target, at)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

func mirror(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(s)
			if err != nil {
				return err
			}
			if err := link(t, d); err != nil {
				return err
			}
		case e.IsDir():
			fi, err := os.Lstat(d)
			if err == nil && !fi.IsDir() {
				continue // a file or link of an earlier content takes the name
			}
			if err != nil {
				if err := os.Mkdir(d, 0o755); err != nil {
					return err
				}
			}
			if err := mirror(s, d); err != nil {
				return err
			}
		default:
			if err := link(s, d); err != nil {
				return err
			}
		}
	}
	return nil
}
