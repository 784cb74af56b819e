package main

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// layeringVector is a case of ../layering/testdata/vectors.json.gz, made
// with nixpkgs; its graph is an index into the pack's graphs.
type layeringVector struct {
	Name     string          `json:"name"`
	Graph    int             `json:"graph"`
	Exclude  []string        `json:"exclude"`
	Limit    *int            `json:"limit"`
	Pipeline json.RawMessage `json:"pipeline"`
	Expected [][]string      `json:"expected"`
}

// loadLayeringVectors returns the named cases with their graphs as JSON.
func loadLayeringVectors(t *testing.T, names ...string) ([]layeringVector, []json.RawMessage) {
	t.Helper()
	f, err := os.Open("../layering/testdata/vectors.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var pack struct {
		Graphs []json.RawMessage `json:"graphs"`
		Cases  []layeringVector  `json:"cases"`
	}
	if err := json.NewDecoder(zr).Decode(&pack); err != nil {
		t.Fatal(err)
	}
	var out []layeringVector
	var graphs []json.RawMessage
	for _, name := range names {
		for _, c := range pack.Cases {
			if c.Name == name {
				out = append(out, c)
				graphs = append(graphs, pack.Graphs[c.Graph])
			}
		}
	}
	if len(out) != len(names) {
		t.Fatalf("found %d of the vectors %q", len(out), names)
	}
	return out, graphs
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLayersVectors(t *testing.T) {
	// No unordered runs in these: the output must match exactly.
	cases, graphs := loadLayeringVectors(t, "dag60-1-unsorted-auto-3", "tiesize-2-auto-3", "dag60-0-pipe3", "dag60-1-unsorted-pipe5")
	for i, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			graph := writeTemp(t, "graph.json", graphs[i])
			var args []string
			if i%2 == 0 {
				// One path per line, as auto-layer's ignore file.
				args = []string{graph, "--exclude", writeTemp(t, "exclude", []byte(strings.Join(tc.Exclude, "\n")+"\n"))}
			} else {
				b, _ := json.Marshal(tc.Exclude)
				args = []string{"--exclude", writeTemp(t, "exclude.json", b), graph}
			}
			if tc.Limit != nil {
				args = append(args, "--limit", strconv.Itoa(*tc.Limit))
			} else {
				args = append(args, "--pipeline", writeTemp(t, "pipeline.json", tc.Pipeline))
			}
			var stdout, stderr strings.Builder
			if err := runLayers(args, &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			var got [][]string
			if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
				t.Fatalf("stdout is not a JSON list of lists: %v\n%s", err, stdout.String())
			}
			if !reflect.DeepEqual(got, tc.Expected) {
				t.Errorf("layers:\n got %v\nwant %v", got, tc.Expected)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr without --debug: %s", stderr.String())
			}

			stdout.Reset()
			if err := runLayers(append(args, "--debug"), &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			if !json.Valid([]byte(stdout.String())) || stderr.Len() == 0 {
				t.Errorf("--debug: stdout %q, stderr %q; want the same layers and an explanation", stdout.String(), stderr.String())
			}
		})
	}
}

