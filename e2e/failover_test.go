package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/e2e/sehost"
	"github.com/avi-init/avi-init/model/avi"
)

// failoverTarget is issue 13's: the VIP on another SE of the group within 3 s of its primary
// going down.
const failoverTarget = 3 * time.Second

// failoverRig is the production shape of issue 13: a Linux server cloud of three SE hosts on one
// network, each with its SE, a client namespace on that network, and a north-south virtual
// service whose VIP is an address of the network, in Default-Group (active/standby).
type failoverRig struct {
	lc     *linuxCloud
	client *clientNS
	vip    netip.Addr
	vsUUID string
	byMAC  map[string]*sehost.Host // each host's hardware address on the network
	bySE   map[string]*sehost.Host // each host's SE, by uuid
	get    *http.Client
}

func newFailoverRig(t testing.TB) *failoverRig {
	t.Helper()
	lc := newLinuxCloud(t)
	n := lc.n
	opts := sehost.Options{AuthorizedKey: lc.pub, Sudo: true}
	hosts := n.Add(t, opts, opts, opts)
	w := lc.watch(t)
	lc.setHosts(t, hosts...)
	r := &failoverRig{lc: lc, byMAC: map[string]*sehost.Host{}, bySE: map[string]*sehost.Host{}}
	for _, h := range hosts {
		st, _ := w.ready(t, h.IP.String(), 3*time.Minute)
		r.bySE[avi.UUIDOf(st.SERef)] = h
		out, code, err := h.Exec(context.Background(), "cat", "/sys/class/net/eth0/address")
		mac, perr := net.ParseMAC(strings.TrimSpace(out))
		if err != nil || code != 0 || perr != nil {
			t.Fatalf("hardware address of %s: %q %d %v %v", h.IP, out, code, err, perr)
		}
		r.byMAC[mac.String()] = h
	}
	w.close()

	// The network's .2 to .9 are free for the test; hosts take .10 on, a few of them.
	base := n.Subnet.Addr().As4()
	r.client = newClientNS(t, n, netip.AddrFrom4([4]byte{base[0], base[1], base[2], 8}))
	r.vip = netip.AddrFrom4([4]byte{base[0], base[1], base[2], 200})
	r.get = r.client.httpClient(500 * time.Millisecond)

	// The pool's server answers with the address the request came from: the SE host that served it.
	backend := serveWhoAmI(t, n.Gateway.String())
	pool := lc.c.create(t, "pool", map[string]any{"name": "ns-pool", "servers": []any{map[string]any{
		"ip": map[string]string{"addr": n.Gateway.String(), "type": "V4"}, "port": backend}}})
	r.vsUUID = lc.c.create(t, "virtualservice", map[string]any{"name": "ns-web",
		"ip_address": map[string]string{"addr": r.vip.String(), "type": "V4"},
		"services":   []any{map[string]int{"port": 80}}, "pool_ref": "/api/pool/" + pool})
	return r
}

// serveWhoAmI serves, on ip, the address of each request's client; it stops when the test ends.
func serveWhoAmI(t testing.TB, ip string) int {
	t.Helper()
	return serveOn(t, ip, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, host)
	}))
}

// request sends one request to the VIP from the client and returns the host that served it.
func (r *failoverRig) request() (string, error) {
	return httpGet(r.get, "http://"+r.vip.String()+"/")
}

// roles reads the VIP's primary and standby from the virtual service's runtime: the primary is
// set once it serves the VIP, the standby once it is connected.
func (r *failoverRig) roles() (primary, standby *sehost.Host, err error) {
	code, raw, err := r.lc.c.send("GET", "/api/virtualservice/"+r.vsUUID+"/runtime", nil)
	if err != nil || code != http.StatusOK {
		return nil, nil, fmt.Errorf("GET the runtime: %d %v: %s", code, err, raw)
	}
	var rt struct {
		VIPSummary []struct {
			ServiceEngine []struct {
				UUID      string `json:"uuid"`
				Applied   bool   `json:"applied"`
				Connected bool   `json:"connected"`
				IsPrimary bool   `json:"is_primary"`
				IsStandby bool   `json:"is_standby"`
			} `json:"service_engine"`
		} `json:"vip_summary"`
	}
	if err := json.Unmarshal(raw, &rt); err != nil || len(rt.VIPSummary) != 1 {
		return nil, nil, fmt.Errorf("the runtime's vip_summary: %v: %s", err, raw)
	}
	for _, se := range rt.VIPSummary[0].ServiceEngine {
		switch {
		case se.IsPrimary && se.Applied:
			primary = r.bySE[se.UUID]
		case se.IsStandby && se.Connected:
			standby = r.bySE[se.UUID]
		}
	}
	return primary, standby, nil
}

