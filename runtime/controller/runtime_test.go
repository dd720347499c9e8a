package controller

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
)

// TestRuntimeFromHeartbeats: two SEs report (fabricated heartbeats) on a virtual service with a
// pool of two servers. The runtime endpoints, the inventory and the health score show what the
// SEs run: applied on one SE and not on the other (with the SE's reason), a server down with its
// monitor's reason and since when, and the service down once all its servers are.
func TestRuntimeFromHeartbeats(t *testing.T) {
	e := newJoinEnv(t)
	clock := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	e.srv.now = func() time.Time { return clock }
	e.srv.se.now = e.srv.now
	e.srv.placer.settled = clock // started long ago
	pool := e.mustCreate(t, "pool", map[string]any{"name": "web-pool", "default_server_port": 8080, "servers": []any{
		map[string]any{"ip": map[string]any{"addr": "192.0.2.21", "type": "V4"}},
		map[string]any{"ip": map[string]any{"addr": "192.0.2.22", "type": "V4"}},
	}})
	vs := e.mustCreate(t, "virtualservice", map[string]any{"name": "web-vs", "services": []any{map[string]any{"port": 10080}}, "pool_ref": pool["url"]})
	poolUUID, vsUUID := pool["uuid"].(string), vs["uuid"].(string)
	tok := e.newToken(t, map[string]any{"max_uses": 2})
	joinA, joinB := e.join(t, tok, "se-a").want(t, http.StatusOK), e.join(t, tok, "se-b").want(t, http.StatusOK)
	seB := joinB.obj["se_uuid"].(string)

	up, down := true, false
	beat := func(join *apiResp, hb sechannel.Heartbeat) {
		t.Helper()
		e.do(t, "POST", sechannel.HeartbeatPath, hb, seCredOf(join)).want(t, http.StatusOK)
	}
	current := int64(e.srv.store.Version())
	served := func(second *bool, reason string) sechannel.Heartbeat {
		return sechannel.Heartbeat{ConfigVersion: current, Metrics: []sechannel.Metrics{
			{VSUUID: vsUUID, Seconds: 2},
			{VSUUID: vsUUID, PoolUUID: poolUUID, Server: "192.0.2.21:8080", Up: &up, OpenConns: 3},
			{VSUUID: vsUUID, PoolUUID: poolUUID, Server: "192.0.2.22:8080", Up: second, Reason: reason},
		}}
	}
	beat(joinA, served(&down, "hm-http: connect: connection refused"))
	beat(joinB, sechannel.Heartbeat{ConfigVersion: current, NotApplied: []sechannel.ServiceError{{VSUUID: vsUUID, Reason: "listen tcp :10080: address already in use"}}})

	rt := e.admin(t, "GET", "/api/virtualservice/"+vsUUID+"/runtime", nil).want(t, http.StatusOK).obj
	oper := rt["oper_status"].(map[string]any)
	if oper["state"] != "OPER_PARTITIONED" || !reflect.DeepEqual(oper["reason"], []any{"not applied on se-b: listen tcp :10080: address already in use"}) {
		t.Errorf("runtime oper_status %v: want OPER_PARTITIONED naming se-b and its reason", oper)
	}
	ses := rt["vip_summary"].([]any)[0].(map[string]any)["service_engine"].([]any)
	applied := map[string]any{}
	for _, s := range ses {
		m := s.(map[string]any)
		applied[m["name"].(string)] = m["applied"]
		if m["config_version"].(float64) != float64(current) {
			t.Errorf("%s holds config_version %v, want %d", m["name"], m["config_version"], current)
		}
	}
	if !reflect.DeepEqual(applied, map[string]any{"se-a": true, "se-b": false}) {
		t.Errorf("applied per SE %v: want se-a yes, se-b no", applied)
	}
	if rt["health_score"] != 25.0 || !reflect.DeepEqual(rt["health_score_reasons"], []any{"not serving on 1 of 2 service engines", "1 of 2 servers down"}) {
		t.Errorf("health %v %v: want 25 for one SE of two and one server of two", rt["health_score"], rt["health_score_reasons"])
	}

	// The inventory (the dashboard and the list) says the same, with the SE's reason.
	row := e.admin(t, "GET", "/api/virtualservice-inventory", nil).want(t, http.StatusOK).obj["results"].([]any)[0].(map[string]any)
	na := row["not_applied"].([]any)
	if row["health_score"] != 25.0 || len(na) != 1 || na[0].(map[string]any)["name"] != "se-b" || !strings.Contains(na[0].(map[string]any)["reason"].(string), "address already in use") {
		t.Errorf("inventory row %v: want health 25 and not applied on se-b with its reason", row)
	}

	// The SE's own runtime: the version it holds, the current one, what it could not apply.
	ser := e.admin(t, "GET", "/api/serviceengine/"+seB+"/runtime", nil).want(t, http.StatusOK).obj
	if ser["config_version"].(float64) != float64(current) || ser["current_config_version"].(float64) != float64(current) || ser["se_connected"] != false ||
		!reflect.DeepEqual(ser["not_applied"], []any{map[string]any{"vs_uuid": vsUUID, "name": "web-vs", "reason": "listen tcp :10080: address already in use"}}) {
		t.Errorf("se-b runtime %v", ser)
	}

	// The member down is down with its monitor's reason and since when se-a saw it go down.
	wentDown := clock
	clock = clock.Add(4 * time.Second)
	beat(joinA, served(&down, "hm-http: connect: connection refused"))
	members := e.admin(t, "GET", "/api/pool/"+poolUUID+"/runtime/server", nil).want(t, http.StatusOK).obj["results"].([]any)
	if len(members) != 2 {
		t.Fatalf("pool runtime lists %d servers, want 2: %v", len(members), members)
	}
	first, second := members[0].(map[string]any), members[1].(map[string]any)
	if st := first["oper_status"].(map[string]any); st["state"] != "OPER_UP" || first["open_conns"].(float64) != 3 {
		t.Errorf("first server %v: want up with 3 open connections", first)
	}
	st := second["oper_status"].(map[string]any)
	if st["state"] != "OPER_DOWN" || !reflect.DeepEqual(st["reason"], []any{"hm-http: connect: connection refused"}) ||
		st["last_changed_time"].(map[string]any)["secs"].(float64) != float64(wentDown.Unix()) ||
		second["last_check"].(map[string]any)["secs"].(float64) != float64(clock.Unix()) {
		t.Errorf("second server %v: want down with the monitor's reason since %v, checked at %v", second, wentDown, clock)
	}

	// se-b applies it too, and both servers go down: the service is down, health 0.
	beat(joinB, served(&down, "hm-http: connect: connection refused"))
	beat(joinA, sechannel.Heartbeat{ConfigVersion: current, Metrics: []sechannel.Metrics{
		{VSUUID: vsUUID, Seconds: 2},
		{VSUUID: vsUUID, PoolUUID: poolUUID, Server: "192.0.2.21:8080", Up: &down, Reason: "hm-http: response code 500"},
		{VSUUID: vsUUID, PoolUUID: poolUUID, Server: "192.0.2.22:8080", Up: &down, Reason: "hm-http: connect: connection refused"},
	}})
	rt = e.admin(t, "GET", "/api/virtualservice/"+vsUUID+"/runtime", nil).want(t, http.StatusOK).obj
	oper = rt["oper_status"].(map[string]any)
	if oper["state"] != "OPER_DOWN" || !reflect.DeepEqual(oper["reason"], []any{"all 2 servers down"}) || rt["health_score"] != 0.0 ||
		oper["last_changed_time"].(map[string]any)["secs"].(float64) != float64(clock.Unix()) {
		t.Errorf("runtime %v: want OPER_DOWN, all 2 servers down, health 0, changed now", rt)
	}

	// They come back: up again, with the time they came up.
	clock = clock.Add(10 * time.Second)
	for _, j := range []*apiResp{joinA, joinB} {
		beat(j, served(&up, ""))
	}
	rt = e.admin(t, "GET", "/api/virtualservice/"+vsUUID+"/runtime", nil).want(t, http.StatusOK).obj
	if rt["oper_status"].(map[string]any)["state"] != "OPER_UP" || rt["health_score"] != 100.0 {
		t.Errorf("runtime after recovery %v: want OPER_UP, health 100", rt)
	}
	members = e.admin(t, "GET", "/api/pool/"+poolUUID+"/runtime/server", nil).want(t, http.StatusOK).obj["results"].([]any)
	if st := members[1].(map[string]any)["oper_status"].(map[string]any); st["state"] != "OPER_UP" || st["last_changed_time"].(map[string]any)["secs"].(float64) != float64(clock.Unix()) {
		t.Errorf("second server after recovery %v: want up since %v", st, clock)
	}

	// Silent SEs: nothing placed on an SE that is up serves it.
	clock = clock.Add(DownAfter)
	rt = e.admin(t, "GET", "/api/virtualservice/"+vsUUID+"/runtime", nil).want(t, http.StatusOK).obj
	if oper := rt["oper_status"].(map[string]any); oper["state"] != "OPER_DOWN" || rt["health_score"] != 0.0 {
		t.Errorf("runtime with every SE silent %v: want OPER_DOWN, health 0", rt)
	}
	e.admin(t, "GET", "/api/virtualservice/nope/runtime", nil).want(t, http.StatusNotFound)
	e.admin(t, "GET", "/api/pool/nope/runtime/server", nil).want(t, http.StatusNotFound)
	e.admin(t, "GET", "/api/serviceengine/nope/runtime", nil).want(t, http.StatusNotFound)
}

