package layering

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
)

// pipelineGraph has two roots once the customisation layer is excluded:
//
//	app -> lib1, lib2, tool    tool -> lib2    lib1, lib2 -> libc
//	extra -> lib1
//
// Sizes make the vertex order extra, libc, lib2, lib1, tool, app.
var pipelineGraph = []closure.Path{
	node("app", 50, "lib1", "lib2", "tool", "app"),
	node("tool", 40, "lib2"),
	node("lib1", 30, "libc"),
	node("lib2", 20, "libc"),
	node("libc", 10, "libc"),
	node("extra", 5, "lib1"),
	node("img-customisation-layer", 1000, "app", "extra"),
}

var pipelineExclude = paths("img-customisation-layer")

// q quotes a path's store path as JSON, for writing pipelines.
func q(name string) string { return `"` + storePath(name) + `"` }

func TestPipeline(t *testing.T) {
	L := func(names ...string) []string { return paths(names...) }
	for _, tc := range []struct {
		name, pipeline string
		want           [][]string
	}{
		{"split_every", `[["split_every", 4]]`, [][]string{L("extra", "libc", "lib2", "lib1"), L("tool", "app")}},
		{"reverse", `[["split_every", 2], ["reverse"]]`, [][]string{L("tool", "app"), L("lib2", "lib1"), L("extra", "libc")}},
		{"remove_paths one path", `[["remove_paths", ` + q("lib2") + `], ["split_every", 10]]`, [][]string{L("extra", "libc", "lib1", "tool", "app")}},
		{"remove_paths unknown", `[["remove_paths", [` + q("absent") + `]], ["split_every", 10]]`, [][]string{L("extra", "libc", "lib2", "lib1", "tool", "app")}},
		{"subcomponent_out", `[["subcomponent_out", [` + q("lib1") + `]]]`, [][]string{L("libc", "lib1"), L("extra", "lib2", "tool", "app")}},
		{"subcomponent_in", `[["subcomponent_in", [` + q("lib2") + `, ` + q("absent") + `]]]`, [][]string{L("lib2", "tool", "app"), L("extra", "libc", "lib1")}},
		{"subcomponent_out nothing", `[["subcomponent_out", []], ["over", "main", ["split_every", 1]]]`, [][]string{L("extra", "libc", "lib2", "lib1", "tool", "app")}},
		// libc 11, lib1 and lib2 4 (name order), tool 2, app and extra 1.
		{"popularity_contest", `[["popularity_contest"]]`, [][]string{L("libc"), L("lib1"), L("lib2"), L("tool"), L("app"), L("extra")}},
		{"limit_layers", `[["popularity_contest"], ["limit_layers", 3]]`, [][]string{L("libc"), L("lib1"), L("lib2", "tool", "app", "extra")}},
		{"limit_layers 1", `[["split_every", 1], ["reverse"], ["limit_layers", 1]]`, [][]string{L("app", "tool", "lib1", "lib2", "libc", "extra")}},
		{"limit_layers above the count", `[["split_every", 4], ["limit_layers", 5]]`, [][]string{L("extra", "libc", "lib2", "lib1"), L("tool", "app")}},
		{"split_paths no match", `[["split_paths", [` + q("absent") + `]]]`, [][]string{L("extra", "libc", "lib2", "lib1", "tool", "app")}},
		{"split_paths", `[["split_paths", [` + q("lib1") + `]]]`, [][]string{L("lib1"), L("libc"), L("extra", "lib2", "tool", "app")}},
		// A root in S is not reached from the other roots.
		{"split_paths a root", `[["split_paths", [` + q("extra") + `]]]`, [][]string{L("extra"), L("libc", "lib1"), L("lib2", "tool", "app")}},
		{"split_paths the only root", `[["remove_paths", ` + q("extra") + `], ["split_paths", [` + q("app") + `]], ["over", "main", ["split_every", 2]]]`,
			[][]string{L("libc", "lib2"), L("lib1", "tool"), L("app")}},
		{"split_paths children_of", `[["split_paths", [{"children_of": ` + q("tool") + `}]]]`, [][]string{L("lib2"), L("libc"), L("extra", "lib1", "tool", "app")}},
		// lib1 -> libc is deleted, so both are roots of main, popularity 1.
		{"split_paths deletes edges into S", `[["split_paths", [` + q("lib1") + `, ` + q("libc") + `]], ["over", "main", ["popularity_contest"]]]`,
			[][]string{L("lib1"), L("libc"), L("extra", "lib2", "tool", "app")}},
		{"map and flatten", `[["split_every", 3], ["map", ["split_every", 2]], ["flatten"], ["reverse"]]`,
			[][]string{L("app"), L("lib1", "tool"), L("lib2"), L("extra", "libc")}},
		{"over and pipe", `[["subcomponent_out", [` + q("lib1") + `]], ["over", "rest", ["pipe", [["split_every", 1], ["reverse"]]]]]`,
			[][]string{L("libc", "lib1"), L("app"), L("tool"), L("lib2"), L("extra")}},
		{"flatten a dict of lists", `[["subcomponent_in", [` + q("lib2") + `]], ["over", "main", ["split_every", 5]], ["flatten"], ["limit_layers", 1]]`,
			[][]string{L("lib2", "tool", "app", "extra", "libc", "lib1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePipeline([]byte(tc.pipeline))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Run(pipelineGraph, pipelineExclude)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s:\n got %s\nwant %s", tc.pipeline, short(got), short(tc.want))
			}
		})
	}
}

