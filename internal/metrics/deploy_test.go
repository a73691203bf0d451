package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"
)

var seriesRE = regexp.MustCompile(`\bdatastream_[a-z_]+\b`)

// checkExpr fails when expr names a datastream series the code does not
// expose (a renamed metric leaves the dashboard and the alerts blind).
func checkExpr(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	found := seriesRE.FindAllString(expr, -1)
	for _, name := range found {
		if !known[name] {
			t.Errorf("%s: %s is not a series Datastream exposes", where, name)
		}
	}
	if len(found) == 0 && !regexp.MustCompile(`\bup\{`).MatchString(expr) {
		t.Errorf("%s: %q reads no datastream series", where, expr)
	}
}

func TestGrafanaDashboardUsesRealSeries(t *testing.T) {
	known := names(t, populated(t))
	b, err := os.ReadFile("../../deploy/grafana/datastream-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if len(d.Panels) < 8 {
		t.Fatalf("%d panels", len(d.Panels))
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkExpr(t, "panel "+p.Title, q.Expr, known)
		}
	}
}

func TestAlertRulesUseRealSeries(t *testing.T) {
	known := names(t, populated(t))
	b, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	seen := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			seen[r.Alert] = true
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: needs a severity and a summary", r.Alert)
			}
			checkExpr(t, "alert "+r.Alert, r.Expr, known)
		}
	}
	// What the issue asks a user to start with: lag, dead letters, reconnect loops.
	for _, want := range []string{"DatastreamLagHigh", "DatastreamDeadLetters", "DatastreamReconnectLoop", "DatastreamNotReady"} {
		if !seen[want] {
			t.Errorf("no alert %s", want)
		}
	}
}
