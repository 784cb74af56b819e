package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// hent is one entry of a crafted base layer.
type hent struct {
	name, link, body string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
}

func hreg(n, b string) hent  { return hent{name: n, body: b, typ: tar.TypeReg, mode: 0o644} }
func hdir(n string) hent     { return hent{name: n, typ: tar.TypeDir, mode: 0o755} }
func hsym(n, l string) hent  { return hent{name: n, link: l, typ: tar.TypeSymlink, mode: 0o777} }
func hlink(n, l string) hent { return hent{name: n, link: l, typ: tar.TypeLink, mode: 0o644} }

// craft writes a docker-archive of one image, tagged hostile/NAME:t, with
// these layers (a layer equal to an earlier one is stored once and listed
// again, as docker save does).
func craft(t *testing.T, name string, layers [][]hent) string {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	var ids, members []string
	stored := map[string]bool{}
	for _, l := range layers {
		var b bytes.Buffer
		lw := tar.NewWriter(&b)
		for _, e := range l {
			h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
				Devmajor: e.major, Devminor: e.minor, Size: int64(len(e.body)), Format: tar.FormatPAX}
			if err := lw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			io.WriteString(lw, e.body)
		}
		lw.Close()
		sum := sha256.Sum256(b.Bytes())
		id := hex.EncodeToString(sum[:])
		ids, members = append(ids, "sha256:"+id), append(members, id+"/layer.tar")
		if !stored[id] {
			stored[id] = true
			tw.WriteHeader(&tar.Header{Name: id + "/layer.tar", Size: int64(b.Len()), Mode: 0o644, Typeflag: tar.TypeReg})
			tw.Write(b.Bytes())
		}
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{"Cmd": []string{"/x"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
	m, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{"hostile/" + name + ":t"}, "Layers": members}})
	for _, f := range []struct {
		n string
		b []byte
	}{{"config.json", cfg}, {"manifest.json", m}} {
		tw.WriteHeader(&tar.Header{Name: f.n, Size: int64(len(f.b)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(f.b)
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), name+".tar")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// regexpLayer finds a layer's name in an error.
var regexpLayer = regexp.MustCompile(`layer [0-9a-f]{64}/layer\.tar: `)

// Bases that docker load refuses: our builds refuse them first, naming
// the layer and the entry.
func TestHostileBaseRefused(t *testing.T) {
	need(t)
	long := strings.Repeat("a/", 2047) + "f" // "/" and 4095 bytes: PATH_MAX with its NUL
	for _, tc := range []struct {
		name   string
		layers [][]hent
		want   string
	}{
		{"hardlink-to-nothing", [][]hent{{hreg("a", "a"), hlink("h", "/nothere")}}, `hard link "h" points to "/nothere", which is not in the layer before it`},
		{"hardlink-before-target", [][]hent{{hlink("h", "a"), hreg("a", "a")}}, `hard link "h" points to "a", which is not in the layer before it`},
		{"hardlink-to-directory", [][]hent{{hdir("d"), hlink("h", "d")}}, `hard link "h" points to directory "d"`},
		{"whiteout-of-root", [][]hent{{hreg("a", "a")}, {hreg(".wh..", "")}}, `whiteout ".wh.." names no file`},
		{"whiteout-of-dir-itself", [][]hent{{hdir("x"), hreg("x/a", "a")}, {hdir("x"), hreg("x/.wh..", "")}}, `whiteout "x/.wh.." names no file`},
		{"whiteout-empty", [][]hent{{hdir("x"), hreg("x/a", "a")}, {hdir("x"), hreg("x/.wh.", "")}}, `whiteout "x/.wh." names no file`},
		{"whiteout-under-file", [][]hent{{hreg("f", "f")}, {hreg("f/.wh.x", "")}}, `whiteout "f/.wh.x": resolving "f": not a directory`},
		{"file-as-parent", [][]hent{{hreg("f", "f")}, {hreg("f/x", "x")}}, `entry "f/x": resolving "f": not a directory`},
		{"dangling-parent", [][]hent{{hsym("s", "/nonexist"), hreg("s/f", "f")}}, `entry "s/f": resolving "s": no such file or directory`},
		{"symlink-loop", [][]hent{{hsym("a", "b"), hsym("b", "a"), hreg("a/x", "x")}}, `too many levels of symbolic links`},
		{"name-twice", [][]hent{{hsym("l", "d"), hreg("./l", "file")}}, `entry "./l" appears twice in the layer`},
		{"root-replaced", [][]hent{{hreg(".", "x")}}, `replaces the root directory with a non-directory`},
		{"path-max", [][]hent{{hreg(long, "x")}}, `over Linux's PATH_MAX of 4096`},
		{"name-max", [][]hent{{hreg(strings.Repeat("n", 256), "x")}}, `over Linux's NAME_MAX of 255`},
		{"symlink-target-max", [][]hent{{hsym("l", strings.Repeat("t/", 2048))}}, `symlink "l" has a target of 4096 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := craft(t, tc.name, tc.layers)
			if r := execute(nil, "/usr/bin/docker", "-H", "unix://"+h.docker.sock, "load", "-i", p); r.err == nil {
				t.Errorf("docker load accepted %s: %s", tc.name, r.stdout)
			} else {
				t.Logf("docker load: %s", strings.TrimSpace(tail(r.stderr, 1)))
			}
			log := expectBuildError(t, fmt.Sprintf(`dockerTools.buildImage { name = "on-hostile"; tag = "t"; fromImage = %s; }`, p), tc.want)
			if !regexpLayer.MatchString(log) {
				t.Errorf("the error does not name the layer:\n%s", tail(log, 5))
			}
		})
	}
}

// Bases that Docker loads: exportImage gives the tree `docker export` of a
// container made from them shows, file by file.
func TestHostileExportMatchesDocker(t *testing.T) {
	need(t)
	dev := hent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}
	for _, tc := range []struct {
		name   string
		layers [][]hent
	}{
		{"symlink-to-root", [][]hent{{hdir("etc"), hreg("etc/a", "a"), hsym("esc", "/"), hreg("esc/etc/through", "t")}}},
		{"dotdot-chain", [][]hent{{hdir("x"), hsym("x/y", ".."), hsym("x/y/z", ".."), hreg("x/y/z/w", "w")}}},
		{"climbing-symlink", [][]hent{{hdir("a"), hsym("a/up", "../../.."), hreg("a/up/f", "f"), hsym("abs", "/../..")}}},
		{"lower-symlink-parent", [][]hent{{hsym("lib", "usr/lib"), hdir("usr"), hdir("usr/lib"), hreg("usr/lib/x", "x")}, {hreg("lib/foo", "f")}}},
		{"whiteout-through-symlink", [][]hent{{hdir("d"), hreg("d/x", "x"), hreg("d/y", "y"), hsym("l", "d")}, {hreg("l/.wh.x", "")}}},
		{"opaque-through-symlink", [][]hent{{hdir("d"), hreg("d/x", "x"), hsym("l", "d")}, {hreg("l/.wh..wh..opq", ""), hreg("l/n", "n")}}},
		{"opaque-after-entries", [][]hent{{hdir("d"), hreg("d/old", "o"), hdir("d/sub"), hreg("d/sub/old", "o")},
			{hreg("d/new", "n"), hdir("d/sub"), hreg("d/.wh..wh..opq", "")}}},
		{"whiteout-then-entry", [][]hent{{hreg("a", "old"), hreg("b", "b")}, {hreg(".wh.a", ""), hreg("a", "new")}}},
		{"replacements", [][]hent{{hdir("d"), hreg("d/x", "x"), hsym("l", "d"), hdir("e"), hreg("f", "f")},
			{hdir("l"), hreg("l/n", "n"), hsym("e", "/etc"), hdir("f")}}},
		{"hardlinks", [][]hent{{hdir("real"), hreg("real/a", "a"), hsym("l", "real"), hlink("h", "l/a"), hsym("s", "a"), hlink("t", "s"),
			{name: "m", link: "real/a", typ: tar.TypeLink, mode: 0o600, uid: 5, gid: 6}}}},
		{"repeated-layer", [][]hent{{hreg("a", "one"), hlink("b", "a")}, {hreg(".wh.a", ""), hreg("c", "c")}, {hreg("a", "one"), hlink("b", "a")}}},
		{"special-files", [][]hent{{hdir("dev"), dev, {name: "dev/fifo", typ: tar.TypeFifo, mode: 0o600},
			{name: "suid", typ: tar.TypeReg, mode: 0o4755, body: "s", uid: 1000, gid: 100}, {name: "home", typ: tar.TypeDir, mode: 0o700, uid: 7, gid: 8}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := craft(t, tc.name, tc.layers)
			ref := loadedRef(t, docker(t, "load", "-i", p))
			id := strings.TrimSpace(docker(t, "create", ref))
			defer docker(t, "rm", id)
			exported := filepath.Join(t.TempDir(), "export.tar")
			docker(t, "export", "-o", exported, id)
			ours := nixBuild(t, fmt.Sprintf(`dockerTools.exportImage { name = "hostile.tar"; fromImage = %s; }`, p))
			want, got := describeExport(t, exported), describeExport(t, ours)
			for _, n := range dockerInit {
				if _, ok := got[n]; !ok {
					delete(want, n) // what docker create adds for the container
				}
			}
			var diffs []string
			for _, n := range union(want, got) {
				if want[n] != got[n] {
					diffs = append(diffs, fmt.Sprintf("%s: docker %q, exportImage %q", n, want[n], got[n]))
				}
			}
			if len(diffs) > 0 {
				t.Errorf("exportImage differs from docker export:\n\t%s", strings.Join(diffs, "\n\t"))
			}
		})
	}
}

// dockerInit is what Docker's init layer adds to a container's tree.
var dockerInit = []string{".dockerenv", "dev", "dev/console", "dev/pts", "dev/shm", "etc", "etc/hostname", "etc/hosts",
	"etc/mtab", "etc/resolv.conf", "proc", "sys"}

// describeExport describes each path of a filesystem tar (type,
// permissions, owner, content or target); hard links as their file.
func describeExport(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Trim(path.Clean("/"+h.Name), "/")
		if n == "" {
			continue // the root: docker export does not list it
		}
		d := fmt.Sprintf("%c %o %d:%d", h.Typeflag, h.Mode&0o7777, h.Uid, h.Gid)
		switch h.Typeflag {
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			d += fmt.Sprintf(" %q", b)
		case tar.TypeSymlink:
			d += " -> " + h.Linkname
		case tar.TypeChar, tar.TypeBlock:
			d += fmt.Sprintf(" %d,%d", h.Devmajor, h.Devminor)
		case tar.TypeLink:
			d = out[strings.Trim(path.Clean("/"+h.Linkname), "/")]
		}
		out[n] = d
	}
}

func union(a, b map[string]string) []string {
	var out []string
	for n := range a {
		out = append(out, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
