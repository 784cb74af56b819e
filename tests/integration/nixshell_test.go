package integration

import (
	"strings"
	"testing"
)

var nixShellFixtures = []string{"nix-shell-image", "nix-shell-run", "nix-shell-command",
	"nix-shell-hello", "nix-shell-hello-build", "nix-shell-cowsay", "nix-shell-hook"}

const built = "Hello from the greeter, built by 1000 with a passed file"

// `run`: buildDerivation builds $out as the image's user, the inputs
// (hello, through nativeBuildInputs) are there, the home is writable.
func TestNixShellRun(t *testing.T) {
	img, _ := stream(t, image(t, "nix-shell-run"))
	runBoth(t, img, strings.Join([]string{"shellHook ran", built, greeting, "/build"}, "\n"))
}

// `command` with another user and home: the interactive shell runs it,
// after shellHook, and exits.
func TestNixShellCommand(t *testing.T) {
	img, _ := stream(t, image(t, "nix-shell-command"))
	runBoth(t, img, "shellHook ran\ncommand ran as 1234:1235 in /home/builder, HOOKED=yes")
}

// interact runs an image's default command with input on stdin (docker
// run -i) in both engines and checks that stdout is want and the nix-shell
// prompt went to stderr.
func interact(t *testing.T, img, input, want string) {
	t.Helper()
	for _, e := range engines() {
		r := e.run([]byte(input), "-i", "--network=none", e.load(t, img))
		if r.err != nil {
			t.Fatalf("%s run -i: %v\n%s", e.name, r.err, r.stderr)
		}
		if strings.TrimSpace(r.stdout) != want {
			t.Errorf("%s: printed %q, want %q", e.name, r.stdout, want)
		}
		if !strings.Contains(r.stderr, "[nix-shell:~]$") {
			t.Errorf("%s: no nix-shell prompt on stderr: %q", e.name, r.stderr)
		}
	}
}

// buildNixShellImage without command or run: an interactive shell with the
// nix-shell prompt, driven through stdin.
func TestNixShellInteractive(t *testing.T) {
	img := image(t, "nix-shell-image")
	if !strings.HasSuffix(img, "-greeter-1.0-env.tar.gz") {
		t.Errorf("%s is not named greeter-1.0-env.tar.gz", img)
	}
	interact(t, img, "echo interactive HOOKED=$HOOKED\nbuildDerivation && $out/bin/greeter\nexit\n",
		"shellHook ran\ninteractive HOOKED=yes\n"+built)
}

// The documentation's examples: build hello in the container and run it;
// an extra input; an extra shellHook.
func TestNixShellExamples(t *testing.T) {
	t.Run("streamNixShellImage", func(t *testing.T) {
		img, _ := stream(t, image(t, "nix-shell-hello"))
		interact(t, img, "buildDerivation\n$out/bin/hello\nexit\n", greeting)
	})
	t.Run("buildNixShellImage", func(t *testing.T) {
		img := image(t, "nix-shell-hello-build")
		if !strings.HasSuffix(img, "-hello-2.12.1-env.tar.gz") {
			t.Errorf("%s is not named hello-2.12.1-env.tar.gz", img)
		}
		interact(t, img, "buildDerivation && $out/bin/hello\n", greeting)
	})
	t.Run("extendingBuildInputs", func(t *testing.T) {
		img, _ := stream(t, image(t, "nix-shell-cowsay"))
		interact(t, img, "$nativeBuildInputs/bin/cowsay moo | head -n1\n", "< moo>")
	})
	t.Run("addingShellHook", func(t *testing.T) {
		img, _ := stream(t, image(t, "nix-shell-hook"))
		interact(t, img, "exit\n", greeting)
	})
}
