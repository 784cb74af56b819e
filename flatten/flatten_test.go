package flatten

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
)

// ent is one entry of a fixture layer.
type ent struct {
	name         string
	typ          byte
	mode         int64
	body         string
	link         string
	uid, gid     int
	uname, gname string
	major, minor int64
}

func reg(name, body string) ent { return ent{name: name, typ: tar.TypeReg, mode: 0o644, body: body} }
func dir(name string) ent       { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func sym(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hard(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}
func mode(e ent, m int64) ent { e.mode = m; return e }

// layerMTime is what every fixture entry claims, so that tests see it replaced.
var layerMTime = time.Unix(1_234_567_890, 0)

func layerTar(t *testing.T, ents []ent) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link,
			Uid: e.uid, Gid: e.gid, Uname: e.uname, Gname: e.gname,
			Devmajor: e.major, Devminor: e.minor, ModTime: layerMTime, Size: int64(len(e.body))}
		if e.typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": e.body}}
			e.body = ""
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Ways to store a fixture image: they must all flatten to the same bytes.
// "plain" is the one read in place, the others go through the spill file.
var variants = []string{"plain", "gzip-layers", "gzip-archive"}

// writeImage writes a docker-archive holding one image with these layers.
func writeImage(t *testing.T, layers [][]byte, variant string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image-"+variant+".tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	var out io.Writer = f
	var zw *gzip.Writer
	if variant == "gzip-archive" {
		zw = gzip.NewWriter(f)
		out = zw
	}
	aw := archive.NewWriter(out)
	var ids []string
	for _, raw := range layers {
		id := archive.Digest(raw)
		ids = append(ids, id)
		stored := raw
		if variant == "gzip-layers" {
			var b bytes.Buffer
			gw := gzip.NewWriter(&b)
			gw.Write(raw)
			gw.Close()
			stored = b.Bytes()
		}
		if err := aw.AddLayer(id, int64(len(stored)), func(w io.Writer) error {
			_, err := w.Write(stored)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := json.Marshal(archive.Config{Architecture: "amd64", OS: "linux",
		RootFS: archive.RootFS{Type: "layers", DiffIDs: ids}})
	if err != nil {
		t.Fatal(err)
	}
	if err := aw.Finish(cfg, "test:latest"); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func flattenFile(t *testing.T, p string, mtime int64) ([]byte, error) {
	t.Helper()
	base, err := archive.OpenBase(p, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var out bytes.Buffer
	err = Write(&out, base, tmp, mtime)
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Write left %d files in tmpDir", len(left))
	}
	return out.Bytes(), err
}

var kinds = map[byte]string{tar.TypeReg: "f", tar.TypeDir: "d", tar.TypeSymlink: "s",
	tar.TypeLink: "h", tar.TypeChar: "c", tar.TypeBlock: "b", tar.TypeFifo: "p"}

// compareOutput orders names the way Write must: component by component,
// each by bytes.
func compareOutput(a, b string) int {
	ca := strings.Split(strings.TrimSuffix(strings.TrimPrefix(a, "./"), "/"), "/")
	cb := strings.Split(strings.TrimSuffix(strings.TrimPrefix(b, "./"), "/"), "/")
	if a == "./" {
		ca = nil
	}
	if b == "./" {
		cb = nil
	}
	for i := 0; i < len(ca) && i < len(cb); i++ {
		if c := strings.Compare(ca[i], cb[i]); c != 0 {
			return c
		}
	}
	return len(ca) - len(cb)
}

// eachEntry calls fn with every entry of a tar and its content.
func eachEntry(t *testing.T, data []byte, fn func(h *tar.Header, body []byte)) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fn(h, body)
	}
}

// listing describes each entry of a flattened tar as one line, checking on
// the way what holds for every output: mtime, order, names, link targets.
func listing(t *testing.T, data []byte, mtime int64) []string {
	t.Helper()
	var lines []string
	seen := map[string]bool{}
	prev := ""
	eachEntry(t, data, func(h *tar.Header, body []byte) {
		if h.ModTime.Unix() != mtime {
			t.Errorf("%s: mtime %d, want %d", h.Name, h.ModTime.Unix(), mtime)
		}
		if !strings.HasPrefix(h.Name, "./") || (h.Typeflag == tar.TypeDir) != strings.HasSuffix(h.Name, "/") {
			t.Errorf("badly formed name %q (type %c)", h.Name, h.Typeflag)
		}
		if prev == "" && h.Name != "./" {
			t.Errorf("first entry is %q, not ./", h.Name)
		}
		if prev != "" && compareOutput(prev, h.Name) >= 0 {
			t.Errorf("%q comes after %q", h.Name, prev)
		}
		if h.Typeflag == tar.TypeLink && !seen[h.Linkname] {
			t.Errorf("hard link %q points to %q, not written before it", h.Name, h.Linkname)
		}
		seen[h.Name] = true
		prev = h.Name
		l := fmt.Sprintf("%s %s%o", h.Name, kinds[h.Typeflag], h.Mode)
		switch h.Typeflag {
		case tar.TypeReg:
			l += fmt.Sprintf(" %q", body)
		case tar.TypeSymlink:
			l += " ->" + h.Linkname
		case tar.TypeLink:
			l += " =>" + h.Linkname
		case tar.TypeChar, tar.TypeBlock:
			l += fmt.Sprintf(" %d,%d", h.Devmajor, h.Devminor)
		}
		// Directories the flattener makes itself are root:root, named.
		synthesized := h.Typeflag == tar.TypeDir && h.Uid == 0 && h.Gid == 0 && h.Uname == "root" && h.Gname == "root"
		if (h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "") && !synthesized {
			l += fmt.Sprintf(" @%d:%d %s/%s", h.Uid, h.Gid, h.Uname, h.Gname)
		}
		lines = append(lines, l)
	})
	return lines
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]ent
		want   []string
	}{
		{
			name:   "overwrite",
			layers: [][]ent{{reg("a", "one"), reg("b", "b")}, {mode(reg("a", "two"), 0o600)}},
			want:   []string{"./ d755", `./a f600 "two"`, `./b f644 "b"`},
		},
		{
			name: "whiteouts of files and directories",
			layers: [][]ent{
				{dir("d"), reg("d/x", "x"), reg("d/y", "y"), reg("a", "a"), dir("e"), reg("e/z", "z")},
				{reg(".wh.a", ""), reg("d/.wh.x", ""), reg(".wh.e", ""), reg(".wh.absent", "")},
			},
			want: []string{"./ d755", "./d/ d755", `./d/y f644 "y"`},
		},
		{
			name: "whiteouts hide lower layers only",
			layers: [][]ent{
				{reg("a", "old"), reg("b", "old")},
				{reg(".wh.a", ""), reg("a", "new"), reg(".wh.b", ""), reg("b", "new"), reg("c/.wh.x", "")},
			},
			// A whiteout's parent is made, as the engines make it.
			want: []string{"./ d755", `./a f644 "new"`, `./b f644 "new"`, "./c/ d755"},
		},
		{
			name: "opaque directory",
			layers: [][]ent{
				{dir("d"), reg("d/x", "x"), dir("d/sub"), reg("d/sub/y", "y"), reg("keep", "k")},
				{mode(dir("d"), 0o700), reg("d/z", "z"), reg("d/.wh..wh..opq", ""), reg("d/w", "w"), dir("d/sub")},
			},
			want: []string{"./ d755", "./d/ d700", "./d/sub/ d755", `./d/w f644 "w"`, `./d/z f644 "z"`, `./keep f644 "k"`},
		},
		{
			name: "opaque root",
			layers: [][]ent{
				{reg("a", "a"), dir("d"), reg("d/x", "x")},
				{reg(".wh..wh..opq", ""), reg("b", "b")},
			},
			want: []string{"./ d755", `./b f644 "b"`},
		},
		{
			name: "directory replaced by file and file by directory",
			layers: [][]ent{
				{dir("d"), dir("d/sub"), reg("d/sub/x", "x"), reg("f", "f")},
				{reg("d", "now a file"), dir("f"), reg("f/y", "y")},
			},
			want: []string{"./ d755", `./d f644 "now a file"`, "./f/ d755", `./f/y f644 "y"`},
		},
		{
			name: "directory over directory merges",
			layers: [][]ent{
				{dir("d"), reg("d/x", "x")},
				{ent{name: "d/", typ: tar.TypeDir, mode: 0o750, uid: 5, gid: 6, uname: "u", gname: "g"}, reg("d/y", "y")},
			},
			want: []string{"./ d755", "./d/ d750 @5:6 u/g", `./d/x f644 "x"`, `./d/y f644 "y"`},
		},
		{
			name: "symlinks replaced",
			layers: [][]ent{
				{sym("s", "a"), sym("t", "b"), dir("u"), reg("u/x", "x")},
				{sym("s", "c"), reg("t", "file"), sym("u", "/elsewhere")},
			},
			want: []string{"./ d755", "./s s777 ->c", `./t f644 "file"`, "./u s777 ->/elsewhere"},
		},
		{
			name:   "hard links in the same layer",
			layers: [][]ent{{reg("z", "zz"), hard("b", "z"), reg("a", "a"), hard("./c", "./a"), hard("/d", "/a")}},
			want: []string{"./ d755", `./a f644 "a"`, `./b f644 "zz"`, "./c h644 =>./a", "./d h644 =>./a",
				"./z h644 =>./b"},
		},
		{
			name: "hard link's owner and mode given to its file",
			layers: [][]ent{{mode(reg("bin/a", "x"), 0o755),
				{name: "h", typ: tar.TypeLink, link: "bin/a", mode: 0o700, uid: 5, gid: 6, uname: "u", gname: "g"}}},
			want: []string{"./ d755", `./bin/ d755`, `./bin/a f700 "x" @5:6 u/g`, "./h h700 =>./bin/a @5:6 u/g"},
		},
		{
			name: "hard link whose target is deleted",
			layers: [][]ent{
				{reg("a", "orig"), hard("b", "a"), hard("c", "a")},
				{reg(".wh.a", "")},
			},
			want: []string{"./ d755", `./b f644 "orig"`, "./c h644 =>./b"},
		},
		{
			name: "hard link whose target is replaced",
			layers: [][]ent{
				{reg("a", "orig"), hard("b", "a")},
				{reg("a", "new")},
			},
			want: []string{"./ d755", `./a f644 "new"`, `./b f644 "orig"`},
		},
		{
			name: "hard link to a file whose directory is replaced",
			layers: [][]ent{
				{reg("d/a", "orig"), hard("e/b", "d/a")},
				{reg("d", "file")},
			},
			want: []string{"./ d755", `./d f644 "file"`, "./e/ d755", `./e/b f644 "orig"`},
		},
		{
			name: "hard links to symlinks and devices",
			layers: [][]ent{{sym("s", "target"), hard("t", "s"),
				{name: "n", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}, mode(hard("m", "n"), 0o666)}},
			want: []string{"./ d755", "./m c666 1,3", "./n h666 =>./m", "./s s777 ->target", "./t h777 =>./s"},
		},
		{
			name: "devices, fifos and owners",
			layers: [][]ent{{
				dir("dev"),
				{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
				{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, major: 8, minor: 0, gid: 6, gname: "disk"},
				{name: "dev/fifo", typ: tar.TypeFifo, mode: 0o600},
				{name: "home/u/f", typ: tar.TypeReg, mode: 0o4755, body: "x", uid: 1000, gid: 100, uname: "user", gname: "users"},
			}},
			want: []string{"./ d755", "./dev/ d755", "./dev/fifo p600", "./dev/null c666 1,3", "./dev/sda b660 8,0 @0:6 /disk",
				"./home/ d755", "./home/u/ d755", `./home/u/f f4755 "x" @1000:100 user/users`},
		},
		{
			name: "names normalised",
			layers: [][]ent{{mode(dir("./"), 0o700), reg("/abs", "1"), reg("./dot", "2"), reg("plain", "3"),
				dir("d//sub/"), reg("d/./sub/../sub/f", "4")}},
			want: []string{"./ d700", `./abs f644 "1"`, "./d/ d755", "./d/sub/ d755", `./d/sub/f f644 "4"`,
				`./dot f644 "2"`, `./plain f644 "3"`},
		},
		{
			name: "root given by a later layer",
			layers: [][]ent{{reg("a", "a")},
				{ent{name: "/", typ: tar.TypeDir, mode: 0o555, uid: 1, gid: 2}}},
			want: []string{"./ d555 @1:2 /", `./a f644 "a"`},
		},
		{
			name:   "sorted component-wise",
			layers: [][]ent{{reg("a-b", "1"), reg("a.b", "2"), dir("a"), reg("a/b", "3"), reg("B", "4"), reg("a0", "5"), reg("a/a b", "6")}},
			want: []string{"./ d755", `./B f644 "4"`, "./a/ d755", `./a/a b f644 "6"`, `./a/b f644 "3"`, `./a-b f644 "1"`,
				`./a.b f644 "2"`, `./a0 f644 "5"`},
		},
		{
			name: "AUFS metadata",
			layers: [][]ent{{dir(".wh..wh.plnk"), reg(".wh..wh.plnk/12.34", "linked"), reg(".wh..wh.aufs", ""),
				dir(".wh..wh.orph"), reg(".wh..wh.orph/x", "orphan"), hard("x", ".wh..wh.plnk/12.34"),
				hard("y", "./.wh..wh.plnk/12.34"), dir("d"), reg("d/.wh..wh.other", "")}},
			// Skipped, but their parents are made, as the engines make them.
			want: []string{"./ d755", "./.wh..wh.orph/ d755", "./.wh..wh.plnk/ d755", "./d/ d755", `./x f644 "linked"`, "./y h644 =>./x"},
		},
		{
			name:   "a lower layer's symlink as a parent",
			layers: [][]ent{{sym("lib", "usr/lib"), reg("usr/lib/x", "x")}, {reg("lib/foo", "f")}},
			want:   []string{"./ d755", "./lib s777 ->usr/lib", "./usr/ d755", "./usr/lib/ d755", `./usr/lib/foo f644 "f"`, `./usr/lib/x f644 "x"`},
		},
		{
			name:   "a symlink to the root as a parent",
			layers: [][]ent{{dir("etc"), reg("etc/a", "a"), sym("esc", "/"), reg("esc/etc/through", "t"), sym("up", "../../.."), reg("up/etc/b", "b")}},
			want:   []string{"./ d755", `./esc s777 ->/`, "./etc/ d755", `./etc/a f644 "a"`, `./etc/b f644 "b"`, `./etc/through f644 "t"`, "./up s777 ->../../.."},
		},
		{
			name:   "symlinks climbing back up",
			layers: [][]ent{{dir("x"), sym("x/y", ".."), sym("x/y/z", ".."), reg("x/y/z/w", "w"), sym("x/y/x/l", "y"), reg("x/l/v", "v")}},
			want:   []string{"./ d755", `./v f644 "v"`, `./w f644 "w"`, "./x/ d755", "./x/l s777 ->y", "./x/y s777 ->..", "./z s777 ->.."},
		},
		{
			name: "whiteouts and opaque markers through symlinks",
			layers: [][]ent{
				{dir("d"), reg("d/x", "x"), reg("d/y", "y"), sym("l", "d"), dir("e"), reg("e/z", "z"), sym("m", "e")},
				{reg("l/.wh.x", ""), reg("m/.wh..wh..opq", ""), reg("m/n", "n")},
			},
			// The opaque marker does nothing through a symlink, as in Docker.
			want: []string{"./ d755", "./d/ d755", `./d/y f644 "y"`, "./e/ d755", `./e/n f644 "n"`, `./e/z f644 "z"`, "./l s777 ->d", "./m s777 ->e"},
		},
		{
			name: "opaque marker after the layer's own entries",
			layers: [][]ent{
				{dir("d"), reg("d/old", "o"), dir("d/sub"), reg("d/sub/old", "o")},
				{reg("d/new", "n"), dir("d/sub"), reg("d/implied/f", "f"), reg("d/.wh..wh..opq", "")},
			},
			// What the layer lists stays; a parent it only implies does not.
			want: []string{"./ d755", "./d/ d755", `./d/new f644 "n"`, "./d/sub/ d755"},
		},
		{
			name:   "a layer listed twice",
			layers: [][]ent{{reg("a", "one"), hard("b", "a")}, {reg(".wh.a", ""), reg("c", "c")}, {reg("a", "one"), hard("b", "a")}},
			want:   []string{"./ d755", `./a f644 "one"`, "./b h644 =>./a", `./c f644 "c"`},
		},
		{
			name:   "global PAX header ignored",
			layers: [][]ent{{{typ: tar.TypeXGlobalHeader, body: "git"}, reg("a", "a")}},
			want:   []string{"./ d755", `./a f644 "a"`},
		},
		{
			name:   "repeated and empty layers",
			layers: [][]ent{{reg("a", "a")}, {}, {reg("a", "a")}},
			want:   []string{"./ d755", `./a f644 "a"`},
		},
	}
	const mtime = 315532800
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var layers [][]byte
			for _, l := range tc.layers {
				layers = append(layers, layerTar(t, l))
			}
			var first []byte
			for _, v := range variants {
				out, err := flattenFile(t, writeImage(t, layers, v), mtime)
				if err != nil {
					t.Fatalf("%s: %v", v, err)
				}
				if first == nil {
					first = out
					got := listing(t, out, mtime)
					if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
						t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
					}
					continue
				}
				if !bytes.Equal(out, first) {
					t.Errorf("%s: output differs from %s's:\n\t%s", v, variants[0], strings.Join(listing(t, out, mtime), "\n\t"))
				}
			}
		})
	}
}

