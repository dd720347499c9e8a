package controller

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
)

// fakeClock is the controller's clock in a test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// twoSEs is a controller on a fake clock, started long ago (not settling), with a north-south
// service ns and an east-west one ew, and two SEs joined: se-a and se-b.
func twoSEs(t *testing.T) (e *apiEnv, clock *fakeClock, ns, ew string, a, b *apiResp) {
	t.Helper()
	e = newJoinEnv(t)
	clock = &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e.srv.now, e.srv.se.now = clock.now, clock.now
	e.srv.placer.settled = clock.now()
	ns = e.mustCreate(t, "virtualservice", map[string]any{"name": "ns", "ip_address": map[string]any{"addr": "10.0.0.5", "type": "V4"},
		"services": []any{map[string]any{"port": 80}}})["uuid"].(string)
	ew = e.mustCreate(t, "virtualservice", map[string]any{"name": "ew", "services": []any{map[string]any{"port": 8080}}})["uuid"].(string)
	tok := e.newToken(t, map[string]any{"max_uses": 2})
	return e, clock, ns, ew, e.join(t, tok, "se-a").want(t, http.StatusOK), e.join(t, tok, "se-b").want(t, http.StatusOK)
}

// A north-south service is placed on one SE of its group (the primary), an east-west one on
// both. The primary silent for DownAfter: the standby takes the service; the old primary heard
// from again: the new one keeps it (no flap back).
func TestFailoverMovesNorthSouthAndDoesNotFlapBack(t *testing.T) {
	e, clock, ns, ew, a, b := twoSEs(t)
	aUUID, bUUID := a.obj["se_uuid"].(string), b.obj["se_uuid"].(string)
	beat := func(se *apiResp) {
		t.Helper()
		e.do(t, "POST", sechannel.HeartbeatPath, sechannel.Heartbeat{}, seCredOf(se)).want(t, http.StatusOK)
	}
	placed := func() (nsOn []string, ewOn []string) {
		p, _ := e.srv.placement()
		return p[ns].Active, p[ew].Active
	}

	beat(a)
	clock.add(100 * time.Millisecond)
	beat(b)
	nsOn, ewOn := placed()
	if !slices.Equal(nsOn, []string{aUUID}) {
		t.Fatalf("ns on %v, want se-a alone (up first)", nsOn)
	}
	if p, _ := e.srv.placement(); p[ns].Standby != bUUID {
		t.Errorf("ns standby %q, want se-b", p[ns].Standby)
	}
	if len(ewOn) != 2 {
		t.Errorf("ew on %v, want both SEs", ewOn)
	}
	// The runtime shows the same: se-a holds the address, se-b stands by.
	roles := func() map[string]string {
		t.Helper()
		rt := e.admin(t, "GET", "/api/virtualservice/"+ns+"/runtime", nil).want(t, http.StatusOK).obj
		out := map[string]string{}
		for _, s := range rt["vip_summary"].([]any)[0].(map[string]any)["service_engine"].([]any) {
			m := s.(map[string]any)
			switch {
			case m["is_primary"] == true && m["is_standby"] == nil:
				out[m["name"].(string)] = "primary"
			case m["is_standby"] == true && m["is_primary"] == nil && m["applied"] == false:
				out[m["name"].(string)] = "standby"
			default:
				out[m["name"].(string)] = fmt.Sprint(m)
			}
		}
		return out
	}
	if got := roles(); !maps.Equal(got, map[string]string{"se-a": "primary", "se-b": "standby"}) {
		t.Errorf("vip_summary roles %v: want se-a primary, se-b standby", got)
	}

	// se-a silent: still primary short of DownAfter, replaced after.
	clock.add(DownAfter - 200*time.Millisecond)
	beat(b)
	if nsOn, _ := placed(); !slices.Equal(nsOn, []string{aUUID}) {
		t.Fatalf("ns on %v after se-a silent for %v, want se-a still", nsOn, DownAfter-100*time.Millisecond)
	}
	clock.add(200 * time.Millisecond)
	beat(b)
	nsOn, ewOn = placed()
	// ew stays on se-a too: it may still serve its host's clients, and holds no address.
	if !slices.Equal(nsOn, []string{bUUID}) || len(ewOn) != 2 {
		t.Fatalf("after se-a silent for %v: ns on %v, ew on %v; want ns on se-b, ew on both", DownAfter+100*time.Millisecond, nsOn, ewOn)
	}

	// se-a back: se-b keeps ns; se-a is its standby.
	beat(a)
	nsOn, ewOn = placed()
	if !slices.Equal(nsOn, []string{bUUID}) || len(ewOn) != 2 {
		t.Errorf("se-a back: ns on %v, ew on %v; want ns on se-b, ew on both", nsOn, ewOn)
	}
	if p, _ := e.srv.placement(); p[ns].Standby != aUUID {
		t.Errorf("ns standby %q, want se-a", p[ns].Standby)
	}
	if got := roles(); !maps.Equal(got, map[string]string{"se-a": "standby", "se-b": "primary"}) {
		t.Errorf("vip_summary roles after failover %v: want se-b primary, se-a standby", got)
	}
}

