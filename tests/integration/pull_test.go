package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// putIndex makes name:tag a multi-arch index of the given manifests
// (digest -> architecture) and returns its digest.
func (r *registry) putIndex(t *testing.T, name, tag string, arches map[string]string) string {
	t.Helper()
	type platform struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	}
	type desc struct {
		MediaType string   `json:"mediaType"`
		Size      int64    `json:"size"`
		Digest    string   `json:"digest"`
		Platform  platform `json:"platform"`
	}
	var ds []desc
	for _, d := range slices.Sorted(maps.Keys(arches)) {
		req, _ := http.NewRequest("GET", "http://"+r.addr+"/v2/"+name+"/manifests/"+d, nil)
		req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		ds = append(ds, desc{resp.Header.Get("Content-Type"), int64(body.Len()), d, platform{arches[d], "linux"}})
	}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "manifests": ds})
	req, _ := http.NewRequest("PUT", "http://"+r.addr+"/v2/"+name+"/manifests/"+tag, bytes.NewReader(idx))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.list.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT index: %v %v", err, resp)
	}
	resp.Body.Close()
	sum := sha256.Sum256(idx)
	return "sha256:" + hex.EncodeToString(sum[:])
}

type prefetched struct {
	ImageName, ImageDigest, Hash, FinalImageName, FinalImageTag string
}

