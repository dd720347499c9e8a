package controller

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/cluster"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Cluster states, as Avi names them (ClusterRuntime.cluster_state.state).
const (
	clusterUpNoHA         = "CLUSTER_UP_NO_HA"          // a controller on its own
	clusterUpHAActive     = "CLUSTER_UP_HA_ACTIVE"      // every node up
	clusterUpHACompromise = "CLUSTER_UP_HA_COMPROMISED" // a quorum up, not every node
	clusterUpHANotReady   = "CLUSTER_UP_HA_NOT_READY"   // a node listed has not joined yet
	clusterStarting       = "CLUSTER_STARTING"          // no leader this node knows of
	nodeActive            = "CLUSTER_ACTIVE"
	nodeInactive          = "CLUSTER_INACTIVE"
	nodeNotJoined         = "CLUSTER_NOT_JOINED"
	roleLeader            = "CLUSTER_LEADER"
	roleFollower          = "CLUSTER_FOLLOWER"
)

// clusterScope marks a join token as one a controller joins the cluster with (an SE's has none).
const clusterScope = "cluster"

// theCluster is the cluster object: one, seeded with this controller.
func theCluster(r store.Reader) (*avi.Cluster, error) {
	cs := store.List[*avi.Cluster](r)
	if len(cs) == 0 {
		return nil, fmt.Errorf("cluster: %w", store.ErrNotFound)
	}
	return cs[0], nil
}

