package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exportImage: the image's filesystem as one uncompressed tar that
// `docker image import` turns back into a runnable image.
func TestExportImage(t *testing.T) {
	img := image(t, "hello-export")
	if !strings.HasSuffix(img, "-hello") {
		t.Errorf("output %s is not named hello", img)
	}
	hello := storePath(t, "pkgs.hello")
	listing := must(t, "tar", "--utc", "-tvf", img)
	lines := strings.Split(listing, "\n")
	for _, want := range []string{
		"drwxr-xr-x root/root 0 1980-01-01 00:00 ./",
		"lrwxrwxrwx root/root 0 1980-01-01 00:00 ./bin/hello -> " + hello + "/bin/hello",
		"dr-xr-xr-x root/root 0 1980-01-01 00:00 ." + hello + "/",
	} {
		found := false
		for _, l := range lines {
			if strings.Join(strings.Fields(l), " ") == want {
				found = true
			}
		}
		if !found {
			t.Errorf("no %q in the export:\n%s", want, tail(listing, 30))
		}
	}
	if !strings.HasPrefix(lines[0], "drwxr-xr-x") || !strings.HasSuffix(lines[0], " ./") {
		t.Errorf("the first entry is not ./: %s", lines[0])
	}

	id := strings.TrimSpace(docker(t, "image", "import", img, "exported-hello:latest"))
	if got := docker(t, "run", "--rm", "--network=none", "exported-hello:latest", "/bin/hello"); strings.TrimSpace(got) != greeting {
		t.Errorf("docker import %s: /bin/hello printed %q", id, got)
	}
	podman(t, "import", img, "exported-hello:latest")
	if got := podman(t, "run", "--rm", "--network=none", "localhost/exported-hello:latest", "/bin/hello"); strings.TrimSpace(got) != greeting {
		t.Errorf("podman import: /bin/hello printed %q", got)
	}

	// Without a name, the name of fromImage, although the tar is not gzipped.
	unnamed := image(t, "hello-export-unnamed")
	if !strings.HasSuffix(unnamed, "-hello.tar.gz") || compression(t, unnamed) != "none" {
		t.Errorf("%s: compression %s", unnamed, compression(t, unnamed))
	}
}

// Layers apply in order: the base's files and the new layer's both there.
func TestExportImageLayers(t *testing.T) {
	need(t)
	out := nixBuild(t, `dockerTools.exportImage { fromImage = images.image-on-base; }`)
	if !strings.HasSuffix(out, "-docker-image-image-on-base.tar.gz") {
		t.Errorf("name %s", out)
	}
	listing := must(t, "tar", "-tf", out)
	for _, want := range []string{"./etc/base-file\n", "./bin/hello\n", "./bin/sh\n", "./nix/store/"} {
		if !strings.Contains(listing, want) {
			t.Errorf("no %s in the export", strings.TrimSpace(want))
		}
	}
	body := must(t, "tar", "-xOf", out, "./etc/base-file")
	if body != "from-base\n" {
		t.Errorf("etc/base-file = %q", body)
	}
}

// A path as fromImage needs a name; with one, it works.
func TestExportImagePath(t *testing.T) {
	need(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "image.tar.gz")
	b, err := os.ReadFile(image(t, "hello-layered"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, b, 0o644)
	r := execute(nil, "nix-instantiate", "--arg", "builder", h.builder, "-E", fixturesExpr(fmt.Sprintf(`dockerTools.exportImage { fromImage = %s; }`, p)))
	if r.err == nil || !strings.Contains(r.stderr, "`name` is required when `fromImage` is a path") {
		t.Errorf("no name: %v\n%s", r.err, r.stderr)
	}
	out := nixBuild(t, fmt.Sprintf(`dockerTools.exportImage { name = "filesystem.tar"; fromImage = %s; }`, p))
	if !strings.HasSuffix(out, "-filesystem.tar") || !strings.Contains(must(t, "tar", "-tf", out), "./bin/hello\n") {
		t.Errorf("export of a path: %s", out)
	}
}
