package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMemberDownInRuntime: a real SE process serves a virtual service whose pool has one server
// that answers and one where nothing listens, checked by an HTTP monitor. The controller's pool
// runtime shows the second down with the monitor's reason, the service's health score drops with
// "1 of 2 servers down"; once a listener answers there, the server is up again and the health
// back at 100.
func TestMemberDownInRuntime(t *testing.T) {
	if err := exec.Command(aviInit, "version").Run(); err != nil {
		t.Fatalf("avi-init binary: %v", err)
	}
	c := startControllerProc(t, filepath.Join(t.TempDir(), "ctl"), true)
	startSE(t, c, c.token(t, 3600), "se-rt")

	ports := freePorts(t, 3)
	answer := func(port int) {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/boom" {
				w.WriteHeader(http.StatusInternalServerError)
			}
			fmt.Fprint(w, "ok")
		})}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
	answer(ports[0])
	c.create(t, "healthmonitor", map[string]any{"name": "hm-rt", "type": "HEALTH_MONITOR_HTTP", "send_interval": 1,
		"receive_timeout": 1, "successful_checks": 1, "failed_checks": 1,
		"http_monitor": map[string]any{"http_request": "GET / HTTP/1.0", "http_response_code": []string{"HTTP_2XX"}}})
	server := func(port int) map[string]any {
		return map[string]any{"ip": map[string]string{"addr": "127.0.0.1", "type": "V4"}, "port": port}
	}
	poolUUID := c.create(t, "pool", map[string]any{"name": "rt-pool", "servers": []any{server(ports[0]), server(ports[1])},
		"health_monitor_refs": []string{"/api/healthmonitor?name=hm-rt"}})
	vsUUID := c.create(t, "virtualservice", map[string]any{"name": "rt-vs", "services": []any{map[string]int{"port": ports[2]}}, "pool_ref": "/api/pool?name=rt-pool"})

	type member struct {
		Port              int     `json:"port"`
		RequestsPerSecond float64 `json:"requests_per_second"`
		ErrorsPerSecond   float64 `json:"errors_per_second"`
		OperStatus        struct {
			State  string   `json:"state"`
			Reason []string `json:"reason"`
		} `json:"oper_status"`
	}
	members := func() map[int]member {
		var l struct {
			Results []member `json:"results"`
		}
		c.call(t, "GET", "/api/pool/"+poolUUID+"/runtime/server", nil, &l)
		m := map[int]member{}
		for _, r := range l.Results {
			m[r.Port] = r
		}
		return m
	}
	type vsRT struct {
		OperStatus struct {
			State string `json:"state"`
		} `json:"oper_status"`
		HealthScore   float64  `json:"health_score"`
		HealthReasons []string `json:"health_score_reasons"`
	}
	runtime := func() vsRT {
		var rt vsRT
		c.call(t, "GET", "/api/virtualservice/"+vsUUID+"/runtime", nil, &rt)
		return rt
	}

	start := time.Now()
	var last map[int]member
	waitFor(t, "the server without a listener to show down with the monitor's reason", 20*time.Second, func() bool {
		last = members()
		dead := last[ports[1]]
		return last[ports[0]].OperStatus.State == "OPER_UP" && dead.OperStatus.State == "OPER_DOWN" &&
			len(dead.OperStatus.Reason) == 1 && strings.HasPrefix(dead.OperStatus.Reason[0], "hm-rt: ")
	})
	t.Logf("down in the pool runtime %s after the pool was created: %q", time.Since(start).Round(time.Millisecond), last[ports[1]].OperStatus.Reason)
	rt := runtime()
	if rt.OperStatus.State != "OPER_UP" || rt.HealthScore != 50 || strings.Join(rt.HealthReasons, ";") != "1 of 2 servers down" {
		t.Errorf("virtual service runtime %+v: want OPER_UP, health 50, 1 of 2 servers down", rt)
	}

	// A listener answers where none did: up again, health back at 100.
	answer(ports[1])
	waitFor(t, "the server to come back up", 20*time.Second, func() bool {
		return members()[ports[1]].OperStatus.State == "OPER_UP"
	})
	waitFor(t, "the health score to return to 100", 10*time.Second, func() bool {
		rt = runtime()
		return rt.HealthScore == 100 && rt.OperStatus.State == "OPER_UP"
	})

	// Traffic through the SE, a quarter of it answered 500: the members show the requests and
	// errors the SE counted of each, over its last few reports.
	vsURL := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	codes := map[int]int{}
	loadStart := time.Now()
	for i := range 200 {
		path := "/"
		if i%4 == 0 {
			path = "/boom"
		}
		resp, err := http.Get(vsURL + path)
		if err != nil {
			t.Fatalf("request %d through the SE: %v", i, err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[200] != 150 || codes[500] != 50 {
		t.Fatalf("answers through the SE %v; want 150 200s and 50 500s", codes)
	}
	t.Logf("200 requests through the SE in %v", time.Since(loadStart).Round(time.Millisecond))
	waitFor(t, "the members' rates in the pool runtime", 10*time.Second, func() bool {
		last = members()
		return last[ports[0]].RequestsPerSecond > 0 && last[ports[1]].RequestsPerSecond > 0
	})
	var requests, errs float64
	for _, p := range ports[:2] {
		requests += last[p].RequestsPerSecond
		errs += last[p].ErrorsPerSecond
		t.Logf("member on port %d: %.1f requests/s, %.1f errors/s", p, last[p].RequestsPerSecond, last[p].ErrorsPerSecond)
	}
	// 200 requests within the five 1-second reports the rates span: 40 a second at least.
	if requests < 40 || requests > 200 || errs/requests < 0.2 || errs/requests > 0.3 {
		t.Errorf("members' rates sum to %.1f requests/s, %.1f errors/s; want the 200 requests over a few seconds, a quarter of them errors", requests, errs)
	}
}

// TestPortTakenOnTheHost: another process on the SE's host holds the port of one virtual
// service. The real SE applies every other service (traffic flows through it) and reports that
// one with the kernel's reason, which the runtime and the inventory show; a second service on a
// port another holds is refused at write time (409 naming the holder). Once the process lets the
// port go, the SE's retry applies the service with no change of configuration.
func TestPortTakenOnTheHost(t *testing.T) {
	c := startControllerProc(t, filepath.Join(t.TempDir(), "ctl"), true)
	startSE(t, c, c.token(t, 3600), "se-port")
	ports := freePorts(t, 3)
	backend, taken, free := ports[0], ports[1], ports[2]
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", backend))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "served") })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	// The other process: a listener on every address of the port, as a daemon's.
	squatter, err := net.Listen("tcp", fmt.Sprintf(":%d", taken))
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()

	c.create(t, "pool", map[string]any{"name": "pt-pool", "servers": []any{map[string]any{"ip": map[string]string{"addr": "127.0.0.1", "type": "V4"}, "port": backend}}})
	blocked := c.create(t, "virtualservice", map[string]any{"name": "pt-blocked", "services": []any{map[string]int{"port": taken}}, "pool_ref": "/api/pool?name=pt-pool"})
	c.create(t, "virtualservice", map[string]any{"name": "pt-free", "services": []any{map[string]int{"port": free}}, "pool_ref": "/api/pool?name=pt-pool"})

	client := &http.Client{Timeout: 2 * time.Second}
	waitFor(t, "the other service to serve through the SE", 20*time.Second, func() bool {
		body, err := httpGet(client, fmt.Sprintf("http://127.0.0.1:%d/", free))
		return err == nil && body == "served"
	})
	type vsRT struct {
		OperStatus struct {
			State  string   `json:"state"`
			Reason []string `json:"reason"`
		} `json:"oper_status"`
	}
	var rt vsRT
	waitFor(t, "the blocked service to show not applied with the kernel's reason", 20*time.Second, func() bool {
		c.call(t, "GET", "/api/virtualservice/"+blocked+"/runtime", nil, &rt)
		return rt.OperStatus.State == "OPER_DOWN" && len(rt.OperStatus.Reason) == 1 &&
			strings.Contains(rt.OperStatus.Reason[0], "se-port") && strings.HasSuffix(rt.OperStatus.Reason[0], fmt.Sprintf(": listen tcp :%d: bind: address already in use", taken))
	})
	t.Logf("blocked: %s %q", rt.OperStatus.State, rt.OperStatus.Reason)
	var inv struct {
		Results []struct {
			Name       string `json:"name"`
			NotApplied []struct {
				Name   string `json:"name"`
				Reason string `json:"reason"`
			} `json:"not_applied"`
		} `json:"results"`
	}
	c.call(t, "GET", "/api/virtualservice-inventory", nil, &inv)
	for _, row := range inv.Results {
		if want := row.Name == "pt-blocked"; want != (len(row.NotApplied) == 1) {
			t.Errorf("inventory row %s: not applied %+v", row.Name, row.NotApplied)
		}
	}

	// A second service on the free service's port is refused, naming the holder.
	code, body, err := c.send("POST", "/api/virtualservice", map[string]any{"name": "pt-clash", "services": []any{map[string]int{"port": free}}})
	if err != nil || code != http.StatusConflict || !strings.Contains(string(body), "pt-free") {
		t.Errorf("a second service on port %d: %d %s %v; want 409 naming pt-free", free, code, body, err)
	}

	// The other process goes: the SE takes the port on its own and serves.
	squatter.Close()
	waitFor(t, "the blocked service to serve once the port is free", 30*time.Second, func() bool {
		body, err := httpGet(client, fmt.Sprintf("http://127.0.0.1:%d/", taken))
		return err == nil && body == "served"
	})
	waitFor(t, "the blocked service to show up", 20*time.Second, func() bool {
		c.call(t, "GET", "/api/virtualservice/"+blocked+"/runtime", nil, &rt)
		return rt.OperStatus.State == "OPER_UP"
	})
}
