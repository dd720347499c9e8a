package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/testnet"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

// backend is an HTTP server on loopback that says who it is.
type backend struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("X-Backend", name)
			io.Copy(w, r.Body)
		default:
			fmt.Fprintf(w, "%s xff=%s host=%s", name, r.Header.Get("X-Forwarded-For"), r.Host)
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) server() sechannel.Server { return serverOn(b.Listener) }

// serverOn is the pool member listening on l, on loopback.
func serverOn(l net.Listener) sechannel.Server {
	return sechannel.Server{IP: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, Enabled: true, Ratio: 1}
}

func vs(name string, port int, profile string, pool string, servers ...sechannel.Server) sechannel.VirtualService {
	return sechannel.VirtualService{UUID: "vs-" + name, Name: name, Enabled: true, VIP: "127.0.0.1",
		Services: []avi.Service{{Port: port}}, ProfileType: profile,
		Pool: &sechannel.Pool{UUID: pool, Name: pool, Algorithm: avi.LBRoundRobin, Servers: servers}}
}

func newDP(t testing.TB) *Dataplane {
	d := New(nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Close(ctx)
	})
	return d
}

var client = &http.Client{Timeout: 5 * time.Second}

func get(t *testing.T, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(body), fmt.Errorf("status %s", resp.Status)
	}
	return string(body), nil
}

func TestL7BalancesAndFailsOver(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	d := newDP(t)
	port := testnet.FreePort(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{vs("web", port, avi.ProfileHTTP, "p1", a.server(), b.server())}}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	seen := map[string]int{}
	for range 20 {
		body, err := get(t, url)
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.Fields(body)[0]]++
		if !strings.Contains(body, "xff=127.0.0.1") || !strings.Contains(body, fmt.Sprintf("host=127.0.0.1:%d", port)) {
			t.Fatalf("backend saw %q: want X-Forwarded-For and the client's Host", body)
		}
	}
	if seen["a"] != 10 || seen["b"] != 10 {
		t.Errorf("round robin over two members: %v", seen)
	}
	// One member goes away: every request still succeeds.
	b.Close()
	for i := range 20 {
		if body, err := get(t, url); err != nil || !strings.HasPrefix(body, "a ") {
			t.Fatalf("request %d after a member stopped: %q %v", i, body, err)
		}
	}
}

func TestL7LargeBodiesBothWays(t *testing.T) {
	addr := l7(t, newBackend(t, "a").server())
	payload := make([]byte, 20<<20)
	rand.Read(payload)
	// 20 MB each way takes seconds on a busy machine under the race detector.
	slow := &http.Client{Timeout: time.Minute}
	resp, err := slow.Post("http://"+addr+"/echo", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(got, payload) {
		t.Fatalf("20 MB echoed through the proxy: got %d bytes, equal %v", len(got), bytes.Equal(got, payload))
	}
}

func TestL7WebsocketUpgrade(t *testing.T) {
	// A backend that upgrades and echoes lines, as a websocket server would after its handshake.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want an upgrade", 400)
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			rw.WriteString("echo " + line)
			rw.Flush()
		}
	}))
	defer up.Close()
	c, err := net.Dial("tcp", l7(t, serverOn(up.Listener)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade through the proxy: %v %v", resp, err)
	}
	for _, msg := range []string{"hello\n", "again\n"} {
		fmt.Fprint(c, msg)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := br.ReadString('\n')
		if err != nil || got != "echo "+msg {
			t.Fatalf("over the upgraded connection: %q %v", got, err)
		}
	}
}

// tcpServer is a member on loopback that hands each connection to handle, which may keep it
// as long as it likes: when the test ends the listener and every connection still open are
// closed, and the handlers waited for.
func tcpServer(t testing.TB, handle func(c net.Conn)) sechannel.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, l, handle)
}

// serve is tcpServer on a listener of the test's.
func serve(t testing.TB, l net.Listener, handle func(c net.Conn)) sechannel.Server {
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	var handlers sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		handlers.Wait()
	})
	handlers.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = true
			mu.Unlock()
			handlers.Go(func() {
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c)
			})
		}
	})
	return serverOn(l)
}

// tcpEcho is a TCP server that echoes, then half-closes when the client does.
func tcpEcho(t *testing.T) sechannel.Server {
	return tcpServer(t, func(c net.Conn) {
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
	})
}

