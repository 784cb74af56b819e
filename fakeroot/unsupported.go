//go:build !(linux && amd64)

package fakeroot

import (
	"fmt"
	"io"
	"runtime"
)

// Options say what to run and where.
type Options struct {
	Attr     string
	Dir      string
	Chroot   bool
	StoreDir string
	Argv     []string
	Env      []string
	Stdout   io.Writer
	Stderr   io.Writer
}

// Run needs linux/amd64: the supervisor rewrites system calls by their
// numbers and registers, which differ per architecture.
func Run(o Options) (*Table, error) {
	return nil, fmt.Errorf("%s needs a linux/amd64 builder (its fake root traces system calls by architecture-specific numbers); this builder is %s/%s", o.Attr, runtime.GOOS, runtime.GOARCH)
}

// Main does nothing here.
func Main() {}
