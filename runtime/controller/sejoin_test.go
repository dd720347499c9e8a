package controller

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
)

// newJoinEnv is a set-up controller with its certificate, so that it mints join tokens.
func newJoinEnv(t *testing.T) *apiEnv {
	t.Helper()
	e := newAPIEnv(t)
	if _, err := loadOrCreateCert(e.srv.cfg.DataDir, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.setUp(t, "Join-Pass-1", nil)
	return e
}

// newToken mints a join token with the given fields and returns the token.
func (e *apiEnv) newToken(t *testing.T, body map[string]any) string {
	t.Helper()
	return e.admin(t, "POST", "/api/jointoken", body).want(t, http.StatusCreated).obj["token"].(string)
}

// join sends a join request without credentials.
func (e *apiEnv) join(t *testing.T, token, name string) *apiResp {
	t.Helper()
	return e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": token, "name": name}, apiCred{none: true})
}

// seCredOf is how the SE that a join answer admitted authenticates.
func seCredOf(join *apiResp) apiCred {
	return apiCred{none: true, extraHeaders: map[string]string{
		sechannel.SEHeader: join.obj["se_uuid"].(string), "Authorization": "Bearer " + join.obj["credential"].(string)}}
}

// listedToken is the GET /api/jointoken row of a token.
func (e *apiEnv) listedToken(t *testing.T, token string) map[string]any {
	t.Helper()
	id := strings.SplitN(token, ".", 2)[0]
	for _, r := range e.admin(t, "GET", "/api/jointoken", nil).want(t, http.StatusOK).obj["results"].([]any) {
		if row := r.(map[string]any); row["id"] == id {
			return row
		}
	}
	t.Fatalf("token %s not listed", id)
	return nil
}

// A join token lets one SE in unless the operator chose more; the list shows its uses; a used-up
// token is answered as an expired one; max_uses out of range is refused naming the field.
func TestJoinTokenSingleUseByDefault(t *testing.T) {
	e := newJoinEnv(t)
	tok := e.newToken(t, map[string]any{"description": "one"})
	if row := e.listedToken(t, tok); row["max_uses"] != 1.0 || row["uses"] != 0.0 {
		t.Errorf("new token listed as %v; want max_uses 1, uses 0", row)
	}
	e.join(t, tok, "se-a").want(t, http.StatusOK)
	if row := e.listedToken(t, tok); row["uses"] != 1.0 {
		t.Errorf("token after one join listed as %v; want uses 1", row)
	}
	e.join(t, tok, "se-b").want(t, http.StatusUnauthorized, "expired or used up")

	three := e.newToken(t, map[string]any{"max_uses": 3, "ttl_seconds": 600})
	for i := range 3 {
		e.join(t, three, "se-three-"+strconv.Itoa(i)).want(t, http.StatusOK)
	}
	e.join(t, three, "se-three-3").want(t, http.StatusUnauthorized, "expired or used up")
	if row := e.listedToken(t, three); row["max_uses"] != 3.0 || row["uses"] != 3.0 {
		t.Errorf("token of 3 uses after 4 joins listed as %v; want max_uses 3, uses 3", row)
	}

	for _, n := range []int{0, -1, 10001} {
		e.admin(t, "POST", "/api/jointoken", map[string]any{"max_uses": n}).want(t, http.StatusBadRequest, "max_uses", "1 to 10000")
	}
	e.admin(t, "POST", "/api/jointoken", map[string]any{"max_uses": 10000}).want(t, http.StatusCreated)
}

// Parallel joins with one single-use token: exactly one SE gets in.
func TestConcurrentJoinsSpendASingleUseTokenOnce(t *testing.T) {
	e := newJoinEnv(t)
	tok := e.newToken(t, nil)
	const n = 16
	h := e.srv.Handler()
	start := make(chan struct{})
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := httptest.NewRequest("POST", sechannel.JoinPath, strings.NewReader(`{"token": "`+tok+`", "name": "se-`+strconv.Itoa(i)+`"}`))
			<-start
			codes <- serveFrom(h, "192.0.2."+strconv.Itoa(10+i), r).Code
		})
	}
	close(start)
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusUnauthorized] != n-1 {
		t.Errorf("%d parallel joins with a single-use token: %v; want one 200, the rest 401", n, count)
	}
	ses := e.admin(t, "GET", "/api/serviceengine", nil).want(t, http.StatusOK)
	if ses.obj["count"] != 1.0 {
		t.Errorf("service engines after the parallel joins: %s; want one", ses.raw)
	}
}