// prefetch runs the builder's prefetch command (nix-prefetch-docker) with
// --json and returns what it printed.
func prefetch(t *testing.T, args ...string) (prefetched, string) {
	t.Helper()
	cmd := exec.Command(h.builder, append([]string{"prefetch", "--json", "--tls-verify=false"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("prefetch %v: %v\n%s", args, err, stderr.String())
	}
	var p prefetched
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
		t.Fatalf("prefetch output: %v\n%s", err, stdout.String())
	}
	return p, stderr.String()
}

func pullExpr(p prefetched, extra string) string {
	return fmt.Sprintf(`dockerTools.pullImage { imageName = %q; imageDigest = %q; hash = %q; finalImageName = %q; finalImageTag = %q; tlsVerify = false; %s }`,
		p.ImageName, p.ImageDigest, p.Hash, p.FinalImageName, p.FinalImageTag, extra)
}

func nixBuild(t *testing.T, expr string) string {
	t.Helper()
	return strings.TrimSpace(must(t, "nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", fixturesExpr(expr)))
}

// pullImage from a real registry, inside the Nix sandbox, pinned by what
// the prefetch command printed: the same bytes (so the same store path),
// loadable, usable as a base; the platform picked from a multi-arch index.
func TestPullImage(t *testing.T) {
	r := startRegistry(t, "plain", "")
	amd := r.push(t, image(t, "hello-layered"), "hello:amd64")
	arm := r.push(t, image(t, "arch-arm64"), "hello:arm64")
	index := r.putIndex(t, "hello", "multi", map[string]string{amd: "amd64", arm: "arm64"})

	p, log := prefetch(t, r.addr+"/hello", "multi")
	if p.ImageDigest != index || p.FinalImageTag != "multi" || p.FinalImageName != r.addr+"/hello" || !strings.HasPrefix(p.Hash, "sha256-") {
		t.Fatalf("prefetch printed %+v, want the index digest %s", p, index)
	}
	m := regexp.MustCompile(`-> ImagePath: (\S+)`).FindStringSubmatch(log)
	// As nixpkgs' script: the log line in Nix's base32, the result in SRI.
	nix32 := strings.TrimSpace(must(t, "nix", "hash", "to-base32", p.Hash))
	if m == nil || !strings.Contains(log, "-> ImageDigest: "+index) || !strings.Contains(log, "-> ImageHash: "+nix32+"\n") {
		t.Fatalf("prefetch log:\n%s", log)
	}
	pulled := nixBuild(t, pullExpr(p, ""))
	if pulled != m[1] {
		t.Errorf("pullImage built %s, prefetch added %s: not the same bytes", pulled, m[1])
	}
	if want := "-docker-image-" + strings.ReplaceAll(r.addr, ":", "-") + "-hello-multi.tar"; !strings.HasSuffix(pulled, want) {
		t.Errorf("pulled image %s is not named ...%s", pulled, want)
	}
	runBoth(t, pulled, greeting)
	if c := skopeoConfig(t, pulled); c.Architecture != "amd64" {
		t.Errorf("the index gave %s, want amd64", c.Architecture)
	}

	t.Run("arm64 from the index", func(t *testing.T) {
		pa, _ := prefetch(t, "--arch", "arm64", "--image-digest", index, "--final-image-tag", "arm", r.addr+"/hello")
		img := nixBuild(t, pullExpr(pa, `arch = "arm64";`))
		if c := skopeoConfig(t, img); c.Architecture != "arm64" {
			t.Errorf("architecture %s", c.Architecture)
		}
	})
	t.Run("a manifest digest, as the base of new images", func(t *testing.T) {
		pm, _ := prefetch(t, "--image-digest", amd, "--final-image-name", "pulled/hello", r.addr+"/hello")
		if pm.FinalImageTag != "latest" {
			t.Errorf("final tag %q, want latest", pm.FinalImageTag)
		}
		base := fmt.Sprintf("(%s)", pullExpr(pm, ""))
		runBoth(t, nixBuild(t, `dockerTools.buildImage { name = "on-pulled"; tag = "latest"; fromImage = `+base+`; config.Cmd = [ "/bin/hello" ]; }`), greeting)
		runBoth(t, nixBuild(t, `dockerTools.buildLayeredImage { name = "layered-on-pulled"; tag = "latest"; fromImage = `+base+`; contents = [ pkgs.busybox ]; config.Cmd = [ "/bin/hello" ]; }`), greeting)
	})
	t.Run("sha256 instead of hash", func(t *testing.T) {
		nix32 := strings.TrimSpace(must(t, "nix", "--extra-experimental-features", "nix-command", "hash", "to-base32", p.Hash))
		expr := fmt.Sprintf(`dockerTools.pullImage { imageName = %q; imageDigest = %q; sha256 = %q; finalImageName = %q; finalImageTag = %q; tlsVerify = false; }`,
			p.ImageName, p.ImageDigest, nix32, p.FinalImageName, p.FinalImageTag)
		if got := nixBuild(t, expr); got != pulled {
			t.Errorf("with sha256: %s, with hash: %s", got, pulled)
		}
	})
	t.Run("reproducible", func(t *testing.T) {
		must(t, "nix-build", "--no-out-link", "--check", "--arg", "builder", h.builder, "-E", fixturesExpr(pullExpr(p, "")))
	})
	t.Run("bad input", func(t *testing.T) {
		zero := "sha256:" + strings.Repeat("0", 64)
		for _, tc := range []struct{ name, expr, want string }{
			{"digest not in the registry", pullExpr(prefetched{r.addr + "/hello", zero, p.Hash, "x", "y"}, ""), "MANIFEST_UNKNOWN"},
			{"wrong hash", pullExpr(prefetched{p.ImageName, p.ImageDigest, "sha256-" + strings.Repeat("A", 43) + "=", "x", "y"}, ""), "hash mismatch"},
			// (Another name: with the same name and hash, Nix would reuse the amd64 pull.)
			{"platform not in the index", pullExpr(prefetched{p.ImageName, p.ImageDigest, p.Hash, "x", "s390x"}, `arch = "s390x";`), "no linux/s390x image in index"},
			{"registry down", pullExpr(prefetched{"127.0.0.1:1/hello", p.ImageDigest, p.Hash, "x", "y"}, ""), "127.0.0.1:1"},
		} {
			t.Run(tc.name, func(t *testing.T) { expectBuildError(t, tc.expr, tc.want) })
		}
	})
}

// The prefetch command's Nix output is a ready pullImage argument.
func TestPrefetchNixOutput(t *testing.T) {
	r := startRegistry(t, "plain", "")
	r.push(t, image(t, "redis"), "redis:latest")
	// Installed under the name of nixpkgs' tool, the builder is that tool.
	tool := filepath.Join(t.TempDir(), "nix-prefetch-docker")
	if err := os.Symlink(h.builder, tool); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, "--quiet", r.addr+"/redis", "--tls-verify=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("prefetch: %v\n%s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("--quiet printed on stderr: %s", stderr.String())
	}
	if !regexp.MustCompile(`^\{\n  imageName = "[^"]+/redis";\n  imageDigest = "sha256:[0-9a-f]{64}";\n  hash = "sha256-[A-Za-z0-9+/]{43}=";\n  finalImageName = "[^"]+/redis";\n  finalImageTag = "latest";\n\}\n$`).Match(out) {
		t.Fatalf("prefetch printed:\n%s", out)
	}
	runBoth(t, nixBuild(t, "dockerTools.pullImage ("+string(out)+" // { tlsVerify = false; })"), "redis-server: Ready to accept connections in /data")

	// --json: nixpkgs' keys, in its order.
	js := must(t, tool, "--quiet", "--json", r.addr+"/redis", "--tls-verify=false")
	if !regexp.MustCompile(`^\{\n  "imageName": "[^"]+/redis",\n  "imageDigest": "sha256:[0-9a-f]{64}",\n  "hash": "sha256-[A-Za-z0-9+/]{43}=",\n  "finalImageName": "[^"]+/redis",\n  "finalImageTag": "latest"\n\}\n$`).MatchString(js) {
		t.Errorf("prefetch --json printed:\n%s", js)
	}
}

