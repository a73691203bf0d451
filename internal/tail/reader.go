package tail

import (
	"bytes"
	"errors"
	"io"
)

const (
	readBufSize = 256 << 10 // initial read buffer; grows up to MaxLineBytes+1
	slabSize    = 32 << 10  // short lines are carved out of slabs of this size
	slabMaxLine = 2 << 10   // longer lines get an allocation of their own
)

// rawLine is one line cut from the stream.
type rawLine struct {
	off, end  int64
	data      []byte
	truncated bool
}

// lineReader cuts a byte stream into lines. It keeps an unterminated tail in
// its buffer until the newline arrives, which is how a partial last line is
// held back in follow mode. It does no I/O itself: fill is given the read
// function, so the same code serves plain files (ReadAt) and gzip streams.
type lineReader struct {
	buf        []byte
	start, end int   // unread window buf[start:end]
	base       int64 // stream offset of buf[0]
	max        int   // MaxLineBytes

	skipping bool   // inside a line longer than max: discarding up to '\n'
	trunc    []byte // its first max bytes
	truncOff int64  // its offset

	slab []byte
}

func newLineReader(start int64, max int) *lineReader {
	return &lineReader{buf: make([]byte, readBufSize), base: start, max: max}
}

// pos is the stream offset of the next byte to be read into the buffer.
func (r *lineReader) pos() int64 { return r.base + int64(r.end) }

// pending reports whether an unterminated line is buffered.
func (r *lineReader) pending() bool { return r.skipping || r.start < r.end }

// next returns the next complete line already in the buffer.
func (r *lineReader) next() (rawLine, bool) {
	win := r.buf[r.start:r.end]
	i := bytes.IndexByte(win, '\n')
	if r.skipping {
		if i < 0 {
			r.start = r.end
			return rawLine{}, false
		}
		l := rawLine{off: r.truncOff, end: r.base + int64(r.start+i+1), data: r.trunc, truncated: true}
		r.start += i + 1
		r.skipping, r.trunc = false, nil
		return l, true
	}
	if i < 0 {
		if len(win) > r.max {
			// Longer than allowed and still no newline: keep the head,
			// skip the rest up to the newline.
			r.trunc = bytes.Clone(win[:r.max])
			r.truncOff = r.base + int64(r.start)
			r.skipping = true
			r.start = r.end
		}
		return rawLine{}, false
	}
	l := rawLine{off: r.base + int64(r.start), end: r.base + int64(r.start+i+1)}
	if i > r.max {
		l.data, l.truncated = bytes.Clone(win[:r.max]), true
	} else {
		l.data = r.own(win[:i])
	}
	r.start += i + 1
	return l, true
}

// final returns the unterminated rest of the stream as a line (used at the
// end of a file that is not followed or that was abandoned).
func (r *lineReader) final() (rawLine, bool) {
	if r.skipping {
		l := rawLine{off: r.truncOff, end: r.pos(), data: r.trunc, truncated: true}
		r.skipping, r.trunc = false, nil
		r.start = r.end
		return l, true
	}
	if r.start == r.end {
		return rawLine{}, false
	}
	win := r.buf[r.start:r.end]
	l := rawLine{off: r.base + int64(r.start), end: r.pos()}
	if len(win) > r.max {
		l.data, l.truncated = bytes.Clone(win[:r.max]), true
	} else {
		l.data = bytes.Clone(win)
	}
	r.start = r.end
	return l, true
}

// own copies b into memory the caller may keep. Short lines share a slab;
// each gets a slice whose capacity ends at its length, so appending to one
// line can never overwrite another.
func (r *lineReader) own(b []byte) []byte {
	if len(b) > slabMaxLine {
		return bytes.Clone(b)
	}
	if len(r.slab) < len(b) {
		r.slab = make([]byte, slabSize)
	}
	c := r.slab[:len(b):len(b)]
	copy(c, b)
	r.slab = r.slab[len(b):]
	return c
}

// fill reads more bytes into the buffer with read, which must behave like
// io.Reader.Read for the stream positioned at r.pos(). It makes room first:
// it drops consumed bytes and, when a single unterminated line fills the
// whole buffer, grows it up to max+1 bytes.
func (r *lineReader) fill(read func(p []byte, off int64) (int, error)) (int, error) {
	if r.start == r.end {
		r.base += int64(r.end)
		r.start, r.end = 0, 0
		if len(r.buf) > 4*readBufSize {
			r.buf = make([]byte, readBufSize) // let a huge-line buffer go
		}
	}
	if r.end == len(r.buf) {
		if r.start > 0 {
			n := copy(r.buf, r.buf[r.start:r.end])
			r.base += int64(r.start)
			r.start, r.end = 0, n
		} else {
			size := min(2*len(r.buf), r.max+1)
			if size <= len(r.buf) {
				return 0, errors.New("tail: line buffer full") // unreachable: next() starts skipping first
			}
			nb := make([]byte, size)
			copy(nb, r.buf[:r.end])
			r.buf = nb
		}
	}
	n, err := read(r.buf[r.end:], r.pos())
	r.end += n
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}
