package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeAll(t *testing.T, entries []Entry) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	n, digest, err := Write(&buf, entries)
	mustDo(t, err)
	if n != int64(buf.Len()) {
		t.Fatalf("Write reported %d bytes, wrote %d", n, buf.Len())
	}
	if digest != sha(buf.Bytes()) {
		t.Fatalf("Write digest %s, sha256 of output %s", digest, sha(buf.Bytes()))
	}
	return buf.Bytes(), digest
}

func TestArchiveSizeMatchesWritten(t *testing.T) {
	fx := buildFixture(t)
	root := Owner{0, 0, "root", "root"}
	dir := t.TempDir()
	// 3 MiB crosses the 1 MiB write buffer several times; 7680 bytes of
	// content makes the archive land exactly on a 10240 record.
	writeFile(t, filepath.Join(dir, "huge"), 3<<20+1, 0o444)
	writeFile(t, filepath.Join(dir, "record"), 7680, 0o444)
	storeOf := func(paths ...string) func() ([]Entry, error) {
		return func() ([]Entry, error) { return StoreEntries("/nix/store", paths, root, 1) }
	}
	trees := map[string]func() ([]Entry, error){
		"no-paths":      storeOf(),
		"fixture":       storeOf(fx.paths...),
		"single-file":   storeOf(fx.paths[3]),
		"huge-file":     storeOf(filepath.Join(dir, "huge")),
		"exact-record":  storeOf(filepath.Join(dir, "record")),
		"dir-entries":   func() ([]Entry, error) { return DirEntries(fx.base, root, 1, nil) },
		"empty-entries": func() ([]Entry, error) { return nil, nil },
	}
	for name, collect := range trees {
		t.Run(name, func(t *testing.T) {
			entries, err := collect()
			mustDo(t, err)
			out, _ := writeAll(t, entries)
			size, err := ArchiveSize(entries)
			mustDo(t, err)
			if size != int64(len(out)) {
				t.Fatalf("ArchiveSize %d, wrote %d", size, len(out))
			}
			if len(out)%recordSize != 0 {
				t.Fatalf("archive of %d bytes is not padded to %d", len(out), recordSize)
			}
			var sum int64
			for i := range entries {
				n, err := EntrySize(&entries[i].Header)
				mustDo(t, err)
				sum += n
			}
			if archiveEnd(sum) != size {
				t.Fatalf("EntrySize sums to %d (%d with end), ArchiveSize %d", sum, archiveEnd(sum), size)
			}
		})
	}
	t.Run("exact-record-has-no-extra-padding", func(t *testing.T) {
		entries, err := StoreEntries("/nix/store", []string{filepath.Join(dir, "record")}, root, 1)
		mustDo(t, err)
		if size, _ := ArchiveSize(entries); size != recordSize {
			t.Fatalf("ArchiveSize %d, want exactly one record", size)
		}
	})
}

func TestDeterministic(t *testing.T) {
	fx := buildFixture(t)
	o := Owner{1000, 1000, "user", "user"}
	a, err := StoreEntries("/nix/store", fx.paths, o, 1)
	mustDo(t, err)
	b, err := StoreEntries("/nix/store", fx.paths, o, 1)
	mustDo(t, err)
	outA, digestA := writeAll(t, a)
	outB, digestB := writeAll(t, b)
	if digestA != digestB || !bytes.Equal(outA, outB) {
		t.Fatalf("two writes differ: %s vs %s", digestA, digestB)
	}
	n, digest, err := Digest(a)
	mustDo(t, err)
	if n != int64(len(outA)) || digest != digestA {
		t.Fatalf("Digest gave %d %s, Write gave %d %s", n, digest, len(outA), digestA)
	}
	var streamed bytes.Buffer
	n, err = Stream(&streamed, a)
	mustDo(t, err)
	if n != int64(len(outA)) || !bytes.Equal(streamed.Bytes(), outA) {
		t.Fatal("Stream output differs from Write output")
	}
}

func TestDirEntriesRejectsNonDirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	writeFile(t, f, 1, 0o644)
	if _, err := DirEntries(f, Owner{}, 0, nil); err == nil {
		t.Fatal("DirEntries accepted a regular file as root")
	}
	if _, err := StoreEntries("/nix/store", []string{filepath.Join(t.TempDir(), "missing")}, Owner{}, 0); err == nil {
		t.Fatal("StoreEntries accepted a missing store path")
	}
}

