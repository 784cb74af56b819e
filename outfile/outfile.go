// Package outfile writes a build's output so that it exists only when it is
// whole: a failed build must never leave a half-written $out behind.
package outfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"

	"github.com/nix-dockertools/dockertools/compress"
)

// Write creates path with mode from what write writes, through a temporary
// file in the same directory that is renamed into place on success and
// removed on failure.
func Write(path string, mode os.FileMode, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer Track(tmp.Name())()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteCompressed is Write through the named compressor (see package
// compress), with the read-only mode of a store file.
func WriteCompressed(path, compressor string, write func(io.Writer) error) error {
	if _, err := compress.Extension(compressor); err != nil {
		return err
	}
	return Write(path, 0o444, func(w io.Writer) error {
		cw, err := compress.NewWriter(w, compressor)
		if err != nil {
			return err
		}
		if err := write(cw); err != nil {
			return err
		}
		return cw.Close()
	})
}
