package pull

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/archive"
)

var update = flag.Bool("update", false, "record skopeo's archives' hashes in testdata/skopeo-archives.json (needs skopeo)")

const goldenFile = "testdata/skopeo-archives.json"

type member struct {
	tar.Header
	data []byte
}

// members lists an archive's members with their bytes.
func members(t *testing.T, b []byte) []member {
	t.Helper()
	var ms []member
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return ms
		}
		if err != nil {
			t.Fatalf("reading the archive: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		ms = append(ms, member{*h, data})
	}
}

// firstDifference says where two archives part, for a readable failure.
func firstDifference(t *testing.T, got, want []byte) string {
	g, w := members(t, got), members(t, want)
	for i := range min(len(g), len(w)) {
		a, b := g[i], w[i]
		a.Header.PAXRecords, b.Header.PAXRecords = nil, nil
		if fmt.Sprint(a.Header) != fmt.Sprint(b.Header) {
			return fmt.Sprintf("member %d: header\n%+v\nwant\n%+v", i, a.Header, b.Header)
		}
		if !bytes.Equal(a.data, b.data) {
			return fmt.Sprintf("member %d (%s): content\n%.400q\nwant\n%.400q", i, a.Name, a.data, b.data)
		}
	}
	if len(g) != len(w) {
		return fmt.Sprintf("%d members, want %d", len(g), len(w))
	}
	return fmt.Sprintf("same members, different bytes (%d vs %d): padding or end blocks", len(got), len(want))
}

// skopeoCopy runs skopeo as nixpkgs' pullImage does and returns the
// archive; platform is --override-arch's value, and --override-variant's
// after a "/".
func skopeoCopy(t *testing.T, image, platform, finalName, finalTag string) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "image.tar")
	args := []string{"--insecure-policy", "--tmpdir=" + dir, "--override-os", "linux"}
	arch, variant, _ := strings.Cut(platform, "/")
	args = append(args, "--override-arch", arch)
	if variant != "" {
		args = append(args, "--override-variant", variant)
	}
	args = append(args, "copy", "--src-tls-verify=false", "docker://"+image, "docker-archive://"+out+":"+finalName+":"+finalTag)
	cmd := exec.Command("skopeo", args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("skopeo copy %s: %v\n%s", image, err, msg)
	}
	return os.ReadFile(out)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readGolden(t *testing.T) map[string]string {
	t.Helper()
	g := map[string]string{}
	b, err := os.ReadFile(goldenFile)
	if err != nil && !*update {
		t.Fatalf("%v (record it with go test ./pull -run TestSkopeoArchive -update)", err)
	}
	if err == nil {
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s: %v", goldenFile, err)
		}
	}
	return g
}

