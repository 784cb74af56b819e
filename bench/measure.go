package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

type row struct {
	name, baseline string
	median         time.Duration
	rssKB          int64
	ratio, goal    float64
	err            error
}

// measure runs cmd once to warm the page cache, then runs times, and keeps
// the median time and the largest peak RSS (wait4's rusage: the process and
// the children it waited for, as /usr/bin/time -v reports).
func measure(name, baseline string, runs int, cmd func() *exec.Cmd) *row {
	r := &row{name: name, baseline: baseline}
	if *only != "" && !regexp.MustCompile(*only).MatchString(name) {
		r.err = fmt.Errorf("not measured (-only)")
		return r
	}
	progress("measuring %s", name)
	var times []time.Duration
	for i := 0; i <= runs; i++ {
		c := cmd()
		if *profile != "" && c.Env != nil {
			c.Env = append(c.Env, fmt.Sprintf("DOCKERTOOLS_CPUPROFILE=%s/%s-%d.prof", *profile, c.Args[1], i))
		}
		start := time.Now()
		err := c.Run()
		d := time.Since(start)
		if c.Dir != "" && strings.Contains(c.Dir, "build-") {
			os.RemoveAll(c.Dir)
		}
		if err != nil {
			r.err = fmt.Errorf("%s: %v", strings.Join(c.Args, " "), err)
			return r
		}
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > r.rssKB {
			r.rssKB = ru.Maxrss
		}
		if i > 0 {
			times = append(times, d)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	r.median = times[len(times)/2]
	return r
}

func (r *row) target(base map[string]*row, goal float64) *row {
	r.goal = goal
	if b := base[r.baseline]; b != nil && b.median > 0 && r.err == nil {
		r.ratio = r.median.Seconds() / b.median.Seconds()
	}
	return r
}

// layeringBenchmark runs the closure package's Go benchmark (10,000 paths,
// 50,000 references).
func layeringBenchmark() (time.Duration, error) {
	progress("measuring the layering of 10,000 paths")
	out, err := output(exec.Command("go", "test", "-run", "^$", "-bench", "BenchmarkOrder", "-count", "3", "./closure/"))
	if err != nil {
		return 0, err
	}
	var best time.Duration
	for _, m := range regexp.MustCompile(`BenchmarkOrder\S*\s+\d+\s+(\d+) ns/op`).FindAllStringSubmatch(out, -1) {
		var ns int64
		fmt.Sscan(m[1], &ns)
		if d := time.Duration(ns); best == 0 || d < best {
			best = d
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("no BenchmarkOrder result in:\n%s", out)
	}
	return best, nil
}

func report(c *corpus, rows []*row, layering time.Duration, cores int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Corpus: %s in %d files, %d store paths. Machine: %d cores, %s/%s, %s. Median of %d runs after a warm-up (page cache warm).\n\n",
		mb(c.bytes), c.files, len(c.paths), cores, runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"), *runs)
	b.WriteString("| what | median | peak RSS | ratio to baseline | target | met |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(&b, "| %s | %v | | | | |\n", strings.ReplaceAll(r.name, "|", "\\|"), r.err)
			continue
		}
		ratio, goal, met := "(baseline)", "", ""
		if r.goal > 0 {
			ratio = fmt.Sprintf("%.2f × %s", r.ratio, r.baseline)
			goal = fmt.Sprintf("≤ %.1f ×", r.goal)
			met = map[bool]string{true: "yes", false: "**no**"}[r.ratio <= r.goal]
			if r.rssKB > 100<<10 {
				met += ", RSS **over 100 MB**"
			}
		}
		fmt.Fprintf(&b, "| %s | %.2f s | %d MB | %s | %s | %s |\n", strings.ReplaceAll(r.name, "|", "\\|"), r.median.Seconds(), r.rssKB>>10, ratio, goal, met)
	}
	fmt.Fprintf(&b, "| layering, 10,000 paths / 50,000 references (Go benchmark) | %.3f s | | | < 0.5 s | %s |\n",
		layering.Seconds(), map[bool]string{true: "yes", false: "**no**"}[layering < 500*time.Millisecond])
	return b.String()
}
