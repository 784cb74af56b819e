//go:build !linux

package vm

import (
	"encoding/json"
	"errors"
	"io"
	"time"
)

// Share, Config, Stats and Handler as on Linux; Run fails elsewhere.
type Share struct {
	Tag, Path, Mount string
	ReadOnly         bool
}

type Config struct {
	QEMU     string
	Kernel   *Kernel
	Modules  []string
	MemoryMB int
	Timeout  time.Duration
	Console  io.Writer
	WorkDir  string
	Job      string
	Payload  any
	Shares   []Share
	Accel    string
}

type Stats struct {
	Accel       string
	Boot, Total time.Duration
}

type Handler func(payload json.RawMessage) (any, error)

func Handle(string, Handler) {}

func Main() {}

func Run(Config) (json.RawMessage, *Stats, error) {
	return nil, nil, errors.New("runAsRoot: the VM runs from Linux builders only")
}
