package integration

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var layeringFixtures = []string{"layering-auto", "layering-popularity", "layering-pipeline"}

// imageLayers reads a docker-archive: each layer's top-level store paths in
// the order the layer holds them, and the last (customisation) layer's bytes.
func imageLayers(t *testing.T, img string) ([][]string, []byte) {
	t.Helper()
	f, err := os.Open(uncompressed(t, img))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blobs := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		blobs[hdr.Name] = data
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(blobs["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v %s", err, blobs["manifest.json"])
	}
	names := manifest[0].Layers
	var store [][]string
	for _, name := range names[:len(names)-1] {
		var paths []string
		lr := tar.NewReader(strings.NewReader(string(blobs[name])))
		for {
			hdr, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", name, err)
			}
			rel := strings.Trim(hdr.Name, "/")
			if parts := strings.Split(rel, "/"); len(parts) == 3 && parts[0] == "nix" && parts[1] == "store" {
				paths = append(paths, "/"+rel)
			}
		}
		store = append(store, paths)
	}
	return store, blobs[names[len(names)-1]]
}

// storeMTime is the mtime of the first store path in an image's first layer.
func storeMTime(t *testing.T, img string) time.Time {
	t.Helper()
	f, err := os.Open(uncompressed(t, img))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no layer in %s: %v", img, err)
		}
		if strings.HasSuffix(hdr.Name, "/layer.tar") {
			lr := tar.NewReader(tr)
			for {
				h, err := lr.Next()
				if err != nil {
					t.Fatalf("no store path in the first layer: %v", err)
				}
				if parts := strings.Split(strings.Trim(h.Name, "/"), "/"); len(parts) == 3 && parts[1] == "store" {
					return h.ModTime
				}
			}
		}
	}
}

// narSize is what Nix says the NAR of a file or directory is.
func narSize(t *testing.T, p string) int {
	t.Helper()
	return len(must(t, "nix-store", "--dump", p))
}

