package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
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
	fs.String(&e.GeoIPDB, "geoip-db", "", "clean consumer: a MaxMind-format .mmdb file for city, region and coordinates (`make geoip` fetches one); reloaded on SIGHUP or when the file is replaced")
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
	var db *enrich.MMDB
	if e.GeoIPDB != "" {
		var err error
		if db, err = enrich.OpenMMDB(e.GeoIPDB); err != nil {
			return nil, fmt.Errorf("--geoip-db: %w", err)
		}
		geo.File = db
	}
	en, err := enrich.New(enrich.Options{Geo: geo, ClientIPFrom: e.ClientIPFrom})
	if err != nil {
		return nil, fmt.Errorf("--client-ip-from: %w", err)
	}
	if db != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		err := db.Watch(ctx, hup, func(err error) {
			if err != nil {
				slog.Warn("geo-IP database not reloaded; keeping the one in use", "file", db.Path(), "err", err)
				return
			}
			en.Purge()
			slog.Info("geo-IP database reloaded", "file", db.Path())
		})
		if err != nil {
			signal.Stop(hup)
			return nil, err
		}
		context.AfterFunc(ctx, func() { signal.Stop(hup) })
	}
	return en, nil
}
