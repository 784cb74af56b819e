package outfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
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
