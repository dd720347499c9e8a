package controller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// repeat is n bytes of b, produced as they are read.
func repeat(b byte, n int64) io.Reader {
	return io.LimitReader(readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = b
		}
		return len(p), nil
	}), n)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// poolJSON is a pool with n servers.
func poolJSON(name string, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"name": %q, "servers": [`, name)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"ip": {"addr": "10.%d.%d.%d", "type": "V4"}}`, i>>16&255, i>>8&255, i&255)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// sessionRequest is a request authenticated by the admin's session, for the handler itself.
func (e *apiEnv) sessionRequest(method, path string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, path, body)
	r.Header.Set("Content-Type", "application/json")
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.session})
	r.Header.Set(csrfHeader, e.csrf)
	return r
}

// errorOf is the message of a {"error": ...} answer.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] == "" {
		t.Fatalf("answer %d %q: want {\"error\": ...}", w.Code, w.Body.String())
	}
	return body["error"]
}

// A pool of 200,000 servers in a 10 MB body is refused with 413 naming the limit, and the
// controller reads no more than the limit of it nor allocates more than a few times that.
func TestObjectBodyOverLimit(t *testing.T) {
	e := newSetUpAPIEnv(t)
	h := e.srv.Handler()
	body := poolJSON("huge", 200_000)
	if len(body) < 9_000_000 {
		t.Fatalf("the test body is %d bytes, want about 10 MB", len(body))
	}
	for _, method := range []string{"POST /api/pool", "PUT /api/pool/pool-x", "PATCH /api/pool/pool-x"} {
		t.Run(method, func(t *testing.T) {
			verb, path, _ := strings.Cut(method, " ")
			src := &countingReader{r: bytes.NewReader(body)}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			w := serveFrom(h, "192.0.2.10", e.sessionRequest(verb, path, src))
			runtime.ReadMemStats(&after)
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s with %d bytes: %d %s, want 413", method, len(body), w.Code, w.Body.String())
			}
			if msg := errorOf(t, w); msg != "body: larger than 4 MiB, the limit of this request" {
				t.Errorf("error %q: want it to name the body and its 4 MiB limit", msg)
			}
			if read := src.n.Load(); read > maxObjectBody+1 {
				t.Errorf("read %d bytes of the body, want at most the limit %d", read, maxObjectBody)
			}
			// Reading 4 MiB costs about twice that as the buffer grows; decoding the whole body
			// costs well over 100 MB. The margin covers the rest of the process meanwhile.
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: %d bytes read, %.1f MiB allocated, heap %.1f -> %.1f MiB", method, src.n.Load(),
				float64(alloc)/(1<<20), float64(before.HeapAlloc)/(1<<20), float64(after.HeapAlloc)/(1<<20))
			if alloc > 32<<20 {
				t.Errorf("the refused request allocated %d MiB, want at most 32", alloc>>20)
			}
		})
	}
}

