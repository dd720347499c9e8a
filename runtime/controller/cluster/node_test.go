package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// heartbeat is the tests' raft timeout: fast, with room for a busy machine.
const heartbeat = 200 * time.Millisecond

// testNode is one controller's store and raft node, on an in-memory network with the others.
type testNode struct {
	name  string
	dir   string
	st    *store.Store
	node  *Node
	trans *raft.InmemTransport
}

type testCluster struct {
	t     testing.TB
	key   []byte // the cluster's secrets key, copied to every node
	nodes []*testNode
	cfg   func(*Config)
}

func newTestCluster(t testing.TB, cfg func(*Config)) *testCluster {
	c := &testCluster{t: t, cfg: cfg}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop()
		}
	})
	return c
}

// start opens node name's store and raft node (join: as a fresh node that waits to be added),
// connected to every other running node.
func (c *testCluster) start(name string, join bool) *testNode {
	t := c.t
	t.Helper()
	var n *testNode
	for _, old := range c.nodes {
		if old.name == name {
			n = old
		}
	}
	if n == nil {
		n = &testNode{name: name, dir: filepath.Join(t.TempDir(), name)}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if c.key != nil {
			if err := os.WriteFile(filepath.Join(n.dir, contract.SecretsKeyFile), c.key, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		c.nodes = append(c.nodes, n)
	}
	st, err := store.Open(filepath.Join(n.dir, contract.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	if c.key == nil {
		if c.key, err = os.ReadFile(filepath.Join(n.dir, contract.SecretsKeyFile)); err != nil {
			t.Fatal(err)
		}
	}
	_, n.trans = raft.NewInmemTransportWithTimeout(raft.ServerAddress(name), heartbeat)
	for _, o := range c.nodes {
		if o != n && o.node != nil {
			n.connect(o)
		}
	}
	cfg := Config{Dir: filepath.Join(n.dir, "raft"), ID: name, Addr: name, Transport: n.trans, Join: join,
		HeartbeatTimeout: heartbeat, RaftLog: io.Discard}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	node, err := Open(cfg, st)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	n.st, n.node = st, node
	return n
}

func (n *testNode) connect(o *testNode) {
	n.trans.Connect(o.trans.LocalAddr(), o.trans)
	o.trans.Connect(n.trans.LocalAddr(), n.trans)
}

// cut disconnects n from every other node, both ways: a pulled cable.
func (c *testCluster) cut(n *testNode) {
	for _, o := range c.nodes {
		if o != n && o.node != nil {
			n.trans.Disconnect(o.trans.LocalAddr())
			o.trans.Disconnect(n.trans.LocalAddr())
		}
	}
}

func (c *testCluster) heal(n *testNode) {
	for _, o := range c.nodes {
		if o != n && o.node != nil {
			n.connect(o)
		}
	}
}

// stop ends the node as a kill would: raft stops where it is, nothing is handed over.
func (n *testNode) stop() {
	if n.node == nil {
		return
	}
	n.node.Close()
	n.st.Close()
	n.node, n.st = nil, nil
}

// leader waits for one running node to lead and returns it.
func (c *testCluster) leader() *testNode {
	c.t.Helper()
	deadline := time.Now().Add(20 * heartbeat * 5)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if n.node != nil && n.node.IsLeader() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := n.node.WaitLeader(ctx)
				cancel()
				if err == nil {
					return n
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no node leads the cluster")
	return nil
}

// form starts a cluster of the named nodes: the first alone, the others fresh, added by it.
func (c *testCluster) form(names ...string) {
	c.t.Helper()
	c.start(names[0], false)
	l := c.leader()
	for _, name := range names[1:] {
		n := c.start(name, true)
		if err := l.node.Add(n.name, n.name); err != nil {
			c.t.Fatalf("add %s: %v", name, err)
		}
	}
}

func create(st *store.Store, name string) error {
	return st.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: name}, Type: avi.HealthMonitorTCP})
}

// contents is the store as its objects' JSON by uuid, and its version.
func contents(st *store.Store) (map[string]string, int64) {
	out := map[string]string{}
	var version int64
	st.View(func(v store.View) {
		version = v.Version()
		for _, k := range avi.Kinds {
			for _, o := range v.List(k.Kind) {
				data, _ := json.Marshal(o)
				out[o.GetMeta().UUID] = string(data)
			}
		}
	})
	return out, version
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameAs waits until n holds exactly what want holds.
func (c *testCluster) sameAs(n, want *testNode) {
	c.t.Helper()
	waitFor(c.t, n.name+" to hold what "+want.name+" holds", 10*time.Second, func() bool {
		a, av := contents(n.st)
		b, bv := contents(want.st)
		return av == bv && fmt.Sprint(a) == fmt.Sprint(b)
	})
}

// A single controller is a cluster of one: its writes go through raft, and a restart finds
// every acknowledged write, applied once.
func TestClusterOfOne(t *testing.T) {
	c := newTestCluster(t, nil)
	n := c.start("c1", false)
	c.leader()
	for i := range 5 {
		if err := create(n.st, fmt.Sprint("hm", i)); err != nil {
			t.Fatal(err)
		}
	}
	before, version := contents(n.st)
	if version != 5 || len(before) != 5 || n.st.Applied() == 0 {
		t.Fatalf("after 5 writes: version %d, %d objects, applied %d; want 5, 5, > 0", version, len(before), n.st.Applied())
	}
	n.stop()
	c.start("c1", false)
	c.leader()
	after, afterVersion := contents(n.st)
	if afterVersion != version || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after a restart: version %d, %v; want version %d, %v", afterVersion, after, version, before)
	}
	if err := create(n.st, "hm-after"); err != nil {
		t.Fatal(err)
	}
	if _, v := contents(n.st); v != version+1 {
		t.Fatalf("a write after the restart made version %d; want %d", v, version+1)
	}
}

// Four clients write while the leader is killed: every acknowledged write is on the new leader
// and both followers afterwards (the old leader too, once back), each write wholly or not at
// all, and the new leader takes writes.
func TestLeaderKilledDuringWrites(t *testing.T) {
	c := newTestCluster(t, nil)
	c.form("c1", "c2", "c3")
	old := c.leader()

	var mu sync.Mutex
	acked := map[string]bool{}
	tried := map[string]bool{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for client := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("client%d-%d", client, i)
				var st *store.Store
				mu.Lock()
				for _, n := range c.nodes {
					if n.node != nil && n.node.IsLeader() {
						st = n.st
					}
				}
				tried[name] = true
				mu.Unlock()
				if st == nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				err := create(st, name)
				mu.Lock()
				if err == nil {
					acked[name] = true
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	mu.Lock()
	c.cut(old)
	old.stop()
	ackedBefore := len(acked)
	mu.Unlock()
	l := c.leader()
	if l == old {
		t.Fatal("the killed node still leads")
	}
	waitFor(t, "writes acknowledged by the new leader", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) > ackedBefore+20
	})
	stop()
	wg.Wait()

	var follower *testNode
	for _, n := range c.nodes {
		if n != old && n != l {
			follower = n
		}
	}
	c.sameAs(follower, l)
	c.start(old.name, false)
	c.sameAs(old, l)

	have := map[string]bool{}
	objs, _ := contents(l.st)
	for _, data := range objs {
		var hm avi.HealthMonitor
		if err := json.Unmarshal([]byte(data), &hm); err != nil {
			t.Fatal(err)
		}
		have[hm.Name] = true
	}
	for name := range acked {
		if !have[name] {
			t.Errorf("acknowledged write %s is missing", name)
		}
	}
	for name := range have {
		if !tried[name] {
			t.Errorf("%s is there and nobody wrote it", name)
		}
	}
	t.Logf("%d writes acknowledged (%d before the leader was killed), %d objects", len(acked), ackedBefore, len(have))
}

// A leader cut off from the others is in the minority: it refuses writes (no split brain)
// while the majority elects another and goes on; back, it takes the majority's writes.
func TestMinorityRefusesWrites(t *testing.T) {
	c := newTestCluster(t, nil)
	c.form("c1", "c2", "c3")
	old := c.leader()
	if err := create(old.st, "before"); err != nil {
		t.Fatal(err)
	}
	c.cut(old)
	start := time.Now()
	err := create(old.st, "in-the-minority")
	if !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a write on the cut-off leader: %v; want it refused for want of a quorum", err)
	}
	t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
	l := c.leader()
	if l == old {
		t.Fatal("the cut-off node leads")
	}
	if err := create(l.st, "in-the-majority"); err != nil {
		t.Fatalf("the majority's new leader refuses a write: %v", err)
	}
	if _, err := store.GetByName[*avi.HealthMonitor](old.st, "in-the-minority"); err == nil {
		t.Error("the minority applied a write of its own")
	}
	c.heal(old)
	c.sameAs(old, l)
	if _, err := store.GetByName[*avi.HealthMonitor](old.st, "in-the-majority"); err != nil {
		t.Errorf("back, the old leader lacks the majority's write: %v", err)
	}
}

// A node that joins after the log was compacted gets the leader's snapshot, then the log.
func TestJoinerGetsTheSnapshot(t *testing.T) {
	c := newTestCluster(t, func(cfg *Config) { cfg.trailingLogs = 4 })
	c.start("c1", false)
	l := c.leader()
	for i := range 30 {
		if err := create(l.st, fmt.Sprint("hm", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a snapshot", 10*time.Second, func() bool {
		first, err := l.node.logs.FirstIndex()
		return err == nil && first > 10
	})
	n := c.start("c2", true)
	if err := l.node.Add(n.name, n.name); err != nil {
		t.Fatal(err)
	}
	c.sameAs(n, l)
	if err := create(l.st, "after"); err != nil {
		t.Fatal(err)
	}
	c.sameAs(n, l)
}

// Only a fresh node joins: one holding a configuration of its own is refused, not wiped.
func TestJoinRefusesANodeWithItsOwnConfiguration(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, contract.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := create(st, "mine"); err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport("c2")
	_, err = Open(Config{Dir: filepath.Join(dir, "raft"), ID: "c2", Addr: "c2", Transport: trans, Join: true, RaftLog: io.Discard}, st)
	if err == nil || !strings.Contains(err.Error(), "configuration of its own") {
		t.Fatalf("join with a configuration: %v; want it refused", err)
	}
	if _, err := store.GetByName[*avi.HealthMonitor](st, "mine"); err != nil {
		t.Errorf("the node's own configuration is gone: %v", err)
	}
}

// A node whose raft log is damaged or lost does not start, and says how to rejoin.
func TestDamagedLogRefusesToStart(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(path string) error
	}{
		{"garbage", func(path string) error {
			return os.WriteFile(path, []byte(strings.Repeat("not a raft log ", 1000)), 0o600)
		}},
		{"lost", os.Remove},
	} {
		t.Run(damage.name, func(t *testing.T) {
			c := newTestCluster(t, nil)
			n := c.start("c1", false)
			c.leader()
			if err := create(n.st, "hm"); err != nil {
				t.Fatal(err)
			}
			n.stop()
			if err := damage.do(filepath.Join(n.dir, "raft", LogFile)); err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(filepath.Join(n.dir, contract.StoreFile))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			_, trans := raft.NewInmemTransport("c1")
			_, err = Open(Config{Dir: filepath.Join(n.dir, "raft"), ID: "c1", Addr: "c1", Transport: trans, RaftLog: io.Discard}, st)
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "--cluster-join") {
				t.Fatalf("start with the raft log %s: %v; want ErrDamaged and how to rejoin", damage.name, err)
			}
			t.Log(err)
		})
	}
}

// A committed write that does not apply on one node alone (its disk gone, here its store file
// closed under it) is reported on Failed: that node no longer matches the others and stops,
// while the others go on.
func TestApplyFailureStopsTheNode(t *testing.T) {
	c := newTestCluster(t, nil)
	c.form("c1", "c2", "c3")
	l := c.leader()
	var broken *testNode
	for _, n := range c.nodes {
		if n != l {
			broken = n
			break
		}
	}
	broken.st.Close()
	if err := create(l.st, "after"); err != nil {
		t.Fatalf("a write with one follower broken: %v", err)
	}
	select {
	case err := <-broken.node.Failed():
		t.Logf("the broken node reports: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the node whose store could not apply a committed write did not report it")
	}
	select {
	case err := <-l.node.Failed():
		t.Errorf("the leader reports a failure too: %v", err)
	default:
	}
}
