package pull

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nix-dockertools/dockertools/archive"
)

// A failing destination stops the downloads and reports; nothing hangs.
func TestWriteFailure(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	im := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip", "gzip", "gzip", "gzip"}, seed: "fail"})
	push(t, s.host, "app", im, "")
	for _, n := range []int{0, 3000, 20000} {
		o := opts(s.host, "app", im)
		o.TempDir = t.TempDir()
		o.Parallel = 2
		err := Pull(context.Background(), o, &failingWriter{n: n})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("after %d bytes: %v", n, err)
		}
		if left, _ := os.ReadDir(o.TempDir); len(left) > 0 {
			t.Errorf("%d files left in TempDir", len(left))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Pull(ctx, opts(s.host, "app", im), io.Discard); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("cancelled: %v", err)
	}
}

func opts(host, repo string, im *img) Options {
	return Options{ImageName: host + "/" + repo, ImageDigest: im.digest, OS: "linux", Arch: "amd64",
		FinalName: "final/name", FinalTag: "v1"}
}

func TestPullSingle(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	tests := []struct {
		name string
		comp []string
		big  int
	}{
		{"big layers", []string{"gzip", "zstd", "none"}, 5 << 20},
		{"gzip", []string{"gzip", "gzip", "gzip"}, 0},
		{"zstd and uncompressed", []string{"zstd", "none", "zstd"}, 0},
		{"one layer", []string{"gzip"}, 0},
		{"no layers", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := build(t, spec{os: "linux", arch: "amd64", comp: tt.comp, seed: tt.name, big: tt.big})
			push(t, s.host, "team/app", im, "")
			got, logs, err := pull(t, opts(s.host, "team/app", im))
			if err != nil {
				t.Fatal(err)
			}
			if want := expected(t, im, "final/name:v1"); !bytes.Equal(got, want) {
				t.Fatalf("archive differs from the expected one (%d vs %d bytes)", len(got), len(want))
			}
			p := filepath.Join(t.TempDir(), "img.tar")
			if err := os.WriteFile(p, got, 0o644); err != nil {
				t.Fatal(err)
			}
			base, err := archive.OpenBase(p, "", "", "")
			if err != nil {
				t.Fatal(err)
			}
			if base.RepoTag != "docker.io/final/name:v1" {
				t.Errorf("RepoTag %q", base.RepoTag)
			}
			if !bytes.Equal(base.Config, im.config) {
				t.Errorf("config changed")
			}
			for i, l := range base.Layers {
				if l.DiffID != im.diffIDs[i] || l.TarSize != int64(len(im.layers[i])) {
					t.Errorf("layer %d: %+v", i, l)
				}
			}
			if len(tt.comp) > 0 && !strings.Contains(logs, "Copying blob "+archive.Digest(im.blobs[0])) {
				t.Errorf("log lacks the blob: %s", logs)
			}
			if !strings.Contains(logs, "Writing manifest") {
				t.Errorf("log: %s", logs)
			}
		})
	}
}

func TestPullRandomImage(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	ri, err := random.Image(3000, 4)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(s.host+"/rand:latest", name.Insecure)
	if err := remote.Write(ref, ri); err != nil {
		t.Fatal(err)
	}
	d, _ := ri.Digest()
	var out bytes.Buffer
	err = Pull(context.Background(), Options{ImageName: s.host + "/rand", ImageDigest: d.String(), Arch: "amd64", TempDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	os.WriteFile(p, out.Bytes(), 0o644)
	base, err := archive.OpenBase(p, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	// Defaults: the image's own name and "latest".
	if base.RepoTag != s.host+"/rand:latest" {
		t.Errorf("RepoTag %q", base.RepoTag)
	}
	cf, _ := ri.ConfigFile()
	raw, _ := ri.RawConfigFile()
	if !bytes.Equal(base.Config, raw) || len(base.Layers) != len(cf.RootFS.DiffIDs) {
		t.Fatalf("config or layers differ")
	}
	for i, l := range base.Layers {
		if l.DiffID != cf.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d: %s, want %s", i, l.DiffID, cf.RootFS.DiffIDs[i])
		}
	}
}

// The archive depends on the image's content only: not on the registry,
// the order the downloads finish in, how many run at once, or how the
// registry compresses the layers.
func TestDeterminism(t *testing.T) {
	isolate(t)
	s1, s2 := newServer(t, false), newServer(t, false)
	im := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip", "gzip", "gzip"}, seed: "det"})
	push(t, s1.host, "app", im, "")
	push(t, s2.host, "mirror/app", im, "")
	// The second registry serves the first layers last.
	s2.mu.Lock()
	for i, b := range im.blobs {
		s2.delay[archive.Digest(b)] = time.Duration(len(im.blobs)-i) * 40 * time.Millisecond
	}
	s2.mu.Unlock()
	// The same layers compressed otherwise: another manifest digest, the same config.
	other := build(t, spec{os: "linux", arch: "amd64", comp: []string{"zstd", "none", "gzip", "zstd"}, seed: "det"})
	if !bytes.Equal(other.config, im.config) || other.digest == im.digest {
		t.Fatal("test setup: the two encodings should share their config")
	}
	push(t, s1.host, "recompressed", other, "")

	want := expected(t, im, "final/name:v1")
	runs := []struct {
		name string
		o    Options
	}{
		{"first", opts(s1.host, "app", im)},
		{"again", opts(s1.host, "app", im)},
		{"one at a time", func() Options { o := opts(s1.host, "app", im); o.Parallel = 1; return o }()},
		{"mirror, reversed order", func() Options { o := opts(s2.host, "mirror/app", im); o.Parallel = 4; return o }()},
		{"recompressed", opts(s1.host, "recompressed", other)},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			got, _, err := pull(t, r.o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("archive differs")
			}
		})
	}
}