// Limits of object fields through the API: 400 with the field and the limit, in the
// {"error": "<field>: <reason>"} form; below them the same objects are created.
func TestObjectLimitsThroughAPI(t *testing.T) {
	e := newSetUpAPIEnv(t)
	over := poolJSON("many", avi.MaxServersPerPool+1)
	if len(over) > 1<<20 {
		t.Fatalf("the test body is %d bytes, want a small one", len(over))
	}
	r := e.admin(t, "POST", "/api/pool", over).want(t, http.StatusBadRequest)
	if want := "servers: 5001 servers: at most 5000 allowed"; r.obj["error"] != want {
		t.Errorf("error %q, want %q", r.obj["error"], want)
	}
	e.admin(t, "POST", "/api/pool", poolJSON("many", avi.MaxServersPerPool)).want(t, http.StatusCreated)

	ports := make([]string, avi.MaxServicesPerVirtualService+1)
	for i := range ports {
		ports[i] = fmt.Sprintf(`{"port": %d}`, 1+i)
	}
	e.admin(t, "POST", "/api/virtualservice", `{"name": "vs", "services": [`+strings.Join(ports, ",")+`]}`).
		want(t, http.StatusBadRequest, "services: ", "1024")

	cases := []struct {
		name, kind, body string
		errs             []string
	}{
		{"NUL in an HTTP monitor request", "healthmonitor", `{"name": "h1", "type": "HEALTH_MONITOR_HTTP", "http_monitor": {"http_request": "GET /\u0000 HTTP/1.0"}}`,
			[]string{"http_monitor.http_request: ", "U+0000"}},
		{"NUL in a TCP monitor request", "healthmonitor", `{"name": "h2", "type": "HEALTH_MONITOR_TCP", "tcp_monitor": {"tcp_request": "PING\u0000"}}`,
			[]string{"tcp_monitor.tcp_request: ", "U+0000"}},
		{"control characters in a DNS pool member", "pool", `{"name": "p1", "servers": [{"ip": {"addr": "web\u001b[2J.example", "type": "DNS"}}]}`,
			[]string{"servers[0].ip.addr: "}},
		{"control character in a name", "pool", `{"name": "p\u0007"}`, []string{"name: "}},
		{"name over 256 characters", "pool", `{"name": "` + strings.Repeat("n", 257) + `"}`, []string{"name: ", "256"}},
		{"21 monitors on a pool", "pool", `{"name": "p2", "health_monitor_refs": [` + strings.TrimSuffix(strings.Repeat(`"/api/healthmonitor?name=System-TCP",`, 21), ",") + `]}`,
			[]string{"health_monitor_refs: ", "20"}},
		{"description over 1024 characters", "tenant", `{"name": "t1", "description": "` + strings.Repeat("d", 1025) + `"}`, []string{"description: ", "1024"}},
		{"cloud connector user not a Linux user name", "cloudconnectoruser", `{"name": "ops;reboot"}`, []string{"name: ", "Linux user name"}},
		{"password over 72 bytes", "user", `{"username": "long", "password": "Aa1-` + strings.Repeat("x", 69) + `"}`, []string{"password: ", "72"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.admin(t, "POST", "/api/"+c.kind, c.body).want(t, http.StatusBadRequest, c.errs...)
		})
	}
	// A cloud over its hosts.
	hosts := make([]string, avi.MaxHostsPerCloud+1)
	for i := range hosts {
		hosts[i] = fmt.Sprintf(`{"host_ip": {"addr": "10.1.%d.%d", "type": "V4"}}`, i>>8, i&255)
	}
	e.admin(t, "POST", "/api/cloud", `{"name": "big", "vtype": "CLOUD_LINUXSERVER", "linuxserver_configuration": {"ssh_user_ref": "/api/cloudconnectoruser?name=ops", "hosts": [`+strings.Join(hosts, ",")+`]}}`).
		want(t, http.StatusBadRequest, "linuxserver_configuration.hosts: ", "1024")
	// One's own password too: refused, not cut.
	e.do(t, "PUT", "/api/useraccount", map[string]string{"old_password": apiAdminPassword, "password": "Aa1-" + strings.Repeat("x", 69)}, apiCred{}).
		want(t, http.StatusBadRequest, "password: ", "72")
}

