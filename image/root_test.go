package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/layer"
)

// tree makes files under a temporary directory from "path" (file),
// "path/" (directory) and "path -> target" (link) lines.
func tree(t *testing.T, spec ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, s := range spec {
		name, target, isLink := strings.Cut(s, " -> ")
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		var err error
		switch {
		case isLink:
			err = os.Symlink(strings.ReplaceAll(target, "$ROOT", root), p)
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		default:
			err = os.WriteFile(p, []byte(name), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// listing describes entries one per line: name, then "->target" for links.
func listing(es []layer.Entry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Name)
		if e.Typeflag == layer.TypeSymlink {
			b.WriteString(" -> " + e.Linkname)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestRootTree(t *testing.T) {
	pkg := tree(t, "bin/hello", "lib/libc.so", "share/doc/")
	env := tree(t, "bin -> "+pkg+"/bin", "lib -> "+pkg+"/lib", "etc/motd", "dangling -> /nowhere", "hello -> bin/hello")
	usr := tree(t, "usr/bin/tool", "bin -> usr/bin")
	extra := tree(t, "bin/extra", "etc/motd")
	for _, tc := range []struct {
		name  string
		items []string
		keep  bool
		want  string
	}{
		{"links to directories become directories", []string{env}, false,
			"bin/\nbin/hello\ndangling -> /nowhere\netc/\netc/motd\nhello -> bin/hello\nlib/\nlib/libc.so\n"},
		{"links to directories kept", []string{env}, true,
			"bin -> " + pkg + "/bin\ndangling -> /nowhere\netc/\netc/motd\nhello -> bin/hello\nlib -> " + pkg + "/lib\n"},
		{"later items add to directories and replace files", []string{env, extra}, false,
			"bin/\nbin/extra\nbin/hello\ndangling -> /nowhere\netc/\netc/motd\nhello -> bin/hello\nlib/\nlib/libc.so\n"},
		{"kept link out of the tree merged with a directory", []string{env, extra}, true,
			"bin/\nbin/extra\nbin/hello\ndangling -> /nowhere\netc/\netc/motd\nhello -> bin/hello\nlib -> " + pkg + "/lib\n"},
		{"kept link inside the tree receives the directory", []string{usr, extra}, true,
			"bin -> usr/bin\netc/\netc/motd\nusr/\nusr/bin/\nusr/bin/extra\nusr/bin/tool\n"},
		{"link inside the tree copied, then merged", []string{usr, extra}, false,
			"bin/\nbin/extra\nbin/tool\netc/\netc/motd\nusr/\nusr/bin/\nusr/bin/tool\n"},
		{"a bare file goes to the top", []string{filepath.Join(pkg, "lib/libc.so")}, false, "libc.so\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := newRootTree("/nix/store", tc.items, tc.keep, layer.Owner{UID: 7, GID: 8}, 1)
			if err != nil {
				t.Fatal(err)
			}
			es := rt.entries()
			if got := listing(es); got != tc.want {
				t.Fatalf("entries:\n%s\nwant:\n%s", got, tc.want)
			}
			for _, e := range es {
				if e.UID != 7 || e.GID != 8 || e.MTime != 1 {
					t.Fatalf("%s: owner %d:%d mtime %d", e.Name, e.UID, e.GID, e.MTime)
				}
			}
			// Written to disk (for extraCommands), the tree lists the same.
			dir := t.TempDir()
			if err := rt.write(dir); err != nil {
				t.Fatal(err)
			}
			defer makeWritable(dir)
			disk, err := layer.DirEntries(dir, layer.Owner{}, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := listing(disk); got != tc.want {
				t.Fatalf("written tree:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestRootTreeErrors(t *testing.T) {
	loop := tree(t, "a/self -> ..")
	if _, err := newRootTree("/nix/store", []string{loop}, false, layer.Owner{}, 1); err == nil || !strings.Contains(err.Error(), "symlink loop") {
		t.Fatalf("error = %v", err)
	}
	// Kept, a loop is only a link.
	if _, err := newRootTree("/nix/store", []string{loop}, true, layer.Owner{}, 1); err != nil {
		t.Fatal(err)
	}
	dir, file := tree(t, "bin/sh"), tree(t, "bin")
	if _, err := newRootTree("/nix/store", []string{dir, file}, false, layer.Owner{}, 1); err == nil || !strings.Contains(err.Error(), "/bin is a directory in an earlier item") {
		t.Fatalf("error = %v", err)
	}
	if _, err := newRootTree("/nix/store", []string{"/nonexistent/x"}, false, layer.Owner{}, 1); err == nil || !strings.Contains(err.Error(), `attribute "copyToRoot"`) {
		t.Fatalf("error = %v", err)
	}
}

func TestRootTreeModes(t *testing.T) {
	pkg := tree(t, "bin/hello")
	os.Chmod(filepath.Join(pkg, "bin/hello"), 0o555)
	os.Chmod(filepath.Join(pkg, "bin"), 0o555)
	defer os.Chmod(filepath.Join(pkg, "bin"), 0o755)
	rt, err := newRootTree("/nix/store", []string{pkg}, false, layer.Owner{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	es := rt.entries()
	if es[0].Mode != 0o555 || es[1].Mode != 0o555 {
		t.Fatalf("modes %o %o, want the store's 0555", es[0].Mode, es[1].Mode)
	}
}