// nixpkgsGraph is the graph nixpkgs' streamLayeredImage layers for an image
// of these contents and config, made from Nix's own data: the closure as
// `nix path-info` reports it, plus the config file (base.json) and the
// customisation layer's output (checksum and layer.tar), whose NAR sizes
// nix-store measures. Both are excluded from the layers.
func nixpkgsGraph(t *testing.T, name string, contents []string, config string, custom []byte) (graph, exclude string) {
	t.Helper()
	dir := t.TempDir()
	var nodes []map[string]any
	args := append([]string{"path-info", "--json", "--recursive"}, contents...)
	if err := json.Unmarshal([]byte(must(t, "nix", args...)), &nodes); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.json")
	if err := os.WriteFile(base, []byte(`{"architecture":"amd64","config":`+config+`,"os":"linux"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, "customisation-layer")
	sum := sha256.Sum256(custom)
	if err := os.Mkdir(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layer, "layer.tar"), custom, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layer, "checksum"), []byte(hex.EncodeToString(sum[:])+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	var configRefs []string
	for _, n := range nodes {
		if p := n["path"].(string); strings.Contains(config, p) {
			configRefs = append(configRefs, p)
		}
	}
	basePath := "/nix/store/" + strings.Repeat("b", 32) + "-" + name + "-base.json"
	layerPath := "/nix/store/" + strings.Repeat("c", 32) + "-" + name + "-customisation-layer"
	nodes = append(nodes,
		map[string]any{"path": basePath, "narSize": narSize(t, base), "references": configRefs},
		map[string]any{"path": layerPath, "narSize": narSize(t, layer), "references": contents})
	graph = filepath.Join(dir, "graph.json")
	data, _ := json.Marshal(nodes)
	if err := os.WriteFile(graph, data, 0o644); err != nil {
		t.Fatal(err)
	}
	exclude = filepath.Join(dir, "exclude")
	if err := os.WriteFile(exclude, []byte(basePath+"\n"+layerPath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return graph, exclude
}

// The store layers of images built with each default and with a pipeline
// hold exactly the groups `dockertools layers` prints for the closure's
// graph, as nixpkgs would build it; the images run in Docker and podman.
func TestLayering(t *testing.T) {
	need(t)
	var apps, libs []string
	if err := json.Unmarshal([]byte(nixEval(t, fixturesExpr(`map toString pkgs.layeringApps`))), &apps); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(nixEval(t, fixturesExpr(`map toString pkgs.layeringLibs`))), &libs); err != nil {
		t.Fatal(err)
	}
	pipeline := filepath.Join(t.TempDir(), "pipeline.json")
	if err := os.WriteFile(pipeline, []byte(fmt.Sprintf(
		`[["subcomponent_out",[%q]],["over","rest",["pipe",[["popularity_contest"],["limit_layers",4]]]]]`, apps[3])), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		attr string
		args []string
	}{
		{"layering-auto", []string{"--limit", "11"}},
		{"layering-popularity", []string{"--popularity", "--limit", "11"}},
		{"layering-pipeline", []string{"--pipeline", pipeline}},
	} {
		t.Run(tc.attr, func(t *testing.T) {
			img := image(t, tc.attr)
			got, custom := imageLayers(t, img)
			graph, exclude := nixpkgsGraph(t, tc.attr, apps, fmt.Sprintf(`{"Cmd":["%s/bin/app0"]}`, apps[0]), custom)
			var want [][]string
			out := must(t, h.builder, append([]string{"layers", graph, "--exclude", exclude}, tc.args...)...)
			if err := json.Unmarshal([]byte(out), &want); err != nil {
				t.Fatalf("dockertools layers: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("store layers of the image:\n%v\ndockertools layers prints:\n%v", got, want)
			}
			n := 0
			for _, l := range got {
				n += len(l)
			}
			if n != 31 {
				t.Errorf("the store layers hold %d paths, want the closure's 31", n)
			}
			runBoth(t, img, "app0 uses "+libs[19]+" "+libs[0]+" "+libs[0], "/bin/app0")
			if tc.attr == "layering-auto" {
				checkConf(t, tc.attr, got)
				checkDebugLog(t, tc.attr)
			}
		})
	}
}

// passthru.conf is the image's plan, with nixpkgs' conf.json keys.
func checkConf(t *testing.T, attr string, layers [][]string) {
	t.Helper()
	p := strings.TrimSpace(must(t, "nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", fixturesExpr("images."+attr+".stream.passthru.conf")))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var conf map[string]json.RawMessage
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatalf("passthru.conf: %v\n%s", err, data)
	}
	var keys []string
	for k := range conf {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"architecture", "config", "created", "from_image", "gid", "gname", "mtime", "os", "repo_tag", "store_dir", "store_layers", "uid", "uname"}; !slices.Equal(keys, want) {
		t.Errorf("passthru.conf keys %v, want %v", keys, want)
	}
	var planned [][]string
	if err := json.Unmarshal(conf["store_layers"], &planned); err != nil || !reflect.DeepEqual(planned, layers) {
		t.Errorf("passthru.conf store_layers %s, the image has %v (%v)", conf["store_layers"], layers, err)
	}
	if string(conf["repo_tag"]) != `"`+attr+`:latest"` {
		t.Errorf("repo_tag %s", conf["repo_tag"])
	}
}

// debug = true explains the layers in the build's log.
func checkDebugLog(t *testing.T, attr string) {
	t.Helper()
	var drv string
	if err := json.Unmarshal([]byte(nixEval(t, fixturesExpr("images."+attr+".stream.drvPath"))), &drv); err != nil {
		t.Fatal(err)
	}
	log := must(t, "nix-store", "--read-log", drv)
	for _, want := range []string{"streamLayeredImage: auto-layer, at most 11 store layers", "used by the primary paths", "(primary)"} {
		if !strings.Contains(log, want) {
			t.Errorf("the build log lacks %q:\n%s", want, tail(log, 30))
		}
	}
}