// getCluster is GET /api/cluster: Avi's object itself.
func (s *Server) getCluster(w http.ResponseWriter, r *http.Request, _ *principal) {
	c, err := theCluster(s.store)
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// putCluster is PUT /api/cluster (and /api/cluster/<uuid>): the nodes the cluster is to have.
// A node added is listed until it joins (with a token of POST /api/cluster/jointoken); a node
// removed leaves raft's membership with it. The leader stays (it serves this request), and a
// removal that would leave fewer nodes up than a quorum of the rest is refused.
func (s *Server) putCluster(w http.ResponseWriter, r *http.Request, p *principal) {
	k, _ := avi.KindCluster.Info()
	data, ok := readBody(w, r, maxObjectBody)
	if !ok {
		return
	}
	o, err := decodeObject(k, data)
	if err != nil {
		storeError(w, err)
		return
	}
	c := o.(*avi.Cluster)
	c.Defaults()
	if err := c.Validate(); err != nil {
		storeError(w, err)
		return
	}
	self, _ := netip.ParseAddrPort(s.nodeAddr())
	if _, ok := c.Node(self.Addr()); !ok {
		writeError(w, http.StatusConflict, fmt.Sprintf("nodes: this controller (%s) leads the cluster and stays in it: "+
			"to remove it, remove it on another node once that one leads", self.Addr()))
		return
	}
	var removed []*avi.ClusterMember
	for _, m := range store.List[*avi.ClusterMember](s.store) {
		if ap, err := netip.ParseAddrPort(m.Addr); err == nil {
			if _, kept := c.Node(ap.Addr()); !kept {
				removed = append(removed, m)
			}
		}
	}
	if reason := s.quorumAfter(removed); reason != "" {
		writeError(w, http.StatusConflict, reason)
		return
	}
	err = s.update(p, func(tx *store.Tx) error {
		old, err := theCluster(tx)
		if err != nil {
			return err
		}
		if err := tx.Put(old.UUID, c); err != nil {
			return err
		}
		for _, m := range removed {
			if err := tx.Delete(avi.KindClusterMember, m.UUID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		storeError(w, err)
		return
	}
	for _, m := range removed {
		if err := s.node.Remove(m.Name); err != nil {
			storeError(w, fmt.Errorf("remove %s from raft's membership: %w", m.Name, err))
			return
		}
		s.log.Info("cluster node removed", "name", m.Name, "addr", m.Addr)
	}
	writeJSON(w, http.StatusOK, c)
}

// quorumAfter is why removing these members would break the cluster's quorum ("" if it would
// not): the voters left must have a majority up.
func (s *Server) quorumAfter(removed []*avi.ClusterMember) string {
	members, err := s.node.Members()
	if err != nil {
		return "read the cluster's members: " + err.Error()
	}
	gone := map[string]bool{}
	for _, m := range removed {
		gone[m.Name] = true
	}
	voters, up := 0, 0
	var down []string
	for _, m := range members {
		if !m.Voter || gone[m.ID] {
			continue
		}
		voters++
		if s.nodeUp(m.ID) {
			up++
		} else {
			down = append(down, m.ID)
		}
	}
	if len(removed) > 0 && up <= voters/2 {
		return fmt.Sprintf("nodes: after this change %d of the %d nodes left would be up (%v down): the cluster would lose its quorum. "+
			"Bring a node back first, or remove one node at a time", up, voters, down)
	}
	return ""
}

// clusterNodeState is one node of GET /api/cluster/runtime.
type clusterNodeState struct {
	Name    string     `json:"name"`
	MgmtIP  avi.IPAddr `json:"mgmt_ip"`
	Role    string     `json:"role,omitempty"`
	State   string     `json:"state"`
	UpSince string     `json:"up_since,omitempty"`
	Reason  string     `json:"reason,omitempty"`
}

// clusterRuntime is GET /api/cluster/runtime and /api/cluster/status, as Avi answers them.
type clusterRuntime struct {
	ClusterState struct {
		State    string `json:"state"`
		Progress int    `json:"progress"`
		Leader   string `json:"leader,omitempty"`
		Reason   string `json:"reason,omitempty"`
	} `json:"cluster_state"`
	NodeStates []clusterNodeState `json:"node_states"`
}

// clusterRuntimeHandler answers what this node sees: raft's leader and membership, and the
// other nodes as its health checks find them.
func (s *Server) clusterRuntimeHandler(w http.ResponseWriter, r *http.Request, _ *principal) {
	rt, err := s.clusterRuntime()
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rt)
}

func (s *Server) clusterRuntime() (clusterRuntime, error) {
	var rt clusterRuntime
	c, err := theCluster(s.store)
	if err != nil {
		return rt, err
	}
	members, err := s.node.Members()
	if err != nil {
		return rt, err
	}
	byHost := map[netip.Addr]string{} // raft members by address
	voters := 0
	for _, m := range members {
		if ap, err := netip.ParseAddrPort(m.Addr); err == nil {
			byHost[ap.Addr().Unmap()] = m.ID
		}
		if m.Voter {
			voters++
		}
	}
	leader, _ := s.node.Leader()
	self := s.id
	active, joined := 0, 0
	for _, n := range c.Nodes {
		ns := clusterNodeState{Name: n.Name, MgmtIP: n.IP}
		addr, _ := netip.ParseAddr(n.IP.Addr)
		id, member := byHost[addr.Unmap()]
		switch {
		case !member:
			ns.State, ns.Reason = nodeNotJoined, "listed, not joined yet: install it with --cluster-join and a token of POST /api/cluster/jointoken"
		case id == self:
			ns.State, ns.UpSince = nodeActive, s.started.UTC().Format(time.RFC3339)
		default:
			if since, up := s.health.upSince(id); up {
				ns.State, ns.UpSince = nodeActive, since.UTC().Format(time.RFC3339)
			} else {
				ns.State, ns.Reason = nodeInactive, "not answering this node's health checks"
			}
		}
		if member {
			joined++
			ns.Role = roleFollower
			if id == leader {
				ns.Role = roleLeader
			}
		}
		if ns.State == nodeActive {
			active++
		}
		rt.NodeStates = append(rt.NodeStates, ns)
	}
	cs := &rt.ClusterState
	cs.Leader = leader
	switch {
	case leader == "":
		cs.State, cs.Reason = clusterStarting, "no leader: fewer than a quorum of the nodes reach each other (writes are refused until one is elected)"
	case len(c.Nodes) == 1 && voters == 1:
		cs.State, cs.Progress = clusterUpNoHA, 100
	case joined < len(c.Nodes):
		cs.State, cs.Progress, cs.Reason = clusterUpHANotReady, 100*joined/len(c.Nodes), fmt.Sprintf("%d of %d nodes joined", joined, len(c.Nodes))
	case active == len(c.Nodes):
		cs.State, cs.Progress = clusterUpHAActive, 100
	default:
		cs.State, cs.Progress, cs.Reason = clusterUpHACompromise, 100, fmt.Sprintf("%d of %d nodes up", active, len(c.Nodes))
	}
	return rt, nil
}

// clusterJoinToken is POST /api/cluster/jointoken {"ttl_seconds"}: a single-use token a fresh
// controller joins the cluster with, and the command that does it.
func (s *Server) clusterJoinToken(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		TTLSeconds int `json:"ttl_seconds"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		storeError(w, avi.JSONFieldError(err))
		return
	}
	ttl, ok := tokenTTL(w, req.TTLSeconds)
	if !ok {
		return
	}
	tok := sechannel.NewToken(sechannel.CertHash(s.cert.Leaf))
	jt, err := s.storeJoinToken(tok.ID, tok.Secret, "controller cluster join", ttl, 1, clusterScope)
	if err != nil {
		storeError(w, err)
		return
	}
	p.changes = append(p.changes, store.Change{Kind: avi.KindJoinToken, UUID: jt.UUID, New: jt})
	leader := s.nodeAddr()
	writeJSON(w, http.StatusCreated, map[string]string{"id": jt.Name, "token": tok.String(), "expires": jt.Expires, "leader": leader,
		"command": "AVI_JOIN_TOKEN=" + tok.String() + " sudo --preserve-env=AVI_JOIN_TOKEN ./avi-init -c -i <this host's IP> --cluster-join " + leader})
}

// JoinRequest is what a controller joining the cluster sends (POST /api/cluster/join), over a
// connection that shows its certificate.
type clusterJoinRequest struct {
	Token string `json:"token"`
	Name  string `json:"name"`
	Addr  string `json:"addr"`
}

// clusterMemberInfo is a node as a joining one learns it.
type clusterMemberInfo struct {
	Name     string `json:"name"`
	Addr     string `json:"addr"`
	CertHash string `json:"cert_hash"`
}

// clusterJoinAnswer carries what a node needs to hold the cluster's configuration: its
// secrets key (the store's secrets are sealed with it on every node) and the nodes it trusts.
type clusterJoinAnswer struct {
	SecretsKey string              `json:"secrets_key"`
	Leader     string              `json:"leader"`
	Members    []clusterMemberInfo `json:"members"`
}

// notLeader answers a request only the leader takes: 421, naming it, and the members for the
// caller to trust it by.
func (s *Server) notLeader(w http.ResponseWriter) {
	_, addr := s.node.Leader()
	if addr == "" {
		unavailable(w, "no leader: the cluster has no quorum")
		return
	}
	writeJSON(w, http.StatusMisdirectedRequest, map[string]any{"error": "this controller does not lead the cluster: ask " + addr,
		"leader": addr, "members": s.memberInfos()})
}

func (s *Server) memberInfos() []clusterMemberInfo {
	var out []clusterMemberInfo
	for _, m := range store.List[*avi.ClusterMember](s.store) {
		out = append(out, clusterMemberInfo{Name: m.Name, Addr: m.Addr, CertHash: m.CertHash})
	}
	return out
}

// clusterJoin is POST /api/cluster/join: a fresh controller, showing its certificate and a
// cluster join token, becomes a member (listed in the cluster's nodes if it was not) and gets
// the cluster's secrets key. It starts raft on its own, then asks to vote (clusterVoter): the
// leader adds it only once it answers, so that the cluster's writes never wait for a node that
// is not there.
func (s *Server) clusterJoin(w http.ResponseWriter, r *http.Request) {
	if !s.node.IsLeader() {
		s.notLeader(w)
		return
	}
	peer := peerCert(r)
	if peer == "" {
		writeError(w, http.StatusBadRequest, "connect with your controller certificate (TLS server name "+cluster.PeerServerName+")")
		return
	}
	var req clusterJoinRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		storeError(w, avi.JSONFieldError(err))
		return
	}
	addr, err := netip.ParseAddrPort(req.Addr)
	if err != nil || sechannel.CheckText("name", req.Name) != nil || req.Name == "" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("name %q, addr %q: want a name and the node's ip:port", req.Name, req.Addr))
		return
	}
	if wait := s.throttle.attempt(clientAddr(r)); wait > 0 {
		tooMany(w, wait)
		return
	}
	tok, err := sechannel.ParseToken(req.Token)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	key, err := os.ReadFile(filepath.Join(s.cfg.DataDir, contract.SecretsKeyFile))
	if err != nil {
		storeError(w, err)
		return
	}
	err = s.store.Update(func(tx *store.Tx) error {
		if err := s.spendToken(tx, tok, clusterScope); err != nil {
			return err
		}
		for _, m := range store.List[*avi.ClusterMember](tx) {
			if m.Name == req.Name || m.Addr == req.Addr {
				return &joinRefused{fmt.Sprintf("a node named %s at %s is a member already: remove it from the cluster first (PUT /api/cluster without it)", m.Name, m.Addr)}
			}
		}
		c, err := theCluster(tx)
		if err != nil {
			return err
		}
		if _, listed := c.Node(addr.Addr()); !listed {
			if len(c.Nodes) >= avi.MaxClusterNodes {
				return &joinRefused{fmt.Sprintf("the cluster has %d nodes listed, the most it takes: remove one first", len(c.Nodes))}
			}
			c.Nodes = append(c.Nodes, avi.ClusterNode{Name: req.Name, IP: avi.IPOf(addr.Addr())})
			if err := tx.Put(c.UUID, c); err != nil {
				return err
			}
		}
		return tx.Create(&avi.ClusterMember{Meta: avi.Meta{Name: req.Name}, Addr: req.Addr, CertHash: peer, Joined: s.now().UTC().Format(time.RFC3339)})
	})
	var refused *joinRefused
	switch {
	case errors.Is(err, errTokenUnknown):
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	case errors.Is(err, errTokenSpent):
		s.throttle.release(clientAddr(r))
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	case errors.As(err, &refused):
		s.throttle.release(clientAddr(r))
		writeError(w, http.StatusConflict, refused.reason)
		return
	case err != nil:
		storeError(w, err)
		return
	}
	s.throttle.release(clientAddr(r))
	s.log.Info("controller joining the cluster", "name", req.Name, "addr", req.Addr)
	leader, _ := s.node.Leader()
	writeJSON(w, http.StatusOK, clusterJoinAnswer{SecretsKey: base64.StdEncoding.EncodeToString(key), Leader: leader, Members: s.memberInfos()})
}

// joinRefused is a join the cluster cannot take as it is.
type joinRefused struct{ reason string }

func (e *joinRefused) Error() string { return e.reason }

// clusterVoter is POST /api/cluster/voter: a member that joined, its raft running, is made a
// voter.
func (s *Server) clusterVoter(w http.ResponseWriter, r *http.Request) {
	if !s.node.IsLeader() {
		s.notLeader(w)
		return
	}
	m := s.memberByCert(peerCert(r))
	if m == nil {
		writeError(w, http.StatusForbidden, "not a member of this cluster: join first (POST /api/cluster/join)")
		return
	}
	if err := s.node.Add(m.Name, m.Addr); err != nil {
		storeError(w, fmt.Errorf("add %s to raft's membership: %w", m.Name, err))
		return
	}
	s.log.Info("controller joined the cluster", "name", m.Name, "addr", m.Addr)
	w.WriteHeader(http.StatusNoContent)
}

// clusterPing is GET /api/cluster/ping, between nodes: who answers, and since when.
func (s *Server) clusterPing(w http.ResponseWriter, r *http.Request) {
	if s.memberByCert(peerCert(r)) == nil {
		writeError(w, http.StatusForbidden, "nodes of the cluster only")
		return
	}
	id := s.id
	ping := contract.ClusterPing{Name: id, Leader: s.node.IsLeader(), Role: roleFollower, UpSince: s.started.UTC().Format(time.RFC3339Nano),
		ConfigVersion: s.store.Version()}
	if ping.Leader {
		ping.Role = roleLeader
	}
	if rt, err := s.clusterRuntime(); err == nil {
		ping.ClusterState = rt.ClusterState.State
	}
	writeJSON(w, http.StatusOK, ping)
}

// memberByCert is the member whose certificate has that pin, or nil.
func (s *Server) memberByCert(hash string) *avi.ClusterMember {
	if hash == "" {
		return nil
	}
	for _, m := range store.List[*avi.ClusterMember](s.store) {
		if m.CertHash == hash {
			return m
		}
	}
	return nil
}

// peerCert is the pin of the certificate a request's connection showed ("" for none).
func peerCert(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return sechannel.CertHash(r.TLS.PeerCertificates[0])
}

// ensureCluster seeds the cluster object and this node's membership: a controller is a cluster
// of one until others join.
func (s *Server) ensureCluster(tx *store.Tx) error {
	id := s.id
	self, err := netip.ParseAddrPort(s.nodeAddr())
	if err != nil {
		return err
	}
	if len(store.List[*avi.Cluster](tx)) == 0 {
		if err := tx.Create(&avi.Cluster{Nodes: []avi.ClusterNode{{Name: id, IP: avi.IPOf(self.Addr())}}}); err != nil {
			return err
		}
	}
	hash := sechannel.CertHash(s.cert.Leaf)
	if slices.ContainsFunc(store.List[*avi.ClusterMember](tx), func(m *avi.ClusterMember) bool { return m.Name == id && m.CertHash == hash && m.Addr == self.String() }) {
		return nil
	}
	m := &avi.ClusterMember{Meta: avi.Meta{Name: id}, Addr: self.String(), CertHash: hash, Joined: s.now().UTC().Format(time.RFC3339)}
	return tx.CreateOrReplace(m)
}
