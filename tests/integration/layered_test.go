package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// allFixtures are built once, by TestMain, in one nix-build.
var allFixtures = []string{
	"hello", "hello-layered", "hello-stream", "exploring", "exploring-no-store", "configclosure",
	"base", "base-none", "on-base", "on-base-none", "few-layers", "created-now", "non-root",
	"extra-commands", "hello-zstd", "hello-none", "tagless", "arch-arm64", "mtime-set", "mtime-now",
	"layering-auto", "layering-popularity", "layering-pipeline",
}

const greeting = "Hello, world!"

func sha256File(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := sha256.New()
	if _, err := io.Copy(s, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(s.Sum(nil))
}

func TestHelloLayered(t *testing.T) {
	img := image(t, "hello-layered")
	if !strings.HasSuffix(img, "-hello.tar.gz") {
		t.Errorf("output %s is not named hello.tar.gz", img)
	}
	runBoth(t, img, greeting)
	if n := skopeoLayers(t, img); n != 6 {
		t.Errorf("skopeo sees %d layers, want 5 store layers + customisation", n)
	}
	c := skopeoConfig(t, img)
	if c.Created != "1970-01-01T00:00:01Z" || c.Architecture != "amd64" || c.OS != "linux" {
		t.Errorf("config created/architecture/os = %q/%q/%q", c.Created, c.Architecture, c.OS)
	}
	if string(c.Config) != `{"Cmd":["/bin/hello"]}` {
		t.Errorf("container config = %s", c.Config)
	}
}

// The documentation's stream example: the script's output is the same image
// as buildLayeredImage's, byte for byte, with nixpkgs' progress lines. With
// auto-layer (nixpkgs 25.11's default) every path of this small closure is a
// layer, smallest closure first; the documentation shows the popularity
// order of older nixpkgs (few-layers and layering-popularity test that).
func TestHelloStream(t *testing.T) {
	script := image(t, "hello-stream")
	if !strings.HasSuffix(script, "-stream-hello") {
		t.Errorf("script %s is not named stream-hello", script)
	}
	out, log := stream(t, script)
	if got, want := sha256File(t, out), sha256File(t, uncompressed(t, image(t, "hello-layered"))); got != want {
		t.Errorf("streamed image %s differs from buildLayeredImage's %s", got, want)
	}
	want := regexp.MustCompile(`^No 'fromImage' provided
Creating layer 1 from paths: \['/nix/store/[0-9a-z]{32}-xgcc-12\.3\.0-libgcc'\]
Creating layer 2 from paths: \['/nix/store/[0-9a-z]{32}-libunistring-1\.1'\]
Creating layer 3 from paths: \['/nix/store/[0-9a-z]{32}-libidn2-2\.3\.4'\]
Creating layer 4 from paths: \['/nix/store/[0-9a-z]{32}-glibc-2\.38-27'\]
Creating layer 5 from paths: \['/nix/store/[0-9a-z]{32}-hello-2\.12\.1'\]
Creating layer 6 with customisation\.\.\.
Adding manifests\.\.\.
Done\.
$`)
	if !want.MatchString(log) {
		t.Errorf("progress lines:\n%s", log)
	}
	// $(nix-build ...) | docker load
	r := execute(nil, "sh", "-c", script+" 2>/dev/null | /usr/bin/docker -H unix://"+h.docker.sock+" load")
	if r.err != nil || loadedRef(t, r.stdout) != "hello:latest" {
		t.Fatalf("stream | docker load: %v %s %s", r.err, r.stdout, r.stderr)
	}
	if got := strings.TrimSpace(docker(t, "run", "--rm", "--network=none", "hello:latest")); got != greeting {
		t.Errorf("docker run printed %q", got)
	}
}

// ex-dockerTools-streamLayeredImage-exploringlayers: the customisation layer
// links into the store; without includeStorePaths the store is absent.
func TestExploringLayers(t *testing.T) {
	hello := image(t, "hello")
	for _, tc := range []struct {
		attr      string
		layers    int
		withStore bool
	}{
		{"exploring", 6, true},
		{"exploring-no-store", 1, false},
	} {
		t.Run(tc.attr, func(t *testing.T) {
			img, _ := stream(t, image(t, tc.attr))
			if n := skopeoLayers(t, img); n != tc.layers {
				t.Errorf("%d layers, want %d", n, tc.layers)
			}
			ref := loadDocker(t, img)
			files := exportFiles(t, ref)
			for _, f := range []string{"bin/hello", "share/info/hello.info", "share/man/man1/hello.1.gz"} {
				if !files[f] {
					t.Errorf("image has no %s", f)
				}
			}
			if got := files[strings.TrimPrefix(hello, "/")+"/bin/hello"]; got != tc.withStore {
				t.Errorf("store path of hello in the image: %v, want %v", got, tc.withStore)
			}
			if tc.withStore {
				if got := strings.TrimSpace(docker(t, "run", "--rm", "--network=none", ref, "/bin/hello")); got != greeting {
					t.Errorf("docker run /bin/hello printed %q", got)
				}
				link := docker(t, "run", "--rm", "--network=none", "--entrypoint", hello+"/bin/hello", ref)
				_ = link
			}
		})
	}
}

// ex-dockerTools-streamLayeredImage-configclosure
func TestConfigClosure(t *testing.T) {
	img, _ := stream(t, image(t, "configclosure"))
	runBoth(t, img, greeting)
}

// An image on top of one of ours, with the base gzipped and not: the base's
// layers come first, and only Env is inherited, merged by key.
func TestFromImage(t *testing.T) {
	for _, attr := range []string{"on-base", "on-base-none"} {
		t.Run(attr, func(t *testing.T) {
			img := image(t, attr)
			runBoth(t, img, "A=1 B=3 C=4\nfrom-base\n"+greeting)
			c := skopeoConfig(t, img)
			if !strings.Contains(string(c.Config), `"Env":["A=1","B=3","C=4"]`) {
				t.Errorf("Env not merged: %s", c.Config)
			}
			base := skopeoLayers(t, image(t, "base"))
			if n := skopeoLayers(t, img); n != base+6 {
				t.Errorf("%d layers, want the base's %d + 5 store layers + customisation", n, base)
			}
		})
	}
}

func TestMaxLayers(t *testing.T) {
	img, log := stream(t, image(t, "few-layers"))
	if n := skopeoLayers(t, img); n != 3 {
		t.Errorf("%d layers, want maxLayers = 3", n)
	}
	if !regexp.MustCompile(`Creating layer 2 from paths: \['[^']*-libidn2-2.3.4', '[^']*-xgcc-12.3.0-libgcc', '[^']*-glibc-2.38-27', '[^']*-hello-2.12.1'\]`).MatchString(log) {
		t.Errorf("the last store layer does not hold the least popular paths in order:\n%s", log)
	}
	runBoth(t, img, greeting, "/bin/hello")
}

func TestCreatedNow(t *testing.T) {
	ref := loadDocker(t, image(t, "created-now"))
	created := strings.TrimSpace(docker(t, "image", "inspect", "-f", "{{.Created}}", ref))
	if created < "2025" {
		t.Errorf("created = %s, want the build time", created)
	}
	def := loadDocker(t, image(t, "hello-layered"))
	if got := strings.TrimSpace(docker(t, "image", "inspect", "-f", "{{.Created}}", def)); got != "1970-01-01T00:00:01Z" {
		t.Errorf("default created = %s", got)
	}
}

// uid/gid/uname/gname own the store; /nix and /nix/store stay 0755.
func TestNonRootStore(t *testing.T) {
	hello := image(t, "hello")
	ref := loadDocker(t, image(t, "non-root"))
	got := docker(t, "run", "--rm", "--network=none", "--user", "1000:1000", ref, "stat", "-c", "%u:%g %a %n",
		"/nix", "/nix/store", hello, hello+"/bin/hello", "/bin")
	want := fmt.Sprintf("1000:1000 755 /nix\n1000:1000 755 /nix/store\n1000:1000 555 %s\n1000:1000 555 %s/bin/hello\n0:0 755 /bin\n", hello, hello)
	if got != want {
		t.Errorf("ownership:\n%s\nwant:\n%s", got, want)
	}
	// tar headers carry the names too: podman reads them through its own code.
	if got := strings.TrimSpace(podman(t, "run", "--rm", "--network=none", loadPodman(t, image(t, "non-root")), "stat", "-c", "%u:%g", hello)); got != "1000:1000" {
		t.Errorf("podman: %s", got)
	}
}

func TestExtraCommands(t *testing.T) {
	img := image(t, "extra-commands")
	runBoth(t, img, "/data\nsome content", "sh", "-c", "pwd; cat /my-file")
}

func TestCompressors(t *testing.T) {
	for _, tc := range []struct{ attr, suffix string }{
		{"hello-layered", "-hello.tar.gz"}, {"hello-zstd", "-hello.tar.zst"}, {"hello-none", "-hello.tar"},
	} {
		t.Run(tc.attr, func(t *testing.T) { runNamed(t, tc.attr, tc.suffix, greeting) })
	}
	// zstd images are several frames: the zstd tool reads them as one stream,
	// the same bytes as the uncompressed image.
	r := execute(nil, "sh", "-c", "zstd -dc "+image(t, "hello-zstd")+" | sha256sum")
	want := sha256File(t, image(t, "hello-none"))
	if r.err != nil || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("zstd -dc of the zstd image: %v %q, want the uncompressed image %s", r.err, r.stdout, want)
	}
}

