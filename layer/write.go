package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// bufSize bounds the memory of one Write: headers, small files and padding
// are gathered in one buffer of this size and file data is read straight
// into it, so small files cost no extra copy and w sees few large writes.
const bufSize = 1 << 20

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

// Write writes the archive (entries then the end blocks) to w and returns
// the number of bytes written and the sha256 digest ("sha256:<hex>"),
// computed while writing. It fails, instead of writing a corrupt tar, if a
// file's size on disk differs from its header (e.g. a store path changed
// since the entries were collected).
func Write(w io.Writer, entries []Entry) (n int64, digest string, err error) {
	h := sha256.New()
	n, err = write(w, entries, h)
	if err != nil {
		return n, "", err
	}
	return n, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Digest returns the size and digest of the archive without keeping it, for
// the build-time pass that only needs the layer's identity.
func Digest(entries []Entry) (n int64, digest string, err error) {
	return Write(io.Discard, entries)
}

// Stream writes the archive like Write but skips hashing, for the serving
// pass where the digest is already known from Digest.
func Stream(w io.Writer, entries []Entry) (int64, error) {
	return write(w, entries, nil)
}

func write(w io.Writer, entries []Entry, h hash.Hash) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	t := tarWriter{w: w, hash: h, buf: *bp, hdr: make([]byte, 0, 4*blockSize)}
	for i := range entries {
		if err := t.entry(&entries[i]); err != nil {
			return t.n, err
		}
	}
	end := archiveEnd(t.n + int64(t.fill))
	if err := t.zeros(end - t.n - int64(t.fill)); err != nil {
		return t.n, err
	}
	return t.n, t.flush()
}

type tarWriter struct {
	w    io.Writer
	hash hash.Hash // nil when not digesting
	buf  []byte
	fill int   // bytes of buf pending
	n    int64 // bytes accepted by w
	hdr  []byte
}

func (t *tarWriter) flush() error {
	if t.fill == 0 {
		return nil
	}
	p := t.buf[:t.fill]
	t.fill = 0
	if t.hash != nil {
		t.hash.Write(p)
	}
	k, err := t.w.Write(p)
	t.n += int64(k)
	if err == nil && k != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("writing layer: %w", err)
	}
	return nil
}

func (t *tarWriter) put(p []byte) error {
	for len(p) > 0 {
		if t.fill == len(t.buf) {
			if err := t.flush(); err != nil {
				return err
			}
		}
		k := copy(t.buf[t.fill:], p)
		t.fill += k
		p = p[k:]
	}
	return nil
}

func (t *tarWriter) zeros(n int64) error {
	for n > 0 {
		if t.fill == len(t.buf) {
			if err := t.flush(); err != nil {
				return err
			}
		}
		k := min(int64(len(t.buf)-t.fill), n)
		clear(t.buf[t.fill : t.fill+int(k)])
		t.fill += int(k)
		n -= k
	}
	return nil
}

func (t *tarWriter) entry(e *Entry) error {
	size, err := contentSize(&e.Header)
	if err != nil {
		return err
	}
	t.hdr, err = appendHeader(t.hdr[:0], &e.Header)
	if err != nil {
		return err
	}
	if err := t.put(t.hdr); err != nil {
		return err
	}
	if e.Typeflag != TypeReg {
		return nil
	}
	if e.Source == "" {
		if size != 0 {
			return fmt.Errorf("entry %q: %d bytes of content but no source file", e.Name, size)
		}
		return nil
	}
	if err := t.copyFile(e.Source, e.Name, size); err != nil {
		return err
	}
	return t.zeros(roundBlock(size) - size)
}

// ErrSizeChanged is returned (wrapped) by Write when a file no longer has
// the size recorded in its entry, i.e. the tree changed after it was walked.
var ErrSizeChanged = errors.New("file size changed since the layer's entries were collected")

// copyFile reads the file straight into the pending buffer. Each read asks
// for one byte more than still expected so a grown file is caught without
// an extra stat; a short file shows up as early EOF.
func (t *tarWriter) copyFile(src, name string, size int64) error {
	f, err := openSource(src)
	if err != nil {
		return fmt.Errorf("opening %s for entry %q: %w", src, name, err)
	}
	defer f.close()
	remaining := size
	for {
		if t.fill == len(t.buf) {
			if err := t.flush(); err != nil {
				return err
			}
		}
		want := len(t.buf) - t.fill
		if int64(want) > remaining+1 {
			want = int(remaining + 1)
		}
		k, err := f.read(t.buf[t.fill : t.fill+want])
		if int64(k) > remaining {
			return fmt.Errorf("reading %s for entry %q: %w: now larger than %d bytes", src, name, ErrSizeChanged, size)
		}
		t.fill += k
		remaining -= int64(k)
		if err == io.EOF {
			if remaining != 0 {
				return fmt.Errorf("reading %s for entry %q: %w: %d bytes instead of %d", src, name, ErrSizeChanged, size-remaining, size)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s for entry %q: %w", src, name, err)
		}
	}
}
