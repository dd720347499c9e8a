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
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })}
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
		Port       int `json:"port"`
		OperStatus struct {
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
}
