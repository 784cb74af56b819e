package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/archive"
)

// uncompressed returns an uncompressed copy of an image archive (skopeo and
// podman want one), or the path itself when it is not compressed.
func uncompressed(t *testing.T, p string) string {
	t.Helper()
	c := compression(t, p)
	if c == archive.None {
		return p
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := archive.Decompress(bufio.NewReader(f), c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := filepath.Join(t.TempDir(), "image.tar")
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, r); err != nil {
		t.Fatalf("decompressing %s: %v", p, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// stream runs a stream script, saving the image, and returns its path and
// what the script said on stderr.
func stream(t *testing.T, script string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "stream.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stderr strings.Builder
	cmd := exec.Command(script)
	cmd.Stdout, cmd.Stderr = f, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return out, stderr.String()
}

// loaded is the name Docker reports after `docker load`.
func loadedRef(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if ref, ok := strings.CutPrefix(l, "Loaded image: "); ok {
			return strings.TrimSpace(ref)
		}
	}
	t.Fatalf("no 'Loaded image:' in %q", out)
	return ""
}

// loadDocker loads an archive into the run's Docker daemon. Docker before
// 23 cannot load zstd archives (Debian 12 has 20.10): those are decompressed
// first, as the README tells users of such a Docker to do.
func loadDocker(t *testing.T, p string) string {
	t.Helper()
	if compression(t, p) == archive.Zstd && dockerMajor(t) < 23 {
		p = uncompressed(t, p)
	}
	return loadedRef(t, docker(t, "load", "-i", p))
}

func dockerMajor(t *testing.T) int {
	v := strings.TrimSpace(docker(t, "version", "-f", "{{.Server.Version}}"))
	var major int
	fmt.Sscanf(v, "%d", &major)
	return major
}

// loadPodman loads an archive into podman: zstd and uncompressed archives
// as they are, gzipped ones decompressed (podman load takes no gzip).
func loadPodman(t *testing.T, p string) string {
	t.Helper()
	if compression(t, p) == archive.Gzip {
		p = uncompressed(t, p)
	}
	return loadedRef(t, podman(t, "load", "-i", p))
}

func compression(t *testing.T, p string) archive.Compression {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return archive.Detect(head[:n])
}

// engine is one of the run's container engines, for tests that need more
// than runBoth: stdin, other run options, the failure itself.
type engine struct {
	name string
	load func(*testing.T, string) string // the image's reference once loaded
	argv []string                        // the command line before the subcommand
}

func engines() []engine {
	return []engine{
		{"docker", loadDocker, []string{"/usr/bin/docker", "-H", "unix://" + h.docker.sock}},
		{"podman", loadPodman, h.podman},
	}
}

// run runs `run --rm` with args (options, the image, its command), stdin
// as given.
func (e engine) run(stdin []byte, args ...string) result {
	return execute(stdin, e.argv[0], append(append(append([]string{}, e.argv[1:]...), "run", "--rm"), args...)...)
}

// runBoth loads the image into Docker and podman, runs cmd in each and
// checks that both print want.
func runBoth(t *testing.T, p string, want string, cmd ...string) {
	t.Helper()
	ref := loadDocker(t, p)
	got := docker(t, append([]string{"run", "--rm", "--network=none", ref}, cmd...)...)
	if strings.TrimSpace(got) != want {
		t.Errorf("docker run %s %v printed %q, want %q", ref, cmd, got, want)
	}
	pref := loadPodman(t, p)
	got = podman(t, append([]string{"run", "--rm", "--network=none", pref}, cmd...)...)
	if strings.TrimSpace(got) != want {
		t.Errorf("podman run %s %v printed %q, want %q", pref, cmd, got, want)
	}
}

// runNamed checks that a fixture's output is named ...suffix, then runs it
// in both engines as runBoth does.
func runNamed(t *testing.T, attr, suffix, want string) {
	t.Helper()
	img := image(t, attr)
	if !strings.HasSuffix(img, suffix) {
		t.Errorf("%s does not end in %s", img, suffix)
	}
	runBoth(t, img, want)
}

// skopeoConfig is the image config as skopeo reads it.
func skopeoConfig(t *testing.T, p string) archive.Config {
	t.Helper()
	var c archive.Config
	out := must(t, "skopeo", "inspect", "--config", "docker-archive:"+uncompressed(t, p))
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("skopeo config: %v\n%s", err, out)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, c.Config); err != nil {
		t.Fatal(err)
	}
	c.Config = compact.Bytes()
	return c
}

// skopeoLayers is the number of layers skopeo sees.
func skopeoLayers(t *testing.T, p string) int {
	t.Helper()
	var i struct{ Layers []string }
	out := must(t, "skopeo", "inspect", "docker-archive:"+uncompressed(t, p))
	if err := json.Unmarshal([]byte(out), &i); err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	return len(i.Layers)
}

// exportFiles lists the files of an image's filesystem as Docker exports it.
func exportFiles(t *testing.T, ref string) map[string]bool {
	t.Helper()
	id := strings.TrimSpace(docker(t, "create", ref, "/none"))
	defer docker(t, "rm", id)
	tarPath := filepath.Join(t.TempDir(), "export.tar")
	docker(t, "export", "-o", tarPath, id)
	files := map[string]bool{}
	for _, l := range strings.Split(must(t, "tar", "-tf", tarPath), "\n") {
		if l = strings.TrimSuffix(strings.TrimPrefix(l, "./"), "/"); l != "" {
			files[l] = true
		}
	}
	return files
}
