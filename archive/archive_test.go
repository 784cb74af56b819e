package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// layerTar makes a small layer holding one file.
func layerTar(t *testing.T, name, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	return b.Bytes()
}

func diffID(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

type fixture struct {
	name, link string
	data       []byte
}

// writeArchive writes members in the given order, as another tool might.
func writeArchive(t *testing.T, members []fixture, gz bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "base.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = f
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(f)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, m := range members {
		if m.link != "" {
			tw.WriteHeader(&tar.Header{Name: m.name, Linkname: m.link, Typeflag: tar.TypeSymlink})
			continue
		}
		tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg})
		tw.Write(m.data)
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	f.Close()
	return p
}

func config(t *testing.T, env []string, ids ...string) []byte {
	c, err := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Env": env}, "rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func manifest(t *testing.T, entries ...ManifestEntry) []byte {
	b, _ := json.Marshal(entries)
	return b
}

func TestOpenBase(t *testing.T) {
	l1, l2 := layerTar(t, "a", "one"), layerTar(t, "b", "two")
	var gzl2 bytes.Buffer
	zw := gzip.NewWriter(&gzl2)
	zw.Write(l2)
	zw.Close()
	cfg := config(t, []string{"A=1"}, diffID(l1), diffID(l2))
	m := manifest(t, ManifestEntry{Config: "c.json", RepoTags: []string{"base:v1"}, Layers: []string{"l1/layer.tar", "l2/layer.tar"}})
	inOrder := []fixture{{name: "l1/layer.tar", data: l1}, {name: "l2/layer.tar", data: l2}, {name: "c.json", data: cfg}, {name: "manifest.json", data: m}}
	reversed := []fixture{{name: "manifest.json", data: m}, {name: "c.json", data: cfg}, {name: "l2/layer.tar", data: l2}, {name: "l1/layer.tar", data: l1}}
	compressedLayer := []fixture{{name: "l1/layer.tar", data: l1}, {name: "l2/layer.tar", data: gzl2.Bytes()}, {name: "c.json", data: cfg}, {name: "manifest.json", data: m}}
	linked := []fixture{{name: "x/layer.tar", data: l1}, {name: "l1/layer.tar", link: "../x/layer.tar"}, {name: "l2/layer.tar", data: l2}, {name: "c.json", data: cfg}, {name: "manifest.json", data: m}}
	for _, tc := range []struct {
		name    string
		members []fixture
		gz      bool
	}{
		{"plain", inOrder, false},
		{"gzipped", inOrder, true},
		{"plain, layers after the manifest in reverse", reversed, false},
		{"gzipped, layers in reverse", reversed, true},
		{"a gzipped layer", compressedLayer, false},
		{"a layer linked to another member", linked, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := OpenBase(writeArchive(t, tc.members, tc.gz), "", "", "/nix/store")
			if err != nil {
				t.Fatal(err)
			}
			if b.RepoTag != "base:v1" || !slices.Equal(b.Env, []string{"A=1"}) || len(b.Layers) != 2 {
				t.Fatalf("base = %+v", b)
			}
			var got [][]byte
			err = b.Copy(func(i int, l *BaseLayer, r io.Reader) error {
				var buf bytes.Buffer
				if err := l.Uncompressed(&buf, r); err != nil {
					return err
				}
				got = append(got, buf.Bytes())
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || !bytes.Equal(got[0], l1) || !bytes.Equal(got[1], l2) {
				t.Fatalf("layers differ")
			}
		})
	}
}

func TestOpenBaseErrors(t *testing.T) {
	l1 := layerTar(t, "a", "one")
	cfg := config(t, nil, diffID(l1))
	m := manifest(t, ManifestEntry{Config: "c.json", RepoTags: []string{"base:v1"}, Layers: []string{"l1/layer.tar"}})
	for _, tc := range []struct {
		name    string
		members []fixture
		want    string
	}{
		{"no manifest", []fixture{{name: "c.json", data: cfg}}, "it has no manifest.json"},
		{"manifest not JSON", []fixture{{name: "manifest.json", data: []byte("{")}}, "reading manifest.json"},
		{"empty manifest", []fixture{{name: "manifest.json", data: []byte("[]")}}, "lists no image"},
		{"missing layer", []fixture{{name: "c.json", data: cfg}, {name: "manifest.json", data: m}}, "not in the archive"},
		{"wrong digest", []fixture{{name: "l1/layer.tar", data: layerTar(t, "a", "changed")}, {name: "c.json", data: cfg}, {name: "manifest.json", data: m}}, "but the config says"},
		{"traversal", []fixture{{name: "../evil", data: []byte("x")}}, "leaves the archive"},
		{"diff_ids count", []fixture{{name: "l1/layer.tar", data: l1}, {name: "c.json", data: config(t, nil)}, {name: "manifest.json", data: m}}, "lists 0 diff_ids for 1 layers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenBase(writeArchive(t, tc.members, false), "", "", "/nix/store")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	notTar := filepath.Join(t.TempDir(), "x")
	os.WriteFile(notTar, []byte("not a tar at all, just text that is long enough to not be a header"), 0o644)
	if _, err := OpenBase(notTar, "", "", ""); err == nil || !strings.Contains(err.Error(), "not a docker-archive") {
		t.Fatalf("error = %v", err)
	}
}

func TestPick(t *testing.T) {
	m := []ManifestEntry{{Config: "a", RepoTags: []string{"a:1"}}, {Config: "b", RepoTags: []string{"docker.io/library/b:2"}}}
	for _, tc := range []struct{ name, tag, want, err string }{
		{"", "", "a", ""}, {"b", "", "a", ""}, {"", "2", "a", ""}, {"b", "2", "b", ""}, {"a", "1", "a", ""},
		{"b", "3", "", "no image b:3 in the archive"},
	} {
		e, _, err := pick(m, tc.name, tc.tag)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("pick(%s, %s): error %v", tc.name, tc.tag, err)
			}
			continue
		}
		if err != nil || e.Config != tc.want {
			t.Errorf("pick(%s, %s) = %s, %v; want %s", tc.name, tc.tag, e.Config, err, tc.want)
		}
	}
}

// What Writer writes, OpenBase reads back, with repeated layers listed twice
// but stored once.
func TestWriteRead(t *testing.T) {
	l1, l2 := layerTar(t, "a", "one"), layerTar(t, "b", "two")
	p := filepath.Join(t.TempDir(), "img.tar")
	f, _ := os.Create(p)
	w := NewWriter(f)
	for _, l := range [][]byte{l1, l2, l1} {
		if err := w.AddLayer(diffID(l), int64(len(l)), func(w io.Writer) error { _, err := w.Write(l); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(config(t, []string{"X=1"}, diffID(l1), diffID(l2), diffID(l1)), "img:t"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := OpenBase(p, "img", "t", "/nix/store")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Layers) != 3 || b.Layers[0].Offset != b.Layers[2].Offset {
		t.Fatalf("layers = %+v", b.Layers)
	}
	// A layer shorter than announced is an error, not a corrupt archive.
	w = NewWriter(io.Discard)
	if err := w.AddLayer(diffID(l1), int64(len(l1))+1, func(w io.Writer) error { _, err := w.Write(l1); return err }); err == nil {
		t.Fatal("short layer accepted")
	}
}

func TestMergeEnv(t *testing.T) {
	got := MergeEnv([]string{"A=1", "B=2", "PATH=/bin"}, []string{"B=3", "C=4", "A=5"})
	want := []string{"A=5", "B=3", "PATH=/bin", "C=4"}
	if !slices.Equal(got, want) {
		t.Fatalf("MergeEnv = %v, want %v", got, want)
	}
	cfg, err := ContainerConfig([]byte(`{"Cmd":["x"],"Env":["B=3"]}`), []string{"B=1", "A=2"})
	if err != nil || string(cfg) != `{"Cmd":["x"],"Env":["B=3","A=2"]}` {
		t.Fatalf("ContainerConfig = %s, %v", cfg, err)
	}
	if cfg, err := ContainerConfig([]byte(`null`), nil); err != nil || string(cfg) != `{}` {
		t.Fatalf("ContainerConfig(null) = %s, %v", cfg, err)
	}
	if _, err := ContainerConfig([]byte(`{"Env":"A=1"}`), nil); err == nil {
		t.Fatal("Env as a string accepted")
	}
}
