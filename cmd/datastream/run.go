package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/progress"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
)

func init() {
	register("run", "run the producer and both consumers in one process (--once: read a file, wait for every row, summarise)", runAll)
}

// landing tracks the lines of this run that are not yet in each table.
type landing struct {
	mu       sync.Mutex
	lake     map[record.ID]struct{}
	clean    map[record.ID]struct{}
	files    map[[8]byte]struct{} // identities of the files read
	rejected int
	changed  chan struct{}
	// stored counts the lines each consumer has handled (raw, clean),
	// stored or dead-lettered, for run's status line.
	stored [2]atomic.Int64
}

func newLanding() *landing {
	return &landing{lake: map[record.ID]struct{}{}, clean: map[record.ID]struct{}{}, files: map[[8]byte]struct{}{}, changed: make(chan struct{}, 1)}
}

func (l *landing) read(id record.ID) {
	l.mu.Lock()
	l.lake[id] = struct{}{}
	l.clean[id] = struct{}{}
	l.files[id.File()] = struct{}{}
	l.mu.Unlock()
}

// observe returns the observer that removes landed lines from m (l.lake or
// l.clean, guarded by l.mu).
func (l *landing) observe(m map[record.ID]struct{}, countRejects bool, handled *atomic.Int64) pipeline.Observer {
	return func(stored, rejected []record.ID) {
		handled.Add(int64(len(stored) + len(rejected)))
		l.mu.Lock()
		for _, id := range stored {
			delete(m, id)
		}
		for _, id := range rejected {
			if _, ours := m[id]; ours && countRejects {
				l.rejected++
			}
			delete(m, id)
		}
		l.mu.Unlock()
		select {
		case l.changed <- struct{}{}:
		default:
		}
	}
}

func (l *landing) left() (lake, clean int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lake), len(l.clean)
}

func runAll(ctx context.Context, args []string) (err error) {
	var p producerSettings
	fs, err := producerFlagSet("run", "run --log PATH [--once] [flags]", &p)
	if err != nil {
		return err
	}
	consumerFlags(fs, &p.settings)
	var once bool
	var show int
	fs.BoolVar(&once, "once", false, "read the file to its end, wait until both tables hold every line, print a summary and exit")
	fs.IntVar(&show, "show", 0, "with --once, print this many rows of each table after the summary")
	if err := parse(fs, &p.settings, args); err != nil {
		return err
	}
	p.Follow = !once
	defer func() {
		// Ctrl-C while --once was still starting: an interrupted run too.
		if once && err != nil && ctx.Err() != nil && !errors.Is(err, errInterrupted) {
			err = fmt.Errorf("%w while starting (%v)", errInterrupted, err)
		}
	}()
	land := newLanding()
	var onRead func(record.ID)
	if once {
		onRead = land.read
	}
	pcfg, err := p.config(onRead)
	if err != nil {
		return err
	}
	obs, err := p.serveMetrics(ctx)
	if err != nil {
		return err
	}
	obs.producer(&pcfg)
	reads := trackReads(&pcfg)
	if err := p.reachBroker(ctx, "run"); err != nil {
		return err
	}
	st, err := p.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	lakeCC, err := p.consumerConfig("data-lake-consumer", p.LakeQueue)
	if err != nil {
		return err
	}
	cleanCC, err := p.consumerConfig("data-clean-consumer", p.CleanQueue)
	if err != nil {
		return err
	}
	lake := &pipeline.Lake{Store: st, Observe: land.observe(land.lake, false, &land.stored[0])}
	cleanH, err := p.cleanHandler(ctx, st, land.observe(land.clean, true, &land.stored[1]))
	if err != nil {
		return err
	}
	prod, err := pipeline.NewProducer(pcfg)
	if err != nil {
		return err
	}
	obs.producerStats(prod)
	lakeH := obs.consumer("data-lake-consumer", &lakeCC, lake)
	cleanHH := obs.consumer("data-clean-consumer", &cleanCC, cleanH)
	obs.ready(p.topology().Queues, st)

	start := time.Now()
	// Consumers stop after the producer has flushed: upstream first.
	cctx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, c := range []struct {
		cc broker.ConsumerConfig
		h  broker.Handler
	}{{lakeCC, lakeH}, {cleanCC, cleanHH}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := broker.Consume(cctx, c.cc, c.h); err != nil {
				errs <- err
			}
		}()
	}
	go func() {
		<-ctx.Done()
		stopConsumers()
	}()

	stopBar := func() {}
	if once {
		stopBar = runBar(p.Log, reads, prod, land)
	} else {
		stopStatus := make(chan struct{})
		defer close(stopStatus)
		progress.Status(os.Stderr, statusInterval, stopStatus, statusLine(prod, land))
	}
	defer stopBar()
	perr := prod.Run(ctx)
	if perr != nil {
		stopConsumers()
		wg.Wait()
		return perr
	}
	if once && ctx.Err() == nil {
		err = waitLanded(ctx, land)
	}
	stopConsumers()
	wg.Wait()
	close(errs)
	for e := range errs {
		err = errors.Join(err, e)
	}
	interrupted := once && ctx.Err() != nil
	if interrupted {
		// Ctrl-C: the summary of what landed so far, then exit status 130.
		err = nil
		ctx = context.WithoutCancel(ctx)
	}
	if err != nil || !once {
		return err
	}
	secs := time.Since(start).Seconds()
	if !interrupted {
		// The rollups of every row, hours and days derived, before the
		// summary: a report or dashboard run next reads them as they are.
		if _, err := st.DeriveRollups(ctx); err != nil {
			slog.Warn("rollups not all folded; the dashboard or the next consumer folds the rest", "err", err)
		}
	}
	land.mu.Lock()
	rejected := land.rejected
	files := make([][8]byte, 0, len(land.files))
	for f := range land.files {
		files = append(files, f)
	}
	land.mu.Unlock()
	stopBar()
	// The rows of this run's files, counted in the tables themselves (other
	// files' rows may share the tables).
	raw, clean, err := st.CountFiles(ctx, files)
	if err != nil {
		return err
	}
	read := prod.Stats.Read.Load()
	fmt.Printf("lines read %d, raw rows %d, clean rows %d, rejected %d, %.2f s, %.0f lines/s\n",
		read, raw, clean, rejected, secs, float64(read)/secs)
	if interrupted {
		lake, clean := land.left()
		return fmt.Errorf("%w before the end: %d lines read and not yet in the raw table, %d not in the clean table (run again: what is stored is not stored twice)", errInterrupted, lake, clean)
	}
	if show > 0 {
		return showRows(ctx, st, p.RawTable, p.CleanTable, show)
	}
	return nil
}

