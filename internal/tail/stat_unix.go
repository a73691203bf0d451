//go:build unix

package tail

import (
	"os"
	"syscall"
)

// fileKey returns the device and inode of fi and its link count. A file that
// was deleted while open has nlink 0.
func fileKey(fi os.FileInfo) (dev, ino, nlink uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 1
	}
	return uint64(st.Dev), uint64(st.Ino), uint64(st.Nlink) //nolint:unconvert // widths differ per GOARCH
}
