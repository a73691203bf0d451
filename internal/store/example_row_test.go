package store_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/enrich"
	"github.com/datastream/datastream/internal/enrich/enrichtest"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/testenv"
)

// The original design's own line, with its proxy format and auto, gives
// its example row (country from the embedded database, city from a
// --geoip-db file).
func TestOriginalDesignExampleRow(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	line := []byte(`181.53.103.203 HvAXYJ76nALAPMO pablo.tabarest [01/Nov/2022:00:13:13 -0500] "GET https://accessmedicina.mhmedical.com:443/UI/app/img/logos/logo_187.svg HTTP/1.1" 200 2652 -`)
	db, err := enrich.OpenMMDB(enrichtest.WriteMMDB(t, filepath.Join(t.TempDir(), "city.mmdb"), map[string]enrichtest.City{
		"181.53.96.0/20": {Country: "CO", Region: "Antioquia", City: "Itagüí", Lat: 6.1719, Lon: -75.6114},
	}))
	if err != nil {
		t.Fatal(err)
	}
	en, err := enrich.New(enrich.Options{Geo: enrich.Geo{Embedded: enrich.Embedded{}, File: db}})
	if err != nil {
		t.Fatal(err)
	}
	auto := logformat.NewAuto()
	proxy, _ := logformat.Preset("proxy")
	for i, p := range []logformat.Parser{proxy, auto} {
		var e logformat.Entry
		if err := p.Parse(line, &e); err != nil {
			t.Fatalf("parser %d: %v", i, err)
		}
		r := clean.Build(&record.Line{ID: record.NewID([8]byte{7}, int64(i)), ReceivedAt: time.Now(), Data: line}, &e, "proxy")
		en.Enrich(&r)
		if err := st.WriteClean(context.Background(), []clean.Row{r}); err != nil {
			t.Fatal(err)
		}
	}
	if auto.Chosen() != "proxy" {
		t.Errorf("auto chose %q", auto.Chosen())
	}
	rows, err := st.DB.Query(`SELECT CONCAT_WS(' | ', DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s'), year, LPAD(month, 2, '0'), LPAD(day, 2, '0'), day_of_week,
		time, remote_addr, country, city, session, remote_user, IF(is_email, 'True', 'False'), COALESCE(email_domain, 'NULL'),
		method, url, scheme, host, status, status_text, bytes), size_kb, size_mb FROM clean_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := "2022-11-01 05:13:13 | 2022 | 11 | 01 | Tuesday | 05:13:13 | 181.53.103.203 | CO | Itagüí | HvAXYJ76nALAPMO | pablo.tabarest | False | NULL | GET | " +
		"https://accessmedicina.mhmedical.com:443/UI/app/img/logos/logo_187.svg | https | accessmedicina.mhmedical.com | 200 | OK | 2652 | 2.58984375 | 0.002529144287109375"
	n := 0
	for rows.Next() {
		n++
		var got string
		var kb, mb float64
		if err := rows.Scan(&got, &kb, &mb); err != nil {
			t.Fatal(err)
		}
		// The server's text for a DOUBLE is cut short: Go's is exact.
		got += " | " + strconv.FormatFloat(kb, 'f', -1, 64) + " | " + strconv.FormatFloat(mb, 'f', -1, 64)
		if got != want {
			t.Errorf("row\n got %s\nwant %s", got, want)
		}
	}
	if n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}
