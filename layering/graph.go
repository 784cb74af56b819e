package layering

import (
	"github.com/nix-dockertools/dockertools/closure"
)

// graph is a pipeline graph: vertices (dag ids) in order, and for each its
// children in this graph. Edges are explicit rather than derived from the
// dag because split_paths deletes some and merged graphs lack the ones
// between their parts.
type graph struct {
	verts []int32
	adj   [][]int32 // aligned with verts
}

// members maps each vertex to its position.
func (g *graph) members() map[int32]int {
	m := make(map[int32]int, len(g.verts))
	for i, v := range g.verts {
		m[v] = i
	}
	return m
}

// induced is the subgraph on the vertices keep accepts, in g's order, with
// the edges of g between them.
func (g *graph) induced(keep func(int32) bool) *graph {
	out := &graph{}
	for i, v := range g.verts {
		if !keep(v) {
			continue
		}
		var cs []int32
		for _, c := range g.adj[i] {
			if keep(c) {
				cs = append(cs, c)
			}
		}
		out.verts = append(out.verts, v)
		out.adj = append(out.adj, cs)
	}
	return out
}

// reach is the set of vertices reachable from starts (included) along the
// edges of g, or against them if up.
func (g *graph) reach(starts []int32, up bool) map[int32]bool {
	pos := g.members()
	next := g.adj
	if up {
		next = make([][]int32, len(g.verts))
		for i, v := range g.verts {
			for _, c := range g.adj[i] {
				next[pos[c]] = append(next[pos[c]], v)
			}
		}
	}
	seen := make(map[int32]bool, len(starts))
	queue := make([]int32, 0, len(starts))
	for _, s := range starts {
		if _, ok := pos[s]; ok && !seen[s] {
			seen[s] = true
			queue = append(queue, s)
		}
	}
	for i := 0; i < len(queue); i++ {
		for _, c := range next[pos[queue[i]]] {
			if !seen[c] {
				seen[c] = true
				queue = append(queue, c)
			}
		}
	}
	return seen
}

// lookup returns the ids of the paths that are vertices of g, in the order
// given; unknown paths are ignored, as nixpkgs does.
func (r *runner) lookup(g *graph, paths []string) []int32 {
	if r.ids == nil {
		r.ids = make(map[string]int32, len(r.d.names))
		for id, p := range r.d.names {
			r.ids[p] = int32(id)
		}
	}
	pos := g.members()
	var out []int32
	for _, p := range paths {
		if id, ok := r.ids[p]; ok {
			if _, in := pos[id]; in {
				out = append(out, id)
			}
		}
	}
	return out
}

// popularityContest orders the vertices most popular first, each in a graph
// of its own. The counting is the old referencesByPopularity's, on this
// graph's edges: its roots are the paths nothing in it references.
func popularityContest(d *dag, g *graph) seq {
	cg := make(closure.Graph, len(g.verts))
	ids := make(map[string]int32, len(g.verts))
	for i, v := range g.verts {
		refs := make([]string, len(g.adj[i]))
		for j, c := range g.adj[i] {
			refs[j] = d.names[c]
		}
		cg[d.names[v]] = refs
		ids[d.names[v]] = v
	}
	order := closure.Order(cg)
	out := make(seq, len(order))
	for i, p := range order {
		out[i] = &graph{verts: []int32{ids[p]}, adj: [][]int32{nil}}
	}
	return out
}

// splitEvery cuts g into graphs of n consecutive vertices.
func splitEvery(g *graph, n int) seq {
	out := seq{}
	for start := 0; start < len(g.verts); start += n {
		part := map[int32]bool{}
		for _, v := range g.verts[start:min(start+n, len(g.verts))] {
			part[v] = true
		}
		out = append(out, g.induced(func(v int32) bool { return part[v] }))
	}
	return out
}

func (r *runner) removePaths(g *graph, paths []string) *graph {
	gone := map[int32]bool{}
	for _, id := range r.lookup(g, paths) {
		gone[id] = true
	}
	return g.induced(func(v int32) bool { return !gone[v] })
}

// subcomponent is {main: the paths and all they reach (or all that reach
// them, if up), rest: the others}.
func (r *runner) subcomponent(g *graph, paths []string, up bool) *dict {
	main := g.reach(r.lookup(g, paths), up)
	return &dict{
		keys: []string{"main", "rest"},
		vals: []value{
			g.induced(func(v int32) bool { return main[v] }),
			g.induced(func(v int32) bool { return !main[v] }),
		},
	}
}

// splitPaths separates the split paths S and what they reach (R) from the
// rest of the graph: main is what only S leads to, common what both S and
// the rest lead to, rest the others. Edges into S are deleted first, in the
// results too, so S's paths become roots for later steps.
func (r *runner) splitPaths(g *graph, specs []spec) value {
	var split []int32
	pos := g.members()
	for _, sp := range specs {
		if sp.childrenOf == nil {
			split = append(split, r.lookup(g, []string{sp.path})...)
			continue
		}
		for _, id := range r.lookup(g, sp.childrenOf) {
			split = append(split, g.adj[pos[id]]...)
		}
	}
	if len(split) == 0 {
		return &dict{keys: []string{"rest"}, vals: []value{g}}
	}
	inSplit := make(map[int32]bool, len(split))
	for _, id := range split {
		inSplit[id] = true
	}

	referenced := map[int32]bool{}
	for _, cs := range g.adj {
		for _, c := range cs {
			referenced[c] = true
		}
	}
	var roots []int32
	for _, v := range g.verts {
		if !referenced[v] {
			roots = append(roots, v)
		}
	}
	if len(roots) == 1 && inSplit[roots[0]] {
		return &dict{keys: []string{"main"}, vals: []value{g}}
	}

	reached := g.reach(split, false)
	cut := &graph{verts: g.verts, adj: make([][]int32, len(g.verts))}
	for i, cs := range g.adj {
		for _, c := range cs {
			if !inSplit[c] {
				cut.adj[i] = append(cut.adj[i], c)
			}
		}
	}
	// nixpkgs joins several roots under a made-up one, whose edges into S
	// are deleted too: a root in S is not reached from the other roots.
	var from []int32
	for _, v := range roots {
		if !inSplit[v] {
			from = append(from, v)
		}
	}
	rest := cut.reach(from, false)

	out := &dict{}
	for _, part := range []struct {
		key  string
		keep func(int32) bool
	}{
		{"main", func(v int32) bool { return reached[v] && !rest[v] }},
		{"common", func(v int32) bool { return reached[v] && rest[v] }},
		{"rest", func(v int32) bool { return rest[v] && !reached[v] }},
	} {
		if sub := cut.induced(part.keep); len(sub.verts) > 0 {
			out.keys = append(out.keys, part.key)
			out.vals = append(out.vals, sub)
		}
	}
	return out
}