// TestLeavingSEHandsOver: an SE that says it is leaving is down for placement at once: its
// north-south service moves to the standby while it still serves, and the controller answers
// handed_over only once the new primary reports serving it. East-west services stay placed on
// it. Heard from again without leaving (restarted), it is up, and takes nothing back.
func TestLeavingSEHandsOver(t *testing.T) {
	e, clock, ns, ew, a, b := twoSEs(t)
	aUUID, bUUID := a.obj["se_uuid"].(string), b.obj["se_uuid"].(string)
	// beat sends a heartbeat reporting the services the SE serves, and returns the answer.
	beat := func(se *apiResp, leaving bool, serving ...string) sechannel.HeartbeatAnswer {
		t.Helper()
		hb := sechannel.Heartbeat{Leaving: leaving}
		for _, vs := range serving {
			hb.Metrics = append(hb.Metrics, sechannel.Metrics{VSUUID: vs})
		}
		r := e.do(t, "POST", sechannel.HeartbeatPath, hb, seCredOf(se)).want(t, http.StatusOK)
		return sechannel.HeartbeatAnswer{HandedOver: r.obj["handed_over"] == true}
	}
	beat(a, false)
	clock.add(100 * time.Millisecond)
	beat(b, false)
	if p, _ := e.srv.placement(); !slices.Equal(p[ns].Active, []string{aUUID}) || p[ns].Standby != bUUID {
		t.Fatalf("ns placed %+v; want se-a primary, se-b standby", p[ns])
	}
	beat(a, false, ns, ew)
	beat(b, false, ew)

	// se-a leaves: ns moves to se-b at once, not after DownAfter; ew stays on both.
	if ans := beat(a, true, ns, ew); ans.HandedOver {
		t.Errorf("handed over before se-b serves ns")
	}
	p, _ := e.srv.placement()
	if !slices.Equal(p[ns].Active, []string{bUUID}) || !slices.Contains(p[ew].Active, aUUID) {
		t.Fatalf("after se-a said it is leaving: ns on %v, ew on %v; want ns on se-b, ew still on se-a", p[ns].Active, p[ew].Active)
	}
	if ans := beat(a, true, ns, ew); ans.HandedOver {
		t.Errorf("handed over while se-b has not reported serving ns")
	}
	beat(b, false, ns, ew)
	if ans := beat(a, true, ns, ew); !ans.HandedOver {
		t.Errorf("not handed over once se-b serves ns")
	}
	// An SE that is not leaving is never told it handed over.
	if ans := beat(b, false, ns, ew); ans.HandedOver {
		t.Errorf("handed_over answered to an SE not leaving")
	}

	// se-a restarted: up again, ns stays on se-b, se-a its standby.
	beat(a, false, ew)
	if p, _ := e.srv.placement(); !slices.Equal(p[ns].Active, []string{bUUID}) || p[ns].Standby != aUUID {
		t.Errorf("after se-a returned: ns placed %+v; want se-b kept, se-a standby", p[ns])
	}

	// The last SE up leaving has nowhere to hand over to: answered at once.
	beat(a, true, ew)
	if ans := beat(b, true, ns, ew); !ans.HandedOver {
		t.Errorf("the last SE up leaving is kept waiting for SEs that cannot take its services")
	}
}

