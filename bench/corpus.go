package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// source is one store path of the corpus: a directory of this machine, or
// the top-level files of one whose names start with one of prefixes.
type source struct {
	Name     string   `json:"name"`
	Dir      string   `json:"dir"`
	Prefixes []string `json:"prefixes,omitempty"`
}

type corpus struct {
	paths        []string
	bytes, files int64
}

// candidates lists the sources in a fixed order, largest trees of many
// files first, so a given machine always gets the same corpus.
func candidates() []source {
	var out []source
	subdirs := func(dir, prefix string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, source{Name: prefix + "-" + sanitize(e.Name()), Dir: filepath.Join(dir, e.Name())})
			}
		}
	}
	subdirs("/usr/local/go", "go")
	subdirs("/usr/share", "share")
	// The shared libraries are files at the top of their directory: split
	// them by the letter after "lib".
	lib := "/usr/lib/x86_64-linux-gnu"
	for _, group := range []string{"abc", "def", "ghi", "jkl", "mno", "pqr", "s", "tuv", "wxyz"} {
		var prefixes []string
		for _, ch := range group {
			prefixes = append(prefixes, "lib"+string(ch))
		}
		out = append(out, source{Name: "libs-" + group, Dir: lib, Prefixes: prefixes})
	}
	subdirs(lib, "lib")
	subdirs("/root/.pyenv/versions", "python")
	return out
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+-._?=", r) {
			return r
		}
		return '_'
	}, s)
}

// measureTree counts what a source holds (as the store path will).
func measureTree(s source) (bytes, files int64) {
	filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if s.Prefixes != nil && filepath.Dir(p) == s.Dir {
			if d.IsDir() {
				return fs.SkipDir
			}
			ok := false
			for _, pre := range s.Prefixes {
				ok = ok || strings.HasPrefix(d.Name(), pre)
			}
			if !ok {
				return nil
			}
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				bytes += fi.Size()
				files++
			}
		}
		return nil
	})
	return
}

// importCorpus picks sources until about target bytes, imports them into
// the store with builtins.path and returns the store paths.
func importCorpus(work string, target int64) (*corpus, error) {
	var picked []source
	c := &corpus{}
	for _, s := range candidates() {
		if c.bytes >= target {
			break
		}
		b, f := measureTree(s)
		if b < 256<<10 {
			continue // too small to matter; keeps the path count near 50
		}
		picked = append(picked, s)
		c.bytes += b
		c.files += f
	}
	if c.bytes < target*9/10 {
		return nil, fmt.Errorf("this machine has only %s of candidate files for a %s corpus", mb(c.bytes), mb(target))
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].Name < picked[j].Name })
	j, _ := json.Marshal(picked)
	spec := filepath.Join(work, "corpus.json")
	if err := os.WriteFile(spec, j, 0o644); err != nil {
		return nil, err
	}
	progress("importing %d sources (%s) into the store", len(picked), mb(c.bytes))
	out, err := output(exec.Command("nix-instantiate", "--eval", "--json", "--strict", "bench/corpus.nix", "--arg", "corpus", spec))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(out), &c.paths); err != nil {
		return nil, err
	}
	os.Setenv("BENCH_CORPUS", spec)
	return c, nil
}
