package compress

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/klauspost/pgzip"
)

// Names are the accepted values of `compressor`.
var Names = []string{"none", "gz", "zstd"}

// Fixed parameters: changing any of them changes every image's bytes.
const (
	gzipBlockSize = 1 << 20
	gzipLevel     = 6
	zstdWindow    = 8 << 20
)

// Extension is the file-name suffix nixpkgs uses for a compressor.
func Extension(name string) (string, error) {
	switch name {
	case "none":
		return "", nil
	case "gz":
		return ".gz", nil
	case "zstd":
		return ".zst", nil
	}
	return "", fmt.Errorf("attribute \"compressor\": expected one of none, gz, zstd, got %q", name)
}

// NewWriter returns a writer compressing into w. Close it to flush; it does
// not close w.
func NewWriter(w io.Writer, name string) (io.WriteCloser, error) {
	if _, err := Extension(name); err != nil {
		return nil, err
	}
	workers := runtime.GOMAXPROCS(0)
	switch name {
	case "gz":
		zw, err := pgzip.NewWriterLevel(w, gzipLevel)
		if err != nil {
			return nil, err
		}
		// pgzip compresses blocks independently (each primed with the previous
		// block's tail), so the number of workers does not change the bytes.
		if err := zw.SetConcurrency(gzipBlockSize, 2*workers); err != nil {
			return nil, err
		}
		zw.Header.ModTime = time.Unix(0, 0)
		zw.Header.OS = 255 // unknown, as `pigz -n` on any system would not say
		return zw, nil
	case "zstd":
		return newFrameWriter(w, workers)
	}
	return nopCloser{w}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
