package controller

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/avi-init/avi-init/model/sechannel"
)

// Requests a follower passes to the leader carry who made them: the user it authenticated
// (and the API token, if one was used). The leader believes these headers only from a node of
// the cluster, known by its certificate.
const (
	forwardedUser  = "X-Avi-Cluster-User"
	forwardedToken = "X-Avi-Cluster-Token"
	// clusterNodeHeader names the node whose answer it is.
	clusterNodeHeader = "X-Avi-Cluster-Node"
)

// unavailable answers 503: the cluster cannot take the request now; a client tries again.
func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, msg)
}

// toLeader passes r to the cluster's leader and its answer back: a write made on a follower,
// or an SE's channel (the leader places services and keeps what SEs report). userUUID and
// tokenUUID ("" for none) say who the follower authenticated; an SE authenticates itself.
func (s *Server) toLeader(w http.ResponseWriter, r *http.Request, userUUID, tokenUUID string) {
	_, addr := s.node.Leader()
	if addr == "" {
		unavailable(w, "no leader: the cluster has no quorum, so the configuration cannot change now (GET /api/cluster/runtime tells which nodes are up)")
		return
	}
	target := &url.URL{Scheme: "https", Host: addr}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = r.Host
			pr.SetXForwarded()
			pr.Out.Header.Del(forwardedUser)
			pr.Out.Header.Del(forwardedToken)
			if userUUID != "" {
				// The leader acts on the identity the follower checked; the follower's session
				// means nothing there.
				pr.Out.Header.Del("Authorization")
				pr.Out.Header.Del("Cookie")
				pr.Out.Header.Set(forwardedUser, userUUID)
				if tokenUUID != "" {
					pr.Out.Header.Set(forwardedToken, tokenUUID)
				}
			}
		},
		Transport:     s.peerTransport,
		FlushInterval: -1, // an SE's snapshot stream goes through as it comes
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			unavailable(w, "the cluster's leader at "+addr+" did not answer: "+err.Error())
		},
	}
	// The answer names the node that made it: the leader's header replaces this node's.
	w.Header().Del(clusterNodeHeader)
	proxy.ServeHTTP(w, r)
}

// forwardedIdentity is the user (and token) a follower passed a request on for, when the
// request came from a node of the cluster.
func (s *Server) forwardedIdentity(r *http.Request) (userUUID, tokenUUID string, ok bool) {
	user := r.Header.Get(forwardedUser)
	if user == "" || s.memberByCert(peerCert(r)) == nil {
		return "", "", false
	}
	return user, r.Header.Get(forwardedToken), true
}

// seChannel reports whether r is an SE's request of the controller (join, snapshots, heartbeats).
func seChannel(r *http.Request) bool {
	return r.URL.Path == sechannel.JoinPath || r.URL.Path == sechannel.SnapshotPath || r.URL.Path == sechannel.HeartbeatPath
}

// leaderOnly passes an SE's requests to the leader when this node is a follower.
func (s *Server) leaderOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seChannel(r) && !s.node.IsLeader() {
			s.toLeader(w, r, "", "")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// fromSEs reports whether a read answers with what the SEs report (runtime state, analytics,
// metrics): the leader keeps those, as the SEs' channel goes to it.
func fromSEs(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/cluster"):
		return false
	case strings.HasPrefix(p, "/api/analytics/"), strings.HasSuffix(p, "/runtime"), strings.Contains(p, "/runtime/"),
		p == "/api/serviceengine", strings.HasPrefix(p, "/api/serviceengine/"), p == "/api/virtualservice-inventory", p == "/metrics":
		return true
	}
	return false
}

// writes reports whether a request may change the configuration.
func writes(r *http.Request) bool {
	switch strings.ToUpper(r.Method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
