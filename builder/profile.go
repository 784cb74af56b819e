package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

// limitMemory keeps the heap near what the build really holds: without a
// limit the collector lets it grow to twice the live data, which put
// compressed builds over the 100 MB they may use. The limit is soft (the
// heap may pass it when more is live) and GOMEMLIMIT overrides it.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(72 << 20)
	}
}

var atExit []func()

// exit runs what must happen before the process ends (a profile's flush)
// and then exits.
func exit(code int) {
	for _, f := range atExit {
		f()
	}
	os.Exit(code)
}

// startProfile writes a CPU profile to path (DOCKERTOOLS_CPUPROFILE): the
// benchmark's way to see where a build spends its time.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	stop := func() { pprof.StopCPUProfile(); f.Close() }
	atExit = append(atExit, stop)
	return stop, nil
}
