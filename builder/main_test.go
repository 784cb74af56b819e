package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// build runs a builder subcommand as Nix would: attributes in
// $NIX_BUILD_TOP/.attrs.json (NIX_ATTRS_JSON_FILE pointing elsewhere, as
// Nix 2.8 does in the sandbox), and checks that a failure names the problem
// and leaves no output behind.
func build(t *testing.T, run func([]string) error, attrs string) (out string, err error) {
	t.Helper()
	top := t.TempDir()
	out = filepath.Join(t.TempDir(), "out")
	attrs = strings.ReplaceAll(attrs, "$out", out)
	if err := os.WriteFile(filepath.Join(top, ".attrs.json"), []byte(attrs), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NIX_BUILD_TOP", top)
	t.Setenv("NIX_ATTRS_JSON_FILE", "/build-outside-the-sandbox/.attrs.json")
	err = run(nil)
	if err != nil {
		if _, serr := os.Lstat(out); serr == nil {
			t.Errorf("failed build left %s behind", out)
		}
		entries, _ := os.ReadDir(filepath.Dir(out))
		if len(entries) != 0 {
			t.Errorf("failed build left files next to $out: %v", entries)
		}
	}
	return out, err
}

// attrsWith is good as JSON with k set to v (removed when v is nil).
func attrsWith(good map[string]any, k string, v any) string {
	m := map[string]any{}
	for k, v := range good {
		m[k] = v
	}
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestBuildStreamBadInput(t *testing.T) {
	good := map[string]any{
		"outputs": map[string]string{"out": "$out"}, "builder": "/nix/store/x-dockertools",
		"imageName": "x", "imageTag": "latest", "includeStorePaths": false,
	}
	with := func(k string, v any) string { return attrsWith(good, k, v) }
	tests := []struct {
		name, attrs, want string
	}{
		{"corrupt attrs", `{"outputs": {"out": "$out"`, ".attrs.json"},
		{"attrs not an object", `[1, 2]`, "not a JSON object"},
		{"no outputs", `{}`, `"outputs"`},
		{"maxLayers 1", with("maxLayers", 1), `attribute "maxLayers": expected a number greater than 1, got 1`},
		{"maxLayers not a number", with("maxLayers", "ten"), `attribute "maxLayers": expected an integer`},
		{"bad created", with("created", "yesterday"), `attribute "created": expected an ISO-8601`},
		{"bad mtime", with("mtime", "soon"), `attribute "mtime"`},
		{"contents not paths", with("contents", []string{"hello"}), `attribute "contents": "hello" is not an absolute path`},
		{"contents a number", with("contents", 3), `attribute "contents": expected a list of strings`},
		{"config not a set", with("config", []int{1}), `attribute "config": expected an attribute set`},
		{"no image name", with("imageName", nil), `"imageName"`},
		{"fromImage missing", with("fromImage", "/nonexistent/base.tar"), "fromImage /nonexistent/base.tar"},
		{"fakeRootCommands not a string", with("fakeRootCommands", 5), `attribute "fakeRootCommands": expected a string`},
		{"enableFakechroot not a bool", with("enableFakechroot", "yes"), `attribute "enableFakechroot": expected`},
		{"fakeRootCommands without a shell", with("fakeRootCommands", "chown 1 x"), `fakeRootCommands: no bin/bash or bin/sh in scriptTools`},
		{"closure missing", with("includeStorePaths", true), `"closure" and "closureRoot" are required`},
		{"closure corrupt", strings.Replace(with("closure", "not a graph"), `"includeStorePaths":false`,
			`"includeStorePaths":true,"closureRoot":"/nix/store/00000000000000000000000000000000-roots"`, 1), `attribute "closure": parsing closure graph`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, buildStream, tt.attrs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestFromImageNotAnArchive(t *testing.T) {
	dir := t.TempDir()
	notImage := filepath.Join(dir, "not-an-image.tar")
	os.WriteFile(notImage, []byte("hello, not a tar"), 0o644)
	_, err := build(t, buildStream, `{"outputs":{"out":"$out"},"builder":"/b","imageName":"x","imageTag":"t",
		"includeStorePaths":false,"fromImage":"`+notImage+`"}`)
	if err == nil || !strings.Contains(err.Error(), "not a docker-archive") {
		t.Fatalf("error = %v", err)
	}
}

func TestBuildLayeredBadInput(t *testing.T) {
	dir := t.TempDir()
	notScript := filepath.Join(dir, "stream")
	os.WriteFile(notScript, []byte("#!/bin/sh\necho hi\n"), 0o755)
	for _, tt := range []struct{ name, attrs, want string }{
		{"unknown compressor", `{"outputs":{"out":"$out"},"stream":"` + notScript + `","compressor":"xz"}`, `attribute "compressor": expected one of none, gz, zstd, got "xz"`},
		{"no stream", `{"outputs":{"out":"$out"}}`, `attribute "stream" is required`},
		{"not a stream script", `{"outputs":{"out":"$out"},"stream":"` + notScript + `"}`, "stream configuration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, buildLayered, tt.attrs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	out, err := build(t, writeFile, `{"outputs":{"out":"$out"},"text":"{\"a\":1}"}`)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != `{"a":1}` {
		t.Fatalf("wrote %q", b)
	}
}

func TestBuildImageBadInput(t *testing.T) {
	good := map[string]any{"outputs": map[string]string{"out": "$out"}, "imageName": "x", "imageTag": "latest"}
	with := func(k string, v any) string { return attrsWith(good, k, v) }
	for _, tt := range []struct{ name, attrs, want string }{
		{"no image name", with("imageName", nil), `"imageName"`},
		{"copyToRoot not paths", with("copyToRoot", []string{"hello"}), `attribute "copyToRoot": "hello" is not an absolute path`},
		{"copyToRoot without its closure", with("copyToRoot", []string{"/nix/store/00000000000000000000000000000000-x"}), `"closure" and "closureRoot" are required`},
		{"keepContentsDirlinks not a boolean", with("keepContentsDirlinks", "yes"), `attribute "keepContentsDirlinks": expected true or false`},
		{"uid negative", with("uid", -1), `expected non-negative numbers`},
		{"bad created", with("created", "tomorrow"), `attribute "created"`},
		{"unknown compressor", with("compressor", "lz4"), `expected one of none, gz, zstd`},
		{"runAsRoot without a VM", with("runAsRoot", "mkdir /data"), `attribute "runAsRoot" needs the attributes "vmKernel"`},
		{"runAsRoot not a string", with("runAsRoot", 3), `attribute "runAsRoot": expected a string`},
		{"diskSize zero", with("diskSize", 0), `attribute "diskSize": expected a positive number of megabytes, got 0`},
		{"vmKernel missing", attrsWith(map[string]any{"outputs": map[string]string{"out": "$out"}, "imageName": "x", "runAsRoot": "true",
			"vmKernel": "/nonexistent/kernel", "qemu": "/nonexistent/qemu", "scriptTools": []string{"/"}}, "x", nil), `attribute "vmKernel": kernel: stat /nonexistent/kernel`},
		{"fromImage missing", with("fromImage", "/nonexistent/base.tar"), "fromImage /nonexistent/base.tar"},
		{"config not a set", with("config", "x"), `attribute "config": expected an attribute set`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, run := range []func([]string) error{buildImage, buildImageLayer} {
				_, err := build(t, run, tt.attrs)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error = %v, want one containing %q", err, tt.want)
				}
			}
		})
	}
}

// With nothing to add, buildImage still writes a loadable one-layer image.
func TestBuildImageEmpty(t *testing.T) {
	out, err := build(t, buildImage, `{"outputs":{"out":"$out"},"imageName":"Empty","compressor":"none"}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), `"RepoTags":["empty:out"]`) {
		t.Fatalf("image: %v, manifest not found with the lower-cased name and the tag from $out's name", err)
	}
}

func TestWriteTree(t *testing.T) {
	out, err := build(t, writeTree, `{"outputs":{"out":"$out"},"files":{"etc/passwd":"root:x:0:0::/:/bin/sh\n"},
		"dirs":["var/empty"],"links":{"bin/sh":["/nonexistent/sh","/bin/sh"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "etc/passwd")); string(b) != "root:x:0:0::/:/bin/sh\n" {
		t.Errorf("etc/passwd = %q", b)
	}
	if l, _ := os.Readlink(filepath.Join(out, "bin/sh")); l != "/bin/sh" {
		t.Errorf("bin/sh -> %q, want the first candidate that exists", l)
	}
	for _, tc := range []struct{ attrs, want string }{
		{`{"outputs":{"out":"$out"},"files":{"../escape":"x"}}`, `attribute "files": "../escape" is not a relative path`},
		{`{"outputs":{"out":"$out"},"links":{"bin/sh":["/nonexistent/a"]}}`, `attribute "links": none of /nonexistent/a exists, for bin/sh`},
		{`{"outputs":{"out":"$out"},"dirs":"var"}`, `attribute "dirs"`},
	} {
		if _, err := build(t, writeTree, tc.attrs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error = %v, want one containing %q", err, tc.want)
		}
	}
}
