package lb

import (
	"sync"
)

// Health is a member's up/down state, moved by check results as Avi's monitors do: a member
// that is up goes down after failedChecks consecutive failures, and one that is down comes back
// after successfulChecks consecutive successes. Passive failures (a connection refused or reset
// while proxying) count as failed checks.
type Health struct {
	mu               sync.Mutex
	up               bool
	successes, fails int
	successfulChecks int
	failedChecks     int
	reason           string
}

// NewHealth starts up, with Avi's thresholds.
func NewHealth(successfulChecks, failedChecks int) *Health {
	return &Health{up: true, successfulChecks: max(successfulChecks, 1), failedChecks: max(failedChecks, 1)}
}

// SetThresholds changes how many consecutive checks move the state.
func (h *Health) SetThresholds(successfulChecks, failedChecks int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.successfulChecks, h.failedChecks = max(successfulChecks, 1), max(failedChecks, 1)
}

// Up reports whether the member is up.
func (h *Health) Up() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up
}

// Reason is why the member is down ("" when up).
func (h *Health) Reason() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason
}

// Success records a passing check; it reports whether the state changed.
func (h *Health) Success() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fails = 0
	if h.up {
		return false
	}
	h.successes++
	if h.successes >= h.successfulChecks {
		h.up, h.successes, h.reason = true, 0, ""
		return true
	}
	return false
}

// Failure records a failing check (or a passive failure) and why; it reports whether the state
// changed.
func (h *Health) Failure(reason string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.successes = 0
	if !h.up {
		h.reason = reason
		return false
	}
	h.fails++
	if h.fails >= h.failedChecks {
		h.up, h.fails, h.reason = false, 0, reason
		return true
	}
	return false
}
