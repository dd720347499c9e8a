package controller

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveFrom sends a request to the controller's handler as if from addr.
func serveFrom(h http.Handler, addr string, r *http.Request) *httptest.ResponseRecorder {
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func loginRequest(user, pass string) *http.Request {
	r := httptest.NewRequest("POST", "/login", strings.NewReader(`{"username": "`+user+`", "password": "`+pass+`"}`))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func basicRequest(user, pass string) *http.Request {
	r := httptest.NewRequest("GET", "/api/pool", nil)
	r.SetBasicAuth(user, pass)
	return r
}

// A burst of parallel wrong logins from one address gets no more password checks than the
// throttle allows; a session is served during the burst, and the right password from another
// address logs in after it.
func TestLoginThrottleHoldsUnderConcurrency(t *testing.T) {
	const burst = 50
	for _, c := range []struct {
		name  string
		wrong func() *http.Request
	}{
		{"login form", func() *http.Request { return loginRequest("admin", "Wr0ng-pass") }},
		{"basic auth", func() *http.Request { return basicRequest("admin", "Wr0ng-pass") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newSetUpAPIEnv(t)
			// A stopped clock: the first block never runs out during the burst, however slow.
			stopped := time.Now()
			e.srv.throttle = newThrottle(func() time.Time { return stopped })
			h := e.srv.Handler()

			start := make(chan struct{})
			codes := make(chan int, burst)
			var wg sync.WaitGroup
			for range burst {
				wg.Go(func() {
					<-start
					codes <- serveFrom(h, "192.0.2.66", c.wrong()).Code
				})
			}
			var session int
			wg.Go(func() {
				<-start
				r := httptest.NewRequest("GET", "/api/useraccount", nil)
				r.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.session})
				session = serveFrom(h, "192.0.2.66", r).Code
			})
			close(start)
			wg.Wait()
			close(codes)
			count := map[int]int{}
			for code := range codes {
				count[code]++
			}
			if count[http.StatusUnauthorized] > maxFailures || count[http.StatusUnauthorized]+count[http.StatusTooManyRequests] != burst {
				t.Errorf("answers to %d parallel wrong logins: %v; want at most %d checked (401), the rest 429", burst, count, maxFailures)
			}
			if session != http.StatusOK {
				t.Errorf("session request during the burst: %d, want 200", session)
			}
			if w := serveFrom(h, "192.0.2.67", loginRequest("admin", apiAdminPassword)); w.Code != http.StatusOK {
				t.Errorf("right login from another address after the burst: %d %s", w.Code, w.Body)
			}
		})
	}
}

// With every password-check slot taken, a login is refused at once rather than queued, and a
// session is still served.
func TestLoginRefusedWhenHashSlotsAreTaken(t *testing.T) {
	e := newSetUpAPIEnv(t)
	h := e.srv.Handler()
	for range hashSlots {
		if !e.srv.tryHash() {
			t.Fatal("a free slot was refused")
		}
	}
	w := serveFrom(h, "192.0.2.68", loginRequest("admin", apiAdminPassword))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("login with every slot taken: %d %s; want 429 with Retry-After", w.Code, w.Body)
	}
	r := httptest.NewRequest("GET", "/api/useraccount", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.session})
	if w := serveFrom(h, "192.0.2.68", r); w.Code != http.StatusOK {
		t.Errorf("session request with every slot taken: %d, want 200", w.Code)
	}
	for range hashSlots {
		e.srv.doneHash()
	}
	if w := serveFrom(h, "192.0.2.68", loginRequest("admin", apiAdminPassword)); w.Code != http.StatusOK {
		t.Errorf("login once the slots are free: %d %s", w.Code, w.Body)
	}
}

// The throttle forgets an address once its window has passed, and only then.
func TestThrottleForgetsPastAddresses(t *testing.T) {
	now := time.Now()
	th := newThrottle(func() time.Time { return now })
	th.attempt("192.0.2.70")
	now = now.Add(failureWindow + time.Second)
	for range maxFailures {
		th.attempt("192.0.2.71")
	}
	th.attempt("192.0.2.72")
	if _, ok := th.m["192.0.2.70"]; ok {
		t.Error("an address whose window passed is still kept")
	}
	if wait := th.attempt("192.0.2.71"); wait == 0 {
		t.Error("an address within its window was forgotten: no longer blocked")
	}
	if len(th.m) != 2 {
		t.Errorf("throttle keeps %d addresses, want 2", len(th.m))
	}
}
