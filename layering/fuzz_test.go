package layering

import (
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
)

// A layeringPipeline is the user's, and nixpkgs' own program fails on many
// shapes: every one must be a clear error, never a panic.
func FuzzPipeline(f *testing.F) {
	for _, seed := range []string{
		`[["popularity_contest"],["limit_layers",3]]`,
		`[["subcomponent_out",["/nix/store/` + strings.Repeat("a", 32) + `-a"]],["over","rest",["pipe",[["popularity_contest"],["limit_layers",2]]]]]`,
		`[["split_paths",[{"children_of":"/nix/store/` + strings.Repeat("b", 32) + `-b"}]],["flatten"],["reverse"]]`,
		`[["split_every",1],["map",["remove_paths",[]]]]`,
		`[]`, `[[]]`, `[["over"]]`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	p := func(c string) string { return "/nix/store/" + strings.Repeat(c, 32) + "-" + c }
	graph := []closure.Path{
		{Path: p("a"), NarSize: 3, References: []string{p("b"), p("c")}},
		{Path: p("b"), NarSize: 2, References: []string{p("c")}},
		{Path: p("c"), NarSize: 1, References: []string{p("c")}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pl, err := ParsePipeline(data)
		if err != nil {
			return
		}
		layers, err := pl.Run(graph, nil)
		if err != nil {
			return
		}
		for _, l := range layers {
			if len(l) == 0 {
				t.Fatal("an empty layer in the output")
			}
		}
	})
}

// Auto takes any graph the parser accepts and any limit.
func FuzzAuto(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint16(0x1234))
	f.Fuzz(func(t *testing.T, limit, n uint8, edges uint16) {
		var g []closure.Path
		name := func(i int) string { return "/nix/store/" + strings.Repeat(string(rune('a'+i%26)), 32) + "-p" }
		count := int(n%26) + 1
		for i := range count {
			var refs []string
			for j := i + 1; j < count; j++ {
				if edges>>(uint(i+j)%16)&1 == 1 {
					refs = append(refs, name(j))
				}
			}
			g = append(g, closure.Path{Path: name(i), NarSize: uint64((i*7 + int(edges)) % 13), References: refs})
		}
		r, err := Auto(g, []string{name(0)}, int(limit))
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, l := range r.Layers {
			total += len(l)
		}
		if total != count-1 {
			t.Fatalf("%d paths in the layers, want %d (all but the excluded one)", total, count-1)
		}
		if limit > 0 && len(r.Layers) > int(limit) {
			t.Fatalf("%d layers, limit %d", len(r.Layers), limit)
		}
	})
}
