package integration

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildImageFixtures are buildImage's fixtures (see images.nix), built with
// the others by TestMain.
var buildImageFixtures = []string{
	"redis", "hello-extra-commands", "hello-created-now", "image-on-base", "image-on-base-none",
	"image-on-base.layer", "image-config-only", "dirlinks", "dirlinks-keep", "owned", "redis-zstd",
	"redis-none", "image-tagless", "image-arm64", "image-contents", "nixdb-image", "nixdb-layered",
	"nixdb-stream", "merged", "hello-export", "hello-export-unnamed", "image-script-link",
}

// extraCommands linked bin/hello into the store: hello's closure is in the
// image and runs; redis, which the script only ran, is not.
func TestImageScriptReferences(t *testing.T) {
	need(t)
	img := image(t, "image-script-link")
	runBoth(t, img, greeting, "/bin/hello")
	var redis string
	if err := json.Unmarshal([]byte(nixEval(t, fixturesExpr(`toString pkgs.redis`))), &redis); err != nil {
		t.Fatal(err)
	}
	files := exportFiles(t, loadDocker(t, img))
	if files[strings.TrimPrefix(redis, "/")+"/bin/redis-server"] {
		t.Errorf("%s is in the image, though no file of it refers to it", redis)
	}
	if !files["ran-redis"] {
		t.Error("extraCommands' output is not in the image")
	}
}

func storePath(t *testing.T, expr string) string {
	t.Helper()
	return strings.Trim(nixEval(t, fixturesExpr(`"${`+expr+`}"`)), `"`)
}

// The documentation's buildImage examples.
func TestBuildImageExamples(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		img := image(t, "redis")
		if !strings.HasSuffix(img, "-docker-image-redis.tar.gz") {
			t.Errorf("output %s is not named docker-image-redis.tar.gz", img)
		}
		runBoth(t, img, "redis-server: Ready to accept connections in /data")
		if n := skopeoLayers(t, img); n != 1 {
			t.Errorf("%d layers, want 1", n)
		}
		c := skopeoConfig(t, img)
		if string(c.Config) != `{"Cmd":["/bin/redis-server"],"Volumes":{"/data":{}},"WorkingDir":"/data"}` {
			t.Errorf("container config = %s", c.Config)
		}
		if c.Created != "1970-01-01T00:00:01Z" || c.Architecture != "amd64" {
			t.Errorf("created/architecture = %s/%s", c.Created, c.Architecture)
		}
	})
	t.Run("extraCommands", func(t *testing.T) {
		sh := storePath(t, "pkgs.glibc") + "/bin/sh"
		runBoth(t, image(t, "hello-extra-commands"), "/data\nsome content\n"+greeting, sh, "-c", "pwd; cat /my-file; test -d /data && /bin/hello")
	})
	t.Run("created now", func(t *testing.T) {
		ref := loadDocker(t, image(t, "hello-created-now"))
		if created := strings.TrimSpace(docker(t, "image", "inspect", "-f", "{{.Created}}", ref)); created < "2025" {
			t.Errorf("created = %s, want the build time", created)
		}
	})
}

// A base image's layers come first, only its Env is inherited (merged by
// key), and store paths it holds are not repeated in the new layer.
func TestImageOnBase(t *testing.T) {
	baseLayers := skopeoLayers(t, image(t, "base"))
	for _, attr := range []string{"image-on-base", "image-on-base-none"} {
		t.Run(attr, func(t *testing.T) {
			img := image(t, attr)
			runBoth(t, img, "A=1 B=3 C=4\nfrom-base\n"+greeting)
			c := skopeoConfig(t, img)
			if !strings.Contains(string(c.Config), `"Env":["A=1","B=3","C=4"]`) {
				t.Errorf("Env not merged: %s", c.Config)
			}
			if n := skopeoLayers(t, img); n != baseLayers+1 {
				t.Errorf("%d layers, want the base's %d + 1", n, baseLayers)
			}
		})
	}
	// passthru.layer is the new layer itself.
	layerDir := image(t, "image-on-base.layer")
	diffID, err := os.ReadFile(filepath.Join(layerDir, "diff_id"))
	if err != nil {
		t.Fatal(err)
	}
	ids := skopeoConfig(t, image(t, "image-on-base")).RootFS.DiffIDs
	if got := strings.TrimSpace(string(diffID)); got != ids[len(ids)-1] || got != "sha256:"+sha256File(t, filepath.Join(layerDir, "layer.tar")) {
		t.Errorf("passthru.layer diff_id %s, image's last diff_id %s", got, ids[len(ids)-1])
	}
	names := must(t, "tar", "-tf", filepath.Join(layerDir, "layer.tar"))
	hello, busybox := storePath(t, "pkgs.hello"), storePath(t, "pkgs.busybox")
	if !strings.Contains(names, strings.TrimPrefix(hello, "/")+"/bin/hello") {
		t.Errorf("the layer lacks %s", hello)
	}
	if strings.Contains(names, strings.TrimPrefix(busybox, "/")) {
		t.Errorf("the layer repeats the base's %s", busybox)
	}
}

