package layering

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
)

// storePath makes a deterministic store path for name.
func storePath(name string) string {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	sum := sha256.Sum256([]byte(name))
	var hash [32]byte
	for i := range hash {
		hash[i] = alphabet[sum[i]%32]
	}
	return "/nix/store/" + string(hash[:]) + "-" + name
}

// syntheticGraph is shaped like a large image closure (and like the
// layered5000 vectors): levels of packages, each referencing a few paths of
// the levels below (mostly the one just below) and often one of a handful
// of ubiquitous libraries; a root joining the top level, and the
// customisation layer and config file nixpkgs adds, which are excluded.
// Sizes spread over five orders of magnitude with many equal ones. It
// returns the graph in path order, as exportReferencesGraph writes it, and
// the excluded paths.
func syntheticGraph(n int, seed uint64) ([]closure.Path, []string) {
	rng := rand.New(rand.NewPCG(seed, 1))
	const levels = 10
	perLevel := max(1, (n-3+levels-1)/levels)
	var nodes []closure.Path
	byLevel := make([][]int, levels)
	hubs := []int{}
	for lv := 0; lv < levels; lv++ {
		for i := 0; i < perLevel && len(nodes) < n-3; i++ {
			p := closure.Path{
				Path:    storePath(fmt.Sprintf("l%dp%d-%d.%d", lv, i, rng.IntN(10), lv)),
				NarSize: uint64(200 + rng.IntN(50)*1<<uint(rng.IntN(16))),
			}
			if lv > 0 {
				for range rng.IntN(5) {
					below := lv - 1
					if rng.IntN(4) == 0 {
						below = rng.IntN(lv)
					}
					if len(byLevel[below]) > 0 {
						p.References = append(p.References, nodes[byLevel[below][rng.IntN(len(byLevel[below]))]].Path)
					}
				}
				if rng.IntN(2) == 0 {
					p.References = append(p.References, nodes[hubs[rng.IntN(len(hubs))]].Path)
				}
			}
			if rng.IntN(3) == 0 {
				p.References = append(p.References, p.Path) // as Nix often does
			}
			byLevel[lv] = append(byLevel[lv], len(nodes))
			if lv == 0 && len(hubs) < 8 {
				hubs = append(hubs, len(nodes))
			}
			nodes = append(nodes, p)
		}
	}
	env := closure.Path{Path: storePath("big-env"), NarSize: 4096}
	for _, i := range byLevel[levels-1] {
		env.References = append(env.References, nodes[i].Path)
	}
	layer := closure.Path{Path: storePath("img-customisation-layer"), NarSize: 1 << 20, References: []string{env.Path}}
	config := closure.Path{Path: storePath("img-base.json"), NarSize: 752}
	nodes = append(nodes, env, layer, config)
	slices.SortFunc(nodes, func(a, b closure.Path) int { return strings.Compare(a.Path, b.Path) })
	return nodes, []string{config.Path, layer.Path}
}

func BenchmarkAuto(b *testing.B) {
	for _, tc := range []struct{ paths, limit int }{
		{10000, 100},
		{10000, 1000},
		{5000, 100},
	} {
		g, exclude := syntheticGraph(tc.paths, 1)
		b.Run(fmt.Sprintf("paths=%d/limit=%d", tc.paths, tc.limit), func(b *testing.B) {
			for b.Loop() {
				r, err := Auto(g, exclude, tc.limit)
				if err != nil {
					b.Fatal(err)
				}
				if len(r.Layers) == 0 {
					b.Fatal("no layers")
				}
			}
		})
	}
}

func BenchmarkPipeline(b *testing.B) {
	g, exclude := syntheticGraph(10000, 1)
	p, err := ParsePipeline([]byte(`[["popularity_contest"], ["limit_layers", 99]]`))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Run(g, exclude); err != nil {
			b.Fatal(err)
		}
	}
}
