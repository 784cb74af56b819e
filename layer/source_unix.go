//go:build unix

package layer

import (
	"io"
	"os"
	"syscall"
)

// source is a raw descriptor rather than an *os.File: for regular files
// os.Open spends several extra syscalls per file (poller registration that
// is bound to fail, flag juggling) and allocations, which dominate when a
// closure consists of many small files.
type source int

func openSource(path string) (source, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return source(fd), nil
	}
}

// read follows io.Reader's convention of io.EOF at end of file.
func (s source) read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(s), p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (s source) close() { syscall.Close(int(s)) }
