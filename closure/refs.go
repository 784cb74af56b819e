package closure

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
)

// Files a build script makes may refer to store paths the script mentions
// (`ln -s ${hello}/bin/hello bin/hello`). Nix finds a derivation's
// references by scanning its output for the hash parts of its inputs, so
// nixpkgs' layers hold such paths; RefScanner finds them the same way in a
// layer the builder made itself.

// HashPart returns the hash of the store path p (under storeDir) lies in.
func HashPart(storeDir, p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, storeDir+"/")
	if !ok || len(rest) < 32 {
		return "", false
	}
	return rest[:32], true
}

// Candidates are the paths of graph that have lacks, by hash part: what a
// scan can add to an image's closure.
func Candidates(storeDir string, have, graph []Path) map[string]string {
	in := map[string]bool{}
	for _, p := range have {
		in[p.Path] = true
	}
	out := map[string]string{}
	for _, p := range graph {
		if h, ok := HashPart(storeDir, p.Path); ok && !in[p.Path] {
			out[h] = p.Path
		}
	}
	return out
}

// RefScanner collects the candidates that scanned text mentions as
// STOREDIR/HASH.
type RefScanner struct {
	prefix     []byte
	candidates map[string]string
	found      map[string]bool
}

// NewRefScanner scans for candidates (hash part -> path) under storeDir.
func NewRefScanner(storeDir string, candidates map[string]string) *RefScanner {
	return &RefScanner{prefix: []byte(storeDir + "/"), candidates: candidates, found: map[string]bool{}}
}

// Bytes scans data (a link target, a file's contents).
func (s *RefScanner) Bytes(data []byte) {
	if len(s.candidates) == 0 {
		return
	}
	for i := 0; ; {
		j := bytes.Index(data[i:], s.prefix)
		if j < 0 || i+j+len(s.prefix)+32 > len(data) {
			return
		}
		i += j + len(s.prefix)
		if p, ok := s.candidates[string(data[i:i+32])]; ok {
			s.found[p] = true
		}
	}
}

// File scans a file in chunks that overlap by a reference's length, so
// that one across two chunks is seen, in bounded memory.
func (s *RefScanner) File(path string) error {
	if len(s.candidates) == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	keep := len(s.prefix) + 32
	r := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 0, 1<<20+keep)
	chunk := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(r, chunk)
		buf = append(buf, chunk[:n]...)
		s.Bytes(buf)
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

// Found returns the candidates seen, sorted.
func (s *RefScanner) Found() []string {
	out := make([]string, 0, len(s.found))
	for p := range s.found {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// WithClosures adds to paths the paths refs names and their closures in
// graph, keeping the order by path that exportReferencesGraph gives (the
// layering's ties depend on it).
func WithClosures(paths, graph []Path, refs []string) []Path {
	if len(refs) == 0 {
		return paths
	}
	byPath := map[string]Path{}
	for _, p := range graph {
		byPath[p.Path] = p
	}
	have := map[string]bool{}
	for _, p := range paths {
		have[p.Path] = true
	}
	out := slices.Clone(paths)
	pending := slices.Clone(refs)
	for len(pending) > 0 {
		p := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		if have[p] {
			continue
		}
		have[p] = true
		node, ok := byPath[p]
		if !ok {
			continue
		}
		out = append(out, node)
		pending = append(pending, node.References...)
	}
	slices.SortFunc(out, func(a, b Path) int { return strings.Compare(a.Path, b.Path) })
	return out
}
