package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/analytics"
	"github.com/avi-init/avi-init/runtime/controller/placement"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// An SE silent for DownAfter (two heartbeats) is down: its north-south services move to
// another SE of its group. So is an SE whose configuration stream closed and did not reconnect
// within streamGrace.
const (
	DownAfter       = 2 * sechannel.HeartbeatInterval
	streamGrace     = 500 * time.Millisecond
	defaultTokenTTL = 24 * time.Hour
	maxTokenTTL     = 30 * 24 * time.Hour
)

// seRuntime is what the controller knows of each SE beyond its stored identity. It changes
// with every heartbeat, so it lives in memory rather than in the configuration store.
type seRuntime struct {
	mu  sync.Mutex
	m   map[string]*seState
	now func() time.Time
	// oper is the last operational state shown of each virtual service, and since when.
	oper map[string]operMark
}

// operMark is a state and the time the controller first showed it.
type operMark struct {
	state string
	since time.Time
}

type seState struct {
	streams       int
	opened        time.Time // when its last stream opened
	closed        time.Time // when its last stream closed
	lastHeartbeat time.Time
	// leaving: its last heartbeat said it is stopping; placement takes it as down.
	leaving       bool
	configVersion int64
	configError   string
	// serving is the virtual services its last heartbeat reported serving, placed on it or not
	// (a controller that starts learns the placement again from it).
	serving map[string]bool
	dropped int64 // reports for virtual services not placed on it
	// notApplied is, by virtual service uuid, why the SE could not apply it. Like members, it is
	// replaced whole by each heartbeat, never changed in place, so a copy of the state may share it.
	notApplied map[string]string
	members    map[string]memberReport // by pool uuid/ip:port
}

// memberReport is a pool member as an SE last reported it.
type memberReport struct {
	up        bool
	reason    string    // why it is down
	since     time.Time // when the SE's report of it last changed between up and down
	seen      time.Time // the heartbeat that reported it
	openConns int64
	// recent are the member's outcomes in the SE's last reports, newest last: its rates are
	// over them, a few seconds, as HAProxy's current rates are.
	recent [rateReports]memberCounts
}

// rateReports is how many of an SE's reports a member's rates span: with one report a second,
// five seconds.
const rateReports = 5

// memberCounts are a member's outcomes over one report's interval.
type memberCounts struct {
	seconds, requests, errors float64
}

// rates are the member's requests and errors per second over its recent reports.
func (m memberReport) rates() (requests, errors float64) {
	var secs float64
	for _, c := range m.recent {
		secs += c.seconds
		requests += c.requests
		errors += c.errors
	}
	if secs <= 0 {
		return 0, 0
	}
	return requests / secs, errors / secs
}

// maxReasonLength bounds what the controller keeps of a reason an SE sends.
const maxReasonLength = 512

func newSERuntime(now func() time.Time) *seRuntime {
	return &seRuntime{m: map[string]*seState{}, now: now, oper: map[string]operMark{}}
}

// record takes in what one heartbeat says of the members of the services placed on the SE, and
// why it could not apply some. The caller holds r.mu.
func (st *seState) record(hb *sechannel.Heartbeat, placed map[string]string, now time.Time) {
	members := map[string]memberReport{}
	for _, m := range hb.Metrics {
		if m.Server == "" || m.Up == nil {
			continue
		}
		key := analytics.MemberKey(m.PoolUUID, m.Server)
		counts := memberCounts{seconds: m.Seconds, requests: float64(m.Requests), errors: float64(m.Resp4xx + m.Resp5xx + m.Failed)}
		if rep, ok := members[key]; ok {
			// The same member reported again for another service sharing its pool: its
			// outcomes are counted once, with whichever report carries them.
			last := &rep.recent[rateReports-1]
			last.requests += counts.requests
			last.errors += counts.errors
			members[key] = rep
			continue
		}
		rep := memberReport{up: *m.Up, reason: clip(m.Reason), since: now, seen: now, openConns: m.OpenConns}
		old, ok := st.members[key]
		if ok && old.up == rep.up {
			rep.since = old.since
		}
		if ok {
			copy(rep.recent[:], old.recent[1:])
		}
		rep.recent[rateReports-1] = counts
		members[key] = rep
	}
	st.members = members
	st.notApplied = map[string]string{}
	for _, e := range hb.NotApplied {
		if _, ok := placed[e.VSUUID]; ok {
			st.notApplied[e.VSUUID] = clip(e.Reason)
		}
	}
}

