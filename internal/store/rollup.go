package store

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/clean"
)

// Rollup levels: a bucket is a minute, an hour or a day (UTC).
const (
	LevelMinute = iota
	LevelHour
	LevelDay
	numLevels
)

var levelSize = [numLevels]time.Duration{time.Minute, time.Hour, 24 * time.Hour}

// Dimensions of the top table: what a panel of top entries lists.
const (
	DimPath = iota + 1
	DimNotFound
	DimAddr
	DimReferrer
	DimBrowser
	DimOS
	DimDevice
	DimBot
	DimRespTime
)

const (
	trafficSuffix  = "_rollup_traffic"
	topSuffix      = "_rollup_top"
	visitorsSuffix = "_rollup_visitors"
	pendingSuffix  = "_rollup_pending"
	dirtySuffix    = "_rollup_dirty"
	countrySuffix  = "_rollup_top_country"
)

// Bot classes as stored: a row's is_bot is unknown until enrichment
// fills it.
const (
	botNo      = 0
	botYes     = 1
	botUnknown = 2
	// botAny marks the rows of the top and visitors tables that count
	// every row whatever its host, status, country and bot class: an
	// unfiltered view reads only those, a few rows per value and bucket
	// instead of one per combination of filter keys.
	botAny   = 255
	classAny = 255
)

func (s *Store) rollupTable(suffix string) string { return QuoteIdent(s.cleanName + suffix) }

// rollupSuffixes are the rollup tables, by the name migrations call them.
var rollupSuffixes = []struct{ placeholder, suffix string }{
	{"{{traffic}}", trafficSuffix}, {"{{top}}", topSuffix}, {"{{rollup_visitors}}", visitorsSuffix},
	{"{{pending}}", pendingSuffix}, {"{{rollup_dirty}}", dirtySuffix}, {"{{top_country}}", countrySuffix},
}

func (s *Store) rollupTables() []string {
	var out []string
	for _, t := range rollupSuffixes {
		out = append(out, s.rollupTable(t.suffix))
	}
	return out
}

// trafficKey is a row of the traffic table: the filters every panel has.
type trafficKey struct {
	level   uint8
	bucket  int64 // Unix seconds
	host    string
	status  uint16
	country string
	isBot   uint8
}

type trafficVal struct{ requests, bytes uint64 }

type topKey struct {
	dim         uint8
	level       uint8
	bucket      int64
	host        string
	statusClass uint8
	country     string
	isBot       uint8
	vhash       uint64
}

type topVal struct {
	value string
	n     uint64
}

type visitorKey struct {
	level   uint8
	bucket  int64
	host    string
	country string
	isBot   uint8
	reg     uint16
}

// rollup is what a batch of rows adds to the three tables.
type rollup struct {
	traffic  map[trafficKey]trafficVal
	top      map[topKey]topVal
	visitors map[visitorKey]uint8
	expanded bool // holds its rows of any filter (see expand)

	day    int64 // the day dayStr names (Unix seconds)
	dayStr string
}

func newRollup() *rollup {
	return &rollup{traffic: map[trafficKey]trafficVal{}, top: map[topKey]topVal{}, visitors: map[visitorKey]uint8{}}
}

// rowTime is the time a row is counted at: its own, else when it arrived.
func rowTime(r *clean.Row) time.Time {
	if r.Time != nil {
		return r.Time.UTC()
	}
	return r.ReceivedAt.UTC()
}

// RowHost is the host a row is counted for: the virtual host the line
// names, else the machine whose log it came from.
func RowHost(r *clean.Row) string {
	for _, h := range []*string{r.Host, r.ServerName} {
		if h != nil && *h != "" {
			return clean.TextString(strings.ToLower(*h), 255)
		}
	}
	return clean.TextString(r.SourceHost, 255)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func botClass(b *bool) uint8 {
	switch {
	case b == nil:
		return botUnknown
	case *b:
		return botYes
	}
	return botNo
}

// countryCode keeps a value that fits the column (two letters).
func countryCode(p *string) string {
	c := str(p)
	if len(c) > 2 {
		return ""
	}
	return c
}

// ReferrerSite is the host of a referring URL, "" for none or a direct
// visit.
func ReferrerSite(ref string) string {
	i := strings.Index(ref, "://")
	if i < 0 {
		return ""
	}
	h := ref[i+3:]
	if j := strings.IndexAny(h, "/?#"); j >= 0 {
		h = h[:j]
	}
	if j := strings.LastIndexByte(h, '@'); j >= 0 {
		h = h[j+1:]
	}
	if j := strings.LastIndexByte(h, ':'); j >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:j]
	}
	return strings.ToLower(h)
}

// rtBin is the response-time bin of a request time in seconds: bins grow
// by 10%, so a percentile read from them is within 10% of the truth.
func rtBin(sec float64) int {
	ms := sec * 1000
	if ms < 1 {
		return 0
	}
	return 1 + int(math.Log(ms)/math.Log(1.1))
}

