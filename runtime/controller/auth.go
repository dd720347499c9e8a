package controller

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Cookie and header names, as Avi's (Django's) API uses them.
const (
	sessionCookie = "avi-sessionid"
	csrfCookie    = "csrftoken"
	csrfHeader    = "X-CSRFToken"
	sessionIdle   = 30 * time.Minute
	// sessionLifetime ends a session however busy it is: a stolen cookie is not good forever.
	sessionLifetime = 12 * time.Hour
)

// session is a logged-in browser or API client. It ends sessionIdle after its last use, and
// sessionLifetime after the login at the latest.
type session struct {
	user    string // user uuid
	token   string // uuid of the API token the session was opened with, if any
	csrf    string
	expires time.Time // idle expiry, moved on by each use
	ends    time.Time // absolute expiry
}

// over reports whether the session has ended at now.
func (ss *session) over(now time.Time) bool { return now.After(ss.expires) || now.After(ss.ends) }

// sessions are kept in memory: a controller restart logs everyone out, which is safe.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session // by sha256 of the cookie value
	now func() time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, now: now}
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// start creates a session of a user (opened with an API token: its uuid, else empty) and returns
// its cookie value and CSRF token.
func (s *sessions) start(user, token string) (id, csrf string) {
	id, csrf = randomToken(), randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.m {
		if v.over(now) {
			delete(s.m, k)
		}
	}
	s.m[hashToken(id)] = &session{user: user, token: token, csrf: csrf, expires: now.Add(sessionIdle), ends: now.Add(sessionLifetime)}
	return id, csrf
}

// get returns the live session of a cookie value, extending its idle expiry (never past its
// absolute one).
func (s *sessions) get(id string) (*session, bool) {
	key := hashToken(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ss, ok := s.m[key]
	if !ok || ss.over(now) {
		delete(s.m, key)
		return nil, false
	}
	ss.expires = now.Add(sessionIdle)
	return ss, true
}

// csrfMatches reports whether a request carries the session's CSRF token in its header.
func (ss *session) csrfMatches(r *http.Request) bool {
	return subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(ss.csrf)) == 1
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, hashToken(id))
}

// endUser logs a user out everywhere (after a password change).
func (s *sessions) endUser(user string) { s.endUserExcept(user, "") }

// endUserExcept logs a user out everywhere but in the session with cookie value keep.
func (s *sessions) endUserExcept(user, keep string) {
	kept := ""
	if keep != "" {
		kept = hashToken(keep)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if v.user == user && k != kept {
			delete(s.m, k)
		}
	}
}

// throttle slows down guessing: after maxFailures failed logins from one address within the
// window, that address waits, doubling with each further failure up to maxBlock. An attempt is
// counted before its password is checked, so that parallel guesses cannot all pass the check
// while the first ones are still being hashed.
type throttle struct {
	mu  sync.Mutex
	m   map[string]*failures
	now func() time.Time
}

type failures struct {
	count        int // failed attempts and attempts still being checked
	first, until time.Time
}

const (
	maxFailures    = 5
	failureWindow  = 10 * time.Minute
	maxBlock       = 5 * time.Minute
	basicCacheTime = time.Minute
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{m: map[string]*failures{}, now: now}
}

// attempt counts an attempt from addr as a failure until succeed or release says otherwise. It
// returns how long the address must still wait instead, or 0 when the attempt may go on.
func (t *throttle) attempt(addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f, ok := t.m[addr]
	if ok && now.Before(f.until) {
		return f.until.Sub(now)
	}
	if !ok || now.Sub(f.first) > failureWindow {
		t.forget(now)
		f = &failures{first: now}
		t.m[addr] = f
	}
	f.count++
	if f.count >= maxFailures {
		block := time.Second << min(f.count-maxFailures, 9)
		f.until = now.Add(min(block, maxBlock))
	}
	return 0
}

// forget drops the addresses whose window and block have both passed, so that addresses that
// failed once and went away do not pile up; the caller holds t.mu.
func (t *throttle) forget(now time.Time) {
	for addr, f := range t.m {
		if now.Sub(f.first) > failureWindow && !now.Before(f.until) {
			delete(t.m, addr)
		}
	}
}

// release gives back an attempt that turned out to be no guess: an expired join token, a right
// old password.
func (t *throttle) release(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[addr]
	if !ok {
		return
	}
	f.count--
	if f.count < maxFailures {
		f.until = time.Time{}
	}
}

// succeed forgets the failures of an address that logged in.
func (t *throttle) succeed(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, addr)
}

// hashSlots bounds the password checks that run at once for unauthenticated requests, so that a
// burst of logins from many addresses cannot take the CPU from authenticated traffic.
var hashSlots = max(2, runtime.GOMAXPROCS(0)/2)

