package layered

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layering"
	"github.com/nix-dockertools/dockertools/nixattrs"
)

// testPath is a store path in dir with a hash made from name.
func testPath(dir, name string) string {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	sum := sha256.Sum256([]byte(name))
	hash := make([]byte, 32)
	for i := range hash {
		hash[i] = alphabet[sum[i]%32]
	}
	return dir + "/" + string(hash) + "-" + name
}

// testClosure is a small image: contents hello (which needs libfoo and
// glibc), and a config running bash.
func testClosure(dir string) (paths []closure.Path, config string) {
	p := func(n string) string { return testPath(dir, n) }
	node := func(name string, size uint64, refs ...string) closure.Path {
		c := closure.Path{Path: p(name), NarSize: size, References: []string{}}
		for _, r := range refs {
			c.References = append(c.References, p(r))
		}
		return c
	}
	paths = []closure.Path{
		node("glibc-2.40", 30_000_000, "glibc-2.40"),
		node("libfoo-1", 1_000_000, "glibc-2.40"),
		node("hello-2.12", 100_000, "glibc-2.40", "libfoo-1"),
		node("bash-5.2", 1_500_000, "glibc-2.40"),
		node("tzdata", 400_000),
	}
	slices.SortFunc(paths, func(a, b closure.Path) int { return strings.Compare(a.Path, b.Path) })
	return paths, `{"Cmd":["` + p("bash-5.2") + `/bin/bash"],"Env":["TZDIR=` + p("tzdata") + `/share"]}`
}

// expectedGraph is the graph nixpkgs layers for testClosure, built by hand:
// the closure, and baseJson and the customisation layer with their NAR
// sizes (see TestNarSizes).
func expectedGraph(t *testing.T, o *Options, paths []closure.Path, customSize int64) ([]closure.Path, []string) {
	t.Helper()
	base, err := baseJSON(o.Architecture, o.Variant, o.Config)
	if err != nil {
		t.Fatal(err)
	}
	name := baseName(o.Name, o.ImageName)
	bj := closure.Path{Path: standIn(o.StoreDir, name, "-base.json"), NarSize: 112 + uint64(len(base)+7)&^7,
		References: []string{testPath(o.StoreDir, "bash-5.2"), testPath(o.StoreDir, "tzdata")}}
	cl := closure.Path{Path: standIn(o.StoreDir, name, "-customisation-layer"), NarSize: 1544 - 1000 + uint64(customSize+7)&^7,
		References: []string{testPath(o.StoreDir, "hello-2.12")}}
	slices.Sort(bj.References)
	g := append(slices.Clone(paths), bj, cl)
	slices.SortFunc(g, func(a, b closure.Path) int { return strings.Compare(a.Path, b.Path) })
	return g, []string{bj.Path, cl.Path}
}

func testOptions(storeDir string) *Options {
	_, config := testClosure(storeDir)
	return &Options{Name: "stream-hello", ImageName: "hello", ImageTag: "t", Architecture: "amd64",
		Config: []byte(config), MaxLayers: 100, Layering: layeringAuto, StoreDir: storeDir,
		Contents: []string{testPath(storeDir, "hello-2.12")}}
}

