package layered

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layer"
)

// node is one name of the customisation layer's symlink tree: a directory
// (children != nil) or a link.
type node struct {
	link     string
	children map[string]*node
}

func newDir() *node { return &node{children: map[string]*node{}} }

// contentsTree merges the contents as symlinkJoin (lndir) does: directories
// become real directories, files become links to the file in the store,
// links are copied as they are, and where two contents provide the same
// name the first one wins. A content that is a file rather than a directory
// is linked at the top under its name.
//
// It only reads the contents: with no script to run in it, the layer is
// written straight from this tree (creating tens of thousands of links on
// disk would cost more than the whole rest of the build).
func contentsTree(storeDir string, contents []string) (*node, error) {
	root := newDir()
	for _, c := range contents {
		fi, err := os.Stat(c)
		if err != nil {
			return nil, fmt.Errorf("attribute \"contents\": %w", err)
		}
		if !fi.IsDir() {
			if _, taken := root.children[closure.Name(storeDir, c)]; !taken {
				root.children[closure.Name(storeDir, c)] = &node{link: c}
			}
			continue
		}
		if err := root.merge(c); err != nil {
			return nil, fmt.Errorf("attribute \"contents\": linking %s: %w", c, err)
		}
	}
	return root, nil
}

func (n *node) merge(src string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s := filepath.Join(src, e.Name())
		existing := n.children[e.Name()]
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			if existing == nil {
				t, err := os.Readlink(s)
				if err != nil {
					return err
				}
				n.children[e.Name()] = &node{link: t}
			}
		case e.IsDir():
			if existing == nil {
				existing = newDir()
				n.children[e.Name()] = existing
			}
			if existing.children == nil {
				continue // a file or link of an earlier content takes the name
			}
			if err := existing.merge(s); err != nil {
				return err
			}
		default:
			if existing == nil {
				n.children[e.Name()] = &node{link: s}
			}
		}
	}
	return nil
}

// entries lists the tree as layer.DirEntries would list it written to disk
// (directories 0755 as created under Nix's umask, links 0777).
func (n *node) entries(o layer.Owner, mtime int64) []layer.Entry {
	var out []layer.Entry
	var walk func(n *node, prefix string)
	walk = func(n *node, prefix string) {
		for _, name := range layer.SortedNames(n.children) {
			c := n.children[name]
			h := layer.Header{Name: prefix + name, UID: o.UID, GID: o.GID, Uname: o.Uname, Gname: o.Gname, MTime: mtime}
			if c.children == nil {
				h.Typeflag, h.Linkname, h.Mode = layer.TypeSymlink, c.link, 0o777
				out = append(out, layer.Entry{Header: h})
				continue
			}
			h.Typeflag, h.Mode, h.Name = layer.TypeDir, 0o755, h.Name+"/"
			out = append(out, layer.Entry{Header: h})
			walk(c, h.Name)
		}
	}
	walk(n, "")
	return out
}

// write creates the tree under dir, for scripts that run in it.
func (n *node) write(dir string) error {
	for _, name := range layer.SortedNames(n.children) {
		c, p := n.children[name], filepath.Join(dir, name)
		if c.children == nil {
			if err := os.Symlink(c.link, p); err != nil {
				return err
			}
			continue
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		if err := c.write(p); err != nil {
			return err
		}
	}
	return nil
}
