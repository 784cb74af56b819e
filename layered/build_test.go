package layered

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layer"
	"github.com/nix-dockertools/dockertools/layering"
)

// testStore writes testClosure's paths as directories under storeDir, and
// the file carrying the image's roots, and returns exportReferencesGraph's
// JSON of it.
func testStore(t *testing.T, storeDir string) (paths []closure.Path, config, root string, graph []byte) {
	t.Helper()
	paths, config = testClosure(storeDir)
	for i, p := range paths {
		mustWrite(t, filepath.Join(p.Path, "share", "f"), len(p.Path))
		// Small enough that the customisation layer's tar (10 KiB) is
		// larger than bash and becomes a primary path.
		paths[i].NarSize /= 1000
	}
	root = testPath(storeDir, "stream-hello-roots")
	mustWrite(t, root, 10)
	all := append(slices.Clone(paths), closure.Path{Path: root, NarSize: 120,
		References: []string{testPath(storeDir, "bash-5.2"), testPath(storeDir, "hello-2.12"), testPath(storeDir, "tzdata")}})
	slices.SortFunc(all, func(a, b closure.Path) int { return strings.Compare(a.Path, b.Path) })
	graph, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return paths, config, root, graph
}

// The whole build in a store that is not /nix/store: the store layers are
// auto-layer's for nixpkgs' graph with the customisation layer's real size,
// the image config carries the variant, and passthru.conf describes it all.
func TestBuildVariantAndConf(t *testing.T) {
	for _, variant := range []string{"v7", ""} {
		t.Run("variant="+variant, func(t *testing.T) {
			dir := t.TempDir()
			storeDir := filepath.Join(dir, "store")
			paths, config, root, graph := testStore(t, storeDir)
			out, confOut := filepath.Join(dir, "out"), filepath.Join(dir, "conf")
			attrs := map[string]any{
				"includeStorePaths": true, "architecture": "arm", "variant": variant, "storeDir": storeDir,
				"config": json.RawMessage(config), "contents": []string{testPath(storeDir, "hello-2.12")},
				"closure": json.RawMessage(graph), "closureRoot": root, "maxLayers": 4,
				"uid": 1000, "gid": 100, "uname": "alice", "gname": "users", "mtime": "now",
				"outputs": map[string]string{"out": out, "conf": confOut},
			}
			o, err := OptionsFromAttrs(attrsOf(t, attrs))
			if err != nil {
				t.Fatal(err)
			}
			o.WorkDir = dir
			if err := Build(o, out); err != nil {
				t.Fatal(err)
			}
			s, err := ReadScript(out)
			if err != nil {
				t.Fatal(err)
			}

			var got [][]string
			for _, l := range s.Conf.StoreLayers {
				got = append(got, l.Paths)
			}
			g, exclude := expectedGraph(t, o, paths, s.Conf.Customisation.Size)
			want, err := layering.Auto(g, exclude, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want.Layers) {
				t.Errorf("store layers %s, want %s", short(got), short(want.Layers))
			}
			p := func(n string) string { return testPath(storeDir, n) }
			if byHand := [][]string{{p("glibc-2.40")}, {p("bash-5.2"), p("tzdata")}, {p("hello-2.12"), p("libfoo-1")}}; !reflect.DeepEqual(got, byHand) {
				t.Errorf("store layers %s; the customisation layer should have been a primary path: %s", short(got), short(byHand))
			}

			var image bytes.Buffer
			if err := s.Stream(&image, io.Discard); err != nil {
				t.Fatal(err)
			}
			members := tarMembers(t, image.Bytes())
			var manifest []struct{ Config string }
			if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
				t.Fatalf("manifest.json: %v", err)
			}
			cfg := string(members[manifest[0].Config])
			wantPlatform := `"architecture":"arm","os":"linux"`
			if variant != "" {
				wantPlatform = `"architecture":"arm","variant":"v7","os":"linux"`
			}
			if !strings.Contains(cfg, wantPlatform) {
				t.Errorf("image config %s\nlacks %s", cfg, wantPlatform)
			}
			// The store's parents come first in every store layer.
			first := tarNames(t, members[s.Conf.StoreLayers[0].DiffID[len("sha256:"):]+"/layer.tar"])
			parents := strings.Split(strings.Trim(storeDir, "/"), "/")
			for i := range parents {
				if w := "/" + strings.Join(parents[:i+1], "/") + "/"; first[i] != w {
					t.Errorf("store layer entry %d is %s, want %s", i, first[i], w)
				}
			}

			conf, err := os.ReadFile(confOut)
			if err != nil {
				t.Fatal(err)
			}
			if string(conf) != wantConf(storeDir, variant, got) {
				t.Errorf("passthru.conf:\n%s\nwant:\n%s", conf, wantConf(storeDir, variant, got))
			}
		})
	}
}

// wantConf is passthru.conf as nixpkgs' jq would print it.
func wantConf(storeDir, variant string, layers [][]string) string {
	p := func(n string) string { return testPath(storeDir, n) }
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"architecture\": \"arm\",\n  \"config\": {\n    \"Cmd\": [\n      \"%s/bin/bash\"\n    ],\n    \"Env\": [\n      \"TZDIR=%s/share\"\n    ]\n  },\n  \"os\": \"linux\",\n", p("bash-5.2"), p("tzdata"))
	if variant != "" {
		fmt.Fprintf(&b, "  \"variant\": %q,\n", variant)
	}
	fmt.Fprintf(&b, "  \"store_dir\": %q,\n  \"from_image\": null,\n  \"store_layers\": [\n", storeDir)
	for i, l := range layers {
		b.WriteString("    [\n")
		for j, path := range l {
			fmt.Fprintf(&b, "      %q", path)
			if j < len(l)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("    ]")
		if i < len(layers)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(`  ],
  "repo_tag": "hello:t",
  "created": "1970-01-01T00:00:01Z",
  "mtime": "now",
  "uid": "1000",
  "gid": "100",
  "uname": "alice",
  "gname": "users"
}
`)
	return b.String()
}

func TestPlanWithoutStoreLayers(t *testing.T) {
	o := &Options{ImageName: "x", ImageTag: "1", Architecture: "amd64", StoreDir: "/nix/store",
		FromImage: "/nix/store/aaaa-base.tar", Created: "now", MTime: "1970-01-01T00:00:01Z", Owner: layer.Owner{Uname: "root", Gname: "root"}}
	got, err := planJSON(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "architecture": "amd64",
  "config": null,
  "os": "linux",
  "store_dir": "/nix/store",
  "from_image": "/nix/store/aaaa-base.tar",
  "store_layers": [],
  "repo_tag": "x:1",
  "created": "now",
  "mtime": "1970-01-01T00:00:01Z",
  "uid": "0",
  "gid": "0",
  "uname": "root",
  "gname": "root"
}
`
	if string(got) != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}

func tarMembers(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = b
	}
}

func tarNames(t *testing.T, data []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}
