package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// rawManifest lets go-containerregistry push manifest bytes as they are.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.b, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// layerTar is a small layer: one file whose content says which layer it is.
func layerTar(t *testing.T, id string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	body := strings.Repeat(id+"\n", 200)
	if err := tw.WriteHeader(&tar.Header{Name: "layers/" + id, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// blobOf compresses a layer as a registry would store it: "gzip", "zstd"
// or "none".
func blobOf(t *testing.T, layer []byte, how string) []byte {
	t.Helper()
	var b bytes.Buffer
	switch how {
	case "gzip":
		zw := gzip.NewWriter(&b)
		zw.Write(layer)
		zw.Close()
	case "zstd":
		zw, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(layer)
		zw.Close()
	default:
		return layer
	}
	return b.Bytes()
}

var layerTypes = map[bool]map[string]types.MediaType{
	false: {"gzip": types.DockerLayer, "none": types.DockerUncompressedLayer},
	true:  {"gzip": types.OCILayer, "none": types.OCIUncompressedLayer, "zstd": types.OCILayerZStd},
}

// shape is an image as pushed: its layers (by content id, each with its
// compression), the manifest format and the platform.
type shape struct {
	layers []string // "id:compression"; the same id twice is the same layer
	oci    bool
	arch   string
}

// pushShape pushes the image and returns its manifest's digest and size.
func (r *registry) pushShape(t *testing.T, repoName string, s shape) (string, int) {
	t.Helper()
	repo, err := name.NewRepository(r.addr+"/"+repoName, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var diffIDs []string
	var descs []map[string]any
	for _, l := range s.layers {
		id, how, _ := strings.Cut(l, ":")
		layer := layerTar(t, id)
		blob := blobOf(t, layer, how)
		if err := remote.WriteLayer(repo, static.NewLayer(blob, types.OCILayer)); err != nil {
			t.Fatal(err)
		}
		diffIDs = append(diffIDs, digestOf(layer))
		descs = append(descs, map[string]any{"mediaType": layerTypes[s.oci][how], "size": len(blob), "digest": digestOf(blob)})
	}
	config, _ := json.Marshal(map[string]any{"architecture": s.arch, "os": "linux",
		"config": map[string]any{"Env": []string{"PATH=/bin"}, "Labels": map[string]string{"escaped": "<&>"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	if err := remote.WriteLayer(repo, static.NewLayer(config, types.OCILayer)); err != nil {
		t.Fatal(err)
	}
	mt, cmt := types.DockerManifestSchema2, types.DockerConfigJSON
	if s.oci {
		mt, cmt = types.OCIManifestSchema1, types.OCIConfigJSON
	}
	m, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mt,
		"config": map[string]any{"mediaType": cmt, "size": len(config), "digest": digestOf(config)}, "layers": descs})
	if err := remote.Put(repo.Digest(digestOf(m)), rawManifest{m, mt}); err != nil {
		t.Fatal(err)
	}
	return digestOf(m), len(m)
}

// skopeoArchive runs skopeo as nixpkgs' pullImage does and returns the
// archive's path.
func skopeoArchive(t *testing.T, image, arch, finalName, finalTag string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "image.tar")
	r := execute(nil, "skopeo", "--insecure-policy", "--tmpdir="+dir, "--override-os", "linux", "--override-arch", arch,
		"copy", "--src-tls-verify=false", "docker://"+image, "docker-archive://"+out+":"+finalName+":"+finalTag)
	if r.err != nil {
		return "", fmt.Errorf("skopeo copy %s: %v\n%s", image, r.err, r.stderr)
	}
	return out, nil
}

func sriOf(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(s[:])
}

func nixHashFile(t *testing.T, file string) string {
	t.Helper()
	return strings.TrimSpace(must(t, "nix", "hash", "file", "--type", "sha256", file))
}

// compatCase is an image in one shape, pulled for arch; twin, when set, is
// the image skopeo copies in its stead if it cannot copy the image.
type compatCase struct {
	name  string
	image func(t *testing.T, r *registry) (ref string)
	arch  string
	twin  func(t *testing.T, r *registry) (ref string)
}

func single(repoName string, s shape) func(*testing.T, *registry) string {
	return func(t *testing.T, r *registry) string {
		d, _ := r.pushShape(t, repoName, s)
		return r.addr + "/" + repoName + "@" + d
	}
}

// twoPlatforms is a manifest list of an amd64 and an arm64 image.
func twoPlatforms(t *testing.T, r *registry) string {
	amd, _ := r.pushShape(t, "compat-multi", shape{layers: []string{"multi-a:gzip"}, arch: "amd64"})
	arm, _ := r.pushShape(t, "compat-multi", shape{layers: []string{"multi-b:gzip", "multi-c:gzip"}, arch: "arm64"})
	return r.addr + "/compat-multi@" + r.putIndex(t, "compat-multi", "multi", map[string]string{amd: "amd64", arm: "arm64"})
}

// slug makes a test's name a repository path component.
func slug(s string) string {
	return strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(s), "-"), "-")
}

func thirty() []string {
	var ls []string
	for i := range 30 {
		ls = append(ls, fmt.Sprintf("thirty-%d:gzip", i))
	}
	return ls
}

var compatCases = []compatCase{
	{name: "one layer", image: single("compat-one", shape{layers: []string{"one:gzip"}, arch: "amd64"})},
	{name: "thirty layers", image: single("compat-thirty", shape{layers: thirty(), arch: "amd64"})},
	{name: "a repeated layer", image: single("compat-repeat", shape{layers: []string{"rep-a:gzip", "rep-b:gzip", "rep-a:gzip"}, arch: "amd64"})},
	{name: "OCI manifest", image: single("compat-oci", shape{layers: []string{"oci-a:gzip", "oci-b:none"}, oci: true, arch: "amd64"})},
	{name: "index, amd64", image: twoPlatforms},
	{name: "index, arm64", image: twoPlatforms, arch: "arm64"},
	// skopeo 1.9.3 refuses OCI zstd layers for a docker-archive, newer
	// skopeo takes them; pullImage writes what newer skopeo writes, which is
	// what both write for the same image with gzip layers.
	{name: "zstd layers", image: single("compat-zstd", shape{layers: []string{"z-a:zstd", "z-b:zstd"}, oci: true, arch: "amd64"}),
		twin: single("compat-zstd-twin", shape{layers: []string{"z-a:gzip", "z-b:gzip"}, oci: true, arch: "amd64"})},
}

// pullImage writes the bytes nixpkgs' pullImage (skopeo) writes, so a hash
// pinned with nixpkgs builds; nix-prefetch-docker prints that hash, and an
// expression written with it builds.
func TestPullImageSkopeoBytes(t *testing.T) {
	r := startRegistry(t, "plain", "")
	nonce := make([]byte, 4)
	rand.Read(nonce)
	for _, c := range compatCases {
		t.Run(c.name, func(t *testing.T) {
			arch := c.arch
			if arch == "" {
				arch = "amd64"
			}
			ref := c.image(t, r)
			at := strings.LastIndexByte(ref, '@')
			// A tag of this run: fresh store paths, so Nix really builds.
			finalName, finalTag := "compat/"+slug(c.name), "t"+hex.EncodeToString(nonce)
			want, err := skopeoArchive(t, ref, arch, finalName, finalTag)
			if err != nil && c.twin != nil && strings.Contains(err.Error(), "zstd compression is not supported") {
				want, err = skopeoArchive(t, c.twin(t, r), arch, finalName, finalTag)
			}
			if err != nil {
				t.Fatal(err)
			}
			p := prefetched{ref[:at], ref[at+1:], sriOf(t, want), finalName, finalTag}
			archAttr := fmt.Sprintf("arch = %q;", arch)
			// nixpkgs' hash, in a pullImage of its own name: a real build
			// whose output Nix checks against it.
			out := nixBuild(t, pullExpr(p, archAttr+` name = "skopeo-hash.tar";`))
			if got, w := nixHashFile(t, out), nixHashFile(t, want); got != w {
				t.Fatalf("nix hash file: pullImage %s, skopeo %s", got, w)
			}
			pre, _ := prefetch(t, "--arch", arch, "--image-digest", p.ImageDigest, "--final-image-name", finalName, "--final-image-tag", finalTag, p.ImageName)
			if pre.Hash != p.Hash || pre.ImageDigest != p.ImageDigest {
				t.Fatalf("nix-prefetch-docker printed %+v; skopeo's archive has hash %s", pre, p.Hash)
			}
			// The prefetch put the file in the store under pullImage's
			// usual name; --check pulls again and compares.
			must(t, "nix-build", "--no-out-link", "--check", "--arg", "builder", h.builder, "-E", fixturesExpr(pullExpr(pre, archAttr)))
		})
	}
}
