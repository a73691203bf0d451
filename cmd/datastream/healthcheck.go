package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

func init() {
	register("healthcheck", "exit 0 when a component's /readyz answers 200 (container health checks: the image has no curl)", runHealthcheck)
}

// defaultReadyz is where the image's components serve (DATASTREAM_METRICS_LISTEN=:9464).
const defaultReadyz = "http://127.0.0.1:9464/readyz"

func runHealthcheck(ctx context.Context, args []string) error {
	url := defaultReadyz
	switch {
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Println("Usage: datastream healthcheck [URL]   (default " + defaultReadyz + ")")
		return nil
	case len(args) == 1:
		url = args[0]
	case len(args) > 1:
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
