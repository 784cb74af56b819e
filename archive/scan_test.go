package archive

import (
	"archive/tar"
	"bytes"
	"slices"
	"strings"
	"testing"
)

// tarOf makes a layer of the given headers (regular files are empty).
func tarOf(t *testing.T, hs ...tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hs {
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return b.Bytes()
}

// applyAll applies layers to a new check tree.
func applyAll(t *testing.T, layers ...[]byte) (*checkTree, error) {
	t.Helper()
	tr := newCheckTree()
	for _, l := range layers {
		if err := ApplyLayer(tr, tar.NewReader(bytes.NewReader(l)), nil); err != nil {
			return tr, err
		}
	}
	return tr, nil
}

func TestApplyLayerRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    tar.Header
		want string
	}{
		{"name climbing out", tar.Header{Name: "a/../../etc/passwd", Typeflag: tar.TypeReg}, "leaves the image's root"},
		{"dot-dot name", tar.Header{Name: "../x", Typeflag: tar.TypeReg}, "leaves the image's root"},
		{"hard link out", tar.Header{Name: "x", Linkname: "../../etc/shadow", Typeflag: tar.TypeLink}, `hard link "x": entry "../../etc/shadow" leaves the image's root`},
		{"hard link to nothing", tar.Header{Name: "h", Linkname: "/nothere", Typeflag: tar.TypeLink}, `hard link "h" points to "/nothere", which is not in the layer before it`},
		{"whiteout of the root", tar.Header{Name: ".wh..", Typeflag: tar.TypeReg}, `whiteout ".wh.." names no file`},
		{"long name", tar.Header{Name: strings.Repeat("a/", 100_000) + "f", Typeflag: tar.TypeReg}, "over Linux's PATH_MAX of 4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := applyAll(t, tarOf(t, tc.h))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	// What real images hold is fine: absolute names, absolute symlinks,
	// relative symlinks (climbing above the root too: it stops there, as
	// Docker resolves it), absolute hard links.
	ok := tarOf(t,
		tar.Header{Name: "/nix/store/aaaa-x/bin/sh", Typeflag: tar.TypeReg},
		tar.Header{Name: "./bin/sh", Linkname: "/nix/store/aaaa-x/bin/sh", Typeflag: tar.TypeSymlink},
		tar.Header{Name: "usr/bin/env", Linkname: "../../bin/env", Typeflag: tar.TypeSymlink},
		tar.Header{Name: "a/b", Linkname: "../../etc", Typeflag: tar.TypeSymlink},
		tar.Header{Name: "bin/ash", Linkname: "/bin/sh", Typeflag: tar.TypeLink},
	)
	if _, err := applyAll(t, ok); err != nil {
		t.Fatal(err)
	}
	if _, err := applyAll(t, []byte(strings.Repeat("junk", 200))); err == nil || !strings.Contains(err.Error(), "not a tar") {
		t.Fatalf("error = %v", err)
	}
}

func TestStorePathsWhiteouts(t *testing.T) {
	dir := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755} }
	reg := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeReg} }
	sym := func(n, l string) tar.Header { return tar.Header{Name: n, Linkname: l, Typeflag: tar.TypeSymlink} }
	layers := [][]byte{
		tarOf(t, dir("/nix/"), dir("/nix/store/"), dir("/nix/store/a-one/"), reg("/nix/store/a-one/f"), reg("/nix/store/b-two"), reg("./nix/store/c-three")),
		tarOf(t, reg("nix/store/.wh.b-two"), dir("nix/store/d-four/")),
	}
	for _, tc := range []struct {
		name  string
		extra [][]byte
		want  []string
	}{
		{"whiteout", nil, []string{"/nix/store/a-one", "/nix/store/c-three", "/nix/store/d-four"}},
		{"opaque store", [][]byte{tarOf(t, reg("nix/store/.wh..wh..opq"), dir("nix/store/e-five/"))}, []string{"/nix/store/e-five"}},
		{"/nix whited out", [][]byte{tarOf(t, reg(".wh.nix"))}, nil},
		// Paths go where the engines put them: through symlinks.
		{"written through a symlink", [][]byte{tarOf(t, sym("esc", "/"), reg("esc/nix/store/g-seven"))}, []string{"/nix/store/a-one", "/nix/store/c-three", "/nix/store/d-four", "/nix/store/g-seven"}},
		{"store moved behind a symlink", [][]byte{tarOf(t, dir("elsewhere/"), reg(".wh.nix"), sym("nix", "elsewhere"), reg("nix/store/h-eight"))}, []string{"/nix/store/h-eight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := applyAll(t, append(slices.Clone(layers), tc.extra...)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := storePaths(tr, "/nix/store"); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("store paths = %v, want %v", got, tc.want)
			}
		})
	}
}

// With another store directory, /nix/store is an ordinary directory and
// whiteouts count from the configured one up.
func TestStorePathsOtherStoreDir(t *testing.T) {
	reg := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeReg} }
	base := tarOf(t, reg("nix/store/a-nix"), reg("opt/store/b-opt"), reg("opt/store/c-opt/f"))
	for _, tc := range []struct {
		name  string
		layer []byte
		want  []string
	}{
		{"no change", tarOf(t, reg("etc/x")), []string{"/opt/store/b-opt", "/opt/store/c-opt"}},
		{"a whiteout in the store", tarOf(t, reg("opt/store/.wh.b-opt")), []string{"/opt/store/c-opt"}},
		{"/nix whited out", tarOf(t, reg(".wh.nix")), []string{"/opt/store/b-opt", "/opt/store/c-opt"}},
		{"/opt whited out", tarOf(t, reg(".wh.opt")), nil},
		{"/opt opaque", tarOf(t, reg("opt/.wh..wh..opq")), nil},
		{"/opt/other opaque", tarOf(t, reg("opt/other/.wh..wh..opq")), []string{"/opt/store/b-opt", "/opt/store/c-opt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := applyAll(t, base, tc.layer)
			if err != nil {
				t.Fatal(err)
			}
			if got := storePaths(tr, "/opt/store"); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("store paths = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOpenBaseBadLayer(t *testing.T) {
	evil := tarOf(t, tar.Header{Name: "../../evil", Typeflag: tar.TypeReg})
	cfg := config(t, nil, diffID(evil))
	m := manifest(t, ManifestEntry{Config: "c.json", RepoTags: []string{"base:v1"}, Layers: []string{"l1/layer.tar"}})
	_, err := OpenBase(writeArchive(t, []fixture{{name: "l1/layer.tar", data: evil}, {name: "c.json", data: cfg}, {name: "manifest.json", data: m}}, false), "", "", "")
	if err == nil || !strings.Contains(err.Error(), `layer l1/layer.tar: entry "../../evil" leaves the image's root`) {
		t.Fatalf("error = %v", err)
	}
	// A layer member that is a link to an absolute path outside the archive.
	_, err = OpenBase(writeArchive(t, []fixture{{name: "l1/layer.tar", link: "/etc/passwd"}, {name: "c.json", data: cfg}, {name: "manifest.json", data: m}}, false), "", "", "")
	if err == nil || !strings.Contains(err.Error(), "leaves the archive") {
		t.Fatalf("error = %v", err)
	}
}
