package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkMarathonEventToTraffic: with 1,000 Marathon apps configured (one task each, east-west
// on their service ports), an app is scaled to two tasks and the clock runs from the Marathon
// event until a request through the SE reaches the new task. Reports p50 and p99. Target
// (issue 6): p99 under 1 s.
//
//	make bench   (or: go test -run '^$' -bench MarathonEventToTraffic -benchtime 1x ./e2e/)
func BenchmarkMarathonEventToTraffic(b *testing.B) {
	const apps = 1000
	c, mar, backends, _ := mesosSetup(b)
	startSE(b, c, c.token(b, 600), "se-bench")
	// Service ports below the ephemeral range, so that the tasks' own listeners (ephemeral
	// ports) can never take one.
	ports := freePortsFrom(b, 20000, apps)
	start := time.Now()
	for i, p := range ports {
		if _, err := mar.AddApp(fmt.Appendf(nil, `{"id": "/bench/app%d", "instances": 1, "portDefinitions": [{"port": %d, "protocol": "tcp", "name": "http"}]}`, i, p)); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(port int) string {
		body, _ := httpGet(client, fmt.Sprintf("http://127.0.0.1:%d/", port))
		return body
	}
	deadline := time.Now().Add(5 * time.Minute)
	for get(ports[apps-1]) == "" {
		if time.Now().After(deadline) {
			b.Fatalf("%d apps not served within 5 minutes", apps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Logf("%d apps posted -> the last one serving through the SE: %v", apps, time.Since(start).Round(time.Millisecond))

	var took []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for k := range 30 {
			app := (n*30 + k) * 97 % apps
			before := backends.count()
			event := time.Now()
			if err := mar.Scale(fmt.Sprintf("/bench/app%d", app), 2); err != nil {
				b.Fatal(err)
			}
			want := backends.name(before) // the task the scale started
			for get(ports[app]) != want {
				if time.Since(event) > 30*time.Second {
					b.Fatalf("app %d: the new task got no traffic within 30 s", app)
				}
				time.Sleep(2 * time.Millisecond)
			}
			took = append(took, time.Since(event))
		}
	}
	b.StopTimer()
	slices.Sort(took)
	p50, p99 := took[len(took)/2], took[min(len(took)-1, len(took)*99/100)]
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	b.Logf("Marathon event -> traffic on the new task, %d apps, %d samples: p50 %v, p99 %v (target p99 < 1 s)", apps, len(took), p50, p99)
}
