package controller

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/cluster"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Health checks between nodes: each asks the others every peerCheck; one that has not answered
// for peerDownAfter is down.
const (
	peerCheck     = time.Second
	peerDownAfter = 3 * time.Second
)

// peerHealth is what this node's checks found of the others, by raft name.
type peerHealth struct {
	mu    sync.Mutex
	nodes map[string]*peerState
}

type peerState struct {
	lastOK, upSince time.Time
}

// upSince is when the node came up, as this node's checks saw it, and whether it is up.
func (h *peerHealth) upSince(id string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.nodes[id]
	if !ok || time.Since(n.lastOK) > peerDownAfter {
		return time.Time{}, false
	}
	return n.upSince, true
}

func (h *peerHealth) answered(id string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nodes == nil {
		h.nodes = map[string]*peerState{}
	}
	n, ok := h.nodes[id]
	if !ok {
		n = &peerState{}
		h.nodes[id] = n
	}
	if at.Sub(n.lastOK) > peerDownAfter {
		n.upSince = at
	}
	n.lastOK = at
}

// nodeUp reports whether a node of the cluster is up, as this node sees it (itself: always).
func (s *Server) nodeUp(id string) bool {
	if id == s.id {
		return true
	}
	_, up := s.health.upSince(id)
	return up
}

// trustedPeer reports whether a certificate pin is a node's: a member of the cluster, or one
// a join answer named (before the store has the members).
func (s *Server) trustedPeer(hash string) bool {
	return s.peers.trusted(hash) || s.memberByCert(hash) != nil
}

// peerClient makes HTTPS requests of the other nodes, showing this node's certificate and
// checking theirs.
func (s *Server) peerClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: cluster.PeerTLS(&s.cert, s.trustedPeer), DisableKeepAlives: true}}
}

// checkPeers asks every other member how it is, every peerCheck, until ctx ends.
func (s *Server) checkPeers(ctx context.Context) {
	client := s.peerClient(peerCheck)
	self := s.id
	t := time.NewTicker(peerCheck)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, m := range store.List[*avi.ClusterMember](s.store) {
			if m.Name == self {
				continue
			}
			wg.Go(func() {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.Addr+"/api/cluster/ping", nil)
				if err != nil {
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					s.log.Debug("cluster node not answering", "node", m.Name, "err", err)
					return
				}
				defer resp.Body.Close()
				var ping struct {
					Name string `json:"name"`
				}
				if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&ping) == nil && ping.Name == m.Name {
					s.health.answered(m.Name, time.Now())
				}
			})
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// controllerNodes are the cluster's nodes as an SE reaches them: their SE ports and pins.
func (s *Server) controllerNodes() []sechannel.ControllerNode {
	var out []sechannel.ControllerNode
	s.store.View(func(v store.View) {
		for _, o := range v.List(avi.KindClusterMember) {
			m := o.(*avi.ClusterMember)
			out = append(out, sechannel.ControllerNode{Addr: m.Addr, CertHash: m.CertHash})
		}
	})
	return out
}