func waitLanded(ctx context.Context, land *landing) error {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		lake, clean := land.left()
		if lake == 0 && clean == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped with %d lines not yet in the raw table and %d not in the clean table: %w", lake, clean, ctx.Err())
		case <-land.changed:
		case <-tick.C:
			slog.Info("waiting for rows", "raw_missing", lake, "clean_missing", clean)
		}
	}
}

// showRows prints the rows of each table with the highest ids (file, then
// offset), so the primary key serves the query.
func showRows(ctx context.Context, st *store.Store, rawTable, cleanTable string, n int) error {
	queries := []struct{ title, q string }{
		{rawTable, "SELECT HEX(r.id) AS id, CONCAT(COALESCE(s.host, '?'), ':', COALESCE(s.path, '?')) AS source, r.file_offset, r.received_at, r.line FROM " +
			store.QuoteIdent(rawTable) + " r LEFT JOIN " + store.QuoteIdent(store.SourcesTable) + " s ON s.id = r.source_id ORDER BY r.id DESC LIMIT ?"},
		{cleanTable, "SELECT ts, remote_addr, COALESCE(method,'') AS method, COALESCE(scheme,'') AS scheme, COALESCE(host,'') AS host, COALESCE(path,'') AS path, " +
			"COALESCE(status,0) AS status, COALESCE(status_text,'') AS status_text, COALESCE(bytes,0) AS bytes, COALESCE(day_of_week,'') AS day_of_week, COALESCE(LEFT(user_agent,40),'') AS user_agent FROM " + store.QuoteIdent(cleanTable) + " ORDER BY id DESC LIMIT ?"},
	}
	for _, q := range queries {
		rows, err := st.DB.QueryContext(ctx, q.q, n)
		if err != nil {
			return fmt.Errorf("show %s: %w", q.title, err)
		}
		cols, _ := rows.Columns()
		fmt.Printf("\n%s (%s):\n", q.title, strings.Join(cols, " | "))
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				s := string(v)
				if len(s) > 120 {
					s = s[:120] + "…"
				}
				parts[i] = strings.ToValidUTF8(s, "?")
			}
			fmt.Println("  " + strings.Join(parts, " | "))
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}
