package layering

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
)

// vector is one case made with nixpkgs (see testdata/update.sh and the
// vectors' README): a graph, what to layer it with and nixpkgs' layers.
type vector struct {
	Name     string          `json:"name"`
	Graph    int             `json:"graph"` // index into vectorPack.Graphs
	Exclude  []string        `json:"exclude"`
	Kind     string          `json:"kind"`
	Limit    *int            `json:"limit"`
	Pipeline json.RawMessage `json:"pipeline"`
	Expected [][]string      `json:"expected"`
	// UnorderedRuns are [start, end) ranges of Expected whose layers have
	// equal closure sizes, which nixpkgs leaves in no defined order.
	UnorderedRuns [][2]int `json:"unorderedRuns"`
}

type vectorPack struct {
	Graphs []json.RawMessage `json:"graphs"`
	Cases  []vector          `json:"cases"`
}

// loadVectors reads the packed vectors, parsing every graph as the builder
// does.
func loadVectors(t testing.TB) ([]vector, [][]closure.Path) {
	t.Helper()
	f, err := os.Open("testdata/vectors.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("reading testdata/vectors.json.gz: %v", err)
	}
	var pack vectorPack
	if err := json.NewDecoder(zr).Decode(&pack); err != nil {
		t.Fatalf("reading testdata/vectors.json.gz: %v", err)
	}
	graphs := make([][]closure.Path, len(pack.Graphs))
	for i, raw := range pack.Graphs {
		if graphs[i], err = closure.Parse(raw); err != nil {
			t.Fatalf("graph %d: %v", i, err)
		}
	}
	return pack.Cases, graphs
}

func TestVectors(t *testing.T) {
	cases, graphs := loadVectors(t)
	if len(cases) == 0 {
		t.Fatal("no vectors in testdata/vectors.json.gz")
	}
	kinds := map[string]int{}
	for _, tc := range cases {
		kinds[tc.Kind]++
		t.Run(tc.Name, func(t *testing.T) {
			g := graphs[tc.Graph]
			var got [][]string
			switch tc.Kind {
			case "auto-layer":
				if tc.Limit == nil {
					t.Fatal("auto-layer case without a limit")
				}
				r, err := Auto(g, tc.Exclude, *tc.Limit)
				if err != nil {
					t.Fatal(err)
				}
				got = r.Layers
			case "pipeline":
				p, err := ParsePipeline(tc.Pipeline)
				if err != nil {
					t.Fatal(err)
				}
				if got, err = p.Run(g, tc.Exclude); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("unknown kind %q", tc.Kind)
			}
			compareLayers(t, got, tc.Expected, tc.UnorderedRuns)
		})
	}
	t.Logf("%d vectors: %v", len(cases), kinds)
}

// compareLayers wants got to be want, except that the layers inside each
// unordered run may come in any order.
func compareLayers(t *testing.T, got, want [][]string, unordered [][2]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d layers, want %d\n got %s\nwant %s", len(got), len(want), short(got), short(want))
	}
	got, want = slices.Clone(got), slices.Clone(want)
	for _, run := range unordered {
		if run[0] < 0 || run[1] > len(want) || run[0] > run[1] {
			t.Fatalf("bad unordered run %v for %d layers", run, len(want))
		}
		byPaths := func(a, b []string) int { return strings.Compare(strings.Join(a, "\n"), strings.Join(b, "\n")) }
		slices.SortFunc(got[run[0]:run[1]], byPaths)
		slices.SortFunc(want[run[0]:run[1]], byPaths)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("layer %d:\n got %s\nwant %s", i, short(got[i:i+1]), short(want[i:i+1]))
		}
	}
}

// short prints layers with names only, which is what a person compares.
func short(layers [][]string) string {
	var b strings.Builder
	for _, l := range layers {
		b.WriteString("[")
		for i, p := range l {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(closure.Name(closure.DefaultStoreDir, p))
		}
		b.WriteString("]")
	}
	return b.String()
}
