package closure

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Path is one object of a closure, as Nix's exportReferencesGraph writes it with __structuredAttrs.
type Path struct {
	Path        string   `json:"path"`
	NarHash     string   `json:"narHash"`
	NarSize     uint64   `json:"narSize"`
	ClosureSize uint64   `json:"closureSize"`
	References  []string `json:"references"`
}

// rawPath mirrors Path but keeps "path" as a pointer, because an absent path
// and an empty one are different mistakes worth reporting differently.
type rawPath struct {
	Path        *string  `json:"path"`
	NarHash     string   `json:"narHash"`
	NarSize     uint64   `json:"narSize"`
	ClosureSize uint64   `json:"closureSize"`
	References  []string `json:"references"`
}

// Parse decodes the JSON array exportReferencesGraph gives (one object per store path, sorted by path).
//
// The input order is kept. Beyond well-formedness it checks what the layering
// relies on: every path and reference is a store path
// (<store dir>/<32-char hash>-<name>), no path appears twice, every reference
// is itself in the graph and references form no cycle other than
// self-references (Nix never produces one; a cycle would leave paths
// unlayered). Unknown object fields are ignored so newer Nix versions that
// add fields still parse.
func Parse(data []byte) ([]Path, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("parsing closure graph: not valid JSON (at byte %d): %w", syntax.Offset, err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("parsing closure graph: got a JSON %s, want an array of path objects", typ.Value)
		default:
			return nil, fmt.Errorf("parsing closure graph: %w", err)
		}
	}
	if elems == nil {
		return nil, errors.New("parsing closure graph: got JSON null, want an array of path objects")
	}

	paths := make([]Path, len(elems))
	index := make(map[string]int, len(elems))
	for i, elem := range elems {
		if kind := jsonKind(elem); kind != "object" {
			return nil, fmt.Errorf("parsing closure graph: element %d is a JSON %s, want an object", i, kind)
		}
		var raw rawPath
		if err := json.Unmarshal(elem, &raw); err != nil {
			return nil, fmt.Errorf("parsing closure graph: element %d: %w", i, err)
		}
		if raw.Path == nil {
			return nil, fmt.Errorf("parsing closure graph: element %d has no \"path\"", i)
		}
		p := *raw.Path
		if err := checkStorePath(p); err != nil {
			return nil, fmt.Errorf("parsing closure graph: element %d: path %q: %w", i, p, err)
		}
		if j, dup := index[p]; dup {
			return nil, fmt.Errorf("parsing closure graph: path %q appears twice (elements %d and %d)", p, j, i)
		}
		index[p] = i
		paths[i] = Path{
			Path:        p,
			NarHash:     raw.NarHash,
			NarSize:     raw.NarSize,
			ClosureSize: raw.ClosureSize,
			References:  raw.References,
		}
	}

	for _, p := range paths {
		for _, ref := range p.References {
			if _, ok := index[ref]; ok {
				continue
			}
			if err := checkStorePath(ref); err != nil {
				return nil, fmt.Errorf("parsing closure graph: %s: reference %q: %w", p.Path, ref, err)
			}
			return nil, fmt.Errorf("parsing closure graph: %s references %s, which is missing from the graph", p.Path, ref)
		}
	}

	if cycle := newIndex(GraphOf(paths)).cycle(); cycle != nil {
		return nil, fmt.Errorf("parsing closure graph: reference cycle %s", strings.Join(cycle, " -> "))
	}
	return paths, nil
}

// jsonKind names the JSON type of a valid JSON value for error messages.
func jsonKind(v json.RawMessage) string {
	s := strings.TrimLeft(string(v), " \t\r\n")
	if s == "" {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// storeHashLen is the length of the base-32 digest that starts every store
// path's file name.
const storeHashLen = 32

// checkStorePath accepts <store dir>/<hash>-<name>. The store directory is
// not required to be /nix/store, since images can be built from other stores.
// The hash alphabet is only checked to be lower-case alphanumeric: that is
// enough to reject things that are not store paths at all.
func checkStorePath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	if !strings.HasPrefix(p, "/") {
		return errors.New("not an absolute path")
	}
	if path.Clean(p) != p {
		return fmt.Errorf("not a clean path (want %q)", path.Clean(p))
	}
	dir, base := path.Split(p)
	if dir == "/" {
		return fmt.Errorf("not inside a store directory such as %s", DefaultStoreDir)
	}
	if len(base) < storeHashLen+2 || base[storeHashLen] != '-' {
		return fmt.Errorf("file name %q is not <%d-character hash>-<name>", base, storeHashLen)
	}
	for _, c := range []byte(base[:storeHashLen]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return fmt.Errorf("hash %q has character %q, want only 0-9 and a-z", base[:storeHashLen], c)
		}
	}
	name := base[storeHashLen+1:]
	for _, c := range []byte(name) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("+-._?=", c) >= 0) {
			return fmt.Errorf("name %q has character %q, which Nix does not allow in store path names", name, c)
		}
	}
	return nil
}

// Graph maps each store path to its references.
//
// A reference to a path that is not a key is treated as a path without
// references; Parse never produces such a graph.
type Graph map[string][]string

// GraphOf builds a Graph from paths. Reference slices are copied so the
// graph does not alias paths.
func GraphOf(paths []Path) Graph {
	g := make(Graph, len(paths))
	for _, p := range paths {
		g[p.Path] = append(g[p.Path], slices.Clone(p.References)...)
	}
	return g
}

// DefaultStoreDir is Nix's usual store directory. Derivations pass their
// own (builtins.storeDir) when it differs; this is only the fallback.
const DefaultStoreDir = "/nix/store"

// ParseStoreDir checks a store directory given by a derivation and returns
// it cleaned ("/nix/store/" -> "/nix/store"); "" means DefaultStoreDir.
func ParseStoreDir(dir string) (string, error) {
	if dir == "" {
		return DefaultStoreDir, nil
	}
	c := path.Clean(dir)
	if !strings.HasPrefix(c, "/") || c == "/" {
		return "", fmt.Errorf("expected an absolute directory other than / (such as %s), got %q", DefaultStoreDir, dir)
	}
	return c, nil
}

// Name is the base name of a store path in storeDir without its hash
// (<storeDir>/<hash>-hello-2.12.1 -> hello-2.12.1); other paths keep their
// base name.
func Name(storeDir, p string) string {
	b := path.Base(p)
	if len(b) > 33 && b[32] == '-' && strings.HasPrefix(p, storeDir+"/") {
		return b[33:]
	}
	return b
}

// ParseRooted parses a graph exported from root, a file that only carries
// the image's roots as its references, and returns it without root (which
// goes into no image). The paths keep Parse's order, sorted by path.
func ParseRooted(data []byte, root string) ([]Path, error) {
	paths, err := Parse(data)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(paths, func(p Path) bool { return p.Path == root })
	if i < 0 {
		return nil, fmt.Errorf("the closure does not hold its root %s", root)
	}
	return slices.Delete(paths, i, i+1), nil
}
