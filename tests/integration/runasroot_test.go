package integration

import (
	"strings"
	"testing"
)

var runAsRootFixtures = []string{"hello-run-as-root", "shadow-basic-image", "run-as-root-on-base"}

// The documentation's runAsRoot examples (redis is in buildImageFixtures).
func TestRunAsRootExamples(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		img := image(t, "redis")
		runBoth(t, img, "redis-server: Ready to accept connections in /data")
		if l := lastLayerListing(t, img); !strings.Contains(l, " data/\n") {
			t.Errorf("no data/ in the layer:\n%s", l)
		}
	})
	t.Run("hello", func(t *testing.T) {
		img := image(t, "hello-run-as-root")
		runBoth(t, img, greeting)
		l := lastLayerListing(t, img)
		for _, want := range []string{" data/\n", " 13 1980-01-01 00:00 my-file\n"} {
			if !strings.Contains(l, want) {
				t.Errorf("no %q in the layer:\n%s", want, l)
			}
		}
	})
	t.Run("shadowSetup", func(t *testing.T) {
		img := image(t, "shadow-basic-image")
		runBoth(t, img, greeting)
		runUser(t, img, "hello", greeting, "/bin/hello")
		if l := lastLayerListing(t, img); !strings.Contains(l, "drwxr-xr-x 999/999") {
			t.Errorf("/data is not hello's:\n%s", l)
		}
	})
}

// On a base: a deleted base file and a replaced base directory stay
// deleted in the container; owners, setuid and devices are the script's;
// extraCommands ran afterwards in the layer.
func TestRunAsRootOnBase(t *testing.T) {
	img := image(t, "run-as-root-on-base")
	runBoth(t, img, greeting)
	runBoth(t, img, strings.Join([]string{
		"no wget", "new", "no base-file",
		"/home/alice 1000:100 755 directory 0,0",
		"/data/tool 0:0 4755 regular file 0,0",
		"/data/null 0:0 644 character special file 1,3",
		"0 /", "extra", "A=1",
	}, "\n"), "/bin/sh", "-c", `test -e /bin/wget || echo no wget; cat /etc/only; test -e /etc/base-file || echo no base-file
stat -c '%n %u:%g %a %F %t,%T' /home/alice /data/tool /data/null; cat /data/seen /data/extra; echo A=$A`)
	l := lastLayerListing(t, img)
	for _, want := range []string{"bin/.wh.wget", "etc/.wh..wh..opq"} {
		if !strings.Contains(l, want) {
			t.Errorf("no %s in the layer:\n%s", want, l)
		}
	}
	for _, unwanted := range []string{" dev/", " proc/", " sys/", " tmp/"} {
		if strings.Contains(l, unwanted) {
			t.Errorf("the VM's mount point%s is in the layer:\n%s", unwanted, l)
		}
	}
}

// A failing script fails the build with its status and output; a hung one
// is stopped at runAsRootTimeout; no QEMU outlives either.
func TestRunAsRootFailures(t *testing.T) {
	need(t)
	for _, tc := range []struct{ name, expr, want, log string }{
		{"exit status", `dockerTools.buildImage { name = "x"; runAsRoot = "echo going wrong >&2; exit 4"; }`, "runAsRoot failed with exit status 4", "going wrong"},
		{"extraCommands after it", `dockerTools.buildImage { name = "x"; runAsRoot = "mkdir /a"; extraCommands = "exit 5"; }`, "extraCommands failed with exit status 5", ""},
		{"hung", `dockerTools.buildImage { name = "x"; runAsRootTimeout = 20; runAsRoot = "echo hanging; sleep 1000"; }`, "the VM did not finish within 20s and was stopped", "hanging"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if log := expectBuildError(t, tc.expr, tc.want); !strings.Contains(log, tc.log) {
				t.Errorf("no %q in the build log:\n%s", tc.log, tail(log, 20))
			}
			if out := execute(nil, "pgrep", "-f", "qemu-system"); out.err == nil {
				t.Errorf("QEMU outlived the build: %s", out.stdout)
			}
		})
	}
}
