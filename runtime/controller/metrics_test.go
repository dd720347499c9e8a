package controller

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
)

// TestAnalyticsFromHeartbeats: an SE joins over HTTP and reports metrics and client logs for a
// virtual service; the analytics API, the dashboard inventory, the SE list and Prometheus
// /metrics show them.
func TestAnalyticsFromHeartbeats(t *testing.T) {
	e := newAPIEnv(t)
	if _, err := loadOrCreateCert(e.srv.cfg.DataDir, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.setUp(t, "Metrics-Pass-1", nil)
	vs := e.mustCreate(t, "virtualservice", map[string]any{"name": "web-vs", "services": []any{map[string]any{"port": 10001}},
		"analytics_policy": map[string]any{"metrics_realtime_update": map[string]any{"enabled": true}}})
	vsUUID := vs["uuid"].(string)

	tok := e.admin(t, "POST", "/api/jointoken", map[string]any{"description": "metrics"}).want(t, http.StatusCreated)
	join := e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": tok.obj["token"], "name": "se-m"}, apiCred{none: true}).want(t, http.StatusOK)
	seCred := apiCred{none: true, extraHeaders: map[string]string{
		sechannel.SEHeader: join.obj["se_uuid"].(string), "Authorization": "Bearer " + join.obj["credential"].(string)}}

	up := true
	hb := sechannel.Heartbeat{ConfigVersion: 3,
		Metrics: []sechannel.Metrics{
			{VSUUID: vsUUID, Seconds: 2, Requests: 600, Resp2xx: 570, Resp5xx: 30, LatencyP50: 2, LatencyP90: 5, LatencyP99: 9, OpenConns: 7},
			{VSUUID: vsUUID, PoolUUID: "pool-x", Server: "192.0.2.21:8080", Up: &up, Requests: 600},
		},
		Logs: []sechannel.ClientLog{
			{VSUUID: vsUUID, ClientIP: "192.0.2.9", Method: "GET", URIPath: "/first", ResponseCode: 200},
			{VSUUID: vsUUID, ClientIP: "192.0.2.9", Method: "GET", URIPath: "/second", ResponseCode: 503, Significant: true},
		}}
	e.do(t, "POST", sechannel.HeartbeatPath, hb, seCred).want(t, http.StatusOK)
	e.do(t, "POST", sechannel.HeartbeatPath, hb, apiCred{none: true}).want(t, http.StatusUnauthorized)

	series := e.admin(t, "GET", "/api/analytics/metrics/virtualservice/"+vsUUID+"?metric_id=l7_client.avg_complete_responses,l7_client.pct_latency_p99,l4_client.max_open_conns&step=5", nil).want(t, http.StatusOK)
	want := map[string]float64{"l7_client.avg_complete_responses": 600.0 / 5, "l7_client.pct_latency_p99": 9, "l4_client.max_open_conns": 7}
	for _, s := range series.obj["series"].([]any) {
		sr := s.(map[string]any)
		name := sr["header"].(map[string]any)["name"].(string)
		data := sr["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["value"].(float64) != want[name] {
			t.Errorf("%s = %v, want one point of %v", name, data, want[name])
		}
	}
	e.admin(t, "GET", "/api/analytics/metrics/virtualservice/"+vsUUID+"?metric_id=nope", nil).want(t, http.StatusBadRequest, "metric_id")
	e.admin(t, "GET", "/api/analytics/metrics/virtualservice/"+vsUUID+"?step=7", nil).want(t, http.StatusBadRequest, "step")

	logs := e.admin(t, "GET", "/api/analytics/logs/virtualservice/"+vsUUID+"?page_size=10", nil).want(t, http.StatusOK)
	results := logs.obj["results"].([]any)
	if len(results) != 2 || results[0].(map[string]any)["uri_path"] != "/second" || results[0].(map[string]any)["significant"] != true {
		t.Errorf("client logs, newest first: %v", results)
	}

	inv := e.admin(t, "GET", "/api/virtualservice-inventory", nil).want(t, http.StatusOK)
	row := inv.obj["results"].([]any)[0].(map[string]any)
	if row["health_score"] == nil || row["oper_status"].(map[string]any)["state"] != "OPER_UP" {
		t.Errorf("inventory row %v: want a health score and OPER_UP with an SE up", row)
	}

	ses := e.admin(t, "GET", "/api/serviceengine", nil).want(t, http.StatusOK)
	se := ses.obj["results"].([]any)[0].(map[string]any)
	if se["config_version"].(float64) != 3 || se["oper_status"].(map[string]any)["state"] != "OPER_UP" || se["credential_hash"] != nil {
		t.Errorf("service engine as listed: %v", se)
	}

	e.do(t, "GET", "/metrics", nil, apiCred{none: true}).want(t, http.StatusUnauthorized)
	prom := e.admin(t, "GET", "/metrics", nil).want(t, http.StatusOK)
	for _, line := range []string{"avi_config_version ", `avi_service_engines{state="up"} 1`, `avi_virtualservice_requests_per_second{uuid="` + vsUUID + `",virtualservice="web-vs"} 2`} {
		if !strings.Contains(prom.raw, line) {
			t.Errorf("/metrics lacks %q:\n%s", line, prom.raw)
		}
	}
}

// A virtual service is shown up only once an SE that is up reports serving it: an SE up whose
// heartbeat does not list it (it rejected the configuration that added it) leaves it down.
func TestInventoryStatusFromSEReports(t *testing.T) {
	e := newAPIEnv(t)
	if _, err := loadOrCreateCert(e.srv.cfg.DataDir, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.setUp(t, "Metrics-Pass-1", nil)
	served := e.mustCreate(t, "virtualservice", map[string]any{"name": "served-vs", "services": []any{map[string]any{"port": 10001}}})
	e.mustCreate(t, "virtualservice", map[string]any{"name": "unserved-vs", "services": []any{map[string]any{"port": 10002}}})

	tok := e.admin(t, "POST", "/api/jointoken", map[string]any{"description": "status"}).want(t, http.StatusCreated)
	join := e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": tok.obj["token"], "name": "se-s"}, apiCred{none: true}).want(t, http.StatusOK)
	seCred := apiCred{none: true, extraHeaders: map[string]string{
		sechannel.SEHeader: join.obj["se_uuid"].(string), "Authorization": "Bearer " + join.obj["credential"].(string)}}
	hb := sechannel.Heartbeat{ConfigVersion: 2, ConfigError: "version 3: port 10002 in use",
		Metrics: []sechannel.Metrics{{VSUUID: served["uuid"].(string), Seconds: 2}}}
	e.do(t, "POST", sechannel.HeartbeatPath, hb, seCred).want(t, http.StatusOK)

	inv := e.admin(t, "GET", "/api/virtualservice-inventory", nil).want(t, http.StatusOK)
	want := map[string]string{"served-vs": "OPER_UP", "unserved-vs": "OPER_DOWN"}
	for _, r := range inv.obj["results"].([]any) {
		row := r.(map[string]any)
		name := row["name"].(string)
		if got := row["oper_status"].(map[string]any)["state"]; got != want[name] {
			t.Errorf("%s: oper_status %v, want %s", name, row["oper_status"], want[name])
		}
		delete(want, name)
	}
	if len(want) != 0 {
		t.Errorf("inventory lacks %v", want)
	}
}
