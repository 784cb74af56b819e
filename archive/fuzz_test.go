package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLayer is a layer tar built without a *testing.T, for seeds: empty
// files, and no end-of-archive blocks, to keep seeds small.
func fuzzLayer(names ...string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Typeflag: tar.TypeReg})
	}
	tw.Flush()
	return b.Bytes()
}

// layerPlaceholder in a fuzzed config stands for the layer's digest, which
// the fuzzer could never guess, so that inputs get past the diff_id check.
const layerPlaceholder = "sha256:LAYER"

// A fromImage is the user's file: whatever its manifest.json, config and
// layer hold, reading it (the index, the config, then every layer's bytes)
// must end in a result or an error, never a panic. The archive's own tar
// structure is Go's archive/tar, fuzzed upstream; the fuzz bytes are its
// members, which keeps inputs small and quick to minimize.
func FuzzOpenBase(f *testing.F) {
	manifest := `[{"Config":"c.json","RepoTags":["fuzz:latest"],"Layers":["l/layer.tar","l2/layer.tar"]}]`
	config := `{"architecture":"amd64","os":"linux","config":{"Env":["A=b"]},"rootfs":{"type":"layers","diff_ids":["` + layerPlaceholder + `","` + layerPlaceholder + `"]}}`
	for _, seed := range []struct {
		manifest, config string
		layer            []byte
		gz               bool
	}{
		{manifest, config, fuzzLayer("nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x/bin/x", "etc/passwd"), false},
		{manifest, config, fuzzLayer("a", "b/.wh.c", "d/.wh..wh..opq"), true},
		{`[{"Config":"c.json","Layers":[]}]`, `{"rootfs":{"diff_ids":[]}}`, nil, false},
		{`[]`, `{}`, nil, false},
		{`{}`, `null`, []byte("x"), false},
	} {
		f.Add([]byte(seed.manifest), []byte(seed.config), seed.layer, seed.gz)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, manifest, config, layer []byte, gz bool) {
		config = bytes.ReplaceAll(config, []byte(layerPlaceholder), []byte(Digest(layer)))
		p := filepath.Join(dir, "base.tar")
		file, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		var w io.Writer = file
		zw := gzip.NewWriter(file)
		if gz {
			w = zw
		}
		tw := tar.NewWriter(w)
		for _, m := range []struct {
			name string
			data []byte
		}{{"l/layer.tar", layer}, {"c.json", config}, {"manifest.json", manifest}} {
			tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg})
			tw.Write(m.data)
		}
		// docker save links a repeated layer to its first copy.
		tw.WriteHeader(&tar.Header{Name: "l2/layer.tar", Linkname: "../l/layer.tar", Typeflag: tar.TypeSymlink})
		tw.Close()
		if gz {
			zw.Close()
		}
		if err := file.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := OpenBase(p, "", "", "/nix/store")
		if err != nil {
			return
		}
		b.TmpDir = dir
		b.Copy(func(i int, l *BaseLayer, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
	})
}
