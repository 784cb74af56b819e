//go:build linux

package flatten

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nix-dockertools/dockertools/archive"
)

// needTools skips the test when a command is missing, except on CI.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required on CI: %v", n, err)
			}
			t.Skipf("%s not installed", n)
		}
	}
}

func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, body string, perm os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), 0o644))
	must(t, os.Chmod(p, perm)) // not subject to the umask
}

// describeTree describes every path under root (type, permission bits,
// owner when asRoot, content, link target, device) and the groups of paths
// that are hard links of one file.
func describeTree(t *testing.T, root string, asRoot bool) (map[string]string, [][]string) {
	t.Helper()
	tree := map[string]string{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		d := fmt.Sprintf("%o", st.Mode&0o7777)
		if asRoot {
			d += fmt.Sprintf(" @%d:%d", st.Uid, st.Gid)
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			d = fmt.Sprintf("f%s %q", d, b)
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case syscall.S_IFDIR:
			d = "d" + d
		case syscall.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			d = "s ->" + target // symlink permissions mean nothing on Linux
			if asRoot {
				d += fmt.Sprintf(" @%d:%d", st.Uid, st.Gid)
			}
		case syscall.S_IFCHR, syscall.S_IFBLK:
			kind := "c"
			if st.Mode&syscall.S_IFMT == syscall.S_IFBLK {
				kind = "b"
			}
			major := (st.Rdev>>8)&0xfff | (st.Rdev>>32)&^0xfff
			minor := st.Rdev&0xff | (st.Rdev>>12)&^0xff
			d = fmt.Sprintf("%s%s %d,%d", kind, d, major, minor)
		case syscall.S_IFIFO:
			d = "p" + d
		default:
			d = "?" + d
		}
		tree[rel] = d
		return nil
	})
	must(t, err)
	var groups [][]string
	for _, g := range inodes {
		slices.Sort(g)
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return tree, groups
}

// describeTar describes a flattened tar as describeTree describes its
// extraction, without extracting it.
func describeTar(t *testing.T, data []byte, asRoot bool) (map[string]string, [][]string) {
	t.Helper()
	tree := map[string]string{}
	links := map[string][]string{}
	eachEntry(t, data, func(h *tar.Header, body []byte) {
		rel := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		if rel == "" {
			rel = "."
		}
		d := fmt.Sprintf("%o", h.Mode&0o7777)
		if asRoot {
			d += fmt.Sprintf(" @%d:%d", h.Uid, h.Gid)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			d = fmt.Sprintf("f%s %q", d, body)
		case tar.TypeDir:
			d = "d" + d
		case tar.TypeSymlink:
			d = "s ->" + h.Linkname
			if asRoot {
				d += fmt.Sprintf(" @%d:%d", h.Uid, h.Gid)
			}
		case tar.TypeChar:
			d = fmt.Sprintf("c%s %d,%d", d, h.Devmajor, h.Devminor)
		case tar.TypeBlock:
			d = fmt.Sprintf("b%s %d,%d", d, h.Devmajor, h.Devminor)
		case tar.TypeFifo:
			d = "p" + d
		case tar.TypeLink:
			target := strings.TrimPrefix(h.Linkname, "./")
			d = tree[target]
			links[target] = append(links[target], rel)
		default:
			t.Fatalf("%s: unexpected type %c", h.Name, h.Typeflag)
		}
		tree[rel] = d
	})
	var groups [][]string
	for target, g := range links {
		g = append(g, target)
		slices.Sort(g)
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return tree, groups
}

func diffTrees(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s: %s: got %q, umoci has %q", what, k, got[k], want[k])
		}
	}
}

// layerMarkers lists the whiteout and opaque entries of an image's layers.
func layerMarkers(t *testing.T, base *archive.Base) []string {
	var marks []string
	must(t, base.Copy(func(i int, l *archive.BaseLayer, r io.Reader) error {
		d, err := archive.Decompress(r, l.Compression)
		if err != nil {
			return err
		}
		defer d.Close()
		tr := tar.NewReader(d)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if strings.HasPrefix(filepath.Base(h.Name), ".wh.") {
				marks = append(marks, fmt.Sprintf("%d:%s", i, strings.TrimPrefix(h.Name, "/")))
			}
		}
	}))
	return marks
}

