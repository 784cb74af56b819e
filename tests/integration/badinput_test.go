package integration

import (
	"os"
	"strings"
	"testing"
)

// Bad arguments are evaluation errors that say what is wrong.
func TestEvaluationErrors(t *testing.T) {
	need(t)
	for _, tc := range []struct{ name, expr, want string }{
		{"unknown compressor", `dockerTools.buildLayeredImage { name = "x"; compressor = "xz"; }`, `compressor must be one of none, gz, zstd; got "xz"`},
		{"maxLayers 1", `dockerTools.streamLayeredImage { name = "x"; maxLayers = 1; }`, "maxLayers must be a number greater than 1, got 1"},
		{"fakeRootCommands not a string", `dockerTools.streamLayeredImage { name = "x"; fakeRootCommands = [ "chown 1 /x" ]; }`, "fakeRootCommands must be a string (a script), got list"},
		{"enableFakechroot not a boolean", `dockerTools.buildLayeredImage { name = "x"; enableFakechroot = "yes"; }`, "enableFakechroot must be true or false"},
		{"fakeRootCommands without a shell", `(import ` + h.repo + `/nixlib { inherit builder; }).streamLayeredImage { name = "x"; fakeRootCommands = "chown 1 a"; }`, "`fakeRootCommands` needs a shell"},
		{"includeNixDB not a boolean", `dockerTools.buildLayeredImage { name = "x"; includeNixDB = "yes"; }`, "includeNixDB must be true or false"},
		{"pullImage: digest", `dockerTools.pullImage { imageName = "x"; imageDigest = "latest"; hash = ""; }`, `imageDigest must be "sha256:" and 64 hexadecimal digits, got "latest"`},
		{"pullImage: hash and sha256", `dockerTools.pullImage { imageName = "x"; imageDigest = "sha256:` + strings.Repeat("0", 64) + `"; hash = "a"; sha256 = "b"; }`, "give either `hash` or `sha256`, not both"},
		{"mergeImages of nothing", `dockerTools.mergeImages [ ]`, "mergeImages: expects a non-empty list of images"},
		{"buildImage: contents and copyToRoot", `dockerTools.buildImage { name = "x"; contents = pkgs.hello; copyToRoot = pkgs.hello; }`, "`contents` and `copyToRoot` are both set"},
		{"buildImage: runAsRoot not a string", `dockerTools.buildImage { name = "x"; runAsRoot = [ "mkdir /data" ]; }`, "runAsRoot must be a string (a script) or null, got list"},
		{"buildImage: runAsRoot without a kernel", `(import ` + h.repo + `/nixlib { inherit builder; scriptTools = [ pkgs.busybox ]; qemu = pkgs.qemu; }).buildImage { name = "x"; runAsRoot = "mkdir /data"; }`, "runAsRoot boots a VM: pass `vmKernel`"},
		{"buildImage: runAsRoot without qemu", `(import ` + h.repo + `/nixlib { inherit builder; scriptTools = [ pkgs.busybox ]; vmKernel = pkgs.vmKernel; }).buildImage { name = "x"; runAsRoot = "mkdir /data"; }`, "runAsRoot boots a VM: pass `qemu`"},
		{"buildImage: runAsRoot without a shell", `(import ` + h.repo + `/nixlib { inherit builder; inherit (pkgs) vmKernel qemu; }).buildImage { name = "x"; runAsRoot = "mkdir /data"; }`, "`runAsRoot` needs a shell"},
		{"buildImage: runAsRootTimeout", `dockerTools.buildImage { name = "x"; runAsRoot = "true"; runAsRootTimeout = 0; }`, "runAsRootTimeout must be a positive number of seconds, got 0"},
		{"buildImage: compressor", `dockerTools.buildImage { name = "x"; compressor = "bz2"; }`, `dockerTools.buildImage: compressor must be one of none, gz, zstd; got "bz2"`},
		{"buildImage: uid", `dockerTools.buildImage { name = "x"; uid = -1; }`, "dockerTools.buildImage: uid must be a number from 0 to 4294967294, got -1"},
		{"buildImage: diskSize", `dockerTools.buildImage { name = "x"; diskSize = "big"; }`, "diskSize must be a positive number of megabytes"},
		{"buildImage: unknown attribute", `dockerTools.buildImage { name = "x"; copyToRot = [ ]; }`, "unexpected argument 'copyToRot'"},
		{"buildImage: extraCommands without a shell", `(import ` + h.repo + `/nixlib { inherit builder; }).buildImage { name = "x"; extraCommands = "mkdir a"; }`, "`extraCommands` needs a shell"},
		{"nix-shell: drv not a derivation", `dockerTools.streamNixShellImage { drv = { name = "x"; }; }`, "streamNixShellImage: drv must be a derivation"},
		{"nix-shell: command and run", `dockerTools.streamNixShellImage { drv = pkgs.greeter; command = "a"; run = "b"; }`, "give `command` or `run`, not both"},
		{"nix-shell: fixed-output", `dockerTools.streamNixShellImage { drv = derivation { name = "f"; system = "x86_64-linux"; builder = "/b"; outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; outputHashMode = "flat"; }; }`, "drv is a fixed-output derivation"},
		{"nix-shell: structured attrs", `dockerTools.buildNixShellImage { drv = derivation { name = "s"; system = "x86_64-linux"; builder = "/b"; __structuredAttrs = true; }; }`, "drv uses __structuredAttrs"},
		{"nix-shell: homeDirectory", `dockerTools.streamNixShellImage { drv = pkgs.greeter; homeDirectory = "build"; }`, "homeDirectory must be an absolute path"},
		{"caCertificates without cacert", `(import ` + h.repo + `/nixlib { inherit builder; }).caCertificates.drvPath`, "dockerTools.caCertificates: pass `cacert` (a package with etc/ssl/certs/ca-bundle.crt) or `pkgs` to nixlib"},
		{"shadowSetup without shadow", `(import ` + h.repo + `/nixlib { inherit builder; }).shadowSetup`, "dockerTools.shadowSetup: pass `shadow`"},
		{"binSh without tools", `(import ` + h.repo + `/nixlib { inherit builder; }).binSh.drvPath`, "dockerTools.binSh: pass `scriptTools`"},
		{"config not a set", `dockerTools.streamLayeredImage { name = "x"; config = [ ]; }`, "config must be an attribute set or null"},
		{"extraCommands without a shell", `(import ` + h.repo + `/nixlib { inherit builder; }).streamLayeredImage { name = "x"; extraCommands = "mkdir a"; }`, "`extraCommands` needs a shell"},
		{"unknown attribute", `dockerTools.streamLayeredImage { name = "x"; contnets = [ ]; }`, "unexpected argument 'contnets'"},
		// Engines refuse these at load time; they fail at evaluation, naming the key.
		{"config.Cmd a string", `dockerTools.buildLayeredImage { name = "x"; config.Cmd = "/bin/hello"; }`, "dockerTools.streamLayeredImage: config.Cmd must be a list of strings, got a string"},
		{"config.Entrypoint of numbers", `dockerTools.buildImage { name = "x"; config.Entrypoint = [ "/bin/sh" 1 ]; }`, "dockerTools.buildImage: config.Entrypoint must be a list of strings, got a list holding a number"},
		{"config.Env a set", `dockerTools.streamLayeredImage { name = "x"; config.Env = { A = "1"; }; }`, "config.Env must be a list of strings, got an attribute set"},
		{"config.Volumes a list", `dockerTools.streamLayeredImage { name = "x"; config.Volumes = [ "/data" ]; }`, "config.Volumes must be an attribute set of attribute sets"},
		{"config.ExposedPorts of strings", `dockerTools.buildImage { name = "x"; config.ExposedPorts = { "80/tcp" = "yes"; }; }`, "config.ExposedPorts must be an attribute set of attribute sets"},
		{"config.Labels of lists", `dockerTools.streamLayeredImage { name = "x"; config.Labels = { a = [ ]; }; }`, "config.Labels must be an attribute set of strings"},
		{"config.User a number", `dockerTools.streamLayeredImage { name = "x"; config.User = 1000; }`, "config.User must be a string, got a number"},
		{"variant not a string", `dockerTools.buildLayeredImage { name = "x"; variant = 8; }`, "variant must be a string"},
		{"pullImage: variant", `dockerTools.pullImage { imageName = "x"; imageDigest = "sha256:` + strings.Repeat("0", 64) + `"; hash = ""; variant = true; }`, "dockerTools.pullImage: variant must be a string"},
		{"layeringPipeline not a list", `dockerTools.streamLayeredImage { name = "x"; layeringPipeline = "popularity_contest"; }`, "layeringPipeline must be a list of steps"},
		{"layering unknown", `dockerTools.streamLayeredImage { name = "x"; layering = "size"; }`, `layering must be "auto" or "popularity", got "size"`},
		// Docker's reference grammar, which docker load and podman enforce.
		{"tag with a colon", `dockerTools.buildLayeredImage { name = "x"; tag = "v1:v2"; }`, `tag must be null or a tag Docker accepts`},
		{"tag with a slash", `dockerTools.buildImage { name = "x"; tag = "a/b"; }`, `dockerTools.buildImage: tag must be null or a tag Docker accepts`},
		{"name with a space", `dockerTools.streamLayeredImage { name = "my image"; }`, `name must be an image name Docker accepts`},
		{"name of 300 characters", `dockerTools.buildImage { name = "` + strings.Repeat("a", 300) + `"; }`, `at most 255 characters`},
		{"pullImage: finalImageTag", `dockerTools.pullImage { imageName = "x"; imageDigest = "sha256:` + strings.Repeat("0", 64) + `"; hash = ""; finalImageTag = "-x"; }`, `finalImageTag must be null or a tag Docker accepts`},
		{"uid of 2^32", `dockerTools.streamLayeredImage { name = "x"; uid = 4294967296; }`, `uid must be a number from 0 to 4294967294, got 4294967296`},
		{"config.Cmd a number", `dockerTools.buildLayeredImage { name = "x"; config.Cmd = 5; }`, `config.Cmd must be a list of strings, got a number`},
		{"debug not a boolean", `dockerTools.streamLayeredImage { name = "x"; debug = 1; }`, "debug must be true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := execute(nil, "nix-instantiate", "--arg", "builder", h.builder, "-E", fixturesExpr(tc.expr))
			if r.err == nil || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("nix-instantiate: %v, stderr:\n%s\nwant it to contain %q", r.err, r.stderr, tc.want)
			}
		})
	}
}