func TestL4ProxyHalfCloseAndDrain(t *testing.T) {
	d := newDP(t)
	port := testnet.FreePort(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{vs("tcp", port, avi.ProfileL4, "p", tcpEcho(t), tcpEcho(t))}}); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := bytes.Repeat([]byte("0123456789"), 100000)
	go func() {
		c.Write(payload[:len(payload)/2])
		// Remove the listener while this connection is in flight: it must carry on.
		d.Apply(sechannel.Snapshot{Version: 2})
		c.Write(payload[len(payload)/2:])
		c.(*net.TCPConn).CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("1 MB through L4 with a half-close, listener removed mid-way: %d bytes, %v", len(got), err)
	}
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		t.Error("the removed listener still accepts")
	}
}

// TestAppliesEachServiceOnItsOwn: a service whose port the host holds, and one claiming an
// address and port another service serves, are left out with their reasons; every other
// change of the same snapshot (a new service, a changed one, a removed one) applies. Once the
// host frees the port, applying the same snapshot again applies the service left out.
func TestAppliesEachServiceOnItsOwn(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	d := newDP(t)
	port, gone := testnet.FreePort(t), testnet.FreePort(t)
	if errs := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{
		vs("web", port, avi.ProfileHTTP, "p", a.server()), vs("old", gone, avi.ProfileHTTP, "p3", a.server())}}); errs != nil {
		t.Fatal(errs)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	busyPort := busy.Addr().(*net.TCPAddr).Port
	other := testnet.FreePort(t)
	snap := sechannel.Snapshot{Version: 2, VirtualServices: []sechannel.VirtualService{
		vs("twin", port, avi.ProfileL4, "p2", b.server()),
		vs("web", port, avi.ProfileHTTP, "p", b.server()),
		vs("new", other, avi.ProfileHTTP, "p", b.server()),
		vs("busy", busyPort, avi.ProfileHTTP, "p", b.server())}}
	errs := d.Apply(snap)
	reasons := map[string]string{}
	for _, e := range errs {
		reasons[e.VSUUID] = e.Reason
	}
	if len(reasons) != 2 || !strings.Contains(reasons["vs-twin"], "held by virtual service web") ||
		!strings.Contains(reasons["vs-busy"], fmt.Sprintf("listen tcp 127.0.0.1:%d: bind: address already in use", busyPort)) {
		t.Fatalf("not applied = %+v, want twin (port held by web) and busy (port taken on the host)", errs)
	}
	if n := strings.Count(reasons["vs-busy"], fmt.Sprintf("127.0.0.1:%d", busyPort)); n != 1 {
		t.Errorf("busy's reason %q names its address %d times, want once", reasons["vs-busy"], n)
	}
	for _, url := range []string{fmt.Sprintf("http://127.0.0.1:%d/", port), fmt.Sprintf("http://127.0.0.1:%d/", other)} {
		if body, err := get(t, url); err != nil || !strings.HasPrefix(body, "b ") {
			t.Errorf("%s = %q, %v; want the new configuration's member b", url, body, err)
		}
	}
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", gone), time.Second); err == nil {
		t.Error("a removed service still listens")
	}

	busy.Close()
	if errs := d.Apply(snap); len(errs) != 1 || errs[0].VSUUID != "vs-twin" {
		t.Fatalf("retry: not applied = %+v, want only twin", errs)
	}
	if body, err := get(t, fmt.Sprintf("http://127.0.0.1:%d/", busyPort)); err != nil || !strings.HasPrefix(body, "b ") {
		t.Errorf("the service whose port was freed = %q, %v; want it served", body, err)
	}
}

