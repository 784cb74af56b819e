package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The store layers of a real Nix-built image have the diff_ids that
// nixpkgs' writer (CPython's tarfile, as layer/testdata/pytar.py drives it)
// gives for the same store paths, so images share layers with nixpkgs' own.
func TestStoreLayersMatchCPython(t *testing.T) {
	need(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed for the reference writer")
	}
	for _, attr := range []string{"exploring", "few-layers"} {
		t.Run(attr, func(t *testing.T) {
			img, log := stream(t, image(t, attr))
			c := skopeoConfig(t, img)
			layerRe := regexp.MustCompile(`Creating layer (\d+) from paths: \[(.*)\]`)
			matches := layerRe.FindAllStringSubmatch(log, -1)
			if len(matches) == 0 {
				t.Fatalf("no store layers in:\n%s", log)
			}
			for i, m := range matches {
				var paths []string
				if err := json.Unmarshal([]byte("["+strings.ReplaceAll(m[2], "'", `"`)+"]"), &paths); err != nil {
					t.Fatal(err)
				}
				ref := filepath.Join(t.TempDir(), "ref.tar")
				args := append([]string{filepath.Join(h.repo, "layer", "testdata", "pytar.py"), "store", ref, "1", "0", "0", "root", "root"}, paths...)
				must(t, "python3", args...)
				data, err := os.ReadFile(ref)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				if want := "sha256:" + hex.EncodeToString(sum[:]); c.RootFS.DiffIDs[i] != want {
					t.Errorf("layer %s %v: diff_id %s, CPython's tarfile gives %s", m[1], paths, c.RootFS.DiffIDs[i], want)
				}
			}
		})
	}
}
