// Package lb is the service engine's balancing core: pool members and their state, the
// selection policies that pick one for each connection or request, and the health state each
// member moves through as active monitors and passive failures report on it. It does no I/O;
// the proxies and monitors drive it.
package lb

import (
	"sync/atomic"
)

// Upstream is one pool member as the data plane sees it. A new configuration may change its
// ratio and whether it is enabled while traffic reads them, so both are atomic.
type Upstream struct {
	Addr string // ip:port

	ratio   atomic.Int32 // weight, 1 to 20
	enabled atomic.Bool
	conns   atomic.Int64 // connections or requests in flight
	health  *Health

	// What the member did with the requests (L7) or connections (L4) it took, since the last
	// Counts: the SE's heartbeat reports them per member.
	requests, resp4xx, resp5xx, failed atomic.Int64
}

// Counts are a member's outcomes over an interval.
type Counts struct {
	Requests         int64 // answered: HTTP responses, or L4 connections the member answered
	Resp4xx, Resp5xx int64
	Failed           int64 // taken and not answered: a request or connection the member failed
}

// NewUpstream makes a member that is enabled, of the given ratio, and up until a monitor says
// otherwise (Avi starts members up when the pool has no monitor, and the SE keeps serving
// through a restart).
func NewUpstream(addr string, ratio int, enabled bool, h *Health) *Upstream {
	if h == nil {
		h = NewHealth(1, 1)
	}
	u := &Upstream{Addr: addr, health: h}
	u.Set(ratio, enabled)
	return u
}

// Set changes the member's ratio (at least 1) and whether it is enabled.
func (u *Upstream) Set(ratio int, enabled bool) {
	u.ratio.Store(int32(max(ratio, 1)))
	u.enabled.Store(enabled)
}

// Ratio is the member's weight.
func (u *Upstream) Ratio() int { return int(u.ratio.Load()) }

// Available reports whether the member may take new traffic: enabled and up.
func (u *Upstream) Available() bool { return u.enabled.Load() && u.health.Up() }

// Health is the member's health state.
func (u *Upstream) Health() *Health { return u.health }

// Conns is the number of connections or requests in flight.
func (u *Upstream) Conns() int64 { return u.conns.Load() }

// Acquire counts a connection or request starting; the returned func ends it.
func (u *Upstream) Acquire() (release func()) {
	u.conns.Add(1)
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			u.conns.Add(-1)
		}
	}
}

// Responded counts an HTTP response the member gave, by its status.
func (u *Upstream) Responded(status int) {
	switch {
	case status >= 500:
		u.resp5xx.Add(1)
	case status >= 400:
		u.resp4xx.Add(1)
	}
	u.requests.Add(1)
}

// Answered counts an L4 connection the member answered.
func (u *Upstream) Answered() { u.requests.Add(1) }

// Unanswered counts a request or connection the member took and failed to answer.
func (u *Upstream) Unanswered() { u.failed.Add(1) }

// TakeCounts returns, and resets, the member's outcomes since the last call.
func (u *Upstream) TakeCounts() Counts {
	return Counts{Requests: u.requests.Swap(0), Resp4xx: u.resp4xx.Swap(0), Resp5xx: u.resp5xx.Swap(0), Failed: u.failed.Swap(0)}
}