// TestHitlessReconfiguration runs a bounded load loop while the configuration changes under it:
// members are added and removed and a virtual service is added; no request may fail.
func TestHitlessReconfiguration(t *testing.T) {
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	d := newDP(t)
	port, port2 := testnet.FreePort(t), testnet.FreePort(t)
	base := vs("web", port, avi.ProfileHTTP, "p", a.server(), b.server())
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{base}}); err != nil {
		t.Fatal(err)
	}
	var failures, requests atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
				requests.Add(1)
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
				}
			}
		}()
	}
	configs := [][]sechannel.VirtualService{
		{vs("web", port, avi.ProfileHTTP, "p", a.server(), b.server(), c.server())},
		{vs("web", port, avi.ProfileHTTP, "p", b.server(), c.server())},
		{vs("web", port, avi.ProfileHTTP, "p", c.server()), vs("other", port2, avi.ProfileHTTP, "p2", a.server())},
		{vs("web", port, avi.ProfileHTTP, "p", a.server(), c.server())},
	}
	for i := range 20 {
		time.Sleep(50 * time.Millisecond)
		if err := d.Apply(sechannel.Snapshot{Version: int64(i + 2), VirtualServices: configs[i%len(configs)]}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if requests.Load() < 100 || failures.Load() != 0 {
		t.Fatalf("%d of %d requests failed during 20 reconfigurations", failures.Load(), requests.Load())
	}
	t.Logf("%d requests, 0 failed, across 20 reconfigurations", requests.Load())
}

func TestActiveHealthMonitorTakesMembersOutAndBack(t *testing.T) {
	var sick atomic.Bool
	mk := func(name string, sickOne bool) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sickOne && sick.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
			fmt.Fprint(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	good, flaky := mk("good", false), mk("flaky", true)
	hm := avi.HealthMonitor{Meta: avi.Meta{Name: "hm-http"}, Type: avi.HealthMonitorHTTP, SendInterval: 1, ReceiveTimeout: 1,
		SuccessfulChecks: 2, FailedChecks: 2, HTTPMonitor: &avi.HTTPMonitor{HTTPRequest: "GET / HTTP/1.0", HTTPResponseCode: []string{"HTTP_2XX"}}}
	v := vs("web", testnet.FreePort(t), avi.ProfileHTTP, "p", serverOn(good.Listener), serverOn(flaky.Listener))
	v.Pool.HealthMonitors = []avi.HealthMonitor{hm}
	d := newDP(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{v}}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", v.Services[0].Port)
	backends := func(n int) map[string]int {
		seen := map[string]int{}
		for range n {
			body, _ := get(t, url)
			seen[body]++
		}
		return seen
	}
	if seen := backends(10); seen["good"] == 0 || seen["flaky"] == 0 {
		t.Fatalf("both members serve while healthy: %v", seen)
	}
	sick.Store(true)
	// failed_checks 2 x send_interval 1 s: out within about 2 s.
	time.Sleep(2500 * time.Millisecond)
	if seen := backends(20); seen["good"] != 20 {
		t.Errorf("after the monitor failed twice, requests still reach the sick member: %v", seen)
	}
	// The controller is told which monitor failed and how.
	flakyAddr := flaky.Listener.Addr().String()
	reported := false
	metrics, _ := d.Report()
	for _, m := range metrics {
		if m.Server == flakyAddr {
			reported = true
			if m.Up == nil || *m.Up || !strings.HasPrefix(m.Reason, "hm-http: ") || !strings.Contains(m.Reason, "500") {
				t.Errorf("sick member reported as up %v, reason %q; want down with the monitor's reason", m.Up, m.Reason)
			}
		}
	}
	if !reported {
		t.Errorf("no report for the sick member %s in %+v", flakyAddr, metrics)
	}
	sick.Store(false)
	time.Sleep(2500 * time.Millisecond)
	if seen := backends(20); seen["flaky"] == 0 {
		t.Errorf("the recovered member gets no traffic after two passing checks: %v", seen)
	}
}

func TestReportCountsRequestsAndLogs(t *testing.T) {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, "ok")
	}))
	defer b.Close()
	v := vs("web", testnet.FreePort(t), avi.ProfileHTTP, "p", serverOn(b.Listener))
	d := newDP(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{v}}); err != nil {
		t.Fatal(err)
	}
	d.Report() // start a fresh interval
	base := fmt.Sprintf("http://127.0.0.1:%d", v.Services[0].Port)
	for range 150 {
		get(t, base+"/")
	}
	for range 3 {
		get(t, base+"/fail")
	}
	metrics, logs := d.Report()
	var m *sechannel.Metrics
	members := 0
	for i := range metrics {
		if metrics[i].Server == "" {
			m = &metrics[i]
		} else if metrics[i].Up != nil && *metrics[i].Up {
			members++
		}
	}
	if m == nil || m.Requests != 153 || m.Resp2xx != 150 || m.Resp5xx != 3 || m.BytesOut < 153*2 || m.LatencyP99 <= 0 || m.Seconds <= 0 {
		t.Fatalf("virtual service metrics: %+v", m)
	}
	if members != 1 {
		t.Errorf("member health reports: %d up, want 1", members)
	}
	member := b.Listener.Addr().(*net.TCPAddr)
	if got := memberCounts(metrics)[member.String()]; got != [4]int64{153, 0, 3, 0} {
		t.Errorf("member counts (requests, 4xx, 5xx, failed): %v; want [153 0 3 0]", got)
	}
	errs, sampled := 0, 0
	for _, l := range logs {
		if l.ServerIP != "127.0.0.1" || l.ServerPort != member.Port {
			t.Errorf("client log names server %s:%d; want the member %s", l.ServerIP, l.ServerPort, member)
		}
		if l.Significant {
			errs++
			if l.ResponseCode != 503 || l.URIPath != "/fail" || l.ClientIP != "127.0.0.1" {
				t.Errorf("error log %+v", l)
			}
		} else {
			sampled++
		}
	}
	if errs != 3 || sampled < 1 || sampled > 3 {
		t.Errorf("logs: %d errors (want 3) and %d sampled of 150 (want 1 in %d)", errs, sampled, sampleEvery)
	}
	m2, l2 := d.Report()
	for _, m := range m2 {
		if m.Requests != 0 || len(l2) != 0 {
			t.Errorf("a second report repeats the first: %+v, %d logs", m, len(l2))
		}
	}
	// With full client logs, every request is logged.
	v.FullClientLogs = true
	d.Apply(sechannel.Snapshot{Version: 2, VirtualServices: []sechannel.VirtualService{v}})
	for range 10 {
		get(t, base+"/")
	}
	if _, l3 := d.Report(); len(l3) != 10 {
		t.Errorf("full client logs: %d logs for 10 requests", len(l3))
	}
}