// tryHash takes a password-check slot, reporting false at once when all are taken.
func (s *Server) tryHash() bool {
	select {
	case s.hashing <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Server) doneHash() { <-s.hashing }

// credCache remembers recently verified basic-auth credentials for a minute, by a keyed hash,
// so that API clients using basic auth do not pay a bcrypt comparison on every request.
type credCache struct {
	mu  sync.Mutex
	key [32]byte
	m   map[string]cachedCred
	now func() time.Time
	// gen counts clears: a credential verified before a clear (against a password that has
	// changed since) is not cached after it.
	gen uint64
}

type cachedCred struct {
	user    string
	expires time.Time
}

func newCredCache(now func() time.Time) *credCache {
	c := &credCache{m: map[string]cachedCred{}, now: now}
	if _, err := rand.Read(c.key[:]); err != nil {
		panic(err)
	}
	return c
}

func (c *credCache) id(user, pass string) string {
	h := sha256.New()
	h.Write(c.key[:])
	h.Write([]byte(user + "\x00" + pass))
	return hex.EncodeToString(h.Sum(nil))
}

func (c *credCache) get(user, pass string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[c.id(user, pass)]
	if !ok || c.now().After(e.expires) {
		return "", false
	}
	return e.user, true
}

// generation is what put needs to know that no clear came in between.
func (c *credCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches a credential verified after generation gen was read, unless the cache was cleared
// since.
func (c *credCache) put(gen uint64, user, pass, uuid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	c.m[c.id(user, pass)] = cachedCred{user: uuid, expires: c.now().Add(basicCacheTime)}
}

func (c *credCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = map[string]cachedCred{}
	c.gen++
}

// checkLogin verifies a username and password against the store, counting the attempt against
// addr first. Unless the login is good it answers the request itself, with the status it returns.
func (s *Server) checkLogin(w http.ResponseWriter, addr, username, password string) (*avi.User, int) {
	if !s.tryHash() {
		loginsBusy(w)
		return nil, http.StatusTooManyRequests
	}
	defer s.doneHash()
	if wait := s.throttle.attempt(addr); wait > 0 {
		tooMany(w, wait)
		return nil, http.StatusTooManyRequests
	}
	u, ok := s.verifyPassword(username, password)
	if !ok {
		writeError(w, http.StatusUnauthorized, "wrong username or password")
		return nil, http.StatusUnauthorized
	}
	s.throttle.succeed(addr)
	return u, http.StatusOK
}

// verifyPassword compares a password with the stored hash of the user it names.
func (s *Server) verifyPassword(username, password string) (*avi.User, bool) {
	for _, u := range store.List[*avi.User](s.store) {
		if u.Username == username {
			return u, u.CheckPassword(password)
		}
	}
	// Spend the same time as a real comparison, so that timing does not tell which users exist.
	(&avi.User{PasswordHash: s.dummyHash}).CheckPassword(password)
	return nil, false
}

// authenticate returns the user uuid of a request, by API token (then also the token), by
// session cookie (with the CSRF header on state-changing methods) or by HTTP basic auth.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, *avi.AuthToken, bool) {
	if user, tokUUID, ok := s.forwardedIdentity(r); ok {
		if tokUUID == "" {
			return user, nil, true
		}
		tok, err := store.Get[*avi.AuthToken](s.store, tokUUID)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "API token unknown or revoked")
			return "", nil, false
		}
		return user, tok, true
	}
	if value, ok := bearerToken(r); ok {
		tok := s.tokenByValue(value)
		if tok == nil {
			writeError(w, http.StatusUnauthorized, "API token unknown or revoked")
			return "", nil, false
		}
		if !s.useToken(w, tok) {
			return "", nil, false
		}
		return avi.UUIDOf(tok.UserRef), tok, true
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if uuid, ok := s.basic.get(user, pass); ok {
			return uuid, nil, true
		}
		gen := s.basic.generation()
		u, status := s.checkLogin(w, clientAddr(r), user, pass)
		if status != http.StatusOK {
			return "", nil, false
		}
		s.basic.put(gen, user, pass, u.UUID)
		return u.UUID, nil, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "log in first: POST /login, use HTTP basic auth, or send an API token (Authorization: Token <token>)")
		return "", nil, false
	}
	ss, ok := s.sessions.get(c.Value)
	if !ok {
		writeError(w, http.StatusUnauthorized, "session expired: log in again")
		return "", nil, false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
		if !ss.csrfMatches(r) {
			writeError(w, http.StatusForbidden, "CSRF token missing or wrong: send the csrftoken cookie's value in the X-CSRFToken header")
			return "", nil, false
		}
	}
	if ss.token == "" {
		return ss.user, nil, true
	}
	// A session opened with an API token lasts no longer than the token and has its scope.
	tok, err := store.Get[*avi.AuthToken](s.store, ss.token)
	if err != nil {
		s.sessions.end(c.Value)
		writeError(w, http.StatusUnauthorized, "the API token this session was opened with is revoked: log in again")
		return "", nil, false
	}
	if !s.useToken(w, tok) {
		s.sessions.end(c.Value)
		return "", nil, false
	}
	return ss.user, tok, true
}
