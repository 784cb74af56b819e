package layer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	blockSize = 512
	// recordSize is CPython's RECORDSIZE: close() pads the archive to a
	// multiple of it, so the padding is part of the digest.
	recordSize = 20 * blockSize
)

// Type flags as written in the ustar header.
const (
	TypeReg     byte = '0'
	TypeSymlink byte = '2'
	TypeChar    byte = '3'
	TypeBlock   byte = '4'
	TypeDir     byte = '5'
	TypeFifo    byte = '6'
)

// Owner is the ownership stamped on every entry of a layer.
type Owner struct {
	UID, GID     int
	Uname, Gname string
}

// Header is one tar entry, already in our conventions.
type Header struct {
	Name               string // as written (absolute for store layers; directories end in "/")
	Linkname           string
	Typeflag           byte  // '0' file, '2' symlink, '5' dir, '3' char, '4' block, '6' fifo
	Mode               int64 // permission bits (& 07777)
	UID, GID           int
	Uname, Gname       string
	Size               int64
	MTime              int64
	Devmajor, Devminor int64
}

// Entry is a Header plus where its content comes from (Source is the file
// to copy for regular files, "" otherwise).
type Entry struct {
	Header
	Source string
}

var zeroBlock [blockSize]byte

// posixMagic is CPython's POSIX_MAGIC: "ustar\0" followed by version "00".
const posixMagic = "ustar\x0000"

// EncodeHeader returns the bytes written before an entry's content: an
// optional PAX extended header (with its records and padding) and the
// 512-byte ustar header, exactly as CPython 3.11's tarfile would write them
// in its default PAX format with utf-8 encoding.
func EncodeHeader(h *Header) ([]byte, error) {
	return appendHeader(nil, h)
}

// EntrySize is the number of bytes an entry occupies: header bytes + content
// rounded up to 512.
func EntrySize(h *Header) (int64, error) {
	var scratch [2 * blockSize]byte
	return entrySize(scratch[:0], h)
}

