package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// nixConfig is the configuration every nix command of the tests runs with:
// sandboxed builds, and no binary cache to wait for.
const nixConfig = "sandbox = true\nsandbox-fallback = false\nsubstituters =\nexperimental-features = nix-command flakes\n"

var h struct {
	repo     string // the repository root
	tmp      string
	builder  string // the static dockertools binary
	fixtures string // tests/fixtures
	skip     string // why the suite cannot run here
	docker   *dockerd
	podman   []string // podman with the run's private storage

	mu     sync.Mutex
	images map[string]string // fixture attribute -> store path
}

var required = []string{"nix-build", "nix-instantiate", "dockerd", "/usr/bin/docker", "podman", "skopeo", "go"}

func TestMain(m *testing.M) {
	code := func() int {
		if err := setup(); err != nil {
			if os.Getenv("CI") == "" {
				h.skip = err.Error()
			} else {
				fmt.Fprintln(os.Stderr, "integration setup:", err)
				return 1
			}
		}
		defer teardown()
		return m.Run()
	}()
	os.Exit(code)
}

func setup() error {
	for _, t := range required {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s is not installed (run .ci/run, or scripts/install-deps.sh)", t)
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("the integration tests need root (a Nix store, dockerd)")
	}
	_, file, _, _ := runtime.Caller(0)
	h.repo = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	h.fixtures = filepath.Join(h.repo, "tests", "fixtures")
	var err error
	if h.tmp, err = os.MkdirTemp("", "dockertools-it-"); err != nil {
		return err
	}
	os.Setenv("NIX_CONFIG", nixConfig)
	h.builder = filepath.Join(h.tmp, "dockertools")
	build := exec.Command("go", "build", "-trimpath", "-o", h.builder, "./builder")
	build.Dir = h.repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the builder: %v\n%s", err, out)
	}
	if h.docker, err = startDockerd(filepath.Join(h.tmp, "docker")); err != nil {
		return err
	}
	// The scripts' podman settings (a machine without systemd), whatever
	// /etc/containers holds.
	os.Setenv("CONTAINERS_CONF", filepath.Join(h.repo, "scripts", "containers.conf"))
	h.podman = []string{"podman", "--root", filepath.Join(h.tmp, "podman", "root"),
		"--runroot", filepath.Join(h.tmp, "podman", "run"), "--storage-driver", "vfs"}
	h.images = map[string]string{}
	return buildFixtures(slices.Concat(allFixtures, buildImageFixtures, fakeRootFixtures, runAsRootFixtures, nixShellFixtures, helperFixtures)...)
}

func teardown() {
	stopRegistries()
	if h.docker != nil {
		h.docker.stop()
	}
	if h.tmp != "" && len(h.podman) > 0 {
		exec.Command(h.podman[0], append(h.podman[1:], "system", "reset", "--force")...).Run()
	}
	if h.tmp != "" {
		os.RemoveAll(h.tmp)
	}
}

// need skips the test when the suite cannot run on this machine.
func need(t *testing.T) {
	t.Helper()
	if h.skip != "" {
		t.Skip(h.skip)
	}
}

// buildFixtures builds fixture attributes in one nix-build, so Nix builds
// them in parallel, and records their store paths.
func buildFixtures(attrs ...string) error {
	args := []string{filepath.Join(h.fixtures, "images.nix"), "--arg", "builder", h.builder, "--no-out-link"}
	for _, a := range attrs {
		args = append(args, "-A", a)
	}
	cmd := exec.Command("nix-build", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("nix-build of the fixtures: %v\n%s", err, tail(stderr.String(), 40))
	}
	paths := strings.Fields(string(out))
	if len(paths) != len(attrs) {
		return fmt.Errorf("nix-build printed %d paths for %d attributes", len(paths), len(attrs))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, a := range attrs {
		h.images[a] = paths[i]
	}
	return nil
}

// image returns the store path of a fixture built by setup.
func image(t *testing.T, attr string) string {
	t.Helper()
	need(t)
	h.mu.Lock()
	p, ok := h.images[attr]
	h.mu.Unlock()
	if !ok {
		t.Fatalf("fixture %s was not built (add it to allFixtures)", attr)
	}
	return p
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// result is what a command did.
type result struct {
	stdout, stderr string
	err            error
}

func execute(stdin []byte, name string, args ...string) result {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return result{o.String(), e.String(), err}
}

// must runs a command and fails the test when it fails.
func must(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := execute(nil, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), r.err, tail(r.stdout, 20), tail(r.stderr, 30))
	}
	return r.stdout
}

// nixEval evaluates an expression over the fixtures to JSON text.
func nixEval(t *testing.T, expr string) string {
	t.Helper()
	return strings.TrimSpace(must(t, "nix-instantiate", "--eval", "--json", "--strict",
		"--arg", "builder", h.builder, "-E", expr))
}

// fixturesExpr wraps an expression so that `images` and `pkgs` are in scope.
func fixturesExpr(body string) string {
	return fmt.Sprintf(`{ builder }: let images = import %s/images.nix { inherit builder; }; pkgs = import %s/pkgs.nix { }; dockerTools = import %s/nixlib { inherit builder; scriptTools = [ pkgs.busybox ]; inherit (pkgs) vmKernel qemu shadow cacert; }; in %s`,
		h.fixtures, h.fixtures, h.repo, body)
}

type dockerd struct {
	dir  string
	sock string
	cmd  *exec.Cmd
}

func startDockerd(dir string) (*dockerd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	d := &dockerd{dir: dir, sock: filepath.Join(dir, "docker.sock")}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command("dockerd", "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", "unix://"+d.sock, "--pidfile", filepath.Join(dir, "docker.pid"),
		"--storage-driver", "vfs", "--iptables=false", "--ip-masq=false", "--bridge=none",
		"--default-ulimit", "nofile=1024:1024", "--default-ulimit", "nproc=1024:1024")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting dockerd: %w", err)
	}
	for i := 0; i < 120; i++ {
		if r := execute(nil, "/usr/bin/docker", "-H", "unix://"+d.sock, "version"); r.err == nil {
			return d, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	d.stop()
	log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
	return nil, fmt.Errorf("dockerd did not start:\n%s", tail(string(log), 20))
}

func (d *dockerd) stop() {
	if d.cmd.Process != nil {
		d.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
		}
	}
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	return must(t, "/usr/bin/docker", append([]string{"-H", "unix://" + h.docker.sock}, args...)...)
}

func podman(t *testing.T, args ...string) string {
	t.Helper()
	return must(t, h.podman[0], append(h.podman[1:], args...)...)
}