// TestCompareWithUmoci builds an image with umoci (layers with whiteouts, an
// opaque directory, hard links, devices), converts it to a docker-archive
// with skopeo, and checks that the flattened tar holds what umoci unpacks
// from that docker-archive.
func TestCompareWithUmoci(t *testing.T) {
	needTools(t, "umoci", "skopeo", "tar")
	asRoot := os.Geteuid() == 0
	work := t.TempDir()
	unpack := func(image, bundle string) {
		args := []string{"unpack"}
		if !asRoot {
			args = append(args, "--rootless")
		}
		run(t, work, "umoci", append(args, "--image", image, bundle)...)
	}
	repack := func(image, bundle string) {
		run(t, work, "umoci", "repack", "--image", image, bundle)
	}

	run(t, work, "umoci", "init", "--layout", "oci")
	run(t, work, "umoci", "new", "--image", "oci:base")

	// Layer 1: a bit of everything.
	unpack("oci:base", "b1")
	r1 := filepath.Join(work, "b1", "rootfs")
	must(t, os.Chmod(r1, 0o755))
	writeFile(t, r1+"/etc/conf", "v1", 0o644)
	writeFile(t, r1+"/etc/keep", "keep", 0o644)
	writeFile(t, r1+"/bin/tool", "#!/bin/sh\n", 0o755)
	writeFile(t, r1+"/lib/a", "a", 0o644)
	writeFile(t, r1+"/lib/sub/c", "c", 0o644)
	writeFile(t, r1+"/data/h1", "hard", 0o644)
	must(t, os.Link(r1+"/data/h1", r1+"/data/h2"))
	writeFile(t, r1+"/data/k1", "kept link", 0o640)
	must(t, os.Link(r1+"/data/k1", r1+"/data/k2"))
	must(t, os.Symlink("bin/tool", r1+"/link"))
	writeFile(t, r1+"/gone/file", "gone", 0o644)
	writeFile(t, r1+"/gone/sub/f", "gone too", 0o644)
	writeFile(t, r1+"/secret", "s", 0o600)
	writeFile(t, r1+"/suid", "u", os.ModeSetuid|0o755)
	writeFile(t, r1+"/private/f", "p", 0o644)
	must(t, os.Chmod(r1+"/private", 0o700))
	writeFile(t, r1+"/empty", "", 0o644)
	writeFile(t, r1+"/a-b", "dash", 0o644)
	writeFile(t, r1+"/a/b", "slash", 0o644)
	must(t, os.MkdirAll(r1+"/dev", 0o755))
	must(t, syscall.Mkfifo(r1+"/dev/fifo", 0o600))
	if asRoot {
		must(t, syscall.Mknod(r1+"/dev/null", syscall.S_IFCHR|0o666, 1<<8|3))
		must(t, os.Chmod(r1+"/dev/null", 0o666))
		writeFile(t, r1+"/home/user/f", "mine", 0o644)
		must(t, os.Chown(r1+"/home/user/f", 1000, 1000))
		must(t, os.Chown(r1+"/home/user", 1000, 1000))
	}
	repack("oci:v1", "b1")

	// Layer 2: deletions (whiteouts), replacements, a link to a lower file.
	unpack("oci:v1", "b2")
	r2 := filepath.Join(work, "b2", "rootfs")
	must(t, os.Remove(r2+"/etc/keep"))
	must(t, os.RemoveAll(r2+"/gone"))
	writeFile(t, r2+"/etc/conf", "v2", 0o644)
	must(t, os.Remove(r2+"/link"))
	must(t, os.Symlink("etc/conf", r2+"/link"))
	must(t, os.Remove(r2+"/bin/tool"))
	writeFile(t, r2+"/bin/tool/inner", "now a directory", 0o644)
	// No directory replaced by a file: umoci then writes "swap" and a
	// whiteout "swap/.wh.x" after it, which docker load and podman load
	// refuse (not a directory), and so does OpenBase.
	must(t, os.Remove(r2+"/data/h1")) // h2 keeps the content
	must(t, os.Link(r2+"/data/k1", r2+"/data/k3"))
	must(t, os.Chmod(r2+"/secret", 0o640))
	repack("oci:v2", "b2")

	// Layer 3: an opaque /lib; layer 4: a whiteout made by umoci insert.
	writeFile(t, work+"/newlib/only", "only this", 0o644)
	run(t, work, "umoci", "insert", "--image", "oci:v2", "--tag", "v3", "--opaque", "newlib", "/lib")
	run(t, work, "umoci", "insert", "--image", "oci:v3", "--tag", "v4", "--whiteout", "/etc/conf")

	img := filepath.Join(work, "img.tar")
	run(t, work, "skopeo", "--insecure-policy", "copy", "oci:"+work+"/oci:v4", "docker-archive:"+img+":test:latest")
	base, err := archive.OpenBase(img, "", "", "")
	must(t, err)
	marks := strings.Join(layerMarkers(t, base), " ")
	for _, want := range []string{".wh.keep", ".wh.gone", ".wh.h1", "lib/.wh..wh..opq", "etc/.wh.conf"} {
		if !strings.Contains(marks, want) {
			t.Errorf("the fixture's layers have no %s (they have %s)", want, marks)
		}
	}

	var flat bytes.Buffer
	must(t, Write(&flat, base, t.TempDir(), 0))
	// The same image gzipped is read through the spill file, not in place.
	gz := img + ".gz"
	run(t, work, "sh", "-c", "gzip -c img.tar > img.tar.gz")
	gzBase, err := archive.OpenBase(gz, "", "", "")
	must(t, err)
	var flatGz bytes.Buffer
	must(t, Write(&flatGz, gzBase, t.TempDir(), 0))
	if !bytes.Equal(flat.Bytes(), flatGz.Bytes()) {
		t.Error("the gzipped archive flattens differently")
	}

	// What umoci makes of the docker-archive.
	run(t, work, "skopeo", "--insecure-policy", "copy", "docker-archive:"+img, "oci:"+work+"/oci2:t")
	unpack("oci2:t", "b3")
	want, wantGroups := describeTree(t, filepath.Join(work, "b3", "rootfs"), asRoot)
	delete(want, ".") // the bundle's rootfs directory is umoci's own

	got, gotGroups := describeTar(t, flat.Bytes(), asRoot)
	delete(got, ".")
	diffTrees(t, "flattened tar", got, want)
	if fmt.Sprint(gotGroups) != fmt.Sprint(wantGroups) {
		t.Errorf("hard links: flattened tar has %v, umoci %v", gotGroups, wantGroups)
	}

	// What GNU tar extracts from the flattened tar.
	ex := filepath.Join(work, "extracted")
	must(t, os.Mkdir(ex, 0o755))
	must(t, os.WriteFile(filepath.Join(work, "flat.tar"), flat.Bytes(), 0o644))
	run(t, work, "tar", "--numeric-owner", "-xpf", "flat.tar", "-C", ex)
	gotEx, gotExGroups := describeTree(t, ex, asRoot)
	delete(gotEx, ".")
	diffTrees(t, "extracted with tar", gotEx, want)
	if fmt.Sprint(gotExGroups) != fmt.Sprint(wantGroups) {
		t.Errorf("hard links: extracted tar has %v, umoci %v", gotExGroups, wantGroups)
	}

	// A few facts, so that the comparison cannot pass by both being wrong.
	for p, d := range map[string]string{
		"data/h2":    `"hard"`,
		"lib/only":   `"only this"`,
		"link":       "s ->etc/conf",
		"bin/tool":   "d755",
		"a/b":        `"slash"`,
		"secret":     "f640",
		"suid":       "f4755",
		"private":    "d700",
		"data/k3":    `"kept link"`,
		"dev/fifo":   "p600",
		"lib/a":      "",
		"lib/sub":    "",
		"etc/conf":   "",
		"etc/keep":   "",
		"gone":       "",
		"gone/file":  "",
		"bin/tool/x": "",
	} {
		if d == "" {
			if g, ok := got[p]; ok {
				t.Errorf("%s is in the flattened tar (%s)", p, g)
			}
		} else if !strings.Contains(got[p], d) {
			t.Errorf("%s: got %q, want %s", p, got[p], d)
		}
	}
	t.Logf("layer markers: %s", marks)
	t.Logf("hard links: %v", gotGroups)
}

