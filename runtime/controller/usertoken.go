package controller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// API tokens (/api/user-token): a user mints a token for automation and sends it as
// "Authorization: Token <t>" or "Authorization: Bearer <t>" (a token is no cookie, so it needs
// no CSRF header), or logs in with it as Avi's SDK does (POST /login {"username", "token"}: the
// session has the token's scope and ends with it). It acts as its owner with at most the owner's access at the time
// of each request, capped by its scope; it cannot mint tokens or change the password. The
// controller keeps only the token's SHA-256; deleting the owner or changing their password
// revokes the owner's tokens.

// lastUsedEvery is how often a token's last use is written to the store: the API shows the
// latest use from memory, and a token used on every request does not write on every request.
const lastUsedEvery = time.Hour

// tokenUses holds the last use of each token since the controller started, by token uuid.
type tokenUses struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (u *tokenUses) set(uuid string, t time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]time.Time{}
	}
	u.m[uuid] = t
}

func (u *tokenUses) get(uuid string) (time.Time, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.m[uuid]
	return t, ok
}

// bearerToken returns the API token an Authorization header carries, if it carries one.
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Token") && !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// tokenByValue returns (a copy of) the stored token of that value, nil when there is none. It
// runs on every request made with a token: it looks through the live tokens and copies only the
// one it finds, not every user's.
func (s *Server) tokenByValue(value string) *avi.AuthToken {
	hash := hashToken(value)
	var found *avi.AuthToken
	s.store.View(func(v store.View) {
		for _, o := range v.List(avi.KindAuthToken) {
			if t := o.(*avi.AuthToken); t.TokenHash == hash {
				// A token has no slice, map or pointer but Meta.Extra, which only objects of
				// Avi's schema hold: this is a whole copy.
				c := *t
				c.Extra = nil
				found = &c
				return
			}
		}
	})
	return found
}

// useToken checks that a token has not expired, answering 401 itself when it has, and notes
// its use.
func (s *Server) useToken(w http.ResponseWriter, tok *avi.AuthToken) bool {
	now := s.now().UTC()
	if tok.Expired(now) {
		writeError(w, http.StatusUnauthorized, "API token expired at "+tok.Expires+": mint a new one (POST /api/user-token)")
		return false
	}
	s.tokenUses.set(tok.UUID, now)
	// A follower cannot write: the last use stored is what the leader saw (this node's is in
	// tokenUses).
	if last, err := time.Parse(time.RFC3339, tok.LastUsed); s.node.IsLeader() && (err != nil || now.Sub(last) >= lastUsedEvery) {
		err := s.store.Update(func(tx *store.Tx) error {
			cur, err := store.Get[*avi.AuthToken](tx, tok.UUID)
			if err != nil {
				return err
			}
			cur.LastUsed = now.Format(time.RFC3339)
			return tx.Put(cur.UUID, cur)
		})
		if err != nil {
			s.log.Warn("API token last use not stored", "token", tok.Name, "err", err)
		}
	}
	return true
}

// tokenLogin checks a login with an API token instead of a password, as Avi's SDK sends it
// (POST /login {"username", "token"}), counting the attempt against addr first. Unless the token
// is live and the user's, it answers the request itself, with the status it returns.
func (s *Server) tokenLogin(w http.ResponseWriter, addr, username, value string) (*avi.User, *avi.AuthToken, int) {
	if wait := s.throttle.attempt(addr); wait > 0 {
		tooMany(w, wait)
		return nil, nil, http.StatusTooManyRequests
	}
	tok := s.tokenByValue(value)
	var u *avi.User
	if tok != nil {
		u, _ = store.Get[*avi.User](s.store, avi.UUIDOf(tok.UserRef))
	}
	if u == nil || u.Username != username {
		writeError(w, http.StatusUnauthorized, "wrong username or token")
		return nil, nil, http.StatusUnauthorized
	}
	if !s.useToken(w, tok) {
		return nil, nil, http.StatusUnauthorized
	}
	s.throttle.succeed(addr)
	return u, tok, http.StatusOK
}

// userTokenRequest is the body of POST /api/user-token.
type userTokenRequest struct {
	Hours       int    `json:"hours"`
	Description string `json:"description"`
	ReadOnly    bool   `json:"read_only"`
	RoleRef     string `json:"role_ref"`
}