// clip shortens a reason an SE sent to what the controller keeps.
func clip(reason string) string {
	if len(reason) > maxReasonLength {
		return strings.ToValidUTF8(reason[:maxReasonLength], "") + "..."
	}
	return reason
}

func (r *seRuntime) state(uuid string) *seState {
	st, ok := r.m[uuid]
	if !ok {
		st = &seState{}
		r.m[uuid] = st
	}
	return st
}

// up reports whether an SE heartbeats; the caller holds r.mu.
func (r *seRuntime) up(st *seState) bool {
	return !st.lastHeartbeat.IsZero() && r.now().Sub(st.lastHeartbeat) < DownAfter
}

// alive is the set of SEs up for placement: heard from within DownAfter (a heartbeat, or a
// stream opened before the first heartbeat), holding a stream or having lost it less than
// streamGrace ago (an SE that never opened one is judged by its heartbeats alone), and not
// leaving.
func (r *seRuntime) alive() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := map[string]bool{}
	for uuid, st := range r.m {
		heard := r.up(st) || !st.opened.IsZero() && now.Sub(st.opened) < DownAfter
		stream := st.streams > 0 || st.closed.IsZero() || now.Sub(st.closed) < streamGrace
		if heard && stream && !st.leaving {
			out[uuid] = true
		}
	}
	return out
}

// claims is, for each virtual service that up SEs (alive) report serving, those SEs.
func (r *seRuntime) claims(alive map[string]bool) map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for uuid, st := range r.m {
		if alive[uuid] {
			for vs := range st.serving {
				out[vs] = append(out[vs], uuid)
			}
		}
	}
	return out
}

// connected reports whether an SE heartbeats and holds a configuration stream.
func (r *seRuntime) connected(uuid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.m[uuid]
	return ok && r.up(st) && st.streams > 0
}

// overlay fills an SE object's runtime fields.
func (r *seRuntime) overlay(se *avi.ServiceEngine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state(se.UUID)
	up := r.up(st)
	se.SEConnected = up && st.streams > 0
	se.ConfigVersion, se.ConfigError, se.ReportsDropped = st.configVersion, st.configError, st.dropped
	if !st.lastHeartbeat.IsZero() {
		se.LastHeartbeat = st.lastHeartbeat.UTC().Format(time.RFC3339Nano)
	}
	se.OperStatus = &avi.OperStatus{State: avi.OperUp}
	switch {
	case st.lastHeartbeat.IsZero():
		se.OperStatus = &avi.OperStatus{State: avi.OperDown, Reason: "no heartbeat yet"}
	case !up:
		se.OperStatus = &avi.OperStatus{State: avi.OperDown, Reason: "missed heartbeats since " + se.LastHeartbeat}
	case st.configError != "":
		se.OperStatus = &avi.OperStatus{State: avi.OperUp, Reason: "rejected configuration: " + st.configError}
	}
}

// certHash is the hash of the controller certificate that tokens carry.
func (s *Server) certHash() (string, error) { return contract.CertHash(s.cfg.DataDir) }

// tokenTTL is a join token's lifetime from its ttl_seconds (0: defaultTokenTTL); a value out of
// range is answered 400 here.
func tokenTTL(w http.ResponseWriter, seconds int) (time.Duration, bool) {
	ttl := time.Duration(seconds) * time.Second
	if seconds == 0 {
		ttl = defaultTokenTTL
	}
	if ttl <= 0 || ttl > maxTokenTTL {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("ttl_seconds: %d: want 1 to %d", seconds, int(maxTokenTTL.Seconds())))
		return 0, false
	}
	return ttl, true
}