// TestSparseFiles flattens layers that GNU tar wrote with --sparse, in its
// old GNU format and in PAX format 1.0 (whose sparse map lies in the file's
// data, so it cannot be read in place).
func TestSparseFiles(t *testing.T) {
	needTools(t, "tar", "truncate")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	writeFile(t, root+"/sparse", "head", 0o644)
	run(t, dir, "truncate", "-s", "3M", "root/sparse")
	f, err := os.OpenFile(root+"/sparse", os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString("tail")
	must(t, err)
	must(t, f.Close())
	want, err := os.ReadFile(root + "/sparse")
	must(t, err)
	for _, format := range []string{"gnu", "posix"} {
		t.Run(format, func(t *testing.T) {
			run(t, dir, "tar", "--sparse", "--format="+format, "-C", "root", "-cf", format+".tar", ".")
			layer, err := os.ReadFile(filepath.Join(dir, format+".tar"))
			must(t, err)
			extra := layerTar(t, []ent{reg("other", "after the sparse file")})
			var first []byte
			for _, v := range variants {
				out, err := flattenFile(t, writeImage(t, [][]byte{layer, extra}, v), 0)
				must(t, err)
				if first == nil {
					first = out
				} else if !bytes.Equal(out, first) {
					t.Errorf("%s: output differs from %s's", v, variants[0])
				}
			}
			got, _ := describeTar(t, first, false)
			if w := fmt.Sprintf("f644 %q", want); got["sparse"] != w {
				t.Errorf("sparse: got %d bytes of description, want %d", len(got["sparse"]), len(w))
			}
			if got["other"] != `f644 "after the sparse file"` {
				t.Errorf("other: got %q", got["other"])
			}
		})
	}
}