// memberCounts sums the members' outcomes in a report by member: requests, 4xx, 5xx, failed.
func memberCounts(metrics []sechannel.Metrics) map[string][4]int64 {
	out := map[string][4]int64{}
	for _, m := range metrics {
		if m.Server != "" {
			c := out[m.Server]
			out[m.Server] = [4]int64{c[0] + m.Requests, c[1] + m.Resp4xx, c[2] + m.Resp5xx, c[3] + m.Failed}
		}
	}
	return out
}

// TestMemberCountsOncePerPool: two services share a pool; the member's outcomes are reported
// once, whichever service the requests came through, and its health with each service. A member
// that closes a request's connection unanswered counts it failed, and not as a response.
func TestMemberCountsOncePerPool(t *testing.T) {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer b.Close()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }))
	defer dead.Close()
	one := vs("one", testnet.FreePort(t), avi.ProfileHTTP, "p", serverOn(b.Listener))
	two := vs("two", testnet.FreePort(t), avi.ProfileHTTP, "p", serverOn(b.Listener))
	broken := vs("broken", testnet.FreePort(t), avi.ProfileHTTP, "q", serverOn(dead.Listener))
	d := newDP(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{one, two, broken}}); err != nil {
		t.Fatal(err)
	}
	d.Report()
	for range 4 {
		get(t, fmt.Sprintf("http://127.0.0.1:%d/", one.Services[0].Port))
	}
	for range 2 {
		get(t, fmt.Sprintf("http://127.0.0.1:%d/missing", two.Services[0].Port))
	}
	// POST is not sent again: the dead member's failure is the request's.
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/", broken.Services[0].Port), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	metrics, _ := d.Report()
	health := 0
	for _, m := range metrics {
		if m.Server == b.Listener.Addr().String() && m.Up != nil {
			health++
		}
	}
	if health != 2 {
		t.Errorf("the shared member's health went with %d services; want 2", health)
	}
	counts := memberCounts(metrics)
	if got := counts[b.Listener.Addr().String()]; got != [4]int64{6, 2, 0, 0} {
		t.Errorf("shared member (requests, 4xx, 5xx, failed): %v; want [6 2 0 0]", got)
	}
	if got := counts[dead.Listener.Addr().String()]; got[0] != 0 || got[3] < 1 {
		t.Errorf("member that answers nothing (requests, 4xx, 5xx, failed): %v; want no response and at least one failed", got)
	}
}

// A member that refuses connections is skipped for requests with bodies too: the body is made
// anew for the next member.
func TestL7RetriesBodyOnAnotherMember(t *testing.T) {
	a := newBackend(t, "a")
	dead := sechannel.Server{IP: "127.0.0.1", Port: testnet.FreePort(t), Enabled: true, Ratio: 1}
	v := vs("post", testnet.FreePort(t), avi.ProfileHTTP, "p", dead, a.server())
	d := newDP(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{v}}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		body := fmt.Sprintf("payload %d", i)
		resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/echo", v.Services[0].Port), "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("POST %d with a dead member in the pool: %s %q, want the body echoed", i, resp.Status, got)
		}
	}
}

