package marathon

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/avi-init/avi-init/internal/settle"
)

// Source is where a Watcher reads apps and hears of changes: a *Client.
type Source interface {
	Apps(ctx context.Context) ([]App, error)
	Events(ctx context.Context, fn func(eventType string)) error
}

// Watcher keeps a view of a Marathon's apps current. It reads the app list at start, again
// once events have settled, and in full every SyncInterval; it hands every list read to
// OnApps. Zero durations take the defaults in parentheses.
type Watcher struct {
	Source Source
	// OnApps receives every app list read, whole. It is called from Run's goroutine, one call
	// at a time; events arriving meanwhile are coalesced into one more read.
	OnApps func(ctx context.Context, apps []App)
	// OnError, when set, receives each failed read (the read is retried with backoff), for
	// showing the cloud's state. Failures are logged either way.
	OnError func(ctx context.Context, err error)
	Logger  *slog.Logger
	// SyncInterval is the full re-sync period: the cloud's app_sync_frequency (60 s).
	SyncInterval time.Duration
	// Debounce is how long events must pause before the list is read (50 ms), and MaxDelay how
	// long a steady flow of events may put the read off (500 ms).
	Debounce, MaxDelay time.Duration
}

// retryMin is the first wait after a failed read; the waits double up to SyncInterval.
const retryMin = time.Second

// Run watches until ctx is done, then returns nil once its event goroutine has ended.
func (w *Watcher) Run(ctx context.Context) error {
	if w.Source == nil || w.OnApps == nil {
		return errors.New("marathon watcher: Source and OnApps are required")
	}
	log := w.Logger
	if log == nil {
		log = slog.Default()
	}
	syncInterval := orDefault(w.SyncInterval, 60*time.Second)
	debounce := orDefault(w.Debounce, 50*time.Millisecond)
	maxDelay := orDefault(w.MaxDelay, 500*time.Millisecond)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	changed := make(chan struct{}, 1)
	wg.Go(func() {
		err := w.Source.Events(ctx, func(string) {
			select {
			case changed <- struct{}{}:
			default: // a read is already due
			}
		})
		if ctx.Err() == nil {
			log.Error("marathon event stream stopped; only periodic re-syncs remain", "err", err)
		}
	})

	var (
		events   = settle.New(debounce, maxDelay)
		retry    = stoppedTimer()
		failures int
		health   healthMemory
	)
	tick := time.NewTicker(syncInterval)
	defer tick.Stop()
	read := func() {
		events.Done()
		retry.Stop()
		apps, err := w.Source.Apps(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := backoff(failures, retryMin, syncInterval)
			failures++
			log.Warn("marathon app list read failed", "err", err, "retry_in", wait)
			if w.OnError != nil {
				w.OnError(ctx, err)
			}
			retry.Reset(wait)
			return
		}
		failures = 0
		health = health.fill(apps)
		w.OnApps(ctx, apps)
	}

	read()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			events.Notice()
		case <-events.C():
			read()
		case <-retry.C:
			read()
		case <-tick.C:
			read()
		}
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// healthMemory is the last health results seen per task ID. While a Marathon leader changes,
// the new leader lists tasks without results until it has checked them again; taking those
// tasks for unhealthy would empty pools of healthy apps.
type healthMemory map[string][]HealthResult

// fill gives each task of an app with health checks whose results are missing its last known
// results, and returns the memory for the next read: the results of the tasks that still exist.
func (m healthMemory) fill(apps []App) healthMemory {
	next := healthMemory{}
	for i := range apps {
		a := &apps[i]
		if len(a.HealthChecks) == 0 {
			continue
		}
		for j := range a.Tasks {
			t := &a.Tasks[j]
			if len(t.HealthCheckResults) == 0 {
				t.HealthCheckResults = m[t.ID]
			}
			if len(t.HealthCheckResults) > 0 {
				next[t.ID] = t.HealthCheckResults
			}
		}
	}
	return next
}
