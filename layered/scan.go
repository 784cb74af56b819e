package layered

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nix-dockertools/dockertools/closure"
)

// Files that extraCommands or fakeRootCommands make may refer to store
// paths the scripts mention (`ln -s ${hello}/bin/hello bin/hello`). Nix
// scans nixpkgs' customisation layer for references, so those paths and
// their closures are in nixpkgs' image; here the stream derivation gets the
// closure of everything the scripts mention ("scripts"), and keeps what the
// layer's files refer to, found the way Nix finds references: by the hash
// parts of candidate paths, in file contents and link targets.

// scriptRefs returns the store paths of candidates (hash part -> path) that
// a file or link target under root mentions, sorted.
func scriptRefs(root, storeDir string, candidates map[string]string) ([]string, error) {
	if len(candidates) == 0 {
		return nil, nil
	}
	found := map[string]bool{}
	prefix := []byte(storeDir + "/")
	scan := func(data []byte) {
		for i := 0; ; {
			j := bytes.Index(data[i:], prefix)
			if j < 0 || i+j+len(prefix)+32 > len(data) {
				return
			}
			i += j + len(prefix)
			if p, ok := candidates[string(data[i:i+32])]; ok {
				found[p] = true
			}
		}
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			scan([]byte(target))
		case d.Type().IsRegular():
			return scanFile(path, len(prefix)+32, scan)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding the store paths the customisation layer refers to: %w", err)
	}
	out := make([]string, 0, len(found))
	for p := range found {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// scanFile feeds a file to scan in chunks that overlap by keep bytes, so a
// reference across two chunks is seen, in bounded memory.
func scanFile(path string, keep int, scan func([]byte)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 0, 1<<20+keep)
	chunk := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(r, chunk)
		buf = append(buf, chunk[:n]...)
		scan(buf)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(buf) > keep {
			buf = append(buf[:0], buf[len(buf)-keep:]...)
		}
	}
}

// withScriptRefs adds to the image's closure the paths refs names and their
// closures in the scripts' graph, keeping the order by path that
// exportReferencesGraph gives (the layering's ties depend on it).
func withScriptRefs(paths, scripts []closure.Path, refs []string) []closure.Path {
	if len(refs) == 0 {
		return paths
	}
	byPath := map[string]closure.Path{}
	for _, p := range scripts {
		byPath[p.Path] = p
	}
	have := map[string]bool{}
	for _, p := range paths {
		have[p.Path] = true
	}
	out := slices.Clone(paths)
	todo := slices.Clone(refs)
	for len(todo) > 0 {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if have[p] {
			continue
		}
		have[p] = true
		node := byPath[p]
		out = append(out, node)
		todo = append(todo, node.References...)
	}
	slices.SortFunc(out, func(a, b closure.Path) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// candidates are the paths of scripts that paths lacks, by hash part.
func candidates(storeDir string, paths, scripts []closure.Path) map[string]string {
	have := map[string]bool{}
	for _, p := range paths {
		have[p.Path] = true
	}
	out := map[string]string{}
	for _, p := range scripts {
		if h, ok := hashPart(storeDir, p.Path); ok && !have[p.Path] {
			out[h] = p.Path
		}
	}
	return out
}