func writeGolden(t *testing.T, g map[string]string) {
	t.Helper()
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// oddConfig has what the legacy json of the top layer copies and
// encoding/json rewrites: indentation, the keys of old Docker configs, a
// null, and characters it escapes (<, >, &, U+2028) or keeps (é).
func oddConfig(diffIDs []string) []byte {
	ids, _ := json.Marshal(diffIDs)
	return []byte(`{
  "architecture": "amd64",
  "os": "linux",
  "created": "2024-05-06T07:08:09.123456789Z",
  "docker_version": "24.0.7",
  "container": "0123abcd",
  "container_config": null,
  "config": {
    "Env": [ "A=<b> & c", "B=caf` + "\u00e9" + `\u2028" ],
    "Cmd": [ "/bin/sh", "-c", "echo   spaced" ],
    "Labels": { "z": "1", "a": "2" }
  },
  "history": [ { "created_by": "x" } ],
  "rootfs": { "type": "layers", "diff_ids": ` + string(ids) + ` }
}`)
}

// archiveCase is an image pushed to a registry and pulled as nixpkgs would.
type archiveCase struct {
	name             string
	images           []spec // more than one: an index of them
	arch             string // default amd64
	finalName, final string // default final/name, v1
}

var archiveCases = []archiveCase{
	{name: "one gzip layer", images: []spec{{comp: []string{"gzip"}}}},
	{name: "thirty layers", images: []spec{{comp: slices.Repeat([]string{"gzip"}, 30)}}},
	{name: "a repeated layer", images: []spec{{comp: []string{"gzip", "gzip"}, repeat: 1}}},
	{name: "uncompressed and gzip", images: []spec{{comp: []string{"none", "gzip"}}}},
	{name: "OCI manifest", images: []spec{{comp: []string{"gzip", "none"}, oci: true}}},
	{name: "zstd bytes in a gzip-typed layer", images: []spec{{comp: []string{"zstd-as-gzip", "gzip"}}}},
	{name: "no layers", images: []spec{{}}},
	{name: "a config encoding/json rewrites", images: []spec{{comp: []string{"gzip", "gzip"}, rawConfig: oddConfig}}},
	{name: "library name", images: []spec{{comp: []string{"gzip"}}}, finalName: "alpine", final: "3.20"},
	{name: "registry name", images: []spec{{comp: []string{"gzip"}}}, finalName: "registry.example:5000/team/app", final: "v1.2-rc_3"},
	{name: "index.docker.io", images: []spec{{comp: []string{"gzip"}}}, finalName: "index.docker.io/nixos/nix", final: "2.24"},
	{name: "index, amd64", images: []spec{{comp: []string{"gzip"}}, {arch: "arm64", comp: []string{"gzip", "gzip"}}}},
	{name: "index, arm64", images: []spec{{comp: []string{"gzip"}}, {arch: "arm64", comp: []string{"gzip", "gzip"}}}, arch: "arm64"},
}

// push stores the case's image (or index) and returns its name@digest.
func (c archiveCase) push(t *testing.T, host, repo string) string {
	t.Helper()
	var ims []*img
	for i, s := range c.images {
		s.os, s.seed = "linux", fmt.Sprintf("%s %d", c.name, i)
		if s.arch == "" {
			s.arch = "amd64"
		}
		im := build(t, s)
		push(t, host, repo, im, "")
		ims = append(ims, im)
	}
	digest := ims[0].digest
	if len(ims) > 1 {
		idx := index(t, host, repo, ims...)
		putManifest(t, host, repo, idx, "")
		digest = archive.Digest(idx)
	}
	return host + "/" + repo + "@" + digest
}

func (c archiveCase) names() (arch, name, tag string) {
	arch, name, tag = c.arch, c.finalName, c.final
	if arch == "" {
		arch = "amd64"
	}
	if name == "" {
		name, tag = "final/name", "v1"
	}
	return arch, name, tag
}

// pullRef pulls name@digest with Pull.
func pullRef(t *testing.T, ref, arch, finalName, finalTag string) []byte {
	t.Helper()
	at := strings.LastIndexByte(ref, '@')
	got, _, err := pull(t, Options{ImageName: ref[:at], ImageDigest: ref[at+1:], OS: "linux", Arch: arch, FinalName: finalName, FinalTag: finalTag})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Pull writes the bytes skopeo writes, for every shape of image: checked
// against skopeo itself when it is installed, and always against the
// hashes of its archives recorded in testdata (-update records them).
func TestSkopeoArchive(t *testing.T) {
	isolate(t)
	_, lookErr := exec.LookPath("skopeo")
	if *update && lookErr != nil {
		t.Fatal("-update needs skopeo")
	}
	golden := readGolden(t)
	s := newServer(t, false)
	for i, c := range archiveCases {
		t.Run(c.name, func(t *testing.T) {
			ref := c.push(t, s.host, fmt.Sprintf("case%d", i))
			arch, name, tag := c.names()
			got := pullRef(t, ref, arch, name, tag)
			if lookErr == nil {
				want, err := skopeoCopy(t, ref, arch, name, tag)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("not skopeo's archive: %s", firstDifference(t, got, want))
				}
			}
			if *update {
				golden[c.name] = sha256Hex(got)
				return
			}
			if w, ok := golden[c.name]; !ok || sha256Hex(got) != w {
				t.Errorf("archive sha256 %s, skopeo's recorded in %s is %q", sha256Hex(got), goldenFile, w)
			}
		})
	}
	if *update {
		writeGolden(t, golden)
	}
}

// skopeo 1.9.3 cannot write an OCI image with zstd layers to a
// docker-archive (it converts the manifest to Docker's format first, which
// has no zstd); newer skopeo can. Pull writes what newer skopeo writes for
// it, which is what both write for the same image with gzip layers.
func TestSkopeoZstd(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	zstdImage := build(t, spec{os: "linux", arch: "amd64", comp: []string{"zstd", "zstd"}, seed: "zstd"})
	gzipTwin := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip"}, seed: "zstd", oci: true})
	if !bytes.Equal(zstdImage.config, gzipTwin.config) {
		t.Fatal("test setup: the two images should share their config")
	}
	push(t, s.host, "zstd", zstdImage, "")
	push(t, s.host, "gzip", gzipTwin, "")
	got := pullRef(t, s.host+"/zstd@"+zstdImage.digest, "amd64", "final/name", "v1")
	if !bytes.Equal(got, pullRef(t, s.host+"/gzip@"+gzipTwin.digest, "amd64", "final/name", "v1")) {
		t.Fatal("the zstd image's archive differs from its gzip twin's")
	}
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed")
	}
	want, err := skopeoCopy(t, s.host+"/zstd@"+zstdImage.digest, "amd64", "final/name", "v1")
	if err != nil {
		if !strings.Contains(err.Error(), "zstd compression is not supported") {
			t.Fatal(err)
		}
		t.Logf("this skopeo refuses zstd layers; comparing with its archive of the gzip twin")
		if want, err = skopeoCopy(t, s.host+"/gzip@"+gzipTwin.digest, "amd64", "final/name", "v1"); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("not skopeo's archive: %s", firstDifference(t, got, want))
	}
}
