package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/archive"
)

// unpackImage extracts an image's layers, in order, into a directory: the
// container's filesystem (the fixtures have no whiteouts).
func unpackImage(t *testing.T, img string) string {
	t.Helper()
	dir := t.TempDir()
	arch := filepath.Join(dir, "archive")
	root := filepath.Join(dir, "root")
	os.Mkdir(arch, 0o755)
	os.Mkdir(root, 0o755)
	must(t, "tar", "-xf", uncompressed(t, img), "-C", arch)
	b, err := os.ReadFile(filepath.Join(arch, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m []archive.ManifestEntry
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
		t.Fatalf("manifest.json: %v %s", err, b)
	}
	for _, l := range m[0].Layers {
		must(t, "tar", "-xf", filepath.Join(arch, l), "-C", root)
	}
	return root
}

type pathInfo struct {
	Path       string   `json:"path"`
	NarHash    string   `json:"narHash"`
	NarSize    uint64   `json:"narSize"`
	References []string `json:"references"`
}

func pathInfos(t *testing.T, args ...string) []pathInfo {
	t.Helper()
	var infos []pathInfo
	out := must(t, "nix", append([]string{"--extra-experimental-features", "nix-command", "path-info", "--json", "-r"}, args...)...)
	if err := json.Unmarshal([]byte(out), &infos); err != nil {
		t.Fatalf("nix path-info: %v\n%s", err, out)
	}
	slices.SortFunc(infos, func(a, b pathInfo) int { return strings.Compare(a.Path, b.Path) })
	return infos
}

// includeNixDB: Debian's Nix, pointed at the image's filesystem, finds
// every path of the closure registered as the host has it, verifies their
// contents, and finds the GC roots.
func TestNixDB(t *testing.T) {
	hello := image(t, "hello")
	want := pathInfos(t, hello)
	for _, tc := range []struct{ attr, root string }{
		{"nixdb-image", "hello-root"},
		{"nixdb-layered", "hello-2.12.1"},
		{"nixdb-stream", "hello-2.12.1"},
	} {
		t.Run(tc.attr, func(t *testing.T) {
			img := image(t, tc.attr)
			if tc.attr == "nixdb-stream" {
				img, _ = stream(t, img)
			}
			root := unpackImage(t, img)
			store := "local?root=" + root
			got := strings.Fields(must(t, "nix-store", "--store", store, "-qR", hello))
			if len(got) != 5 {
				t.Errorf("nix-store -qR in the image: %v", got)
			}
			r := execute(nil, "nix-store", "--store", store, "--verify", "--check-contents")
			if r.err != nil || strings.Contains(r.stderr, "was modified") || strings.Contains(r.stderr, "hash mismatch") {
				t.Errorf("nix-store --verify --check-contents: %v\n%s", r.err, r.stderr)
			}
			if infos := pathInfos(t, "--store", store, hello); !slices.EqualFunc(infos, want, func(a, b pathInfo) bool {
				return a.Path == b.Path && a.NarHash == b.NarHash && a.NarSize == b.NarSize && slices.Equal(a.References, b.References)
			}) {
				t.Errorf("nix path-info in the image:\n%+v\nhost:\n%+v", infos, want)
			}
			roots, _ := filepath.Glob(filepath.Join(root, "nix/var/nix/gcroots/docker/*"))
			if len(roots) != 1 || !strings.HasSuffix(roots[0], "-"+tc.root) {
				t.Errorf("GC roots %v, want one for %s", roots, tc.root)
			}
			schema, _ := os.ReadFile(filepath.Join(root, "nix/var/nix/db/schema"))
			if string(schema) != "10" {
				t.Errorf("schema file %q", schema)
			}
		})
	}
	// The database is in a running container too, where hello still runs.
	sh := storePath(t, "pkgs.glibc") + "/bin/sh"
	runBoth(t, image(t, "nixdb-layered"), "/nix/var/nix/db/db.sqlite /nix/var/nix/db/schema\n"+greeting, sh, "-c", "echo /nix/var/nix/db/*; hello")
}
