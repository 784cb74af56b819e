package closure

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
)

// index is a Graph with integer ids (ids follow ascending path order, so
// everything derived from it is deterministic whatever the map order was).
type index struct {
	names    []string
	children [][]int32 // deduplicated, sorted, self-references removed
	// topo lists ids parents-first. Paths on a cycle, or below one, never
	// lose all their parents and so are missing: those are "never reached".
	topo []int32
}

func newIndex(g Graph) *index {
	ids := make(map[string]int32, len(g))
	names := make([]string, 0, len(g))
	nrefs := 0
	for p, refs := range g {
		if _, ok := ids[p]; !ok {
			ids[p] = 0
			names = append(names, p)
		}
		for _, r := range refs {
			if _, ok := ids[r]; !ok {
				ids[r] = 0
				names = append(names, r)
			}
		}
		nrefs += len(refs)
	}
	if len(names) > math.MaxInt32 {
		panic(fmt.Sprintf("closure: graph of %d paths is too large", len(names)))
	}
	slices.Sort(names)
	for i, p := range names {
		ids[p] = int32(i)
	}

	// One backing array for all edges keeps the graph to a few allocations.
	edges := make([]int32, 0, nrefs)
	children := make([][]int32, len(names))
	indeg := make([]int32, len(names))
	for p, refs := range g {
		me := ids[p]
		start := len(edges)
		for _, r := range refs {
			if c := ids[r]; c != me {
				edges = append(edges, c)
			}
		}
		cs := edges[start:]
		slices.Sort(cs)
		cs = slices.Compact(cs)
		edges = edges[:start+len(cs)]
		children[me] = cs[:len(cs):len(cs)]
		for _, c := range cs {
			indeg[c]++
		}
	}

	topo := make([]int32, 0, len(names))
	for id, d := range indeg {
		if d == 0 {
			topo = append(topo, int32(id))
		}
	}
	for i := 0; i < len(topo); i++ {
		for _, c := range children[topo[i]] {
			if indeg[c]--; indeg[c] == 0 {
				topo = append(topo, c)
			}
		}
	}
	return &index{names: names, children: children, topo: topo}
}

// cycle returns one reference cycle as a list of paths whose last element
// repeats the first, or nil if the graph is acyclic.
func (ix *index) cycle() []string {
	if len(ix.topo) == len(ix.names) {
		return nil
	}
	// Every path left out of topo still has a parent left out of topo, so
	// walking up from any of them must come back to a path already seen.
	left := make([]bool, len(ix.names))
	for i := range left {
		left[i] = true
	}
	for _, id := range ix.topo {
		left[id] = false
	}
	parent := make([]int32, len(ix.names))
	for i := range parent {
		parent[i] = -1
	}
	for u, cs := range ix.children {
		if !left[u] {
			continue
		}
		for _, c := range cs {
			if left[c] && parent[c] < 0 {
				parent[c] = int32(u)
			}
		}
	}
	start := int32(slices.Index(left, true))
	seen := make(map[int32]int)
	var walk []int32
	for v := start; ; v = parent[v] {
		if at, ok := seen[v]; ok {
			walk = walk[at:]
			break
		}
		seen[v] = len(walk)
		walk = append(walk, v)
	}
	// The walk went from child to parent; references point the other way.
	out := make([]string, 0, len(walk)+1)
	for i := len(walk) - 1; i >= 0; i-- {
		out = append(out, ix.names[walk[i]])
	}
	return append(out, out[0])
}

// maxCount is where popularity counts saturate. The counts grow with the
// number of distinct reference chains, which is exponential in graph depth
// for diamond-shaped graphs, and the API hands them out as int.
const maxCount = uint64(math.MaxInt)

func satAdd(a, b uint64) uint64 {
	// a, b <= maxCount < 2^63, so a+b cannot wrap.
	if s := a + b; s < maxCount {
		return s
	}
	return maxCount
}