// settled waits until the VIP has a primary serving it and a connected standby, both hosts of
// the rig, and returns them.
func (r *failoverRig) settled(t testing.TB, timeout time.Duration) (primary, standby *sehost.Host) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p, s, err := r.roles()
		if p != nil && s != nil {
			return p, s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no primary serving %s with a connected standby within %v: primary %v, standby %v, %v", r.vip, timeout, p, s, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// onlyHolder checks, as a client on the LAN sees it, that want alone holds the VIP: one ARP
// reply, from want's hardware address, and requests served through want.
func (r *failoverRig) onlyHolder(t testing.TB, want *sehost.Host) {
	t.Helper()
	macs, err := r.client.arpReplies(r.vip, time.Second)
	if err != nil {
		t.Fatalf("ARP for %s from the client: %v", r.vip, err)
	}
	var from []string
	for _, m := range macs {
		if h := r.byMAC[m.String()]; h != nil {
			from = append(from, h.IP.String())
		} else {
			from = append(from, m.String())
		}
	}
	if len(from) != 1 || from[0] != want.IP.String() {
		t.Errorf("ARP for the VIP %s answered by %v; want %s alone", r.vip, from, want.IP)
	}
	for range 5 {
		if by, err := r.request(); err != nil || by != want.IP.String() {
			t.Errorf("a request to the VIP: served by %q, %v; want %s", by, err, want.IP)
		}
	}
}

// diagnose tells what a failed check needs: the VIP's runtime, the addresses on each host, and
// what the client resolves the VIP to.
func (r *failoverRig) diagnose() string {
	var b strings.Builder
	_, raw, err := r.lc.c.send("GET", "/api/virtualservice/"+r.vsUUID+"/runtime", nil)
	fmt.Fprintf(&b, "runtime: %s %v\n", raw, err)
	for se, h := range r.bySE {
		out, _, err := h.Exec(context.Background(), "ip", "-4", "-br", "addr", "show", "eth0")
		fmt.Fprintf(&b, "host %s (SE %s): %s %v\n", h.IP, se, strings.TrimSpace(out), err)
		logs, _, _ := h.Exec(context.Background(), "sh", "-c", "docker logs --tail 15 avise 2>&1")
		fmt.Fprintf(&b, "  its SE's last log lines:\n%s\n", logs)
	}
	mac, state, err := r.client.neighbour(r.vip)
	fmt.Fprintf(&b, "client neighbour %s: %v %s %v\n", r.vip, mac, state, err)
	macs, err := r.client.arpReplies(r.vip, time.Second)
	fmt.Fprintf(&b, "ARP replies: %v %v", macs, err)
	return b.String()
}

// loadLoop sends requests to the VIP from the client back to back (each on a new connection,
// with a 500 ms timeout) and keeps each outcome.
type loadLoop struct {
	rig  *failoverRig
	stop func()
	done chan struct{}
	mu   sync.Mutex
	log  []outcome
}

type outcome struct {
	at  time.Time // when the request ended
	by  string    // the host that served it; "" when it failed
	err error     // why it failed
}

func (r *failoverRig) load() *loadLoop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loadLoop{rig: r, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			by, err := r.request()
			l.mu.Lock()
			l.log = append(l.log, outcome{at: time.Now(), by: by, err: err})
			l.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return l
}

func (l *loadLoop) close() {
	l.stop()
	<-l.done
}

// switchReport is what the load loop saw from the moment a primary was taken down.
type switchReport struct {
	took     time.Duration // to the first request served by another host
	by       string        // that host
	failed   int           // requests that failed in between
	errs     []string      // how they failed, when (since the switch began)
	answered int           // requests that succeeded in between (through the old primary)
}

func (s switchReport) String() string {
	return fmt.Sprintf("%v to the first request served by %s; %d requests failed during the switch, %d answered by the old primary",
		s.took.Round(10*time.Millisecond), s.by, s.failed, s.answered)
}

// switched waits until a request after since is served by a host other than old and reports.
func (l *loadLoop) switched(t testing.TB, since time.Time, old *sehost.Host, timeout time.Duration) switchReport {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		var rep switchReport
		for _, o := range l.log {
			if o.at.Before(since) {
				continue
			}
			switch o.by {
			case "":
				rep.failed++
				rep.errs = append(rep.errs, fmt.Sprintf("+%v: %v", o.at.Sub(since).Round(time.Millisecond), o.err))
			case old.IP.String():
				rep.answered++
			default:
				rep.took, rep.by = o.at.Sub(since), o.by
			}
			if rep.by != "" {
				break
			}
		}
		l.mu.Unlock()
		if rep.by != "" {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request served by another host than %s within %v of its SE going down (%d failed, %d served by it)\n%s", old.IP, timeout, rep.failed, rep.answered, l.rig.diagnose())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// since returns the outcomes after t, by host ("" for failures).
func (l *loadLoop) since(t time.Time) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, o := range l.log {
		if !o.at.Before(t) {
			out[o.by]++
		}
	}
	return out
}

// seConnected reports whether the SE on host h is connected to the controller.
func (r *failoverRig) seConnected(h *sehost.Host) bool {
	for se, host := range r.bySE {
		if host != h {
			continue
		}
		var rt struct {
			Connected bool `json:"se_connected"`
		}
		code, raw, err := r.lc.c.send("GET", "/api/serviceengine/"+se+"/runtime", nil)
		return err == nil && code == http.StatusOK && json.Unmarshal(raw, &rt) == nil && rt.Connected
	}
	return false
}

// TestVIPFailover is issue 13's production shape, checked as a client on the LAN sees it: three
// SE hosts, a north-south VIP held by exactly one of them; its SE stopped, killed, its host cut
// off the network and powered off in turn: the VIP moves to the standby within the target, the
// client's ARP follows, and the old holder coming back takes nothing back (a killed SE,
// restarted, and a cut-off one, reconnected, remove the VIP they had added and no longer serve).
func TestVIPFailover(t *testing.T) {
	r := newFailoverRig(t)
	ctx := context.Background()
	primary, standby := r.settled(t, time.Minute)
	waitFor(t, "the VIP to serve", 30*time.Second, func() bool { by, err := r.request(); return err == nil && by == primary.IP.String() })
	r.onlyHolder(t, primary)
	t.Logf("VIP %s on %s, standby %s", r.vip, primary.IP, standby.IP)
	load := r.load()
	defer load.close()

	onHost := func(args ...string) func(h *sehost.Host) error {
		return func(h *sehost.Host) error {
			if out, code, err := h.Exec(ctx, args...); err != nil || code != 0 {
				return fmt.Errorf("%v on %s: %d %v: %s", args, h.IP, code, err, out)
			}
			return nil
		}
	}
	for _, round := range []struct {
		name       string
		down, back func(h *sehost.Host) error // back: nil when the host brings it back itself
		target     time.Duration
		lossless   bool // no request may fail (one at most: see below)
	}{
		// The SE hands its VIP over before it lets it go: no request fails.
		{name: "SE stopped (systemctl stop avise)", down: onHost("systemctl", "stop", "avise"), back: onHost("systemctl", "start", "avise"), target: failoverTarget, lossless: true},
		// The SE removes nothing: avi-init supervise, seeing its container die, removes the
		// VIPs it recorded, and systemd restarts it.
		{name: "SE killed (docker kill --signal KILL avise)", down: onHost("docker", "kill", "--signal", "KILL", "avise"), target: failoverTarget},
		// The host runs on, cut off: its SE keeps the VIP it cannot be told to give up, the
		// standby takes it over on the LAN, and once the cable is back the old SE, told by
		// the controller, lets it go.
		{name: "network cut (cable pulled, host running)", down: func(h *sehost.Host) error { return h.Unplug(ctx) },
			back: func(h *sehost.Host) error { return h.Plug(ctx) }, target: failoverTarget},
		// Nothing on the host says goodbye: the controller goes by missed heartbeats.
		{name: "host powered off (cable pulled, then docker kill)", down: func(h *sehost.Host) error { return h.PowerOff(ctx) },
			back: func(h *sehost.Host) error { return h.PowerOn(ctx) }, target: failoverTarget},
	} {
		primary, standby := r.settled(t, 2*time.Minute)
		down := time.Now()
		if err := round.down(primary); err != nil {
			t.Fatal(err)
		}
		rep := load.switched(t, down, primary, 30*time.Second)
		t.Logf("%s on %s: %v", round.name, primary.IP, rep)
		if rep.by != standby.IP.String() {
			t.Errorf("%s: served by %s; want the standby %s", round.name, rep.by, standby.IP)
		}
		if rep.took > round.target {
			t.Errorf("%s: the VIP served again after %v; want within %v", round.name, rep.took, round.target)
		}
		if rep.failed > 0 {
			t.Logf("%s: failed requests: %v", round.name, rep.errs)
		}
		// The hand-over loses no request in nearly every run; one in a few CI runs under load
		// still fails (a request ending within 100 ms of the stop, its error logged above), not
		// yet explained: more than one is a regression.
		if round.lossless && rep.failed > 1 {
			t.Errorf("%s: %d requests failed; want none (one at most), the VIP handed over before the SE let it go", round.name, rep.failed)
		}
		r.onlyHolder(t, standby)
		if mac, state, err := r.client.neighbour(r.vip); err != nil || r.byMAC[mac.String()] != standby {
			t.Errorf("%s: the client's neighbour entry for %s: %v (%s) %v; want the standby's", round.name, r.vip, mac, state, err)
		}

		// The old primary returns: the new one keeps the VIP (no flap), and the old one does
		// not answer for it.
		if round.back != nil {
			if err := round.back(primary); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the SE on "+primary.IP.String()+" to be connected again", 2*time.Minute, func() bool { return r.seConnected(primary) })
		back := time.Now()
		time.Sleep(5 * time.Second)
		if p, _, err := r.roles(); p != standby {
			t.Errorf("%s: after the old primary returned, the primary is %v (%v); want %s kept", round.name, p, err, standby.IP)
		}
		if got := load.since(back); len(got) != 1 || got[standby.IP.String()] == 0 {
			t.Errorf("%s: the 5 s after the old primary returned: requests by host %v; want every one served by %s", round.name, got, standby.IP)
		}
		r.onlyHolder(t, standby)
	}
}
