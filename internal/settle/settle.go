// Package settle coalesces a burst of change notices (Marathon or Docker events) into one
// action: the action is due once notices have paused for a quiet period, or a longest delay
// after the first notice not yet acted on, whichever comes first, so that a steady flow of
// events never puts it off for good.
package settle

import "time"

// Timer says on C when the action is due. It is used from one goroutine.
type Timer struct {
	quiet, max time.Duration
	first      time.Time // the first notice not yet acted on; zero for none
	t          *time.Timer
}

// New returns a Timer with no notice pending.
func New(quiet, max time.Duration) *Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Timer{quiet: quiet, max: max, t: t}
}

// Notice records a change.
func (s *Timer) Notice() {
	now := time.Now()
	if s.first.IsZero() {
		s.first = now
	}
	s.t.Reset(min(s.quiet, s.first.Add(s.max).Sub(now)))
}

// C fires when the action is due.
func (s *Timer) C() <-chan time.Time { return s.t.C }

// Done says the action ran (whatever made it run): the notices so far are acted on.
func (s *Timer) Done() {
	s.first = time.Time{}
	s.t.Stop()
}