func TestImageConfigOnly(t *testing.T) {
	img := image(t, "image-config-only")
	runBoth(t, img, "config-only A=1")
	if n, base := skopeoLayers(t, img), skopeoLayers(t, image(t, "base")); n != base+1 {
		t.Errorf("%d layers, want %d + 1", n, base)
	}
}

// keepContentsDirlinks = false copies a link to a directory as the
// directory (rsync -k); true keeps it (rsync -K). Either way a directory
// meeting a link to a directory is merged.
func TestKeepContentsDirlinks(t *testing.T) {
	runBoth(t, image(t, "dirlinks"), "/bin:dir\n/lib:dir\n/bin/hello /bin/sh\n"+greeting)
	runBoth(t, image(t, "dirlinks-keep"), "/bin:dir\n/lib:link\n/bin/hello /bin/sh\n"+greeting)
}

// Several small trees (the environment helpers' shape) merge at /.
func TestImageOwner(t *testing.T) {
	runBoth(t, image(t, "owned"), "1000:1000:315532800\n1000:1000:315532800")
}

func TestImageCompressors(t *testing.T) {
	for _, tc := range []struct{ attr, suffix string }{
		{"redis", "-docker-image-redis.tar.gz"}, {"redis-zstd", "-docker-image-redis.tar.zst"}, {"redis-none", "-docker-image-redis.tar"},
	} {
		t.Run(tc.attr, func(t *testing.T) {
			runNamed(t, tc.attr, tc.suffix, "redis-server: Ready to accept connections in /data")
		})
	}
}

// tag = null: the tag is the hash part of the image's path, which imageTag
// gives at evaluation.
func TestImageTagless(t *testing.T) {
	img := image(t, "image-tagless")
	tag := strings.Trim(nixEval(t, fixturesExpr("images.image-tagless.imageTag")), `"`)
	if !regexp.MustCompile(`^[0-9a-z]{32}$`).MatchString(tag) || !strings.HasPrefix(filepath.Base(img), tag+"-") {
		t.Fatalf("imageTag = %q for %s", tag, img)
	}
	if ref := loadDocker(t, img); ref != "image-tagless:"+tag {
		t.Errorf("loaded %s, want image-tagless:%s", ref, tag)
	}
	runBoth(t, img, greeting)
}

func TestImageArchitecture(t *testing.T) {
	if c := skopeoConfig(t, image(t, "image-arm64")); c.Architecture != "arm64" || c.Variant != "v8" {
		t.Errorf("architecture/variant %q/%q, want arm64/v8", c.Architecture, c.Variant)
	}
}

// `contents` still works, with a warning at evaluation.
func TestImageContentsAlias(t *testing.T) {
	runBoth(t, image(t, "image-contents"), greeting)
	r := execute(nil, "nix-instantiate", "--arg", "builder", h.builder, "-E", fixturesExpr("images.image-contents"))
	if r.err != nil || !strings.Contains(r.stderr, "`contents` is deprecated; use `copyToRoot`") {
		t.Errorf("no deprecation warning: %v\n%s", r.err, r.stderr)
	}
}

func TestImagePassthru(t *testing.T) {
	need(t)
	got := nixEval(t, fixturesExpr(`with images.redis; [ buildArgs.name passthru.buildArgs.tag imageTag passthru.imageTag layer.name (builtins.isFunction override) ]`))
	if got != `["redis","latest","latest","latest","docker-layer-redis",true]` {
		t.Errorf("passthru = %s", got)
	}
}

