//go:build !unix

package layer

import (
	"fmt"
	"os"
	"runtime"
)

func permBits(fi os.FileInfo) int64 { return fallbackPerm(fi) }

func deviceNumbers(path string, _ os.FileInfo) (int64, int64, error) {
	return 0, 0, fmt.Errorf("reading device numbers of %s: unsupported on %s", path, runtime.GOOS)
}