// tag = null: the tag is a hash that imageTag gives at evaluation.
func TestTagless(t *testing.T) {
	tag := strings.Trim(nixEval(t, fixturesExpr("images.tagless.imageTag")), `"`)
	if !regexp.MustCompile(`^[0-9a-z]{32}$`).MatchString(tag) {
		t.Fatalf("imageTag = %q", tag)
	}
	if ref := loadDocker(t, image(t, "tagless")); ref != "tagless:"+tag {
		t.Errorf("loaded %s, want tagless:%s", ref, tag)
	}
	if ref := loadPodman(t, image(t, "tagless")); ref != "localhost/tagless:"+tag {
		t.Errorf("podman loaded %s", ref)
	}
}

// Building again gives the same bytes (nix-build --check fails otherwise).
func TestReproducible(t *testing.T) {
	need(t)
	args := []string{h.fixtures + "/images.nix", "--arg", "builder", h.builder, "--no-out-link", "--check"}
	for _, a := range []string{"hello-layered", "hello-stream", "on-base", "hello-zstd", "exploring-no-store", "non-root", "extra-commands", "extra-commands.stream", "fakeroot.stream", "fakechroot.stream", "layering-pipeline.stream", "layering-auto.stream"} {
		args = append(args, "-A", a)
	}
	must(t, "nix-build", args...)
	// The check has teeth: created = "now" is not reproducible, and --check says so.
	r := execute(nil, "nix-build", h.fixtures+"/images.nix", "--arg", "builder", h.builder, "--no-out-link", "--check", "-A", "created-now")
	if r.err == nil || !strings.Contains(r.stderr, "may not be deterministic") {
		t.Errorf("nix-build --check of created = \"now\" passed: %v %s", r.err, tail(r.stderr, 5))
	}
}

