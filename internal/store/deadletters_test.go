package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
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

// When the database goes away after the dead letters were published, before
// the claim committed, they are recorded once it is back, not published
// again by the next delivery.
func TestDeadLetterOnceCommitLost(t *testing.T) {
	env := testenv.Parallel(t)
	env.Store(t) // the tables
	proxy := testenv.NewProxy(t, env.MySQLAddr())
	st, err := store.Open(context.Background(), store.Config{DSN: env.DSNVia(proxy.Addr()), RawTable: env.RawTable, CleanTable: env.CleanTable})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := []record.ID{record.NewID([8]byte{9}, 0), record.NewID([8]byte{9}, 100)}
	calls := 0
	err = st.DeadLetterOnce(ctx, ids, func(fresh []record.ID) error {
		calls++
		proxy.Cut(testenv.Refuse) // the commit fails
		time.AfterFunc(500*time.Millisecond, proxy.Restore)
		return nil
	})
	if err != nil {
		t.Fatalf("DeadLetterOnce: %v", err)
	}
	if err := st.DeadLetterOnce(ctx, ids, func(fresh []record.ID) error {
		if len(fresh) > 0 {
			t.Errorf("published again: %v", fresh)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := env.Store(t).DeadLetterIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(got) != len(ids) {
		t.Errorf("publish called %d times, %d ids recorded; want 1 and %d", calls, len(got), len(ids))
	}
}