// Login bodies are bounded at 64 KiB, JSON or form; a configuration import is allowed up to
// 64 MiB, well over an object write's 4 MiB.
func TestLoginAndImportBodyLimits(t *testing.T) {
	e := newSetUpAPIEnv(t)
	h := e.srv.Handler()
	loginBody := func(ct string, n int64) *http.Request {
		var body io.Reader
		if ct == "application/json" {
			body = io.MultiReader(strings.NewReader(`{"username": "admin", "password": "`), repeat('p', n), strings.NewReader(`"}`))
		} else {
			body = io.MultiReader(strings.NewReader("username=admin&password="), repeat('p', n))
		}
		r := httptest.NewRequest("POST", "/login", body)
		r.Header.Set("Content-Type", ct)
		return r
	}
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
		if w := serveFrom(h, "192.0.2.20", loginBody(ct, 60<<10)); w.Code != http.StatusUnauthorized {
			t.Errorf("%s login of 60 KiB with a wrong password: %d %s, want 401", ct, w.Code, w.Body.String())
		}
		w := serveFrom(h, "192.0.2.21", loginBody(ct, 65<<10))
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s login of 65 KiB: %d %s, want 413", ct, w.Code, w.Body.String())
		}
		if msg := errorOf(t, w); !strings.Contains(msg, "64 KiB") {
			t.Errorf("%s login of 65 KiB: error %q does not name the 64 KiB limit", ct, msg)
		}
	}

	importBody := func(n int64) *countingReader {
		return &countingReader{r: io.MultiReader(strings.NewReader(`{"passphrase": "`), repeat('x', n), strings.NewReader(`"}`))}
	}
	// 8 MiB: over an object write's limit, within an import's; refused for what it holds.
	w := serveFrom(h, "192.0.2.10", e.sessionRequest("POST", "/api/configuration/import", importBody(8<<20)))
	if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "configuration: ") {
		t.Errorf("import of 8 MiB: %d %s, want 400 configuration: is required", w.Code, w.Body.String())
	}
	big := importBody(65 << 20)
	w = serveFrom(h, "192.0.2.10", e.sessionRequest("POST", "/api/configuration/import", big))
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(errorOf(t, w), "64 MiB") {
		t.Errorf("import of 65 MiB: %d %s, want 413 naming 64 MiB", w.Code, w.Body.String())
	}
	if read := big.n.Load(); read > maxImportBody+1 {
		t.Errorf("read %d bytes of the import, want at most %d", read, maxImportBody)
	}
}

// testClock is a clock a test moves; the controller reads it from its handlers' goroutines.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *testClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }

// A session ends 30 minutes after its last use, and 12 hours after the login however busy it
// is.
func TestSessionLifetime(t *testing.T) {
	e := newSetUpAPIEnv(t)
	clock := newTestClock()
	e.srv.sessions.now = clock.now
	start := clock.now()
	sess, _, r := e.login(t, "admin", apiAdminPassword)
	r.want(t, http.StatusOK)
	used := apiCred{session: sess}
	for clock.now().Before(start.Add(sessionLifetime - 20*time.Minute)) {
		clock.add(20 * time.Minute)
		e.do(t, "GET", "/api/useraccount", nil, used).want(t, http.StatusOK)
	}
	clock.set(start.Add(sessionLifetime + time.Second))
	e.do(t, "GET", "/api/useraccount", nil, used).want(t, http.StatusUnauthorized, "session expired")

	idle, _, r := e.login(t, "admin", apiAdminPassword)
	r.want(t, http.StatusOK)
	clock.add(sessionIdle + time.Second)
	e.do(t, "GET", "/api/useraccount", nil, apiCred{session: idle}).want(t, http.StatusUnauthorized, "session expired")
}

// A password change logs the user out everywhere: every session ends and a basic-auth
// credential the controller cached no longer lets in. A change through PUT /api/useraccount
// keeps the session that made it; an administrator's change keeps none of the user's.
func TestPasswordChangeLogsOut(t *testing.T) {
	const newPassword = "N3w-Passw0rd!"
	e := newSetUpAPIEnv(t)
	for _, how := range []string{"own change", "admin PATCH", "admin PUT"} {
		t.Run(how, func(t *testing.T) {
			name := strings.ReplaceAll(how, " ", "-")
			old := e.mustUser(t, name, avi.RoleReadonly, avi.AdminTenant)
			a, aCSRF, r := e.login(t, name, accessPassword)
			r.want(t, http.StatusOK)
			b, _, r := e.login(t, name, accessPassword)
			r.want(t, http.StatusOK)
			// Cached from here: the next basic-auth request costs no bcrypt comparison.
			e.do(t, "GET", "/api/pool", nil, old).want(t, http.StatusOK)
			if _, ok := e.srv.basic.get(name, accessPassword); !ok {
				t.Fatal("the basic-auth credential was not cached")
			}

			userURL := e.urlOf(t, "user", name)
			keeps := false
			switch how {
			case "own change":
				e.do(t, "PUT", "/api/useraccount", map[string]string{"old_password": accessPassword, "password": newPassword}, apiCred{session: a, csrf: aCSRF}).
					want(t, http.StatusOK)
				keeps = true
			case "admin PATCH":
				e.admin(t, "PATCH", userURL, map[string]string{"password": newPassword}).want(t, http.StatusOK)
			case "admin PUT":
				u := e.byName(t, "user", name)
				u["password"] = newPassword
				e.admin(t, "PUT", userURL, u).want(t, http.StatusOK)
			}

			if keeps {
				e.do(t, "GET", "/api/pool", nil, apiCred{session: a}).want(t, http.StatusOK)
			} else {
				e.do(t, "GET", "/api/pool", nil, apiCred{session: a}).want(t, http.StatusUnauthorized, "session expired")
			}
			e.do(t, "GET", "/api/pool", nil, apiCred{session: b}).want(t, http.StatusUnauthorized, "session expired")
			e.do(t, "GET", "/api/pool", nil, old).want(t, http.StatusUnauthorized)
			e.do(t, "GET", "/api/pool", nil, apiCred{user: name, pass: newPassword}).want(t, http.StatusOK)
		})
	}
}

