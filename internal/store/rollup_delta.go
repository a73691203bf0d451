package store

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
)

// The pending encoding of a batch's rollup: minute rows under their own
// filter keys, with each string once in a table at the front. It is a few
// bytes a row and needs no reflection, unlike the gob deltas of the first
// version, which merge still reads (pending rows may survive an upgrade).
//
//	magic version
//	strings: n, then n × (len, bytes)
//	traffic: n, then n × (minute, host, status, country, isBot, requests, bytes)
//	top:     n, then n × (dim, minute, host, class, country, isBot, hash, value, n)
//	visitors: n, then n × (minute, host, country, isBot, reg, rho)
//
// Integers are varints, minute is Unix seconds / 60, strings are indexes
// into the table, hash is 8 bytes big-endian.
const (
	deltaMagic   = 0xd5
	deltaVersion = 1
)

type deltaWriter struct {
	buf  []byte
	strs map[string]uint64
	tab  []string
}

func (w *deltaWriter) str(s string) {
	i, ok := w.strs[s]
	if !ok {
		i = uint64(len(w.tab))
		w.strs[s] = i
		w.tab = append(w.tab, s)
	}
	w.buf = binary.AppendUvarint(w.buf, i)
}

func (w *deltaWriter) uint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }
func (w *deltaWriter) int(v int64)   { w.buf = binary.AppendVarint(w.buf, v) }

func (ru *rollup) encode() []byte {
	w := deltaWriter{strs: map[string]uint64{}}
	w.uint(uint64(len(ru.traffic)))
	for k, v := range ru.traffic {
		w.int(k.bucket / 60)
		w.str(k.host)
		w.uint(uint64(k.status))
		w.str(k.country)
		w.uint(uint64(k.isBot))
		w.uint(v.requests)
		w.uint(v.bytes)
	}
	w.uint(uint64(len(ru.top)))
	for k, v := range ru.top {
		w.uint(uint64(k.dim))
		w.int(k.bucket / 60)
		w.str(k.host)
		w.uint(uint64(k.statusClass))
		w.str(k.country)
		w.uint(uint64(k.isBot))
		w.buf = binary.BigEndian.AppendUint64(w.buf, k.vhash)
		w.str(v.value)
		w.uint(v.n)
	}
	w.uint(uint64(len(ru.visitors)))
	for k, rho := range ru.visitors {
		w.int(k.bucket / 60)
		w.str(k.host)
		w.str(k.country)
		w.uint(uint64(k.isBot))
		w.uint(uint64(k.reg))
		w.uint(uint64(rho))
	}
	out := make([]byte, 0, len(w.buf)+16*len(w.tab)+8)
	out = append(out, deltaMagic, deltaVersion)
	out = binary.AppendUvarint(out, uint64(len(w.tab)))
	for _, s := range w.tab {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return append(out, w.buf...)
}

var errDelta = errors.New("malformed rollup delta")

type deltaReader struct {
	b   []byte
	tab []string
	err error
}

func (r *deltaReader) uint() uint64 { return varint(r, binary.Uvarint) }
func (r *deltaReader) int() int64   { return varint(r, binary.Varint) }

// varint reads one integer with decode (binary.Uvarint or Varint).
func varint[T uint64 | int64](r *deltaReader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.b)
	if n <= 0 {
		r.err = errDelta
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *deltaReader) small(max uint64) uint64 {
	v := r.uint()
	if v > max {
		r.err = errDelta
		return 0
	}
	return v
}

func (r *deltaReader) str() string {
	i := r.uint()
	if r.err != nil {
		return ""
	}
	if i >= uint64(len(r.tab)) {
		r.err = errDelta
		return ""
	}
	return r.tab[i]
}

// count reads a number of entries, each of at least min bytes, so a
// corrupt count cannot make the reader allocate or loop beyond the data.
func (r *deltaReader) count(min int) int {
	n := r.uint()
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.err = errDelta
		return 0
	}
	return int(n)
}