// Building again gives the same bytes.
func TestImageReproducible(t *testing.T) {
	need(t)
	args := []string{h.fixtures + "/images.nix", "--arg", "builder", h.builder, "--no-out-link", "--check"}
	for _, a := range []string{"redis", "redis-zstd", "image-on-base", "image-on-base.layer", "dirlinks", "owned", "hello-extra-commands", "nixdb-image", "nixdb-layered"} {
		args = append(args, "-A", a)
	}
	must(t, "nix-build", args...)
}

// writeEvilBase writes a docker-archive whose one layer holds hdr.
func writeEvilBase(t *testing.T, hdr tar.Header) string {
	t.Helper()
	dir := t.TempDir()
	layerPath := filepath.Join(dir, "layer.tar")
	lf, _ := os.Create(layerPath)
	tw := tar.NewWriter(lf)
	if err := tw.WriteHeader(&hdr); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	lf.Close()
	id := "sha256:" + sha256File(t, layerPath)
	layerBytes, _ := os.ReadFile(layerPath)
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{id}}})
	man, _ := json.Marshal([]map[string]any{{"Config": "c.json", "RepoTags": []string{"evil:latest"}, "Layers": []string{"l/layer.tar"}}})
	p := filepath.Join(dir, "evil.tar")
	f, _ := os.Create(p)
	aw := tar.NewWriter(f)
	for _, m := range []struct {
		name string
		data []byte
	}{{"l/layer.tar", layerBytes}, {"c.json", cfg}, {"manifest.json", man}} {
		aw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg})
		aw.Write(m.data)
	}
	aw.Close()
	f.Close()
	return p
}

// Bad bases fail the build with a clear error and no output.
func TestImageBuildErrors(t *testing.T) {
	need(t)
	traversal := writeEvilBase(t, tar.Header{Name: "../../etc/evil", Typeflag: tar.TypeReg, Mode: 0o644})
	hardlink := writeEvilBase(t, tar.Header{Name: "x", Linkname: "../../../etc/shadow", Typeflag: tar.TypeLink})
	for _, tc := range []struct{ name, expr, want string }{
		{"base without manifest.json", `dockerTools.buildImage { name = "x"; fromImage = pkgs.mk "no-manifest.tar" "tar -cf $out -C ${pkgs.hello} ."; }`, "it has no manifest.json"},
		{"name and tag not in the base", `dockerTools.buildImage { name = "x"; fromImage = images.base; fromImageName = "base"; fromImageTag = "v2"; }`, "no image base:v2 in the archive (fromImageName/fromImageTag); it holds base:v1"},
		{"path traversal in a base layer", fmt.Sprintf(`dockerTools.buildImage { name = "x"; fromImage = %s; }`, traversal), `entry "../../etc/evil" leaves the image's root`},
		{"hard link out of a base layer", fmt.Sprintf(`dockerTools.buildImage { name = "x"; fromImage = %s; }`, hardlink), `hard link "x": entry "../../../etc/shadow" leaves the image's root`},
		{"extraCommands fails", `dockerTools.buildImage { name = "x"; copyToRoot = pkgs.hello; extraCommands = "exit 4"; }`, "extraCommands failed with exit status 4"},
		{"directory replaced by a file", `dockerTools.buildImage { name = "x"; copyToRoot = [ pkgs.hello (pkgs.mk "flat" "mkdir $out; echo > $out/bin") ]; }`, "/bin is a directory in an earlier item of copyToRoot"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectBuildError(t, tc.expr, tc.want) })
	}
}

