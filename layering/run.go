package layering

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nix-dockertools/dockertools/closure"
)

// A value is what a step takes and gives: a *graph, a *dict or a seq.
type value interface{}

// dict keeps its keys in order: flatten follows it.
type dict struct {
	keys []string
	vals []value
}

type seq []value

// Run applies the pipeline to the graph g without the paths in exclude
// (they and the references to them are removed first) and returns the
// layers: the final value flattened, each graph's paths in vertex order,
// empty ones dropped.
//
// The final value must be a list or dict of graphs; a bare graph (the empty
// pipeline, or one ending in remove_paths) is an error, as it is in nixpkgs,
// and so are steps given the wrong kind of value and over on a missing key.
func (p Pipeline) Run(g []closure.Path, exclude []string) ([][]string, error) {
	return p.run(g, exclude, nil)
}

// RunTrace is Run, writing to w the shape of each step's result.
func (p Pipeline) RunTrace(w io.Writer, g []closure.Path, exclude []string) ([][]string, error) {
	return p.run(g, exclude, w)
}

func (p Pipeline) run(g []closure.Path, exclude []string, trace io.Writer) ([][]string, error) {
	skip := make(map[string]bool, len(exclude))
	for _, x := range exclude {
		skip[x] = true
	}
	d, err := newDAG(g, skip)
	if err != nil {
		return nil, fmt.Errorf("layeringPipeline: %w", err)
	}
	r := &runner{d: d, trace: trace}
	var v value = r.whole()
	r.tracef("layeringPipeline: a graph of %d paths (%d excluded)\n", len(d.names), len(g)-len(d.names))
	if v, err = r.pipe(p.steps, v); err != nil {
		return nil, err
	}
	if gr, ok := v.(*graph); ok {
		if len(p.steps) == 0 {
			return nil, fmt.Errorf("layeringPipeline: the pipeline is empty, so its result is the whole graph (%s), not a list of layers", describe(gr))
		}
		return nil, fmt.Errorf("layeringPipeline %s: the pipeline ends with %s, not a list or dict of graphs (end it with a step such as [\"split_every\", 1] or [\"popularity_contest\"])",
			p.steps[len(p.steps)-1].where, describe(gr))
	}
	layers := [][]string{}
	for _, gr := range flatten(v) {
		if len(gr.verts) == 0 {
			continue
		}
		layer := make([]string, len(gr.verts))
		for i, id := range gr.verts {
			layer[i] = d.names[id]
		}
		layers = append(layers, layer)
	}
	return layers, nil
}

type runner struct {
	d     *dag
	ids   map[string]int32 // path -> dag id, made when a step names paths
	trace io.Writer
	depth int
}

func (r *runner) tracef(format string, a ...any) {
	if r.trace != nil {
		fmt.Fprintf(r.trace, strings.Repeat("  ", r.depth)+format, a...)
	}
}

// whole is the graph the pipeline starts from: vertices by narSize
// ascending, input order among equal sizes.
func (r *runner) whole() *graph {
	g := &graph{verts: make([]int32, len(r.d.names)), adj: make([][]int32, len(r.d.names))}
	for i := range g.verts {
		g.verts[i] = int32(i)
	}
	slices.SortStableFunc(g.verts, func(a, b int32) int { return cmp.Compare(r.d.sizes[a], r.d.sizes[b]) })
	for i, id := range g.verts {
		g.adj[i] = r.d.children[id]
	}
	return g
}

