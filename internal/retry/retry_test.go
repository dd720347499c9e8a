package retry

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{0, 0, 500 * time.Millisecond},
		{0, 1, time.Second},
		{1, 0.5, 1500 * time.Millisecond},
		{5, 1, 32 * time.Second},
		{6, 1, time.Minute}, // 64 s, capped
		{6, 0, 30 * time.Second},
		{1 << 20, 1, time.Minute}, // no overflow however many attempts
	} {
		if got := Backoff(c.attempt, time.Second, time.Minute, c.jitter); got != c.want {
			t.Errorf("Backoff(%d, 1s, 1m, %v) = %v, want %v", c.attempt, c.jitter, got, c.want)
		}
	}
}
