package store

import (
	"context"
	"fmt"

	"github.com/datastream/datastream/internal/clean"
)

var cleanCols = []string{
	"id", "source_host", "source_path", "received_at", "ts",
	"remote_addr", "client_ip", "remote_user", "session", "is_email", "email_domain",
	"request", "method", "url", "scheme", "host", "port", "path", "query", "protocol",
	"status", "status_text", "bytes", "bytes_sent", "request_length",
	"request_time", "upstream_response_time", "upstream_response_times",
	"referrer", "user_agent", "x_forwarded_for", "host_header", "server_name",
	"ssl_protocol", "upstream_addr", "upstream_cache_status", "request_id",
	"country", "city", "is_bot", "bot_name", "ua_family", "ua_os", "device",
	"extra", "log_format",
}

// WriteClean stores parsed rows in one transaction; a row already stored
// (same id) is left as it is.
func (s *Store) WriteClean(ctx context.Context, rows []clean.Row) error {
	if len(rows) == 0 {
		return nil
	}
	args := make([]any, 0, len(rows)*len(cleanCols))
	sizes := make([]int, len(rows))
	for i := range rows {
		r := &rows[i]
		id := r.ID
		var ip any
		if r.ClientIP != nil {
			ip = r.ClientIP
		}
		before := len(args)
		args = append(args,
			id[:], r.SourceHost, r.SourcePath, r.ReceivedAt, r.Time,
			r.RemoteAddr, ip, r.RemoteUser, r.Session, r.IsEmail, r.EmailDomain,
			r.Request, r.Method, r.URL, r.Scheme, r.Host, r.Port, r.Path, r.Query, r.Protocol,
			r.Status, r.StatusText, r.Bytes, r.BytesSent, r.RequestLength,
			r.RequestTime, r.UpstreamResponseTime, r.UpstreamResponseTimes,
			r.Referrer, r.UserAgent, r.XForwardedFor, r.HostHeader, r.ServerName,
			r.SSLProtocol, r.UpstreamAddr, r.UpstreamCacheStatus, r.RequestID,
			r.Country, r.City, r.IsBot, r.BotName, r.UAFamily, r.UAOS, r.Device,
			r.Extra, r.LogFormat,
		)
		size := 64 * len(cleanCols)
		for _, a := range args[before:] {
			if p, ok := a.(*string); ok && p != nil {
				size += 2 * len(*p)
			}
		}
		sizes[i] = size
	}
	err := s.write(ctx, s.cleanIns, args, sizes)
	if err != nil {
		return fmt.Errorf("write %d rows to %s: %w", len(rows), s.cleanName, err)
	}
	return nil
}
