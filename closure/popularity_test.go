package closure

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// naivePopularity is the definition from nixpkgs' popularity contest, written
// out literally with memoised count maps. It is far too slow for real graphs
// but is the reference the fast version must agree with.
func naivePopularity(g Graph) map[string]uint64 {
	refs := func(p string) []string {
		var out []string
		for _, r := range g[p] {
			if r != p && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
		return out
	}
	memo := map[string]map[string]uint64{}
	var q func(p string) map[string]uint64
	q = func(p string) map[string]uint64 {
		if m, ok := memo[p]; ok {
			return m
		}
		m := map[string]uint64{}
		for _, c := range refs(p) {
			m[c]++
			for k, v := range q(c) {
				m[k] += v + 1
			}
		}
		memo[p] = m
		return m
	}
	referenced := map[string]bool{}
	for p := range g {
		for _, r := range refs(p) {
			referenced[r] = true
		}
	}
	pop := map[string]uint64{}
	for p := range g {
		if referenced[p] {
			continue
		}
		pop[p]++
		for k, v := range q(p) {
			pop[k] += v + 1
		}
	}
	return pop
}

// graphOf builds a Graph of synthetic store paths from "name: refs..." lines.
func graphOf(spec ...string) (Graph, func(string) string) {
	g := Graph{}
	for _, line := range spec {
		name, refs, _ := strings.Cut(line, ":")
		p := storePath(strings.TrimSpace(name))
		g[p] = append(g[p], nil...)
		for _, r := range strings.Fields(refs) {
			g[p] = append(g[p], storePath(r))
			if _, ok := g[storePath(r)]; !ok {
				g[storePath(r)] = nil
			}
		}
	}
	return g, storePath
}

func TestPopularityAndOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		graph []string
		pop   map[string]int
		order []string
	}{
		{
			name:  "diamond chain",
			graph: []string{"foo: bar baz", "bar: baz", "baz: tux"},
			pop:   map[string]int{"foo": 1, "bar": 2, "baz": 4, "tux": 6},
			order: []string{"tux", "baz", "bar", "foo"},
		},
		{
			name:  "nixpkgs test graph",
			graph: []string{"A: B G", "B: C E", "C: D E", "D: F", "E: F"},
			pop:   map[string]int{"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 9, "G": 2},
			order: []string{"F", "E", "D", "C", "B", "G", "A"},
		},
		{
			name:  "self references change nothing",
			graph: []string{"A: A B G", "B: C E B", "C: D E", "D: F D", "E: F", "F: F"},
			pop:   map[string]int{"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 9, "G": 2},
			order: []string{"F", "E", "D", "C", "B", "G", "A"},
		},
		{
			name:  "duplicate references count once",
			graph: []string{"foo: bar bar baz", "bar: baz baz", "baz: tux"},
			pop:   map[string]int{"foo": 1, "bar": 2, "baz": 4, "tux": 6},
			order: []string{"tux", "baz", "bar", "foo"},
		},
		{
			name:  "a lone self-referencing path is a root",
			graph: []string{"solo: solo"},
			pop:   map[string]int{"solo": 1},
			order: []string{"solo"},
		},
		{
			name:  "two roots share a dependency",
			graph: []string{"app-a: lib", "app-b: lib", "lib: base"},
			pop:   map[string]int{"app-a": 1, "app-b": 1, "lib": 4, "base": 6},
			order: []string{"base", "lib", "app-a", "app-b"},
		},
		{
			name:  "empty graph",
			pop:   map[string]int{},
			order: []string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, sp := graphOf(tc.graph...)
			wantPop := map[string]int{}
			for name, n := range tc.pop {
				wantPop[sp(name)] = n
			}
			if got := Popularity(g); !reflect.DeepEqual(got, wantPop) {
				t.Errorf("Popularity = %v, want %v", got, wantPop)
			}
			wantOrder := []string{}
			for _, name := range tc.order {
				wantOrder = append(wantOrder, sp(name))
			}
			if got := Order(g); !reflect.DeepEqual(got, wantOrder) {
				t.Errorf("Order =\n %q\nwant\n %q", got, wantOrder)
			}
			naive := naivePopularity(g)
			for p, n := range wantPop {
				if naive[p] != uint64(n) {
					t.Errorf("reference implementation gives %s popularity %d, test expects %d", p, naive[p], n)
				}
			}
		})
	}
}

