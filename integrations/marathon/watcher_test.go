package marathon

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeSource serves a fixed app list, fails reads on demand, and forwards the events a test
// sends. Its timing is the bubble's fake clock, so the watcher's timers are tested exactly.
type fakeSource struct {
	events chan string

	mu       sync.Mutex
	apps     []App
	failNext int
	stopped  bool
}

func newFakeSource() *fakeSource { return &fakeSource{events: make(chan string)} }

func (f *fakeSource) Apps(ctx context.Context) ([]App, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		return nil, errors.New("marathon is down")
	}
	// A copy, as each read of the real list is.
	out := make([]App, len(f.apps))
	for i, a := range f.apps {
		a.Tasks = append([]Task(nil), a.Tasks...)
		out[i] = a
	}
	return out, nil
}

func (f *fakeSource) Events(ctx context.Context, fn func(string)) error {
	defer func() {
		f.mu.Lock()
		f.stopped = true
		f.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-f.events:
			fn(e)
		}
	}
}

// watch runs a watcher in the bubble and records when it read, relative to the start.
type watch struct {
	start time.Time
	mu    sync.Mutex
	reads []time.Duration
	lists [][]App
	errs  int
}

func startWatcher(t *testing.T, src Source, w *Watcher) (*watch, func()) {
	t.Helper()
	rec := &watch{start: time.Now()}
	w.Source = src
	w.Logger = slog.New(slog.DiscardHandler)
	w.OnApps = func(_ context.Context, apps []App) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.reads = append(rec.reads, time.Since(rec.start))
		rec.lists = append(rec.lists, apps)
	}
	w.OnError = func(context.Context, error) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.errs++
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	synctest.Wait()
	return rec, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func (w *watch) readTimes() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.reads...)
}

func ms(ds ...int) []time.Duration {
	var out []time.Duration
	for _, d := range ds {
		out = append(out, time.Duration(d)*time.Millisecond)
	}
	return out
}

func TestWatcherDebouncesEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeSource()
		rec, stop := startWatcher(t, src, &Watcher{})
		defer stop()

		time.Sleep(time.Second)
		// Five events 10 ms apart are one change: one read, 50 ms after the last.
		for range 5 {
			src.events <- "status_update_event"
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := rec.readTimes(), ms(0, 1090); !reflect.DeepEqual(got, want) {
			t.Errorf("reads at %v, want %v", got, want)
		}
	})
}

func TestWatcherBoundsTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeSource()
		rec, stop := startWatcher(t, src, &Watcher{})
		defer stop()

		// An event every 40 ms for 1.2 s never pauses for 50 ms; the list is still read
		// 500 ms after the first unread event, and once more after the flow stops.
		for range 30 {
			src.events <- "status_update_event"
			time.Sleep(40 * time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := rec.readTimes(), ms(0, 500, 1020, 1210); !reflect.DeepEqual(got, want) {
			t.Errorf("reads at %v, want %v", got, want)
		}
	})
}

func TestWatcherResyncsPeriodically(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeSource()
		rec, stop := startWatcher(t, src, &Watcher{SyncInterval: 30 * time.Second})
		defer stop()
		time.Sleep(95 * time.Second)
		synctest.Wait()
		if got, want := rec.readTimes(), ms(0, 30000, 60000, 90000); !reflect.DeepEqual(got, want) {
			t.Errorf("reads at %v, want %v", got, want)
		}
	})
}

func TestWatcherRetriesFailedReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeSource()
		src.failNext = 3
		rec, stop := startWatcher(t, src, &Watcher{})
		defer stop()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		// Retries after 0.5-1 s, 1-2 s, 2-4 s: the fourth read, the first to succeed, comes
		// between 3.5 and 7 s, long before the minute's re-sync.
		got := rec.readTimes()
		if len(got) != 1 || got[0] < 3500*time.Millisecond || got[0] > 7*time.Second {
			t.Errorf("successful reads at %v, want one between 3.5 s and 7 s", got)
		}
		if rec.errs != 3 {
			t.Errorf("OnError called %d times, want 3", rec.errs)
		}
	})
}

func TestWatcherStopsItsEventGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeSource()
		_, stop := startWatcher(t, src, &Watcher{})
		stop()
		src.mu.Lock()
		defer src.mu.Unlock()
		if !src.stopped {
			t.Error("Run returned before the event stream ended")
		}
	})
}

func TestWatcherKeepsHealthAcrossALeaderChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeSource()
		src.apps = []App{{ID: "/web", HealthChecks: []HealthCheck{{}}, Tasks: []Task{
			{ID: "web.1", State: "TASK_RUNNING", HealthCheckResults: []HealthResult{{Alive: true}}},
		}}}
		rec, stop := startWatcher(t, src, &Watcher{})
		defer stop()

		src.mu.Lock()
		src.apps[0].Tasks[0].HealthCheckResults = nil
		src.mu.Unlock()
		src.events <- "event_stream_attached"
		time.Sleep(time.Second)
		synctest.Wait()

		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.lists) != 2 {
			t.Fatalf("%d reads, want 2", len(rec.lists))
		}
		a := rec.lists[1][0]
		if !a.Healthy(&a.Tasks[0]) {
			t.Error("a task lost its health when the new leader listed it without results")
		}
	})
}

func TestWatcherNeedsSourceAndCallback(t *testing.T) {
	if err := (&Watcher{}).Run(t.Context()); err == nil {
		t.Error("a watcher without a source ran")
	}
}