// RespTimeBinUpper is the upper bound, in seconds, of a response-time bin.
func RespTimeBinUpper(bin int) float64 {
	if bin == 0 {
		return 0.001
	}
	return math.Pow(1.1, float64(bin)) / 1000
}

// add counts row r in its minute, under its own filter keys only: the
// hour and day buckets and the rows of any filter are derived from these
// by expand, once per distinct value rather than once per line.
func (ru *rollup) add(r *clean.Row) {
	t := rowTime(r)
	host := RowHost(r)
	country := countryCode(r.Country)
	isBot := botClass(r.IsBot)
	var status uint16
	if r.Status != nil && *r.Status >= 0 && *r.Status < 1000 {
		status = uint16(*r.Status)
	}
	class := uint8(status / 100)
	var bytes uint64
	if r.Bytes != nil {
		bytes = uint64(*r.Bytes)
	} else if r.BytesSent != nil {
		bytes = uint64(*r.BytesSent)
	}
	b := truncUnix(t.Unix(), LevelMinute)
	vreg, vrho := hllRegister(hash64(r.RemoteAddr, str(r.UserAgent), ru.dayString(t)))

	ru.addTraffic(trafficKey{LevelMinute, b, host, status, country, isBot}, trafficVal{1, bytes})
	ru.addVisitor(visitorKey{LevelMinute, b, host, country, isBot, vreg}, vrho)
	addTop := func(d uint8, val string) {
		k := topKey{d, LevelMinute, b, host, class, country, isBot, hash64(val)}
		e, ok := ru.top[k]
		if !ok {
			e.value = clean.TextString(val, 255)
		}
		e.n++
		ru.top[k] = e
	}
	path := str(r.Path)
	addTop(DimPath, path)
	if status == 404 {
		addTop(DimNotFound, path)
	}
	addTop(DimAddr, r.RemoteAddr)
	if site := ReferrerSite(str(r.Referrer)); site != "" {
		addTop(DimReferrer, site)
	}
	addTop(DimBrowser, str(r.UAFamily))
	addTop(DimOS, str(r.UAOS))
	addTop(DimDevice, str(r.Device))
	if isBot == botYes {
		addTop(DimBot, str(r.BotName))
	}
	if r.RequestTime != nil && *r.RequestTime >= 0 {
		addTop(DimRespTime, strconv.Itoa(rtBin(*r.RequestTime)))
	}
}

// dayString is the UTC day of t as the visitors' hash takes it, formatted
// once per day rather than once per row.
func (ru *rollup) dayString(t time.Time) string {
	if d := truncUnix(t.Unix(), LevelDay); d != ru.day || ru.dayStr == "" {
		ru.day, ru.dayStr = d, time.Unix(d, 0).UTC().Format("2006-01-02")
	}
	return ru.dayStr
}

// expand turns minute rows under their own filter keys (what add and the
// pending deltas hold) into the minute rows the tables keep: for the top
// entries and visitors also the rows of any filter. Hours and days are
// derived from them later (rollup_compact.go). It adds them to ru itself
// and returns ru: a fold's merged rollup is its largest allocation, and a
// copy of it doubled the fold's memory. Expanding again changes nothing,
// so a transaction that runs again (inTx after a deadlock) cannot count
// the rows of any filter twice.
func (ru *rollup) expand() *rollup {
	if ru.expanded {
		return ru
	}
	ru.expanded = true
	anyRows := newRollup()
	for k, v := range ru.top {
		k.host, k.statusClass, k.country, k.isBot = "", classAny, "", botAny
		anyRows.addTop(k, v)
	}
	for k, rho := range ru.visitors {
		k.host, k.country, k.isBot = "", "", botAny
		anyRows.addVisitor(k, rho)
	}
	for k, v := range anyRows.top {
		ru.addTop(k, v)
	}
	for k, rho := range anyRows.visitors {
		ru.addVisitor(k, rho)
	}
	return ru
}

// addTraffic, addTop and addVisitor add counts to a row, as many batches'
// rows of one key merge.
func (ru *rollup) addTraffic(k trafficKey, v trafficVal) {
	e := ru.traffic[k]
	e.requests += v.requests
	e.bytes += v.bytes
	ru.traffic[k] = e
}

func (ru *rollup) addTop(k topKey, v topVal) {
	e := ru.top[k]
	e.value = v.value
	e.n += v.n
	ru.top[k] = e
}

func (ru *rollup) addVisitor(k visitorKey, rho uint8) {
	ru.visitors[k] = max(ru.visitors[k], rho)
}

// truncUnix is the start of the bucket of level lv holding Unix second u.
func truncUnix(u int64, lv uint8) int64 {
	size := int64(levelSize[lv] / time.Second)
	r := u % size
	if r < 0 {
		r += size
	}
	return u - r
}

func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) < 0 })
	return keys
}
