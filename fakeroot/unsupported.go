//go:build !(linux && amd64)

package fakeroot

import (
	"fmt"
	"io"
	"runtime"
)

// Options say what to run and where.
type Options struct {
	Attr   string
	Dir    string
	Chroot bool
	Argv   []string
	Env    []string
	Stdout io.Writer
	Stderr io.Writer
}

// Run is only implemented for linux/amd64 so far.
func Run(o Options) (*Table, error) {
	return nil, fmt.Errorf("%s: the fake root is not implemented on %s/%s yet", o.Attr, runtime.GOOS, runtime.GOARCH)
}

// Main does nothing here.
func Main() {}
