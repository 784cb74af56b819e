package archive

import (
	"crypto/sha256"
	"encoding/hex"
)

// Digest is the "sha256:<hex>" digest of data.
func Digest(data []byte) string {
	s := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(s[:])
}
