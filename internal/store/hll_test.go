package store

import (
	"bytes"
	"math"
	"strconv"
	"testing"
)

// TestSketch checks the sketch against a plain array of registers: the
// same registers whatever the order items arrive in and however the sketch
// is split and merged, an encoding that depends on the registers only, and
// an estimate within the 2% the dashboard promises.
func TestSketch(t *testing.T) {
	for _, n := range []int{0, 1, 100, sparseMax - 1, 5000, 200_000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			var want [hllM]uint8
			var whole, even, odd sketch
			for i := range n {
				reg, rho := hllRegister(hash64("198.51.100."+strconv.Itoa(i), "agent"))
				want[reg] = max(want[reg], rho)
				whole.set(reg, rho)
				if i%2 == 0 {
					even.set(reg, rho)
				} else {
					odd.set(reg, rho)
				}
			}
			// Merged in both orders, and through their encodings.
			var ab, ba sketch
			for _, b := range [][]byte{even.encode(), odd.encode()} {
				if err := ab.merge(b); err != nil {
					t.Fatal(err)
				}
			}
			for _, b := range [][]byte{odd.encode(), even.encode()} {
				if err := ba.merge(b); err != nil {
					t.Fatal(err)
				}
			}
			set := 0
			for _, r := range want {
				if r != 0 {
					set++
				}
			}
			ref := refEncode(&want, set)
			for name, s := range map[string]*sketch{"whole": &whole, "even+odd": &ab, "odd+even": &ba} {
				if got := s.encode(); !bytes.Equal(got, ref) {
					t.Errorf("%s: encoding of %d bytes differs from the registers' (%d bytes)", name, len(got), len(ref))
				}
			}
			if dense := set > sparseMax; (whole.dense != nil) != dense {
				t.Errorf("%d registers set: dense %v, want %v", set, whole.dense != nil, dense)
			}
			got := whole.estimate()
			if n == 0 {
				if got != 0 {
					t.Errorf("empty sketch estimates %v", got)
				}
				return
			}
			if rel := math.Abs(got-float64(n)) / float64(n); rel > 0.02 {
				t.Errorf("%d items estimated %.0f (%.2f%% off)", n, got, 100*rel)
			}
		})
	}
}

// refEncode is the stored form of registers: register, rank, 0 for each
// set one in order, or all of them when that is smaller.
func refEncode(regs *[hllM]uint8, set int) []byte {
	if set > sparseMax {
		return append([]byte{'d'}, regs[:]...)
	}
	out := []byte{'s'}
	for i, r := range regs {
		if r != 0 {
			out = append(out, byte(i>>8), byte(i), r, 0)
		}
	}
	return out
}

func TestSketchBadEncoding(t *testing.T) {
	for _, b := range [][]byte{{'x'}, {'s', 1, 2}, append([]byte{'d'}, make([]byte, 10)...)} {
		var s sketch
		if err := s.merge(b); err == nil {
			t.Errorf("merge(%q) accepted", b)
		}
	}
}

// BenchmarkSketchFold is what a fold of a sparse log does per sketch: a
// few registers set, then encoded.
func BenchmarkSketchFold(b *testing.B) {
	b.ReportAllocs()
	for i := range b.N {
		var s sketch
		for j := range 8 {
			reg, rho := hllRegister(hash64(strconv.Itoa(i), strconv.Itoa(j)))
			s.set(reg, rho)
		}
		_ = s.encode()
	}
}
