package vm

import (
	"fmt"
	"io"
	"os"
)

// cpioWriter writes the "newc" cpio format the kernel unpacks as the
// initramfs.
type cpioWriter struct {
	w   io.Writer
	ino int
	err error
}

const (
	cpioDir  = 0o040000
	cpioFile = 0o100000
	cpioChar = 0o020000
)

func (c *cpioWriter) header(name string, mode, size int64, rmajor, rminor int) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	c.write([]byte(hdr + name + "\x00"))
	c.pad(int64(len(hdr) + len(name) + 1))
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *cpioWriter) pad(n int64) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) dir(name string) { c.header(name, cpioDir|0o755, 0, 0, 0) }

func (c *cpioWriter) char(name string, major, minor int) {
	c.header(name, cpioChar|0o600, 0, major, minor)
}

func (c *cpioWriter) bytes(name string, mode int64, b []byte) {
	c.header(name, cpioFile|mode, int64(len(b)), 0, 0)
	c.write(b)
	c.pad(int64(len(b)))
}

// file copies the host file src into the archive as name.
func (c *cpioWriter) file(name string, mode int64, src string) {
	if c.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		c.err = err
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		c.err = err
		return
	}
	c.header(name, cpioFile|mode, fi.Size(), 0, 0)
	if c.err != nil {
		return
	}
	n, err := io.Copy(c.w, f)
	if err == nil && n != fi.Size() {
		err = fmt.Errorf("%s changed while being copied", src)
	}
	if err != nil {
		c.err = err
		return
	}
	c.pad(n)
}

func (c *cpioWriter) close() error {
	c.header("TRAILER!!!", 0, 0, 0, 0)
	return c.err
}
