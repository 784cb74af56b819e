package layered

import (
	"io"
	"os"

	"github.com/nix-dockertools/dockertools/outfile"
)

// BuildCompressed writes the image of a stream script to out, compressed:
// buildLayeredImage, without running the script through a shell.
func BuildCompressed(script, compressor, out string) error {
	s, err := ReadScript(script)
	if err != nil {
		return err
	}
	return outfile.WriteCompressed(out, compressor, func(w io.Writer) error {
		return s.Stream(w, os.Stderr)
	})
}
