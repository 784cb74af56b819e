package layered

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/closure"
)

// The NAR sizes nixpkgs' stand-ins get must be the sizes Nix computes.
// The wanted values are worked out by hand (8-byte length, padded bytes for
// every token); where nix-store is installed, it confirms them.
func TestNarSizes(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]int // a single "" key: the path is that file
		want  uint64
	}{
		{"empty file", map[string]int{"": 0}, 112},
		{"5 bytes", map[string]int{"": 5}, 120},
		{"8 bytes", map[string]int{"": 8}, 120},
		{"9 bytes", map[string]int{"": 9}, 128},
		{"a base.json", map[string]int{"": 57}, 176},
		// 24 header + 56 directory + 256 checksum entry + 1192 layer.tar
		// entry (1000 bytes) + 16 closing.
		{"customisation layer, 1000-byte tar", map[string]int{"checksum": 65, "layer.tar": 1000}, 1544},
		{"customisation layer, 10240-byte tar", map[string]int{"checksum": 65, "layer.tar": 10240}, 1544 - 1000 + 10240},
	}
	nixStore, _ := exec.LookPath("nix-store")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got uint64
			if size, ok := tc.files[""]; ok {
				got = fileNarSize(int64(size))
			} else {
				if tc.files["checksum"] != checksumSize {
					t.Fatal("the test's checksum file has the wrong size")
				}
				got = customisationNarSize(int64(tc.files["layer.tar"]))
			}
			if got != tc.want {
				t.Errorf("NAR size %d, want %d", got, tc.want)
			}
			if nixStore == "" {
				return
			}
			p := filepath.Join(t.TempDir(), "obj")
			if size, ok := tc.files[""]; ok {
				mustWrite(t, p, size)
			} else {
				for name, size := range tc.files {
					mustWrite(t, filepath.Join(p, name), size)
				}
			}
			out, err := exec.Command(nixStore, "--dump", p).Output()
			if err != nil {
				t.Fatalf("nix-store --dump: %v", err)
			}
			if uint64(len(out)) != tc.want {
				t.Errorf("nix-store --dump gives %d bytes, the test wants %d", len(out), tc.want)
			}
		})
	}
}

func mustWrite(t *testing.T, p string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBaseJSON(t *testing.T) {
	tests := []struct {
		name, arch, variant string
		config              string
		want                string
	}{
		{"null config", "amd64", "", `null`, `{"architecture":"amd64","config":null,"os":"linux"}`},
		{"absent config", "amd64", "", ``, `{"architecture":"amd64","config":null,"os":"linux"}`},
		{"variant last", "arm", "v7", `{}`, `{"architecture":"arm","config":{},"os":"linux","variant":"v7"}`},
		// Keys sorted at every level, no spaces, no HTML escapes, numbers
		// as written.
		{"nested", "arm64", "", "{\"Env\": [\"A=<&>\"], \"Cmd\": [\"/bin/x\"],\n \"Labels\": {\"z\": \"1\", \"a\": \"2\"}, \"StopTimeout\": 1.50}",
			`{"architecture":"arm64","config":{"Cmd":["/bin/x"],"Env":["A=<&>"],"Labels":{"a":"2","z":"1"},"StopTimeout":1.50},"os":"linux"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := baseJSON(tc.arch, tc.variant, json.RawMessage(tc.config))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("baseJSON = %s\nwant       %s", got, tc.want)
			}
		})
	}
	if _, err := baseJSON("amd64", "", json.RawMessage(`{"a":`)); err == nil || !strings.Contains(err.Error(), `attribute "config"`) {
		t.Errorf("bad config: %v", err)
	}
}

func TestStandIn(t *testing.T) {
	a := standIn("/nix/store", "hello", "-base.json")
	if !strings.HasSuffix(a, "-hello-base.json") || standIn("/nix/store", "hello", "-base.json") != a {
		t.Errorf("standIn = %s: not <hash>-hello-base.json, or not the same twice", a)
	}
	if _, err := closure.Parse([]byte(`[{"path":"` + a + `","references":[]}]`)); err != nil {
		t.Errorf("the stand-in is not a store path: %v", err)
	}
	if b := standIn("/nix/store", "hello", "-customisation-layer"); b[:43] == a[:43] {
		t.Errorf("two stand-ins share a hash: %s, %s", a, b)
	}
}

func TestImageGraphKeepsPathOrder(t *testing.T) {
	paths := []closure.Path{{Path: "/nix/store/b"}, {Path: "/nix/store/d", References: []string{"/nix/store/b"}}}
	g := imageGraph(paths, []storeObject{{"/nix/store/e", 5}, {"/nix/store/a", 7}, {"/nix/store/c", 9}},
		[][]string{nil, {"/nix/store/d", "/nix/store/b", "/nix/store/d"}, {"/nix/store/b"}})
	var order []string
	for _, p := range g {
		order = append(order, p.Path)
	}
	if strings.Join(order, " ") != "/nix/store/a /nix/store/b /nix/store/c /nix/store/d /nix/store/e" {
		t.Errorf("order %v", order)
	}
	if refs := strings.Join(g[0].References, " "); refs != "/nix/store/b /nix/store/d" {
		t.Errorf("references of a: %s, want sorted and without duplicates", refs)
	}
	if g[4].NarSize != 5 || len(paths) != 2 {
		t.Errorf("stand-in size %d, input changed to %d paths", g[4].NarSize, len(paths))
	}
}

func TestBaseName(t *testing.T) {
	for _, tc := range []struct{ drv, image, want string }{
		{"stream-hello", "hello", "hello"},
		{"stream-Hello", "hello", "Hello"},
		{"", "registry.example/team/app", "app"},
		{"stream-", "app", "app"},
	} {
		if got := baseName(tc.drv, tc.image); got != tc.want {
			t.Errorf("baseName(%q, %q) = %q, want %q", tc.drv, tc.image, got, tc.want)
		}
	}
}