func TestHello(t *testing.T) {
	g := Graph{
		hello:        {glibc},
		glibc:        {libidn2, libgcc, glibc},
		libidn2:      {libunistring},
		libgcc:       nil,
		libunistring: nil,
	}
	wantPop := map[string]int{libunistring: 4, libidn2: 3, libgcc: 3, glibc: 2, hello: 1}
	if got := Popularity(g); !reflect.DeepEqual(got, wantPop) {
		t.Errorf("Popularity = %v, want %v", got, wantPop)
	}
	order := Order(g)
	if want := []string{libunistring, libidn2, libgcc, glibc, hello}; !reflect.DeepEqual(order, want) {
		t.Fatalf("Order =\n %q\nwant\n %q", order, want)
	}
	for _, tc := range []struct {
		n    int
		want [][]string
	}{
		{1, [][]string{{libunistring, libidn2, libgcc, glibc, hello}}},
		{3, [][]string{{libunistring}, {libidn2}, {libgcc, glibc, hello}}},
		{5, [][]string{{libunistring}, {libidn2}, {libgcc}, {glibc}, {hello}}},
		{100, [][]string{{libunistring}, {libidn2}, {libgcc}, {glibc}, {hello}}},
	} {
		t.Run(fmt.Sprint("split into ", tc.n), func(t *testing.T) {
			layers, err := Split(order, tc.n)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if !reflect.DeepEqual(layers, tc.want) {
				t.Errorf("Split(order, %d) =\n %q\nwant\n %q", tc.n, layers, tc.want)
			}
		})
	}
}

func TestSortKeyTieBreak(t *testing.T) {
	// Equal popularity: the name decides, and the hash only between equal
	// names, whatever the hashes are.
	g := Graph{
		"/nix/store/00000000000000000000000000000000-zlib-1.3": nil,
		"/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-bash-5.2": nil,
		"/nix/store/11111111111111111111111111111111-bash-5.2": nil,
		"/nix/store/22222222222222222222222222222222-bash-5":   nil,
		"/nix/store/33333333333333333333333333333333-Bash-6":   nil,
	}
	want := []string{
		"/nix/store/33333333333333333333333333333333-Bash-6", // 'B' < 'b' bytewise
		"/nix/store/22222222222222222222222222222222-bash-5",
		"/nix/store/11111111111111111111111111111111-bash-5.2",
		"/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-bash-5.2",
		"/nix/store/00000000000000000000000000000000-zlib-1.3",
	}
	if got := Order(g); !reflect.DeepEqual(got, want) {
		t.Errorf("Order =\n %q\nwant\n %q", got, want)
	}
	if got, want := sortKey("/nix/store/abc123-hello-2.12"), "hello-2.12-/nix/store/abc123"; got != want {
		t.Errorf("sortKey = %q, want %q", got, want)
	}
	if got, want := sortKey("/nohyphen"), "/nohyphen"; got != want {
		t.Errorf("sortKey = %q, want %q", got, want)
	}
}

func TestUnreached(t *testing.T) {
	// Nix never produces cycles, but a Graph built by hand can hold one.
	// Paths on it or below it count as never reached.
	g, sp := graphOf("root: lib a", "lib: base", "a: b", "b: a c", "c: base", "x: y", "y: x")
	wantPop := map[string]int{sp("root"): 1, sp("lib"): 2}
	if got := Popularity(g); !reflect.DeepEqual(got, wantPop) {
		t.Errorf("Popularity = %v, want %v", got, wantPop)
	}
	unreached := []string{sp("a"), sp("b"), sp("c"), sp("base"), sp("x"), sp("y")}
	slices.Sort(unreached)
	want := append([]string{sp("lib"), sp("root")}, unreached...)
	if got := Order(g); !reflect.DeepEqual(got, want) {
		t.Errorf("Order =\n %q\nwant\n %q", got, want)
	}
}

func TestMissingKeyIsLeaf(t *testing.T) {
	g := Graph{hello: {glibc}}
	if got, want := Order(g), []string{glibc, hello}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order = %q, want %q", got, want)
	}
}

func TestMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		n := 1 + rng.IntN(60)
		density := rng.Float64() * 0.3
		g := Graph{}
		names := make([]string, n)
		for j := range names {
			names[j] = storePath(fmt.Sprintf("p%d-%d", i, j))
			g[names[j]] = nil
		}
		for a := range n {
			for b := a; b < n; b++ { // b == a adds self-references
				if rng.Float64() < density {
					g[names[a]] = append(g[names[a]], names[b])
				}
			}
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want := naivePopularity(g)
			got := Popularity(g)
			if len(got) != len(want) {
				t.Fatalf("Popularity has %d paths, want %d", len(got), len(want))
			}
			for p, w := range want {
				if uint64(got[p]) != w {
					t.Errorf("Popularity[%s] = %d, want %d", p, got[p], w)
				}
			}
			order := Order(g)
			if len(order) != n {
				t.Fatalf("Order has %d paths, want %d", len(order), n)
			}
			for k := 1; k < len(order); k++ {
				a, b := order[k-1], order[k]
				if want[a] < want[b] || want[a] == want[b] && sortKey(a) >= sortKey(b) {
					t.Errorf("Order puts %s (%d) before %s (%d)", a, want[a], b, want[b])
				}
			}
		})
	}
}

