// Package retry is the wait between attempts that the clouds and the Marathon client share:
// exponential, capped, and jittered over its upper half, so that clients failing together do
// not retry together.
package retry

import "time"

// Backoff is the wait before retry number attempt (0 for the first retry): lo doubled attempt
// times, at most hi, then placed in its upper half by jitter, a number in [0, 1].
func Backoff(attempt int, lo, hi time.Duration, jitter float64) time.Duration {
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + time.Duration(jitter*float64(d/2))
}
