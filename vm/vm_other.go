//go:build !linux

package vm

import (
	"encoding/json"
	"errors"
)

// Main does nothing: only a Linux builder boots the VM.
func Main() {}

// Run fails: the VM runs from Linux builders only.
func Run(Config) (json.RawMessage, *Stats, error) {
	return nil, nil, errors.New("runAsRoot: the VM runs from Linux builders only")
}
