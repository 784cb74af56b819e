package archive

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestMerge(t *testing.T) {
	l1, l2, l3 := layerTar(t, "a", "one"), layerTar(t, "b", "two"), layerTar(t, "c", "three")
	cfgA := config(t, []string{"A=1"}, diffID(l1), diffID(l2))
	cfgB := config(t, []string{"B=1"}, diffID(l1), diffID(l3))
	// One archive with one image, gzipped; another with two images.
	first := writeArchive(t, []fixture{{name: "l1/layer.tar", data: l1}, {name: "l2/layer.tar", data: l2}, {name: "a.json", data: cfgA},
		{name: "manifest.json", data: manifest(t, ManifestEntry{Config: "a.json", RepoTags: []string{"a:1"}, Layers: []string{"l1/layer.tar", "l2/layer.tar"}})}}, true)
	second := writeArchive(t, []fixture{{name: "x/layer.tar", data: l1}, {name: "y/layer.tar", data: l3}, {name: "b.json", data: cfgB},
		{name: "manifest.json", data: manifest(t,
			ManifestEntry{Config: "b.json", RepoTags: []string{"b:1", "b:latest"}, Layers: []string{"x/layer.tar", "y/layer.tar"}},
			ManifestEntry{Config: "b.json", RepoTags: []string{"b:2"}, Layers: []string{"x/layer.tar", "y/layer.tar"}})}}, false)
	var buf bytes.Buffer
	if err := Merge(&buf, []string{first, second}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "merged.tar")
	os.WriteFile(out, buf.Bytes(), 0o644)
	all, err := OpenAll(out)
	if err != nil {
		t.Fatal(err)
	}
	var tags [][]string
	for _, b := range all {
		tags = append(tags, b.RepoTags)
	}
	if len(all) != 3 || !slices.Equal(tags[0], []string{"a:1"}) || !slices.Equal(tags[1], []string{"b:1", "b:latest"}) || !slices.Equal(tags[2], []string{"b:2"}) {
		t.Fatalf("images: %v", tags)
	}
	if all[1].Layers[0].Member != all[0].Layers[0].Member {
		t.Errorf("the shared layer is not shared: %s vs %s", all[1].Layers[0].Member, all[0].Layers[0].Member)
	}
	// Shared layers and configs are written once: 3 layers, 2 configs, the manifest.
	if n := len(tarNames(t, buf.Bytes())); n != 6 {
		t.Errorf("%d members, want 3 layers + 2 configs + manifest.json: %v", n, tarNames(t, buf.Bytes()))
	}
	if err := Merge(&bytes.Buffer{}, []string{first, filepath.Join(t.TempDir(), "missing.tar")}); err == nil {
		t.Error("a missing image was merged")
	}
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}