func TestWriteFailsWhenFileChanged(t *testing.T) {
	cases := map[string]func(path string) error{
		"grew":    func(p string) error { return os.WriteFile(p, make([]byte, 2000), 0o644) },
		"grew-1":  func(p string) error { return os.WriteFile(p, make([]byte, 1001), 0o644) },
		"shrunk":  func(p string) error { return os.WriteFile(p, make([]byte, 10), 0o644) },
		"emptied": func(p string) error { return os.WriteFile(p, nil, 0o644) },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pkg", "file")
			writeFile(t, path, 1000, 0o644)
			entries, err := StoreEntries("/nix/store", []string{filepath.Join(dir, "pkg")}, Owner{}, 1)
			mustDo(t, err)
			mustDo(t, change(path))
			_, _, err = Write(io.Discard, entries)
			if !errors.Is(err, ErrSizeChanged) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Write error %v, want a size-changed error naming %s", err, path)
			}
		})
	}
	t.Run("removed", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "file")
		writeFile(t, path, 10, 0o644)
		entries, err := StoreEntries("/nix/store", []string{path}, Owner{}, 1)
		mustDo(t, err)
		mustDo(t, os.Remove(path))
		if _, _, err := Write(io.Discard, entries); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Write error %v, want not-exist", err)
		}
	})
}

func TestInvalidEntries(t *testing.T) {
	cases := map[string]Header{
		"dir-with-size":    {Name: "d/", Typeflag: TypeDir, Size: 1},
		"negative-size":    {Name: "f", Typeflag: TypeReg, Size: -1},
		"device-too-large": {Name: "c", Typeflag: TypeChar, Devmajor: 1 << 21},
		"file-no-source":   {Name: "f", Typeflag: TypeReg, Size: 5},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Write(io.Discard, []Entry{{Header: h}}); err == nil {
				t.Fatal("Write accepted an invalid entry")
			}
		})
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestWritePropagatesWriterError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "big"), 3<<20, 0o644)
	entries, err := StoreEntries("/nix/store", []string{dir}, Owner{}, 1)
	mustDo(t, err)
	n, _, err := Write(&failingWriter{after: 1}, entries)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Write error %v, want the writer's error", err)
	}
	if n != bufSize {
		t.Fatalf("Write reported %d bytes, writer accepted %d", n, bufSize)
	}
}

// TestReadBack checks the archives with an independent reader.
func TestReadBack(t *testing.T) {
	fx := buildFixture(t)
	for _, tc := range owners {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := StoreEntries("/nix/store", fx.paths, tc.o, tc.mtime)
			mustDo(t, err)
			out, _ := writeAll(t, entries)
			r := tar.NewReader(bytes.NewReader(out))
			for i, e := range entries {
				h, err := r.Next()
				if err != nil {
					t.Fatalf("entry %d (%q): %v", i, e.Name, err)
				}
				if h.Name != e.Name || h.Typeflag != e.Typeflag || h.Linkname != e.Linkname ||
					h.Size != e.Size || h.Mode != e.Mode || h.Uid != e.UID || h.Gid != e.GID ||
					h.Uname != e.Uname || h.Gname != e.Gname || h.ModTime.Unix() != e.MTime {
					t.Fatalf("entry %d read back as %+v, wrote %+v", i, h, e.Header)
				}
				got, err := io.ReadAll(r)
				mustDo(t, err)
				if e.Source != "" {
					want, err := os.ReadFile(e.Source)
					mustDo(t, err)
					if !bytes.Equal(got, want) {
						t.Fatalf("%s: content differs", e.Name)
					}
				}
			}
			if h, err := r.Next(); err != io.EOF {
				t.Fatalf("extra entry after the last one: %+v, %v", h, err)
			}
		})
	}
}

func TestComparePyStr(t *testing.T) {
	cases := []struct {
		a, b string
		less bool
	}{
		{"a", "b", true},
		{"a", "a0", true},
		{"A", "a", true},
		{"a-b", "a.b", true},
		{"\xff", "\xee\x80\x80", true}, // U+DCFF < U+E000
		{"\xee\x80\x80", "\xff", false},
		{"\xed\x9f\xbf", "\xff", true}, // U+D7FF < U+DCFF
		{"é", "z", false},
		{"xé", "xê", true},
		{"\xc3", "\xc3\xa9", false}, // U+DCC3 > U+00E9
	}
	for _, c := range cases {
		if got := comparePyStr(c.a, c.b) < 0; got != c.less {
			t.Errorf("comparePyStr(%q, %q) < 0 = %v, want %v", c.a, c.b, got, c.less)
		}
	}
}

func TestCleanPath(t *testing.T) {
	cases := map[string]string{
		"/nix/store/x":    "/nix/store/x",
		"/nix//store/x/":  "/nix/store/x",
		"/nix/./store/x":  "/nix/store/x",
		"a/../b":          "a/../b",
		"":                ".",
		"./":              ".",
		"/":               "/",
		"rel/path":        "rel/path",
		"//double/leader": "/double/leader",
	}
	for in, want := range cases {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStoreDirEntries(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"/nix/store", []string{"/nix/", "/nix/store/"}},
		{"/gnu/store", []string{"/gnu/", "/gnu/store/"}},
		{"/opt/nix/store", []string{"/opt/", "/opt/nix/", "/opt/nix/store/"}},
		{"/store", []string{"/store/"}},
	} {
		got := storeDirEntries(tc.dir)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("storeDirEntries(%q) = %q, want %q", tc.dir, got, tc.want)
		}
	}
}
