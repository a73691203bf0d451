package store

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
)

// deltaRows are rows over two days and several minutes, with and
// without the columns enrichment fills.
func deltaRows() []clean.Row {
	start := time.Date(2026, 3, 1, 23, 58, 30, 0, time.UTC)
	var rows []clean.Row
	for i := range 400 {
		t := start.Add(time.Duration(i) * 997 * time.Millisecond)
		path := fmt.Sprintf("/p/%d?x=%d", i%37, i)
		st := []int{200, 404, 500, 301}[i%4]
		b := int64(i * 13)
		ua := fmt.Sprintf("agent-%d", i%11)
		ref := fmt.Sprintf("https://ref%d.example/", i%3)
		rt := float64(i%50) / 100
		r := clean.Row{ReceivedAt: t, Time: &t, RemoteAddr: fmt.Sprintf("10.0.0.%d", i%29), SourceHost: "src",
			Path: &path, Status: &st, Bytes: &b, UserAgent: &ua, Referrer: &ref, RequestTime: &rt}
		if i%3 == 0 {
			c, bot, name := "FR", i%2 == 0, "Googlebot"
			r.Country, r.IsBot, r.BotName = &c, &bot, &name
		}
		rows = append(rows, r)
	}
	return rows
}

func equalRollups(t *testing.T, what string, got, want *rollup) {
	t.Helper()
	if !maps.Equal(got.traffic, want.traffic) || !maps.Equal(got.top, want.top) || !maps.Equal(got.visitors, want.visitors) {
		t.Fatalf("%s: traffic %d/%d, top %d/%d, visitors %d/%d rows (got/want), or values differ", what,
			len(got.traffic), len(want.traffic), len(got.top), len(want.top), len(got.visitors), len(want.visitors))
	}
}

func TestDeltaRoundTrip(t *testing.T) {
	ru := newRollup()
	for _, r := range deltaRows() {
		ru.add(&r)
	}
	b := ru.encode()
	got := newRollup()
	if err := got.merge(b); err != nil {
		t.Fatal(err)
	}
	equalRollups(t, "one delta", got, ru)
	// Merging twice doubles the counts and leaves the sketches as they are.
	if err := got.merge(b); err != nil {
		t.Fatal(err)
	}
	for k, v := range ru.traffic {
		if got.traffic[k] != (trafficVal{2 * v.requests, 2 * v.bytes}) {
			t.Fatalf("traffic %v: %v after two merges of %v", k, got.traffic[k], v)
		}
	}
	if !maps.Equal(got.visitors, ru.visitors) {
		t.Fatal("visitor registers changed by merging the same delta again")
	}
	t.Logf("%d rows: %d bytes (%.1f a row)", len(deltaRows()), len(b), float64(len(b))/400)
}

// TestDeltaReadsFirstVersion: a pending row the first version wrote
// (gob, every level and the rows of any filter) is read as the same
// minute rows, so folding after an upgrade counts nothing twice.
func TestDeltaReadsFirstVersion(t *testing.T) {
	ru := newRollup()
	for _, r := range deltaRows() {
		ru.add(&r)
	}
	// What the first version stored: every row at every level, under its
	// own keys and under any.
	minutes := newRollup()
	for _, r := range deltaRows() {
		minutes.add(&r)
	}
	minutes.expand()
	var d gobDelta
	for lv := range uint8(numLevels) {
		for k, v := range minutes.traffic {
			d.Traffic = append(d.Traffic, gobRow{Level: lv, Bucket: truncUnix(k.bucket, lv), Host: k.host, Status: k.status, Country: k.country, IsBot: k.isBot, N: v.requests, Bytes: v.bytes})
		}
		for k, v := range minutes.top {
			d.Top = append(d.Top, gobRow{Dim: k.dim, Level: lv, Bucket: truncUnix(k.bucket, lv), Host: k.host, Class: k.statusClass, Country: k.country, IsBot: k.isBot, Hash: k.vhash, Value: v.value, N: v.n})
		}
		for k, v := range minutes.visitors {
			d.Visitors = append(d.Visitors, gobRow{Level: lv, Bucket: truncUnix(k.bucket, lv), Host: k.host, Country: k.country, IsBot: k.isBot, Reg: k.reg, Rho: v})
		}
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&d); err != nil {
		t.Fatal(err)
	}
	got := newRollup()
	if err := got.merge(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	equalRollups(t, "first version", got, ru)
	equalRollups(t, "first version expanded", got.expand(), minutes)
}

// TestExpandAny: expand keeps every row in its minute under its own keys
// and counts it once more under any.
func TestExpandAny(t *testing.T) {
	ru := newRollup()
	rows := deltaRows()
	for _, r := range rows {
		ru.add(&r)
	}
	full := ru.expand()
	// A transaction run again expands the same rollup again.
	if again := full.expand(); again != full {
		t.Fatal("expand made a new rollup")
	}
	var reqs uint64
	for k, v := range full.traffic {
		reqs += v.requests
		if k.level != LevelMinute || k.bucket%60 != 0 {
			t.Errorf("traffic row %+v is not a minute row", k)
		}
	}
	if reqs != uint64(len(rows)) {
		t.Errorf("traffic counts %d requests, want %d", reqs, len(rows))
	}
	for _, any := range []bool{false, true} {
		var paths uint64
		for k, v := range full.top {
			if k.dim == DimPath && (k.isBot == botAny) == any {
				paths += v.n
			}
		}
		if paths != uint64(len(rows)) {
			t.Errorf("any %v counts %d paths, want %d", any, paths, len(rows))
		}
	}
	for k := range full.visitors {
		if k.level != LevelMinute {
			t.Errorf("visitor row %+v is not a minute row", k)
		}
	}
}

func FuzzDeltaMerge(f *testing.F) {
	ru := newRollup()
	for _, r := range deltaRows()[:20] {
		ru.add(&r)
	}
	b := ru.encode()
	f.Add(b)
	f.Add([]byte{deltaMagic, deltaVersion, 0, 0, 0, 0})
	f.Add([]byte{deltaMagic, deltaVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = newRollup().merge(b) // must return, not panic or allocate without bound
	})
}
