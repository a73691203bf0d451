package store

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// The unique-visitor sketch is a HyperLogLog with 2^hllP registers: a
// standard error of 1.04/sqrt(16384) = 0.8%, so the 2% the dashboard
// promises is 2.5 standard errors. Registers are rows of the visitors
// table, merged with GREATEST, so the sketch of any range is one GROUP BY
// and adding an item twice changes nothing.
const (
	hllP = 14
	hllM = 1 << hllP
)

// hash64 is FNV-1a over the parts with a separator, finished by
// murmur3's fmix64 so every bit depends on every input bit (HyperLogLog
// reads the top bits as the register and the rest as the rank). It is
// fixed, unlike hash/maphash, so competing consumers agree.
func hash64(parts ...string) uint64 {
	h := uint64(14695981039346656037)
	for i, p := range parts {
		if i > 0 {
			h ^= 0xff
			h *= 1099511628211
		}
		for j := 0; j < len(p); j++ {
			h ^= uint64(p[j])
			h *= 1099511628211
		}
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// hllRegister is the register an item of hash h sets and the rank it
// sets it to (at least).
func hllRegister(h uint64) (reg uint16, rho uint8) {
	reg = uint16(h >> (64 - hllP))
	rest := h<<hllP | 1<<(hllP-1) // a guard bit bounds the rank
	return reg, uint8(bits.LeadingZeros64(rest) + 1)
}

// hllEstimate estimates the distinct items of a sketch given its
// non-zero registers, with linear counting for small sets.
func hllEstimate(regs map[uint16]uint8) float64 {
	m := float64(hllM)
	sum := float64(hllM - len(regs)) // 2^-0 for each empty register
	for _, r := range regs {
		sum += math.Ldexp(1, -int(r))
	}
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / sum
	if zeros := hllM - len(regs); e <= 2.5*m && zeros > 0 {
		return m * math.Log(m/float64(zeros))
	}
	return e
}

// sketch is a HyperLogLog's registers: sparse (the registers set, in a
// map) until more than sparseMax are set, then dense. A minute of one host,
// country and bot class sets a few registers, and a fold or a derive over
// a sparse log (one batch spanning hours) holds tens of thousands of such
// sketches: dense, each would cost 16 KB and a 16,384-register scan to
// encode, which made folding a backfill slower than writing it.
type sketch struct {
	sparse map[uint16]uint8
	dense  *[hllM]uint8
}

// sparseMax is the most registers a sketch keeps one by one (4 bytes each
// when stored) before it is dense (one byte each).
const sparseMax = hllM / 4

// set raises register reg to rho.
func (s *sketch) set(reg uint16, rho uint8) {
	if s.dense != nil {
		s.dense[reg] = max(s.dense[reg], rho)
		return
	}
	if s.sparse == nil {
		s.sparse = map[uint16]uint8{}
	}
	if old, ok := s.sparse[reg]; ok {
		s.sparse[reg] = max(old, rho)
		return
	}
	s.sparse[reg] = rho
	if len(s.sparse) > sparseMax {
		s.densify()
	}
}

// densify moves the registers to the dense array.
func (s *sketch) densify() {
	if s.dense != nil {
		return
	}
	s.dense = new([hllM]uint8)
	for r, v := range s.sparse {
		s.dense[r] = v
	}
	s.sparse = nil
}

// merge takes the larger of each register of an encoded sketch.
func (s *sketch) merge(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case b[0] == 'd' && len(b) == 1+hllM:
		s.densify()
		for i, r := range b[1:] {
			s.dense[i] = max(s.dense[i], r)
		}
	case b[0] == 's' && (len(b)-1)%4 == 0:
		for i := 1; i < len(b); i += 4 {
			reg := uint16(b[i])<<8 | uint16(b[i+1])
			if reg < hllM && b[i+2] != 0 {
				s.set(reg, b[i+2])
			}
		}
	default:
		return fmt.Errorf("bad sketch of %d bytes", len(b))
	}
	return nil
}

// encode stores the sketch sparse (registers in order, so a sketch has
// one encoding) or dense, whichever is smaller.
func (s *sketch) encode() []byte {
	if s.dense != nil && s.count() > sparseMax {
		return append([]byte{'d'}, s.dense[:]...)
	}
	regs := s.registers()
	keys := make([]uint16, 0, len(regs))
	for r := range regs {
		keys = append(keys, r)
	}
	slices.Sort(keys)
	out := make([]byte, 1, 1+4*len(keys))
	out[0] = 's'
	for _, r := range keys {
		out = append(out, byte(r>>8), byte(r), regs[r], 0)
	}
	return out
}

// count is how many registers are set.
func (s *sketch) count() int {
	if s.dense == nil {
		return len(s.sparse)
	}
	n := 0
	for _, r := range s.dense {
		if r != 0 {
			n++
		}
	}
	return n
}

// registers are the registers set: the sparse map itself, or one made
// from the dense array.
func (s *sketch) registers() map[uint16]uint8 {
	if s.dense == nil {
		return s.sparse
	}
	regs := map[uint16]uint8{}
	for i, r := range s.dense {
		if r != 0 {
			regs[uint16(i)] = r
		}
	}
	return regs
}

// estimate is hllEstimate of the sketch.
func (s *sketch) estimate() float64 { return hllEstimate(s.registers()) }