// A join under an existing SE's name never replaces its credential; the SE itself, presenting
// its own credential, joins again and keeps its identity.
func TestJoinNeverReplacesAnExistingSE(t *testing.T) {
	e := newJoinEnv(t)
	a := e.join(t, e.newToken(t, nil), "se-a").want(t, http.StatusOK)
	credA := seCredOf(a)
	hb := sechannel.Heartbeat{ConfigVersion: 1}
	e.do(t, "POST", sechannel.HeartbeatPath, hb, credA).want(t, http.StatusOK)

	second := e.newToken(t, nil)
	e.join(t, second, "se-a").want(t, http.StatusConflict, "delete it first", "own credential")
	e.do(t, "POST", sechannel.HeartbeatPath, hb, credA).want(t, http.StatusOK)
	if se := e.byName(t, "serviceengine", "se-a"); se["uuid"] != a.obj["se_uuid"] {
		t.Errorf("se-a after the refused join: %v; want uuid %v", se, a.obj["se_uuid"])
	}
	if row := e.listedToken(t, second); row["uses"] != 0.0 {
		t.Errorf("token of the refused join listed as %v; want it unspent", row)
	}
	// Another SE's credential does not unlock the name either.
	b := e.join(t, e.newToken(t, nil), "se-b").want(t, http.StatusOK)
	e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": second, "name": "se-a"}, seCredOf(b)).want(t, http.StatusConflict)

	// The SE itself joins again with its own credential: same uuid, same credential.
	again := e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": second, "name": "se-a", "version": "2.0"}, credA).want(t, http.StatusOK)
	if again.obj["se_uuid"] != a.obj["se_uuid"] || again.obj["credential"] != a.obj["credential"] {
		t.Errorf("re-join with its own credential: %v; want the identity %v kept", again.obj, a.obj)
	}
	e.do(t, "POST", sechannel.HeartbeatPath, hb, credA).want(t, http.StatusOK)
	if se := e.byName(t, "serviceengine", "se-a"); se["version"] != "2.0" {
		t.Errorf("se-a after re-joining: %v; want version 2.0", se)
	}

	// Deleted by the operator, the name is free for a new SE.
	e.admin(t, "DELETE", "/api/serviceengine/"+a.obj["se_uuid"].(string), nil).want(t, http.StatusNoContent)
	fresh := e.join(t, e.newToken(t, nil), "se-a").want(t, http.StatusOK)
	if fresh.obj["se_uuid"] == a.obj["se_uuid"] {
		t.Error("a new SE under a deleted SE's name got its uuid")
	}
	e.do(t, "POST", sechannel.HeartbeatPath, hb, credA).want(t, http.StatusUnauthorized)
}

// Control characters in what a joining SE says of itself, or in a token's description, are
// refused naming the field; the refused join does not spend the token.
func TestJoinRefusesControlCharacters(t *testing.T) {
	e := newJoinEnv(t)
	tok := e.newToken(t, nil)
	for field, value := range map[string]string{"name": "se\x00a", "hostname": "host\nforged: line", "version": "1.0\x1b[2J", "mgmt_ip": "192.0.2.1\x7f"} {
		body := map[string]any{"token": tok, "name": "se-ok", field: value}
		e.do(t, "POST", sechannel.JoinPath, body, apiCred{none: true}).want(t, http.StatusBadRequest, field+": ")
	}
	e.join(t, tok, "se-ok").want(t, http.StatusOK)
	e.admin(t, "POST", "/api/jointoken", map[string]any{"description": "rack\r\n4"}).want(t, http.StatusBadRequest, "description: ")
}

