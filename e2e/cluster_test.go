package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/avi-init/avi-init/e2e/sehost"
	"github.com/avi-init/avi-init/internal/syncbuf"
	"github.com/avi-init/avi-init/model/contract"
)

// Ports every controller of the cluster listens on, each in a network namespace of its own.
const (
	clusterHTTPS  = 9443
	clusterHTTP   = 9080
	clusterSysint = 8443
)

// clusterNode is a controller host of the cluster tests: `avi-init controller` in a network
// namespace of its own, plugged into the test network's bridge at its address, as a controller
// on its own host. It is killed, cut off and restarted as that host would be.
type clusterNode struct {
	*controllerProc
	ns   *clientNS
	ip   netip.Addr
	done chan error
}

// controllerCluster is three controller hosts on one network.
type controllerCluster struct {
	t     testing.TB
	n     *sehost.Network
	nodes []*clusterNode
	vip   netip.Addr // the cluster's virtual IP, held by the leader
}

func newControllerCluster(t testing.TB) *controllerCluster {
	t.Helper()
	need(t)
	n := sehost.NewNetwork(t)
	base := n.Subnet.Addr().As4()
	c := &controllerCluster{t: t, n: n, vip: netip.AddrFrom4([4]byte{base[0], base[1], base[2], 30})}
	for i := range 3 {
		ip := netip.AddrFrom4([4]byte{base[0], base[1], base[2], byte(21 + i)})
		node := &clusterNode{ns: newClientNS(t, n, ip), ip: ip,
			controllerProc: &controllerProc{data: filepath.Join(t.TempDir(), "ctl"), https: clusterHTTPS, sysint: clusterSysint,
				user: "admin", pass: testAdminPassword, logs: &syncbuf.Buffer{}, stopped: true}}
		c.nodes = append(c.nodes, node)
		t.Cleanup(func() {
			node.kill()
			if t.Failed() {
				t.Logf("controller %s log:\n%s", node.ip, node.logs)
			}
		})
	}
	return c
}

// start runs the node's controller; it returns once it answers.
func (n *clusterNode) start(t testing.TB) {
	t.Helper()
	if err := n.startProc(); err != nil {
		t.Fatal(err)
	}
	n.answering(t)
}

// answering waits for the node's controller to answer.
func (n *clusterNode) answering(t testing.TB) {
	t.Helper()
	waitFor(t, "the controller on "+n.ip.String()+" to answer", 60*time.Second, func() bool {
		if _, err := os.Stat(filepath.Join(n.data, contract.CertFile)); err != nil {
			return false
		}
		n.client = n.apiClient(t)
		return answers(n.client, n.url("/api/initial-data"))
	})
}

// startProc starts the controller process in the node's namespace.
func (n *clusterNode) startProc() error {
	fmt.Fprintf(n.logs, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	n.cmd = exec.Command(aviInit, "controller", "--data", n.data, "--ip", n.ip.String(),
		"--https-port", fmt.Sprint(clusterHTTPS), "--http-port", fmt.Sprint(clusterHTTP), "--sysint-port", fmt.Sprint(clusterSysint))
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.ns.start(n.cmd); err != nil {
		return err
	}
	n.stopped = false
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait() }()
	return nil
}

