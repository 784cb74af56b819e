package shell

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tool makes a package directory whose bin/ holds the named programs,
// linked to this system's /bin/sh.
func tool(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	for _, n := range names {
		if err := os.Symlink("/bin/sh", filepath.Join(dir, "bin", n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFind(t *testing.T) {
	sh, bash, none := tool(t, "sh"), tool(t, "bash"), tool(t)
	for _, tc := range []struct {
		name  string
		tools []string
		want  string
	}{
		{"bash wins over an earlier sh", []string{sh, bash}, bash + "/bin/bash"},
		{"sh when no bash", []string{none, sh}, sh + "/bin/sh"},
		{"nothing", []string{none}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Find(tc.tools)
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "scriptTools") {
					t.Fatalf("Find = %q, %v; want an error naming scriptTools", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Find = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	tools := []string{tool(t, "sh")}
	dir := t.TempDir()
	if err := Run("extraCommands", `echo "$PATH" > path; echo made > data`, dir, tools); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "path")); strings.TrimSpace(string(b)) != tools[0]+"/bin" {
		t.Errorf("PATH in the script = %q", b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data")); err != nil || string(b) != "made\n" {
		t.Error("the script did not run in dir")
	}
	err := Run("extraCommands", "false; echo not reached > x", dir, tools)
	if err == nil || !strings.Contains(err.Error(), "extraCommands failed with exit status 1") {
		t.Errorf("failing script: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("the script went on after a failing command (not run with -e)")
	}
	if err := Run("extraCommands", "  \n", dir, nil); err != nil {
		t.Errorf("an empty script needs no shell: %v", err)
	}
}

// A process the script leaves running is killed when the script ends, so
// that it cannot change the layer while the layer is read.
func TestRunKillsWhatTheScriptLeft(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	tools := []string{tool(t, "sh")}
	dir := t.TempDir()
	if err := Run("extraCommands", sleep+" 300 & echo $! > pid", dir, tools); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for i := 0; ; i++ {
		// Gone, or a zombie waiting for init: either way no longer running.
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		if i == 50 {
			t.Fatalf("the background process %d still runs after the script ended", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