// Joins and logins share one throttle: a failed join counts as a failed login, and a good join
// does not reset the address's failed logins.
func TestJoinAndLoginShareOneThrottle(t *testing.T) {
	e := newJoinEnv(t)
	stopped := time.Now()
	e.srv.throttle = newThrottle(func() time.Time { return stopped })
	h := e.srv.Handler()
	const addr = "192.0.2.77"
	wrongLogin := func() int { return serveFrom(h, addr, loginRequest("admin", "Wr0ng-pass")).Code }
	join := func(token, name string) int {
		r := httptest.NewRequest("POST", sechannel.JoinPath, strings.NewReader(`{"token": "`+token+`", "name": "`+name+`"}`))
		return serveFrom(h, addr, r).Code
	}

	for i := range maxFailures - 1 {
		if c := wrongLogin(); c != http.StatusUnauthorized {
			t.Fatalf("wrong login %d: %d, want 401", i+1, c)
		}
	}
	if c := join(e.newToken(t, nil), "se-good"); c != http.StatusOK {
		t.Fatalf("good join: %d", c)
	}
	// The last failure the throttle allows, then the block: as if the join had not happened.
	if c := wrongLogin(); c != http.StatusUnauthorized {
		t.Fatalf("wrong login %d: %d, want 401", maxFailures, c)
	}
	if c := wrongLogin(); c != http.StatusTooManyRequests {
		t.Errorf("wrong login after %d failures and a good join: %d, want 429", maxFailures, c)
	}

	// From another address: failed logins and a failed join add up to the limit.
	const other = "192.0.2.78"
	for range maxFailures - 1 {
		serveFrom(h, other, loginRequest("admin", "Wr0ng-pass"))
	}
	parts := strings.Split(e.newToken(t, nil), ".")
	wrongSecret := parts[0] + "." + strings.Repeat("x", 16) + "." + strings.Join(parts[2:], ".")
	r := httptest.NewRequest("POST", sechannel.JoinPath, strings.NewReader(`{"token": "`+wrongSecret+`", "name": "se-guess"}`))
	if c := serveFrom(h, other, r).Code; c != http.StatusUnauthorized {
		t.Fatalf("join with a wrong secret: %d, want 401", c)
	}
	if c := serveFrom(h, other, loginRequest("admin", "Wr0ng-pass")).Code; c != http.StatusTooManyRequests {
		t.Errorf("wrong login after %d failed logins and a failed join: %d, want 429", maxFailures-1, c)
	}
}

