package layered

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layer"
)

// scriptVersion changes when Conf changes incompatibly.
const scriptVersion = 1

// StoreLayer is one layer of store paths.
type StoreLayer struct {
	Paths  []string `json:"paths"`
	DiffID string   `json:"diffID"`
	Size   int64    `json:"size"`
}

// Conf is everything a stream needs, written into the stream script.
type Conf struct {
	Version       int             `json:"version"`
	RepoTag       string          `json:"repoTag"`
	Created       string          `json:"created"` // ISO-8601 or "now"
	Architecture  string          `json:"architecture"`
	Variant       string          `json:"variant,omitempty"`
	StoreDir      string          `json:"storeDir,omitempty"` // absent in older scripts: closure.DefaultStoreDir
	Config        json.RawMessage `json:"config"`
	MTime         int64           `json:"mtime"`
	Owner         layer.Owner     `json:"owner"`
	Base          *archive.Base   `json:"base,omitempty"`
	StoreLayers   []StoreLayer    `json:"storeLayers"`
	Customisation struct {
		DiffID string `json:"diffID"`
		Size   int64  `json:"size"`
	} `json:"customisation"`
}

// Script is a parsed stream script: its Conf, and where the customisation
// layer's bytes are in the file.
type Script struct {
	Path   string
	Conf   Conf
	offset int64
}

// writeScript writes the stream script: a shebang that runs the builder's
// `stream` subcommand on the script itself, the Conf as one JSON line, then
// the customisation layer tar.
func writeScript(w io.Writer, builder string, conf *Conf, custom io.Reader) error {
	j, err := json.Marshal(conf)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "#!%s stream\n%s\n", builder, j); err != nil {
		return err
	}
	n, err := io.Copy(w, custom)
	if err != nil {
		return err
	}
	if n != conf.Customisation.Size {
		return fmt.Errorf("customisation layer: wrote %d bytes, expected %d", n, conf.Customisation.Size)
	}
	return nil
}

// ReadScript parses a stream script written by this program.
func ReadScript(path string) (*Script, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	shebang, err := br.ReadBytes('\n')
	if err != nil || !bytes.HasPrefix(shebang, []byte("#!")) {
		return nil, fmt.Errorf("%s is not a stream script of streamLayeredImage", path)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("%s: truncated stream script", path)
	}
	s := &Script{Path: path, offset: int64(len(shebang) + len(line))}
	if err := json.Unmarshal(line, &s.Conf); err != nil {
		return nil, fmt.Errorf("%s: reading the stream configuration: %w", path, err)
	}
	if s.Conf.Version != scriptVersion {
		return nil, fmt.Errorf("%s: stream script version %d, this program reads version %d", path, s.Conf.Version, scriptVersion)
	}
	if s.Conf.StoreDir == "" {
		s.Conf.StoreDir = closure.DefaultStoreDir
	}
	return s, nil
}

// customisation returns the customisation layer's bytes.
func (s *Script) customisation() (io.ReadCloser, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, s.offset, s.Conf.Customisation.Size), f}, nil
}
