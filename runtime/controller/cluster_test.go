package controller

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/testnet"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/cluster"
	"github.com/avi-init/avi-init/runtime/se/vip"
)

// clusterHeartbeat is raft's timeout for the multi-node tests: real TLS between nodes on a
// machine that may be busy.
const clusterHeartbeat = 300 * time.Millisecond

// testNode is one controller of a cluster test, serving on its own loopback address.
type testNode struct {
	t    *testing.T
	ip   string
	dir  string
	cfg  Config
	srv  *Server
	stop func()
}

// startTestNode runs a controller as its host would (NewServer, then Serve) with ip as its
// management address.
func startTestNode(t *testing.T, ip, dir string) (*testNode, error) {
	t.Helper()
	cfg := Config{DataDir: dir, IP: ip, HTTPSPort: testnet.FreePort(t), HTTPPort: testnet.FreePort(t), SysintPort: testnet.FreePort(t),
		RaftHeartbeat: clusterHeartbeat, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := NewServer(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	n := &testNode{t: t, ip: ip, dir: dir, cfg: cfg, srv: s}
	stopped := false
	n.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		s.Close()
	}
	t.Cleanup(n.stop)
	waitFor(t, "the controller on "+ip+" to answer", 20*time.Second, func() bool {
		_, err := contract.ProbeController(context.Background(), dir, cfg.HTTPSPort)
		return err == nil
	})
	return n, nil
}

func (n *testNode) addr() string { return fmt.Sprintf("%s:%d", n.ip, n.cfg.SysintPort) }

// call sends a request as the admin (basic auth) to the node's HTTPS port.
func (n *testNode) call(method, path string, body any) (int, map[string]any) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, fmt.Sprintf("https://127.0.0.1:%d%s", n.cfg.HTTPSPort, path), rd)
	if err != nil {
		n.t.Fatal(err)
	}
	req.SetBasicAuth("admin", apiAdminPassword)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

func (n *testNode) runtime() (string, map[string]string) {
	code, rt := n.call("GET", "/api/cluster/runtime", nil)
	if code != http.StatusOK {
		return fmt.Sprint(code, rt), nil
	}
	nodes := map[string]string{}
	for _, ns := range apiGet(rt, "node_states").([]any) {
		m := ns.(map[string]any)
		nodes[m["name"].(string)] = fmt.Sprint(m["state"], "/", m["role"])
	}
	return apiGet(rt, "cluster_state", "state").(string), nodes
}

// setUp completes the setup wizard with the setup token from the node's data directory.
func (n *testNode) setUp() {
	n.t.Helper()
	tok, err := contract.ReadSetupToken(n.dir)
	if err != nil {
		n.t.Fatal(err)
	}
	setup, _ := json.Marshal(apiSetupRequest(apiAdminPassword))
	req, _ := http.NewRequest("POST", fmt.Sprintf("https://127.0.0.1:%d/api/setup", n.cfg.HTTPSPort), bytes.NewReader(setup))
	req.Header.Set(contract.SetupTokenHeader, tok)
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}).Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		n.t.Fatalf("setup on %s: %s", n.ip, resp.Status)
	}
}

