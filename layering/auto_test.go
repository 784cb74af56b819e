package layering

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
)

// node makes a graph node named name (see storePath) referencing refs.
func node(name string, size uint64, refs ...string) closure.Path {
	p := closure.Path{Path: storePath(name), NarSize: size, References: []string{}}
	for _, r := range refs {
		p.References = append(p.References, storePath(r))
	}
	return p
}

func paths(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = storePath(n)
	}
	return out
}

func TestAuto(t *testing.T) {
	hello := []closure.Path{
		node("glibc-2.40", 30_000_000, "glibc-2.40", "libgcc-14"),
		node("libgcc-14", 140_000),
		node("hello-2.12", 270_000, "glibc-2.40"),
		node("img-customisation-layer", 1_000_000, "hello-2.12"),
		node("img-base.json", 752),
	}
	imageExtras := paths("img-customisation-layer", "img-base.json")
	for _, tc := range []struct {
		name    string
		graph   []closure.Path
		exclude []string
		limit   int
		want    [][]string
	}{
		{"empty graph", nil, nil, 100, [][]string{}},
		{"limit 1: one layer, sorted by name", hello, imageExtras, 1,
			[][]string{paths("glibc-2.40", "hello-2.12", "libgcc-14")}},
		{"limit 0 as 1", hello, imageExtras, 0,
			[][]string{paths("glibc-2.40", "hello-2.12", "libgcc-14")}},
		// glibc takes libgcc (only it uses it); the customisation layer is
		// next and takes hello; the config file is left alone: three
		// layers, the last of which vanishes with exclusion.
		{"excluded-only layers dropped", hello, imageExtras, 3,
			[][]string{paths("glibc-2.40", "libgcc-14"), paths("hello-2.12")}},
		{"every path its own layer", hello, imageExtras, 100,
			[][]string{paths("libgcc-14"), paths("glibc-2.40"), paths("hello-2.12")}},
		{"nothing excluded", hello, nil, 2,
			[][]string{paths("glibc-2.40", "libgcc-14"), paths("hello-2.12", "img-base.json", "img-customisation-layer")}},
		{"unknown excluded path", hello[1:2], paths("absent-1"), 10, [][]string{paths("libgcc-14")}},
		// Equal sizes: the later in the input is tried first, so it gets the
		// layer of its own before the limit is reached.
		{"tie: later input first", []closure.Path{node("a-1", 100), node("b-1", 100), node("x-1", 1)}, nil, 2,
			[][]string{paths("b-1"), paths("a-1", "x-1")}},
		{"tie: unsorted input", []closure.Path{node("b-1", 100), node("a-1", 100), node("x-1", 1)}, nil, 2,
			[][]string{paths("a-1"), paths("b-1", "x-1")}},
		// Name first, then hash: "foo" sorts before "foo+x" although '+'
		// sorts before '-' in "foo-<hash>".
		{"name order", []closure.Path{node("foo+x", 1), node("foo", 1), node("bar", 1)}, nil, 1,
			[][]string{paths("bar", "foo", "foo+x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Auto(tc.graph, tc.exclude, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Layers, tc.want) {
				t.Errorf("Auto:\n got %s\nwant %s", short(r.Layers), short(tc.want))
			}
			dropped := 0
			for _, info := range r.Info {
				if len(info.Excluded) == len(info.Paths) {
					dropped++
				}
			}
			if len(r.Info)-dropped != len(r.Layers) {
				t.Errorf("%d layers before exclusion, %d of them only excluded paths, but %d after", len(r.Info), dropped, len(r.Layers))
			}
			if len(r.Info) > max(tc.limit, 1) {
				t.Errorf("%d layers for limit %d", len(r.Info), tc.limit)
			}
		})
	}
}

