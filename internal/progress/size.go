package progress

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
)

// Sizes adds up the bytes the files matching pattern hold now: for a .gz
// file, the size of its content (the gzip trailer's, modulo 4 GiB), since
// positions in it count uncompressed bytes.
func Sizes(pattern string) int64 {
	matches, _ := filepath.Glob(pattern)
	var total int64
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if !strings.HasSuffix(m, ".gz") {
			total += fi.Size()
			continue
		}
		total += gzipSize(m, fi.Size())
	}
	return total
}

// gzipSize is ISIZE, the last 4 bytes of a gzip file (for several members,
// the last one's: an estimate, as the bar needs).
func gzipSize(path string, size int64) int64 {
	if size < 18 {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var b [4]byte
	if _, err := f.ReadAt(b[:], size-4); err != nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint32(b[:]))
}