// createJoinToken is POST /api/jointoken {"description", "ttl_seconds", "max_uses"}. The token
// is in the answer once; the controller keeps only a hash of its secret.
func (s *Server) createJoinToken(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		Description string `json:"description"`
		TTLSeconds  int    `json:"ttl_seconds"`
		MaxUses     *int   `json:"max_uses"` // absent: one
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		storeError(w, avi.JSONFieldError(err))
		return
	}
	ttl, ok := tokenTTL(w, req.TTLSeconds)
	if !ok {
		return
	}
	maxUses := 1
	if req.MaxUses != nil {
		maxUses = *req.MaxUses
	}
	if maxUses < 1 || maxUses > avi.MaxJoinTokenUses {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("max_uses: %d: want 1 to %d", maxUses, avi.MaxJoinTokenUses))
		return
	}
	if err := sechannel.CheckText("description", req.Description); err != nil {
		storeError(w, err)
		return
	}
	hash, err := s.certHash()
	if err != nil {
		storeError(w, err)
		return
	}
	tok, jt, err := s.issueToken(req.Description, ttl, maxUses, hash)
	if err != nil {
		storeError(w, err)
		return
	}
	// For the audit log: the token was stored by issueToken, which the Linux cloud shares.
	p.changes = append(p.changes, store.Change{Kind: avi.KindJoinToken, UUID: jt.UUID, New: jt})
	writeJSON(w, http.StatusCreated, map[string]string{"id": jt.Name, "uuid": jt.UUID, "token": tok.String(), "expires": jt.Expires,
		"description": jt.Description, "controller_ip": s.cfg.IP, "sysint_port": strconv.Itoa(s.cfg.SysintPort)})
}

// tokenSummary is a join token as listed: never its secret.
type tokenSummary struct {
	ID          string `json:"id"`
	UUID        string `json:"uuid"`
	Description string `json:"description,omitempty"`
	Created     string `json:"created"`
	Expires     string `json:"expires"`
	MaxUses     int    `json:"max_uses"`
	Uses        int    `json:"uses"`
}

// listJoinTokens is GET /api/jointoken.
func (s *Server) listJoinTokens(w http.ResponseWriter, r *http.Request, _ *principal) {
	out := []tokenSummary{}
	for _, jt := range store.List[*avi.JoinToken](s.store) {
		out = append(out, tokenSummary{ID: jt.Name, UUID: jt.UUID, Description: jt.Description, Created: jt.Created, Expires: jt.Expires,
			MaxUses: max(jt.MaxUses, 1), Uses: jt.Uses})
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "results": out})
}

