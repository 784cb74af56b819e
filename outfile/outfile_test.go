package outfile

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := Write(out, 0o444, func(w io.Writer) error { _, err := io.WriteString(w, "hello"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "hello" {
		t.Fatalf("content %q", b)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o444 {
		t.Fatalf("mode %v", fi.Mode())
	}

	failed := filepath.Join(dir, "failed")
	boom := errors.New("boom")
	err := WriteCompressed(failed, "gz", func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	if err := WriteCompressed(failed, "lzma", nil); err == nil {
		t.Fatal("unknown compressor accepted")
	}
}

// A builder told to stop while it writes leaves no temporary file.
func TestRemoveOnSignal(t *testing.T) {
	if os.Getenv("OUTFILE_SIGNAL_CHILD") != "" {
		RemoveOnSignal()
		Write(os.Getenv("OUTFILE_SIGNAL_CHILD"), 0o444, func(w io.Writer) error {
			os.WriteFile(os.Getenv("OUTFILE_SIGNAL_CHILD")+".ready", nil, 0o644)
			select {} // until killed
		})
		return
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRemoveOnSignal$")
	cmd.Env = append(os.Environ(), "OUTFILE_SIGNAL_CHILD="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(out + ".ready"); err == nil {
			break
		}
		if i == 500 {
			cmd.Process.Kill()
			t.Fatal("the child never started writing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("child ended with %v, want exit status %d", err, 128+int(syscall.SIGTERM))
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "out.ready" {
			t.Errorf("%s left behind", e.Name())
		}
	}
}