func TestSaturation(t *testing.T) {
	// A ladder of two paths per level, each referencing both paths of the
	// next level, doubles the number of reference chains per level.
	const levels = 100
	g := Graph{}
	name := func(level, side int) string { return storePath(fmt.Sprintf("l%03d-%d", level, side)) }
	g[storePath("top")] = []string{name(0, 0), name(0, 1)}
	for l := range levels {
		for s := range 2 {
			if l+1 < levels {
				g[name(l, s)] = []string{name(l+1, 0), name(l+1, 1)}
			} else {
				g[name(l, s)] = nil
			}
		}
	}
	pop := Popularity(g)
	// Level l has 2^l chains; adding its ancestors' gives 3*2^l - 1.
	if got, want := pop[name(10, 0)], 3<<10-1; got != want {
		t.Errorf("level 10 popularity %d, want exact %d", got, want)
	}
	if got, want := pop[name(61, 1)], 3<<61-1; got != want {
		t.Errorf("level 61 popularity %d, want exact %d", got, want)
	}
	if got := pop[name(62, 0)]; got != math.MaxInt {
		t.Errorf("level 62 popularity %d, want it saturated at %d", got, math.MaxInt)
	}
	if got := pop[name(levels-1, 0)]; got != math.MaxInt {
		t.Errorf("bottom popularity %d, want it saturated at %d", got, math.MaxInt)
	}
	order := Order(g)
	if len(order) != 2*levels+1 {
		t.Fatalf("Order has %d paths, want %d", len(order), 2*levels+1)
	}
	for k := 1; k < len(order); k++ {
		a, b := order[k-1], order[k]
		if pop[a] < pop[b] || pop[a] == pop[b] && sortKey(a) >= sortKey(b) {
			t.Errorf("Order puts %s (%d) before %s (%d)", a, pop[a], b, pop[b])
		}
	}
	if again := Order(g); !reflect.DeepEqual(order, again) {
		t.Error("Order is not deterministic")
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order []string
		n     int
		want  [][]string
	}{
		{"nothing", nil, 3, nil},
		{"one layer", []string{"a", "b", "c"}, 1, [][]string{{"a", "b", "c"}}},
		{"two layers", []string{"a", "b", "c"}, 2, [][]string{{"a"}, {"b", "c"}}},
		{"exact", []string{"a", "b", "c"}, 3, [][]string{{"a"}, {"b"}, {"c"}}},
		{"more layers than paths", []string{"a", "b"}, 5, [][]string{{"a"}, {"b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(tc.order, tc.n)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Split(%q, %d) = %q, want %q", tc.order, tc.n, got, tc.want)
			}
		})
	}
	for _, n := range []int{0, -1} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			if _, err := Split([]string{"a"}, n); err == nil || !strings.Contains(err.Error(), "at least 1") {
				t.Errorf("Split(_, %d) error %v, want one saying at least 1", n, err)
			}
		})
	}
	t.Run("layers do not alias", func(t *testing.T) {
		order := []string{"a", "b", "c", "d"}
		layers, err := Split(order, 2)
		if err != nil {
			t.Fatal(err)
		}
		layers[0] = append(layers[0], "x")
		layers[1][0] = "y"
		if want := [][]string{{"a", "x"}, {"y", "c", "d"}}; !reflect.DeepEqual(layers, want) {
			t.Errorf("layers = %q, want %q", layers, want)
		}
		if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(order, want) {
			t.Errorf("order changed to %q", order)
		}
	})
}

// bigGraph is a deterministic DAG of 10,000 paths and 50,000 distinct
// references. Paths are numbered in a hidden topological order and refer only
// to later ones, so there are no cycles; the random hashes keep that order
// unrelated to the path order.
func bigGraph() Graph {
	const paths, refs = 10_000, 50_000
	rng := rand.New(rand.NewPCG(42, 1))
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	names := make([]string, paths)
	for i := range names {
		var hash [32]byte
		for j := range hash {
			hash[j] = alphabet[rng.IntN(len(alphabet))]
		}
		names[i] = fmt.Sprintf("/nix/store/%s-pkg%d-1.0", hash[:], i)
	}
	g := make(Graph, paths)
	for _, p := range names {
		g[p] = nil
	}
	seen := make(map[[2]int]bool, refs)
	for len(seen) < refs {
		a := rng.IntN(paths - 1)
		b := a + 1 + rng.IntN(paths-1-a)
		if seen[[2]int{a, b}] {
			continue
		}
		seen[[2]int{a, b}] = true
		g[names[a]] = append(g[names[a]], names[b])
	}
	return g
}

func TestBigGraph(t *testing.T) {
	g := bigGraph()
	start := time.Now()
	order := Order(g)
	elapsed := time.Since(start)
	t.Logf("Order on %d paths took %v", len(order), elapsed)
	if len(order) != len(g) {
		t.Errorf("Order has %d paths, want %d", len(order), len(g))
	}
	// Only catches blow-ups; BenchmarkOrder measures.
	if elapsed > 10*time.Second {
		t.Errorf("Order took %v on a 10,000-path graph", elapsed)
	}
}

func BenchmarkOrder(b *testing.B) {
	g := bigGraph()
	b.ReportAllocs()
	for b.Loop() {
		Order(g)
	}
}