// A registry that needs a login: the credentials come from a Docker
// config.json that DOCKER_CONFIG names (an impure variable of pullImage),
// made visible in the sandbox; they reach neither the store nor the log.
func TestPullImageAuth(t *testing.T) {
	need(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "htpasswd")
	must(t, "htpasswd", "-Bbc", users, "tester", "s3cret-pass")
	r := startRegistry(t, "auth", users)
	digest := r.push(t, image(t, "hello-layered"), "private/hello:v1", "tester:s3cret-pass")

	cfgDir := filepath.Join(dir, "docker-config")
	os.Mkdir(cfgDir, 0o755)
	auth := base64.StdEncoding.EncodeToString([]byte("tester:s3cret-pass"))
	cfgFile := filepath.Join(cfgDir, "config.json")
	os.WriteFile(cfgFile, []byte(`{"auths":{"`+r.addr+`":{"auth":"`+auth+`"}}}`), 0o640)
	// Readable by Nix's build users, and nobody else.
	must(t, "chgrp", "nixbld", cfgFile)

	withCreds := append(os.Environ(), "DOCKER_CONFIG="+cfgDir, "NIX_CONFIG="+nixConfig+"extra-sandbox-paths = "+cfgDir+"\n")
	pre := exec.Command(h.builder, "prefetch", "--json", "--tls-verify=false", "--image-digest", digest, r.addr+"/private/hello")
	pre.Env = withCreds
	var stderr bytes.Buffer
	pre.Stderr = &stderr
	out, err := pre.Output()
	if err != nil {
		t.Fatalf("prefetch with credentials: %v\n%s", err, stderr.String())
	}
	var p prefetched
	json.Unmarshal(out, &p)
	// A path of its own (another name): the prefetch already added the usual one.
	expr := fixturesExpr(pullExpr(p, `name = "auth-pull.tar";`))

	build := exec.Command("nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", expr)
	build.Env = withCreds
	var log bytes.Buffer
	build.Stderr = &log
	img, err := build.Output()
	if err != nil {
		t.Fatalf("pullImage with credentials: %v\n%s", err, log.String())
	}
	runBoth(t, strings.TrimSpace(string(img)), greeting)
	drv := strings.Trim(nixEval(t, fixturesExpr("("+pullExpr(p, `name = "auth-pull.tar";`)+").drvPath")), `"`)
	for _, f := range []string{drv, strings.TrimSpace(string(img))} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte("s3cret")) || bytes.Contains(b, []byte(auth)) {
			t.Errorf("%s holds the credentials", f)
		}
	}
	if strings.Contains(log.String()+stderr.String(), "s3cret") || strings.Contains(log.String(), auth) {
		t.Errorf("the log shows the credentials")
	}

	// Without them, the build fails and says why, still without secrets.
	r2 := execute(nil, "nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", fixturesExpr(pullExpr(p, `name = "no-auth-pull.tar";`)))
	if r2.err == nil || !strings.Contains(r2.stderr, "401") && !strings.Contains(strings.ToLower(r2.stderr), "unauthorized") {
		t.Errorf("pull without credentials: %v\n%s", r2.err, tail(r2.stderr, 10))
	}
}
