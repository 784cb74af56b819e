//go:build unix

package layer

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// permBits takes the permission bits from the raw st_mode, as CPython's
// gettarinfo does, so setuid/setgid/sticky survive without a round trip
// through fs.FileMode.
func permBits(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Mode) & 0o7777
	}
	return fallbackPerm(fi)
}

func deviceNumbers(path string, fi os.FileInfo) (major, minor int64, err error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("reading device numbers of %s: no stat data", path)
	}
	major, minor, ok = splitDev(uint64(st.Rdev))
	if !ok {
		return 0, 0, fmt.Errorf("reading device numbers of %s: dev_t layout unknown on %s", path, runtime.GOOS)
	}
	return major, minor, nil
}
