package layer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixture is a fake store: two directory store paths, one store path that
// is a single file and one that is a symlink.
type fixture struct {
	base  string
	paths []string // in the order the layer lists them
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path string, size int, mode os.FileMode) {
	t.Helper()
	mustDo(t, os.MkdirAll(filepath.Dir(path), 0o755))
	content := make([]byte, size)
	for i := range content {
		content[i] = byte('a' + i%26)
	}
	mustDo(t, os.WriteFile(path, content, 0o600))
	mustDo(t, os.Chmod(path, mode))
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	mustDo(t, os.MkdirAll(filepath.Dir(path), 0o755))
	mustDo(t, os.Symlink(target, path))
}

// exactName returns a file name that makes dir+"/"+name exactly n bytes, or
// "" if dir is already too long for that.
func exactName(dir string, n int, fill byte) string {
	k := n - len(dir) - 1
	if k < 1 || k > 255 {
		return ""
	}
	return strings.Repeat(string(fill), k)
}

func buildFixture(t *testing.T) fixture {
	t.Helper()
	base := t.TempDir()
	store := filepath.Join(base, "s")
	one := filepath.Join(store, "aaaa-one")
	two := filepath.Join(store, "bbbb-two")
	single := filepath.Join(store, "cccc-file")
	link := filepath.Join(store, "dddd-link")

	writeFile(t, filepath.Join(one, "bin", "prog"), 40, 0o755)
	writeFile(t, filepath.Join(one, "bin", "suid"), 10, fs.ModeSetuid|0o755)
	writeFile(t, filepath.Join(one, "bin", "sgid"), 10, fs.ModeSetgid|0o711)
	writeFile(t, filepath.Join(one, "share", "ro"), 3, 0o444)
	writeFile(t, filepath.Join(one, "share", "rx"), 5, 0o555)
	writeFile(t, filepath.Join(one, "share", "rw"), 7, 0o644)
	writeFile(t, filepath.Join(one, "share", "big"), 1500, 0o444)
	writeFile(t, filepath.Join(one, "share", "exact512"), 512, 0o444)
	writeFile(t, filepath.Join(one, "share", "empty"), 0, 0o444)
	writeFile(t, filepath.Join(one, "share", ".hidden"), 9, 0o444)
	writeFile(t, filepath.Join(one, "share", ".hiddendir", "x"), 1, 0o444)
	// Component-wise order puts a/b before a-b and a.b, byte order would not.
	writeFile(t, filepath.Join(one, "lib", "a", "b"), 1, 0o444)
	writeFile(t, filepath.Join(one, "lib", "a-b"), 2, 0o444)
	writeFile(t, filepath.Join(one, "lib", "a.b"), 3, 0o444)
	writeFile(t, filepath.Join(one, "lib", "a0"), 4, 0o444)
	writeFile(t, filepath.Join(one, "lib", "A"), 4, 0o444)
	mustDo(t, os.MkdirAll(filepath.Join(one, "empty"), 0o755))
	symlink(t, "../share/rw", filepath.Join(one, "links", "to-file"))
	symlink(t, "../lib", filepath.Join(one, "links", "to-dir"))
	symlink(t, "does-not-exist", filepath.Join(one, "links", "dangling"))
	symlink(t, strings.Repeat("t", 150), filepath.Join(one, "links", "long-target"))
	symlink(t, strings.Repeat("u", 100), filepath.Join(one, "links", "target100"))
	symlink(t, strings.Repeat("v", 101), filepath.Join(one, "links", "target101"))
	symlink(t, "ünïcödé-target", filepath.Join(one, "links", "unicode-target"))
	writeFile(t, filepath.Join(one, "hard1"), 600, 0o644)
	mustDo(t, os.Link(filepath.Join(one, "hard1"), filepath.Join(one, "hard2")))
	writeFile(t, filepath.Join(one, "long", strings.Repeat("n", 150)), 11, 0o444)
	longDir := filepath.Join(one, "long")
	for _, n := range []int{99, 100, 101} {
		if name := exactName(longDir, n, byte('0'+n%10)); name != "" {
			writeFile(t, filepath.Join(longDir, name), n, 0o444)
		}
	}
	// A directory whose name is 100 bytes only becomes 101 with its slash.
	if name := exactName(longDir, 100, 'd'); name != "" {
		writeFile(t, filepath.Join(longDir, name, "f"), 1, 0o444)
	}
	writeFile(t, filepath.Join(one, "intl", "héllo-ünïcode.txt"), 13, 0o644)
	writeFile(t, filepath.Join(one, "intl", "日本語"), 14, 0o644)
	// Not UTF-8: Python sorts the lone 0xff (as U+DCFF) before U+E000,
	// although its byte is larger.
	writeFile(t, filepath.Join(one, "intl", "bad-\xff"), 15, 0o644)
	writeFile(t, filepath.Join(one, "intl", "bad-\xee\x80\x80"), 16, 0o644)
	writeFile(t, filepath.Join(one, "ro-dir", "inner"), 2, 0o444)
	mustDo(t, os.Chmod(filepath.Join(one, "ro-dir"), 0o555))
	mustDo(t, os.MkdirAll(filepath.Join(one, "sticky"), 0o755))
	mustDo(t, os.Chmod(filepath.Join(one, "sticky"), fs.ModeSticky|0o777))

	writeFile(t, filepath.Join(two, "etc", "conf"), 100, 0o444)
	writeFile(t, filepath.Join(two, "etc", "deep", "er", "file"), 2000, 0o555)
	// Hard link across store paths: the inode is already in the archive.
	mustDo(t, os.Link(filepath.Join(one, "hard1"), filepath.Join(two, "hard3")))
	symlink(t, one, filepath.Join(two, "abs-link"))

	writeFile(t, single, 700, 0o444)
	symlink(t, "aaaa-one", link)

	// Store paths are read-only; undo that before TempDir's cleanup.
	t.Cleanup(func() {
		filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	// Not in sorted order: the layer must keep the caller's order.
	return fixture{base: base, paths: []string{two, one, link, single}}
}

func requirePython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; cannot compare with CPython's tarfile")
	}
	return py
}

func runPython(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	py := requirePython(t)
	cmd := exec.Command(py, append([]string{filepath.Join("testdata", "pytar.py")}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// firstDiff reports where two archives diverge, with the 512-byte block
// around it, so a mismatch can be diagnosed from the test log.
func firstDiff(a, b []byte) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			blk := i / blockSize * blockSize
			return "first difference at byte " + strconv.Itoa(i) + "\n ours:   " +
				hex.EncodeToString(a[blk:min(blk+blockSize, len(a))]) + "\n python: " +
				hex.EncodeToString(b[blk:min(blk+blockSize, len(b))])
		}
	}
	return "lengths differ: ours " + strconv.Itoa(len(a)) + ", python " + strconv.Itoa(len(b))
}
