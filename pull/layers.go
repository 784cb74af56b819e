package pull

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nix-dockertools/dockertools/archive"
)

// hashCounter hashes and counts what is read through it.
type hashCounter struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newHashCounter(r io.Reader) *hashCounter { return &hashCounter{r: r, h: sha256.New()} }

func (c *hashCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func (c *hashCounter) digest() string { return "sha256:" + hex.EncodeToString(c.h.Sum(nil)) }

// verifyError is a download that arrived whole but is not what the digest
// says: fetching it again would not help.
type verifyError struct{ msg string }

func (e *verifyError) Error() string { return e.msg }

// truncatedError is a download that stopped early.
type truncatedError struct {
	msg string
	err error
}

func (e *truncatedError) Error() string { return e.msg }
func (e *truncatedError) Unwrap() error { return e.err }

// check compares what was read (all of the blob, the caller has drained it)
// with the descriptor.
func (c *hashCounter) check(d v1.Descriptor) error {
	switch {
	case c.n > d.Size:
		return &verifyError{fmt.Sprintf("blob %s: the registry sent more than the %d bytes the manifest gives it", d.Digest, d.Size)}
	case c.n < d.Size:
		return nil // the read error says why; truncated() words it
	case c.digest() != d.Digest.String():
		return &verifyError{fmt.Sprintf("blob %s: the registry sent %d bytes with digest %s, not %s", d.Digest, c.n, c.digest(), d.Digest)}
	}
	return nil
}

func (c *hashCounter) truncated(d v1.Descriptor, err error) error {
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return &truncatedError{fmt.Sprintf("blob %s: the download stopped after %d of %d bytes: %v", d.Digest, c.n, d.Size, err), err}
}

// retryDelay is the pause before the second try of a layer; it doubles for
// the third.
var retryDelay = time.Second

const attempts = 3

// transient tells whether fetching a blob again may help.
func transient(err error) bool {
	var ve *verifyError
	if errors.As(err, &ve) {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || (errors.As(err, &ne) && ne.Timeout())
}

// recordingWriter remembers a failure to write, to tell it from a failure
// to read.
type recordingWriter struct {
	w   io.Writer
	err error
}

func (r *recordingWriter) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

type layerFile struct {
	path string
	size int64 // uncompressed
	err  error
}

// layers downloads the layers, Parallel at a time, and adds them to the
// archive in the manifest's order. Each download goes to a temporary file
// (uncompressed, as the archive holds it) while it is checked; the writer
// takes them in order and frees a download slot after each, so at most
// Parallel files wait at a time. A blob listed twice is fetched once.
func (p *puller) layers(ctx context.Context, aw *archiveWriter, layers []v1.Descriptor, diffIDs []string, dir string) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	// A failed download stops the others at once; its error is the cause.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil) // runs before wg.Wait: stops the downloads on failure

	first := make([]int, len(layers))
	seen := map[v1.Hash]int{}
	results := make([]chan layerFile, len(layers))
	for i, d := range layers {
		if d.Size < 0 {
			return fmt.Errorf("layer %d: the manifest gives blob %s a negative size", i+1, d.Digest)
		}
		if j, ok := seen[d.Digest]; ok {
			first[i] = j
			continue
		}
		seen[d.Digest] = i
		first[i] = i
		results[i] = make(chan layerFile, 1)
	}

	slots := make(chan struct{}, p.parallel)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Slots are taken in layer order and given back in layer order by
		// the writer, so the layer the writer waits for always has one.
		for i, d := range layers {
			if first[i] != i {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				path, size, err := p.fetchLayer(ctx, i, len(layers), d, diffIDs[i], dir)
				if err != nil {
					cancel(err)
				}
				results[i] <- layerFile{path, size, err}
			}()
		}
	}()

	sizes := make([]int64, len(layers))
	for i := range layers {
		if j := first[i]; j != i {
			if diffIDs[i] != diffIDs[j] {
				return &verifyError{fmt.Sprintf("layers %d and %d are both blob %s, but the image config gives them different diff_ids %s and %s", j+1, i+1, layers[i].Digest, diffIDs[j], diffIDs[i])}
			}
			// Already written: the archive lists it again.
			if err := aw.AddLayer(diffIDs[i], sizes[j], nil); err != nil {
				return err
			}
			continue
		}
		var r layerFile
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if r.err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx) // the first failure, not its echo
			}
			return r.err
		}
		err := aw.AddLayer(diffIDs[i], r.size, func(w io.Writer) error {
			f, err := os.Open(r.path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		})
		os.Remove(r.path)
		<-slots
		if err != nil {
			return fmt.Errorf("writing layer %d (%s) to the archive: %w", i+1, diffIDs[i], err)
		}
		sizes[i] = r.size
	}
	return nil
}

// fetchLayer downloads layer i into a file in dir, uncompressed, and checks
// it against its blob digest and diff_id. Interrupted downloads are tried
// again.
func (p *puller) fetchLayer(ctx context.Context, i, n int, d v1.Descriptor, diffID, dir string) (string, int64, error) {
	p.log.printf("Copying blob %s (%s)", d.Digest, humanSize(d.Size))
	for attempt := 1; ; attempt++ {
		path, size, err := p.fetchLayerOnce(ctx, d, diffID, dir)
		if err == nil {
			return path, size, nil
		}
		err = fmt.Errorf("layer %d of %d: %w", i+1, n, err)
		if attempt == attempts || !transient(err) || ctx.Err() != nil {
			return "", 0, err
		}
		p.log.printf("Retrying blob %s: %v", d.Digest, err)
		select {
		case <-time.After(retryDelay << (attempt - 1)):
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
}

func (p *puller) fetchLayerOnce(ctx context.Context, d v1.Descriptor, diffID, dir string) (path string, size int64, err error) {
	rc, err := p.blob(ctx, d.Digest)
	if err != nil {
		return "", 0, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "layer-")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	hc := newHashCounter(rc)
	br := bufio.NewReaderSize(hc, 1<<20)
	head, _ := br.Peek(4) // a short or failed read shows below
	uh := sha256.New()
	fw := &recordingWriter{w: f}
	var n int64
	dec, derr := archive.Decompress(br, archive.Detect(head))
	if derr == nil {
		n, derr = io.Copy(io.MultiWriter(fw, uh), dec)
		dec.Close()
	}
	if fw.err != nil {
		return "", 0, fmt.Errorf("writing %s: %w", f.Name(), fw.err)
	}
	// Read the rest of the blob whatever happened: a corrupt blob often
	// fails to decompress before its end, and the digest says more than the
	// decompressor's complaint.
	_, rerr := io.Copy(io.Discard, br)
	if verr := hc.check(d); verr != nil {
		return "", 0, verr
	}
	if hc.n < d.Size {
		if rerr == nil {
			rerr = derr
		}
		return "", 0, hc.truncated(d, p.explain(rerr))
	}
	// The blob is the one the manifest names; a failure now is in the image
	// itself (or the disk).
	if derr != nil {
		return "", 0, &verifyError{fmt.Sprintf("blob %s: it has the right digest but does not decompress: %v", d.Digest, derr)}
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	if got := "sha256:" + hex.EncodeToString(uh.Sum(nil)); got != diffID {
		return "", 0, &verifyError{fmt.Sprintf("blob %s uncompressed has digest %s, but the image config's diff_id for it is %s", d.Digest, got, diffID)}
	}
	return f.Name(), n, nil
}