// ArchiveSize returns the total tar size of entries, including the
// end-of-archive blocks and the 10240 padding.
func ArchiveSize(entries []Entry) (int64, error) {
	scratch := make([]byte, 0, 4*blockSize)
	var total int64
	for i := range entries {
		n, err := entrySize(scratch, &entries[i].Header)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return archiveEnd(total), nil
}

// archiveEnd is the final offset after close(): two zero blocks, then zeros
// up to the next record boundary (nothing if already on one).
func archiveEnd(off int64) int64 {
	off += 2 * blockSize
	if r := off % recordSize; r != 0 {
		off += recordSize - r
	}
	return off
}

func entrySize(scratch []byte, h *Header) (int64, error) {
	content, err := contentSize(h)
	if err != nil {
		return 0, err
	}
	hdr, err := appendHeader(scratch[:0], h)
	if err != nil {
		return 0, err
	}
	return int64(len(hdr)) + roundBlock(content), nil
}

// contentSize rejects headers that would make the archive unreadable: only
// regular files carry data, so any other type with a size would make readers
// skip over the following headers.
func contentSize(h *Header) (int64, error) {
	if h.Typeflag == TypeReg {
		if h.Size < 0 {
			return 0, fmt.Errorf("entry %q: negative size %d", h.Name, h.Size)
		}
		return h.Size, nil
	}
	if h.Size != 0 {
		return 0, fmt.Errorf("entry %q: type %q cannot have content (size %d)", h.Name, h.Typeflag, h.Size)
	}
	return 0, nil
}

func roundBlock(n int64) int64 {
	return (n + blockSize - 1) &^ (blockSize - 1)
}

// fitsOctal mirrors itn(): a field of n bytes holds n-1 octal digits plus NUL.
func fitsOctal(v int64, width int) bool {
	return v >= 0 && v < int64(1)<<(3*(width-1))
}

// needsPax mirrors create_pax_header's string test: anything non-ASCII, or
// longer than the ustar field, goes to a PAX record.
func needsPax(s string, limit int) bool {
	if len(s) > limit {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

var errDevOverflow = errors.New("overflow in number field")

func appendHeader(dst []byte, h *Header) ([]byte, error) {
	name := h.Name
	if h.Typeflag == TypeDir && !strings.HasSuffix(name, "/") {
		name += "/"
	}
	hasDev := h.Typeflag == TypeChar || h.Typeflag == TypeBlock
	if hasDev && (!fitsOctal(h.Devmajor, 8) || !fitsOctal(h.Devminor, 8)) {
		return dst, fmt.Errorf("entry %q: device %d,%d: %w", name, h.Devmajor, h.Devminor, errDevOverflow)
	}
	uid, gid := int64(h.UID), int64(h.GID)
	paxPath := needsPax(name, 100)
	paxLink := needsPax(h.Linkname, 100)
	paxUname := needsPax(h.Uname, 32)
	paxGname := needsPax(h.Gname, 32)
	paxUID := !fitsOctal(uid, 8)
	paxGID := !fitsOctal(gid, 8)
	paxSize := !fitsOctal(h.Size, 12)
	paxMTime := !fitsOctal(h.MTime, 12)

	if paxPath || paxLink || paxUname || paxGname || paxUID || paxGID || paxSize || paxMTime {
		start := len(dst)
		dst = append(dst, zeroBlock[:]...)
		recStart := len(dst)
		// CPython switches the whole header to raw bytes as soon as one
		// value is not valid UTF-8 (it holds surrogate escapes), and says so
		// in a leading record.
		if (paxPath && !utf8.ValidString(name)) || (paxLink && !utf8.ValidString(h.Linkname)) ||
			(paxUname && !utf8.ValidString(h.Uname)) || (paxGname && !utf8.ValidString(h.Gname)) {
			dst = append(dst, "21 hdrcharset=BINARY\n"...)
		}
		// Record order is the insertion order of CPython's dict.
		if paxPath {
			dst = appendRecord(dst, "path", name)
		}
		if paxLink {
			dst = appendRecord(dst, "linkpath", h.Linkname)
		}
		if paxUname {
			dst = appendRecord(dst, "uname", h.Uname)
		}
		if paxGname {
			dst = appendRecord(dst, "gname", h.Gname)
		}
		if paxUID {
			dst = appendIntRecord(dst, "uid", uid)
		}
		if paxGID {
			dst = appendIntRecord(dst, "gid", gid)
		}
		if paxSize {
			dst = appendIntRecord(dst, "size", h.Size)
		}
		if paxMTime {
			dst = appendIntRecord(dst, "mtime", h.MTime)
		}
		recLen := len(dst) - recStart
		if pad := int(roundBlock(int64(recLen))) - recLen; pad > 0 {
			dst = append(dst, zeroBlock[:pad]...)
		}
		blk := dst[start : start+blockSize]
		putASCII(blk[0:100], "././@PaxHeader")
		putOctal(blk[100:108], 0)
		putOctal(blk[108:116], 0)
		putOctal(blk[116:124], 0)
		putOctal(blk[124:136], int64(recLen))
		putOctal(blk[136:148], 0)
		blk[156] = 'x'
		copy(blk[257:265], posixMagic)
		putChecksum(blk)
	}

	start := len(dst)
	dst = append(dst, zeroBlock[:]...)
	blk := dst[start : start+blockSize]
	// Out-of-range numbers are zeroed in the ustar block; the PAX record
	// written above carries the real value.
	if paxUID {
		uid = 0
	}
	if paxGID {
		gid = 0
	}
	size, mtime := h.Size, h.MTime
	if paxSize {
		size = 0
	}
	if paxMTime {
		mtime = 0
	}
	putASCII(blk[0:100], name)
	putOctal(blk[100:108], h.Mode&0o7777)
	putOctal(blk[108:116], uid)
	putOctal(blk[116:124], gid)
	putOctal(blk[124:136], size)
	putOctal(blk[136:148], mtime)
	blk[156] = h.Typeflag
	putASCII(blk[157:257], h.Linkname)
	copy(blk[257:265], posixMagic)
	putASCII(blk[265:297], h.Uname)
	putASCII(blk[297:329], h.Gname)
	// Python 3.11 leaves the device fields all-NUL unless the entry is a
	// device; the prefix field is never used in PAX format.
	if hasDev {
		putOctal(blk[329:337], h.Devmajor)
		putOctal(blk[337:345], h.Devminor)
	}
	putChecksum(blk)
	return dst, nil
}

// appendRecord writes "<len> <key>=<value>\n" where len counts itself, found
// by the same fixed-point iteration CPython uses.
func appendRecord(dst []byte, key, value string) []byte {
	l := len(key) + len(value) + 3
	p := 0
	for {
		n := l + decimalLen(p)
		if n == p {
			break
		}
		p = n
	}
	dst = strconv.AppendInt(dst, int64(p), 10)
	dst = append(dst, ' ')
	dst = append(dst, key...)
	dst = append(dst, '=')
	dst = append(dst, value...)
	return append(dst, '\n')
}

func appendIntRecord(dst []byte, key string, v int64) []byte {
	var num [24]byte
	return appendRecord(dst, key, string(strconv.AppendInt(num[:0], v, 10)))
}

func decimalLen(p int) int {
	n := 1
	for p >= 10 {
		p /= 10
		n++
	}
	return n
}

// putASCII mirrors stn(s, len, "ascii", "replace"): every non-ASCII code
// point (or undecodable byte, which Python holds as one surrogate escape)
// becomes one '?', then the result is cut to the field without a
// terminating NUL when it fills the field. field must be zeroed.
func putASCII(field []byte, s string) {
	j := 0
	for i := 0; i < len(s) && j < len(field); j++ {
		if c := s[i]; c < utf8.RuneSelf {
			field[j] = c
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		field[j] = '?'
		i += size
	}
}

// putOctal mirrors itn() for in-range values: zero-padded octal digits
// followed by one NUL.
func putOctal(field []byte, v int64) {
	last := len(field) - 1
	field[last] = 0
	for i := last - 1; i >= 0; i-- {
		field[i] = byte('0' + v&7)
		v >>= 3
	}
}

// putChecksum sums the block with the checksum field counted as spaces, then
// writes six octal digits and a NUL, leaving the eighth byte a space.
func putChecksum(blk []byte) {
	copy(blk[148:156], "        ")
	sum := int64(0)
	for _, c := range blk {
		sum += int64(c)
	}
	putOctal(blk[148:155], sum)
}
