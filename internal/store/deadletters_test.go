package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/testenv"
)

// A line delivered again, or twice at once (a producer's resend beside a
// redelivery), is dead-lettered once: DeadLetterOnce publishes only the ids
// it claims, a failed publish leaves them unclaimed, and a concurrent claim
// of the same ids waits and then finds them taken.
func TestDeadLetterOnce(t *testing.T) {
	env := testenv.Parallel(t)
	env.CleanTable = "clean-log" // quoting of the derived table name
	st := env.Store(t)
	ctx := context.Background()
	ids := make([]record.ID, 300)
	for i := range ids {
		ids[i] = record.NewID([8]byte{7}, int64(len(ids)-i)*100) // not in order
	}
	published := map[record.ID]int{}
	var mu sync.Mutex
	publish := func(fresh []record.ID) error {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range fresh {
			published[id]++
		}
		return nil
	}

	// A failed publish claims nothing.
	boom := errors.New("broker gone")
	if err := st.DeadLetterOnce(ctx, ids[:10], func([]record.ID) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed publish: err %v, want %v", err, boom)
	}
	// The first 200, one of them twice in the same call.
	if err := st.DeadLetterOnce(ctx, append(ids[:200:200], ids[5]), publish); err != nil {
		t.Fatal(err)
	}
	// All 300 from four writers at once: only the last 100 are new.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.DeadLetterOnce(ctx, ids, func(fresh []record.ID) error {
				time.Sleep(20 * time.Millisecond) // the confirm takes a while
				return publish(fresh)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(published) != len(ids) {
		t.Errorf("published %d distinct ids, want %d", len(published), len(ids))
	}
	for _, id := range ids {
		if n := published[id]; n != 1 {
			t.Errorf("id %s published %d times", id, n)
		}
	}
	got, err := st.DeadLetterIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Errorf("DeadLetterIDs = %d ids, want %d", len(got), len(ids))
	}
	if err := st.DropTables(ctx); err != nil {
		t.Fatal(err)
	}
}
