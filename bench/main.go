// Command bench measures streamLayeredImage and buildLayeredImage on a
// corpus of real store paths, against plain tools reading the same files,
// all in one run so that the ratios compare like with like.
//
//	go run ./bench                 # about 900 MB, 3 runs each
//	go run ./bench -scale 2        # a corpus twice as large
//	go run ./bench -results bench/RESULTS.md
//
// The builder runs outside Nix here, with the .attrs.json Nix would give it
// (from `nix show-derivation` and `nix path-info`), so that its own time and
// peak RSS are measured rather than Nix's.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

var (
	scale   = flag.Int("scale", 1, "corpus size in units of about 900 MB")
	runs    = flag.Int("runs", 3, "measured runs of each command (after one warm-up)")
	results = flag.String("results", "", "also write the table to this Markdown file")
	workDir = flag.String("work", "", "scratch directory (default: a new temporary one)")
	profile = flag.String("profile", "", "write CPU profiles of the builder runs into this directory")
	only    = flag.String("only", "", "measure only the rows whose name matches this regular expression")
)

const nixConfig = "sandbox = true\nsandbox-fallback = false\nsubstituters =\nexperimental-features = nix-command flakes\n"

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo, "bench", "image.nix")); err != nil {
		return fmt.Errorf("run it from the repository root: %w", err)
	}
	os.Setenv("NIX_CONFIG", nixConfig)
	work := *workDir
	if work == "" {
		if work, err = os.MkdirTemp("", "dockertools-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	builder := filepath.Join(work, "dockertools")
	if _, err := output(exec.Command("env", "CGO_ENABLED=0", "go", "build", "-trimpath", "-o", builder, "./builder")); err != nil {
		return err
	}

	c, err := importCorpus(work, int64(*scale)*900<<20)
	if err != nil {
		return err
	}
	progress("corpus: %s in %d files, %d store paths", mb(c.bytes), c.files, len(c.paths))

	img, err := prepareImage(repo, work, builder, c)
	if err != nil {
		return err
	}
	if err := img.check(); err != nil {
		return err
	}

	if *profile != "" {
		os.MkdirAll(*profile, 0o755)
	}
	quoted := shellQuote(c.paths)
	cores := runtime.NumCPU()
	rows := []*row{
		measure("cat of every file", "", *runs, shell("find "+quoted+" -type f -print0 | xargs -0 cat > /dev/null")),
		measure("tar -cf - | cat", "", *runs, shell("tar -cf - "+quoted+" 2>/dev/null | cat > /dev/null")),
		measure(fmt.Sprintf("tar | pigz -p%d", cores), "", *runs, shell(fmt.Sprintf("tar -cf - %s 2>/dev/null | pigz -p%d > /dev/null", quoted, cores))),
		measure("tar | zstd -T0", "", *runs, shell("tar -cf - "+quoted+" 2>/dev/null | zstd -T0 -q > /dev/null")),
	}
	base := map[string]*row{"cat": rows[0], "pigz": rows[2], "zstd": rows[3]}
	rows = append(rows,
		measure("build the streamLayeredImage derivation", "cat", *runs, img.buildStream).target(base, 2.0),
		measure("stream script to /dev/null", "cat", *runs, img.streamToNull).target(base, 1.5),
		measure("buildLayeredImage, gz", "pigz", *runs, img.buildLayered("gz")).target(base, 0.8),
		measure("buildLayeredImage, zstd", "zstd", *runs, img.buildLayered("zstd")).target(base, 1.0),
	)
	layering, err := layeringBenchmark()
	if err != nil {
		return err
	}
	table := report(c, rows, layering, cores)
	fmt.Print(table)
	if *results != "" {
		return os.WriteFile(*results, []byte(table), 0o644)
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

func output(cmd *exec.Cmd) (string, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return string(out), nil
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func shell(script string) func() *exec.Cmd {
	return func() *exec.Cmd { return exec.Command("sh", "-c", script) }
}
