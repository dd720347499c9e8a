// Package cluster makes the controllers of a cluster one configuration store: a raft node
// (hashicorp/raft, its log in raft-boltdb) whose state machine is the store. A write is
// acknowledged once a quorum has it in its log and this node has applied it; a single
// controller is a cluster of one on the same path.
package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Errors a write meets on a node that cannot commit it: the API answers them 503, or forwards
// the write to the leader.
var (
	ErrNotLeader = errors.New("this controller is not the cluster's leader")
	ErrNoQuorum  = errors.New("the cluster has no quorum: a majority of its nodes must be up and reachable to change the configuration")
)

// ErrDamaged is a node whose raft log or store cannot be trusted: it does not start, rather
// than serve a configuration the cluster may not share.
var ErrDamaged = errors.New("this controller's cluster state is damaged")

// LogFile is the raft log (and its stable store) under the node's directory.
const LogFile = "raft.db"

// DefaultHeartbeat is how long a follower waits without hearing from the leader before it
// stands for election (raft's is 1 s): half a second, so a new leader takes writes within about
// two seconds of the old one's death (BenchmarkControllerCluster), with room for a busy host.
const DefaultHeartbeat = 500 * time.Millisecond

// applyTimeout bounds a write's wait to be taken into the leader's log.
const applyTimeout = 10 * time.Second

// Config is what a node needs.
type Config struct {
	Dir  string // its raft directory: the log and the snapshots
	ID   string // its name in the cluster
	Addr string // where the other nodes reach it
	// Stream carries raft's messages to the other nodes (Transport, when set, instead: tests).
	Stream    *StreamLayer
	Transport raft.Transport
	// Join starts the node with no configuration, to be added by the cluster's leader (its store
	// must be empty: the leader's log or snapshot fills it); otherwise a node with no raft state
	// starts as a cluster of one.
	Join bool
	// HeartbeatTimeout sets raft's heartbeat and election timeouts (zero: DefaultHeartbeat); a
	// leader that has not heard from a quorum for as long, up to 500 ms, steps down. Tests go
	// faster.
	HeartbeatTimeout time.Duration
	Logger           *slog.Logger
	// RaftLog receives raft's own log lines (zero: standard error).
	RaftLog io.Writer

	trailingLogs uint64 // tests: snapshot and compact the log this often (zero: raft's)
}

// Node is this controller's member of the cluster.
type Node struct {
	cfg   Config
	log   *slog.Logger
	raft  *raft.Raft
	logs  *raftboltdb.BoltStore
	st    *store.Store
	fatal chan error // an apply that failed on this node: it no longer matches the others
}

// Open starts the node over st: a node with no raft state yet starts as a cluster of one (the
// first controller, or one not yet joined); one with state takes up where it was. Writes to st
// go through the node from now on.
func Open(cfg Config, st *store.Store) (*Node, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("raft directory: %w", err)
	}
	logPath := filepath.Join(cfg.Dir, LogFile)
	logs, err := raftboltdb.New(raftboltdb.Options{Path: logPath, BoltOptions: &bolt.Options{Timeout: 5 * time.Second}})
	if err != nil {
		return nil, fmt.Errorf("%w: open the raft log %s: %v. %s", ErrDamaged, logPath, err, RejoinHint(cfg.Dir))
	}
	out := cfg.RaftLog
	if out == nil {
		out = os.Stderr
	}
	snaps, err := raft.NewFileSnapshotStore(cfg.Dir, 2, out)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("raft snapshots: %w", err)
	}
	if err := checkLog(logs, snaps, st, cfg.Dir); err != nil {
		logs.Close()
		return nil, err
	}
	if cfg.Transport == nil {
		cfg.Transport = raft.NewNetworkTransport(cfg.Stream, 3, 10*time.Second, out)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.LogOutput, rc.LogLevel = out, "INFO"
	// The store is the state machine and is on disk: a restart does not rebuild it from the
	// snapshot, and batches it already applied are skipped (store.Apply).
	rc.NoSnapshotRestoreOnStart = true
	t := cmp.Or(cfg.HeartbeatTimeout, DefaultHeartbeat)
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = t, t, min(t, 500*time.Millisecond)
	has, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("%w: read the raft log %s: %v. %s", ErrDamaged, logPath, err, RejoinHint(cfg.Dir))
	}
	if !has && cfg.Join && st.Version() != 0 {
		logs.Close()
		return nil, fmt.Errorf("join a cluster: this controller holds a configuration of its own (version %d); only a fresh one joins, and its store is replaced by the cluster's", st.Version())
	}
	if cfg.trailingLogs > 0 {
		rc.TrailingLogs, rc.SnapshotThreshold, rc.SnapshotInterval = cfg.trailingLogs, cfg.trailingLogs, 50*time.Millisecond
	}
	if !has && !cfg.Join {
		self := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(cfg.Addr)}}}
		if err := raft.BootstrapCluster(rc, logs, logs, snaps, cfg.Transport, self); err != nil {
			logs.Close()
			return nil, fmt.Errorf("start a cluster of one: %w", err)
		}
	}
	n := &Node{cfg: cfg, log: log, logs: logs, st: st, fatal: make(chan error, 1)}
	r, err := raft.NewRaft(rc, &fsm{n: n}, logs, logs, snaps, cfg.Transport)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	n.raft = r
	st.SetCommit(n.commit)
	return n, nil
}

