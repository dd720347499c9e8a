package controller

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/avi-init/avi-init/internal/atomicfile"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/cluster"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// readClusterJoin is the cluster join the installer left, or nil.
func (s *Server) readClusterJoin() (*contract.ClusterJoin, error) {
	data, err := os.ReadFile(filepath.Join(s.cfg.DataDir, contract.ClusterJoinFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j contract.ClusterJoin
	if err := json.Unmarshal(data, &j); err != nil || j.Leader == "" || j.Token == "" {
		return nil, fmt.Errorf("%s: want {\"leader\": ..., \"token\": ...}", contract.ClusterJoinFile)
	}
	if _, _, err := net.SplitHostPort(j.Leader); err != nil {
		j.Leader = net.JoinHostPort(j.Leader, strconv.Itoa(contract.DefaultSysintPort))
	}
	return &j, nil
}

// writeClusterJoin keeps the join's progress in its file.
func (s *Server) writeClusterJoin(j *contract.ClusterJoin) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.cfg.DataDir, contract.ClusterJoinFile), data, 0o600)
}

// joinCluster makes this fresh controller a member of the cluster j names: the leader records
// it and answers with the cluster's secrets key, which replaces this controller's (its store,
// holding nothing of an operator's, is replaced by an empty one the cluster fills). A
// controller that was set up holds a configuration of its own and is refused: nothing is
// wiped silently.
func (s *Server) joinCluster(j *contract.ClusterJoin) error {
	if s.setupComplete() {
		return errors.New("join a cluster: this controller was set up and holds a configuration of its own; only a fresh one joins. " +
			"Export what you want to keep (POST /api/configuration/export), uninstall it with --purge, and install it again with --cluster-join")
	}
	tok, err := sechannel.ParseToken(j.Token)
	if err != nil {
		return fmt.Errorf("join a cluster: %w", err)
	}
	s.peers.add(tok.CertHash)
	body, _ := json.Marshal(clusterJoinRequest{Token: j.Token, Name: s.id, Addr: s.nodeAddr()})
	client := s.peerClient(30 * time.Second)
	addr := j.Leader
	var answer clusterJoinAnswer
	for redirects := 0; ; redirects++ {
		resp, err := client.Post("https://"+addr+"/api/cluster/join", "application/json", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("join the cluster at %s: %w", addr, err)
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusMisdirectedRequest && redirects < 3 {
			// A follower, trusted by the token's pin: it names the leader and the members' pins.
			var to struct {
				Leader  string              `json:"leader"`
				Members []clusterMemberInfo `json:"members"`
			}
			if err := json.Unmarshal(data, &to); err != nil || to.Leader == "" {
				return fmt.Errorf("join the cluster at %s: %s", addr, data)
			}
			for _, m := range to.Members {
				s.peers.add(m.CertHash)
			}
			addr = to.Leader
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("join the cluster at %s: %s: %s", addr, resp.Status, errorText(data))
		}
		if err := json.Unmarshal(data, &answer); err != nil {
			return fmt.Errorf("join the cluster at %s: %w", addr, err)
		}
		break
	}
	key, err := base64.StdEncoding.DecodeString(answer.SecretsKey)
	if err != nil {
		return fmt.Errorf("join the cluster: the secrets key: %w", err)
	}
	for _, m := range answer.Members {
		s.peers.add(m.CertHash)
	}
	s.joinLeader = addr
	if err := cluster.Forget(s.raftDir()); err != nil {
		return err
	}
	return s.replaceStore(key)
}

// replaceStore swaps this fresh controller's store for an empty one sealed with the cluster's
// secrets key.
func (s *Server) replaceStore(key []byte) error {
	path := filepath.Join(s.cfg.DataDir, contract.StoreFile)
	if err := s.store.Close(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replace the store: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(s.cfg.DataDir, contract.SecretsKeyFile), key, 0o600); err != nil {
		return fmt.Errorf("the cluster's secrets key: %w", err)
	}
	st, err := store.Open(path)
	if err != nil {
		return err
	}
	s.store = st
	return nil
}

// completeJoin, once this node's raft listens, asks the leader to make it a voter, then the
// installer's join file goes. It tries until ctx ends.
func (s *Server) completeJoin(ctx context.Context) {
	client := s.peerClient(30 * time.Second)
	for {
		_, addr := s.node.Leader()
		if addr == "" {
			addr = s.joinLeader
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+"/api/cluster/voter", nil)
		resp, err := client.Do(req)
		if err == nil {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				s.log.Info("joined the cluster", "leader", addr)
				if err := os.Remove(filepath.Join(s.cfg.DataDir, contract.ClusterJoinFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
					s.log.Error("cluster join file not removed", "err", err)
				}
				return
			}
			err = fmt.Errorf("%s: %s", resp.Status, errorText(data))
		}
		s.log.Warn("not a voting member of the cluster yet; trying again", "leader", addr, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// errorText is the message of an API error answer, or the answer itself.
func errorText(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(bytes.TrimSpace(data))
}