// An import that brings back another password for a user logs that user out as a password
// change does; the administrator who imports keeps the session the import came in.
func TestImportedPasswordLogsOut(t *testing.T) {
	const newPassword = "N3w-Passw0rd!"
	e := newSetUpAPIEnv(t)
	e.mustUser(t, "imp-user", avi.RoleReadonly, avi.AdminTenant)
	ex := e.admin(t, "POST", "/api/configuration/export", map[string]string{"passphrase": apiExportPhrase}).want(t, http.StatusOK)
	var export map[string]any
	if err := json.Unmarshal([]byte(ex.raw), &export); err != nil {
		t.Fatal(err)
	}
	e.admin(t, "PATCH", e.urlOf(t, "user", "imp-user"), map[string]string{"password": newPassword}).want(t, http.StatusOK)
	sess, _, r := e.login(t, "imp-user", newPassword)
	r.want(t, http.StatusOK)
	basic := apiCred{user: "imp-user", pass: newPassword}
	e.do(t, "GET", "/api/pool", nil, basic).want(t, http.StatusOK)

	e.admin(t, "POST", "/api/configuration/import", map[string]any{"passphrase": apiExportPhrase, "configuration": export}).want(t, http.StatusOK)
	e.do(t, "GET", "/api/pool", nil, apiCred{session: sess}).want(t, http.StatusUnauthorized, "session expired")
	e.do(t, "GET", "/api/pool", nil, basic).want(t, http.StatusUnauthorized)
	e.do(t, "GET", "/api/pool", nil, apiCred{user: "imp-user", pass: accessPassword}).want(t, http.StatusOK)
	e.admin(t, "GET", "/api/useraccount", nil).want(t, http.StatusOK)
}

// A basic-auth credential verified against a password that changed meanwhile is not cached
// after the change cleared the cache: it would let the old password in for a minute.
func TestCredCacheSkipsCredentialsVerifiedBeforeAClear(t *testing.T) {
	c := newCredCache(time.Now)
	gen := c.generation()
	// The password changes while the request's bcrypt comparison runs.
	c.clear()
	c.put(gen, "u", "old-password", "user-1")
	if _, ok := c.get("u", "old-password"); ok {
		t.Error("a credential verified before the clear was cached after it")
	}
	c.put(c.generation(), "u", "new-password", "user-1")
	if uuid, ok := c.get("u", "new-password"); !ok || uuid != "user-1" {
		t.Errorf("a credential verified after the clear: cached %v as %q", ok, uuid)
	}
}

// The UI warns of a password over the controller's limit before sending it: the limit it uses is
// the model's (ui/lib/password.js under node).
func TestUIPasswordLimitIsTheModels(t *testing.T) {
	out, _ := runUIScript(t, "import { MAX_PASSWORD_BYTES } from './password.js';\nprocess.stdout.write(String(MAX_PASSWORD_BYTES));\n",
		nil, "password.js", "dom.js")
	if got := strings.TrimSpace(string(out)); got != strconv.Itoa(avi.MaxPasswordBytes) {
		t.Errorf("the UI's MAX_PASSWORD_BYTES is %s, the controller's limit %d", got, avi.MaxPasswordBytes)
	}
}
