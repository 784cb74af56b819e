package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-dockertools/dockertools/archive"
)

var fakeRootFixtures = []string{"fakeroot", "fakechroot", "shadow-basic"}

// lastLayerListing is `tar -tv` of an image's last layer: the layered
// images' customisation layer, buildImage's new layer.
func lastLayerListing(t *testing.T, img string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, "tar", "-xf", uncompressed(t, img), "-C", dir)
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m []archive.ManifestEntry
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 || len(m[0].Layers) == 0 {
		t.Fatalf("manifest.json: %v %s", err, b)
	}
	return must(t, "tar", "--numeric-owner", "-tvf", filepath.Join(dir, m[0].Layers[len(m[0].Layers)-1]))
}

// runUser runs cmd as user in both engines and checks what it prints.
func runUser(t *testing.T, img, user, want string, cmd ...string) {
	t.Helper()
	for _, e := range engines() {
		r := e.run(nil, append([]string{"--network=none", "--user", user, e.load(t, img)}, cmd...)...)
		if r.err != nil {
			t.Fatalf("%s run --user %s %v: %v\n%s", e.name, user, cmd, r.err, tail(r.stderr, 20))
		}
		if strings.TrimSpace(r.stdout) != want {
			t.Errorf("%s run --user %s %v printed %q, want %q", e.name, user, cmd, r.stdout, want)
		}
	}
}

// fakeRootCommands without a chroot: what the script set is what the
// engines show, and what stat showed the script.
func TestFakeRootCommands(t *testing.T) {
	img := image(t, "fakeroot")
	stat := []string{"stat", "-c", "%n %u:%g %a %F %t,%T", "/home/alice", "/suid", "/shared", "/mynull", "/myloop", "/removed", "/tmp", "/etc/passwd"}
	runBoth(t, img, strings.Join([]string{
		"/home/alice 1000:100 700 directory 0,0",
		"/suid 0:0 4755 regular file 0,0",
		"/shared 0:50 2775 directory 0,0",
		"/mynull 0:0 644 character special file 1,3",
		"/myloop 1234:5678 644 block special file 7,0",
		"/removed 0:0 644 regular empty file 0,0",
		"/tmp 0:0 1777 directory 0,0",
		"/etc/passwd 0:0 644 regular file 0,0",
	}, "\n"), stat...)
	runBoth(t, img, strings.Join([]string{
		"home/alice 1000:100 700 directory",
		"suid 0:0 4755 regular file",
		"shared 0:50 2775 directory",
		"mynull 0:0 644 character special file",
		"myloop 1234:5678 644 block special file",
		"removed 0:0 644 regular empty file",
		"crw-r--r--",
	}, "\n"), "cat", "/seen-inside")
	runUser(t, img, "1000", "written\nalice", "sh", "-c", "echo written > /home/alice/f && cat /home/alice/f && id -un")
	// Tar headers name the owners from the layer's own passwd and group.
	listing := lastLayerListing(t, img)
	for _, want := range []string{"drwx------ 1000/100", "drwxrwsr-x 0/50", "-rwsr-xr-x 0/0", "crw-r--r-- 0/0"} {
		if !strings.Contains(listing, want) {
			t.Errorf("no %q in the customisation layer:\n%s", want, listing)
		}
	}
}

// enableFakechroot: the script installs into /, the store and the
// engines' mounts are not copied into the layer, and the users it made
// work in the container.
func TestEnableFakechroot(t *testing.T) {
	img := image(t, "fakechroot")
	runBoth(t, img, greeting)
	hello := image(t, "hello") + "/bin/hello"
	runBoth(t, img, "/data 999:999 755\n/home/bob 1000:1000 700\n"+hello+" 1000:1000 555", "stat", "-c", "%n %u:%g %a", "/data", "/home/bob", hello)
	runBoth(t, img, greeting+"\n/ /tmp", "cat", "/data/greeting", "/seen-inside")
	runUser(t, img, "1000", "ok\nbob", "sh", "-c", "echo ok > /home/bob/f && cat /home/bob/f && id -un")
	runUser(t, img, "hello", "hello", "id", "-un")
	listing := lastLayerListing(t, img)
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		name := f[len(f)-1]
		if strings.HasPrefix(f[0], "l") {
			name = f[len(f)-3] // name -> target
		}
		for _, mp := range []string{"nix/", "dev/", "proc/", "tmp/"} {
			if strings.HasPrefix(name, mp) {
				t.Errorf("%s in the customisation layer (a mount of the chroot leaked):\n%s", name, listing)
			}
		}
	}
}

// ex-dockerTools-shadowSetup-buildLayeredImage: an image with only hello,
// whose user the engines find in the /etc/passwd the script wrote.
func TestShadowSetupLayered(t *testing.T) {
	img := image(t, "shadow-basic")
	runBoth(t, img, greeting)
	runUser(t, img, "hello", greeting, "/bin/hello")
	listing := lastLayerListing(t, img)
	for _, want := range []string{"drwxr-xr-x 999/999", "etc/passwd", "etc/group"} {
		if !strings.Contains(listing, want) {
			t.Errorf("no %q in the customisation layer:\n%s", want, listing)
		}
	}
}

// A failing script fails the build with its status and its output, and
// leaves nothing running (the pid namespace dies with it).
func TestFakeRootCommandsFail(t *testing.T) {
	need(t)
	expr := `dockerTools.streamLayeredImage { name = "x"; fakeRootCommands = "sleep 6171 & echo going wrong >&2; exit 3"; }`
	if log := expectBuildError(t, expr, "fakeRootCommands failed with exit status 3"); !strings.Contains(log, "going wrong") {
		t.Errorf("the script's stderr is not in the build log:\n%s", tail(log, 20))
	}
	if out := execute(nil, "pgrep", "-f", "sleep 6171"); out.err == nil {
		t.Errorf("the script's background process outlived the build: %s", out.stdout)
	}
}