// TestWriteDeterministic flattens the same image twice, with big files
// (larger than the copy buffers) read in place and from the spill file, and
// with another mtime.
func TestWriteDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	big := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	b1, b2, b3 := big(3<<20+17), big(bufSize), big(511)
	layers := [][]byte{
		layerTar(t, []ent{reg("big/one", b1), reg("big/two", "replaced"), reg("small", b3), hard("big/link", "big/one")}),
		layerTar(t, []ent{reg("big/two", b2), reg("big/.wh.one", "")}),
	}
	for _, mtime := range []int64{0, 1700000000} {
		var first []byte
		for _, v := range variants {
			p := writeImage(t, layers, v)
			out1, err := flattenFile(t, p, mtime)
			if err != nil {
				t.Fatal(err)
			}
			out2, err := flattenFile(t, p, mtime)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out1, out2) {
				t.Fatalf("%s: two runs differ", v)
			}
			if first == nil {
				first = out1
				got := map[string]string{}
				eachEntry(t, out1, func(h *tar.Header, body []byte) { got[h.Name] = string(body) })
				for name, want := range map[string]string{"./big/link": b1, "./big/two": b2, "./small": b3} {
					if got[name] != want {
						t.Errorf("%s: %d bytes, want %d", name, len(got[name]), len(want))
					}
				}
				listing(t, out1, mtime) // checks order and mtimes
			} else if !bytes.Equal(out1, first) {
				t.Errorf("%s: output differs from %s's", v, variants[0])
			}
		}
	}
}

// TestWriteBadLayer reports a layer that is not a tar instead of writing
// half an image.
func TestWriteBadLayer(t *testing.T) {
	base := rawBase(t, bytes.Repeat([]byte("not a tar "), 100))
	if err := Write(io.Discard, base, t.TempDir(), 0); err == nil {
		t.Fatal("no error for a layer that is not a tar")
	}
}
