package pull

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nix-dockertools/dockertools/archive"
)

// entry is one image of an index made for a test.
type entry struct {
	platform   string // os/arch[/variant]
	noPlatform bool   // the entry has no platform field
	zstd       bool   // annotated as the zstd copy
}

// pushIndex pushes one small image per entry and an index of them.
func pushIndex(t *testing.T, host, repo string, mt types.MediaType, entries []entry) (string, []*img) {
	t.Helper()
	var ims []*img
	var ms []map[string]any
	for i, e := range entries {
		p := strings.Split(e.platform+"//", "/")
		im := build(t, spec{os: p[0], arch: p[1], variant: p[2], comp: []string{"gzip"}, seed: fmt.Sprintf("%s %d", repo, i)})
		push(t, host, repo, im, "")
		ims = append(ims, im)
		d := map[string]any{"mediaType": mediaType(t, im.manifest), "size": len(im.manifest), "digest": im.digest}
		if !e.noPlatform {
			plat := map[string]any{"os": p[0], "architecture": p[1]}
			if p[2] != "" {
				plat["variant"] = p[2]
			}
			d["platform"] = plat
		}
		if e.zstd {
			d["annotations"] = map[string]string{zstdAnnotation: "true"}
		}
		ms = append(ms, d)
	}
	idx, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mt, "manifests": ms})
	if err != nil {
		t.Fatal(err)
	}
	putManifest(t, host, repo, idx, "")
	return archive.Digest(idx), ims
}

func e(platforms ...string) []entry {
	var es []entry
	for _, p := range platforms {
		es = append(es, entry{platform: p})
	}
	return es
}

// The image picked from an index is the one skopeo picks; where skopeo
// finds none, a close match is taken, else the error lists what there is.
// Cases skopeo 1.9.3 decides (skopeo: true) are checked against it when it
// is installed.
func TestPickPlatform(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	tests := []struct {
		name          string
		list          bool // a Docker manifest list, not an OCI index
		entries       []entry
		arch, variant string
		want          int // entry picked, or -1
		err           string
		skopeo        bool
	}{
		{"arm64 without variant before arm64/v8", false, e("linux/arm64/v8", "linux/arm64"), "arm64", "", 1, "", true},
		{"arm64 takes arm64/v8", true, e("linux/amd64", "linux/arm64/v8"), "arm64", "", 1, "", true},
		{"arm64/v8 takes arm64", false, e("linux/arm64"), "arm64", "v8", 0, "", true},
		{"arm/v7 runs arm/v6", false, e("linux/arm/v5", "linux/arm/v6"), "arm", "v7", 1, "", true},
		{"arm/v7 before arm/v6", true, e("linux/arm/v6", "linux/arm/v7"), "arm", "v7", 1, "", true},
		{"arm/v6 does not run arm/v7", false, e("linux/arm/v7", "linux/arm/v5"), "arm", "v6", 1, "", true},
		{"arm/v7 takes arm", false, e("linux/arm"), "arm", "v7", 0, "", true},
		{"the first of equals", true, e("linux/amd64", "linux/amd64"), "amd64", "", 0, "", true},
		{"amd64 is not amd64/v3", false, e("linux/amd64/v3", "linux/amd64"), "amd64", "", 1, "", true},
		{"another os", false, e("windows/amd64"), "amd64", "", -1, "no linux/amd64 image in index", true},
		{"a list entry without a platform", true, []entry{{platform: "linux/amd64", noPlatform: true}}, "amd64", "", -1, "lists no image with a platform", true},
		// Beyond skopeo 1.9.3:
		{"gzip before zstd", false, []entry{{platform: "linux/amd64", zstd: true}, {platform: "linux/amd64"}}, "amd64", "", 1, "", false},
		{"an OCI entry without a platform, as newer skopeo", false, []entry{{platform: "linux/s390x"}, {platform: "linux/amd64", noPlatform: true}}, "amd64", "", 1, "", false},
		{"arm without variant takes arm/v7", false, e("linux/arm/v7"), "arm", "", 0, "", false},
		{"aarch64 is arm64", false, e("linux/arm64/v8"), "aarch64", "", 0, "", false},
		{"what there is", false, e("linux/amd64/v3", "linux/ppc64le", "unknown/unknown"), "amd64", "", -1, "no linux/amd64 image in index sha256:", false},
	}
	_, noSkopeo := exec.LookPath("skopeo")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt := types.OCIImageIndex
			if tt.list {
				mt = types.DockerManifestList
			}
			repo := fmt.Sprintf("pick%d", i)
			digest, ims := pushIndex(t, s.host, repo, mt, tt.entries)
			got, logs, err := pull(t, Options{ImageName: s.host + "/" + repo, ImageDigest: digest, OS: "linux", Arch: tt.arch, Variant: tt.variant, FinalName: "x", FinalTag: "y"})
			switch {
			case tt.want < 0 && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want %q", err, tt.err)
			case tt.want >= 0 && err != nil:
				t.Fatal(err)
			case tt.want >= 0 && !bytes.Equal(got, expected(t, ims[tt.want], "x:y")):
				t.Fatalf("did not pick entry %d: %s", tt.want, logs)
			}
			if !tt.skopeo || noSkopeo != nil {
				return
			}
			platform := tt.arch
			if tt.variant != "" {
				platform += "/" + tt.variant
			}
			want, serr := skopeoCopy(t, s.host+"/"+repo+"@"+digest, platform, "x", "y")
			if (serr == nil) != (err == nil) || !bytes.Equal(got, want) {
				t.Errorf("skopeo: %v, %d bytes; Pull: %v, %d bytes", serr, len(want), err, len(got))
			}
		})
	}
}

// A single image for another platform is pulled as skopeo pulls it, with
// a warning.
func TestSingleImageOtherPlatform(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	arm := build(t, spec{os: "linux", arch: "arm64", comp: []string{"gzip"}, seed: "arm"})
	push(t, s.host, "arm", arm, "")
	got, logs, err := pull(t, opts(s.host, "arm", arm))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, expected(t, arm, "final/name:v1")) {
		t.Fatal("wrong archive")
	}
	if !strings.Contains(logs, "warning: the image is for linux/arm64, not linux/amd64") {
		t.Errorf("no warning in the log:\n%s", logs)
	}
}