// TestMemberRatesFromSEReports: a member's requests and errors per second are what the SEs
// report of it, summed over the SEs, each over its last five reports; a member reported twice
// in one heartbeat (a pool two services share) is counted once.
func TestMemberRatesFromSEReports(t *testing.T) {
	e := newJoinEnv(t)
	clock := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	e.srv.now = func() time.Time { return clock }
	e.srv.se.now = e.srv.now
	e.srv.placer.settled = clock
	pool := e.mustCreate(t, "pool", map[string]any{"name": "web-pool", "default_server_port": 8080, "servers": []any{
		map[string]any{"ip": map[string]any{"addr": "192.0.2.21", "type": "V4"}}}})
	poolUUID := pool["uuid"].(string)
	one := e.mustCreate(t, "virtualservice", map[string]any{"name": "one", "services": []any{map[string]any{"port": 10080}}, "pool_ref": pool["url"]})["uuid"].(string)
	two := e.mustCreate(t, "virtualservice", map[string]any{"name": "two", "services": []any{map[string]any{"port": 10081}}, "pool_ref": pool["url"]})["uuid"].(string)
	tok := e.newToken(t, map[string]any{"max_uses": 2})
	joinA, joinB := e.join(t, tok, "se-a").want(t, http.StatusOK), e.join(t, tok, "se-b").want(t, http.StatusOK)
	current := int64(e.srv.store.Version())
	up := true
	// beat reports one second in which the member answered requests, of which errs were 5xx
	// and failed went unanswered; the second report of the member (for two) carries nothing.
	beat := func(join *apiResp, requests, errs, failed int64) {
		t.Helper()
		e.do(t, "POST", sechannel.HeartbeatPath, sechannel.Heartbeat{ConfigVersion: current, Metrics: []sechannel.Metrics{
			{VSUUID: one, PoolUUID: poolUUID, Server: "192.0.2.21:8080", Seconds: 1, Up: &up, Requests: requests, Resp5xx: errs, Failed: failed},
			{VSUUID: two, PoolUUID: poolUUID, Server: "192.0.2.21:8080", Seconds: 1, Up: &up},
		}}, seCredOf(join)).want(t, http.StatusOK)
	}
	rates := func() (float64, float64) {
		t.Helper()
		m := e.admin(t, "GET", "/api/pool/"+poolUUID+"/runtime/server", nil).want(t, http.StatusOK).obj["results"].([]any)[0].(map[string]any)
		return m["requests_per_second"].(float64), m["errors_per_second"].(float64)
	}
	if rps, eps := rates(); rps != 0 || eps != 0 {
		t.Errorf("before any report: %v requests/s, %v errors/s; want 0", rps, eps)
	}
	// se-a: 10 requests in its first second, then 20 a second, 2 of them 5xx and 1 failed; its
	// first report falls out of the five.
	beat(joinA, 10, 0, 0)
	for range 5 {
		beat(joinA, 20, 2, 1)
	}
	beat(joinB, 30, 0, 0)
	if rps, eps := rates(); rps != 20+30 || eps != 3 {
		t.Errorf("rates %v requests/s, %v errors/s; want se-a's 20 and 3 plus se-b's 30 and 0", rps, eps)
	}
	// se-b goes silent: its reports no longer count.
	clock = clock.Add(DownAfter)
	beat(joinA, 20, 2, 1)
	if rps, eps := rates(); rps != 20 || eps != 3 {
		t.Errorf("rates with se-b down: %v requests/s, %v errors/s; want se-a's 20 and 3", rps, eps)
	}
}

// A deleted virtual service's state is not kept: the dashboard's pass forgets it.
func TestRuntimeForgetsDeletedServices(t *testing.T) {
	e := newJoinEnv(t)
	vs := e.mustCreate(t, "virtualservice", map[string]any{"name": "gone-vs", "services": []any{map[string]any{"port": 10080}}})
	e.admin(t, "GET", "/api/virtualservice/"+vs["uuid"].(string)+"/runtime", nil).want(t, http.StatusOK)
	if _, ok := e.srv.se.oper[vs["uuid"].(string)]; !ok {
		t.Fatal("no state kept for a service whose runtime was asked")
	}
	e.admin(t, "DELETE", "/api/virtualservice/"+vs["uuid"].(string), nil).want(t, http.StatusNoContent)
	e.admin(t, "GET", "/api/virtualservice-inventory", nil).want(t, http.StatusOK)
	if n := len(e.srv.se.oper); n != 0 {
		t.Errorf("%d states kept after the service was deleted", n)
	}
}
