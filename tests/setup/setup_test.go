package setup

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func repo(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("these tests need root (useradd, mount namespaces)")
	}
	t.Skip("needs root")
}

// fakeEtc copies the machine's account databases into DIR/etc without any
// nixbld entries: a machine as Debian's nix-bin leaves it.
func fakeEtc(t *testing.T, extra map[string][]string) string {
	t.Helper()
	prefix := t.TempDir()
	etc := filepath.Join(prefix, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"passwd", "group", "shadow", "gshadow"} {
		data, err := os.ReadFile(filepath.Join("/etc", name))
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if line != "" && !strings.HasPrefix(line, "nixbld") {
				keep = append(keep, line)
			}
		}
		for _, line := range extra[name] {
			keep = append(keep, line+"\n")
		}
		if err := os.WriteFile(filepath.Join(etc, name), []byte(strings.Join(keep, "")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return prefix
}

// entries maps the names in an account database to their lines' fields.
func entries(t *testing.T, prefix, db string) map[string][][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(prefix, "etc", db))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, ":")
		out[f[0]] = append(out[f[0]], f)
	}
	return out
}

func buildUsers(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repo(t), "scripts", "nix-build-users.sh"), args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func snapshot(t *testing.T, prefix string) map[string][]byte {
	t.Helper()
	s := map[string][]byte{}
	for _, name := range []string{"passwd", "group", "shadow", "gshadow"} {
		data, err := os.ReadFile(filepath.Join(prefix, "etc", name))
		if err != nil {
			t.Fatal(err)
		}
		s[name] = data
	}
	return s
}

func TestBuildUsers(t *testing.T) {
	needRoot(t)
	prefix := fakeEtc(t, nil)
	out, err := buildUsers(t, "--prefix", prefix, "--count", "8")
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	first := snapshot(t, prefix)
	out, err = buildUsers(t, "--prefix", prefix, "--count", "8")
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if out != "" {
		t.Errorf("second run printed %q, want nothing (nothing to add)", out)
	}
	for name, data := range snapshot(t, prefix) {
		if !bytes.Equal(data, first[name]) {
			t.Errorf("second run changed etc/%s", name)
		}
	}

	groups := entries(t, prefix, "group")
	if n := len(groups["nixbld"]); n != 1 {
		t.Fatalf("group nixbld appears %d times, want once", n)
	}
	g := groups["nixbld"][0]
	if g[2] != "30000" {
		t.Errorf("gid of nixbld = %s, want 30000", g[2])
	}
	var want []string
	users := entries(t, prefix, "passwd")
	for i := 1; i <= 8; i++ {
		name := fmt.Sprintf("nixbld%d", i)
		want = append(want, name)
		if n := len(users[name]); n != 1 {
			t.Errorf("%s appears %d times in passwd, want once", name, n)
			continue
		}
		u := users[name][0]
		if got, w := u[2], fmt.Sprint(30000+i); got != w {
			t.Errorf("%s: uid %s, want %s", name, got, w)
		}
		if u[3] != g[2] || u[5] != "/var/empty" || u[6] != "/usr/sbin/nologin" {
			t.Errorf("%s: gid/home/shell %s %s %s, want %s /var/empty /usr/sbin/nologin", name, u[3], u[5], u[6], g[2])
		}
		if n := len(entries(t, prefix, "shadow")[name]); n != 1 {
			t.Errorf("%s appears %d times in shadow, want once", name, n)
		}
	}
	if got := strings.Split(g[3], ","); !slices.Equal(got, want) {
		t.Errorf("members of nixbld: %v, want %v (Nix takes build users from the member list)", got, want)
	}
}

// Existing accounts are kept as they are, and taken numbers are skipped.
func TestBuildUsersKeepsExisting(t *testing.T) {
	needRoot(t)
	prefix := fakeEtc(t, map[string][]string{
		"group":   {"nixbld:x:31000:nixbld2", "other:x:30000:"},
		"gshadow": {"nixbld:!::nixbld2", "other:!::"},
		"passwd":  {"nixbld2:x:31002:31000::/var/empty:/bin/false", "someone:x:30001:30000::/home/someone:/bin/sh"},
		"shadow":  {"nixbld2:!:19000::::::", "someone:!:19000::::::"},
	})
	if out, err := buildUsers(t, "--prefix", prefix, "--count", "3"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	groups := entries(t, prefix, "group")
	if len(groups["nixbld"]) != 1 || groups["nixbld"][0][2] != "31000" {
		t.Errorf("group nixbld: %v, want the existing one (gid 31000) only", groups["nixbld"])
	}
	users := entries(t, prefix, "passwd")
	if u := users["nixbld2"]; len(u) != 1 || u[0][2] != "31002" || u[0][6] != "/bin/false" {
		t.Errorf("nixbld2 was changed: %v", u)
	}
	// 30001 belongs to someone else: the new users take the next free uids.
	for name, uid := range map[string]string{"nixbld1": "30002", "nixbld3": "30003"} {
		if u := users[name]; len(u) != 1 || u[0][2] != uid {
			t.Errorf("%s: %v, want one entry with uid %s", name, u, uid)
		}
	}
	if got := groups["nixbld"][0][3]; got != "nixbld2,nixbld1,nixbld3" {
		t.Errorf("members of nixbld: %s, want nixbld2,nixbld1,nixbld3", got)
	}
}

func TestBuildUsersErrors(t *testing.T) {
	needRoot(t)
	prefix := fakeEtc(t, nil)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad count", []string{"--prefix", prefix, "--count", "x"}, "--count: expected a positive number"},
		{"unknown argument", []string{"--users"}, "unknown argument --users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := buildUsers(t, tc.args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("err=%v, output %q, want a failure saying %q", err, out, tc.want)
			}
		})
	}
	t.Run("not root", func(t *testing.T) {
		// The unprivileged user must be able to read the databases, so
		// that what stops it is the missing group, not a permission.
		for _, f := range []string{filepath.Dir(prefix), prefix, prefix + "/etc", prefix + "/etc/passwd", prefix + "/etc/group"} {
			if err := os.Chmod(f, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			filepath.Join(repo(t), "scripts", "nix-build-users.sh"), "--prefix", prefix, "--count", "2")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "run: sudo ") {
			t.Errorf("err=%v, output %q, want a failure naming the command to run as root", err, out)
		}
	})
}

// check-setup.sh must fail, saying why, on a machine without the group: here
// one whose /etc/group is a copy without it, in a private mount namespace.
func TestCheckSetupWithoutGroup(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("nix-build"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nix is not installed (scripts/install-deps.sh installs it)")
		}
		t.Skip("needs Nix")
	}
	prefix := fakeEtc(t, nil)
	if err := os.Chmod(filepath.Join(prefix, "etc", "group"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /etc/group && exec "$2"`, "sh",
		filepath.Join(prefix, "etc", "group"), filepath.Join(repo(t), "scripts", "check-setup.sh"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("check-setup.sh passed without the nixbld group:\n%s", out)
	}
	for _, want := range []string{"FAIL: group nixbld does not exist", "run: scripts/install-deps.sh", "FAIL: a trivial sandboxed derivation does not build"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