func TestIndex(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	amd := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip"}, seed: "amd64"})
	arm64 := build(t, spec{os: "linux", arch: "arm64", variant: "v8", comp: []string{"gzip", "zstd"}, seed: "arm64"})
	armv7 := build(t, spec{os: "linux", arch: "arm", variant: "v7", comp: []string{"gzip"}, seed: "armv7"})
	for _, im := range []*img{amd, arm64, armv7} {
		push(t, s.host, "multi", im, "")
	}
	idx := index(t, s.host, "multi", amd, arm64, armv7)
	putManifest(t, s.host, "multi", idx, "")
	tests := []struct {
		os, arch, variant string
		want              *img
		err               string
	}{
		{"linux", "amd64", "", amd, ""},
		{"", "x86_64", "", amd, ""},
		{"linux", "arm64", "", arm64, ""},
		{"linux", "arm64/v8", "", arm64, ""},
		{"linux", "arm64", "v8", arm64, ""},
		{"linux", "aarch64", "", arm64, ""},
		{"linux", "arm/v7", "", armv7, ""},
		{"linux", "arm", "v7", armv7, ""},
		{"linux", "arm/v7", "v7", armv7, ""},
		{"linux", "armhf", "V7", armv7, ""},
		{"linux", "arm", "", armv7, ""},
		{"linux", "s390x", "", nil, "no linux/s390x image in index " + archive.Digest(idx) + "; it has linux/amd64, linux/arm64/v8, linux/arm/v7"},
		{"linux", "arm/v6", "", nil, "no linux/arm/v6 image in index"},
		{"linux", "arm", "v6", nil, "no linux/arm/v6 image in index"},
		{"linux", "arm/v7", "v6", nil, `arch "arm/v7" means variant "v7", but variant is "v6"`},
		{"linux", "armhf", "v6", nil, `arch "armhf" means variant "v7", but variant is "v6"`},
		{"linux", "arm", "v7/x", nil, `variant "v7/x"`},
		{"windows", "amd64", "", nil, "no windows/amd64 image"},
		{"linux", "arm/v7/x", "", nil, "arch \"arm/v7/x\""},
	}
	for _, tt := range tests {
		t.Run(tt.os+"/"+tt.arch+"/"+tt.variant, func(t *testing.T) {
			o := Options{ImageName: s.host + "/multi", ImageDigest: archive.Digest(idx), OS: tt.os, Arch: tt.arch, Variant: tt.variant, FinalName: "m", FinalTag: "t"}
			got, logs, err := pull(t, o)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, expected(t, tt.want, "m:t")) {
				t.Fatal("wrong archive")
			}
			if !strings.Contains(logs, "from index "+archive.Digest(idx)) {
				t.Errorf("log: %s", logs)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	good := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip", "zstd"}, seed: "good"})
	push(t, s.host, "app", good, "")
	corrupt := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip", "zstd"}, seed: "corrupt"})
	push(t, s.host, "corrupt", corrupt, "")
	truncated := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip"}, seed: "truncated"})
	push(t, s.host, "truncated", truncated, "")
	badDiff := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "zstd"}, seed: "diff", badDiffID: 2})
	push(t, s.host, "baddiff", badDiff, "")
	badConfig := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip"}, seed: "cfg"})
	push(t, s.host, "badconfig", badConfig, "")
	s.mu.Lock()
	s.corrupt[archive.Digest(corrupt.blobs[1])] = true
	s.truncate[archive.Digest(truncated.blobs[1])] = true
	s.corrupt[archive.Digest(badConfig.config)] = true
	s.mu.Unlock()

	down := httptest.NewServer(http.NotFoundHandler())
	downHost := strings.TrimPrefix(down.URL, "http://")
	down.Close()

	with := func(repo string, im *img, f func(*Options)) Options {
		o := opts(s.host, repo, im)
		if f != nil {
			f(&o)
		}
		return o
	}
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"short digest", with("app", good, func(o *Options) { o.ImageDigest = "sha256:abc" }), []string{"imageDigest", "sha256:abc"}},
		{"no algorithm", with("app", good, func(o *Options) { o.ImageDigest = strings.TrimPrefix(good.digest, "sha256:") }), []string{"imageDigest"}},
		{"upper case", with("app", good, func(o *Options) { o.ImageDigest = strings.ToUpper(good.digest) }), []string{"imageDigest"}},
		{"name with tag", with("app", good, func(o *Options) { o.ImageName = s.host + "/app:latest" }), []string{"imageName"}},
		{"unknown digest", with("app", good, func(o *Options) { o.ImageDigest = archive.Digest([]byte("nothing")) }),
			[]string{"has no manifest " + archive.Digest([]byte("nothing")), "MANIFEST_UNKNOWN"}},
		{"unknown repository", with("nosuch", good, nil), []string{"has no manifest"}},
		{"corrupted blob", with("corrupt", corrupt, nil),
			[]string{"layer 2 of 3", "blob " + archive.Digest(corrupt.blobs[1]), "with digest sha256:", "not " + archive.Digest(corrupt.blobs[1])}},
		{"truncated blob", with("truncated", truncated, nil),
			[]string{"layer 2 of 2", archive.Digest(truncated.blobs[1]), "stopped after"}},
		{"wrong diff_id", with("baddiff", badDiff, nil),
			[]string{"layer 2 of 2", "has digest " + archive.Digest(badDiff.layers[1]), "diff_id for it is " + badDiff.diffIDs[1]}},
		{"corrupted config", with("badconfig", badConfig, nil), []string{"image config", "not " + archive.Digest(badConfig.config)}},
		{"registry down", Options{ImageName: downHost + "/app", ImageDigest: good.digest, Arch: "amd64"},
			[]string{"registry " + downHost + " is unreachable", "connection refused"}},
		{"plain HTTP with tlsVerify", with("app", good, func(o *Options) { o.TLSVerify = true }),
			[]string{"speaks plain HTTP, which needs tlsVerify = false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := pull(t, tt.o)
			if err == nil {
				t.Fatalf("no error; %d bytes written", len(out))
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.HasPrefix(tt.name, "short") && !strings.HasPrefix(err.Error(), "pull") {
				t.Errorf("error does not say what it was doing: %v", err)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	isolate(t)
	s := newServer(t, true)
	im := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip"}, seed: "tls"})
	// Push through the server's own client, which trusts its certificate.
	r, _ := name.NewRepository(s.host + "/app")
	tr := remote.WithTransport(s.Client().Transport)
	for _, b := range [][]byte{im.blobs[0], im.config} {
		if err := remote.WriteLayer(r, static.NewLayer(b, types.OCILayer), tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(r.Digest(im.digest), rawManifest{im.manifest, types.DockerManifestSchema2}, tr); err != nil {
		t.Fatal(err)
	}
	o := opts(s.host, "app", im)
	o.TLSVerify = true
	if _, _, err := pull(t, o); err == nil || !strings.Contains(err.Error(), "TLS certificate that is not trusted") {
		t.Fatalf("self-signed certificate with tlsVerify: %v", err)
	}
	o.TLSVerify = false
	got, _, err := pull(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, expected(t, im, "final/name:v1")) {
		t.Fatal("wrong archive")
	}
}

func TestAuth(t *testing.T) {
	isolate(t)
	const user, pass = "nix", "s3cr3t-Pa55"
	secret := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	s := newServer(t, false)
	im := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip"}, seed: "auth"})
	push(t, s.host, "private/app", im, "latest")
	s.mu.Lock()
	s.user, s.pass = user, pass
	s.mu.Unlock()

	writeAuth := func(t *testing.T, file, key, auth string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(file), 0o755)
		b, _ := json.Marshal(map[string]any{"auths": map[string]any{key: map[string]string{"auth": auth}}})
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wrong := base64.StdEncoding.EncodeToString([]byte(user + ":wrong-" + pass))
	tests := []struct {
		name  string
		setup func(t *testing.T)
		err   string
	}{
		{"no credentials", func(t *testing.T) {}, "wants credentials"},
		{"DOCKER_CONFIG", func(t *testing.T) {
			writeAuth(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), s.host, secret)
		}, ""},
		{"DOCKER_CONFIG with a URL key", func(t *testing.T) {
			writeAuth(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), "http://"+s.host, secret)
		}, ""},
		{"~/.docker", func(t *testing.T) {
			t.Setenv("DOCKER_CONFIG", "")
			writeAuth(t, filepath.Join(os.Getenv("HOME"), ".docker", "config.json"), s.host, secret)
		}, ""},
		{"REGISTRY_AUTH_FILE", func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "auth.json")
			writeAuth(t, f, s.host, secret)
			t.Setenv("REGISTRY_AUTH_FILE", f)
		}, ""},
		{"wrong password", func(t *testing.T) {
			writeAuth(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), s.host, wrong)
		}, "refused the credentials found"},
		{"credentials for another registry", func(t *testing.T) {
			writeAuth(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), "other.example:5000", secret)
		}, "wants credentials and none were found"},
		// go-containerregistry reads REGISTRY_AUTH_FILE only when there is
		// no Docker config.json at all; it does not merge them.
		{"REGISTRY_AUTH_FILE behind a docker config", func(t *testing.T) {
			writeAuth(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), "other.example:5000", secret)
			f := filepath.Join(t.TempDir(), "auth.json")
			writeAuth(t, f, s.host, secret)
			t.Setenv("REGISTRY_AUTH_FILE", f)
		}, "wants credentials and none were found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			tt.setup(t)
			got, logs, err := pull(t, opts(s.host, "private/app", im))
			for _, text := range []string{fmt.Sprint(err), logs} {
				for _, c := range []string{pass, secret, "wrong-" + pass, wrong} {
					if strings.Contains(text, c) {
						t.Fatalf("a credential leaked: %s", text)
					}
				}
			}
			if tt.err != "" {
				t.Log(err)
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), s.host) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if _, rerr := Resolve(context.Background(), s.host+"/private/app", "latest", false); rerr == nil || strings.Contains(rerr.Error(), pass) {
					t.Fatalf("Resolve: %v", rerr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, expected(t, im, "final/name:v1")) {
				t.Fatal("wrong archive")
			}
			d, err := Resolve(context.Background(), s.host+"/private/app", "latest", false)
			if err != nil || d != im.digest {
				t.Fatalf("Resolve: %s, %v", d, err)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	single := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip"}, seed: "single"})
	push(t, s.host, "app", single, "1.0")
	amd := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip"}, seed: "a"})
	arm := build(t, spec{os: "linux", arch: "arm64", comp: []string{"gzip"}, seed: "b"})
	push(t, s.host, "app", amd, "")
	push(t, s.host, "app", arm, "")
	idx := index(t, s.host, "app", amd, arm)
	putManifest(t, s.host, "app", idx, "multi")
	putManifest(t, s.host, "app", single.manifest, "latest")
	tests := []struct {
		tag, want, err string
	}{
		{"1.0", single.digest, ""},
		{"multi", archive.Digest(idx), ""},
		{"", single.digest, ""},
		{"nosuch", "", "has no manifest nosuch"},
		{"bad:tag", "", "tag \"bad:tag\""},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			got, err := Resolve(context.Background(), s.host+"/app", tt.tag, false)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
	// The digest Resolve gives pulls.
	d, err := Resolve(context.Background(), s.host+"/app", "multi", false)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := pull(t, Options{ImageName: s.host + "/app", ImageDigest: d, Arch: "arm64", FinalName: "x", FinalTag: "y"})
	if err != nil || !bytes.Equal(out, expected(t, arm, "x:y")) {
		t.Fatalf("pulling the resolved digest: %v", err)
	}
}

// A layer listed twice is stored once and listed twice, with a legacy
// directory for each place it has in the chain.
func TestRepeatedLayer(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	im := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip"}, seed: "rep", repeat: 1})
	push(t, s.host, "rep", im, "")
	got, _, err := pull(t, opts(s.host, "rep", im))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, expected(t, im, "final/name:v1")) {
		t.Fatal("wrong archive")
	}
	layerFile := layerFileName(im.diffIDs[0])
	var files, links int
	for _, m := range members(t, got) {
		switch {
		case m.Name == layerFile:
			files++
		case m.Linkname == "../"+layerFile:
			links++
		}
	}
	if files != 1 || links != 2 {
		t.Errorf("layer 1: %d files, %d legacy links; want 1 and 2", files, links)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 12_345_678: "12.3 MB", 3 << 30: "3.2 GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %s, want %s", n, got, want)
		}
	}
}

// A later layer's failure stops the pull without waiting for the earlier,
// slower downloads.
func TestFailFast(t *testing.T) {
	isolate(t)
	s := newServer(t, false)
	im := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip", "gzip"}, seed: "fast"})
	push(t, s.host, "app", im, "")
	s.mu.Lock()
	s.delay[archive.Digest(im.blobs[0])] = 3 * time.Second
	s.corrupt[archive.Digest(im.blobs[2])] = true
	s.mu.Unlock()
	start := time.Now()
	_, _, err := pull(t, opts(s.host, "app", im))
	if err == nil || !strings.Contains(err.Error(), "layer 3 of 3") {
		t.Fatalf("error %v, want layer 3's", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: waited for layer 1", d)
	}
}
