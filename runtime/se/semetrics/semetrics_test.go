package semetrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/avi-init/avi-init/internal/testnet"
	"github.com/avi-init/avi-init/model/sechannel"
)

func TestTotalsAccumulateAndFollowTheConfiguration(t *testing.T) {
	e := New()
	e.Configured(sechannel.Snapshot{Version: 7, VirtualServices: []sechannel.VirtualService{
		{UUID: "vs-1", Name: "web", Enabled: true}, {UUID: "vs-2", Name: "db", Enabled: true}}},
		[]sechannel.ServiceError{{VSUUID: "vs-2", Reason: "listen on :5432: address already in use"}})
	up, down := true, false
	e.Observe([]sechannel.Metrics{
		{VSUUID: "vs-1", Requests: 10, Resp2xx: 9, Resp5xx: 1, BytesIn: 100, BytesOut: 1000, LatencyP50: 1, LatencyP90: 2, LatencyP99: 5},
		{VSUUID: "vs-1", PoolUUID: "p", Server: "192.0.2.1:80", Up: &up},
		{VSUUID: "vs-1", PoolUUID: "p", Server: "192.0.2.2:80", Up: &down},
		{VSUUID: "vs-2", NewConns: 3, OpenConns: 2},
		{VSUUID: "vs-gone", Requests: 99},
	})
	e.Observe([]sechannel.Metrics{
		{VSUUID: "vs-1", Requests: 5, Resp2xx: 4, Resp4xx: 1, BytesIn: 50, BytesOut: 500, LatencyP50: 2, LatencyP90: 3, LatencyP99: 10},
		{VSUUID: "vs-1", Requests: 0}, // an idle interval keeps the last latency
		{VSUUID: "vs-2", NewConns: 1, OpenConns: 1},
	})
	want := `
# HELP avi_se_config_version Configuration version the SE runs.
# TYPE avi_se_config_version gauge
avi_se_config_version 7
# HELP avi_se_virtualservice_applied Whether the SE applied the virtual service (1) or could not (0; the heartbeat says why).
# TYPE avi_se_virtualservice_applied gauge
avi_se_virtualservice_applied{uuid="vs-1",virtualservice="web"} 1
avi_se_virtualservice_applied{uuid="vs-2",virtualservice="db"} 0
# HELP avi_se_pool_member_up Whether a pool member takes traffic (1) or is down (0).
# TYPE avi_se_pool_member_up gauge
avi_se_pool_member_up{server="192.0.2.1:80",uuid="vs-1",virtualservice="web"} 1
avi_se_pool_member_up{server="192.0.2.2:80",uuid="vs-1",virtualservice="web"} 0
# HELP avi_se_virtualservice_connections_total Client connections accepted (L4).
# TYPE avi_se_virtualservice_connections_total counter
avi_se_virtualservice_connections_total{uuid="vs-1",virtualservice="web"} 0
avi_se_virtualservice_connections_total{uuid="vs-2",virtualservice="db"} 4
# HELP avi_se_virtualservice_latency_milliseconds Request latency quantiles over the last report interval.
# TYPE avi_se_virtualservice_latency_milliseconds gauge
avi_se_virtualservice_latency_milliseconds{quantile="0.5",uuid="vs-1",virtualservice="web"} 2
avi_se_virtualservice_latency_milliseconds{quantile="0.5",uuid="vs-2",virtualservice="db"} 0
avi_se_virtualservice_latency_milliseconds{quantile="0.9",uuid="vs-1",virtualservice="web"} 3
avi_se_virtualservice_latency_milliseconds{quantile="0.9",uuid="vs-2",virtualservice="db"} 0
avi_se_virtualservice_latency_milliseconds{quantile="0.99",uuid="vs-1",virtualservice="web"} 10
avi_se_virtualservice_latency_milliseconds{quantile="0.99",uuid="vs-2",virtualservice="db"} 0
# HELP avi_se_virtualservice_open_connections Client connections open (L4).
# TYPE avi_se_virtualservice_open_connections gauge
avi_se_virtualservice_open_connections{uuid="vs-1",virtualservice="web"} 0
avi_se_virtualservice_open_connections{uuid="vs-2",virtualservice="db"} 1
# HELP avi_se_virtualservice_requests_total HTTP requests served (L7).
# TYPE avi_se_virtualservice_requests_total counter
avi_se_virtualservice_requests_total{uuid="vs-1",virtualservice="web"} 15
avi_se_virtualservice_requests_total{uuid="vs-2",virtualservice="db"} 0
# HELP avi_se_virtualservice_responses_total HTTP responses by status class.
# TYPE avi_se_virtualservice_responses_total counter
avi_se_virtualservice_responses_total{class="1xx",uuid="vs-1",virtualservice="web"} 0
avi_se_virtualservice_responses_total{class="1xx",uuid="vs-2",virtualservice="db"} 0
avi_se_virtualservice_responses_total{class="2xx",uuid="vs-1",virtualservice="web"} 13
avi_se_virtualservice_responses_total{class="2xx",uuid="vs-2",virtualservice="db"} 0
avi_se_virtualservice_responses_total{class="3xx",uuid="vs-1",virtualservice="web"} 0
avi_se_virtualservice_responses_total{class="3xx",uuid="vs-2",virtualservice="db"} 0
avi_se_virtualservice_responses_total{class="4xx",uuid="vs-1",virtualservice="web"} 1
avi_se_virtualservice_responses_total{class="4xx",uuid="vs-2",virtualservice="db"} 0
avi_se_virtualservice_responses_total{class="5xx",uuid="vs-1",virtualservice="web"} 1
avi_se_virtualservice_responses_total{class="5xx",uuid="vs-2",virtualservice="db"} 0
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), "avi_se_config_version", "avi_se_virtualservice_applied", "avi_se_pool_member_up",
		"avi_se_virtualservice_connections_total", "avi_se_virtualservice_latency_milliseconds", "avi_se_virtualservice_open_connections",
		"avi_se_virtualservice_requests_total", "avi_se_virtualservice_responses_total"); err != nil {
		t.Error(err)
	}

	// A virtual service removed from the configuration loses its series.
	e.Configured(sechannel.Snapshot{Version: 8, VirtualServices: []sechannel.VirtualService{{UUID: "vs-2", Name: "db", Enabled: true}}}, nil)
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	if strings.Contains(text, `"web"`) {
		t.Errorf("removed virtual service still exported:\n%s", text)
	}
	for _, line := range []string{`avi_se_config_version 8`, `avi_se_virtualservice_bytes_total{direction="in",uuid="vs-2",virtualservice="db"} 0`} {
		if !strings.Contains(text, line) {
			t.Errorf("exposition lacks %q:\n%s", line, text)
		}
	}
}

func TestServeAnswersMetricsUntilTheContextEnds(t *testing.T) {
	e := New()
	e.Configured(sechannel.Snapshot{Version: 3}, nil)
	addr := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, addr) }()

	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/metrics"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "avi_se_config_version 3") {
		t.Errorf("GET /metrics: %s\n%s", resp.Status, body)
	}
	if err := e.Serve(context.Background(), addr); err == nil {
		t.Error("a second exporter on the same address: no error")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after its context ended: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running after its context ended")
	}
}