// popularity returns the popularity of every path by id, 0 for paths never
// reached (every reached path counts at least 1).
//
// The recursive definition (see Popularity) unrolls to a closed form: with
// chains(v) the number of distinct reference chains from any root down to v
// (1 for a root), Pop[q] is the sum of chains(v) over q and all its
// ancestors v. chains is one pass in topological order; the ancestor sets
// are bitsets over topological positions, built parents-first and dropped as
// soon as a path's last child has used its set. The cost is about
// references*paths/64 word operations for the unions plus one addition per
// (ancestor, path) pair, instead of one count map per path; memory is one
// bitset for each path whose children are still pending.
func (ix *index) popularity() []uint64 {
	n := len(ix.topo)
	pos := make([]int32, len(ix.names))
	for i := range pos {
		pos[i] = -1
	}
	for t, id := range ix.topo {
		pos[id] = int32(t)
	}

	// Parents by topological position, in one backing array. A reached path
	// can have an unreached child (the child's other parent is on a cycle);
	// such edges do not matter and are skipped.
	pstart := make([]int32, n+1)
	nchildren := make([]int32, n)
	for t, id := range ix.topo {
		for _, c := range ix.children[id] {
			if pc := pos[c]; pc >= 0 {
				pstart[pc+1]++
				nchildren[t]++
			}
		}
	}
	for t := range n {
		pstart[t+1] += pstart[t]
	}
	parents := make([]int32, pstart[n])
	fill := slices.Clone(pstart[:n])
	for t, id := range ix.topo {
		for _, c := range ix.children[id] {
			if pc := pos[c]; pc >= 0 {
				parents[fill[pc]] = int32(t)
				fill[pc]++
			}
		}
	}

	chains := make([]uint64, n)
	for t := range n {
		ps := parents[pstart[t]:pstart[t+1]]
		if len(ps) == 0 {
			chains[t] = 1
			continue
		}
		var c uint64
		for _, u := range ps {
			c = satAdd(c, chains[u])
		}
		chains[t] = c
	}

	// A full 64-bit word of ancestors adds a precomputed block sum instead of
	// 64 separate lookups; dense ancestor sets are the common case for the
	// low-level libraries that matter most.
	words := (n + 63) / 64
	blockSum := make([]uint64, words)
	for t, c := range chains {
		blockSum[t/64] = satAdd(blockSum[t/64], c)
	}

	pop := make([]uint64, len(ix.names))
	anc := make([][]uint64, n)
	var free [][]uint64 // released ancestor sets, reused to spare the allocator
	for t := range n {
		ps := parents[pstart[t]:pstart[t+1]]
		total := chains[t]
		var set []uint64
		if len(ps) > 0 {
			need := (t + 63) / 64
			if k := len(free) - 1; k >= 0 && cap(free[k]) >= need {
				set = free[k][:need]
				free = free[:k]
				clear(set)
			} else {
				set = make([]uint64, need, words)
			}
			for _, u := range ps {
				a := anc[u]
				dst := set[:len(a)]
				for w, x := range a {
					dst[w] |= x
				}
				set[u/64] |= 1 << (u % 64)
			}
			for w, x := range set {
				if x == ^uint64(0) {
					total = satAdd(total, blockSum[w])
					continue
				}
				for x != 0 {
					total = satAdd(total, chains[w*64+bits.TrailingZeros64(x)])
					x &= x - 1
				}
			}
			for _, u := range ps {
				if nchildren[u]--; nchildren[u] == 0 && anc[u] != nil {
					free = append(free, anc[u])
					anc[u] = nil
				}
			}
		}
		if nchildren[t] > 0 {
			anc[t] = set
		} else if set != nil {
			free = append(free, set)
		}
		pop[ix.topo[t]] = total
	}
	return pop
}

// Popularity returns the popularity count of every path reachable from the roots of g
// (roots = paths that no other path references; self-references are ignored).
//
// The count is nixpkgs' popularity contest: with Q(p)[q] = Σ over children
// c of p of [q = c] + (Q(c)[q] + 1 if q is in Q(c)), every root r counts 1
// and every q in Q(r) gets Q(r)[q] + 1. Counts saturate at math.MaxInt (they
// grow exponentially with the depth of diamond-shaped graphs); below that
// they are exact. Paths on or below a reference cycle are not reachable in
// this sense and are absent from the map.
func Popularity(g Graph) map[string]int {
	ix := newIndex(g)
	pop := ix.popularity()
	out := make(map[string]int, len(ix.topo))
	for _, id := range ix.topo {
		out[ix.names[id]] = int(pop[id])
	}
	return out
}

// sortKey is nixpkgs' tie-break key: the path with everything before the
// first '-' moved to the end, so equal popularities sort by package name and
// the store hash only decides between equal names.
func sortKey(p string) string {
	before, after, ok := strings.Cut(p, "-")
	if !ok {
		return p
	}
	return after + "-" + before
}

// Order returns all paths of g ordered by popularity (descending), ties broken by the sort key below;
// paths never reached (should not happen in a DAG) are appended at the end in ascending path order.
//
// The sort key is the path with everything up to the first '-' moved to the
// end: /nix/store/abc123-hello-2.12 sorts as "hello-2.12-/nix/store/abc123".
// Keys compare as byte strings. Referenced paths that are not keys of g are
// included. Saturated counts (see Popularity) tie and fall back to the key.
func Order(g Graph) []string {
	ix := newIndex(g)
	pop := ix.popularity()
	keys := make([]string, len(ix.names))
	for _, id := range ix.topo {
		keys[id] = sortKey(ix.names[id])
	}
	reached := slices.Clone(ix.topo)
	slices.SortFunc(reached, func(a, b int32) int {
		if pop[a] != pop[b] {
			if pop[a] > pop[b] {
				return -1
			}
			return 1
		}
		if c := strings.Compare(keys[a], keys[b]); c != 0 {
			return c
		}
		return strings.Compare(ix.names[a], ix.names[b])
	})
	out := make([]string, 0, len(ix.names))
	for _, id := range reached {
		out = append(out, ix.names[id])
	}
	// Ids follow ascending path order, and only unreached paths have pop 0.
	for id, p := range pop {
		if p == 0 {
			out = append(out, ix.names[id])
		}
	}
	return out
}

// Split groups an ordered list into at most n layers: the first n-1 paths get a layer each, all the
// rest (in order) form the last layer. No empty layers: fewer paths than n gives one layer per path.
// n < 1 is an error.
//
// An empty order gives no layers. The layers share one copy of order, capped
// so that appending to one layer cannot overwrite the next.
func Split(order []string, n int) ([][]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("splitting %d paths into layers: layer count %d, want at least 1", len(order), n)
	}
	if len(order) == 0 {
		return nil, nil
	}
	paths := slices.Clone(order)
	single := min(n-1, len(paths))
	layers := make([][]string, 0, single+1)
	for i := range single {
		layers = append(layers, paths[i:i+1:i+1])
	}
	if single < len(paths) {
		layers = append(layers, paths[single:len(paths):len(paths)])
	}
	return layers, nil
}