// The fixtures' names are what the documentation's closure shows.
func TestFixtureClosure(t *testing.T) {
	hello := image(t, "hello")
	var names []string
	for _, p := range strings.Fields(must(t, "nix-store", "-qR", hello)) {
		names = append(names, p[len("/nix/store/")+33:])
	}
	slices.Sort(names)
	want := []string{"glibc-2.38-27", "hello-2.12.1", "libidn2-2.3.4", "libunistring-1.1", "xgcc-12.3.0-libgcc"}
	if !slices.Equal(names, want) {
		t.Errorf("closure of hello = %v, want %v", names, want)
	}
}

func TestArchitecture(t *testing.T) {
	img := image(t, "arch-arm64")
	if c := skopeoConfig(t, img); c.Architecture != "arm64" || c.Variant != "v8" {
		t.Errorf("skopeo: architecture/variant %q/%q, want arm64/v8", c.Architecture, c.Variant)
	}
	ref := loadDocker(t, img)
	if got := strings.TrimSpace(docker(t, "image", "inspect", "-f", "{{.Architecture}}", ref)); got != "arm64" {
		t.Errorf("docker: architecture %q", got)
	}
	// The default is the platform's GOARCH (amd64 here).
	if c := skopeoConfig(t, image(t, "hello-layered")); c.Architecture != "amd64" {
		t.Errorf("default architecture %q", c.Architecture)
	}
}

func TestMTime(t *testing.T) {
	hello := image(t, "hello")
	ref := loadDocker(t, image(t, "mtime-set"))
	got := docker(t, "run", "--rm", "--network=none", ref, "stat", "-c", "%Y", hello+"/bin/hello", "/nix/store", "/bin")
	if want := "1704164645\n1704164645\n1704164645\n"; got != want {
		t.Errorf("mtimes %q, want %q", got, want)
	}
	// Default: 1970-01-01T00:00:01Z.
	ref = loadDocker(t, image(t, "non-root"))
	if got := docker(t, "run", "--rm", "--network=none", ref, "stat", "-c", "%Y", hello+"/bin/hello", "/bin"); got != "1\n1\n" {
		t.Errorf("default mtimes %q", got)
	}
}

// mtime = "now" is the time the script was built (not each stream's, as in
// nixpkgs; the README says why): two streams give the same bytes, and the
// store files are dated within the build.
func TestMTimeNow(t *testing.T) {
	need(t)
	script := image(t, "mtime-now")
	a, _ := stream(t, script)
	b, _ := stream(t, script)
	if sha256File(t, a) != sha256File(t, b) {
		t.Error("two streams of one mtime = \"now\" script differ")
	}
	// TestMain built the script minutes ago at most.
	if ts := storeMTime(t, a); ts.Before(time.Now().Add(-time.Hour)) || ts.After(time.Now()) {
		t.Errorf("store files dated %v, want the time the script was built", ts)
	}
}

// passthru reaches the derivation, with imageTag, as nixpkgs gives it.
func TestPassthru(t *testing.T) {
	need(t)
	got := nixEval(t, fixturesExpr(`with images.mtime-set; [ stream.extra stream.passthru.extra imageTag stream.isExe passthru.imageTag ]`))
	if got != `["kept","kept","latest",true,"latest"]` {
		t.Errorf("passthru = %s", got)
	}
}
