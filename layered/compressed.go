package layered

import (
	"io"
	"os"

	"github.com/nix-dockertools/dockertools/compress"
)

// BuildCompressed writes the image of a stream script to out, compressed:
// buildLayeredImage, without running the script through a shell.
func BuildCompressed(script, compressor, out string) error {
	s, err := ReadScript(script)
	if err != nil {
		return err
	}
	if _, err := compress.Extension(compressor); err != nil {
		return err
	}
	return writeAtomically(out, 0o444, func(w io.Writer) error {
		cw, err := compress.NewWriter(w, compressor)
		if err != nil {
			return err
		}
		if err := s.Stream(cw, os.Stderr); err != nil {
			return err
		}
		return cw.Close()
	})
}
