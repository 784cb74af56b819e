package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Members nobody names are not read: twelve big JSON members beside the
// image cost no memory (issue 17: 815 MB for twelve unused 60 MB ones).
func TestOpenBaseReadsOnlyReferenced(t *testing.T) {
	l1 := layerTar(t, "a", "one")
	cfg := config(t, nil, diffID(l1))
	m := manifest(t, ManifestEntry{Config: "c.json", RepoTags: []string{"base:v1"}, Layers: []string{"l1/layer.tar"}})
	junk := bytes.Repeat([]byte(" "), 4<<20)
	for _, gz := range []bool{false, true} {
		members := []fixture{{name: "l1/layer.tar", data: l1}, {name: "c.json", data: cfg}}
		for i := range 12 {
			members = append(members, fixture{name: fmt.Sprintf("unused%d.json", i), data: junk})
		}
		p := writeArchive(t, append(members, fixture{name: "manifest.json", data: m}), gz)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := OpenBase(p, "", "", "/nix/store"); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
			t.Errorf("gzip %v: OpenBase allocated %d MB for an image of a few bytes beside 48 MB of unused members", gz, got>>20)
		}
	}
}

// JSON members over the limit are refused by name, saying the limit.
func TestOpenBaseJSONLimit(t *testing.T) {
	l1 := layerTar(t, "a", "one")
	m := manifest(t, ManifestEntry{Config: "c.json", RepoTags: []string{"base:v1"}, Layers: []string{"l1/layer.tar"}})
	big := bytes.Repeat([]byte(" "), maxJSON+1)
	for _, tc := range []struct {
		name    string
		members []fixture
		want    string
	}{
		{"config", []fixture{{name: "l1/layer.tar", data: l1}, {name: "c.json", data: big}, {name: "manifest.json", data: m}},
			fmt.Sprintf("config c.json is %d bytes, over the limit of 64 MiB", maxJSON+1)},
		{"manifest", []fixture{{name: "manifest.json", data: big}}, fmt.Sprintf("manifest.json is %d bytes, over the limit of 64 MiB", maxJSON+1)},
	} {
		for _, gz := range []bool{false, true} {
			_, err := OpenBase(writeArchive(t, tc.members, gz), "", "", "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s, gzip %v: error %v, want %q", tc.name, gz, err, tc.want)
			}
		}
	}
}

// A member with a name longer than PATH_MAX: docker load cannot extract it.
func TestOpenBaseLongMember(t *testing.T) {
	_, err := OpenBase(writeArchive(t, []fixture{{name: strings.Repeat("m/", 2048) + "x", data: []byte("x")}}, false), "", "", "")
	if err == nil || !strings.Contains(err.Error(), "over Linux's PATH_MAX") {
		t.Fatalf("error = %v", err)
	}
}

// zerosThenLayer writes a gzipped archive: size bytes of zeros (a member
// nobody names), then one layer listed n times (issue 17: each listing
// decompressed the archive again from the start).
func zerosThenLayer(t *testing.T, size int64, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "base.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "zeros", Size: size, Mode: 0o644, Typeflag: tar.TypeReg})
	zero := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(zero)) {
		tw.Write(zero[:min(left, int64(len(zero)))])
	}
	l := layerTar(t, "a", "one")
	tw.WriteHeader(&tar.Header{Name: "l/layer.tar", Size: int64(len(l)), Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write(l)
	var layers, ids []string
	for range n {
		layers, ids = append(layers, "l/layer.tar"), append(ids, diffID(l))
	}
	cfg := config(t, nil, ids...)
	tw.WriteHeader(&tar.Header{Name: "c.json", Size: int64(len(cfg)), Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write(cfg)
	m, _ := json.Marshal([]ManifestEntry{{Config: "c.json", RepoTags: []string{"base:v1"}, Layers: layers}})
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Size: int64(len(m)), Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write(m)
	tw.Close()
	zw.Close()
	f.Close()
	return p
}

// Reading is linear in the archive: a layer listed 1,000 times behind
// 100 MB of zeros is read once (three passes over the archive in all:
// index, config, layers), and copied out 1,000 times by listing.
func TestOpenBaseLinear(t *testing.T) {
	p := zerosThenLayer(t, 100<<20, 1000)
	start := time.Now()
	b, err := OpenBase(p, "", "", "/nix/store")
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	if err := b.Copy(func(int, *BaseLayer, io.Reader) error { reads++; return nil }); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := NewWriter(&out)
	if err := w.AddBaseLayers(b, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.AddImage(b.Config, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("OpenBase and copying took %v", d)
	}
	if len(b.Layers) != 1000 || reads != 1 || len(w.images[0].Layers) != 1000 {
		t.Fatalf("%d listings, read %d times, %d written listings", len(b.Layers), reads, len(w.images[0].Layers))
	}
	if b.Layers[999].TarSize != b.Layers[0].TarSize || b.Layers[999].Compression != None {
		t.Errorf("a later listing lacks what the first read found: %+v", b.Layers[999])
	}
	// A later listing whose diff_id differs from the first's is refused.
	bad := config(t, nil, diffID(layerTar(t, "a", "one")), diffID(layerTar(t, "b", "two")))
	l := layerTar(t, "a", "one")
	m := manifest(t, ManifestEntry{Config: "c.json", Layers: []string{"l/layer.tar", "l/layer.tar"}})
	_, err = OpenBase(writeArchive(t, []fixture{{name: "l/layer.tar", data: l}, {name: "c.json", data: bad}, {name: "manifest.json", data: m}}, true), "", "", "")
	if err == nil || !strings.Contains(err.Error(), "for its listing 2") {
		t.Fatalf("error = %v", err)
	}
}

// Layers of a compressed archive stored in reverse order are decompressed
// once: those that come early wait in TmpDir, which is left empty.
func TestCopyOutOfOrder(t *testing.T) {
	var ls [][]byte
	var names, ids []string
	for i := range 5 {
		ls = append(ls, layerTar(t, fmt.Sprintf("f%d", i), strings.Repeat("x", i*1000)))
		names, ids = append(names, fmt.Sprintf("l%d/layer.tar", i)), append(ids, diffID(ls[i]))
	}
	var members []fixture
	for i := len(ls) - 1; i >= 0; i-- {
		members = append(members, fixture{name: names[i], data: ls[i]})
	}
	members = append(members, fixture{name: "c.json", data: config(t, nil, ids...)},
		fixture{name: "manifest.json", data: manifest(t, ManifestEntry{Config: "c.json", Layers: names})})
	b, err := OpenBase(writeArchive(t, members, true), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	b.TmpDir = t.TempDir()
	var order []int
	err = b.Copy(func(i int, l *BaseLayer, r io.Reader) error {
		var buf bytes.Buffer
		if err := l.Uncompressed(&buf, r); err != nil {
			return err
		}
		if !bytes.Equal(buf.Bytes(), ls[i]) {
			return fmt.Errorf("layer %d differs", i)
		}
		order = append(order, i)
		return nil
	})
	if err != nil || fmt.Sprint(order) != "[0 1 2 3 4]" {
		t.Fatalf("order %v, %v", order, err)
	}
	if left, _ := os.ReadDir(b.TmpDir); len(left) != 0 {
		t.Errorf("Copy left %d files in TmpDir", len(left))
	}
}
