package main

import (
	"context"
	"testing"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/metrics"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/record"
)

// fullStore has the optional methods the handlers look for.
type fullStore struct{}

func (fullStore) WriteRaw(context.Context, []record.Line) error        { return nil }
func (fullStore) WriteClean(context.Context, []clean.Row) error        { return nil }
func (fullStore) RecordSources(context.Context, []record.Source) error { return nil }
func (fullStore) DeadLetterOnce(_ context.Context, ids []record.ID, publish func([]record.ID) error) error {
	return publish(ids)
}

// TestMetricsKeepTheStoresMethods: with --metrics-listen the handlers still
// see their store's optional methods, so source announcements are stored
// and lines are dead-lettered once (wrapping the store hid both).
func TestMetricsKeepTheStoresMethods(t *testing.T) {
	o := &observability{set: metrics.New()}
	lake := &pipeline.Lake{Store: fullStore{}}
	cleanH := &pipeline.Clean{Store: fullStore{}}
	o.consumer("data-lake-consumer", &broker.ConsumerConfig{}, lake)
	o.consumer("data-clean-consumer", &broker.ConsumerConfig{}, cleanH)
	if _, ok := lake.Store.(pipeline.SourceWriter); !ok {
		t.Error("the lake consumer's store lost RecordSources")
	}
	if _, ok := cleanH.Store.(pipeline.SourceWriter); !ok {
		t.Error("the clean consumer's store lost RecordSources")
	}
	if _, ok := cleanH.Store.(pipeline.DeadLetterStore); !ok {
		t.Error("the clean consumer's store lost DeadLetterOnce")
	}
	if lake.OnCommit == nil || cleanH.OnCommit == nil {
		t.Error("no commit hook for the lag metrics")
	}
}