// A build that fails says why, and leaves no output in the store.
func TestBuildErrors(t *testing.T) {
	need(t)
	for _, tc := range []struct{ name, expr, want string }{
		{"fromImage not an image", `dockerTools.streamLayeredImage { name = "x"; fromImage = builtins.toFile "not-an-image.tar" "hello"; }`, "not a docker-archive"},
		{"fromImage a directory", `dockerTools.buildLayeredImage { name = "x"; fromImage = pkgs.libunistring; }`, "not a docker-archive"},
		{"extraCommands fails", `dockerTools.streamLayeredImage { name = "x"; extraCommands = "echo going wrong >&2; exit 3"; }`, "extraCommands failed with exit status 3"},
		{"fakeRootCommands fails in the chroot", `dockerTools.streamLayeredImage { name = "x"; enableFakechroot = true; fakeRootCommands = "mkdir /a; chown 5 /missing"; }`, "fakeRootCommands failed with exit status 1"},
		{"nix-shell: no bash", `dockerTools.streamNixShellImage { drv = pkgs.greeter; }`, "/bin/bash does not exist: pass `shell` (a bash)"},
		{"maxLayers below the base", `dockerTools.streamLayeredImage { name = "x"; fromImage = images.on-base; maxLayers = 5; contents = [ pkgs.hello ]; }`, `"maxLayers" (5) leaves no layer for store paths`},
	} {
		t.Run(tc.name, func(t *testing.T) { expectBuildError(t, tc.expr, tc.want) })
	}
}

// expectBuildError builds expr (over the fixtures) and checks that the build
// fails saying want, and leaves no output in the store; it returns the
// build's log.
func expectBuildError(t *testing.T, expr, want string) string {
	t.Helper()
	out := strings.Trim(nixEval(t, fixturesExpr("("+expr+").outPath")), `"`)
	r := execute(nil, "nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", fixturesExpr(expr))
	if r.err == nil || !strings.Contains(r.stderr, want) {
		t.Fatalf("nix-build: %v, stderr:\n%s\nwant it to contain %q", r.err, tail(r.stderr, 20), want)
	}
	if _, err := os.Lstat(out); err == nil {
		t.Errorf("failed build left %s", out)
	}
	return r.stderr
}
