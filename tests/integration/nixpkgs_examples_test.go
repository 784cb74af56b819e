package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// nixpkgsExamples is tests/fixtures/nixpkgs-examples.nix: nixpkgs' own
// examples.nix, its dockerTools calls unchanged, over stand-in packages.
func nixpkgsExamples() string { return filepath.Join(h.fixtures, "nixpkgs-examples.nix") }

// Every example of nixpkgs' examples.nix builds with this nixlib, and the
// images with a command or a shell run in Docker and podman.
func TestNixpkgsExamples(t *testing.T) {
	need(t)
	file := nixpkgsExamples()

	var names []string
	out := nixEval(t, `{ builder }: builtins.attrNames (import `+file+` { inherit builder; })`)
	if err := json.Unmarshal([]byte(out), &names); err != nil {
		t.Fatalf("the examples' names: %v\n%s", err, out)
	}
	if len(names) < 60 {
		t.Fatalf("only %d examples: %v", len(names), names)
	}

	// The pulls need the internet: their calls must evaluate to
	// derivations, which are not built.
	must(t, "nix-instantiate", file, "--arg", "builder", h.builder,
		"-A", "nixFromDockerHub.pulled", "-A", "testNixFromDockerHub.pulled")

	// One nix-build of every example; the paths of those that built.
	paths := map[string]string{}
	args := []string{file, "--arg", "builder", h.builder, "--no-out-link", "--keep-going"}
	for _, n := range names {
		args = append(args, "-A", n)
	}
	cmd := exec.Command("nix-build", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err == nil {
		p := strings.Fields(string(stdout))
		if len(p) != len(names) {
			t.Fatalf("nix-build printed %d paths for %d examples", len(p), len(names))
		}
		for i, n := range names {
			paths[n] = p[i]
		}
	} else {
		var failed []string
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.HasPrefix(l, "error:") || (strings.Contains(l, "dockertools") && strings.Contains(l, "error")) {
				failed = append(failed, l)
			}
		}
		t.Errorf("not every example builds: %v\n%s", err, strings.Join(failed, "\n"))
	}

	// When the build failed, the outputs of the examples that built are in
	// the store all the same: their paths from one evaluation, if every
	// example evaluates.
	if len(paths) == 0 {
		var outs map[string]string
		r := execute(nil, "nix-instantiate", "--eval", "--json", "--strict", "--arg", "builder", h.builder, "-E",
			`{ builder }: builtins.mapAttrs (n: v: v.outPath) (import `+file+` { inherit builder; })`)
		if r.err == nil && json.Unmarshal([]byte(r.stdout), &outs) == nil {
			for n, p := range outs {
				if _, err := os.Stat(p); err == nil {
					paths[n] = p
				}
			}
		}
	}
	// path is an example's store path, the test skipped when it did not
	// build.
	path := func(t *testing.T, attr string) string {
		t.Helper()
		if p, ok := paths[attr]; ok {
			return p
		}
		t.Skipf("%s did not build", attr)
		return ""
	}
	// archive is the image itself, streamed when the example is a script.
	archive := func(t *testing.T, attr string) string {
		t.Helper()
		p := path(t, attr)
		if strings.Contains(filepath.Base(p), "-stream-") {
			p, _ = stream(t, p)
		}
		return p
	}

	// The images run as nixpkgs' docker-tools NixOS test runs them.
	runs := []struct {
		attr, want string
		cmd        []string
	}{
		{"bash", "bash runs", []string{"/bin/bash", "-c", "echo bash runs"}},
		{"redis", "redis-server: Ready to accept connections in /data", nil},
		// runAsRoot's healthcheck, written into the base's /bin.
		{"redis", "PONG", []string{"/bin/bash", "/bin/healthcheck"}},
		{"runAsRootExtraCommands", "(runAsRoot)\n(extraCommand)", []string{"/bin/cat", "/runAsRoot", "/extraCommands"}},
		{"runAsRootParentImage", "there", []string{"/bin/bash", "-c", "test -e /example-file && echo there"}},
		{"layered-image", greeting, nil},
		{"layered-on-top", "hello", nil},
		{"layersOrder", "layer1\nlayer2\nlayer3", []string{"/bin/cat", "/tmp/layer1", "/tmp/layer2", "/tmp/layer3"}},
		{"layersUnpackOrder", "abc", []string{"/bin/cat", "/layer-order"}},
		{"no-store-paths", "no store: 0", []string{"/bin/sh", "-c", "echo no store: $(ls /nix/store 2>/dev/null | wc -l)"}},
		{"filesInStore", "some data", nil},
		// A store path that is a symlink stays one, its target with it.
		{"layeredStoreSymlink", "Content doesn't matter.", []string{"/bin/bash", "-c", "for p in /nix/store/*-symlink; do test -L $p && echo \"$(< $p/dir/target)\"; done"}},
		// Store paths that only the customisation layer refers to (a link
		// fakeRootCommands made) are in the image.
		{"layeredImageWithFakeRootCommands", "1000\n" + greeting, []string{"/bin/sh", "-c", "stat -c %u /home/alice && /hello/bin/layeredImageWithFakeRootCommands-hello"}},
		{"imageViaFakeChroot", greeting, nil},
		{"etc", "127.0.0.1 localhost\n::1 localhost", nil},
		{"helloOnRoot", greeting, nil},
		{"image-with-certs", "-----BEGIN CERTIFICATE-----", []string{"/bin/head", "-n1", "/etc/ssl/certs/ca-certificates.crt"}},
		{"nix-shell-hook", "This is the shell hook!", nil},
		{"nix-shell-inputs", greeting, nil},
		{"nix-shell-run", "This shell is not interactive", nil},
		{"nix-shell-writable-home", "home directory is writable", nil},
		{"nix-shell-nonexistent-home", "home directory doesn't exist", nil},
		{"nix-shell-build-derivation", greeting, nil},
	}
	for _, r := range runs {
		t.Run(r.attr, func(t *testing.T) {
			t.Parallel()
			runBoth(t, archive(t, r.attr), r.want, r.cmd...)
		})
	}

	// The parent's Env, the child's added and overriding it (one after the
	// other: both images are child:latest).
	t.Run("environmentVariables", func(t *testing.T) {
		t.Parallel()
		for _, attr := range []string{"environmentVariables", "environmentVariablesLayered"} {
			img := archive(t, attr)
			for _, e := range engines() {
				r := e.run(nil, "--network=none", e.load(t, img), "/bin/env")
				if r.err != nil {
					t.Fatalf("%s %s: %v\n%s", attr, e.name, r.err, r.stderr)
				}
				env := strings.Split(strings.TrimSpace(r.stdout), "\n")
				for _, want := range []string{"FROM_PARENT=true", "FROM_CHILD=true", "LAST_LAYER=child"} {
					if !slices.Contains(env, want) {
						t.Errorf("%s %s: no %s in %q", attr, e.name, want, env)
					}
				}
			}
		}
	})

	// The user of the image's /etc/passwd.
	t.Run("bashLayeredWithUser", func(t *testing.T) {
		t.Parallel()
		img := archive(t, "bashLayeredWithUser")
		for _, e := range engines() {
			r := e.run(nil, "--network=none", "--user", "somebody", e.load(t, img), "/bin/bash", "-c", "id -u; id -un")
			if r.err != nil || strings.TrimSpace(r.stdout) != "999\nsomebody" {
				t.Errorf("%s --user somebody: %v %q %s", e.name, r.err, r.stdout, r.stderr)
			}
		}
	})

	// mergeImages: one `docker load` gives both images.
	t.Run("mergedBashAndRedis", func(t *testing.T) {
		t.Parallel()
		loaded := docker(t, "load", "-i", path(t, "mergedBashAndRedis"))
		for _, ref := range []string{"bash:latest", "redis:latest"} {
			if !strings.Contains(loaded, "Loaded image: "+ref+"\n") {
				t.Errorf("no %s in %q", ref, loaded)
			}
		}
	})

	// exportImage: the bash image's filesystem as one tar.
	t.Run("exportBash", func(t *testing.T) {
		t.Parallel()
		listing := must(t, "tar", "-tf", path(t, "exportBash"))
		if !slices.Contains(strings.Split(listing, "\n"), "./bin/bash") {
			t.Errorf("no ./bin/bash in the export:\n%s", tail(listing, 20))
		}
	})

	// created = "now".
	for _, attr := range []string{"unstableDate", "unstableDateLayered"} {
		t.Run(attr, func(t *testing.T) {
			t.Parallel()
			if c := skopeoConfig(t, path(t, attr)); c.Created == "1970-01-01T00:00:01Z" {
				t.Errorf("created is %s, not the build's time", c.Created)
			}
		})
	}
}
