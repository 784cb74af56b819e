package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// image is the benchmark's image: its stream script, and the attributes
// the builder gets for each derivation.
type image struct {
	work, builder, script string
	streamAttrs           map[string]any
}

func prepareImage(repo, work, builder string, c *corpus) (*image, error) {
	spec := os.Getenv("BENCH_CORPUS")
	nixArgs := []string{"bench/image.nix", "--arg", "builder", builder, "--arg", "corpus", spec}
	progress("building the stream script with Nix")
	script, err := output(exec.Command("nix-build", append(nixArgs, "-A", "stream", "--no-out-link")...))
	if err != nil {
		return nil, err
	}
	drv, err := output(exec.Command("nix-instantiate", append(nixArgs, "-A", "stream")...))
	if err != nil {
		return nil, err
	}
	drv = strings.TrimSpace(drv)
	show, err := output(exec.Command("nix", "show-derivation", drv))
	if err != nil {
		return nil, err
	}
	var drvs map[string]struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal([]byte(show), &drvs); err != nil {
		return nil, err
	}
	var attrs map[string]any
	if err := json.Unmarshal([]byte(drvs[drv].Env["__json"]), &attrs); err != nil {
		return nil, fmt.Errorf("structured attrs of %s: %w", drv, err)
	}
	// What Nix adds to .attrs.json: the output paths and the exported graph.
	root, _ := attrs["closureRoot"].(string)
	info, err := output(exec.Command("nix", "path-info", "--json", "-r", root))
	if err != nil {
		return nil, err
	}
	var closure []map[string]any
	if err := json.Unmarshal([]byte(info), &closure); err != nil {
		return nil, err
	}
	attrs["closure"] = closure
	delete(attrs, "exportReferencesGraph")
	return &image{work: work, builder: builder, script: strings.TrimSpace(script), streamAttrs: attrs}, nil
}

// builderRun prepares a run of the builder as Nix would start it.
func (im *image) builderRun(command string, attrs map[string]any) *exec.Cmd {
	top, err := os.MkdirTemp(im.work, "build-")
	if err != nil {
		panic(err)
	}
	out := filepath.Join(top, "out")
	a := map[string]any{}
	for k, v := range attrs {
		a[k] = v
	}
	a["outputs"] = map[string]string{"out": out}
	j, _ := json.Marshal(a)
	if err := os.WriteFile(filepath.Join(top, ".attrs.json"), j, 0o644); err != nil {
		panic(err)
	}
	cmd := exec.Command(im.builder, command)
	cmd.Env = []string{"NIX_BUILD_TOP=" + top, "NIX_ATTRS_JSON_FILE=" + filepath.Join(top, ".attrs.json"),
		"HOME=/homeless-shelter", "PATH=/path-not-set", "TMPDIR=" + top}
	cmd.Dir = top
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	return cmd
}

func (im *image) buildStream() *exec.Cmd { return im.builderRun("build-stream", im.streamAttrs) }

func (im *image) streamToNull() *exec.Cmd {
	cmd := exec.Command(im.script)
	cmd.Stderr = io.Discard
	return cmd // stdout is nil: /dev/null
}

func (im *image) buildLayered(compressor string) func() *exec.Cmd {
	return func() *exec.Cmd {
		return im.builderRun("build-layered", map[string]any{"stream": im.script, "compressor": compressor})
	}
}

// check makes sure what is measured is right: the builder run outside Nix
// writes the same script Nix built, and the gz image holds the same bytes
// as the stream.
func (im *image) check() error {
	progress("checking the builder outside Nix against the Nix build")
	cmd := im.buildStream()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build-stream: %v\n%s", err, stderr.String())
	}
	if a, b := fileHash(filepath.Join(cmd.Dir, "out")), fileHash(im.script); a != b {
		return fmt.Errorf("the stream script built outside Nix differs from Nix's")
	}
	os.RemoveAll(cmd.Dir)
	cmd = im.buildLayered("gz")()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build-layered: %v", err)
	}
	f, err := os.Open(filepath.Join(cmd.Dir, "out"))
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return err
	}
	s := exec.Command(im.script)
	hs := sha256.New()
	s.Stdout = hs
	if err := s.Run(); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), hs.Sum(nil)) {
		return fmt.Errorf("the gz image does not hold the streamed image")
	}
	os.RemoveAll(cmd.Dir)
	return nil
}

func fileHash(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "missing: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))
}