// Forget removes a node's raft state (its log and snapshots) from dir: a fresh controller,
// started on its own, that joins a cluster. The store must be replaced with it.
func Forget(dir string) error {
	if err := os.Remove(filepath.Join(dir, LogFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("forget this node's raft state: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "snapshots")); err != nil {
		return fmt.Errorf("forget this node's raft state: %w", err)
	}
	return nil
}

// RejoinHint tells an operator what to do with a node whose cluster state (its raft log in dir,
// or its store) is damaged.
func RejoinHint(dir string) string {
	return fmt.Sprintf("This controller does not start rather than serve a configuration the cluster may not share. "+
		"In a cluster: remove this node from it on the leader (PUT /api/cluster without it), wipe it (avi-init uninstall --purge) and join it again (avi-init --cluster-join); "+
		"a controller on its own: move %s and the store aside and import the last backup (/api/configuration/import)", dir)
}

// checkLog refuses a store that applied batches the log no longer has: the log was damaged or
// replaced, and what the store holds may not be what the cluster committed.
func checkLog(logs *raftboltdb.BoltStore, snaps raft.SnapshotStore, st *store.Store, dir string) error {
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("%w: read the raft log: %v. %s", ErrDamaged, err, RejoinHint(dir))
	}
	if metas, err := snaps.List(); err == nil && len(metas) > 0 {
		last = max(last, metas[0].Index)
	}
	if applied := st.Applied(); applied > last {
		return fmt.Errorf("%w: the store applied the cluster's writes up to %d, and the raft log in %s ends at %d. %s", ErrDamaged, applied, dir, last, RejoinHint(dir))
	}
	return nil
}

// commit is the store's way to make a batch durable: into the leader's log, committed by a
// quorum, applied here.
func (n *Node) commit(batch []byte) error {
	f := n.raft.Apply(batch, applyTimeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
			return fmt.Errorf("%w (the leader: %s)", ErrNotLeader, n.leaderName())
		case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout):
			// Lost quorum while it waited: the write may yet be committed by a new leader.
			return fmt.Errorf("%w: %v; the write may or may not have been made, read it back", ErrNoQuorum, err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return fmt.Errorf("%w: the controller is stopping", ErrNotLeader)
		}
		return err
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

func (n *Node) leaderName() string {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return "none elected"
	}
	return string(id)
}

// Failed is a channel that receives the error of an apply that failed on this node alone (a
// full disk, a damaged file): the node no longer matches the others and must stop.
func (n *Node) Failed() <-chan error { return n.fatal }

// IsLeader reports whether this node leads the cluster.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader is the leader's name and address, empty while there is none.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// LeaderCh receives true when this node becomes the leader and false when it stops being it.
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }

// WaitLeader waits until this node leads, as a cluster of one does once raft has started;
// ctx bounds the wait.
func (n *Node) WaitLeader(ctx context.Context) error {
	for !n.IsLeader() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait to lead the cluster (leader: %s): %w", n.leaderName(), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Every batch earlier leaders committed is applied before this one writes.
	return n.raft.Barrier(applyTimeout).Error()
}

// Member is one node of the cluster as raft's configuration has it.
type Member struct {
	ID, Addr string
	Voter    bool
}

// Members lists the cluster's nodes.
func (n *Node) Members() ([]Member, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Member
	for _, s := range f.Configuration().Servers {
		out = append(out, Member{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// Add makes a node a voting member; on the leader only.
func (n *Node) Add(id, addr string) error {
	return n.membership(n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, applyTimeout))
}

// Remove takes a node out of the cluster; on the leader only.
func (n *Node) Remove(id string) error {
	return n.membership(n.raft.RemoveServer(raft.ServerID(id), 0, applyTimeout))
}

func (n *Node) membership(f raft.IndexFuture) error {
	err := f.Error()
	if errors.Is(err, raft.ErrNotLeader) {
		return fmt.Errorf("%w (the leader: %s)", ErrNotLeader, n.leaderName())
	}
	return err
}

// Close stops raft and closes its log; the store stays open.
func (n *Node) Close() error {
	err := n.raft.Shutdown().Error()
	if t, ok := n.cfg.Transport.(io.Closer); ok {
		t.Close()
	}
	if closeErr := n.logs.Close(); err == nil {
		err = closeErr
	}
	return err
}

// fsm applies the cluster's log to the store.
type fsm struct{ n *Node }

func (f *fsm) Apply(l *raft.Log) any {
	err := f.n.st.Apply(l.Index, l.Data)
	if err != nil && !errors.Is(err, store.ErrStale) {
		f.n.log.Error("a committed write did not apply here; this controller stops", "index", l.Index, "err", err)
		select {
		case f.n.fatal <- err:
		default:
		}
	}
	return err
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	img, err := f.n.st.Snapshot()
	if err != nil {
		return nil, err
	}
	return snapshot{img}, nil
}

func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	return f.n.st.Restore(r)
}

type snapshot struct{ img *store.Image }

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.img.WriteTo(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshot) Release() { s.img.Close() }