// An SE reports only for the virtual services placed on it: metrics, pool member metrics and
// client logs for any other are dropped and counted in its heartbeat answer, the SE object and
// /metrics.
func TestSEReportsOnlyForPlacedServices(t *testing.T) {
	e := newJoinEnv(t)
	pool := e.mustCreate(t, "pool", map[string]any{"name": "p", "servers": []any{map[string]any{"ip": map[string]any{"addr": "192.0.2.21", "type": "V4"}, "port": 8080}}})
	vs := e.mustCreate(t, "virtualservice", map[string]any{"name": "web-vs", "services": []any{map[string]any{"port": 10001}}, "pool_ref": pool["url"]})
	vsUUID, poolUUID := vs["uuid"].(string), pool["uuid"].(string)
	const foreign = "virtualservice-00000000-0000-0000-0000-000000000001"

	join := e.join(t, e.newToken(t, nil), "se-r").want(t, http.StatusOK)
	up := true
	hb := sechannel.Heartbeat{ConfigVersion: 1,
		Metrics: []sechannel.Metrics{
			{VSUUID: vsUUID, Seconds: 2, Requests: 10},
			{VSUUID: vsUUID, PoolUUID: poolUUID, Server: "192.0.2.21:8080", Up: &up, Requests: 10},
			{VSUUID: foreign, Seconds: 2, Requests: 999},
			{VSUUID: vsUUID, PoolUUID: "pool-00000000-0000-0000-0000-000000000002", Server: "192.0.2.99:80", Requests: 999},
		},
		Logs: []sechannel.ClientLog{
			{VSUUID: vsUUID, ClientIP: "192.0.2.9", URIPath: "/mine"},
			{VSUUID: foreign, ClientIP: "192.0.2.9", URIPath: "/forged"},
		}}
	ans := e.do(t, "POST", sechannel.HeartbeatPath, hb, seCredOf(join)).want(t, http.StatusOK)
	if ans.obj["reports_dropped"] != 3.0 {
		t.Errorf("heartbeat answer %s; want reports_dropped 3", ans.raw)
	}
	ans = e.do(t, "POST", sechannel.HeartbeatPath, sechannel.Heartbeat{ConfigVersion: 1, Logs: hb.Logs[1:]}, seCredOf(join)).want(t, http.StatusOK)
	if ans.obj["reports_dropped"] != 4.0 {
		t.Errorf("second heartbeat answer %s; want reports_dropped 4 (counted on)", ans.raw)
	}

	if logs := e.srv.analytics.Logs(foreign, 10); len(logs) != 0 {
		t.Errorf("client logs kept for a virtual service not placed on the SE: %v", logs)
	}
	if logs := e.srv.analytics.Logs(vsUUID, 10); len(logs) != 1 || logs[0].URIPath != "/mine" {
		t.Errorf("client logs of the placed service: %v; want /mine", logs)
	}
	if _, ok := e.srv.analytics.Latest(foreign, "l7_client.avg_complete_responses"); ok {
		t.Error("metrics kept for a virtual service not placed on the SE")
	}
	if _, ok := e.srv.analytics.Latest("pool-00000000-0000-0000-0000-000000000002", "l7_client.avg_complete_responses"); ok {
		t.Error("metrics kept for a pool not of a service placed on the SE")
	}
	if _, ok := e.srv.analytics.Latest(poolUUID, "l7_client.avg_complete_responses"); !ok {
		t.Error("no metrics kept for the pool of the placed service")
	}
	if se := e.byName(t, "serviceengine", "se-r"); se["reports_dropped"] != 4.0 {
		t.Errorf("SE as listed: %v; want reports_dropped 4", se)
	}
	prom := e.admin(t, "GET", "/metrics", nil).want(t, http.StatusOK)
	if line := `avi_serviceengine_reports_dropped_total{serviceengine="se-r",uuid="` + join.obj["se_uuid"].(string) + `"} 4`; !strings.Contains(prom.raw, line) {
		t.Errorf("/metrics lacks %q", line)
	}
}

// Refused joins leave no SE behind: no object, no runtime state, no series in /metrics. (The
// controller keeps per-SE state only for SEs whose join committed.)
func TestRefusedJoinsLeaveNoStats(t *testing.T) {
	e := newJoinEnv(t)
	tok := e.newToken(t, nil)
	e.join(t, tok, "se-a").want(t, http.StatusOK)
	parts := strings.Split(e.newToken(t, nil), ".")
	e.join(t, parts[0]+"."+strings.Repeat("x", 16)+"."+strings.Join(parts[2:], "."), "se-guess").want(t, http.StatusUnauthorized)
	e.join(t, tok, "se-spent").want(t, http.StatusUnauthorized)
	e.join(t, e.newToken(t, nil), "se-a").want(t, http.StatusConflict)
	e.join(t, e.newToken(t, nil), "se-\x01bad").want(t, http.StatusBadRequest)

	ses := e.admin(t, "GET", "/api/serviceengine", nil).want(t, http.StatusOK)
	if ses.obj["count"] != 1.0 {
		t.Errorf("service engines after refused joins: %s; want se-a alone", ses.raw)
	}
	uuid := ses.obj["results"].([]any)[0].(map[string]any)["uuid"].(string)
	prom := e.admin(t, "GET", "/metrics", nil).want(t, http.StatusOK)
	if n := strings.Count(prom.raw, "avi_serviceengine_reports_dropped_total{"); n != 1 {
		t.Errorf("/metrics has %d per-SE series, want se-a's alone", n)
	}
	e.srv.se.mu.Lock()
	defer e.srv.se.mu.Unlock()
	for id := range e.srv.se.m {
		if id != uuid {
			t.Errorf("runtime state kept for %q, which did not join", id)
		}
	}
}
