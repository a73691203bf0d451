package store_test

import (
	"context"
	"testing"

	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/testenv"
)

// A line delivered again must not be dead-lettered again: the clean consumer
// asks DeadLettered before sending and records with RecordDeadLetters after
// the broker's confirm (test/faults found repeats after kill -9).
func TestDeadLettersRemembered(t *testing.T) {
	env := testenv.Parallel(t)
	env.CleanTable = "clean-log" // quoting of the derived table name
	st := env.Store(t)
	ctx := context.Background()
	ids := make([]record.ID, 2500) // more than one IN list
	for i := range ids {
		ids[i] = record.NewID([8]byte{7}, int64(i)*100)
	}
	got, err := st.DeadLettered(ctx, ids)
	if err != nil || len(got) != 0 {
		t.Fatalf("before recording: %d, %v", len(got), err)
	}
	for range 2 { // recording twice is a no-op
		if err := st.RecordDeadLetters(ctx, ids[:2000]); err != nil {
			t.Fatal(err)
		}
	}
	got, err = st.DeadLettered(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2000 || !got[ids[0]] || !got[ids[1999]] || got[ids[2000]] {
		t.Fatalf("DeadLettered = %d ids (first %v, last recorded %v, first unrecorded %v)", len(got), got[ids[0]], got[ids[1999]], got[ids[2000]])
	}
	if err := st.DropTables(ctx); err != nil {
		t.Fatal(err)
	}
}
