//go:build linux && amd64

package fakeroot

import (
	"cmp"
	"slices"

	"golang.org/x/sys/unix"
)

// statInfo is what the supervisor needs of a struct stat.
type statInfo struct {
	key   Key
	mode  uint32
	nlink uint64
}

func parseStat(b []byte) statInfo {
	s := statInfo{key: Key{le.Uint64(b[statDev:]), le.Uint64(b[statIno:])}, mode: le.Uint32(b[statMode:])}
	if statNlinkIs64 {
		s.nlink = le.Uint64(b[statNlink:])
	} else {
		s.nlink = uint64(le.Uint32(b[statNlink:]))
	}
	return s
}

func (s statInfo) isDir() bool { return s.mode&sIFMT == unix.S_IFDIR }

// records is the supervisor's table while the script runs.
type records map[Key]*Record

func (rs records) get(st statInfo) *Record {
	r := rs[st.key]
	if r == nil {
		r = &Record{Key: st.key, UID: -1, GID: -1}
		rs[st.key] = r
	}
	return r
}

// mode is the file's apparent mode: recorded, else real.
func (rs records) mode(st statInfo) uint32 {
	if r := rs[st.key]; r != nil && r.Mode != 0 {
		return r.Mode
	}
	return st.mode
}

const noID = 0xffffffff // chown's "leave unchanged"

func (rs records) chown(st statInfo, uid, gid uint32) {
	mode := rs.mode(st)
	r := rs.get(st)
	if uid != noID {
		r.UID = int64(uid)
	}
	if gid != noID {
		r.GID = int64(gid)
	}
	// Linux drops setuid, and setgid when group-executable, from a file
	// whose owner changes, also for root.
	if mode&sIFMT != unix.S_IFDIR && mode&setuidBits != 0 {
		mode &^= unix.S_ISUID
		if mode&0o010 != 0 {
			mode &^= unix.S_ISGID
		}
		r.Mode = mode
	}
}

func (rs records) chmod(st statInfo, perm uint32) {
	typ := rs.mode(st) & sIFMT
	rs.get(st).Mode = typ | perm&0o7777
}

// mknod records a device node made as a regular placeholder file (a fresh
// inode: whatever an earlier file of that number had is gone).
func (rs records) mknod(st statInfo, typ uint32, rdev uint64) {
	rs[st.key] = &Record{Key: st.key, UID: -1, GID: -1, Mode: typ | st.mode&0o7777, Rdev: rdev}
}

// patch rewrites a struct stat the kernel filled for the process.
func (rs records) patch(b []byte) bool {
	r := rs[parseStat(b).key]
	if r == nil {
		return false
	}
	if r.UID >= 0 {
		le.PutUint32(b[statUID:], uint32(r.UID))
	}
	if r.GID >= 0 {
		le.PutUint32(b[statGID:], uint32(r.GID))
	}
	if r.Mode != 0 {
		le.PutUint32(b[statMode:], r.Mode)
		if t := r.Mode & sIFMT; t == sIFCHR || t == sIFBLK {
			le.PutUint64(b[statRdev:], r.Rdev)
		}
	}
	return true
}

// struct statx is the same on every architecture.
const (
	statxSize                       = 256
	stxUID, stxGID, stxMode, stxIno = 20, 24, 28, 32
	stxRdevMajor, stxRdevMinor      = 128, 132
	stxDevMajor, stxDevMinor        = 136, 140
)

func (rs records) patchStatx(b []byte) bool {
	k := Key{mkdev(le.Uint32(b[stxDevMajor:]), le.Uint32(b[stxDevMinor:])), le.Uint64(b[stxIno:])}
	r := rs[k]
	if r == nil {
		return false
	}
	if r.UID >= 0 {
		le.PutUint32(b[stxUID:], uint32(r.UID))
	}
	if r.GID >= 0 {
		le.PutUint32(b[stxGID:], uint32(r.GID))
	}
	if r.Mode != 0 {
		le.PutUint16(b[stxMode:], uint16(r.Mode))
		if t := r.Mode & sIFMT; t == sIFCHR || t == sIFBLK {
			le.PutUint32(b[stxRdevMajor:], major(r.Rdev))
			le.PutUint32(b[stxRdevMinor:], minor(r.Rdev))
		}
	}
	return true
}

// table lists the records in a stable order.
func (rs records) table(status int) *Table {
	t := &Table{Status: status}
	for _, r := range rs {
		t.Records = append(t.Records, *r)
	}
	slices.SortFunc(t.Records, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Dev, b.Dev), cmp.Compare(a.Ino, b.Ino))
	})
	return t
}