// Bases made by other tools: skopeo's docker-archive of an image umoci
// changed, and `docker save` of two images, of which fromImageName and
// fromImageTag pick one (either alone: the first).
func TestForeignBase(t *testing.T) {
	need(t)
	dir := t.TempDir()
	layout, bundle := filepath.Join(dir, "oci"), filepath.Join(dir, "bundle")
	must(t, "skopeo", "copy", "-q", "docker-archive:"+uncompressed(t, image(t, "base")), "oci:"+layout+":base")
	must(t, "umoci", "unpack", "--image", layout+":base", bundle)
	if err := os.WriteFile(filepath.Join(bundle, "rootfs/etc/umoci-file"), []byte("from-umoci\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, "umoci", "repack", "--image", layout+":umoci", bundle)
	must(t, "umoci", "config", "--image", layout+":umoci", "--config.env", "U=1")
	foreign := filepath.Join(dir, "foreign.tar")
	must(t, "skopeo", "copy", "-q", "oci:"+layout+":umoci", "docker-archive:"+foreign+":foreign/base:umoci")
	docker(t, "load", "-i", foreign)
	loadDocker(t, image(t, "base"))
	two := filepath.Join(dir, "two.tar")
	docker(t, "save", "-o", two, "base:v1", "foreign/base:umoci")

	build := func(t *testing.T, args string) string {
		t.Helper()
		expr := fmt.Sprintf(`dockerTools.buildImage ({ name = "on-foreign"; tag = "latest"; copyToRoot = images.helloEnv;
			config.Cmd = [ "/bin/sh" "-c" "echo A=$A U=$U; cat /etc/umoci-file 2>/dev/null || echo no-umoci-file; hello" ]; } // %s)`, args)
		return strings.TrimSpace(must(t, "nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", fixturesExpr(expr)))
	}
	umoci := "A=1 U=1\nfrom-umoci\n" + greeting
	t.Run("skopeo's archive", func(t *testing.T) {
		runBoth(t, build(t, fmt.Sprintf(`{ fromImage = %s; }`, foreign)), umoci)
	})
	t.Run("docker save, picked by name and tag", func(t *testing.T) {
		runBoth(t, build(t, fmt.Sprintf(`{ fromImage = %s; fromImageName = "foreign/base"; fromImageTag = "umoci"; }`, two)), umoci)
		runBoth(t, build(t, fmt.Sprintf(`{ fromImage = %s; fromImageName = "base"; fromImageTag = "v1"; }`, two)), "A=1 U=\nno-umoci-file\n"+greeting)
	})
	// pullImage writes the same kind of archive as skopeo.
	t.Run("runAsRoot on skopeo's archive", func(t *testing.T) {
		expr := fmt.Sprintf(`dockerTools.buildImage { name = "run-as-root-foreign"; tag = "latest"; fromImage = %s;
			runAsRoot = "rm /etc/umoci-file; echo added > /etc/added";
			config.Cmd = [ "/bin/sh" "-c" "cat /etc/added; test -e /etc/umoci-file || echo gone; echo U=$U" ]; }`, foreign)
		img := strings.TrimSpace(must(t, "nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", fixturesExpr(expr)))
		runBoth(t, img, "added\ngone\nU=1")
	})
	t.Run("docker save, name alone", func(t *testing.T) {
		var m []struct{ RepoTags []string }
		must(t, "tar", "-xf", two, "-C", dir, "manifest.json")
		b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err := json.Unmarshal(b, &m); err != nil || len(m) != 2 {
			t.Fatalf("docker save manifest: %v %s", err, b)
		}
		want := "A=1 U=\nno-umoci-file\n" + greeting
		if m[0].RepoTags[0] == "foreign/base:umoci" {
			want = umoci
		}
		runBoth(t, build(t, fmt.Sprintf(`{ fromImage = %s; fromImageName = "base"; }`, two)), want)
	})
}

// mergeImages: one docker load gives every tag, whatever each image's
// compressor.
func TestMergeImages(t *testing.T) {
	img := image(t, "merged")
	if !strings.HasSuffix(img, "-merge-docker-images") {
		t.Errorf("output %s", img)
	}
	tagless := strings.Trim(nixEval(t, fixturesExpr("images.image-tagless.imageTag")), `"`)
	want := []string{"hello:latest", "redis:zstd", "base:v1-none", "image-tagless:" + tagless}
	out := docker(t, "load", "-i", img)
	for _, ref := range want {
		if !strings.Contains(out, "Loaded image: "+ref+"\n") {
			t.Errorf("docker load did not load %s:\n%s", ref, out)
		}
	}
	if got := docker(t, "run", "--rm", "--network=none", "redis:zstd"); strings.TrimSpace(got) != "redis-server: Ready to accept connections in /data" {
		t.Errorf("redis from the merged archive: %q", got)
	}
	pout := podman(t, "load", "-i", img)
	for _, ref := range want {
		if !strings.Contains(pout, "localhost/"+ref) {
			t.Errorf("podman load did not load %s:\n%s", ref, pout)
		}
	}
}
