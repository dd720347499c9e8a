// Package listwatch follows an outside system whose state is read whole and whose changes are
// announced: a Marathon's apps and its event stream, a Docker engine's containers and its
// events. The list is the truth; an event only says when to read it again. Run follows a Source
// in sessions: a session asks for the event stream, lists, lists again once events have settled
// (internal/settle) and on a timer in case one was missed. Any failure ends the session; the
// next one starts after a jittered exponential backoff (internal/retry), and what the last
// successful list handed on stays as it was meanwhile.
package listwatch

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/avi-init/avi-init/internal/retry"
	"github.com/avi-init/avi-init/internal/settle"
)

// Source is a system to follow.
type Source interface {
	// List reads the whole state and hands it on. It is called from Run's goroutine, one call
	// at a time.
	List(ctx context.Context) error
	// Watch calls notify on each change until ctx ends or the stream fails, and says why it
	// ended. notify does not block.
	Watch(ctx context.Context, notify func()) error
}

// Opener is a Source that is reached anew for each session (a host's engine over SSH): Open
// comes first, and Close once the session's event stream has ended.
type Opener interface {
	Source
	Open(ctx context.Context) error
	Close() error
}

// Options tune Run. Zero durations take the defaults in parentheses.
type Options struct {
	// Debounce is how long events must pause before the state is listed again (50 ms), and
	// MaxDelay how long a steady flow of events may put the list off (500 ms).
	Debounce, MaxDelay time.Duration
	// Resync is the period of full lists whatever the events say (60 s).
	Resync time.Duration
	// Recheck, when set, lists once more this long after each session began: a change between
	// asking for the event stream and the stream's first event is not lost.
	Recheck time.Duration
	// MinBackoff and MaxBackoff bound the wait before the next session after a failure (1 s,
	// Resync): it doubles with each failure in a row and starts afresh after a successful list.
	MinBackoff, MaxBackoff time.Duration
	// OnError, when set, receives each failure (nothing in the state changed) and the wait
	// before the next session, to show and log it.
	OnError func(err error, retryIn time.Duration)
}

func (o Options) withDefaults() Options {
	o.Debounce = cmp.Or(o.Debounce, 50*time.Millisecond)
	o.MaxDelay = cmp.Or(o.MaxDelay, 500*time.Millisecond)
	o.Resync = cmp.Or(o.Resync, 60*time.Second)
	o.MinBackoff = cmp.Or(o.MinBackoff, time.Second)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, o.Resync)
	return o
}

// errStreamEnded is a Watch that returned no reason while its session still ran.
var errStreamEnded = errors.New("the event stream ended")

// Run follows src until ctx is done, and returns once the session's event stream has ended
// (and an Opener is closed).
func Run(ctx context.Context, src Source, opts Options) {
	opts = opts.withDefaults()
	for failures := 0; ; {
		listed, err := session(ctx, src, opts)
		if ctx.Err() != nil {
			return
		}
		if listed {
			failures = 0
		}
		wait := retry.Backoff(failures, opts.MinBackoff, opts.MaxBackoff, rand.Float64())
		failures++
		if opts.OnError != nil {
			opts.OnError(err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session follows src until a list or the event stream fails, or ctx ends. listed says whether
// a list succeeded.
func session(ctx context.Context, src Source, opts Options) (listed bool, err error) {
	if o, ok := src.(Opener); ok {
		if err := o.Open(ctx); err != nil {
			return false, err
		}
		defer o.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	changed := make(chan struct{}, 1)
	watchErr := make(chan error, 1)
	var wg sync.WaitGroup
	// The event stream ends before the session does.
	defer func() {
		cancel()
		wg.Wait()
	}()
	// The stream is asked for before the first list, so that a change between the two is seen.
	wg.Go(func() {
		watchErr <- src.Watch(ctx, func() {
			select {
			case changed <- struct{}{}:
			default: // a list is already due
			}
		})
	})
	if err := src.List(ctx); err != nil {
		return false, err
	}

	var recheck <-chan time.Time
	if opts.Recheck > 0 {
		t := time.NewTimer(opts.Recheck)
		defer t.Stop()
		recheck = t.C
	}
	full := time.NewTicker(opts.Resync)
	defer full.Stop()
	pending := settle.New(opts.Debounce, opts.MaxDelay)
	defer pending.Done()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case err := <-watchErr:
			if err == nil {
				err = errStreamEnded
			}
			return true, err
		case <-changed:
			pending.Notice()
			continue
		case <-pending.C():
		case <-recheck:
		case <-full.C:
		}
		pending.Done()
		if err := src.List(ctx); err != nil {
			return true, err
		}
	}
}