// An SE whose stream closes is down once streamGrace passes without a new stream, even while it
// heartbeats; a stream reconnecting within the grace keeps it up.
func TestClosedStreamIsDownAfterGrace(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newSERuntime(clock.now)
	st := r.state("se-a")
	st.lastHeartbeat, st.streams, st.opened = clock.now(), 1, clock.now()
	if !r.alive()["se-a"] {
		t.Fatal("an SE with a stream and a fresh heartbeat is not up")
	}
	st.streams, st.closed = 0, clock.now()
	clock.add(streamGrace - 100*time.Millisecond)
	if !r.alive()["se-a"] {
		t.Error("down within the grace of a closed stream")
	}
	st.streams, st.opened = 1, clock.now() // reconnected
	clock.add(200 * time.Millisecond)
	st.lastHeartbeat = clock.now()
	if !r.alive()["se-a"] {
		t.Error("down although its stream reconnected within the grace")
	}
	st.streams, st.closed = 0, clock.now()
	clock.add(streamGrace + 100*time.Millisecond)
	if r.alive()["se-a"] {
		t.Error("still up after its stream closed for longer than the grace")
	}
}

// A controller that starts again learns where the north-south services are from what the SEs
// report serving: the first SE heard from does not take them all, and each stays on the SE
// that holds it once the controller has settled.
func TestRestartKeepsWhatSEsReportServing(t *testing.T) {
	e := newJoinEnv(t)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e.srv.now, e.srv.se.now = clock.now, clock.now
	e.srv.placer.settled = clock.now().Add(DownAfter) // just started
	var vss []string
	for i, vip := range []string{"10.0.0.5", "10.0.0.6"} {
		vss = append(vss, e.mustCreate(t, "virtualservice", map[string]any{"name": "ns" + strconv.Itoa(i),
			"ip_address": map[string]any{"addr": vip, "type": "V4"}, "services": []any{map[string]any{"port": 80}}})["uuid"].(string))
	}
	tok := e.newToken(t, map[string]any{"max_uses": 2})
	a, b := e.join(t, tok, "se-a").want(t, http.StatusOK), e.join(t, tok, "se-b").want(t, http.StatusOK)
	serving := func(vs string) sechannel.Heartbeat {
		return sechannel.Heartbeat{Metrics: []sechannel.Metrics{{VSUUID: vs, Seconds: 1}}}
	}
	// se-b held ns1 before the restart, se-a ns0; se-b is heard from first.
	e.do(t, "POST", sechannel.HeartbeatPath, serving(vss[1]), seCredOf(b)).want(t, http.StatusOK)
	clock.add(300 * time.Millisecond)
	e.do(t, "POST", sechannel.HeartbeatPath, serving(vss[0]), seCredOf(a)).want(t, http.StatusOK)
	clock.add(DownAfter - 200*time.Millisecond) // settled, both up
	e.do(t, "POST", sechannel.HeartbeatPath, serving(vss[1]), seCredOf(b)).want(t, http.StatusOK)
	e.do(t, "POST", sechannel.HeartbeatPath, serving(vss[0]), seCredOf(a)).want(t, http.StatusOK)
	p, _ := e.srv.placement()
	if want := []string{a.obj["se_uuid"].(string)}; !slices.Equal(p[vss[0]].Active, want) {
		t.Errorf("ns0 on %v after the restart, want se-a which serves it", p[vss[0]].Active)
	}
	if want := []string{b.obj["se_uuid"].(string)}; !slices.Equal(p[vss[1]].Active, want) {
		t.Errorf("ns1 on %v after the restart, want se-b which serves it", p[vss[1]].Active)
	}
}
