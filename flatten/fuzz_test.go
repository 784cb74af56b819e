package flatten

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nix-dockertools/dockertools/archive"
)

// fuzzTar is a small layer tar for seeds, without end-of-archive blocks.
func fuzzTar(hs ...tar.Header) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hs {
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		tw.WriteHeader(&h)
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Flush()
	return b.Bytes()
}

// A base image's layers are whatever its author put there: flattening two
// layers of any bytes (symlinks through each other, whiteouts, hard links,
// odd names) must end in an output or an error, never a panic.
func FuzzWrite(f *testing.F) {
	reg := func(name string, size int64) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size}
	}
	dir := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	sym := func(name, target string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
	}
	hard := func(name, target string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}
	}
	f.Add(fuzzTar(dir("etc/"), reg("etc/passwd", 3), sym("bin", "usr/bin")), fuzzTar(reg("bin/sh", 2), hard("etc/group", "etc/passwd")))
	f.Add(fuzzTar(dir("a/"), reg("a/b", 1), reg("a/c", 1)), fuzzTar(reg("a/.wh.b", 0), reg("a/.wh..wh..opq", 0), reg("a/d", 1)))
	f.Add(fuzzTar(sym("x", "/x"), sym("y", "../../y")), fuzzTar(reg("x/z", 1), hard("h", "y/z")))
	f.Add([]byte{}, []byte("not a tar"))
	tmp := f.TempDir()
	f.Fuzz(func(t *testing.T, layer1, layer2 []byte) {
		p := filepath.Join(tmp, "layers.tar")
		if err := os.WriteFile(p, append(append([]byte(nil), layer1...), layer2...), 0o644); err != nil {
			t.Fatal(err)
		}
		// A Base as archive.OpenBase would have accepted it: the layers'
		// tars back to back are the whole "archive".
		b := &archive.Base{Path: p, Compression: archive.None, TmpDir: tmp, Layers: []archive.BaseLayer{
			{Member: "layer1", Size: int64(len(layer1)), Compression: archive.None, TarSize: int64(len(layer1))},
			{Member: "layer2", Offset: int64(len(layer1)), Size: int64(len(layer2)), Compression: archive.None, TarSize: int64(len(layer2))},
		}}
		Write(io.Discard, b, tmp, 0)
	})
}