// userTokenView is a token as listed: never its secret nor its hash.
type userTokenView struct {
	UUID        string `json:"uuid"`
	ID          string `json:"id"`
	UserRef     string `json:"user_ref"`
	Username    string `json:"username,omitempty"`
	Description string `json:"description,omitempty"`
	Created     string `json:"created"`
	Expires     string `json:"expires"`
	Expired     bool   `json:"expired"`
	LastUsed    string `json:"last_used,omitempty"`
	ReadOnly    bool   `json:"read_only,omitempty"`
	RoleRef     string `json:"role_ref,omitempty"`
	// Token is the token itself, in the answer to its creation only.
	Token string `json:"token,omitempty"`
}

func (s *Server) tokenView(t *avi.AuthToken) userTokenView {
	v := userTokenView{UUID: t.UUID, ID: t.Name, UserRef: t.UserRef, Description: t.Description, Created: t.Created,
		Expires: t.Expires, LastUsed: t.LastUsed, ReadOnly: t.ReadOnly, RoleRef: t.RoleRef}
	if u, err := store.Get[*avi.User](s.store, avi.UUIDOf(t.UserRef)); err == nil {
		v.Username = u.Username
	}
	if last, ok := s.tokenUses.get(t.UUID); ok {
		v.LastUsed = last.Format(time.RFC3339)
	}
	v.Expired = t.Expired(s.now())
	return v
}

// createUserToken is POST /api/user-token {"hours", "description", "read_only" | "role_ref"}:
// the token is in the answer, once.
func (s *Server) createUserToken(w http.ResponseWriter, r *http.Request, p *principal) {
	data, ok := readBody(w, r, maxLoginBody)
	if !ok {
		return
	}
	var req userTokenRequest
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			storeError(w, avi.JSONFieldError(err))
			return
		}
	}
	if req.Hours == 0 {
		req.Hours = avi.DefaultTokenHours
	}
	if req.Hours < 1 || req.Hours > avi.MaxTokenHours {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("hours: %d: want 1 to %d", req.Hours, avi.MaxTokenHours))
		return
	}
	secret := randomToken()
	now := s.now().UTC()
	tok := &avi.AuthToken{
		Meta:        avi.Meta{Name: randomToken()[:12]},
		UserRef:     avi.KindUser.URL(p.user.UUID),
		Description: req.Description,
		Created:     now.Format(time.RFC3339),
		Expires:     now.Add(time.Duration(req.Hours) * time.Hour).Format(time.RFC3339),
		ReadOnly:    req.ReadOnly,
		RoleRef:     req.RoleRef,
		TokenHash:   hashToken(secret),
	}
	if err := s.update(p, func(tx *store.Tx) error { return tx.Create(tok) }); err != nil {
		storeError(w, err)
		return
	}
	v := s.tokenView(tok)
	v.Token = secret
	writeJSON(w, http.StatusCreated, v)
}

// listUserTokens is GET /api/user-token: one's own tokens (a superuser's: everyone's).
func (s *Server) listUserTokens(w http.ResponseWriter, r *http.Request, p *principal) {
	out := []userTokenView{}
	for _, t := range store.List[*avi.AuthToken](s.store) {
		if p.superuser || avi.UUIDOf(t.UserRef) == p.user.UUID {
			out = append(out, s.tokenView(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "results": out})
}

// revokeUserToken is DELETE /api/user-token/{uuid}: one's own token (a superuser: anyone's),
// refused from then on.
func (s *Server) revokeUserToken(w http.ResponseWriter, r *http.Request, p *principal) {
	uuid := r.PathValue("uuid")
	err := s.update(p, func(tx *store.Tx) error {
		t, err := store.Get[*avi.AuthToken](tx, uuid)
		if err != nil {
			return err
		}
		if !p.superuser && avi.UUIDOf(t.UserRef) != p.user.UUID {
			return fmt.Errorf("%s %s: %w", avi.KindAuthToken, uuid, store.ErrNotFound)
		}
		return tx.Delete(avi.KindAuthToken, uuid)
	})
	if err != nil {
		storeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// revokeUserTokens deletes a user's API tokens in tx: the user is deleted or has a new password.
func revokeUserTokens(tx *store.Tx, userUUID string) error {
	for _, t := range store.List[*avi.AuthToken](tx) {
		if avi.UUIDOf(t.UserRef) == userUUID {
			if err := tx.Delete(avi.KindAuthToken, t.UUID); err != nil {
				return err
			}
		}
	}
	return nil
}
