package outfile

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Temporary files and directories still being written, removed if the
// process is told to stop: a builder killed outside Nix (which deletes a
// failed build's files itself) must leave nothing behind.
var pending struct {
	sync.Mutex
	paths map[string]bool
}

// Track records a temporary path to remove on SIGINT, SIGTERM or SIGHUP;
// the returned function forgets it (call it once the path is renamed or
// removed).
func Track(path string) (forget func()) {
	pending.Lock()
	defer pending.Unlock()
	if pending.paths == nil {
		pending.paths = map[string]bool{}
	}
	pending.paths[path] = true
	return func() {
		pending.Lock()
		defer pending.Unlock()
		delete(pending.paths, path)
	}
}

// RemoveOnSignal makes SIGINT, SIGTERM and SIGHUP remove every tracked
// path, then end the process with the signal's conventional status.
func RemoveOnSignal() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-c
		removeTracked()
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
}

func removeTracked() {
	pending.Lock()
	defer pending.Unlock()
	for p := range pending.paths {
		os.RemoveAll(p)
	}
	pending.paths = nil
}
