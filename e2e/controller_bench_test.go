package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/se"
)

// BenchmarkController reports API create throughput, the time from an API change to every SE
// holding the new snapshot (p50, p99) with 100 SEs and 1,000 virtual services already there, and
// the controller's memory with 10,000 virtual services of 10 servers each.
// Targets: change to 100 SEs p99 < 50 ms with per-SE placement (issue 13); 10,000 virtual
// services in < 300 MB (issue 3).
//
//	make bench   (or: go test -run '^$' -bench Controller -benchtime 1x ./e2e/)
func BenchmarkController(b *testing.B) {
	for range b.N {
		c := startControllerProc(b, filepath.Join(b.TempDir(), "ctl"), true)

		// API create throughput: 4 clients, 2,000 health monitors. One request first: the
		// credential is checked once and cached, rather than by four clients at once (password
		// checks are bounded, and the others would be told to come back: issue 12).
		c.call(b, "GET", "/api/healthmonitor", nil, nil)
		const creates = 2000
		start := time.Now()
		failed := inParallel(4, 1, creates+1, func(i int) error {
			code, body, err := sendPatiently(c, "POST", "/api/healthmonitor", map[string]any{"name": fmt.Sprintf("hm-%d", i), "type": "HEALTH_MONITOR_TCP"})
			if err == nil && code != 201 {
				err = fmt.Errorf("create hm-%d: %d %s", i, code, body)
			}
			return err
		}, b.Logf)
		rate := float64(creates) / time.Since(start).Seconds()
		if failed > 0 {
			b.Fatalf("%d creates failed", failed)
		}
		b.ReportMetric(rate, "creates/s")

		// 1,000 virtual services of 10 servers each.
		importVS(b, c, 0, 1000)

		// 100 SEs, in this process, recording when each applies a change adding a name. The
		// changes are east-west services, which placement sends to every SE of the group.
		const nSE = 100
		var tok map[string]string
		c.call(b, "POST", "/api/jointoken", map[string]any{"max_uses": nSE}, &tok)
		type seen struct {
			mu sync.Mutex
			at map[string]time.Time
		}
		ses := make([]*seen, nSE)
		// The SEs keep their configuration on a disk of their own, as SEs on their own hosts do:
		// 100 SEs syncing theirs (1 MB each) to the controller's disk would queue its commits
		// behind them, and measure that disk rather than the controller.
		seDisk := b.TempDir()
		if d, err := os.MkdirTemp("/dev/shm", "avi-bench-se-"); err == nil {
			seDisk = d
			b.Cleanup(func() { os.RemoveAll(d) })
		}
		ctx, cancel := context.WithCancel(context.Background())
		var sewg sync.WaitGroup
		var rts []*se.Runtime
		for i := range ses {
			s := &seen{at: map[string]time.Time{}}
			ses[i] = s
			rt, err := se.New(ctx, se.Config{
				Controller: fmt.Sprintf("127.0.0.1:%d", c.sysint), JoinToken: tok["token"], DataDir: filepath.Join(seDisk, strconv.Itoa(i)), Name: fmt.Sprintf("se-%d", i),
				LocalAddr: fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250), // an address each, as SEs on their own hosts
				Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
				Apply: func(ch sechannel.Change, _ *sechannel.State) []sechannel.ServiceError {
					now := time.Now()
					s.mu.Lock()
					defer s.mu.Unlock()
					for _, v := range ch.Changed {
						if _, ok := s.at[v.Name]; !ok && strings.HasPrefix(v.Name, "change-") {
							s.at[v.Name] = now
						}
					}
					return nil
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			sewg.Add(1)
			go func() { defer sewg.Done(); rt.Run(ctx) }()
			rts = append(rts, rt)
		}
		waitFor(b, "every SE to hold its configuration", time.Minute, func() bool {
			return !slices.ContainsFunc(rts, func(rt *se.Runtime) bool { return rt.Version() < 0 })
		})

		var lat []time.Duration
		for i := range 100 {
			name := fmt.Sprintf("change-%d", i)
			t0 := time.Now()
			if code, _, err := sendPatiently(c, "POST", "/api/virtualservice", map[string]any{"name": name, "services": []map[string]int{{"port": 20000 + i}}}); err != nil || code != 201 {
				b.Fatalf("create %s: %d %v", name, code, err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				var worst time.Duration
				holding := 0
				for _, s := range ses {
					s.mu.Lock()
					at, ok := s.at[name]
					s.mu.Unlock()
					if ok {
						holding++
						worst = max(worst, at.Sub(t0))
					}
				}
				if holding == len(ses) {
					lat = append(lat, worst)
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%s reached %d of %d SEs in 10 s", name, holding, len(ses))
				}
				time.Sleep(time.Millisecond)
			}
		}
		cancel()
		sewg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, "change-to-SE-p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "change-to-SE-p99-ms")

		// Memory with 10,000 virtual services of 10 servers each.
		importVS(b, c, 1000, 10000)
		var rss int64
		for range 5 { // the runtime returns memory lazily: take the settled value
			time.Sleep(time.Second)
			rss = rssOf(b, c.cmd.Process.Pid)
		}
		var list struct {
			Count int `json:"count"`
		}
		c.call(b, "GET", "/api/virtualservice?name=vs-9999", nil, &list)
		b.ReportMetric(float64(rss)/(1<<20), "MB-with-10k-VS")

		fmt.Printf("\n%-44s %12s %12s\n", "controller", "measured", "target")
		fmt.Printf("%-44s %12.0f %12s\n", "API creates per second (4 clients)", rate, "-")
		fmt.Printf("%-44s %12.1f %12s\n", "change to all 100 SEs, p50 (ms)", float64(p50.Microseconds())/1000, "-")
		fmt.Printf("%-44s %12.1f %12s\n", "change to all 100 SEs, p99 (ms)", float64(p99.Microseconds())/1000, "< 50")
		fmt.Printf("%-44s %12.0f %12s\n", "controller RSS, 10,000 VS x 10 servers (MB)", float64(rss)/(1<<20), "< 300")
		c.stop()
	}
}

// sendPatiently sends a request with basic auth as c.send does, and sends it again when the
// controller answers 429: a burst of clients whose cached credential expired at once meets the
// controller's bound on password checks, and is told to come back, as a client should.
func sendPatiently(c *controllerProc, method, path string, body any) (int, []byte, error) {
	for try := 0; ; try++ {
		code, data, err := c.send(method, path, body)
		if err != nil || code != http.StatusTooManyRequests || try == 10 {
			return code, data, err
		}
		time.Sleep(time.Second)
	}
}

// importVS adds virtual services from..to-1, each with its own pool of 10 servers, through the
// API with 8 clients. (A configuration import would be one transaction, but an export is signed
// with a key only the controller derives: a file made here would be refused, as it should be.)
func importVS(b *testing.B, c *controllerProc, from, to int) {
	b.Helper()
	failed := inParallel(8, from, to, func(i int) error {
		var servers []map[string]any
		for j := range 10 {
			servers = append(servers, map[string]any{"ip": map[string]string{"addr": fmt.Sprintf("10.%d.%d.%d", i/250, i%250, j+1), "type": "V4"}, "port": 8080})
		}
		name := strconv.Itoa(i)
		for _, o := range []struct {
			path string
			body map[string]any
		}{
			{"/api/pool", map[string]any{"name": "pool-" + name, "servers": servers}},
			{"/api/virtualservice", map[string]any{"name": "vs-" + name, "services": []map[string]int{{"port": 10000 + i%50000}}, "pool_ref": "/api/pool?name=pool-" + name}},
		} {
			if code, body, err := sendPatiently(c, "POST", o.path, o.body); err != nil || code != 201 {
				return fmt.Errorf("create %s %s: %d %s %v", o.path, name, code, body, err)
			}
		}
		return nil
	}, b.Errorf)
	if failed > 0 {
		b.FailNow()
	}
}

// inParallel runs do for each i of from..to-1 on n goroutines, as n clients would, and returns
// how many failed; the first failure is reported. After a failure no new i is started.
func inParallel(n, from, to int, do func(i int) error, report func(format string, args ...any)) int64 {
	var next, failed atomic.Int64
	next.Store(int64(from) - 1)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i >= to || failed.Load() > 0 {
					return
				}
				if err := do(i); err != nil && failed.Add(1) == 1 {
					report("%v", err)
				}
			}
		})
	}
	wg.Wait()
	return failed.Load()
}

func rssOf(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
