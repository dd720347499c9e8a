package controller

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/analytics"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Analytics are not replicated: each node keeps what the SEs reported to it while it led. A
// query answered by the leader merges what every node holds (localQuery asks one for its own),
// and says which nodes answered.

// localQuery is the query parameter that asks a node for the analytics it holds itself.
const localQuery = "local"

// peerQueryTimeout bounds the wait for another node's analytics.
const peerQueryTimeout = 3 * time.Second

// local reports whether a request asks for this node's own analytics only.
func local(r *http.Request) bool { return r.URL.Query().Get(localQuery) == "1" }

// fromPeers asks every other member for the analytics r asks for, as p, and returns each
// node's answer (nil when it gave none) and, by node, "answered" or why not.
func (s *Server) fromPeers(r *http.Request, p *principal) (map[string][]byte, map[string]string) {
	self := s.id
	nodes := map[string]string{self: "answered"}
	bodies := map[string][]byte{}
	if local(r) {
		return bodies, nodes
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	client := &http.Client{Timeout: peerQueryTimeout, Transport: s.peerTransport}
	for _, m := range store.List[*avi.ClusterMember](s.store) {
		if m.Name == self {
			continue
		}
		wg.Go(func() {
			q := r.URL.Query()
			q.Set(localQuery, "1")
			body, err := s.askPeer(client, m.Addr, r.URL.Path+"?"+q.Encode(), p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				nodes[m.Name] = "not answering: " + err.Error()
				return
			}
			nodes[m.Name], bodies[m.Name] = "answered", body
		})
	}
	wg.Wait()
	return bodies, nodes
}

// askPeer GETs path from the node at addr for p's user.
func (s *Server) askPeer(client *http.Client, addr, path string, p *principal) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(forwardedUser, p.user.UUID)
	if p.token != nil {
		req.Header.Set(forwardedToken, p.token.UUID)
	}
	if p.tenant != p.admin {
		if name, ok := p.names[p.tenant]; ok {
			req.Header.Set(tenantHeader, name)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, errorText(body))
	}
	return body, nil
}

// mergeSeries adds other nodes' series to this node's: points at times this node has no point
// for are taken (a bucket both hold, the one a leadership change falls in, keeps this node's).
func mergeSeries(own []analytics.Series, bodies map[string][]byte) []analytics.Series {
	byName := map[string]int{}
	for i, sr := range own {
		byName[sr.Header.Name] = i
	}
	for _, body := range bodies {
		var other struct {
			Series []analytics.Series `json:"series"`
		}
		if json.Unmarshal(body, &other) != nil {
			continue
		}
		for _, sr := range other.Series {
			i, ok := byName[sr.Header.Name]
			if !ok {
				byName[sr.Header.Name] = len(own)
				own = append(own, sr)
				continue
			}
			have := map[string]bool{}
			for _, pt := range own[i].Data {
				have[pt.Timestamp] = true
			}
			for _, pt := range sr.Data {
				if !have[pt.Timestamp] {
					own[i].Data = append(own[i].Data, pt)
				}
			}
			slices.SortFunc(own[i].Data, func(a, b analytics.Point) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
		}
	}
	return own
}

// mergeLogs adds other nodes' client logs to this node's, newest first, n at most.
func mergeLogs(own []sechannel.ClientLog, bodies map[string][]byte, n int) []sechannel.ClientLog {
	for _, body := range bodies {
		var other struct {
			Results []sechannel.ClientLog `json:"results"`
		}
		if json.Unmarshal(body, &other) == nil {
			own = append(own, other.Results...)
		}
	}
	slices.SortStableFunc(own, func(a, b sechannel.ClientLog) int { return cmp.Compare(logTime(b), logTime(a)) })
	return own[:min(len(own), n)]
}

// logTime is when a client log was reported, for ordering logs of several nodes.
func logTime(l sechannel.ClientLog) int64 {
	t, err := time.Parse(time.RFC3339Nano, l.Timestamp)
	if err != nil {
		return 0
	}
	return t.UnixNano()
}
