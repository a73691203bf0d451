package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/datastream/datastream/internal/config"
	"github.com/datastream/datastream/internal/enrich"
)

// enrichSettings are the clean consumer's enrichment flags.
type enrichSettings struct {
	Enrich       bool
	GeoIPDB      string
	ClientIPFrom string
}

func enrichFlags(fs *config.FlagSet, e *enrichSettings) {
	fs.Bool(&e.Enrich, "enrich", true, "clean consumer: fill country, network, user agent, bot and visit columns (offline)")
	fs.String(&e.GeoIPDB, "geoip-db", "", "clean consumer: MaxMind-format .mmdb files (comma-separated, looked up in turn) for city, region and coordinates (`make geoip` fetches them); reloaded on SIGHUP or when a file is replaced")
	fs.String(&e.ClientIPFrom, "client-ip-from", enrich.FromRemoteAddr, "clean consumer: remote_addr, or x-forwarded-for (the first public address of $http_x_forwarded_for, for a server behind a proxy)")
}

// enricher builds the clean consumer's enricher (nil with --enrich=false),
// reloading the --geoip-db file until ctx ends. A missing or corrupt file
// is an error naming it, so the consumer stops at start-up.
func (e *enrichSettings) enricher(ctx context.Context) (*enrich.Enricher, error) {
	if !e.Enrich {
		return nil, nil
	}
	geo := enrich.Geo{Embedded: enrich.Embedded{}}
	var dbs []*enrich.MMDB
	var files enrich.Files
	if e.GeoIPDB != "" {
		for _, path := range strings.Split(e.GeoIPDB, ",") {
			db, err := enrich.OpenMMDB(path)
			if err != nil {
				return nil, fmt.Errorf("--geoip-db: %w", err)
			}
			dbs = append(dbs, db)
			files = append(files, db)
		}
		geo.File = files
	}
	en, err := enrich.New(enrich.Options{Geo: geo, ClientIPFrom: e.ClientIPFrom})
	if err != nil {
		return nil, fmt.Errorf("--client-ip-from: %w", err)
	}
	for _, db := range dbs {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		context.AfterFunc(ctx, func() { signal.Stop(hup) })
		err := db.Watch(ctx, hup, func(err error) {
			if err != nil {
				slog.Warn("geo-IP database not reloaded; keeping the one in use", "file", db.Path(), "err", err)
				return
			}
			en.Purge()
			slog.Info("geo-IP database reloaded", "file", db.Path())
		})
		if err != nil {
			return nil, err
		}
	}
	return en, nil
}