// apiClient reaches the node's API from inside its namespace (so also while it is cut off),
// trusting its certificate.
func (n *clusterNode) apiClient(t testing.TB) *http.Client {
	pemBytes, err := os.ReadFile(filepath.Join(n.data, contract.CertFile))
	if err != nil {
		t.Fatalf("controller certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := n.ns.do(func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// kill ends the controller as a power cut would (SIGKILL).
func (n *clusterNode) kill() {
	if n.stopped {
		return
	}
	n.stopped = true
	n.cmd.Process.Kill()
	<-n.done
}

// term stops the controller as systemctl stop would.
func (n *clusterNode) term() {
	if n.stopped {
		return
	}
	n.stopped = true
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// runtime is the node's GET /api/cluster/runtime: the cluster's state, its leader, and each
// node's state by name.
func (n *clusterNode) runtime() (state, leader string, nodes map[string]string) {
	var rt struct {
		ClusterState struct {
			State  string `json:"state"`
			Leader string `json:"leader"`
		} `json:"cluster_state"`
		NodeStates []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"node_states"`
	}
	code, data, err := n.send("GET", "/api/cluster/runtime", nil)
	if err != nil || code != http.StatusOK || json.Unmarshal(data, &rt) != nil {
		return fmt.Sprintf("%d %v %s", code, err, data), "", nil
	}
	nodes = map[string]string{}
	for _, ns := range rt.NodeStates {
		nodes[ns.Name] = ns.State
	}
	return rt.ClusterState.State, rt.ClusterState.Leader, nodes
}

// leader waits for a node the others follow, among those running, and returns it.
func (c *controllerCluster) leader(timeout time.Duration) *clusterNode {
	c.t.Helper()
	var l *clusterNode
	waitFor(c.t, "a leader", timeout, func() bool {
		for _, n := range c.nodes {
			if n.stopped {
				continue
			}
			if _, leader, _ := n.runtime(); leader != "" {
				for _, m := range c.nodes {
					if m.ip.String() == leader && !m.stopped {
						l = m
						return true
					}
				}
			}
		}
		return false
	})
	return l
}

// form sets up the first controller, lists the three in the cluster and joins the other two
// with tokens, as the installer's --cluster-join leaves them.
func (c *controllerCluster) form() {
	c.setUpFirst()
	c.joinOthers()
}

// setUpFirst starts the first controller and sets it up: a controller on its own.
func (c *controllerCluster) setUpFirst() {
	t := c.t
	t.Helper()
	first := c.nodes[0]
	first.start(t)
	tok, err := contract.ReadSetupToken(first.data)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if code := first.call(t, "POST", "/api/setup", map[string]any{"admin": map[string]string{"username": "admin", "password": testAdminPassword},
		"setup_token": tok}, &out); code != 200 {
		t.Fatalf("setup: %d %v", code, out)
	}
}

// joinOthers lists the three controllers in the cluster and joins the other two.
func (c *controllerCluster) joinOthers() {
	t := c.t
	t.Helper()
	first := c.nodes[0]
	var out map[string]any
	var nodes []any
	for _, n := range c.nodes {
		nodes = append(nodes, map[string]any{"ip": map[string]string{"addr": n.ip.String(), "type": "V4"}})
	}
	if code := first.call(t, "PUT", "/api/cluster", map[string]any{"name": "cluster-0-1", "nodes": nodes,
		"virtual_ip": map[string]string{"addr": c.vip.String(), "type": "V4"}}, &out); code != 200 {
		t.Fatalf("PUT /api/cluster: %d %v", code, out)
	}
	for _, n := range c.nodes[1:] {
		var tok map[string]string
		if code := first.call(t, "POST", "/api/cluster/jointoken", map[string]any{}, &tok); code != 201 {
			t.Fatalf("cluster join token: %d %v", code, tok)
		}
		if err := os.MkdirAll(n.data, 0o700); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(contract.ClusterJoin{Leader: first.ip.String(), Token: tok["token"]})
		if err := os.WriteFile(filepath.Join(n.data, contract.ClusterJoinFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		n.start(t)
	}
	waitFor(t, "the cluster to be up with its three nodes", 60*time.Second, func() bool {
		state, _, _ := first.runtime()
		return state == "CLUSTER_UP_HA_ACTIVE"
	})
}

// atVIP is the node whose certificate the cluster's virtual IP shows, from this machine over the
// network (nil when nothing answers there).
func (c *controllerCluster) atVIP() *clusterNode {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", netip.AddrPortFrom(c.vip, clusterHTTPS).String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return nil
	}
	defer conn.Close()
	got := conn.ConnectionState().PeerCertificates[0].Raw
	for _, n := range c.nodes {
		pemBytes, err := os.ReadFile(filepath.Join(n.data, contract.CertFile))
		if err != nil {
			continue
		}
		if block, _ := pem.Decode(pemBytes); block != nil && bytes.Equal(block.Bytes, got) {
			return n
		}
	}
	return nil
}

// virtualServices are the virtual services a node holds: name to its service port.
func (n *clusterNode) virtualServices(t testing.TB) map[string]int {
	t.Helper()
	var list struct {
		Results []struct {
			Name     string `json:"name"`
			Services []struct {
				Port int `json:"port"`
			} `json:"services"`
		} `json:"results"`
	}
	if code := n.call(t, "GET", "/api/virtualservice", nil, &list); code != 200 {
		t.Fatalf("list virtual services on %s: %d", n.ip, code)
	}
	out := map[string]int{}
	for _, vs := range list.Results {
		port := 0
		if len(vs.Services) > 0 {
			port = vs.Services[0].Port
		}
		out[vs.Name] = port
	}
	return out
}

// startClusterSE runs an SE on this machine that joins the cluster at node with token.
func startClusterSE(t testing.TB, node *clusterNode, token string) *seProc {
	t.Helper()
	return startSEAt(t, fmt.Sprintf("%s:%d", node.ip, clusterSysint), token, "se-1")
}

// hasService reports whether the SE holds a virtual service of that name.
func (s *seProc) hasService(name string) bool {
	_, names := s.snapshot()
	return slices.Contains(names, name)
}

// TestControllerCluster is issue 14's production shape, end to end: three controllers on one
// network form a cluster through the API; an SE joins and serves traffic throughout. The leader is killed (SIGKILL) while four clients write: every acknowledged write
// is on every node afterwards, an unacknowledged one wholly there or absent, a new leader takes
// writes, and the SE has every change and failed no request. A leader cut off from the others
// refuses writes (503) while the majority goes on, and catches up once back. All three
// restarted at once come back with every write; a node with a damaged raft log refuses to start
// and says how to rejoin.
func TestControllerCluster(t *testing.T) {
	c := newControllerCluster(t)
	c.form()
	first := c.nodes[0]

	// An SE joins (at the node that made its token, which the token pins: the leader) and serves
	// an east-west service to a backend here.
	backend := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	seTok := first.token(t, 3600)
	pool := first.create(t, "pool", map[string]any{"name": "web-pool", "servers": []any{map[string]any{"ip": map[string]string{"addr": "127.0.0.1", "type": "V4"}, "port": backend}}})
	webPort := freePorts(t, 1)[0]
	first.create(t, "virtualservice", map[string]any{"name": "web", "services": []any{map[string]int{"port": webPort}}, "pool_ref": "/api/pool/" + pool})
	se := startClusterSE(t, first, seTok)
	web := fmt.Sprintf("http://127.0.0.1:%d/", webPort)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, "the SE to serve web", 60*time.Second, func() bool { body, err := httpGet(client, web); return err == nil && body == "ok" })
	traffic := startLoad(func() (string, error) { return httpGet(client, web) })

	// Four clients write virtual services through every node while the leader is killed.
	old := c.leader(30 * time.Second)
	waitFor(t, "the leader to answer at the virtual IP", 30*time.Second, func() bool { return c.atVIP() == old })
	var mu sync.Mutex
	acked, tried := map[string]int{}, map[string]int{}
	outcomes := map[string]int{} // by status, or "no answer"
	ctx, stopWriters := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	port := 30000
	for w := range 4 {
		writers.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				n := c.nodes[(w+i)%3]
				mu.Lock()
				name, p := fmt.Sprintf("w%d-%d", w, i), port
				port++
				tried[name] = p
				mu.Unlock()
				code, _, err := n.send("POST", "/api/virtualservice", map[string]any{"name": name, "services": []any{map[string]int{"port": p}}})
				mu.Lock()
				if err != nil {
					outcomes["no answer"]++
				} else {
					outcomes[fmt.Sprint(code)]++
				}
				mu.Unlock()
				if err == nil && code == http.StatusCreated {
					mu.Lock()
					acked[name] = p
					mu.Unlock()
				} else if err == nil && code != http.StatusServiceUnavailable && code != http.StatusTooManyRequests {
					// 503: no leader for now; 429: basic-auth checks all busy (bcrypt), as on one controller.
					t.Errorf("write %s on %s: %d", name, n.ip, code)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	time.Sleep(3 * time.Second)
	killed := time.Now()
	old.kill()
	next := c.leader(30 * time.Second)
	if next == old {
		t.Fatal("the killed node leads")
	}
	waitFor(t, "the virtual IP to move to the new leader", 30*time.Second, func() bool { return c.atVIP() == next })
	t.Logf("the virtual IP answered by the new leader %v after the kill", time.Since(killed).Round(10*time.Millisecond))
	var firstAck time.Duration
	waitFor(t, "a write acknowledged by the new leader", 30*time.Second, func() bool {
		code, _, err := next.send("POST", "/api/healthmonitor", map[string]any{"name": "after-kill", "type": "HEALTH_MONITOR_TCP"})
		firstAck = time.Since(killed)
		return err == nil && code == http.StatusCreated
	})
	t.Logf("leader %s killed: %s leads, first write acknowledged %v after the kill", old.ip, next.ip, firstAck.Round(10*time.Millisecond))
	time.Sleep(2 * time.Second)
	stopWriters()
	writers.Wait()
	old.start(t)

	// Every node holds the same services: every acknowledged one, each one tried whole.
	want := next.virtualServices(t)
	for name, p := range acked {
		if want[name] != p {
			t.Errorf("acknowledged write %s (port %d): the leader has port %d", name, p, want[name])
		}
	}
	for name, p := range want {
		if name != "web" && tried[name] != p {
			t.Errorf("%s with port %d is there; it was written with port %d", name, p, tried[name])
		}
	}
	for _, n := range c.nodes {
		waitFor(t, n.ip.String()+" to hold what the leader holds", 30*time.Second, func() bool {
			return fmt.Sprint(n.virtualServices(t)) == fmt.Sprint(want)
		})
	}
	waitFor(t, "the SE to hold every service", 30*time.Second, func() bool {
		_, names := se.snapshot()
		got := map[string]bool{}
		for _, name := range names {
			got[name] = true
		}
		for name := range want {
			if !got[name] {
				return false
			}
		}
		return len(got) == len(want)
	})
	t.Logf("%d writes acknowledged of %d tried (%v); %d services on every node and the SE", len(acked), len(tried), outcomes, len(want))

	// The leader cut off: the minority refuses writes, the majority goes on.
	cut := c.leader(30 * time.Second)
	if err := cut.ns.unplug(); err != nil {
		t.Fatal(err)
	}
	code, body, err := cut.send("POST", "/api/healthmonitor", map[string]any{"name": "in-the-minority", "type": "HEALTH_MONITOR_TCP"})
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(string(body), "quorum") && !strings.Contains(string(body), "leader") {
		t.Errorf("a write on the cut-off leader: %d %v %s; want 503 naming the lost quorum", code, err, body)
	}
	var majority *clusterNode
	waitFor(t, "the majority to elect a leader", 30*time.Second, func() bool {
		for _, n := range c.nodes {
			if n != cut {
				if _, leader, _ := n.runtime(); leader != "" && leader != cut.ip.String() {
					majority = n
					return true
				}
			}
		}
		return false
	})
	if code, _, err := majority.send("POST", "/api/healthmonitor", map[string]any{"name": "in-the-majority", "type": "HEALTH_MONITOR_TCP"}); err != nil || code != http.StatusCreated {
		t.Fatalf("a write on the majority: %d %v", code, err)
	}
	if err := cut.ns.plug(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cut-off node to catch up", 30*time.Second, func() bool {
		var l struct {
			Count int `json:"count"`
		}
		code, data, err := cut.send("GET", "/api/healthmonitor?name=in-the-majority", nil)
		return err == nil && code == 200 && json.Unmarshal(data, &l) == nil && l.Count == 1
	})
	var l struct {
		Count int `json:"count"`
	}
	if _, data, _ := cut.send("GET", "/api/healthmonitor?name=in-the-minority", nil); json.Unmarshal(data, &l) != nil || l.Count != 0 {
		t.Errorf("the minority's write is in the cluster: %s", data)
	}

	// Traffic went on through all of it.
	results := traffic()
	failed := 0
	for _, r := range results {
		if r.err != nil || r.body != "ok" {
			failed++
		}
	}
	t.Logf("traffic through the SE: %d requests, %d failed", len(results), failed)
	if failed > 0 || len(results) == 0 {
		t.Errorf("traffic through the SE: %d of %d requests failed; want none", failed, len(results))
	}

	// All three restarted at once: every write is there.
	for _, n := range c.nodes {
		n.term()
	}
	for _, n := range c.nodes {
		if err := n.startProc(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		n.answering(t)
	}
	c.leader(60 * time.Second)
	for _, n := range c.nodes {
		waitFor(t, n.ip.String()+" to hold every write after the restart", 30*time.Second, func() bool {
			got := n.virtualServices(t)
			return fmt.Sprint(got) == fmt.Sprint(want)
		})
	}

	// A damaged raft log: the node does not start, and says how to rejoin.
	damaged := c.nodes[2]
	damaged.term()
	if err := os.WriteFile(filepath.Join(damaged.data, "raft", "raft.db"), []byte(strings.Repeat("damaged ", 4096)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := damaged.startProc(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-damaged.done:
		damaged.stopped = true
		if err == nil || !strings.Contains(damaged.logs.String(), "--cluster-join") {
			t.Errorf("a controller with a damaged raft log: exit %v; want it refused with how to rejoin:\n%s", err, damaged.logs)
		}
	case <-time.After(30 * time.Second):
		t.Error("a controller with a damaged raft log is still running after 30 s")
	}
}
