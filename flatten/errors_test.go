package flatten

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
)

// What the engines refuse, flatten refuses too, naming the layer and the
// entry, even for a base that archive.OpenBase did not check.
func TestWriteErrors(t *testing.T) {
	long := strings.Repeat("d/", 2047) + "f" // "/" + 4095 bytes: PATH_MAX with its NUL
	tests := []struct {
		name   string
		layers [][]ent
		want   string
	}{
		{"hard link to a missing file", [][]ent{{hard("b", "missing")}}, `hard link "b" points to "missing", which is not in the layer before it`},
		{"hard link to a missing absolute path", [][]ent{{reg("a", "a"), hard("h", "/nothere")}}, `hard link "h" points to "/nothere", which is not in the layer before it`},
		{"hard link before its target", [][]ent{{hard("b", "a"), reg("a", "a")}}, `hard link "b" points to "a", which is not in the layer`},
		{"hard link to a deleted file", [][]ent{{reg("a", "a")}, {reg(".wh.a", ""), hard("b", "a")}}, `hard link "b" points to "a"`},
		{"hard link to a lower layer's file", [][]ent{{reg("a", "a")}, {hard("b", "a")}}, `hard link "b" points to "a" of a lower layer (Docker's overlay2 driver refuses it`},
		{"hard link to a directory", [][]ent{{dir("d"), hard("b", "d")}}, `hard link "b" points to directory "d"`},
		{"hard link replacing the root", [][]ent{{reg("a", "a"), hard("./", "a")}}, `entry "./" replaces the root directory with a non-directory`},
		{"hard link out", [][]ent{{hard("x", "../../etc/passwd")}}, `hard link "x": entry "../../etc/passwd" leaves the image's root`},
		{"unsupported type", [][]ent{{{name: "label", typ: 'V'}}}, `entry "label" has unsupported type 'V'`},
		{"root replaced by a file", [][]ent{{reg(".", "")}}, `replaces the root directory with a non-directory`},
		{"entry leaving the root", [][]ent{{reg("a/../../x", "x")}}, `entry "a/../../x" leaves the image's root`},
		{"the same name twice", [][]ent{{sym("l", "d"), reg("./l", "file")}}, `entry "./l" appears twice in the layer`},
		{"whiteout of the parent", [][]ent{{dir("x"), reg("x/a", "a")}, {reg("x/.wh..", "")}}, `whiteout "x/.wh.." names no file ("x"): docker load and podman load refuse it`},
		{"whiteout of the root", [][]ent{{reg("a", "a")}, {reg(".wh..", "")}}, `whiteout ".wh.." names no file (".")`}, {"whiteout of dot-dot", [][]ent{{reg("a", "a")}, {reg("x/.wh...", "")}}, `whiteout "x/.wh..." names no file (".")`},
		{"whiteout of nothing", [][]ent{{reg("a", "a")}, {reg("x/.wh.", "")}}, `whiteout "x/.wh." names no file ("x")`},
		{"whiteout of the layer's own file", [][]ent{{reg("a", "old")}, {reg("a", "new"), reg(".wh.a", "")}}, `whiteout ".wh.a" deletes "a", which the same layer wrote`},
		{"whiteout above the layer's own file", [][]ent{{dir("x")}, {reg("x/new", "n"), reg(".wh.x", "")}}, `whiteout ".wh.x" deletes "x", which the same layer wrote`},
		{"whiteout under a file", [][]ent{{reg("f", "f")}, {reg("f/.wh.x", "")}}, `whiteout "f/.wh.x": resolving "f": not a directory`},
		{"a lower layer's file as a parent", [][]ent{{reg("f", "f")}, {reg("f/x", "x")}}, `entry "f/x": resolving "f": not a directory`},
		{"a symlink to nothing as a parent", [][]ent{{sym("s", "/nonexist"), reg("s/f", "f")}}, `entry "s/f": resolving "s": no such file or directory`},
		{"a symlink to nothing in a parent", [][]ent{{sym("s", "nonexist")}, {reg("s/sub/f", "f")}}, `entry "s/sub/f": resolving "s/sub": no such file or directory`},
		{"a symlink loop", [][]ent{{sym("a", "b"), sym("b", "a"), reg("a/x", "x")}}, `entry "a/x": resolving "a": too many levels of symbolic links`},
		{"a path over PATH_MAX", [][]ent{{reg(long, "x")}}, `is a path of 4096 bytes, over Linux's PATH_MAX of 4096 with its NUL`},
		{"a name over NAME_MAX", [][]ent{{reg(strings.Repeat("n", 256), "x")}}, `has a name of 256 bytes, over Linux's NAME_MAX of 255`},
		{"a symlink target over PATH_MAX", [][]ent{{sym("l", strings.Repeat("t/", 2048))}}, `symlink "l" has a target of 4096 bytes, over Linux's PATH_MAX of 4095`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var layers [][]byte
			for _, l := range tc.layers {
				layers = append(layers, layerTar(t, l))
			}
			err := Write(io.Discard, rawBase(t, layers...), t.TempDir(), 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "layer layer") {
				t.Fatalf("got error %v, want one naming the layer and containing %q", err, tc.want)
			}
			// archive.OpenBase refuses the same base.
			_, err = archive.OpenBase(writeImage(t, layers, "plain"), "", "", "/nix/store")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("OpenBase: got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// rawBase makes a Base by hand, as if archive.OpenBase had accepted it:
// the layers' tars back to back are the whole "archive".
func rawBase(t *testing.T, layers ...[]byte) *archive.Base {
	p := filepath.Join(t.TempDir(), "layers.tar")
	b := &archive.Base{Path: p, Compression: archive.None}
	var all []byte
	for i, l := range layers {
		n := int64(len(l))
		b.Layers = append(b.Layers, archive.BaseLayer{Member: fmt.Sprintf("layer%d", i+1), Offset: int64(len(all)), Size: n, Compression: archive.None, TarSize: n})
		all = append(all, l...)
	}
	if err := os.WriteFile(p, all, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// A file thousands of directories deep: refused past PATH_MAX, and below
// it written in time linear in the output (each level's name is built in
// one buffer), not quadratic in memory.
func TestWriteDeep(t *testing.T) {
	deep := strings.Repeat("a/", 2046) + "f" // the deepest path under PATH_MAX
	var out bytes.Buffer
	if err := Write(&out, rawBase(t, layerTar(t, []ent{reg(deep, "x")})), t.TempDir(), 0); err != nil {
		t.Fatal(err)
	}
	n := 0
	eachEntry(t, out.Bytes(), func(h *tar.Header, _ []byte) { n++ })
	if n != 2048 {
		t.Errorf("%d entries, want the root, 2046 directories and the file", n)
	}
	// What issue 17 saw: one name 100,000 directories deep.
	hostile := layerTar(t, []ent{reg(strings.Repeat("a/", 100_000)+"f", "x")})
	start := time.Now()
	err := Write(io.Discard, rawBase(t, hostile), t.TempDir(), 0)
	if err == nil || !strings.Contains(err.Error(), "over Linux's PATH_MAX") || !strings.Contains(err.Error(), "layer layer1") {
		t.Fatalf("error = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %v", d)
	}
}