func mustPipeline(t *testing.T, text string) *layering.Pipeline {
	t.Helper()
	p, err := layering.ParsePipeline([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestStoreLayersAsLayering(t *testing.T) {
	for _, storeDir := range []string{"/nix/store", "/opt/store"} {
		paths, _ := testClosure(storeDir)
		p := func(n string) string { return testPath(storeDir, n) }
		tests := []struct {
			name       string
			set        func(o *Options)
			limit      int
			customSize int64
			// run is what package layering gives for the graph nixpkgs
			// layers; want, when set, is that result checked by hand.
			run  func(g []closure.Path, exclude []string) ([][]string, error)
			want [][]string
		}{
			{name: "auto, room for all", limit: 99, customSize: 10240,
				run: func(g []closure.Path, x []string) ([][]string, error) {
					r, err := layering.Auto(g, x, 99)
					return r.Layers, err
				},
				// One path a layer, by closure size: tzdata has none but
				// its own, libfoo's includes glibc, hello's libfoo too.
				want: [][]string{{p("tzdata")}, {p("glibc-2.40")}, {p("libfoo-1")}, {p("hello-2.12")}, {p("bash-5.2")}}},
			// With 3 layers, glibc, then the customisation layer (4 MB,
			// larger than bash) become primary: hello and libfoo, used only
			// by the customisation layer, share its layer; bash and tzdata
			// stay in the layer of paths no primary uses, whose closure
			// (31.9 MB with glibc) is smaller than the customisation
			// layer's (35.1 MB).
			{name: "auto, the customisation layer's size counts", limit: 3, customSize: 4_000_000,
				run: func(g []closure.Path, x []string) ([][]string, error) {
					r, err := layering.Auto(g, x, 3)
					return r.Layers, err
				},
				want: [][]string{{p("glibc-2.40")}, {p("bash-5.2"), p("tzdata")}, {p("hello-2.12"), p("libfoo-1")}}},
			{name: "auto, small customisation layer", limit: 3, customSize: 10240,
				run: func(g []closure.Path, x []string) ([][]string, error) {
					r, err := layering.Auto(g, x, 3)
					return r.Layers, err
				}},
			{name: "pipeline", limit: 1, customSize: 10240,
				set: func(o *Options) {
					o.Pipeline = mustPipeline(t, `[["subcomponent_out", ["`+p("hello-2.12")+`"]], ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 2]]]]]`)
				},
				run: func(g []closure.Path, x []string) ([][]string, error) {
					return mustPipeline(t, `[["subcomponent_out", ["`+p("hello-2.12")+`"]], ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 2]]]]]`).Run(g, x)
				}},
			{name: "pipeline wins over popularity", limit: 1, customSize: 10240,
				set: func(o *Options) {
					o.Layering = layeringPopularity
					o.Pipeline = mustPipeline(t, `[["split_every", 2]]`)
				},
				run: func(g []closure.Path, x []string) ([][]string, error) {
					return mustPipeline(t, `[["split_every", 2]]`).Run(g, x)
				}},
			// Popularity, counted from the two roots (the contents and
			// the config's bash and tzdata): glibc 8, libfoo 3, then bash,
			// hello and tzdata 2 each, in name order.
			{name: "popularity", limit: 3, customSize: 10240,
				set:  func(o *Options) { o.Layering = layeringPopularity },
				want: [][]string{{p("glibc-2.40")}, {p("libfoo-1")}, {p("bash-5.2"), p("hello-2.12"), p("tzdata")}}},
		}
		for _, tc := range tests {
			t.Run(storeDir+"/"+tc.name, func(t *testing.T) {
				o := testOptions(storeDir)
				if tc.set != nil {
					tc.set(o)
				}
				got, err := storeLayers(o, paths, tc.limit, tc.customSize, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tc.run != nil {
					g, exclude := expectedGraph(t, o, paths, tc.customSize)
					want, err := tc.run(g, exclude)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("layers\n %s\nwant what layering gives for nixpkgs' graph\n %s", short(got), short(want))
					}
				}
				if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
					t.Errorf("layers\n %s\nwant\n %s", short(got), short(tc.want))
				}
			})
		}
	}
}

func short(layers [][]string) string {
	var parts []string
	for _, l := range layers {
		var names []string
		for _, p := range l {
			names = append(names, closure.Name(p[:strings.LastIndexByte(p, '/')], p))
		}
		parts = append(parts, "["+strings.Join(names, " ")+"]")
	}
	return strings.Join(parts, " ")
}

func TestStoreLayersDebug(t *testing.T) {
	paths, _ := testClosure("/nix/store")
	tests := []struct {
		name string
		set  func(o *Options)
		want []string
	}{
		{"auto", func(o *Options) {}, []string{"auto-layer, at most 3 store layers", "auto-layer: ", "hello-base.json (excluded)"}},
		{"pipeline", func(o *Options) { o.Pipeline = mustPipeline(t, `[["popularity_contest"]]`) },
			[]string{"layeringPipeline on 7 paths", `step 1 ("popularity_contest"): a list of 5 items`}},
		{"popularity", func(o *Options) { o.Layering = layeringPopularity },
			[]string{"popularity layering, 3 store layers (at most 3)", "layer 1: 1 paths, 30000000 bytes", testPath("/nix/store", "glibc-2.40") + " (30000000 bytes)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions("/nix/store")
			tc.set(o)
			var log strings.Builder
			o.Log = &log
			quiet, err := storeLayers(o, paths, 3, 10240, nil)
			if err != nil {
				t.Fatal(err)
			}
			if log.Len() != 0 {
				t.Errorf("without debug, the log has %q", log.String())
			}
			o.Debug = true
			loud, err := storeLayers(o, paths, 3, 10240, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(quiet, loud) {
				t.Errorf("debug changed the layers: %s, then %s", short(quiet), short(loud))
			}
			for _, w := range tc.want {
				if !strings.Contains(log.String(), w) {
					t.Errorf("debug output lacks %q:\n%s", w, log.String())
				}
			}
		})
	}
}

func TestStoreLayersErrors(t *testing.T) {
	paths, _ := testClosure("/nix/store")
	o := testOptions("/nix/store")
	o.Pipeline = mustPipeline(t, `[["subcomponent_out", []], ["over", "common", ["reverse"]]]`)
	_, err := storeLayers(o, paths, 3, 10240, nil)
	if err == nil || !strings.HasPrefix(err.Error(), `layeringPipeline step 2 ("over"): key "common" is not in the dict`) {
		t.Errorf("pipeline failing at run time: %v", err)
	}
	o = testOptions("/nix/store")
	o.Contents = []string{testPath("/nix/store", "absent")}
	if _, err := storeLayers(o, paths, 3, 10240, nil); err == nil || !strings.Contains(err.Error(), `attribute "contents"`) {
		t.Errorf("contents outside the closure: %v", err)
	}
}

// attrsOf is a stream derivation's .attrs.json with extra attributes.
func attrsOf(t *testing.T, extra map[string]any) *nixattrs.Attrs {
	t.Helper()
	m := map[string]any{"builder": "/bin/dockertools", "name": "stream-hello", "imageName": "hello", "imageTag": "t",
		"includeStorePaths": false, "outputs": map[string]string{"out": "/nix/store/x-out"}}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	a, err := nixattrs.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLayeringAttributes(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]any
		check func(o *Options) error
		err   string // the error starts with it
	}{
		{name: "default", check: func(o *Options) error {
			if o.Layering != "auto" || o.Pipeline != nil || o.Debug || o.StoreDir != "/nix/store" || o.ConfOut != "" {
				return fmt.Errorf("layering %q, pipeline %v, debug %v, storeDir %q, conf %q", o.Layering, o.Pipeline, o.Debug, o.StoreDir, o.ConfOut)
			}
			return nil
		}},
		{name: "null attributes", attrs: map[string]any{"layering": nil, "layeringPipeline": nil, "debug": nil, "variant": nil, "storeDir": nil},
			check: func(o *Options) error {
				if o.Layering != "auto" || o.Pipeline != nil || o.Variant != "" || o.StoreDir != "/nix/store" {
					return fmt.Errorf("layering %q, pipeline %v, variant %q, storeDir %q", o.Layering, o.Pipeline, o.Variant, o.StoreDir)
				}
				return nil
			}},
		{name: "popularity", attrs: map[string]any{"layering": "popularity", "debug": true, "variant": "v8", "storeDir": "/opt/store/"},
			check: func(o *Options) error {
				if o.Layering != "popularity" || !o.Debug || o.Variant != "v8" || o.StoreDir != "/opt/store" {
					return fmt.Errorf("layering %q, debug %v, variant %q, storeDir %q", o.Layering, o.Debug, o.Variant, o.StoreDir)
				}
				return nil
			}},
		{name: "conf output", attrs: map[string]any{"outputs": map[string]string{"out": "/nix/store/x-out", "conf": "/nix/store/y-conf"}},
			check: func(o *Options) error {
				if o.ConfOut != "/nix/store/y-conf" {
					return fmt.Errorf("conf %q", o.ConfOut)
				}
				return nil
			}},
		// maxLayers is not the pipeline's business, as in nixpkgs.
		{name: "pipeline and maxLayers 1", attrs: map[string]any{"layeringPipeline": []any{[]any{"popularity_contest"}}, "maxLayers": 1},
			check: func(o *Options) error {
				if o.Pipeline == nil {
					return fmt.Errorf("no pipeline")
				}
				return nil
			}},
		{name: "bad layering", attrs: map[string]any{"layering": "size"}, err: `attribute "layering": expected "auto" or "popularity", got "size"`},
		{name: "layering not a string", attrs: map[string]any{"layering": 3}, err: `attribute "layering": expected a string`},
		{name: "maxLayers 1", attrs: map[string]any{"maxLayers": 1}, err: `attribute "maxLayers"`},
		{name: "pipeline unknown step", attrs: map[string]any{"layeringPipeline": []any{[]any{"popularity_contest"}, []any{"reorder", []any{"main"}}}},
			err: `layeringPipeline step 2 ("reorder"): unknown function`},
		{name: "pipeline bad count", attrs: map[string]any{"layeringPipeline": []any{[]any{"popularity_contest"}, []any{"limit_layers", 0}}},
			err: `layeringPipeline step 2 ("limit_layers"): expected a number >= 1, got 0`},
		{name: "pipeline as a file name", attrs: map[string]any{"layeringPipeline": "/nix/store/x-pipeline.json"},
			err: `layeringPipeline: expected a list of steps, got the string`},
		{name: "debug not a boolean", attrs: map[string]any{"debug": "yes"}, err: `attribute "debug": expected true or false`},
		{name: "relative storeDir", attrs: map[string]any{"storeDir": "nix/store"}, err: `attribute "storeDir": expected an absolute directory`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := OptionsFromAttrs(attrsOf(t, tc.attrs))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %v, want one starting with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(o); err != nil {
				t.Error(err)
			}
		})
	}
}
