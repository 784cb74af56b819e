package layer

import (
	"io"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkDigest measures the many-small-files case that dominates real
// closures; allocations per op should stay flat in the number of entries.
func BenchmarkDigest(b *testing.B) {
	dir := b.TempDir()
	var total int64
	for i := 0; i < 2000; i++ {
		size := 100 + i*37%5000
		total += int64(size)
		writeFile(b, filepath.Join(dir, "pkg", strconv.Itoa(i%40), strconv.Itoa(i)), size, 0o444)
	}
	entries, err := StoreEntries("/nix/store", []string{filepath.Join(dir, "pkg")}, Owner{0, 0, "root", "root"}, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Write(io.Discard, entries); err != nil {
			b.Fatal(err)
		}
	}
}