func TestPipelineEmptyGraph(t *testing.T) {
	p, err := ParsePipeline([]byte(`[["popularity_contest"], ["limit_layers", 100]]`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Run(nil, nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Run on no paths = %v, %v; want [] (the empty last layer dropped)", got, err)
	}
}

func TestParsePipelineErrors(t *testing.T) {
	for _, tc := range []struct{ name, pipeline, want string }{
		{"not JSON", `[["flatten"]`, `layeringPipeline: parsing JSON: unexpected EOF`},
		{"trailing data", `[] []`, `layeringPipeline: parsing JSON: data after the list of steps`},
		{"object", `{"steps": []}`, `layeringPipeline: expected a list of steps, got an object`},
		{"null", `null`, `layeringPipeline: expected a list of steps, got null`},
		{"file name", `"layers.json"`, `layeringPipeline: expected a list of steps, got the string "layers.json"`},
		{"step not a list", `["popularity_contest"]`, `layeringPipeline step 1: expected ["function", arguments...], got the string "popularity_contest"`},
		{"empty step", `[["flatten"], []]`, `layeringPipeline step 2: expected ["function", arguments...], got []`},
		{"name not a string", `[[3]]`, `layeringPipeline step 1: expected a function name first, got 3`},
		{"unknown function", `[["flatten"], ["reorder", ["rest", "main"]]]`, `layeringPipeline step 2 ("reorder"): unknown function; the functions are flatten, limit_layers, map,`},
		{"argument to popularity_contest", `[["popularity_contest", 3]]`, `layeringPipeline step 1 ("popularity_contest"): expected no arguments, got 1`},
		{"limit_layers without a count", `[["popularity_contest"], ["limit_layers"]]`, `layeringPipeline step 2 ("limit_layers"): expected 1 argument, got 0`},
		{"limit_layers 0", `[["popularity_contest"], ["limit_layers", 0]]`, `layeringPipeline step 2 ("limit_layers"): expected a number >= 1, got 0`},
		{"limit_layers negative", `[["popularity_contest"], ["limit_layers", -2]]`, `step 2 ("limit_layers"): expected a number >= 1, got -2`},
		{"limit_layers fraction", `[["popularity_contest"], ["limit_layers", 2.5]]`, `step 2 ("limit_layers"): expected a number >= 1, got 2.5`},
		{"limit_layers string", `[["popularity_contest"], ["limit_layers", "100"]]`, `step 2 ("limit_layers"): expected a number >= 1, got the string "100"`},
		{"limit_layers huge", `[["popularity_contest"], ["limit_layers", 1e400]]`, `step 2 ("limit_layers"): expected a number >= 1, got 1e400`},
		{"split_every 0", `[["split_every", 0]]`, `layeringPipeline step 1 ("split_every"): expected a number >= 1, got 0`},
		{"split_every boolean", `[["split_every", true]]`, `step 1 ("split_every"): expected a number >= 1, got true`},
		{"over one argument", `[["over", ["flatten"]]]`, `step 1 ("over"): expected 2 arguments, got 1`},
		{"over key not a string", `[["over", 1, ["flatten"]]]`, `step 1 ("over"): expected a key (a string) first, got 1`},
		{"over step not a step", `[["over", "rest", "flatten"]]`, `step 1 ("over") > step: expected ["function", arguments...], got the string "flatten"`},
		{"nested", `[["split_paths", []], ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 0]]]]]`,
			`layeringPipeline step 2 ("over") > "pipe" > step 2 ("limit_layers"): expected a number >= 1, got 0`},
		{"map unknown", `[["split_every", 2], ["map", ["sort"]]]`, `step 2 ("map") > "sort": unknown function`},
		{"pipe not a list", `[["pipe", ["flatten"]]]`, `step 1 ("pipe") > step 1: expected ["function", arguments...], got the string "flatten"`},
		{"pipe of an object", `[["pipe", {}]]`, `step 1 ("pipe"): expected a list of steps, got an object`},
		{"subcomponent_out one path", `[["subcomponent_out", ` + q("a") + `]]`, `step 1 ("subcomponent_out"): expected a list of store paths, got the string`},
		{"subcomponent_in numbers", `[["subcomponent_in", [1]]]`, `step 1 ("subcomponent_in"): expected a list of store paths, got a list of 1 item`},
		{"remove_paths number", `[["remove_paths", 1]]`, `step 1 ("remove_paths"): expected a store path or a list of them, got 1`},
		{"split_paths one path", `[["split_paths", ` + q("a") + `]]`, `step 1 ("split_paths"): expected a list of store paths and {"children_of": ...} objects`},
		{"split_paths number", `[["split_paths", [` + q("a") + `, 2]]]`, `step 1 ("split_paths"): item 2: expected a store path or {"children_of": paths}, got 2`},
		{"split_paths other key", `[["split_paths", [{"parents_of": ` + q("a") + `}]]]`, `step 1 ("split_paths"): item 1: expected a store path or {"children_of": paths}, got an object`},
		{"children_of number", `[["split_paths", [{"children_of": 1}]]]`, `step 1 ("split_paths"): item 1: "children_of" expects a store path or a list of them, got 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePipeline([]byte(tc.pipeline))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParsePipeline(%s) error %v, want one containing %q", tc.pipeline, err, tc.want)
			}
		})
	}
}

func TestPipelineRunErrors(t *testing.T) {
	for _, tc := range []struct{ name, pipeline, want string }{
		{"empty pipeline", `[]`, `layeringPipeline: the pipeline is empty, so its result is the whole graph (a graph of 6 paths), not a list of layers`},
		{"ends in remove_paths", `[["remove_paths", []]]`, `layeringPipeline step 1 ("remove_paths"): the pipeline ends with a graph of 6 paths, not a list or dict of graphs`},
		{"over a missing key", `[["subcomponent_out", [` + q("lib1") + `]], ["over", "common", ["reverse"]]]`,
			`layeringPipeline step 2 ("over"): key "common" is not in the dict (it has "main", "rest")`},
		{"over main without a match", `[["split_paths", [` + q("absent") + `]], ["over", "main", ["popularity_contest"]]]`,
			`step 2 ("over"): key "main" is not in the dict (it has "rest")`},
		{"over a graph", `[["over", "rest", ["reverse"]]]`, `layeringPipeline step 1 ("over"): expected a dict, got a graph of 6 paths`},
		{"limit_layers a dict", `[["subcomponent_out", []], ["limit_layers", 2]]`,
			`step 2 ("limit_layers"): expected a list (flatten a dict first), got a dict {main: an empty graph, rest: a graph of 6 paths}`},
		{"limit_layers a graph", `[["limit_layers", 2]]`, `step 1 ("limit_layers"): expected a list (flatten a dict first), got a graph`},
		{"popularity_contest a list", `[["split_every", 2], ["popularity_contest"]]`, `step 2 ("popularity_contest"): expected a graph, got a list of 3 items (6 paths in 3 graphs)`},
		{"flatten a graph", `[["flatten"]]`, `step 1 ("flatten"): expected a dict or list, got a graph of 6 paths`},
		{"map a dict", `[["subcomponent_out", []], ["map", ["reverse"]]]`, `step 2 ("map"): expected a list, got a dict`},
		{"reverse a graph", `[["reverse"]]`, `step 1 ("reverse"): expected a list, got a graph`},
		{"nested", `[["split_every", 2], ["map", ["pipe", [["reverse"]]]]]`, `layeringPipeline step 2 ("map") > "pipe" > step 1 ("reverse"): expected a list, got a graph of 2 paths`},
		{"merging dicts", `[["split_every", 3], ["map", ["subcomponent_out", []]], ["limit_layers", 1]]`,
			`step 3 ("limit_layers"): item 1 is a dict {main: an empty graph, rest: a graph of 3 paths}, but only graphs can be merged into the last layer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePipeline([]byte(tc.pipeline))
			if err != nil {
				t.Fatal(err)
			}
			layers, err := p.Run(pipelineGraph, pipelineExclude)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run(%s) = %s, error %v; want one containing %q", tc.pipeline, short(layers), err, tc.want)
			}
		})
	}

	p, _ := ParsePipeline([]byte(`[["split_every", 1]]`))
	if _, err := p.Run([]closure.Path{node("a-1", 1, "b-1")}, nil); err == nil || !strings.Contains(err.Error(), "which is not in the graph") {
		t.Errorf("Run on a graph with a missing reference: %v", err)
	}
}

func TestRunTrace(t *testing.T) {
	p, err := ParsePipeline([]byte(`[["subcomponent_out", [` + q("lib1") + `]], ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 2]]]]]`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if _, err := p.RunTrace(&b, pipelineGraph, pipelineExclude); err != nil {
		t.Fatal(err)
	}
	want := `layeringPipeline: a graph of 6 paths (1 excluded)
step 1 ("subcomponent_out"): a dict {main: a graph of 2 paths, rest: a graph of 4 paths}
    step 2 ("over") > "pipe" > step 1 ("popularity_contest"): a list of 4 items (4 paths in 4 graphs)
    step 2 ("over") > "pipe" > step 2 ("limit_layers"): a list of 2 items (4 paths in 2 graphs)
  step 2 ("over") > "pipe": a list of 2 items (4 paths in 2 graphs)
step 2 ("over"): a dict {main: a graph of 2 paths, rest: a list of 2 items (4 paths in 2 graphs)}
`
	if b.String() != want {
		t.Errorf("trace:\n%s\nwant:\n%s", b.String(), want)
	}
}
