package compress

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// sample is compressible but not trivial, and spans many gzip blocks.
func sample() []byte {
	r := rand.New(rand.NewSource(1))
	var b bytes.Buffer
	words := []string{"nix", "store", "layer", "docker", "image", "\x00\x01", "tar"}
	for b.Len() < 5<<20 {
		b.WriteString(words[r.Intn(len(words))])
		if r.Intn(50) == 0 {
			var x [64]byte
			r.Read(x[:])
			b.Write(x[:])
		}
	}
	return b.Bytes()
}

func compress(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, name)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes, as a tar stream makes them.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 12345)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func decompress(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var r io.Reader
	switch name {
	case "gz":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		r = bytes.NewReader(data)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The bytes must not depend on how many cores the builder had.
func TestReproducibleAcrossCores(t *testing.T) {
	data := sample()
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			old := runtime.GOMAXPROCS(1)
			one := compress(t, name, data)
			runtime.GOMAXPROCS(8)
			eight := compress(t, name, data)
			runtime.GOMAXPROCS(old)
			if !bytes.Equal(one, eight) {
				t.Fatalf("%s output differs between 1 and 8 cores (%d vs %d bytes)", name, len(one), len(eight))
			}
			if got := decompress(t, name, one); !bytes.Equal(got, data) {
				t.Fatalf("%s does not round-trip", name)
			}
			if name == "gz" && (one[4] != 0 || one[5] != 0 || one[6] != 0 || one[7] != 0) {
				t.Fatalf("gzip MTIME is not zero: % x", one[4:8])
			}
		})
	}
}

func TestUnknownCompressor(t *testing.T) {
	if _, err := NewWriter(io.Discard, "xz"); err == nil || !bytes.Contains([]byte(err.Error()), []byte(`"compressor"`)) {
		t.Fatalf("error = %v", err)
	}
}

func TestEmptyInput(t *testing.T) {
	for _, name := range Names {
		if got := decompress(t, name, compress(t, name, nil)); len(got) != 0 {
			t.Errorf("%s: empty input decompressed to %d bytes", name, len(got))
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

// A destination that fails is reported, not swallowed.
func TestWriteErrorReported(t *testing.T) {
	for _, name := range []string{"gz", "zstd"} {
		w, err := NewWriter(failingWriter{}, name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(sample())
		if err := w.Close(); err == nil {
			t.Errorf("%s: Close after a failed write returned nil", name)
		}
	}
}
