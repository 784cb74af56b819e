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

func TestScanLayerRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    tar.Header
		want string
	}{
		{"name climbing out", tar.Header{Name: "a/../../etc/passwd", Typeflag: tar.TypeReg}, "leaves the image's root"},
		{"dot-dot name", tar.Header{Name: "../x", Typeflag: tar.TypeReg}, "leaves the image's root"},
		{"hard link out", tar.Header{Name: "x", Linkname: "../../etc/shadow", Typeflag: tar.TypeLink}, "outside the image's root"},
		{"relative symlink out", tar.Header{Name: "a/b", Linkname: "../../etc", Typeflag: tar.TypeSymlink}, "outside the image's root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scanLayer(bytes.NewReader(tarOf(t, tc.h)), "nix/store")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	// What real images hold is fine: absolute names, absolute symlinks,
	// relative symlinks that stay inside, absolute hard links.
	ok := tarOf(t,
		tar.Header{Name: "/nix/store/aaaa-x/bin/sh", Typeflag: tar.TypeReg},
		tar.Header{Name: "./bin/sh", Linkname: "/nix/store/aaaa-x/bin/sh", Typeflag: tar.TypeSymlink},
		tar.Header{Name: "usr/bin/env", Linkname: "../../bin/env", Typeflag: tar.TypeSymlink},
		tar.Header{Name: "bin/ash", Linkname: "/bin/sh", Typeflag: tar.TypeLink},
	)
	if _, err := scanLayer(bytes.NewReader(ok), "nix/store"); err != nil {
		t.Fatal(err)
	}
	if _, err := scanLayer(strings.NewReader(strings.Repeat("junk", 200)), "nix/store"); err == nil || !strings.Contains(err.Error(), "not a tar") {
		t.Fatalf("error = %v", err)
	}
}

func TestStorePathsWhiteouts(t *testing.T) {
	dir := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755} }
	reg := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeReg} }
	layers := [][]byte{
		tarOf(t, dir("/nix/"), dir("/nix/store/"), dir("/nix/store/a-one/"), reg("/nix/store/a-one/f"), reg("/nix/store/b-two"), reg("./nix/store/c-three")),
		tarOf(t, reg("nix/store/.wh.b-two"), dir("nix/store/d-four/")),
	}
	var scans []*layerScan
	for _, l := range layers {
		s, err := scanLayer(bytes.NewReader(l), "nix/store")
		if err != nil {
			t.Fatal(err)
		}
		scans = append(scans, s)
	}
	want := []string{"/nix/store/a-one", "/nix/store/c-three", "/nix/store/d-four"}
	if got := storePaths(scans, "/nix/store"); !slices.Equal(got, want) {
		t.Fatalf("store paths = %v, want %v", got, want)
	}
	opaque, _ := scanLayer(bytes.NewReader(tarOf(t, reg("nix/store/.wh..wh..opq"), dir("nix/store/e-five/"))), "nix/store")
	if got := storePaths(append(scans, opaque), "/nix/store"); !slices.Equal(got, []string{"/nix/store/e-five"}) {
		t.Fatalf("after an opaque store: %v", got)
	}
	gone, _ := scanLayer(bytes.NewReader(tarOf(t, reg(".wh.nix"))), "nix/store")
	if got := storePaths(append(scans, gone), "/nix/store"); len(got) != 0 {
		t.Fatalf("after /nix is whited out: %v", got)
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
			var scans []*layerScan
			for _, l := range [][]byte{base, tc.layer} {
				s, err := scanLayer(bytes.NewReader(l), "opt/store")
				if err != nil {
					t.Fatal(err)
				}
				scans = append(scans, s)
			}
			if got := storePaths(scans, "/opt/store"); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
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