func TestLayersWholeVector(t *testing.T) {
	// A vector file itself is accepted as the graph: handy for checking one.
	cases, graphs := loadLayeringVectors(t, "tiesize-2-auto-3")
	obj, _ := json.Marshal(map[string]any{"name": cases[0].Name, "graph": graphs[0]})
	exclude, _ := json.Marshal(cases[0].Exclude)
	var stdout, stderr strings.Builder
	err := runLayers([]string{writeTemp(t, "vector.json", obj), "--limit=3", "--exclude=" + writeTemp(t, "x.json", exclude)}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(cases[0].Expected)
	if got := strings.TrimSpace(stdout.String()); got != string(want) {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestLayersBadInput(t *testing.T) {
	graph := writeTemp(t, "graph.json", []byte(`[{"path":"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello-2.12.1","narSize":1,"references":[]}]`))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no graph", nil, "expected one graph file, got 0 arguments"},
		{"two graphs", []string{graph, graph}, "expected one graph file, got 2 arguments"},
		{"missing graph", []string{"/nonexistent/graph.json"}, "reading the graph: open /nonexistent/graph.json"},
		{"corrupt graph", []string{writeTemp(t, "bad.json", []byte(`[{"path":`))}, "parsing closure graph: not valid JSON"},
		{"object without graph", []string{writeTemp(t, "obj.json", []byte(`{"nodes":[]}`))}, `an object without "graph"`},
		{"negative limit", []string{graph, "--limit", "-1"}, "--limit -1: want a number of layers >= 0"},
		{"limit not a number", []string{graph, "--limit", "many"}, `invalid value "many" for flag -limit`},
		{"unknown flag", []string{graph, "--max-layers", "3"}, "flag provided but not defined: -max-layers"},
		{"missing exclude", []string{graph, "--exclude", "/nonexistent/x"}, "reading the excluded paths: open /nonexistent/x"},
		{"bad exclude JSON", []string{graph, "--exclude", writeTemp(t, "x.json", []byte(`[1]`))}, "want a JSON list of store paths"},
		{"missing pipeline", []string{graph, "--pipeline", "/nonexistent/p.json"}, "reading the pipeline: open /nonexistent/p.json"},
		{"bad pipeline", []string{graph, "--pipeline", writeTemp(t, "p.json", []byte(`[["limit_layers", 0]]`))},
			`p.json: layeringPipeline step 1 ("limit_layers"): expected a number >= 1, got 0`},
		{"pipeline ending in a graph", []string{graph, "--pipeline", writeTemp(t, "p.json", []byte(`[]`))}, "layeringPipeline: the pipeline is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := runLayers(tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed %q despite the error", stdout.String())
			}
		})
	}
}

func TestLayersLimitWithPipeline(t *testing.T) {
	graph := writeTemp(t, "graph.json", []byte(`[{"path":"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello-2.12.1","narSize":1,"references":[]}]`))
	pipeline := writeTemp(t, "p.json", []byte(`[["popularity_contest"]]`))
	var stdout, stderr strings.Builder
	if err := runLayers([]string{graph, "--pipeline", pipeline, "--limit", "1"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "[[\"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello-2.12.1\"]]\n" {
		t.Errorf("stdout %q", got)
	}
	if !strings.Contains(stderr.String(), "--limit has no effect with --pipeline") {
		t.Errorf("stderr %q, want a note that --limit is ignored", stderr.String())
	}
}

// --popularity gives the documentation's layers of hello (the order of
// nixpkgs before 25.11), the excluded roots counted but not layered.
func TestLayersPopularity(t *testing.T) {
	p := func(c byte, name string) string { return "/nix/store/" + strings.Repeat(string(c), 32) + "-" + name }
	uni, idn, gcc, libc, hello := p('1', "libunistring-1.1"), p('2', "libidn2-2.3.4"), p('3', "xgcc-12.3.0-libgcc"), p('4', "glibc-2.38-27"), p('5', "hello-2.12.1")
	custom, base := p('6', "hello-customisation-layer"), p('7', "hello-base.json")
	graph, _ := json.Marshal([]map[string]any{
		{"path": uni, "narSize": 10, "references": []string{}},
		{"path": idn, "narSize": 10, "references": []string{uni}},
		{"path": gcc, "narSize": 10, "references": []string{}},
		{"path": libc, "narSize": 10, "references": []string{idn, gcc}},
		{"path": hello, "narSize": 10, "references": []string{libc}},
		{"path": custom, "narSize": 10, "references": []string{hello}},
		{"path": base, "narSize": 10, "references": []string{}},
	})
	exclude := writeTemp(t, "exclude", []byte(custom+"\n"+base+"\n"))
	for _, tc := range []struct {
		limit string
		want  [][]string
	}{
		{"99", [][]string{{uni}, {idn}, {gcc}, {libc}, {hello}}},
		{"3", [][]string{{uni}, {idn}, {gcc, libc, hello}}},
	} {
		var stdout, stderr strings.Builder
		if err := runLayers([]string{writeTemp(t, "g.json", graph), "--popularity", "--limit", tc.limit, "--exclude", exclude}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		var got [][]string
		if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("--limit %s: got %s, want %v (%v)", tc.limit, stdout.String(), tc.want, err)
		}
	}
	var stdout, stderr strings.Builder
	if err := runLayers([]string{writeTemp(t, "g.json", graph), "--popularity", "--pipeline", "p.json"}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "give one of them") {
		t.Errorf("--popularity with --pipeline: %v", err)
	}
}
