package controller

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/runtime/controller/cluster"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// raftHeartbeat is the heartbeat of a controller not given one (Config.RaftHeartbeat): zero
// is cluster.DefaultHeartbeat; this package's tests go faster. raftLog takes raft's own log lines (nil:
// standard error).
var (
	raftHeartbeat time.Duration
	raftLog       io.Writer
)

// nodeIDFile keeps this controller's name in its cluster: raft knows a node by it for life.
const nodeIDFile = "node-id"

// raftDir is the cluster node's directory under the data directory.
func (s *Server) raftDir() string { return filepath.Join(s.cfg.DataDir, "raft") }

// nodeAddr is where the other controllers reach this one: its management IP (loopback when it
// has none: a controller on its own) and the SE port, which carries raft beside the SE channel.
func (s *Server) nodeAddr() string {
	ip := s.cfg.IP
	if net.ParseIP(ip) == nil {
		ip = "127.0.0.1"
	}
	return net.JoinHostPort(ip, strconv.Itoa(s.cfg.SysintPort))
}

// loadNodeID is this controller's name in its cluster, made once and kept in its raft directory:
// its management IP, as Avi names cluster nodes, or its host name.
func (s *Server) loadNodeID() (string, error) {
	path := filepath.Join(s.raftDir(), nodeIDFile)
	if data, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	id := s.cfg.IP
	if net.ParseIP(id) == nil {
		host, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("name this controller: %w", err)
		}
		id = host
	}
	if err := os.MkdirAll(s.raftDir(), 0o700); err != nil {
		return "", fmt.Errorf("raft directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("name this controller: %w", err)
	}
	return id, nil
}

// startNode starts this controller's cluster node over the store. A controller the installer
// left a cluster join for joins first (once: a node with raft state is a member already). A
// controller on its own (a cluster of one) waits to lead, so that it can write from the start.
func (s *Server) startNode() error {
	id, err := s.loadNodeID()
	if err != nil {
		return err
	}
	s.id = id
	join, err := s.readClusterJoin()
	if err != nil {
		return err
	}
	if join != nil && !join.Joined && len(store.List[*avi.ClusterMember](s.store)) > 1 {
		// The installer run again on a node that is a member already.
		s.log.Info("this controller is a member of a cluster already; the cluster join file is not used", "file", contract.ClusterJoinFile)
		if err := os.Remove(filepath.Join(s.cfg.DataDir, contract.ClusterJoinFile)); err != nil {
			return err
		}
		join = nil
	}
	if join != nil && !join.Joined {
		if err := s.joinCluster(join); err != nil {
			return err
		}
		// A restart from here on takes up the join where it was: raft state is the cluster's.
		join.Joined = true
		if err := s.writeClusterJoin(join); err != nil {
			return err
		}
	}
	if join != nil {
		s.joining, s.joinLeader = true, cmp.Or(s.joinLeader, join.Leader)
	}
	stream, err := cluster.NewStreamLayer(s.nodeAddr(), func() (*tls.Certificate, error) { return &s.cert, nil }, s.trustedPeer)
	if err != nil {
		return err
	}
	node, err := cluster.Open(cluster.Config{Dir: s.raftDir(), ID: id, Addr: s.nodeAddr(), Stream: stream, Join: s.joining,
		HeartbeatTimeout: cmp.Or(s.cfg.RaftHeartbeat, raftHeartbeat), Logger: s.log, RaftLog: raftLog}, s.store)
	if err != nil {
		return err
	}
	s.node, s.stream = node, stream
	members, err := node.Members()
	if err != nil {
		node.Close()
		return fmt.Errorf("read the cluster's members: %w", err)
	}
	if len(members) == 1 && members[0].ID == id {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := node.WaitLeader(ctx); err != nil {
			node.Close()
			return err
		}
	}
	return nil
}

// peerSet is the certificates (sechannel.CertHash) of nodes a join named, trusted before the
// store has the cluster's members.
type peerSet struct {
	mu     sync.Mutex
	hashes map[string]bool
}

func (p *peerSet) add(hash string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hashes == nil {
		p.hashes = map[string]bool{}
	}
	p.hashes[hash] = true
}

func (p *peerSet) trusted(hash string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hashes[hash]
}
