package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nix-dockertools/dockertools/layer"
)

// writeTree writes a small directory tree to $out: attribute `files`
// (relative path -> content), `dirs` (relative paths) and `links` (relative
// path -> candidate targets, the first that exists wins). The environment
// helpers (fakeNss, usrBinEnv, binSh, caCertificates) are such trees.
func writeTree(_ []string) error {
	a, out, err := loadBuild()
	if err != nil {
		return err
	}
	var t struct {
		Files map[string]string
		Dirs  []string
		Links map[string][]string
	}
	for name, dst := range map[string]any{"files": &t.Files, "dirs": &t.Dirs, "links": &t.Links} {
		if raw := a.Raw(name); len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, dst); err != nil {
				return fmt.Errorf("attribute %q: %w", name, err)
			}
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	place := func(attr, rel string) (string, error) {
		clean := path.Clean(rel)
		if rel == "" || path.IsAbs(rel) || clean == "." || strings.HasPrefix(clean, "../") || clean == ".." {
			return "", fmt.Errorf("attribute %q: %q is not a relative path inside the output", attr, rel)
		}
		p := filepath.Join(tmp, clean)
		return p, os.MkdirAll(filepath.Dir(p), 0o755)
	}
	for _, d := range t.Dirs {
		p, err := place("dirs", d)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	for _, rel := range layer.SortedNames(t.Files) {
		p, err := place("files", rel)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(t.Files[rel]), 0o444); err != nil {
			return err
		}
	}
	for _, rel := range layer.SortedNames(t.Links) {
		p, err := place("links", rel)
		if err != nil {
			return err
		}
		target := ""
		for _, c := range t.Links[rel] {
			if _, err := os.Stat(c); err == nil {
				target = c
				break
			}
		}
		if target == "" {
			return fmt.Errorf("attribute \"links\": none of %s exists, for %s", strings.Join(t.Links[rel], ", "), rel)
		}
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	// Read-only, as store paths are.
	err = filepath.Walk(tmp, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() && p != tmp {
			return os.Chmod(p, 0o555)
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o555); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
