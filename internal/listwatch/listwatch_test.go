package listwatch

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeSource lists nothing, fails lists, opens and streams on demand, and forwards the events a
// test sends. Its timing is the bubble's fake clock, so Run's timers are tested exactly.
type fakeSource struct {
	start  time.Time
	events chan struct{}
	broken chan error // a value ends the current stream with it

	mu         sync.Mutex
	failLists  int   // the next lists that fail
	openErr    error // Open fails with it while set
	lists      []time.Duration
	errs       []error
	opens      int
	watching   bool // a Watch runs
	closedLive bool // Close was called while a Watch ran
}

func newFakeSource() *fakeSource {
	return &fakeSource{start: time.Now(), events: make(chan struct{}), broken: make(chan error)}
}

func (f *fakeSource) List(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failLists > 0 {
		f.failLists--
		return errors.New("list failed")
	}
	f.lists = append(f.lists, time.Since(f.start))
	return nil
}

func (f *fakeSource) Watch(ctx context.Context, notify func()) error {
	f.mu.Lock()
	f.watching = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.watching = false
		f.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.events:
			notify()
		case err := <-f.broken:
			return err
		}
	}
}

func (f *fakeSource) onError(err error, _ time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
}

func (f *fakeSource) listTimes() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.lists...)
}

func (f *fakeSource) errors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

// openSource is a fakeSource reached anew for each session.
type openSource struct{ *fakeSource }

func (o openSource) Open(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opens++
	return o.openErr
}

func (o openSource) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.watching {
		o.closedLive = true
	}
	return nil
}

// run runs src in the bubble until the test stops it; stop returns once Run has.
func run(t *testing.T, src Source, f *fakeSource, opts Options) (stop func()) {
	t.Helper()
	opts.OnError = f.onError
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, src, opts)
	}()
	synctest.Wait()
	return func() {
		cancel()
		<-done
	}
}

func ms(ds ...int) []time.Duration {
	var out []time.Duration
	for _, d := range ds {
		out = append(out, time.Duration(d)*time.Millisecond)
	}
	return out
}

// Events settle before the state is listed again, and a steady flow puts the list off no longer
// than MaxDelay; periodic and recheck lists come on their own clocks.
func TestListTiming(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   Options
		events func(f *fakeSource)
		want   []time.Duration
	}{
		{"five events 10 ms apart are one change, listed 50 ms after the last", Options{}, func(f *fakeSource) {
			time.Sleep(time.Second)
			for range 5 {
				f.events <- struct{}{}
				time.Sleep(10 * time.Millisecond)
			}
		}, ms(0, 1090)},
		{"an event every 40 ms: listed 500 ms after the first unlisted one, and after the flow stops", Options{}, func(f *fakeSource) {
			for range 30 {
				f.events <- struct{}{}
				time.Sleep(40 * time.Millisecond)
			}
		}, ms(0, 500, 1020, 1210)},
		{"no events: a full list every Resync", Options{Resync: 30 * time.Second}, func(*fakeSource) {
			time.Sleep(95 * time.Second)
		}, ms(0, 30000, 60000, 90000)},
		{"Recheck lists once more after the session began", Options{Recheck: time.Second, Resync: time.Minute}, func(*fakeSource) {
			time.Sleep(5 * time.Second)
		}, ms(0, 1000)},
		{"other debounce and delay", Options{Debounce: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}, func(f *fakeSource) {
			for range 10 {
				f.events <- struct{}{}
				time.Sleep(3 * time.Millisecond)
			}
		}, ms(0, 20, 32)},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSource()
				stop := run(t, f, f, c.opts)
				defer stop()
				c.events(f)
				time.Sleep(time.Second)
				synctest.Wait()
				if got := f.listTimes(); !reflect.DeepEqual(got, c.want) {
					t.Errorf("lists at %v, want %v", got, c.want)
				}
				if errs := f.errors(); len(errs) != 0 {
					t.Errorf("errors %v", errs)
				}
			})
		})
	}
}

func TestFailedListsAreRetriedWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		f.failLists = 3
		stop := run(t, f, f, Options{})
		defer stop()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		// Retries after 0.5-1 s, 1-2 s, 2-4 s: the fourth list, the first to succeed, comes
		// between 3.5 and 7 s, long before the minute's resync.
		got := f.listTimes()
		if len(got) != 1 || got[0] < 3500*time.Millisecond || got[0] > 7*time.Second {
			t.Errorf("successful lists at %v, want one between 3.5 s and 7 s", got)
		}
		if errs := f.errors(); len(errs) != 3 {
			t.Errorf("OnError got %v, want 3 errors", errs)
		}
	})
}

// A stream that fails ends the session: the source is opened again after the first backoff
// (a session that listed starts the count afresh), and closed only once its stream has ended.
func TestFailedStreamStartsANewSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		src := openSource{f}
		stop := run(t, src, f, Options{})
		defer stop()
		for i := range 3 {
			time.Sleep(10 * time.Second)
			f.broken <- errors.New("connection lost")
			start := time.Now()
			synctest.Wait()
			for {
				f.mu.Lock()
				opens := f.opens
				f.mu.Unlock()
				if opens == i+2 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if d := time.Since(start); d < 500*time.Millisecond || d > time.Second {
				t.Errorf("session %d opened again after %v, want 0.5-1 s", i+2, d)
			}
		}
		synctest.Wait()
		if got := len(f.listTimes()); got != 4 {
			t.Errorf("%d lists, want one per session (4)", got)
		}
		errs := f.errors()
		if len(errs) != 3 || errs[0].Error() != "connection lost" {
			t.Errorf("OnError got %v, want the stream's error 3 times", errs)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.closedLive {
			t.Error("the source was closed while its stream ran")
		}
	})
}

// A source that cannot be opened is not listed; it is tried again with growing waits.
func TestSourceNotOpenedIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		f.openErr = errors.New("no route to host")
		stop := run(t, openSource{f}, f, Options{MaxBackoff: 4 * time.Second})
		defer stop()
		time.Sleep(20 * time.Second)
		synctest.Wait()
		f.mu.Lock()
		opens := f.opens
		f.mu.Unlock()
		// Waits of 0.5-1, 1-2, 2-4, then 2-4 s each: 20 s hold between 6 and 11 attempts.
		if opens < 6 || opens > 11 {
			t.Errorf("%d attempts in 20 s, want 6 to 11", opens)
		}
		if n := len(f.listTimes()); n != 0 {
			t.Errorf("%d lists of a source not opened", n)
		}
		if errs := f.errors(); len(errs) < opens-1 || errs[0].Error() != "no route to host" {
			t.Errorf("OnError got %v", errs)
		}
	})
}

func TestRunEndsItsStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		stop := run(t, openSource{f}, f, Options{})
		stop()
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.watching {
			t.Error("Run returned before the event stream ended")
		}
		if f.closedLive {
			t.Error("the source was closed while its stream ran")
		}
	})
}
