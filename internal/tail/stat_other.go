//go:build !unix

package tail

import "os"

// fileKey has no device/inode on this platform: identity then rests on the
// fingerprint of the first line alone, and deletion of an open file cannot be
// detected from the descriptor.
func fileKey(fi os.FileInfo) (dev, ino, nlink uint64) {
	return 0, 0, 1
}
