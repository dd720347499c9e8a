package settle

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(50*time.Millisecond, 500*time.Millisecond)

		// One notice: due after the quiet period.
		start := time.Now()
		s.Notice()
		if at := (<-s.C()).Sub(start); at != 50*time.Millisecond {
			t.Errorf("one notice: due after %v, want 50ms", at)
		}
		s.Done()

		// A notice every 40 ms never pauses for 50 ms: due 500 ms after the first of them.
		start = time.Now()
		var due []time.Duration
		for range 20 {
			s.Notice()
			time.Sleep(40 * time.Millisecond)
			select {
			case at := <-s.C():
				due = append(due, at.Sub(start))
				s.Done()
			default:
			}
		}
		if len(due) != 1 || due[0] != 500*time.Millisecond {
			t.Errorf("a steady flow: due after %v, want once, after 500ms", due)
		}

		// Done forgets what was pending: nothing is due without a new notice.
		s.Notice()
		s.Done()
		time.Sleep(time.Second)
		select {
		case <-s.C():
			t.Error("due with no notice pending")
		default:
		}
	})
}
