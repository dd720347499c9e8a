package marathon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/avi-init/avi-init/internal/retry"
)

// eventTypes are the Marathon events after which the app list may map differently: tasks
// starting, stopping or changing health, and apps being created, changed or removed. The
// stream is filtered to them.
var eventTypes = []string{
	"status_update_event",
	"health_status_changed_event",
	"api_post_event",
	"app_terminated_event",
	"deployment_success",
	"deployment_step_success",
	"instance_changed_event",
	"instance_health_changed_event",
}

// EventStreamAttached is reported each time the stream (re)attaches: events may have been
// missed while it was away, so the app list should be read again.
const EventStreamAttached = "event_stream_attached"

// maxEventLine bounds one line of the stream; api_post_event carries a whole app definition.
const maxEventLine = 16 << 20

// Events follows the event stream until ctx is done, calling fn with the type of each event
// that can change the app list (task status and health, apps created, changed or removed,
// deployments done), and with EventStreamAttached after each (re)connection. fn is called from
// one goroutine and should not block. A stream that ends, fails, or stays silent longer than
// StreamIdleTimeout is reconnected after a jittered exponential backoff, starting with the
// Marathon that answered last and failing over to the others. Events returns ctx's error.
func (c *Client) Events(ctx context.Context, fn func(eventType string)) error {
	attempt := 0
	for {
		lived, err := c.stream(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A stream that stayed up a while was a success: start backing off afresh. One that
		// breaks right after attaching keeps backing off, since each attach costs Marathon a
		// full app list read.
		if lived >= c.maxBackoff {
			attempt = 0
		}
		wait := backoff(attempt, c.minBackoff, c.maxBackoff)
		attempt++
		c.log.Warn("marathon event stream lost; reconnecting", "err", err, "after", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the wait before reconnect attempt n (from 0): doubling from lo up to hi, then
// drawn from the upper half of that, so that controllers restarted together do not reconnect
// in step.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	return retry.Backoff(attempt, lo, hi, rand.Float64())
}

// stream follows one event stream from the first Marathon that accepts, until it ends. It
// returns how long the stream was attached (zero when no Marathon accepted) and why it ended.
func (c *Client) stream(ctx context.Context, fn func(string)) (time.Duration, error) {
	var errs []error
	for _, i := range c.order() {
		ep := c.endpoints[i]
		attached, err := c.streamFrom(ctx, ep, fn, func() { c.prefer(i) })
		if !attached.IsZero() {
			return time.Since(attached), fmt.Errorf("marathon event stream from %s: %w", ep, err)
		}
		errs = append(errs, fmt.Errorf("connect to marathon event stream at %s: %w", ep, err))
		if ctx.Err() != nil {
			break
		}
	}
	return 0, errors.Join(errs...)
}

// streamFrom follows the event stream of one Marathon. It returns when it attached (zero if it
// did not) and why the stream ended.
func (c *Client) streamFrom(ctx context.Context, ep endpoint, fn func(string), onAttach func()) (attached time.Time, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The idle timer also runs while connecting: a Marathon that accepts and never answers is
	// as dead as a silent stream.
	idle := time.AfterFunc(c.idleTimeout, func() {
		cancel(fmt.Errorf("%w: nothing received for %s", ErrSilent, c.idleTimeout))
	})
	defer idle.Stop()
	// cause prefers the reason the stream was cut to the error reading it reported.
	cause := func(err error) error {
		if why := context.Cause(ctx); why != nil && !errors.Is(why, context.Canceled) {
			return why
		}
		return err
	}

	query := url.Values{"event_type": eventTypes}
	resp, err := c.get(ctx, ep, "v2/events", query, "text/event-stream")
	if err != nil {
		return time.Time{}, cause(err)
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		return time.Time{}, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return time.Time{}, fmt.Errorf("answered with %q, not an event stream", ct)
	}
	attached = time.Now()
	onAttach()
	fn(EventStreamAttached)
	body := &activityReader{r: resp.Body, active: func() { idle.Reset(c.idleTimeout) }}
	return attached, cause(readEvents(body, fn))
}

// activityReader calls active whenever data arrives.
type activityReader struct {
	r      io.Reader
	active func()
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.active()
	}
	return n, err
}

// readEvents parses a server-sent event stream, calling fn with the type of each event of
// eventTypes. The type comes from the event field, or else from the eventType of the JSON
// data, which Marathon always sets. Comments (keepalives) are skipped. It returns when the
// stream ends, which for an event stream is always an error.
func readEvents(r io.Reader, fn func(string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	var name, data string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if name == "" && data != "" {
				var d struct {
					EventType string `json:"eventType"`
				}
				if json.Unmarshal([]byte(data), &d) == nil {
					name = d.EventType
				}
			}
			if slices.Contains(eventTypes, name) {
				fn(name)
			}
			name, data = "", ""
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			// Marathon sends one data line per event; only its eventType is read.
			if data == "" {
				data = value
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the stream ended")
}
