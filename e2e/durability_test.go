package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStoreSurvivesKill kills the controller process (SIGKILL) in the middle of a stream of
// writes, several times, restarts it on the same data directory, and checks that every write it
// acknowledged is there and the store opens.
func TestStoreSurvivesKill(t *testing.T) {
	data := filepath.Join(t.TempDir(), "ctl")
	acked := map[string]bool{}
	for round := range 3 {
		c := startControllerProc(t, data, round == 0)
		// Every write acknowledged so far must be there after the restart.
		var list struct {
			Count   int `json:"count"`
			Results []struct {
				Name string `json:"name"`
			} `json:"results"`
		}
		if code := c.call(t, "GET", "/api/healthmonitor", nil, &list); code != 200 {
			t.Fatalf("round %d: list after restart: %d", round, code)
		}
		have := map[string]bool{}
		for _, r := range list.Results {
			have[r.Name] = true
		}
		for name := range acked {
			if !have[name] {
				t.Fatalf("round %d: acknowledged write %s lost in the kill", round, name)
			}
		}
		t.Logf("round %d: all %d acknowledged writes survived (store holds %d)", round, len(acked), list.Count)

		// Writers stream creates until the process dies under them.
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("hm-%d-%d-%d", round, w, i)
					// A 201 is an acknowledgement even if the body was cut off by the kill.
					code, _, err := c.send("POST", "/api/healthmonitor", map[string]any{"name": name, "type": "HEALTH_MONITOR_TCP"})
					if code == http.StatusCreated {
						mu.Lock()
						acked[name] = true
						mu.Unlock()
					}
					if err != nil {
						return // the controller is gone
					}
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
		c.stopped = true
		close(stop)
		wg.Wait()
	}
	if len(acked) < 10 {
		t.Fatalf("only %d writes were acknowledged: the test did not exercise the store", len(acked))
	}
	c := startControllerProc(t, data, false)
	var list struct {
		Count int `json:"count"`
	}
	c.call(t, "GET", "/api/healthmonitor", nil, &list)
	if list.Count < len(acked) {
		t.Fatalf("after the last kill the store holds %d monitors, %d were acknowledged", list.Count, len(acked))
	}
}
