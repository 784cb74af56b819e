package fakeroot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxNamesFile caps what is read of a layer's etc/passwd or etc/group: the
// script decides what they are, so a link to /dev/zero or a 10 GB file must
// be an error, not the builder's memory.
const maxNamesFile = 16 << 20

// maxLinks is Linux's limit on symbolic links followed in one lookup.
const maxLinks = 40

// resolveInLayer finds the file rel names in the layer directory root as
// the container will see it: links are followed with root as "/", never
// above it, except that a link into storeDir (the contents' symlink tree
// links there) leads to the store, which the image holds and the builder
// trusts. It returns the host path of what it names, without opening it.
func resolveInLayer(root, storeDir, rel string) (string, error) {
	rest := strings.Split(path.Clean("/"+rel), "/")[1:]
	var done []string // components resolved so far, below root
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := "/" + path.Join(append(done, c)...)
		if cur == storeDir || strings.HasPrefix(cur, storeDir+"/") {
			// The rest is in the store: the host's, as the image's store layers hold it.
			return path.Join(append([]string{cur}, rest...)...), nil
		}
		if strings.HasPrefix(storeDir, cur+"/") {
			// A parent of the store (/nix): the store layers make it.
			done = append(done, c)
			continue
		}
		host := root + cur
		fi, err := os.Lstat(host)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: more than %d symbolic links", rel, maxLinks)
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return root + "/" + path.Join(done...), nil
}

// readNames maps ids to names from the layer's passwd or group file (rel
// under root); the first entry of an id wins, as getpwuid finds it. No
// file is no names; anything but a regular file of at most maxNamesFile
// bytes is an error naming it.
func readNames(root, storeDir, rel string) (map[int64]string, error) {
	m := map[int64]string{}
	p, err := resolveInLayer(root, storeDir, rel)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the layer's %s: %w", rel, err)
	}
	// O_NONBLOCK: a FIFO must not block the open; O_NOFOLLOW: it was resolved.
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the layer's %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the layer's %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the layer's %s is a %s, want a regular file (owner names are read from it)", rel, kind(fi.Mode()))
	}
	if fi.Size() > maxNamesFile {
		return nil, fmt.Errorf("the layer's %s has %d bytes, more than the %d read for owner names", rel, fi.Size(), maxNamesFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxNamesFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading the layer's %s: %w", rel, err)
	}
	if len(b) > maxNamesFile {
		return nil, fmt.Errorf("the layer's %s grew past the %d bytes read for owner names", rel, maxNamesFile)
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	s.Buffer(make([]byte, 0, 64<<10), maxNamesFile)
	for s.Scan() {
		f := strings.Split(s.Text(), ":")
		if len(f) < 3 {
			continue
		}
		id, err := strconv.ParseInt(f[2], 10, 64)
		if _, seen := m[id]; err == nil && !seen {
			m[id] = f[0]
		}
	}
	return m, nil
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "block device"
	case m&os.ModeSocket != 0:
		return "socket"
	}
	return m.Type().String()
}