// merge adds an encoded delta to ru (minute rows under their own keys).
func (ru *rollup) merge(b []byte) error {
	if len(b) < 2 || b[0] != deltaMagic {
		return ru.mergeGob(b)
	}
	if b[1] != deltaVersion {
		return fmt.Errorf("rollup delta version %d: %w", b[1], errDelta)
	}
	r := deltaReader{b: b[2:]}
	nstr := r.count(1)
	r.tab = make([]string, 0, nstr)
	for range nstr {
		n := r.small(uint64(len(r.b)))
		if r.err != nil || n > uint64(len(r.b)) {
			return errDelta
		}
		r.tab = append(r.tab, string(r.b[:n]))
		r.b = r.b[n:]
	}
	for range r.count(7) {
		k := trafficKey{level: LevelMinute, bucket: r.int() * 60, host: r.str(), status: uint16(r.small(999)), country: r.str(), isBot: uint8(r.small(255))}
		v := trafficVal{r.uint(), r.uint()}
		if r.err != nil {
			return r.err
		}
		ru.addTraffic(k, v)
	}
	for range r.count(16) {
		k := topKey{dim: uint8(r.small(255)), level: LevelMinute, bucket: r.int() * 60, host: r.str(), statusClass: uint8(r.small(255)), country: r.str(), isBot: uint8(r.small(255))}
		if r.err == nil && len(r.b) < 8 {
			r.err = errDelta
		}
		if r.err != nil {
			return r.err
		}
		k.vhash = binary.BigEndian.Uint64(r.b)
		r.b = r.b[8:]
		v := topVal{r.str(), r.uint()}
		if r.err != nil {
			return r.err
		}
		ru.addTop(k, v)
	}
	for range r.count(6) {
		k := visitorKey{level: LevelMinute, bucket: r.int() * 60, host: r.str(), country: r.str(), isBot: uint8(r.small(255)), reg: uint16(r.small(hllM - 1))}
		rho := uint8(r.small(64))
		if r.err != nil {
			return r.err
		}
		ru.addVisitor(k, rho)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errDelta
	}
	return r.err
}

// gobRow and gobDelta are the first version's pending encoding.
type gobRow struct {
	Dim, Level, Class, IsBot uint8
	Bucket                   int64
	Host, Country, Value     string
	Status, Reg              uint16
	Hash, N, Bytes           uint64
	Rho                      uint8
}

type gobDelta struct{ Traffic, Top, Visitors []gobRow }

// mergeGob adds a delta of the first version, which held every level
// and the rows of any filter already: only its minute rows under their
// own keys are taken, as expand derives the rest again.
func (ru *rollup) mergeGob(b []byte) error {
	if !gobFramed(b) {
		return errDelta
	}
	var d gobDelta
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&d); err != nil {
		return fmt.Errorf("%w: %w", errDelta, err)
	}
	for _, r := range d.Traffic {
		if r.Level != LevelMinute {
			continue
		}
		ru.addTraffic(trafficKey{LevelMinute, r.Bucket, r.Host, r.Status, r.Country, r.IsBot}, trafficVal{r.N, r.Bytes})
	}
	for _, r := range d.Top {
		if r.Level != LevelMinute || r.IsBot == botAny {
			continue
		}
		ru.addTop(topKey{r.Dim, LevelMinute, r.Bucket, r.Host, r.Class, r.Country, r.IsBot, r.Hash}, topVal{r.Value, r.N})
	}
	for _, r := range d.Visitors {
		if r.Level != LevelMinute || r.IsBot == botAny {
			continue
		}
		ru.addVisitor(visitorKey{LevelMinute, r.Bucket, r.Host, r.Country, r.IsBot, r.Reg}, r.Rho)
	}
	return nil
}

// gobFramed reports whether b is a sequence of gob messages, each within
// b: gob allocates a message's stated length before reading it, so a
// corrupt row could otherwise claim a gigabyte.
func gobFramed(b []byte) bool {
	for len(b) > 0 {
		// gob's unsigned integers: one byte below 128, else the negated
		// count of big-endian bytes that follow.
		n := uint64(b[0])
		b = b[1:]
		if n >= 128 {
			k := int(-int8(n))
			if k < 1 || k > 8 || k > len(b) {
				return false
			}
			n = 0
			for _, c := range b[:k] {
				n = n<<8 | uint64(c)
			}
			b = b[k:]
		}
		if n == 0 || n > uint64(len(b)) {
			return false
		}
		b = b[n:]
	}
	return true
}
