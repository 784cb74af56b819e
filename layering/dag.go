package layering

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/nix-dockertools/dockertools/closure"
)

// dag is a reference graph on integer ids (the input order), which both
// algorithms walk many times.
type dag struct {
	names    []string
	sizes    []uint64
	children [][]int32 // deduplicated, self-references dropped
	parents  [][]int32
}

// newDAG indexes g without the paths in skip, dropping references to them
// too. A reference to a path that is not in g at all is an error: nixpkgs
// would fail on it, and a graph built by hand may well have one.
func newDAG(g []closure.Path, skip map[string]bool) (*dag, error) {
	if len(g) > math.MaxInt32 {
		return nil, fmt.Errorf("graph of %d paths is too large", len(g))
	}
	present := make(map[string]bool, len(g))
	ids := make(map[string]int32, len(g))
	d := &dag{}
	for _, p := range g {
		if present[p.Path] {
			return nil, fmt.Errorf("path %s appears twice in the graph", p.Path)
		}
		present[p.Path] = true
		if skip[p.Path] {
			continue
		}
		ids[p.Path] = int32(len(d.names))
		d.names = append(d.names, p.Path)
		d.sizes = append(d.sizes, p.NarSize)
	}
	d.children = make([][]int32, len(d.names))
	d.parents = make([][]int32, len(d.names))
	for _, p := range g {
		me, kept := ids[p.Path]
		for _, r := range p.References {
			if !present[r] {
				return nil, fmt.Errorf("%s references %s, which is not in the graph", p.Path, r)
			}
			c, ok := ids[r]
			if !kept || !ok || c == me {
				continue
			}
			d.children[me] = append(d.children[me], c)
		}
		if kept {
			slices.Sort(d.children[me])
			d.children[me] = slices.Compact(d.children[me])
		}
	}
	for u, cs := range d.children {
		for _, c := range cs {
			d.parents[c] = append(d.parents[c], int32(u))
		}
	}
	return d, nil
}

// walker finds everything reachable from a set of paths. Its marks are
// stamped rather than cleared, so a walk costs only what it visits.
type walker struct {
	mark  []uint32
	stamp uint32
	queue []int32
}

func newWalker(n int) *walker { return &walker{mark: make([]uint32, n)} }

// reach returns the paths reachable from starts through next, without the
// starts themselves unless a cycle leads back to them (closure.Parse rejects
// cycles). seen reports membership until the next call.
func (w *walker) reach(next [][]int32, starts ...int32) []int32 {
	w.stamp++
	w.queue = w.queue[:0]
	for _, s := range starts {
		for _, c := range next[s] {
			if w.mark[c] != w.stamp {
				w.mark[c] = w.stamp
				w.queue = append(w.queue, c)
			}
		}
	}
	for i := 0; i < len(w.queue); i++ {
		for _, c := range next[w.queue[i]] {
			if w.mark[c] != w.stamp {
				w.mark[c] = w.stamp
				w.queue = append(w.queue, c)
			}
		}
	}
	return w.queue
}

func (w *walker) seen(id int32) bool { return w.mark[id] == w.stamp }

// comparePaths is auto-layer's order inside a layer: by name (what follows
// the first '-'), then by what precedes it (the store directory and hash).
// It compares the two parts separately, which differs from comparing
// "name-hash" strings when one name is a prefix of the other.
func comparePaths(a, b string) int {
	ah, an, _ := strings.Cut(a, "-")
	bh, bn, _ := strings.Cut(b, "-")
	if c := strings.Compare(an, bn); c != 0 {
		return c
	}
	return strings.Compare(ah, bh)
}
