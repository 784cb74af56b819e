package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/nixattrs"
)

// The variant goes into the image config right after the architecture,
// and only when there is one.
func TestBuildVariant(t *testing.T) {
	for _, tc := range []struct {
		name    string
		variant any // the attribute; nil: null
		want    string
	}{
		{"v8", "v8", `"architecture":"arm64","variant":"v8","os":"linux"`},
		{"empty", "", `"architecture":"arm64","os":"linux"`},
		{"null", nil, `"architecture":"arm64","os":"linux"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := json.Marshal(map[string]any{"imageName": "x", "imageTag": "1", "architecture": "arm64",
				"variant": tc.variant, "compressor": "none"})
			if err != nil {
				t.Fatal(err)
			}
			a, err := nixattrs.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			o, err := OptionsFromAttrs(a)
			if err != nil {
				t.Fatal(err)
			}
			o.WorkDir = dir
			out := filepath.Join(dir, "image.tar")
			if err := Build(o, out, io.Discard); err != nil {
				t.Fatal(err)
			}
			cfg := imageConfig(t, out)
			if !strings.Contains(cfg, tc.want) {
				t.Errorf("config %s\nlacks %s", cfg, tc.want)
			}
		})
	}
}

// imageConfig returns the config of the only image of a docker-archive.
func imageConfig(t *testing.T, archivePath string) string {
	t.Helper()
	f, err := os.Open(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	members := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, ".json") {
			if members[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	var manifest []struct{ Config string }
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	return string(members[manifest[0].Config])
}
