package pull

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

var referenceCases = []struct {
	name, tag string
	want      string // repo:tag, or "" for an error
}{
	{"alpine", "latest", "docker.io/library/alpine:latest"},
	{"nixos/nix", "2.24.9", "docker.io/nixos/nix:2.24.9"},
	{"docker.io/alpine", "3", "docker.io/library/alpine:3"},
	{"index.docker.io/library/redis", "7", "docker.io/library/redis:7"},
	{"localhost/app", "x", "localhost/app:x"},
	{"localhost:5000/app", "x", "localhost:5000/app:x"},
	{"127.0.0.1:5000/team/app", "v1.2-rc_3", "127.0.0.1:5000/team/app:v1.2-rc_3"},
	{"Registry.Example.com/a__b/c-d", "T", "Registry.Example.com/a__b/c-d:T"},
	{"a.b/c", "_x", "a.b/c:_x"},
	{"Alpine", "latest", ""},   // uppercase repository
	{"team/App", "latest", ""}, // uppercase repository
	{"alpine", "", ""},         // no tag
	{"alpine", "-x", ""},       // a tag starts with a word character
	{"alpine", "a@sha256:" + strings.Repeat("0", 64), ""},
	{"alpine:3", "latest", ""},  // a tag in the name
	{"a//b", "latest", ""},      // empty component
	{"a_-b", "latest", ""},      // mixed separators
	{"team/app.", "latest", ""}, // trailing separator
	{"alpine", strings.Repeat("t", 129), ""},
	{"r.io/" + strings.Repeat("n", 251), "x", ""}, // 256 characters
	{"r.io/" + strings.Repeat("n", 250), "x", "r.io/" + strings.Repeat("n", 250) + ":x"},
}

// finalImageName:finalImageTag is read as skopeo reads it; checked against
// skopeo itself when it is installed (the RepoTags of its archive, or its
// refusal).
func TestNormalizeReference(t *testing.T) {
	var ref string
	if _, err := exec.LookPath("skopeo"); err == nil {
		isolate(t)
		s := newServer(t, false)
		im := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip"}, seed: "names"})
		push(t, s.host, "names", im, "")
		ref = s.host + "/names@" + im.digest
	}
	for _, c := range referenceCases {
		t.Run(c.name+":"+c.tag, func(t *testing.T) {
			repo, tag, err := normalizeReference(c.name, c.tag)
			got := repo + ":" + tag
			if err != nil {
				got = ""
			}
			if got != c.want {
				t.Errorf("got %q (%v), want %q", got, err, c.want)
			}
			if ref == "" {
				return
			}
			b, serr := skopeoCopy(t, ref, "amd64", c.name, c.tag)
			if serr != nil {
				if c.want != "" {
					t.Errorf("skopeo refused it: %v", serr)
				}
				return
			}
			if c.want == "" {
				t.Errorf("skopeo took it")
				return
			}
			var m []manifestItem
			for _, f := range members(t, b) {
				if f.Name == "manifest.json" {
					json.Unmarshal(f.data, &m)
				}
			}
			if len(m) != 1 || len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != c.want {
				t.Errorf("skopeo wrote %+v", m)
			}
		})
	}
}