// With consistent hashing, one client keeps reaching one member.
func TestL7ConsistentHashKeepsAClientOnOneMember(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	v := vs("sticky", testnet.FreePort(t), avi.ProfileHTTP, "p", a.server(), b.server())
	v.Pool.Algorithm = avi.LBConsistentHash
	d := newDP(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{v}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range 20 {
		body, err := get(t, fmt.Sprintf("http://127.0.0.1:%d/", v.Services[0].Port))
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.Fields(body)[0]]++
	}
	if len(seen) != 1 {
		t.Errorf("one client reached %v: want a single member", seen)
	}
}

// TestL7ServesWhenEveryMemberIsMarkedDown: passive failures (a restart of one member and a
// reset on the other, say) have marked every member down; a request still goes to a member
// that serves, not to the client as a reset while the re-check is seconds away.
func TestL7ServesWhenEveryMemberIsMarkedDown(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	d := newDP(t)
	port := testnet.FreePort(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{vs("web", port, avi.ProfileHTTP, "p1", a.server(), b.server())}}); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	for _, u := range d.pools["p1"].members() {
		u.Health().Failure("connection reset by peer")
	}
	d.mu.Unlock()
	b.Close()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for i := range 10 {
		if body, err := get(t, url); err != nil || !strings.HasPrefix(body, "a ") {
			t.Fatalf("request %d with every member marked down and a serving: %q %v", i, body, err)
		}
	}
}

// TestL7RetryDoesNotReachAMemberMarkedDown: falling back to members marked down is for a pool
// with none up. While a member is up (one refused connection is not enough to take it out with
// three failed checks), a retry does not go to the member a monitor marked down.
func TestL7RetryDoesNotReachAMemberMarkedDown(t *testing.T) {
	sick := newBackend(t, "sick")
	refusing := sechannel.Server{IP: "127.0.0.1", Port: testnet.FreePort(t), Enabled: true, Ratio: 1}
	v := vs("web", testnet.FreePort(t), avi.ProfileHTTP, "p1", refusing, sick.server())
	v.Pool.HealthMonitors = []avi.HealthMonitor{{Meta: avi.Meta{Name: "hm-tcp"}, Type: avi.HealthMonitorTCP,
		SendInterval: 30, ReceiveTimeout: 1, SuccessfulChecks: 3, FailedChecks: 3}}
	d := newDP(t)
	if errs := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{v}}); errs != nil {
		t.Fatal(errs)
	}
	d.mu.Lock()
	for _, u := range d.pools["p1"].members() {
		if u.Addr == sick.Listener.Addr().String() {
			for range 3 {
				u.Health().Failure("hm-tcp: marked down by the test")
			}
		}
	}
	d.mu.Unlock()
	if body, err := get(t, fmt.Sprintf("http://127.0.0.1:%d/", v.Services[0].Port)); strings.HasPrefix(body, "sick ") {
		t.Errorf("request answered by the member marked down (%q, %v) while another member is up", body, err)
	}
}

// TestRetryKeepsUnchangedPoolsMonitors: applying the same snapshot again (the SE retrying a
// service left out) checks no member out of turn: an unchanged pool keeps its monitors.
func TestRetryKeepsUnchangedPoolsMonitors(t *testing.T) {
	var checks atomic.Int64
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			checks.Add(1)
		}
	}))
	defer member.Close()
	hm := avi.HealthMonitor{Meta: avi.Meta{Name: "hm-http"}, Type: avi.HealthMonitorHTTP, SendInterval: 30, ReceiveTimeout: 1,
		SuccessfulChecks: 1, FailedChecks: 1, HTTPMonitor: &avi.HTTPMonitor{HTTPRequest: "GET /health HTTP/1.0", HTTPResponseCode: []string{"HTTP_2XX"}}}
	v := vs("web", testnet.FreePort(t), avi.ProfileHTTP, "p", serverOn(member.Listener))
	v.Pool.HealthMonitors = []avi.HealthMonitor{hm}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	snap := sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{v,
		vs("busy", busy.Addr().(*net.TCPAddr).Port, avi.ProfileHTTP, "p2")}}
	d := newDP(t)
	apply := func() {
		t.Helper()
		if errs := d.Apply(snap); len(errs) != 1 {
			t.Fatalf("not applied %+v, want busy", errs)
		}
	}
	// The first check comes when the monitor starts; wait for it however slow the machine is,
	// so that what follows counts only the checks the retries would add.
	apply()
	for deadline := time.Now().Add(10 * time.Second); checks.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the monitor never checked the member")
		}
	}
	for range 4 {
		apply()
	}
	time.Sleep(300 * time.Millisecond)
	if n := checks.Load(); n != 1 {
		t.Errorf("%d health checks after 5 applies of one snapshot, want 1 (a 30 s interval)", n)
	}
}
