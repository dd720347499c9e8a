package se

import (
	"context"
	"testing"
	"time"
)

// The VIPs stay while connections in flight are answered (without its address the host cannot
// send their responses), and go once they are done, or after vipHold when one lingers; the
// drain goes on without them.
func TestVIPsGoOnceConnectionsDrained(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inFlight  time.Duration // how long the last connection takes to finish
		vipsAfter time.Duration // when the VIPs must have gone, at the latest
	}{
		{name: "quick requests", inFlight: 100 * time.Millisecond, vipsAfter: vipHold / 2},
		{name: "a long download", inFlight: vipHold + time.Second, vipsAfter: vipHold + 500*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			var drainedAt, vipsAt time.Duration
			closeDP := func(ctx context.Context) error {
				select {
				case <-time.After(tc.inFlight):
				case <-ctx.Done():
					return ctx.Err()
				}
				drainedAt = time.Since(start)
				return nil
			}
			closeVIPs := func() { vipsAt = time.Since(start) }
			drainConnections(closeDP, closeVIPs)
			if drainedAt == 0 || vipsAt == 0 {
				t.Fatalf("drained at %v, VIPs removed at %v; want both done when drainConnections returns", drainedAt, vipsAt)
			}
			if tc.inFlight < vipHold && vipsAt < drainedAt {
				t.Errorf("VIPs removed at %v, before the connections drained at %v", vipsAt, drainedAt)
			}
			if vipsAt > tc.vipsAfter {
				t.Errorf("VIPs removed at %v; want by %v", vipsAt, tc.vipsAfter)
			}
			if tc.inFlight > vipHold && vipsAt >= drainedAt {
				t.Errorf("VIPs removed at %v, after the drain at %v; want them gone after %v", vipsAt, drainedAt, vipHold)
			}
		})
	}
}