func TestAutoInfo(t *testing.T) {
	g := []closure.Path{
		node("glibc-2.40", 3000, "libgcc-14"),
		node("libgcc-14", 100),
		node("curl-8", 2000, "glibc-2.40", "zlib-1"),
		node("zlib-1", 50, "glibc-2.40"),
		node("git-2", 2500, "glibc-2.40", "zlib-1"),
		node("env", 10, "curl-8", "git-2"),
	}
	r, err := Auto(g, paths("env"), 100)
	if err != nil {
		t.Fatal(err)
	}
	// Every path became primary, so every layer is one path used by itself.
	if len(r.Info) != len(g) || len(r.Layers) != len(g)-1 {
		t.Fatalf("got %d layers (%d in the image), want %d (%d)", len(r.Info), len(r.Layers), len(g), len(g)-1)
	}
	r, err = Auto(g, paths("env"), 5)
	if err != nil {
		t.Fatal(err)
	}
	// glibc (with libgcc), git, curl become primary; zlib, used by both
	// curl and git, gets a layer keyed by both, env the empty key. That is
	// five; libgcc would make six.
	want := []LayerInfo{
		{UsedBy: paths("glibc-2.40"), Paths: paths("glibc-2.40", "libgcc-14"), LayerSize: 3100, ClosureSize: 3100},
		{UsedBy: paths("curl-8", "git-2"), Paths: paths("zlib-1"), LayerSize: 50, ClosureSize: 3150},
		{UsedBy: paths("curl-8"), Paths: paths("curl-8"), LayerSize: 2000, ClosureSize: 5150},
		{UsedBy: paths("git-2"), Paths: paths("git-2"), LayerSize: 2500, ClosureSize: 5650},
	}
	if got := r.Info[:len(r.Info)-1]; !reflect.DeepEqual(got, want) {
		t.Errorf("Info:\n got %+v\nwant %+v", got, want)
	}
	last := r.Info[len(r.Info)-1]
	if len(last.UsedBy) != 0 || !reflect.DeepEqual(last.Excluded, paths("env")) || last.ClosureSize != 7660 {
		t.Errorf("last layer %+v, want env alone, excluded, with the whole closure", last)
	}
	if len(r.Layers) != 4 {
		t.Errorf("env's layer should be dropped: %s", short(r.Layers))
	}

	var b strings.Builder
	if err := WriteDebug(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"auto-layer: 5 layers, 4 in the image",
		"layer 0 (image store layer 1): 2 paths, 3.0 KiB (3100 bytes); closure 3.0 KiB (3100 bytes)",
		"primary path glibc-2.40, with the dependencies no other primary path uses",
		"  " + storePath("glibc-2.40") + " (primary)\n",
		"used by the primary paths curl-8, git-2 and no other",
		"layer 4 (left out: only excluded paths): 1 path, 10 bytes; closure 7.5 KiB (7660 bytes)",
		"used by no primary path",
		"  " + storePath("env") + " (excluded)\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("debug output lacks %q:\n%s", line, b.String())
		}
	}
}

func TestAutoErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		graph []closure.Path
		limit int
		want  string
	}{
		{"negative limit", nil, -1, "layer limit -1, want at least 0"},
		{"missing reference", []closure.Path{node("a-1", 1, "b-1")}, 10, "references " + storePath("b-1") + ", which is not in the graph"},
		{"duplicate", []closure.Path{node("a-1", 1), node("a-1", 2)}, 10, "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Auto(tc.graph, nil, tc.limit)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "auto-layer: ") {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestAutoMatchesSpec compares Auto with a literal reading of the
// algorithm (sets of path names, the whole split copied per candidate) on
// random graphs with many equal sizes.
func TestAutoMatchesSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 400 {
		n := 1 + rng.IntN(25)
		var g []closure.Path
		for j := range n {
			p := node(fmt.Sprintf("p%d", j), uint64(1+rng.IntN(6)))
			for range rng.IntN(4) {
				if j > 0 {
					p.References = append(p.References, storePath(fmt.Sprintf("p%d", rng.IntN(j))))
				}
			}
			g = append(g, p)
		}
		rng.Shuffle(len(g), func(a, b int) { g[a], g[b] = g[b], g[a] })
		var exclude []string
		for _, p := range g {
			if rng.IntN(5) == 0 {
				exclude = append(exclude, p.Path)
			}
		}
		limit := rng.IntN(n + 3)
		got, err := Auto(g, exclude, limit)
		if err != nil {
			t.Fatal(err)
		}
		if want := specAuto(g, exclude, limit); !reflect.DeepEqual(got, want) {
			t.Fatalf("graph %d (%d paths, limit %d):\n got %+v\nwant %+v", i, n, limit, got, want)
		}
	}
}

// specAuto is the auto-layer algorithm as the reference document states
// it, with Auto's order among equal closure sizes.
func specAuto(g []closure.Path, exclude []string, limit int) Result {
	refs, users := map[string][]string{}, map[string][]string{}
	size := map[string]uint64{}
	for _, p := range g {
		size[p.Path] = p.NarSize
		for _, r := range p.References {
			refs[p.Path] = append(refs[p.Path], r)
			users[r] = append(users[r], p.Path)
		}
	}
	reach := func(next map[string][]string, from ...string) map[string]bool {
		seen := map[string]bool{}
		todo := slices.Clone(from)
		for len(todo) > 0 {
			p := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			for _, q := range next[p] {
				if !seen[q] {
					seen[q] = true
					todo = append(todo, q)
				}
			}
		}
		return seen
	}
	keyOf := func(set map[string]bool) string {
		var ks []string
		for k := range set {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return strings.Join(ks, " ")
	}

	split := map[string]map[string]bool{}
	for _, p := range g {
		split[p.Path] = map[string]bool{}
	}
	candidates := slices.Clone(g)
	slices.SortStableFunc(candidates, func(a, b closure.Path) int { return cmp.Compare(a.NarSize, b.NarSize) })
	for i := len(candidates) - 1; i >= 0; i-- {
		p := candidates[i].Path
		tentative := map[string]map[string]bool{}
		for q, k := range split {
			tentative[q] = maps.Clone(k)
		}
		tentative[p] = map[string]bool{p: true}
		deps, ups := reach(refs, p), reach(users, p)
		delete(deps, p)
		delete(ups, p)
		for d := range deps {
			for u := range ups {
				delete(tentative[d], u)
			}
			shared := false
			for q := range tentative[d] {
				shared = shared || deps[q]
			}
			if !shared {
				tentative[d][p] = true
			}
		}
		distinct := map[string]bool{}
		for _, k := range tentative {
			distinct[keyOf(k)] = true
		}
		if len(distinct) > limit {
			break
		}
		split = tentative
	}

	groups := map[string][]string{}
	usedBy := map[string][]string{}
	for p, k := range split {
		groups[keyOf(k)] = append(groups[keyOf(k)], p)
		usedBy[keyOf(k)] = slices.Collect(maps.Keys(k))
	}
	excluded := map[string]bool{}
	for _, x := range exclude {
		excluded[x] = true
	}
	var r Result
	for k, ps := range groups {
		info := LayerInfo{Paths: ps, UsedBy: usedBy[k]}
		slices.SortFunc(info.Paths, comparePaths)
		slices.SortFunc(info.UsedBy, comparePaths)
		for _, p := range ps {
			info.LayerSize += size[p]
			if excluded[p] {
				info.Excluded = append(info.Excluded, p)
			}
		}
		cl := reach(refs, ps...)
		for _, p := range ps {
			cl[p] = true
		}
		for p := range cl {
			info.ClosureSize += size[p]
		}
		r.Info = append(r.Info, info)
	}
	slices.SortFunc(r.Info, func(a, b LayerInfo) int {
		return cmp.Or(cmp.Compare(a.ClosureSize, b.ClosureSize), comparePaths(a.Paths[0], b.Paths[0]))
	})
	r.Layers = [][]string{}
	for _, info := range r.Info {
		var layer []string
		for _, p := range info.Paths {
			if !excluded[p] {
				layer = append(layer, p)
			}
		}
		if layer != nil {
			r.Layers = append(r.Layers, layer)
		}
	}
	return r
}