func (r *runner) pipe(steps []step, v value) (value, error) {
	for i := range steps {
		var err error
		if v, err = r.apply(&steps[i], v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// apply runs one step.
func (r *runner) apply(s *step, v value) (value, error) {
	r.depth++
	out, err := r.call(s, v)
	r.depth--
	if err == nil {
		r.tracef("%s: %s\n", s.where, describe(out))
	}
	return out, err
}

func (r *runner) call(s *step, v value) (value, error) {
	wrong := func(want string) error {
		return fmt.Errorf("layeringPipeline %s: expected %s, got %s", s.where, want, describe(v))
	}
	switch s.name {
	case "pipe":
		return r.pipe(s.pipe, v)
	case "over":
		m, ok := v.(*dict)
		if !ok {
			return nil, wrong("a dict")
		}
		i := slices.Index(m.keys, s.key)
		if i < 0 {
			return nil, fmt.Errorf("layeringPipeline %s: key %q is not in the dict (it has %s)", s.where, s.key, quoteKeys(m.keys))
		}
		nv, err := r.apply(s.sub, m.vals[i])
		if err != nil {
			return nil, err
		}
		out := &dict{keys: m.keys, vals: slices.Clone(m.vals)}
		out.vals[i] = nv
		return out, nil
	case "map":
		items, ok := v.(seq)
		if !ok {
			return nil, wrong("a list")
		}
		out := make(seq, len(items))
		// One trace line per item would drown the rest.
		trace := r.trace
		r.trace = nil
		defer func() { r.trace = trace }()
		for i, item := range items {
			var err error
			if out[i], err = r.apply(s.sub, item); err != nil {
				return nil, err
			}
		}
		return out, nil
	case "flatten":
		if _, ok := v.(*graph); ok {
			return nil, wrong("a dict or list")
		}
		gs := flatten(v)
		out := make(seq, len(gs))
		for i, g := range gs {
			out[i] = g
		}
		return out, nil
	case "reverse":
		items, ok := v.(seq)
		if !ok {
			return nil, wrong("a list")
		}
		out := slices.Clone(items)
		slices.Reverse(out)
		return out, nil
	case "limit_layers":
		items, ok := v.(seq)
		if !ok {
			return nil, wrong("a list (flatten a dict first)")
		}
		return limitLayers(s, items)
	}

	g, ok := v.(*graph)
	if !ok {
		return nil, wrong("a graph")
	}
	switch s.name {
	case "popularity_contest":
		return popularityContest(r.d, g), nil
	case "split_every":
		return splitEvery(g, s.n), nil
	case "remove_paths":
		return r.removePaths(g, s.paths), nil
	case "subcomponent_out":
		return r.subcomponent(g, s.paths, false), nil
	case "subcomponent_in":
		return r.subcomponent(g, s.paths, true), nil
	case "split_paths":
		return r.splitPaths(g, s.specs), nil
	}
	// ParsePipeline only makes steps named in arities.
	panic("layering: no implementation of " + s.name)
}

// limitLayers keeps the first n-1 items and merges the rest into one graph,
// empty if nothing is left.
func limitLayers(s *step, items seq) (value, error) {
	keep := min(s.n-1, len(items))
	out := slices.Clone(items[:keep])
	merged := &graph{}
	for i, item := range items[keep:] {
		g, ok := item.(*graph)
		if !ok {
			return nil, fmt.Errorf("layeringPipeline %s: item %d is %s, but only graphs can be merged into the last layer",
				s.where, keep+i+1, describe(item))
		}
		merged.verts = append(merged.verts, g.verts...)
		merged.adj = append(merged.adj, g.adj...)
	}
	return append(out, merged), nil
}

// flatten lists the graphs of a nested value, depth first, dicts in key
// order.
func flatten(v value) []*graph {
	var out []*graph
	var walk func(value)
	walk = func(v value) {
		switch x := v.(type) {
		case *graph:
			out = append(out, x)
		case *dict:
			for _, item := range x.vals {
				walk(item)
			}
		case seq:
			for _, item := range x {
				walk(item)
			}
		}
	}
	walk(v)
	return out
}

// describe gives a value's shape for messages and traces.
func describe(v value) string {
	switch x := v.(type) {
	case *graph:
		if len(x.verts) == 0 {
			return "an empty graph"
		}
		return "a graph of " + plural(len(x.verts), "path")
	case *dict:
		parts := make([]string, len(x.keys))
		for i, k := range x.keys {
			parts[i] = k + ": " + describe(x.vals[i])
		}
		return "a dict {" + strings.Join(parts, ", ") + "}"
	case seq:
		graphs, paths := 0, 0
		for _, g := range flatten(x) {
			graphs++
			paths += len(g.verts)
		}
		return fmt.Sprintf("a list of %s (%s in %s)", plural(len(x), "item"), plural(paths, "path"), plural(graphs, "graph"))
	}
	return fmt.Sprintf("%T", v)
}

func quoteKeys(keys []string) string {
	if len(keys) == 0 {
		return "no keys"
	}
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}
