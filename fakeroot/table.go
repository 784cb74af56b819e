package fakeroot

import (
	"os"
	"syscall"

	"github.com/nix-dockertools/dockertools/layer"
)

// Key names a file the way the kernel does: device and inode.
type Key struct{ Dev, Ino uint64 }

// Record is what the script set on one inode. UID/GID -1 and Mode 0 mean
// unchanged; Mode holds the file type bits too (a device node the script
// made is a regular placeholder file on disk).
type Record struct {
	Key
	UID, GID int64
	Mode     uint32
	Rdev     uint64
}

// Table is the result of a run: the records and the script's exit status.
type Table struct {
	Status  int
	Records []Record
	byKey   map[Key]*Record
}

func (t *Table) index() {
	t.byKey = make(map[Key]*Record, len(t.Records))
	for i := range t.Records {
		t.byKey[t.Records[i].Key] = &t.Records[i]
	}
}

// Lookup returns the record of the file fi describes (from Lstat), if any.
func (t *Table) Lookup(fi os.FileInfo) (*Record, bool) {
	if t == nil || fi == nil {
		return nil, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, false
	}
	if t.byKey == nil {
		t.index()
	}
	r, ok := t.byKey[Key{uint64(st.Dev), st.Ino}]
	return r, ok
}

const (
	sIFMT  = 0o170000
	sIFCHR = 0o020000
	sIFBLK = 0o060000
)

// Override returns the layer.DirEntries hook that puts the recorded
// ownership, modes and device types of the files under root into their
// tar headers. Owner names come from root's etc/passwd and etc/group as
// the script left them (uid/gid 0 are "root" regardless); links in them
// resolve inside root, or into storeDir.
func (t *Table) Override(root, storeDir string) (func(rel string, fi os.FileInfo, h *layer.Header), error) {
	users, err := readNames(root, storeDir, "etc/passwd")
	if err != nil {
		return nil, err
	}
	groups, err := readNames(root, storeDir, "etc/group")
	if err != nil {
		return nil, err
	}
	return func(_ string, fi os.FileInfo, h *layer.Header) {
		r, ok := t.Lookup(fi)
		if !ok {
			return
		}
		if r.UID >= 0 {
			h.UID, h.Uname = int(r.UID), name(users, r.UID)
		}
		if r.GID >= 0 {
			h.GID, h.Gname = int(r.GID), name(groups, r.GID)
		}
		if r.Mode != 0 {
			h.Mode = int64(r.Mode & 0o7777)
			switch r.Mode & sIFMT {
			case sIFCHR, sIFBLK:
				h.Typeflag = layer.TypeChar
				if r.Mode&sIFMT == sIFBLK {
					h.Typeflag = layer.TypeBlock
				}
				h.Devmajor, h.Devminor = int64(major(r.Rdev)), int64(minor(r.Rdev))
				h.Size = 0
			}
		}
	}, nil
}

func name(names map[int64]string, id int64) string {
	if id == 0 {
		return "root"
	}
	return names[id]
}

// The glibc encoding of dev_t, which the kernel's struct stat uses too.
func major(dev uint64) uint32 { return uint32((dev>>8)&0xfff) | uint32((dev>>32)&^0xfff) }
func minor(dev uint64) uint32 { return uint32(dev&0xff) | uint32((dev>>12)&^0xff) }
func mkdev(major, minor uint32) uint64 {
	return uint64(major&0xfff)<<8 | uint64(major&^0xfff)<<32 | uint64(minor&0xff) | uint64(minor&^0xff)<<12
}
