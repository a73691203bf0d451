package store

import (
	"context"
	"fmt"

	"github.com/datastream/datastream/internal/clean"
)

var cleanCols = []string{
	"id", "source_id", "received_at", "ts",
	"remote_addr", "client_ip", "remote_user", "session", "is_email", "email_domain",
	"request", "method", "url", "scheme", "host", "port", "path", "query", "protocol",
	"status", "status_text", "bytes", "bytes_sent", "request_length",
	"request_time", "upstream_response_time", "upstream_response_times",
	"referrer", "user_agent", "x_forwarded_for", "host_header", "server_name",
	"ssl_protocol", "upstream_addr", "upstream_cache_status", "request_id",
	"country", "city", "is_bot", "bot_name", "ua_family", "ua_os", "device",
	"extra", "log_format",
	"network", "region", "latitude", "longitude", "ua_version", "visit_id",
}

// cleanRows are rows of clean_log in the order of cleanCols, with the ids
// of their sources.
type cleanRows struct {
	rows    []clean.Row
	sources []uint32
	visits  []visitID // filled in the write transaction (visits.go)
}

func (c cleanRows) len() int { return len(c.rows) }

func (c cleanRows) row(w rowWriter, i int) {
	r := &c.rows[i]
	w.bytes(r.ID[:])
	w.uint(uint64(c.sources[i]))
	w.time(r.ReceivedAt)
	optTime(w, r.Time)

	w.text(r.RemoteAddr)
	w.bytes(r.ClientIP)
	optText(w, r.RemoteUser)
	optText(w, r.Session)
	w.bool(r.IsEmail)
	optText(w, r.EmailDomain)

	optText(w, r.Request)
	optText(w, r.Method)
	optText(w, r.URL)
	optText(w, r.Scheme)
	optText(w, r.Host)
	if r.Port == nil {
		w.null()
	} else {
		w.uint(uint64(*r.Port))
	}
	optText(w, r.Path)
	optText(w, r.Query)
	optText(w, r.Protocol)

	if r.Status == nil {
		w.null()
	} else {
		w.int(int64(*r.Status))
	}
	optText(w, r.StatusText)
	optInt(w, r.Bytes)
	optInt(w, r.BytesSent)
	optInt(w, r.RequestLength)
	optFloat(w, r.RequestTime)
	optFloat(w, r.UpstreamResponseTime)
	optText(w, r.UpstreamResponseTimes)

	optText(w, r.Referrer)
	optText(w, r.UserAgent)
	optText(w, r.XForwardedFor)
	optText(w, r.HostHeader)
	optText(w, r.ServerName)
	optText(w, r.SSLProtocol)
	optText(w, r.UpstreamAddr)
	optText(w, r.UpstreamCacheStatus)
	optText(w, r.RequestID)

	optText(w, r.Country)
	optText(w, r.City)
	optBool(w, r.IsBot)
	optText(w, r.BotName)
	optText(w, r.UAFamily)
	optText(w, r.UAOS)
	optText(w, r.Device)

	optText(w, r.Extra)
	w.text(r.LogFormat)

	optText(w, r.Network)
	optText(w, r.Region)
	optFloat(w, r.Latitude)
	optFloat(w, r.Longitude)
	optText(w, r.UAVersion)
	if v := c.visits[i]; v.ok {
		w.bytes(v.id[:])
	} else {
		w.null()
	}
}

// WriteClean stores parsed rows in one transaction; a row already stored
// (same id) is left as it is.
func (s *Store) WriteClean(ctx context.Context, rows []clean.Row) error {
	if len(rows) == 0 {
		return nil
	}
	src, err := s.resolveSources(ctx, len(rows), func(i int) source {
		return sourceOf(rows[i].SourceHost, rows[i].SourcePath, rows[i].SourceInID, rows[i].ID)
	})
	if err == nil {
		err = s.announcedHosts(ctx, rows, src)
	}
	if err == nil {
		err = s.writeCleanRollups(ctx, cleanRows{rows, src, make([]visitID, len(rows))})
	}
	if err != nil {
		return fmt.Errorf("write %d rows to %s: %w", len(rows), s.cleanName, err)
	}
	return nil
}
