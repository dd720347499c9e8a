package dataplane

import (
	"testing"
	"time"
)

func TestLatencyHistogramAndPercentiles(t *testing.T) {
	var s vsStats
	for d, n := range map[time.Duration]int{
		500 * time.Microsecond: 5,
		time.Millisecond:       25, // a bound belongs to its own bucket
		3 * time.Millisecond:   20,
		40 * time.Millisecond:  40,
		30 * time.Second:       10, // slower than every bound
	} {
		for range n {
			s.observe(d)
		}
	}
	var counts [len(latencyBounds) + 1]int64
	var total int64
	for i := range s.latency {
		counts[i] = s.latency[i].Load()
		total += counts[i]
	}
	if counts[0] != 30 || counts[2] != 20 || counts[5] != 40 || counts[len(latencyBounds)] != 10 || total != 100 {
		t.Fatalf("buckets %v", counts)
	}
	for _, tc := range []struct {
		q, want float64
	}{{0.3, 1}, {0.5, 5}, {0.9, 50}, {0.99, 20000}} {
		if got := percentile(counts[:], total, tc.q); got != tc.want {
			t.Errorf("p%g = %g ms, want %g", tc.q*100, got, tc.want)
		}
	}
	if got := percentile(make([]int64, len(counts)), 0, 0.5); got != 0 {
		t.Errorf("p50 of no requests = %g, want 0", got)
	}
}
