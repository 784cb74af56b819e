package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// registry is a distribution registry (Debian's docker-registry) on
// loopback, started once per run by the first test that needs it.
type registry struct {
	addr string // host:port
	cmd  *exec.Cmd
}

var registries struct {
	mu   sync.Mutex
	open map[string]*registry // by name: "plain", "auth"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startRegistry starts (or returns) the registry of that name; htpasswd,
// when given, is a file of users it requires.
func startRegistry(t *testing.T, name, htpasswd string) *registry {
	t.Helper()
	need(t)
	registries.mu.Lock()
	defer registries.mu.Unlock()
	if r := registries.open[name]; r != nil {
		return r
	}
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatalf("docker-registry is not installed (scripts/install-deps.sh installs it)")
	}
	dir := filepath.Join(h.tmp, "registry-"+name)
	os.MkdirAll(dir, 0o755)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	auth := ""
	if htpasswd != "" {
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: test\n    path: %s\n", htpasswd)
	}
	cfg := filepath.Join(dir, "config.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%d\n%s",
		filepath.Join(dir, "data"), port, auth)), 0o644)
	logf, _ := os.Create(filepath.Join(dir, "registry.log"))
	r := &registry{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	r.cmd = exec.Command("docker-registry", "serve", cfg)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + r.addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("docker-registry did not start: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if registries.open == nil {
		registries.open = map[string]*registry{}
	}
	registries.open[name] = r
	return r
}

func stopRegistries() {
	registries.mu.Lock()
	defer registries.mu.Unlock()
	for _, r := range registries.open {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// push copies an image archive to the registry as name:tag and returns the
// manifest's digest.
func (r *registry) push(t *testing.T, img, ref string, creds ...string) string {
	t.Helper()
	args := []string{"copy", "-q", "--dest-tls-verify=false"}
	if len(creds) > 0 {
		args = append(args, "--dest-creds", creds[0])
	}
	digestFile := filepath.Join(t.TempDir(), "digest")
	args = append(args, "--digestfile", digestFile, "docker-archive:"+uncompressed(t, img), "docker://"+r.addr+"/"+ref)
	must(t, "skopeo", args...)
	d, err := os.ReadFile(digestFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(d))
}