// joinFile leaves what the installer leaves for --cluster-join.
func joinFile(t *testing.T, dir, leader, token string) {
	t.Helper()
	data, _ := json.Marshal(contract.ClusterJoin{Leader: leader, Token: token})
	if err := os.WriteFile(filepath.Join(dir, contract.ClusterJoinFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (n *testNode) joinToken() string {
	n.t.Helper()
	code, tok := n.call("POST", "/api/cluster/jointoken", map[string]any{})
	if code != http.StatusCreated {
		n.t.Fatalf("cluster join token: %d %v", code, tok)
	}
	return tok["token"].(string)
}

// The operator's path: one controller set up, the cluster's nodes PUT, two fresh controllers
// joined with tokens; writes on any node, reads on every node; the leader stopped, another
// leads and takes writes; a removal that would break the quorum refused, the dead node removed.
func TestThreeControllersFormACluster(t *testing.T) {
	ips := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	// Each controller's host, in the order they start (the set-up one refused is the fourth).
	var hostsMu sync.Mutex
	var hosts []*fakeVIPHost
	defer func(old func() vip.Host) { newVIPHost = old }(newVIPHost)
	newVIPHost = func() vip.Host {
		hostsMu.Lock()
		defer hostsMu.Unlock()
		h := &fakeVIPHost{have: map[netip.Addr]bool{}}
		hosts = append(hosts, h)
		return h
	}
	virtualIP := netip.MustParseAddr("192.0.2.100")
	holders := func() (out []int) {
		hostsMu.Lock()
		defer hostsMu.Unlock()
		for i, h := range hosts {
			if ok, _ := h.IsLocal(virtualIP); ok {
				out = append(out, i)
			}
		}
		return out
	}
	c1, err := startTestNode(t, ips[0], t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c1.setUp()
	if state, nodes := c1.runtime(); state != clusterUpNoHA || nodes[ips[0]] != nodeActive+"/"+roleLeader {
		t.Fatalf("a controller on its own: %s %v; want %s, itself the active leader", state, nodes, clusterUpNoHA)
	}

	nodes := []map[string]any{}
	for _, ip := range ips {
		nodes = append(nodes, map[string]any{"ip": map[string]any{"addr": ip, "type": "V4"}})
	}
	if code, out := c1.call("PUT", "/api/cluster", map[string]any{"name": "cluster-0-1", "nodes": nodes,
		"virtual_ip": map[string]any{"addr": virtualIP.String(), "type": "V4"}}); code != http.StatusOK {
		t.Fatalf("PUT /api/cluster: %d %v", code, out)
	}
	waitFor(t, "the leader to hold the virtual IP", 10*time.Second, func() bool { return slices.Equal(holders(), []int{0}) })
	if state, ns := c1.runtime(); state != clusterUpHANotReady || ns[ips[1]] != nodeNotJoined+"/<nil>" {
		t.Fatalf("with two nodes listed, not joined: %s %v; want %s", state, ns, clusterUpHANotReady)
	}

	// A controller that was set up is refused, and keeps its configuration.
	own, err := startTestNode(t, "127.0.0.14", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	own.setUp()
	own.stop()
	joinFile(t, own.dir, c1.addr(), c1.joinToken())
	if _, err := startTestNode(t, "127.0.0.14", own.dir); err == nil || !strings.Contains(err.Error(), "configuration of its own") {
		t.Fatalf("a set-up controller joining: %v; want it refused", err)
	}

	var joined []*testNode
	for _, ip := range ips[1:] {
		dir := t.TempDir()
		joinFile(t, dir, c1.addr(), c1.joinToken())
		n, err := startTestNode(t, ip, dir)
		if err != nil {
			t.Fatalf("%s joining: %v", ip, err)
		}
		joined = append(joined, n)
	}
	waitFor(t, "the cluster to be up with every node", 30*time.Second, func() bool {
		state, _ := c1.runtime()
		return state == clusterUpHAActive
	})
	// avi-init status, on each node's host, asks it as the node itself.
	for i, n := range []*testNode{c1, joined[0], joined[1]} {
		wantRole := roleFollower
		if i == 0 {
			wantRole = roleLeader
		}
		var ping contract.ClusterPing
		var err error
		waitFor(t, n.ip+" to see every node up", 20*time.Second, func() bool {
			ping, err = contract.ProbeCluster(context.Background(), n.dir, n.cfg.HTTPSPort)
			return err == nil && ping.ClusterState == clusterUpHAActive
		})
		if ping.Name != n.ip || ping.Role != wantRole {
			t.Errorf("%s as its status sees it: %+v; want %s", n.ip, ping, wantRole)
		}
	}
	if code, _ := c1.call("GET", "/api/cluster/ping", nil); code != http.StatusForbidden {
		t.Errorf("GET /api/cluster/ping as a user: %d; want 403, nodes only", code)
	}
	for _, n := range joined {
		if _, err := os.Stat(filepath.Join(n.dir, contract.ClusterJoinFile)); !os.IsNotExist(err) {
			t.Errorf("%s: the join file is still there (%v)", n.ip, err)
		}
	}

	// A write on a follower is the leader's; every node reads it.
	c2, c3 := joined[0], joined[1]
	if code, out := c2.call("POST", "/api/healthmonitor", map[string]any{"name": "via-follower", "type": "HEALTH_MONITOR_TCP"}); code != http.StatusCreated {
		t.Fatalf("a write on a follower: %d %v", code, out)
	}
	for _, n := range []*testNode{c1, c2, c3} {
		waitFor(t, n.ip+" to read the follower's write", 10*time.Second, func() bool {
			code, out := n.call("GET", "/api/healthmonitor?name=via-follower", nil)
			return code == http.StatusOK && apiGet(out, "count") == float64(1)
		})
	}

	// What the SEs report is the leader's, whichever node is asked; the answer says whose.
	for _, n := range []*testNode{c2, c3} {
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/api/serviceengine", n.cfg.HTTPSPort), nil)
		req.SetBasicAuth("admin", apiAdminPassword)
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values(clusterNodeHeader); resp.StatusCode != http.StatusOK || !slices.Equal(got, []string{ips[0]}) {
			t.Errorf("GET /api/serviceengine on %s: %s, answered by %v; want the leader's answer (%s)", n.ip, resp.Status, got, ips[0])
		}
	}
	if _, out := c2.call("GET", "/api/healthmonitor?name=via-follower", nil); apiGet(out, "count") != float64(1) {
		t.Errorf("a read on a follower: %v", out)
	}

	// Client logs are kept where the SEs reported them: a query on any node merges every node's,
	// newest first, and says which nodes answered.
	code, vs := c1.call("POST", "/api/virtualservice", map[string]any{"name": "logged", "services": []any{map[string]int{"port": 8080}}})
	if code != http.StatusCreated {
		t.Fatalf("create a virtual service: %d %v", code, vs)
	}
	vsUUID := vs["uuid"].(string)
	for _, n := range []*testNode{c2, c3} {
		waitFor(t, n.ip+" to hold the virtual service", 10*time.Second, func() bool {
			code, _ := n.call("GET", "/api/virtualservice/"+vsUUID+"?"+localQuery+"=1", nil)
			return code == http.StatusOK
		})
	}
	now := time.Now().UTC()
	c2.srv.analytics.Ingest(nil, []sechannel.ClientLog{{VSUUID: vsUUID, Timestamp: now.Add(-time.Minute).Format(time.RFC3339Nano), ClientIP: "192.0.2.2", URIPath: "/when-c2-led"}})
	c1.srv.analytics.Ingest(nil, []sechannel.ClientLog{{VSUUID: vsUUID, Timestamp: now.Format(time.RFC3339Nano), ClientIP: "192.0.2.1", URIPath: "/now"}})
	code, logs := c3.call("GET", "/api/analytics/logs/virtualservice/"+vsUUID, nil)
	if code != http.StatusOK || apiGet(logs, "count") != float64(2) || apiGet(logs, "results", 0, "uri_path") != "/now" || apiGet(logs, "results", 1, "uri_path") != "/when-c2-led" {
		t.Errorf("client logs on a follower: %d %v; want both nodes' logs, newest first", code, logs)
	}
	if nodes, _ := logs["cluster_nodes"].(map[string]any); len(nodes) != 3 || nodes[ips[1]] != "answered" {
		t.Errorf("client logs' cluster_nodes: %v; want the three nodes answered", logs["cluster_nodes"])
	}

	// The leader goes: another leads, and takes writes through either node.
	c1.stop()
	waitFor(t, "a new leader", 20*time.Second, func() bool { return c2.srv.node.IsLeader() || c3.srv.node.IsLeader() })
	if code, out := c3.call("POST", "/api/healthmonitor", map[string]any{"name": "after-failover", "type": "HEALTH_MONITOR_TCP"}); code != http.StatusCreated {
		t.Fatalf("a write after the leader went: %d %v", code, out)
	}
	// The virtual IP left with the old leader and is on the new one: c2 and c3 started last.
	hostsMu.Lock()
	newLeader := len(hosts) - 2
	hostsMu.Unlock()
	if c3.srv.node.IsLeader() {
		newLeader++
	}
	waitFor(t, "the new leader to hold the virtual IP", 10*time.Second, func() bool { return slices.Equal(holders(), []int{newLeader}) })
	// Keeping the dead node and removing the live follower would leave one of two up: refused.
	leader, follower := 1, 2
	if c3.srv.node.IsLeader() {
		leader, follower = 2, 1
	}
	lead := []*testNode{c1, c2, c3}[leader]
	waitFor(t, "the leader to tell a node is down and the other up", 20*time.Second, func() bool {
		state, ns := lead.runtime()
		return state == clusterUpHACompromise && strings.HasPrefix(ns[ips[0]], nodeInactive) && strings.HasPrefix(ns[ips[follower]], nodeActive)
	})
	keepDead := []map[string]any{nodes[0], nodes[leader]}
	if code, out := c2.call("PUT", "/api/cluster", map[string]any{"name": "cluster-0-1", "nodes": keepDead}); code != http.StatusConflict ||
		!strings.Contains(fmt.Sprint(out["error"]), "quorum") {
		t.Fatalf("removing %s, live, and keeping %s, down: %d %v; want 409 for the quorum", ips[follower], ips[0], code, out)
	}
	if code, out := c2.call("PUT", "/api/cluster", map[string]any{"name": "cluster-0-1", "nodes": nodes[1:]}); code != http.StatusOK {
		t.Fatalf("removing the dead node: %d %v", code, out)
	}
	waitFor(t, "the cluster of two to be up", 20*time.Second, func() bool {
		state, ns := c3.runtime()
		return state == clusterUpHAActive && len(ns) == 2
	})
}

// fakeVIPHost records the addresses a controller adds, as its host's interfaces would hold them.
type fakeVIPHost struct {
	mu   sync.Mutex
	have map[netip.Addr]bool
}

func (h *fakeVIPHost) IsLocal(ip netip.Addr) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.have[ip], nil
}
func (h *fakeVIPHost) LinkFor(netip.Addr) (string, error) { return "lo", nil }
func (h *fakeVIPHost) Add(_ string, ip netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.have[ip] = true
	return nil
}
func (h *fakeVIPHost) Remove(_ string, ip netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.have, ip)
	return nil
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A controller whose store is damaged does not start, and says how to rejoin.
func TestDamagedStoreRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	s, err := NewServer(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, contract.StoreFile), bytes.Repeat([]byte("damaged "), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = NewServer(Config{DataDir: dir})
	if !errors.Is(err, cluster.ErrDamaged) || !strings.Contains(err.Error(), "--cluster-join") {
		t.Fatalf("start with a damaged store: %v; want ErrDamaged and how to rejoin", err)
	}
}

// The identity a follower passes on is believed only from a node of the cluster: a client that
// sends the header itself is not logged in by it.
func TestForwardedIdentityOnlyFromNodes(t *testing.T) {
	e := newSetUpAPIEnv(t)
	var adminUUID string
	for _, u := range e.admin(t, "GET", "/api/user", nil).want(t, http.StatusOK).obj["results"].([]any) {
		if m := u.(map[string]any); m["username"] == "admin" {
			adminUUID = m["uuid"].(string)
		}
	}
	if adminUUID == "" {
		t.Fatal("no admin user listed")
	}
	r := e.do(t, "POST", "/api/healthmonitor", map[string]any{"name": "forged", "type": "HEALTH_MONITOR_TCP"},
		apiCred{none: true, extraHeaders: map[string]string{forwardedUser: adminUUID}})
	r.want(t, http.StatusUnauthorized)
}
