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
// Each case is checked against the installed skopeo when that version
// decides it as Pull does.
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
		skopeo        skopeoCheck
	}{
		{"arm64 without variant before arm64/v8", false, e("linux/arm64/v8", "linux/arm64"), "arm64", "", 1, "", anySkopeo},
		{"arm64 takes arm64/v8", true, e("linux/amd64", "linux/arm64/v8"), "arm64", "", 1, "", anySkopeo},
		{"arm64/v8 takes arm64", false, e("linux/arm64"), "arm64", "v8", 0, "", anySkopeo},
		{"arm/v7 runs arm/v6", false, e("linux/arm/v5", "linux/arm/v6"), "arm", "v7", 1, "", anySkopeo},
		{"arm/v7 before arm/v6", true, e("linux/arm/v6", "linux/arm/v7"), "arm", "v7", 1, "", anySkopeo},
		{"arm/v6 does not run arm/v7", false, e("linux/arm/v7", "linux/arm/v5"), "arm", "v6", 1, "", anySkopeo},
		{"arm/v7 takes arm", false, e("linux/arm"), "arm", "v7", 0, "", anySkopeo},
		{"the first of equals", true, e("linux/amd64", "linux/amd64"), "amd64", "", 0, "", anySkopeo},
		{"amd64 is not amd64/v3", false, e("linux/amd64/v3", "linux/amd64"), "amd64", "", 1, "", anySkopeo},
		{"another os", false, e("windows/amd64"), "amd64", "", -1, "no linux/amd64 image in index", anySkopeo},
		{"a list entry without a platform", true, []entry{{platform: "linux/amd64", noPlatform: true}}, "amd64", "", -1, "lists no image with a platform", anySkopeo},
		{"the zstd copy first", false, []entry{{platform: "linux/amd64", zstd: true}, {platform: "linux/amd64"}}, "amd64", "", 0, "", anySkopeo},
		// As skopeo 1.18 decides, not 1.9.3:
		{"the zstd copy, as newer skopeo", false, []entry{{platform: "linux/amd64"}, {platform: "linux/amd64", zstd: true}}, "amd64", "", 1, "", newSkopeo},
		{"an OCI entry without a platform, as newer skopeo", false, []entry{{platform: "linux/s390x"}, {platform: "linux/amd64", noPlatform: true}}, "amd64", "", 1, "", newSkopeo},
		// Where skopeo finds nothing:
		{"arm without variant takes arm/v7", false, e("linux/arm/v7"), "arm", "", 0, "", noSkopeo},
		{"aarch64 is arm64", false, e("linux/arm64/v8"), "aarch64", "", 0, "", noSkopeo},
		{"what there is", false, e("linux/amd64/v3", "linux/ppc64le", "unknown/unknown"), "amd64", "", -1, "no linux/amd64 image in index sha256:", noSkopeo},
	}
	installed := installedSkopeo(t)
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
			if !tt.skopeo.applies(installed) {
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

// skopeoCheck says which skopeo versions pick as a case expects.
type skopeoCheck int

const (
	noSkopeo  skopeoCheck = iota // none: skopeo finds nothing there
	anySkopeo                    // 1.9.3 and later
	newSkopeo                    // 1.18 and later, not 1.9.3
)

// installedSkopeo is the installed skopeo's minor version (1.x), or -1.
func installedSkopeo(t *testing.T) int {
	out, err := exec.Command("skopeo", "--version").Output()
	if err != nil {
		return -1
	}
	var minor int
	if _, err := fmt.Sscanf(string(out), "skopeo version 1.%d", &minor); err != nil {
		t.Fatalf("skopeo --version: %q", out)
	}
	return minor
}

func (c skopeoCheck) applies(minor int) bool {
	return (c == anySkopeo && minor >= 9) || (c == newSkopeo && minor >= 18)
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
