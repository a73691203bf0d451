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

func (s *Store) rollupTables() []string {
	return []string{s.rollupTable(trafficSuffix), s.rollupTable(topSuffix), s.rollupTable(visitorsSuffix), s.rollupTable(pendingSuffix)}
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

// add counts row r.
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
	day := t.Truncate(24 * time.Hour).Format("2006-01-02")
	vreg, vrho := hllRegister(hash64(r.RemoteAddr, str(r.UserAgent), day))

	type dimVal struct {
		dim  uint8
		val  string
		hash uint64
	}
	var dims [9]dimVal
	nd := 0
	addDim := func(d uint8, v string) { dims[nd] = dimVal{d, v, hash64(v)}; nd++ }
	path := str(r.Path)
	addDim(DimPath, path)
	if status == 404 {
		addDim(DimNotFound, path)
	}
	addDim(DimAddr, r.RemoteAddr)
	if site := ReferrerSite(str(r.Referrer)); site != "" {
		addDim(DimReferrer, site)
	}
	addDim(DimBrowser, str(r.UAFamily))
	addDim(DimOS, str(r.UAOS))
	addDim(DimDevice, str(r.Device))
	if isBot == botYes {
		addDim(DimBot, str(r.BotName))
	}
	if r.RequestTime != nil && *r.RequestTime >= 0 {
		addDim(DimRespTime, strconv.Itoa(rtBin(*r.RequestTime)))
	}

	for lv := range uint8(numLevels) {
		b := t.Truncate(levelSize[lv]).Unix()
		tk := trafficKey{lv, b, host, status, country, isBot}
		v := ru.traffic[tk]
		v.requests++
		v.bytes += bytes
		ru.traffic[tk] = v
		for _, vk := range [2]visitorKey{{lv, b, host, country, isBot, vreg}, {lv, b, "", "", botAny, vreg}} {
			if vrho > ru.visitors[vk] {
				ru.visitors[vk] = vrho
			}
		}
		for _, d := range dims[:nd] {
			for _, k := range [2]topKey{{d.dim, lv, b, host, class, country, isBot, d.hash}, {d.dim, lv, b, "", classAny, "", botAny, d.hash}} {
				e, ok := ru.top[k]
				if !ok {
					e.value = clean.TextString(d.val, 255)
				}
				e.n++
				ru.top[k] = e
			}
		}
	}
}

func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) < 0 })
	return keys
}