// revokeJoinToken is DELETE /api/jointoken/{id}, by token id or uuid.
func (s *Server) revokeJoinToken(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	uuid := id
	if jt, err := store.GetByName[*avi.JoinToken](s.store, id); err == nil {
		uuid = jt.UUID
	}
	if err := s.update(p, func(tx *store.Tx) error { return tx.Delete(avi.KindJoinToken, uuid) }); err != nil {
		storeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// issueToken makes a new join token for maxUses SEs and stores it.
func (s *Server) issueToken(desc string, ttl time.Duration, maxUses int, certHash string) (sechannel.Token, *avi.JoinToken, error) {
	tok := sechannel.NewToken(certHash)
	jt, err := s.storeJoinToken(tok.ID, tok.Secret, desc, ttl, maxUses, "")
	if err != nil {
		return sechannel.Token{}, nil, err
	}
	return tok, jt, nil
}

// storeJoinToken stores a join token of a scope ("" for SEs) valid from now for ttl and maxUses
// joins: its id and a hash of its secret.
func (s *Server) storeJoinToken(id, secret, desc string, ttl time.Duration, maxUses int, scope string) (*avi.JoinToken, error) {
	now := s.now().UTC()
	jt := &avi.JoinToken{
		Meta:        avi.Meta{Name: id},
		Description: desc,
		Created:     now.Format(time.RFC3339),
		Expires:     now.Add(ttl).Format(time.RFC3339),
		MaxUses:     maxUses,
		Scope:       scope,
		SecretHash:  sechannel.HashSecret(secret),
	}
	if err := s.store.Create(jt); err != nil {
		return nil, err
	}
	return jt, nil
}

// Join refusals. A wrong secret is a guess and stays counted against the address; the others
// come from a client that holds a good token.
var (
	errTokenUnknown = errors.New("unknown or revoked join token")
	// An expired and a used-up token answer alike: either way the operator makes a new one.
	errTokenSpent = errors.New("join token expired or used up: create a new one")
)

// nameTakenError is a join under the name of an SE that exists, without that SE's credential.
type nameTakenError struct{ name string }

func (e *nameTakenError) Error() string {
	return fmt.Sprintf("name: service engine %q exists and keeps its identity: delete it first (operator), "+
		"or join again with its own credential (%s and Authorization: Bearer)", e.name, sechannel.SEHeader)
}

// seJoin is POST /se/join: a valid token with uses left gets the SE an identity and a
// credential. A join under the name of an SE that exists is refused unless it presents that SE's
// own credential, as on its other requests; it then keeps its identity.
func (s *Server) seJoin(w http.ResponseWriter, r *http.Request) {
	addr := clientAddr(r)
	var req sechannel.JoinRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		storeError(w, avi.JSONFieldError(err))
		return
	}
	// The attempt counts as a failed login from here on, until the token is known to be good.
	if wait := s.throttle.attempt(addr); wait > 0 {
		tooMany(w, wait)
		return
	}
	tok, err := sechannel.ParseToken(req.Token)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	if _, err := store.GetByName[*avi.JoinToken](s.store, tok.ID); err != nil {
		// The installer may have left a new bootstrap token since the controller started.
		if aerr := s.adoptBootstrapToken(); aerr != nil {
			s.log.Warn("bootstrap token not adopted", "err", aerr)
		}
	}
	seUUID, cred := seCredential(r)
	se, cred, err := s.admit(tok, req, seUUID, cred)
	if errors.Is(err, errTokenUnknown) {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	// A good token is no guess: its attempt is given back, and only that. A join must not wipe
	// the address's failed logins (it would reset the throttle that joins and logins share).
	s.throttle.release(addr)
	var taken *nameTakenError
	switch {
	case errors.Is(err, errTokenSpent):
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	case errors.As(err, &taken):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		storeError(w, err)
		return
	}
	s.log.Info("service engine joined", "name", se.Name, "uuid", se.UUID, "from", addr)
	writeJSON(w, http.StatusOK, sechannel.JoinResponse{SEUUID: se.UUID, Credential: cred, Controllers: s.controllerNodes()})
}

// admit checks a join and commits it in one transaction: the token's use is counted with the
// SE it lets in, so that concurrent joins cannot use a token more often than it allows. seUUID
// and ownCred are what the request presents as an SE's own identity (empty: none). It returns
// the SE and the credential it authenticates with from now on.
func (s *Server) admit(tok sechannel.Token, req sechannel.JoinRequest, seUUID, ownCred string) (*avi.ServiceEngine, string, error) {
	se := &avi.ServiceEngine{Meta: avi.Meta{Name: req.Name}, Hostname: req.Hostname, Version: req.Version}
	cred := sechannel.NewCredential()
	err := s.store.Update(func(tx *store.Tx) error {
		if err := s.spendToken(tx, tok, ""); err != nil {
			return err
		}
		if err := req.Validate(); err != nil {
			return err
		}
		group, err := joinGroup(tx, req.SEGroup)
		if err != nil {
			return err
		}
		se.SEGroupRef = group
		if ip, ok := netip.AddrFromSlice(net.ParseIP(req.MgmtIP)); ok {
			a := avi.IPOf(ip)
			se.MgmtIPAddress = &a
		}
		if id, exists := tx.ByNameOf(se); exists {
			old, err := store.Get[*avi.ServiceEngine](tx, id)
			if err != nil {
				return err
			}
			if seUUID != id || ownCred == "" || !sechannel.SecretMatches(ownCred, old.CredentialHash) {
				return &nameTakenError{name: req.Name}
			}
			// The SE itself, joining again: it keeps its uuid and credential.
			cred, se.CredentialHash = ownCred, old.CredentialHash
			if err := tx.Put(id, se); err != nil {
				return err
			}
		} else {
			se.CredentialHash = sechannel.HashSecret(cred)
			return tx.Create(se)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return se, cred, nil
}

// spendToken counts a use of a join token of that scope ("" for an SE's, clusterScope for a
// controller's) in tx: errTokenUnknown for a token that is not one (or of another scope),
// errTokenSpent for one expired or used up.
func (s *Server) spendToken(tx *store.Tx, tok sechannel.Token, scope string) error {
	jt, err := store.GetByName[*avi.JoinToken](tx, tok.ID)
	if err != nil || !sechannel.SecretMatches(tok.Secret, jt.SecretHash) || jt.Scope != scope {
		return errTokenUnknown
	}
	if exp, err := time.Parse(time.RFC3339, jt.Expires); err != nil || s.now().After(exp) || jt.UsedUp() {
		return errTokenSpent
	}
	jt.Uses++
	return tx.Put(jt.UUID, jt)
}

// seCredential is the identity a request presents: the SE's uuid and its credential.
func seCredential(r *http.Request) (uuid, cred string) {
	if h := r.Header.Get("Authorization"); len(h) > 7 && h[:7] == "Bearer " {
		cred = h[7:]
	}
	return r.Header.Get(sechannel.SEHeader), cred
}

// seAuth returns the uuid of the SE a request comes from.
func (s *Server) seAuth(w http.ResponseWriter, r *http.Request) (string, bool) {
	uuid, cred := seCredential(r)
	ok := false
	s.store.View(func(v store.View) {
		se, err := store.Get[*avi.ServiceEngine](v, uuid)
		ok = err == nil && cred != "" && sechannel.SecretMatches(cred, se.CredentialHash)
	})
	if !ok {
		writeError(w, http.StatusUnauthorized, "unknown service engine or wrong credential: join again with a token")
		return "", false
	}
	return uuid, true
}

// seSnapshots is GET /se/snapshots: a stream of newline-delimited JSON updates. The first is
// the whole configuration; each commit after that sends, at once, only what changed since the
// version last sent on this stream.
func (s *Server) seSnapshots(w http.ResponseWriter, r *http.Request) {
	seUUID, ok := s.seAuth(w, r)
	if !ok {
		return
	}
	// The stream outlives the server's write timeout: each write gets its own deadline. (The
	// read deadline ends with the request head: net/http clears it for a request without body.)
	rc := http.NewResponseController(w)
	write := func(b []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(s.limits.write)); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	s.se.mu.Lock()
	st := s.se.state(seUUID)
	st.streams++
	st.opened = s.se.now()
	s.se.mu.Unlock()
	defer func() {
		s.se.mu.Lock()
		st := s.se.state(seUUID)
		st.streams--
		st.closed = s.se.now()
		s.se.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// A controller settling after its start sends nothing until the SEs have told what they
	// serve (placer): the SE keeps serving what it holds meanwhile.
	select {
	case <-r.Context().Done():
		return
	case <-time.After(s.placer.settled.Sub(s.now())):
	}
	var stream streamState
	for {
		changed, moved := s.store.Changed(), s.placer.Changed()
		// Checked after taking the change channels: a delete committed between a check at the
		// end of the loop and taking them would wake nothing.
		if !s.seExists(seUUID) {
			return // deleted: it must join again
		}
		_, bySE := s.placement()
		if msg := s.snapshots.update(s.store, bySE[seUUID], &stream); msg != nil {
			if err := write(msg); err != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		case <-moved:
		case <-time.After(30 * time.Second):
			// A blank line keeps idle connections (and middleboxes) from timing out.
			if err := write([]byte("\n")); err != nil {
				return
			}
		}
	}
}

// seExists reports whether an SE is still in the store.
func (s *Server) seExists(uuid string) bool {
	exists := false
	s.store.View(func(v store.View) {
		_, err := store.Get[*avi.ServiceEngine](v, uuid)
		exists = err == nil
	})
	return exists
}

// seHeartbeat is POST /se/heartbeat.
func (s *Server) seHeartbeat(w http.ResponseWriter, r *http.Request) {
	seUUID, ok := s.seAuth(w, r)
	if !ok {
		return
	}
	var hb sechannel.Heartbeat
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&hb); err != nil {
		storeError(w, avi.JSONFieldError(err))
		return
	}
	s.se.mu.Lock()
	st := s.se.state(seUUID)
	st.lastHeartbeat = s.now()
	st.leaving = hb.Leaving
	// An SE reports every virtual service it serves, with or without traffic.
	st.serving = map[string]bool{}
	for _, m := range hb.Metrics {
		st.serving[m.VSUUID] = true
	}
	s.se.mu.Unlock()
	// An SE heard from again may be placed services at once; one leaving has them moved.
	cur, bySE := s.placement()
	var dropped int
	var placed map[string]string
	s.store.View(func(v store.View) {
		placed = placedOn(v, bySE[seUUID], &hb)
		dropped = keepPlaced(placed, &hb)
	})
	s.se.mu.Lock()
	st = s.se.state(seUUID)
	st.configVersion, st.configError = hb.ConfigVersion, clip(hb.ConfigError)
	st.dropped += int64(dropped)
	total := st.dropped
	st.record(&hb, placed, st.lastHeartbeat)
	s.se.mu.Unlock()
	if dropped > 0 && !hb.Leaving { // a leaving SE serves what moved away until it is taken
		s.log.Warn("reports for virtual services not placed on the SE dropped", "se", seUUID, "dropped", dropped)
	}
	s.analytics.Ingest(hb.Metrics, hb.Logs)
	answer := sechannel.HeartbeatAnswer{ConfigVersion: s.store.Version(), ReportsDropped: total, Controllers: s.controllerNodes()}
	if hb.Leaving {
		answer.HandedOver = s.se.handedOver(seUUID, cur)
	}
	writeJSON(w, http.StatusOK, answer)
}

// handedOver reports whether every north-south service a leaving SE serves is served by each
// SE placement moved it to, as their own heartbeats say; one placed nowhere (no other SE is
// up) has nothing to wait for.
func (r *seRuntime) handedOver(seUUID string, cur placement.Placement) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for vs := range r.state(seUUID).serving {
		// An east-west service stays placed on every SE of its group, leaving or not.
		a := cur[vs]
		if slices.Contains(a.Active, seUUID) {
			continue
		}
		for _, se := range a.Active {
			if st, ok := r.m[se]; !ok || !st.serving[vs] {
				return false
			}
		}
	}
	return true
}

// placedOn is, of the virtual services a heartbeat names, those placed on its SE (placed: their
// uuids) that the store holds, each with the uuid of its pool (empty when it has none). It looks
// up only those: it runs with every heartbeat, and most name few services or none.
func placedOn(v store.View, placed map[string]bool, hb *sechannel.Heartbeat) map[string]string {
	out := map[string]string{}
	look := func(id string) {
		if _, done := out[id]; done || !placed[id] {
			return
		}
		vs, err := store.Get[*avi.VirtualService](v, id)
		if err != nil {
			return // deleted since it was placed
		}
		out[id] = ""
		if p, err := store.Get[*avi.Pool](v, avi.UUIDOf(vs.PoolRef)); err == nil {
			out[id] = p.UUID
		}
	}
	for _, m := range hb.Metrics {
		look(m.VSUUID)
	}
	for _, l := range hb.Logs {
		look(l.VSUUID)
	}
	for _, e := range hb.NotApplied {
		look(e.VSUUID)
	}
	return out
}

// keepPlaced keeps, of a heartbeat's metrics and client logs, those for the virtual services
// placed on the SE (a pool member's only under that service's pool), so that an SE cannot write
// another service's analytics. It returns how many it dropped.
func keepPlaced(placed map[string]string, hb *sechannel.Heartbeat) int {
	dropped := 0
	metrics := hb.Metrics[:0]
	for _, m := range hb.Metrics {
		pool, ok := placed[m.VSUUID]
		if !ok || (m.Server != "" && (pool == "" || m.PoolUUID != pool)) {
			dropped++
			continue
		}
		metrics = append(metrics, m)
	}
	logs := hb.Logs[:0]
	for _, l := range hb.Logs {
		if _, ok := placed[l.VSUUID]; !ok {
			dropped++
			continue
		}
		logs = append(logs, l)
	}
	hb.Metrics, hb.Logs = metrics, logs
	return dropped
}

// snapshotCache keeps the newest configuration version, each virtual service encoded once, so
// that every SE stream gets its update (whole or incremental, of the services placed on it)
// without encoding anything again; and each update it built for that version, so that SEs
// holding the same services at the same version (every SE of a group, for east-west services)
// share one rather than each comparing all its services again.
type snapshotCache struct {
	mu    sync.Mutex
	cur   *encodedVersion
	built map[builtKey]*builtUpdate // updates to cur; at most maxBuilt
}

// maxBuilt bounds the updates kept for one version. SEs going up and down while the
// configuration stays make new placed sets, each a new key; the updates from the sets before are
// of no more use but would be kept (with the sets their keys name) until the next version.
// Dropping them all costs only the sharing of the updates being made.
const maxBuilt = 4096

// builtKey names an update to the newest version by what it starts from: the version and set of
// services placed (the placer's map, which is never changed) last sent, none before the first
// message; and the set placed now. Its pointers keep the sets alive (the collector follows an
// unsafe.Pointer), so that no other set can take their addresses while it names them.
type builtKey struct {
	from             int64
	first            bool
	sentSet, nextSet unsafe.Pointer
}

// builtUpdate is an update and what a stream has sent after it.
type builtUpdate struct {
	once sync.Once
	msg  []byte
	sent map[string][]byte // never changed once built: streams share it
}

// encodedVersion is one configuration version: each virtual service's JSON, by uuid.
type encodedVersion struct {
	version int64
	vs      map[string][]byte
	keys    map[string]string // what each encoding was made from
	order   []string          // uuids by name
}

// latest returns the newest version, encoding it if the store has moved on. A virtual service
// whose encoding did not change keeps the previous version's bytes.
func (c *snapshotCache) latest(st *store.Store) *encodedVersion {
	cur := c.cur
	st.View(func(v store.View) {
		version := v.Version()
		if cur != nil && cur.version == version {
			return
		}
		idx := indexRefs(v)
		vss := store.List[*avi.VirtualService](v)
		next := &encodedVersion{version: version, vs: make(map[string][]byte, len(vss)), keys: make(map[string]string, len(vss))}
		for _, vs := range vss {
			// A virtual service is encoded again only when it, its pool, monitors or profile
			// changed since the previous version.
			key := dependencyKey(vs, idx)
			data := []byte(nil)
			if cur != nil && cur.keys[vs.UUID] == key {
				data = cur.vs[vs.UUID]
			} else {
				data, _ = json.Marshal(resolve(vs, idx))
			}
			next.vs[vs.UUID], next.keys[vs.UUID] = data, key
			next.order = append(next.order, vs.UUID)
		}
		c.cur, cur = next, next
		c.built = map[builtKey]*builtUpdate{}
	})
	return cur
}

// dependencyKey names the stored versions of everything a virtual service's encoding is made
// from.
func dependencyKey(vs *avi.VirtualService, idx refIndex) string {
	var b strings.Builder
	b.WriteString(vs.LastModified)
	stamp := func(m *avi.Meta) { b.WriteString("|" + m.UUID + "@" + m.LastModified) }
	if p, ok := idx.pools[vs.PoolRef]; ok {
		stamp(&p.Meta)
		for _, hm := range p.HealthMonitorRefs {
			if h, ok := idx.monitors[hm]; ok {
				stamp(&h.Meta)
			}
		}
	}
	if p, ok := idx.profiles[vs.ApplicationProfileRef]; ok {
		stamp(&p.Meta)
	}
	return b.String()
}

// streamState is what one SE stream has sent: the version, the set of services placed on its SE
// then, and the encoding of each virtual service the SE holds (nil before the first message).
type streamState struct {
	version int64
	placed  map[string]bool
	sent    map[string][]byte
}

// update returns the message taking a stream's SE from what it holds to the newest version of
// the services placed on it (placed: their uuids, the placer's map), or nil when it holds that
// already. The first message of a stream is the whole configuration.
func (c *snapshotCache) update(st *store.Store, placed map[string]bool, s *streamState) []byte {
	c.mu.Lock()
	cur := c.latest(st)
	// What a stream has sent is the newest encodings of the services placed on it, all told by
	// the version and the set: streams that sent the same and have the same placed now get the
	// same update.
	key := builtKey{from: s.version, first: s.sent == nil, sentSet: setID(s.placed), nextSet: setID(placed)}
	b, ok := c.built[key]
	if !ok {
		if len(c.built) >= maxBuilt {
			c.built = map[builtKey]*builtUpdate{}
		}
		b = &builtUpdate{}
		c.built[key] = b
	}
	c.mu.Unlock()
	b.once.Do(func() { b.msg, b.sent = buildUpdate(cur, placed, s) })
	s.version, s.placed, s.sent = cur.version, placed, b.sent
	return b.msg
}

// setID is the identity of a set of placed services.
func setID(m map[string]bool) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }

// buildUpdate is the message taking a stream from what it sent (s) to cur's version of the
// services placed on its SE, or nil when there is nothing to send; and what the stream has sent
// after it.
func buildUpdate(cur *encodedVersion, placed map[string]bool, s *streamState) ([]byte, map[string][]byte) {
	full := s.sent == nil
	sent := make(map[string][]byte, len(placed))
	var b bytes.Buffer
	if full {
		fmt.Fprintf(&b, `{"version":%d,"full":true,"virtual_services":[`, cur.version)
	} else {
		fmt.Fprintf(&b, `{"version":%d,"full":false,"base_version":%d,"virtual_services":[`, cur.version, s.version)
	}
	// The whole configuration in the cache's order; an update by uuid, from the services placed
	// on the SE rather than from all.
	ids := cur.order
	if !full {
		ids = ids[:0:0]
		for id := range placed {
			data, ok := cur.vs[id]
			if !ok {
				continue
			}
			if old := s.sent[id]; sameBytes(old, data) {
				sent[id] = data
			} else {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
	}
	n := 0
	for _, id := range ids {
		data := cur.vs[id]
		if !placed[id] {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.Write(data)
		sent[id] = data
	}
	b.WriteString("]")
	var deleted []string
	for id := range s.sent {
		if _, ok := sent[id]; !ok {
			deleted = append(deleted, id)
		}
	}
	if !full && n == 0 && len(deleted) == 0 && s.version == cur.version {
		return nil, sent
	}
	if len(deleted) > 0 {
		sort.Strings(deleted)
		d, _ := json.Marshal(deleted)
		b.WriteString(`,"deleted":`)
		b.Write(d)
	}
	b.WriteString("}\n")
	return b.Bytes(), sent
}

// sameBytes reports whether two encodings are equal; an encoding that did not change is the
// same slice, which is found without comparing its bytes.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0] || bytes.Equal(a, b)
}

// refIndex holds, by URL, the objects a virtual service refers to.
type refIndex struct {
	pools    map[string]*avi.Pool
	monitors map[string]*avi.HealthMonitor
	profiles map[string]*avi.ApplicationProfile
}

func indexRefs(v store.View) refIndex {
	return refIndex{
		pools:    byURL(store.List[*avi.Pool](v)),
		monitors: byURL(store.List[*avi.HealthMonitor](v)),
		profiles: byURL(store.List[*avi.ApplicationProfile](v)),
	}
}

func byURL[T avi.Object](objs []T) map[string]T {
	m := make(map[string]T, len(objs))
	for _, o := range objs {
		m[o.GetMeta().URL] = o
	}
	return m
}

// resolve is a virtual service as an SE serves it.
func resolve(vs *avi.VirtualService, idx refIndex) sechannel.VirtualService {
	out := sechannel.VirtualService{UUID: vs.UUID, Name: vs.Name, Enabled: vs.IsEnabled(), Services: vs.Services, ProfileType: avi.ProfileHTTP}
	if vs.IPAddress != nil {
		out.VIP = vs.IPAddress.Addr
	}
	if p, ok := idx.profiles[vs.ApplicationProfileRef]; ok {
		out.ProfileType = p.Type
	}
	if a := vs.AnalyticsPolicy; a != nil {
		out.RealtimeMetrics = a.MetricsRealtimeUpdate != nil && a.MetricsRealtimeUpdate.Enabled
		out.FullClientLogs = a.FullClientLogs != nil && a.FullClientLogs.Enabled
	}
	if p, ok := idx.pools[vs.PoolRef]; ok {
		pool := &sechannel.Pool{UUID: p.UUID, Name: p.Name, Algorithm: p.LBAlgorithm, Servers: []sechannel.Server{}}
		for _, sv := range p.Servers {
			port := sv.Port
			if port == 0 {
				port = p.DefaultServerPort
			}
			pool.Servers = append(pool.Servers, sechannel.Server{IP: sv.IP.Addr, Port: port, Enabled: sv.Enabled == nil || *sv.Enabled, Ratio: sv.Ratio})
		}
		for _, ref := range p.HealthMonitorRefs {
			if hm, ok := idx.monitors[ref]; ok {
				pool.HealthMonitors = append(pool.HealthMonitors, *hm)
			}
		}
		out.Pool = pool
	}
	return out
}

func (s *Server) adoptBootstrapToken() error {
	path := filepath.Join(s.cfg.DataDir, contract.BootstrapTokenFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var bt contract.BootstrapToken
	if err := json.Unmarshal(data, &bt); err != nil || bt.ID == "" || len(bt.Secret) < 16 {
		return fmt.Errorf("%s: want {\"id\": ..., \"secret\": ...}", contract.BootstrapTokenFile)
	}
	if _, err := store.GetByName[*avi.JoinToken](s.store, bt.ID); err != nil {
		if _, err := s.storeJoinToken(bt.ID, bt.Secret, "installed with the controller", defaultTokenTTL, 1, ""); err != nil {
			return err
		}
	}
	return os.Remove(path)
}
