package controller

// API tests (issue 3): every object kind through the REST API as a client sees it, over TLS,
// with the rules of docs/api.md. One controller is set up once and shared by the subtests of
// TestAPI (bcrypt at cost 12 makes every new server and login cost a quarter of a second);
// each subtest uses objects of its own names.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/clouds/dockercloud"
	"github.com/avi-init/avi-init/runtime/controller/clouds/mesoscloud"
)

const (
	apiAdminPassword = "Adm1n-Passw0rd!"
	apiExportPhrase  = "correct horse battery staple"
)

// apiEnv is one controller behind an httptest TLS server.
type apiEnv struct {
	srv        *Server
	ts         *httptest.Server
	user, pass string // the admin's credentials once set up
	// The admin's session: admin requests use it, so that they cost no bcrypt comparison even
	// after the basic-auth cache is cleared (by every password change).
	session, csrf string
}

// apiCred says how a request authenticates: basic auth, a session, or not at all.
type apiCred struct {
	user, pass   string
	session      string
	csrf         string
	none         bool
	contentType  string
	extraHeaders map[string]string
}

// apiResp is an answer: status, headers, raw body and the body decoded when it is an object.
type apiResp struct {
	code   int
	header http.Header
	raw    string
	obj    map[string]any
	resp   *http.Response
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	srv, err := NewServer(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return &apiEnv{srv: srv, ts: ts}
}

// apiSetupRequest is the docs/api.md setup request with an admin password.
func apiSetupRequest(password string) map[string]any {
	return map[string]any{
		"admin": map[string]any{"username": "admin", "password": password},
		"systemconfiguration": map[string]any{
			"dns_configuration":   map[string]any{"server_list": []any{map[string]any{"addr": "192.0.2.53", "type": "V4"}}},
			"ntp_configuration":   map[string]any{"ntp_servers": []any{map[string]any{"server": map[string]any{"addr": "pool.ntp.org", "type": "DNS"}}}},
			"email_configuration": map[string]any{"smtp_type": "SMTP_NONE"},
		},
		"cloud": map[string]any{"name": "Default-Cloud", "vtype": "CLOUD_NONE"},
	}
}

// setUp completes the wizard with an admin password and keeps the credentials.
func (e *apiEnv) setUp(t *testing.T, password string, extra map[string]any) {
	t.Helper()
	req := apiSetupRequest(password)
	for k, v := range extra {
		req[k] = v
	}
	r := e.do(t, "POST", "/api/setup", req, apiCred{none: true})
	if r.code != http.StatusOK || r.obj["setup_state"] != "complete" {
		t.Fatalf("setup: %d %s", r.code, r.raw)
	}
	e.user, e.pass = "admin", password
	var lr *apiResp
	e.session, e.csrf, lr = e.login(t, e.user, e.pass)
	lr.want(t, http.StatusOK)
}

func (e *apiEnv) do(t *testing.T, method, path string, body any, cred apiCred) *apiResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		ct := cred.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	switch {
	case cred.none:
	case cred.session != "":
		req.AddCookie(&http.Cookie{Name: "avi-sessionid", Value: cred.session})
		if cred.csrf != "" {
			req.Header.Set("X-CSRFToken", cred.csrf)
		}
	case cred.user != "":
		req.SetBasicAuth(cred.user, cred.pass)
	case e.session != "":
		req.AddCookie(&http.Cookie{Name: "avi-sessionid", Value: e.session})
		req.Header.Set("X-CSRFToken", e.csrf)
	default:
		req.SetBasicAuth(e.user, e.pass)
	}
	for k, v := range cred.extraHeaders {
		req.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &apiResp{code: resp.StatusCode, header: resp.Header, raw: string(raw), resp: resp}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.obj); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return r
}

// admin sends a request as the admin (by session).
func (e *apiEnv) admin(t *testing.T, method, path string, body any) *apiResp {
	t.Helper()
	return e.do(t, method, path, body, apiCred{})
}

// want fails the test unless the answer has the status and, for errors, an error naming the
// field (a substring of the error message).
func (r *apiResp) want(t *testing.T, code int, errSubstr ...string) *apiResp {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d: %s", r.code, code, r.raw)
	}
	for _, s := range errSubstr {
		msg, _ := r.obj["error"].(string)
		if !strings.Contains(msg, s) {
			t.Fatalf("error %q (body %s) does not name %q", msg, r.raw, s)
		}
	}
	return r
}

// mustCreate posts an object and returns it.
func (e *apiEnv) mustCreate(t *testing.T, kind string, body any) map[string]any {
	t.Helper()
	r := e.admin(t, "POST", "/api/"+kind, body).want(t, http.StatusCreated)
	return r.obj
}

// byName returns the one object of that kind and name.
func (e *apiEnv) byName(t *testing.T, kind, name string) map[string]any {
	t.Helper()
	r := e.admin(t, "GET", "/api/"+kind+"?name="+url.QueryEscape(name), nil).want(t, http.StatusOK)
	res, _ := r.obj["results"].([]any)
	if n, _ := r.obj["count"].(float64); int(n) != 1 || len(res) != 1 {
		t.Fatalf("%s named %q: %s; want exactly one", kind, name, r.raw)
	}
	return res[0].(map[string]any)
}

// urlOf is the /api/<kind>/<uuid> of an object.
func (e *apiEnv) urlOf(t *testing.T, kind, name string) string {
	t.Helper()
	return "/api/" + kind + "/" + e.byName(t, kind, name)["uuid"].(string)
}

// apiGet walks a decoded JSON document: apiGet(o, "servers", 0, "ip", "addr").
func apiGet(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// apiHasKey reports whether a decoded object has the field at all.
func apiHasKey(o map[string]any, path ...string) bool {
	var v any = o
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[p]; !ok {
			return false
		}
	}
	return true
}

func apiWantEq(t *testing.T, what string, got, want any) {
	t.Helper()
	if num, ok := want.(int); ok {
		want = float64(num)
	}
	if num, ok := got.(int); ok {
		got = float64(num)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// login opens a session and returns its cookie value and CSRF token.
func (e *apiEnv) login(t *testing.T, user, pass string) (session, csrf string, r *apiResp) {
	t.Helper()
	r = e.do(t, "POST", "/login", map[string]string{"username": user, "password": pass}, apiCred{none: true})
	for _, c := range r.resp.Cookies() {
		switch c.Name {
		case "avi-sessionid":
			session = c.Value
		case "csrftoken":
			csrf = c.Value
		}
	}
	return session, csrf, r
}

// apiTestKey returns an OpenSSH ed25519 private key and its authorized_keys line.
func apiTestKey(t *testing.T) (privPEM, pub string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "api test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

// apiNoSecrets fails when an answer carries a secret: a secret value itself or a field that only
// secrets use.
func apiNoSecrets(t *testing.T, what, raw string, values ...string) {
	t.Helper()
	apiNoStrings(t, what, raw, append([]string{"password_hash", "private_key", "credential_hash"}, values...)...)
}

// apiNoStrings fails when raw holds one of the strings, or a bcrypt hash or a PEM private key.
func apiNoStrings(t *testing.T, what, raw string, values ...string) {
	t.Helper()
	for _, s := range append([]string{"PRIVATE KEY", "$2a$", "$2b$"}, values...) {
		if s != "" && strings.Contains(raw, s) {
			t.Errorf("%s leaks %q: %s", what, s, raw)
		}
	}
}

// apiKeyLine is a line from the middle of a PEM key: private material, in no answer.
func apiKeyLine(pemText string) string {
	lines := strings.Split(strings.TrimSpace(pemText), "\n")
	return lines[len(lines)/2]
}

// The DESIGN.md examples, verbatim.
const (
	apiDesignHM         = `{"name": "hm-http", "type": "HEALTH_MONITOR_HTTP", "send_interval": 5, "receive_timeout": 4, "successful_checks": 2, "failed_checks": 3, "http_monitor": {"http_request": "GET / HTTP/1.0", "http_response_code": ["HTTP_2XX", "HTTP_3XX"]}}`
	apiDesignPool       = `{"name": "web", "lb_algorithm": "LB_ALGORITHM_LEAST_CONNECTIONS", "servers": [{"ip": {"addr": "192.0.2.21", "type": "V4"}, "port": 8080}], "health_monitor_refs": ["/api/healthmonitor?name=hm-http"]}`
	apiDesignVS         = `{"name": "web-vs", "services": [{"port": 10001}], "pool_ref": "/api/pool?name=web", "application_profile_ref": "/api/applicationprofile?name=System-HTTP"}`
	apiDesignLinuxCloud = `{"name": "Default-Cloud", "vtype": "CLOUD_LINUXSERVER",
  "linuxserver_configuration": {"ssh_user_ref": "/api/cloudconnectoruser?name=ops",
                                "hosts": [{"host_ip": {"addr": "192.0.2.31", "type": "V4"}}]}}`
	apiDesignMesosCloud = `{"name": "Default-Cloud", "vtype": "CLOUD_MESOS",
  "mesos_configuration": {"mesos_url": "http://leader.mesos:5050", "app_sync_frequency": 60,
    "marathon_configurations": [{"marathon_url": "http://leader.mesos:8080",
                                 "marathon_username": "", "marathon_password": ""}]}}`
)

func TestAPI(t *testing.T) {
	e := newAPIEnv(t)
	var setupPublicKey string

	t.Run("BeforeSetup", func(t *testing.T) {
		r := e.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).want(t, http.StatusOK)
		apiWantEq(t, "setup_state", r.obj["setup_state"], "pending")
		apiWantEq(t, "user_initial_setup", r.obj["user_initial_setup"], true)
		if v, _ := apiGet(r.obj, "version", "Version").(string); v == "" {
			t.Errorf("initial data without a version: %s", r.raw)
		}
		creds := map[string]apiCred{"no credentials": {none: true}, "basic auth": {user: "admin", pass: apiAdminPassword}}
		for _, k := range avi.Kinds {
			for cname, cred := range creds {
				for _, m := range []string{"GET", "POST"} {
					r := e.do(t, m, "/api/"+k.Name, `{"name": "x"}`, cred)
					if msg, _ := r.obj["error"].(string); r.code != http.StatusForbidden || !strings.Contains(msg, "setup wizard") {
						t.Errorf("%s /api/%s with %s before setup: %d %s; want 403 saying to complete the setup wizard", m, k.Name, cname, r.code, r.raw)
					}
				}
			}
			r := e.do(t, "DELETE", "/api/"+k.Name+"/x", nil, apiCred{none: true})
			if r.code != http.StatusForbidden {
				t.Errorf("DELETE /api/%s/x before setup: %d", k.Name, r.code)
			}
		}
		for _, p := range []string{"/api/useraccount", "/api/configuration/export", "/login"} {
			if r := e.do(t, "POST", p, `{}`, apiCred{none: true}); r.code != http.StatusForbidden && !(p == "/api/useraccount" && r.code == http.StatusMethodNotAllowed) {
				t.Errorf("POST %s before setup: %d %s; want 403", p, r.code, r.raw)
			}
		}
	})

	t.Run("Setup", func(t *testing.T) {
		// A weak admin password is refused, naming admin.password; nothing is set up.
		for _, weak := range []string{"password", "Short1!", "alllowercaseletters"} {
			e.do(t, "POST", "/api/setup", apiSetupRequest(weak), apiCred{none: true}).want(t, http.StatusBadRequest, "admin.password")
		}
		e.do(t, "POST", "/api/setup", `{"admin": {"username": "admin", "password": "`+apiAdminPassword+`"}, "bogus": 1}`, apiCred{none: true}).want(t, http.StatusBadRequest, "bogus")
		e.do(t, "POST", "/api/setup", `{"admin": {"username": "admin"}}`, apiCred{none: true}).want(t, http.StatusBadRequest, "admin")
		unknownKey := apiSetupRequest(apiAdminPassword)
		unknownKey["cloudconnectoruser_key_id"] = "no-such-key"
		e.do(t, "POST", "/api/setup", unknownKey, apiCred{none: true}).want(t, http.StatusBadRequest, "cloudconnectoruser_key_id")
		badCloud := apiSetupRequest(apiAdminPassword)
		badCloud["cloud"] = map[string]any{"name": "Default-Cloud", "vtype": "CLOUD_NOPE"}
		e.do(t, "POST", "/api/setup", badCloud, apiCred{none: true}).want(t, http.StatusBadRequest, "cloud.vtype")
		r := e.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).want(t, http.StatusOK)
		apiWantEq(t, "setup_state after refused setups", r.obj["setup_state"], "pending")

		// The wizard's key pair: an ed25519 public key and an id to use in the setup.
		kp := e.do(t, "POST", "/api/setup/keypair", nil, apiCred{none: true}).want(t, http.StatusOK)
		keyID, _ := kp.obj["key_id"].(string)
		setupPublicKey, _ = kp.obj["public_key"].(string)
		if keyID == "" || !strings.HasPrefix(setupPublicKey, "ssh-ed25519 AAAA") {
			t.Fatalf("keypair answer %s: want a key_id and an ssh-ed25519 public key", kp.raw)
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(setupPublicKey)); err != nil {
			t.Errorf("public key %q does not parse: %v", setupPublicKey, err)
		}
		apiNoSecrets(t, "keypair answer", kp.raw)
		other := e.do(t, "POST", "/api/setup/keypair", nil, apiCred{none: true}).want(t, http.StatusOK)
		if other.obj["key_id"] == keyID || other.obj["public_key"] == setupPublicKey {
			t.Error("two keypair calls returned the same key")
		}

		e.setUp(t, apiAdminPassword, map[string]any{"cloudconnectoruser": map[string]any{"name": "ops"}, "cloudconnectoruser_key_id": keyID})

		r = e.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).want(t, http.StatusOK)
		apiWantEq(t, "setup_state", r.obj["setup_state"], "complete")
		apiWantEq(t, "user_initial_setup", r.obj["user_initial_setup"], false)
		e.do(t, "POST", "/api/setup", apiSetupRequest("An0ther-Passw0rd"), apiCred{none: true}).want(t, http.StatusForbidden)
		e.do(t, "POST", "/api/setup/keypair", nil, apiCred{none: true}).want(t, http.StatusForbidden)
		// The second setup changed nothing: the first admin password still works.
		e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "admin", pass: apiAdminPassword}).want(t, http.StatusOK)

		ops := e.byName(t, "cloudconnectoruser", "ops")
		apiWantEq(t, "ops public_key", ops["public_key"], setupPublicKey)
		r = e.admin(t, "GET", "/api/cloudconnectoruser", nil).want(t, http.StatusOK)
		apiNoSecrets(t, "cloudconnectoruser list", r.raw)
		sc := e.admin(t, "GET", "/api/systemconfiguration", nil).want(t, http.StatusOK)
		apiWantEq(t, "dns server", apiGet(sc.obj, "results", 0, "dns_configuration", "server_list", 0, "addr"), "192.0.2.53")
		apiWantEq(t, "welcome_workflow_complete", apiGet(sc.obj, "results", 0, "welcome_workflow_complete"), true)
		// What exists from first boot.
		for kind, name := range map[string]string{"applicationprofile": "System-HTTP", "cloud": "Default-Cloud", "user": "admin"} {
			e.byName(t, kind, name)
		}
		apiWantEq(t, "System-L4-Application type", e.byName(t, "applicationprofile", "System-L4-Application")["type"], "APPLICATION_PROFILE_TYPE_L4")
		apiWantEq(t, "admin is_superuser", e.byName(t, "user", "admin")["is_superuser"], true)
	})
	if e.user == "" {
		t.Fatal("setup failed: the other subtests need a controller that is set up")
	}

	t.Run("Unauthenticated", func(t *testing.T) {
		for _, k := range avi.Kinds {
			e.do(t, "GET", "/api/"+k.Name, nil, apiCred{none: true}).want(t, http.StatusUnauthorized)
			e.do(t, "POST", "/api/"+k.Name, `{"name": "x"}`, apiCred{none: true}).want(t, http.StatusUnauthorized)
			e.do(t, "GET", "/api/"+k.Name+"/x", nil, apiCred{none: true}).want(t, http.StatusUnauthorized)
			e.do(t, "PUT", "/api/"+k.Name+"/x", `{"name": "x"}`, apiCred{none: true}).want(t, http.StatusUnauthorized)
			e.do(t, "PATCH", "/api/"+k.Name+"/x", `{"name": "x"}`, apiCred{none: true}).want(t, http.StatusUnauthorized)
			e.do(t, "DELETE", "/api/"+k.Name+"/x", nil, apiCred{none: true}).want(t, http.StatusUnauthorized)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/useraccount"}, {"PUT", "/api/useraccount"},
			{"POST", "/api/configuration/export"}, {"POST", "/api/configuration/import"},
		} {
			e.do(t, c.method, c.path, `{}`, apiCred{none: true}).want(t, http.StatusUnauthorized)
		}
		// A session cookie that was never issued.
		e.do(t, "GET", "/api/pool", nil, apiCred{session: "forged", csrf: "forged"}).want(t, http.StatusUnauthorized)
		// Wrong basic auth (once: the throttle allows a few), then the right one.
		e.do(t, "GET", "/api/pool", nil, apiCred{user: "admin", pass: "Wr0ng-password"}).want(t, http.StatusUnauthorized)
		e.do(t, "GET", "/api/pool", nil, apiCred{user: "admin", pass: apiAdminPassword}).want(t, http.StatusOK)
		// The initial data needs no credentials.
		e.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).want(t, http.StatusOK)
	})

	t.Run("Session", func(t *testing.T) {
		// A wrong password is 401 and sets no session.
		if s, _, r := e.login(t, "admin", "Wr0ng-password"); r.code != http.StatusUnauthorized || s != "" {
			t.Fatalf("login with a wrong password: %d, session %q", r.code, s)
		}
		sess, csrf, r := e.login(t, "admin", apiAdminPassword)
		r.want(t, http.StatusOK)
		apiNoSecrets(t, "login answer", r.raw, apiAdminPassword)
		apiWantEq(t, "login user", apiGet(r.obj, "user", "username"), "admin")
		var sc, cc *http.Cookie
		for _, c := range r.resp.Cookies() {
			switch c.Name {
			case "avi-sessionid":
				sc = c
			case "csrftoken":
				cc = c
			}
		}
		if sc == nil || cc == nil || sess == "" || csrf == "" {
			t.Fatalf("login cookies %v: want avi-sessionid and csrftoken", r.header.Values("Set-Cookie"))
		}
		if !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteStrictMode {
			t.Errorf("avi-sessionid cookie %q: want HttpOnly, Secure, SameSite=Strict", sc.Raw)
		}
		if cc.HttpOnly || !cc.Secure || cc.SameSite != http.SameSiteStrictMode {
			t.Errorf("csrftoken cookie %q: want readable by the page (not HttpOnly), Secure, SameSite=Strict", cc.Raw)
		}
		if sess == csrf {
			t.Error("the CSRF token is the session id")
		}
		withSession := apiCred{session: sess}
		withCSRF := apiCred{session: sess, csrf: csrf}
		wrongCSRF := apiCred{session: sess, csrf: csrf + "x"}

		e.do(t, "GET", "/api/healthmonitor", nil, withSession).want(t, http.StatusOK)
		apiWantEq(t, "whoami", e.do(t, "GET", "/api/useraccount", nil, withSession).want(t, http.StatusOK).obj["username"], "admin")

		hm := `{"name": "sess-hm", "type": "HEALTH_MONITOR_TCP"}`
		e.do(t, "POST", "/api/healthmonitor", hm, withSession).want(t, http.StatusForbidden, "CSRF")
		e.do(t, "POST", "/api/healthmonitor", hm, wrongCSRF).want(t, http.StatusForbidden, "CSRF")
		if r := e.admin(t, "GET", "/api/healthmonitor?name=sess-hm", nil); r.obj["count"] != float64(0) {
			t.Fatalf("a POST without the CSRF header created the object: %s", r.raw)
		}
		created := e.do(t, "POST", "/api/healthmonitor", hm, withCSRF).want(t, http.StatusCreated)
		path := created.obj["url"].(string)

		put := `{"name": "sess-hm", "type": "HEALTH_MONITOR_TCP", "failed_checks": 7}`
		e.do(t, "PUT", path, put, withSession).want(t, http.StatusForbidden, "CSRF")
		apiWantEq(t, "failed_checks after PUT with the session", e.do(t, "PUT", path, put, withCSRF).want(t, http.StatusOK).obj["failed_checks"], 7)
		e.do(t, "PATCH", path, `{"failed_checks": 9}`, withSession).want(t, http.StatusForbidden, "CSRF")
		apiWantEq(t, "failed_checks after PATCH with the session", e.do(t, "PATCH", path, `{"failed_checks": 9}`, withCSRF).want(t, http.StatusOK).obj["failed_checks"], 9)
		e.do(t, "DELETE", path, nil, withSession).want(t, http.StatusForbidden, "CSRF")
		e.do(t, "GET", path, nil, withSession).want(t, http.StatusOK)
		e.do(t, "DELETE", path, nil, withCSRF).want(t, http.StatusNoContent)
		e.do(t, "GET", path, nil, withSession).want(t, http.StatusNotFound)

		// Basic auth needs no CSRF header.
		e.admin(t, "POST", "/api/healthmonitor", `{"name": "sess-basic", "type": "HEALTH_MONITOR_TCP"}`).want(t, http.StatusCreated)

		// A form login works as well, and opens another session.
		form := e.do(t, "POST", "/login", "username=admin&password="+url.QueryEscape(apiAdminPassword), apiCred{none: true, contentType: "application/x-www-form-urlencoded"}).want(t, http.StatusOK)
		var sess2 string
		for _, c := range form.resp.Cookies() {
			if c.Name == "avi-sessionid" {
				sess2 = c.Value
			}
		}
		if sess2 == "" || sess2 == sess {
			t.Fatalf("form login: session %q", sess2)
		}

		// Logout needs the CSRF header, then the cookie is dead; the other session lives.
		e.do(t, "POST", "/logout", nil, withSession).want(t, http.StatusForbidden)
		e.do(t, "GET", "/api/pool", nil, withSession).want(t, http.StatusOK)
		e.do(t, "POST", "/logout", nil, withCSRF).want(t, http.StatusOK)
		e.do(t, "GET", "/api/pool", nil, withSession).want(t, http.StatusUnauthorized)
		e.do(t, "POST", "/api/healthmonitor", `{"name": "after-logout", "type": "HEALTH_MONITOR_TCP"}`, withCSRF).want(t, http.StatusUnauthorized)
		e.do(t, "GET", "/api/pool", nil, apiCred{session: sess2}).want(t, http.StatusOK)

		// Deleting a user ends its sessions; changing a user's password ends its sessions.
		e.mustCreate(t, "user", `{"username": "sess-user", "password": "Sess-Passw0rd"}`)
		us, _, r := e.login(t, "sess-user", "Sess-Passw0rd")
		r.want(t, http.StatusOK)
		e.do(t, "GET", "/api/pool", nil, apiCred{session: us}).want(t, http.StatusOK)
		userURL := e.urlOf(t, "user", "sess-user")
		e.admin(t, "PATCH", userURL, `{"password": "Sess-Passw0rd2"}`).want(t, http.StatusOK)
		e.do(t, "GET", "/api/pool", nil, apiCred{session: us}).want(t, http.StatusUnauthorized)
		us, _, r = e.login(t, "sess-user", "Sess-Passw0rd2")
		r.want(t, http.StatusOK)
		e.admin(t, "DELETE", userURL, nil).want(t, http.StatusNoContent)
		e.do(t, "GET", "/api/pool", nil, apiCred{session: us}).want(t, http.StatusUnauthorized)
		// One cannot delete one's own account.
		e.admin(t, "DELETE", e.urlOf(t, "user", "admin"), nil).want(t, http.StatusConflict)
	})

	t.Run("CRUD", func(t *testing.T) {
		profileHTTP := e.urlOf(t, "applicationprofile", "System-HTTP")
		profileL4 := e.urlOf(t, "applicationprofile", "System-L4-Application")
		ccuKeyPEM, ccuKeyPub := apiTestKey(t)
		type check func(t *testing.T, o map[string]any)
		cases := []struct {
			kind, name  string
			create      string
			afterCreate check
			put         string
			afterPut    check
			patch       string
			afterPatch  check
		}{
			{
				kind: "healthmonitor", name: "crud-hm",
				create: `{"name": "crud-hm", "type": "HEALTH_MONITOR_HTTP"}`,
				afterCreate: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "send_interval", o["send_interval"], 10)
					apiWantEq(t, "receive_timeout", o["receive_timeout"], 4)
					apiWantEq(t, "successful_checks", o["successful_checks"], 2)
					apiWantEq(t, "failed_checks", o["failed_checks"], 2)
					apiWantEq(t, "http_request", apiGet(o, "http_monitor", "http_request"), "HEAD / HTTP/1.0")
					apiWantEq(t, "http_response_code", apiGet(o, "http_monitor", "http_response_code"), []any{"HTTP_2XX", "HTTP_3XX"})
				},
				put: `{"name": "crud-hm", "type": "HEALTH_MONITOR_TCP", "send_interval": 6, "receive_timeout": 2, "tcp_monitor": {"tcp_request": "ping", "tcp_response": "pong"}}`,
				afterPut: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "type", o["type"], "HEALTH_MONITOR_TCP")
					apiWantEq(t, "send_interval", o["send_interval"], 6)
					apiWantEq(t, "tcp_request", apiGet(o, "tcp_monitor", "tcp_request"), "ping")
					if apiHasKey(o, "http_monitor") {
						t.Error("PUT kept the http_monitor it did not send")
					}
				},
				patch: `{"tcp_monitor": null, "failed_checks": 5}`,
				afterPatch: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "failed_checks", o["failed_checks"], 5)
					apiWantEq(t, "send_interval", o["send_interval"], 6)
					apiWantEq(t, "type", o["type"], "HEALTH_MONITOR_TCP")
					if apiHasKey(o, "tcp_monitor") {
						t.Error("PATCH null did not remove tcp_monitor")
					}
				},
			},
			{
				kind: "pool", name: "crud-pool",
				create: `{"name": "crud-pool", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}}]}`,
				afterCreate: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "lb_algorithm", o["lb_algorithm"], "LB_ALGORITHM_LEAST_CONNECTIONS")
					apiWantEq(t, "default_server_port", o["default_server_port"], 80)
					apiWantEq(t, "servers[0].enabled", apiGet(o, "servers", 0, "enabled"), true)
					apiWantEq(t, "servers[0].ratio", apiGet(o, "servers", 0, "ratio"), 1)
				},
				put: `{"name": "crud-pool", "lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN", "default_server_port": 8080,
					"servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}}, {"ip": {"addr": "2001:db8::2", "type": "V6"}, "port": 8443, "ratio": 3}]}`,
				afterPut: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "lb_algorithm", o["lb_algorithm"], "LB_ALGORITHM_ROUND_ROBIN")
					apiWantEq(t, "servers", len(o["servers"].([]any)), 2)
					apiWantEq(t, "servers[1].ratio", apiGet(o, "servers", 1, "ratio"), 3)
					apiWantEq(t, "servers[1].ip.addr", apiGet(o, "servers", 1, "ip", "addr"), "2001:db8::2")
				},
				patch: `{"lb_algorithm": "LB_ALGORITHM_CONSISTENT_HASH", "servers": null}`,
				afterPatch: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "lb_algorithm", o["lb_algorithm"], "LB_ALGORITHM_CONSISTENT_HASH")
					apiWantEq(t, "lb_algorithm_hash", o["lb_algorithm_hash"], "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS")
					apiWantEq(t, "default_server_port", o["default_server_port"], 8080)
					if apiHasKey(o, "servers") {
						t.Error("PATCH null did not remove servers")
					}
				},
			},
			{
				kind: "virtualservice", name: "crud-vs",
				create: `{"name": "crud-vs", "services": [{"port": 18080}]}`,
				afterCreate: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "application_profile_ref", o["application_profile_ref"], profileHTTP)
					apiWantEq(t, "enabled", o["enabled"], true)
					apiWantEq(t, "client_insights", apiGet(o, "analytics_policy", "client_insights"), "NO_INSIGHTS")
					apiWantEq(t, "metrics_realtime_update.enabled", apiGet(o, "analytics_policy", "metrics_realtime_update", "enabled"), false)
				},
				put: `{"name": "crud-vs", "services": [{"port": 18081}, {"port": 18443, "enable_ssl": true}], "ip_address": {"addr": "198.51.100.7", "type": "V4"},
					"application_profile_ref": "/api/applicationprofile?name=System-L4-Application",
					"analytics_policy": {"metrics_realtime_update": {"enabled": true, "duration": 30}, "client_insights": "NO_INSIGHTS", "full_client_logs": {"enabled": false}}}`,
				afterPut: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "application_profile_ref", o["application_profile_ref"], profileL4)
					apiWantEq(t, "services[1].port", apiGet(o, "services", 1, "port"), 18443)
					apiWantEq(t, "ip_address.addr", apiGet(o, "ip_address", "addr"), "198.51.100.7")
					apiWantEq(t, "metrics_realtime_update.duration", apiGet(o, "analytics_policy", "metrics_realtime_update", "duration"), 30)
				},
				patch: `{"ip_address": null, "enabled": false, "analytics_policy": {"client_insights": "PASSIVE"}}`,
				afterPatch: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "enabled", o["enabled"], false)
					apiWantEq(t, "services[0].port", apiGet(o, "services", 0, "port"), 18081)
					apiWantEq(t, "application_profile_ref", o["application_profile_ref"], profileL4)
					apiWantEq(t, "client_insights", apiGet(o, "analytics_policy", "client_insights"), "PASSIVE")
					apiWantEq(t, "metrics_realtime_update.duration (merged, not replaced)", apiGet(o, "analytics_policy", "metrics_realtime_update", "duration"), 30)
					if apiHasKey(o, "ip_address") {
						t.Error("PATCH null did not remove ip_address")
					}
				},
			},
			{
				kind: "applicationprofile", name: "crud-ap",
				create:      `{"name": "crud-ap", "type": "APPLICATION_PROFILE_TYPE_HTTP"}`,
				afterCreate: func(t *testing.T, o map[string]any) { apiWantEq(t, "type", o["type"], "APPLICATION_PROFILE_TYPE_HTTP") },
				put:         `{"name": "crud-ap", "type": "APPLICATION_PROFILE_TYPE_L4"}`,
				afterPut:    func(t *testing.T, o map[string]any) { apiWantEq(t, "type", o["type"], "APPLICATION_PROFILE_TYPE_L4") },
				patch:       `{"type": "APPLICATION_PROFILE_TYPE_HTTP"}`,
				afterPatch:  func(t *testing.T, o map[string]any) { apiWantEq(t, "type", o["type"], "APPLICATION_PROFILE_TYPE_HTTP") },
			},
			{
				kind: "cloud", name: "crud-cloud",
				create:      `{"name": "crud-cloud"}`,
				afterCreate: func(t *testing.T, o map[string]any) { apiWantEq(t, "vtype", o["vtype"], "CLOUD_NONE") },
				put: `{"name": "crud-cloud", "vtype": "CLOUD_MESOS", "mesos_configuration": {"mesos_url": "http://leader.mesos:5050",
					"marathon_configurations": [{"marathon_url": "http://leader.mesos:8080"}]}}`,
				afterPut: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "vtype", o["vtype"], "CLOUD_MESOS")
					apiWantEq(t, "app_sync_frequency", apiGet(o, "mesos_configuration", "app_sync_frequency"), 60)
					apiWantEq(t, "marathon_url", apiGet(o, "mesos_configuration", "marathon_configurations", 0, "marathon_url"), "http://leader.mesos:8080")
				},
				patch: `{"vtype": "CLOUD_NONE", "mesos_configuration": null}`,
				afterPatch: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "vtype", o["vtype"], "CLOUD_NONE")
					if apiHasKey(o, "mesos_configuration") {
						t.Error("PATCH null did not remove mesos_configuration")
					}
				},
			},
			{
				kind: "cloudconnectoruser", name: "crud-ccu",
				create: `{"name": "crud-ccu"}`,
				afterCreate: func(t *testing.T, o map[string]any) {
					if pk, _ := o["public_key"].(string); !strings.HasPrefix(pk, "ssh-ed25519 AAAA") {
						t.Errorf("generated public_key %q", pk)
					}
				},
				put: `{"name": "crud-ccu"}`,
				afterPut: func(t *testing.T, o map[string]any) {
					// Checked against the created key below.
				},
				patch: `{"private_key": ` + strconv.Quote(ccuKeyPEM) + `}`,
				afterPatch: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "public_key of the imported key", o["public_key"], ccuKeyPub)
				},
			},
			{
				kind: "user", name: "crud-user",
				create: `{"username": "crud-user", "password": "Crud-Passw0rd"}`,
				afterCreate: func(t *testing.T, o map[string]any) {
					apiWantEq(t, "name", o["name"], "crud-user")
					apiWantEq(t, "is_superuser", o["is_superuser"], false)
				},
				put:        `{"name": "crud-user", "username": "crud-user", "is_superuser": true}`,
				afterPut:   func(t *testing.T, o map[string]any) { apiWantEq(t, "is_superuser", o["is_superuser"], true) },
				patch:      `{"is_superuser": false}`,
				afterPatch: func(t *testing.T, o map[string]any) { apiWantEq(t, "is_superuser", o["is_superuser"], false) },
			},
		}
		for _, c := range cases {
			t.Run(c.kind, func(t *testing.T) {
				before := e.admin(t, "GET", "/api/"+c.kind, nil).want(t, http.StatusOK)
				nBefore := int(before.obj["count"].(float64))

				cr := e.admin(t, "POST", "/api/"+c.kind, c.create).want(t, http.StatusCreated)
				o := cr.obj
				uuid, _ := o["uuid"].(string)
				if !strings.HasPrefix(uuid, c.kind+"-") {
					t.Fatalf("uuid %q: want %s-<uuid>", uuid, c.kind)
				}
				path := "/api/" + c.kind + "/" + uuid
				apiWantEq(t, "url", o["url"], path)
				apiWantEq(t, "name", o["name"], c.name)
				if lm, _ := o["_last_modified"].(string); lm == "" {
					t.Error("no _last_modified")
				}
				apiNoSecrets(t, "create answer", cr.raw, "Crud-Passw0rd")
				c.afterCreate(t, o)

				got := e.admin(t, "GET", path, nil).want(t, http.StatusOK)
				if !reflect.DeepEqual(got.obj, o) {
					t.Errorf("GET %s = %s, want what POST returned: %s", path, got.raw, cr.raw)
				}
				list := e.admin(t, "GET", "/api/"+c.kind, nil).want(t, http.StatusOK)
				apiWantEq(t, "count after create", list.obj["count"], nBefore+1)
				apiWantEq(t, "len(results)", len(list.obj["results"].([]any)), nBefore+1)
				apiNoSecrets(t, "list", list.raw, "Crud-Passw0rd")
				if byName := e.byName(t, c.kind, c.name); byName["uuid"] != uuid {
					t.Errorf("?name=%s found %v", c.name, byName["uuid"])
				}
				none := e.admin(t, "GET", "/api/"+c.kind+"?name=no-such-"+c.name, nil).want(t, http.StatusOK)
				if none.obj["count"] != float64(0) || !strings.Contains(none.raw, `"results":[]`) {
					t.Errorf("?name= matching nothing: %s; want count 0 and results []", none.raw)
				}

				pr := e.admin(t, "PUT", path, c.put).want(t, http.StatusOK)
				apiWantEq(t, "uuid after PUT", pr.obj["uuid"], uuid)
				apiWantEq(t, "url after PUT", pr.obj["url"], path)
				c.afterPut(t, pr.obj)
				if c.kind == "cloudconnectoruser" {
					apiWantEq(t, "public_key kept by a PUT without private_key", pr.obj["public_key"], o["public_key"])
				}
				if g := e.admin(t, "GET", path, nil).want(t, http.StatusOK); !reflect.DeepEqual(g.obj, pr.obj) {
					t.Errorf("GET after PUT = %s, want %s", g.raw, pr.raw)
				}
				// PUT is a replacement: a second PUT of the create body brings the defaults back.
				if c.kind == "pool" {
					r := e.admin(t, "PUT", path, c.create).want(t, http.StatusOK)
					c.afterCreate(t, r.obj)
					e.admin(t, "PUT", path, c.put).want(t, http.StatusOK)
				}

				pa := e.admin(t, "PATCH", path, c.patch).want(t, http.StatusOK)
				apiWantEq(t, "uuid after PATCH", pa.obj["uuid"], uuid)
				apiWantEq(t, "name after PATCH", pa.obj["name"], c.name)
				apiNoSecrets(t, "patch answer", pa.raw)
				c.afterPatch(t, pa.obj)
				if g := e.admin(t, "GET", path, nil).want(t, http.StatusOK); !reflect.DeepEqual(g.obj, pa.obj) {
					t.Errorf("GET after PATCH = %s, want %s", g.raw, pa.raw)
				}

				e.admin(t, "PUT", "/api/"+c.kind+"/"+c.kind+"-missing", c.put).want(t, http.StatusNotFound)
				e.admin(t, "PATCH", "/api/"+c.kind+"/"+c.kind+"-missing", c.patch).want(t, http.StatusNotFound)

				d := e.admin(t, "DELETE", path, nil).want(t, http.StatusNoContent)
				if d.raw != "" {
					t.Errorf("DELETE answered a body: %s", d.raw)
				}
				e.admin(t, "GET", path, nil).want(t, http.StatusNotFound)
				e.admin(t, "DELETE", path, nil).want(t, http.StatusNotFound)
				e.admin(t, "PUT", path, c.put).want(t, http.StatusNotFound)
				apiWantEq(t, "count after delete", e.admin(t, "GET", "/api/"+c.kind, nil).want(t, http.StatusOK).obj["count"], nBefore)
			})
		}

		t.Run("systemconfiguration", func(t *testing.T) {
			list := e.admin(t, "GET", "/api/systemconfiguration", nil).want(t, http.StatusOK)
			apiWantEq(t, "count", list.obj["count"], 1)
			sc := apiGet(list.obj, "results", 0).(map[string]any)
			path := sc["url"].(string)
			apiWantEq(t, "url", path, "/api/systemconfiguration/"+sc["uuid"].(string))
			e.admin(t, "GET", path, nil).want(t, http.StatusOK)
			e.admin(t, "POST", "/api/systemconfiguration", `{"name": "second"}`).want(t, http.StatusConflict)

			put := e.admin(t, "PUT", path, `{"name": "systemconfiguration", "welcome_workflow_complete": false,
				"dns_configuration": {"server_list": [{"addr": "192.0.2.54", "type": "V4"}], "search_domain": "example.test"},
				"email_configuration": {"smtp_type": "SMTP_SERVER", "smtp_server": "mail.example.test", "from_email": "avi@example.test"}}`).want(t, http.StatusOK)
			apiWantEq(t, "search_domain", apiGet(put.obj, "dns_configuration", "search_domain"), "example.test")
			apiWantEq(t, "mail_server_port default", apiGet(put.obj, "email_configuration", "mail_server_port"), 25)
			apiWantEq(t, "welcome_workflow_complete (never undone)", put.obj["welcome_workflow_complete"], true)
			if apiHasKey(put.obj, "ntp_configuration") {
				t.Error("PUT kept the ntp_configuration it did not send")
			}
			apiWantEq(t, "setup state after PUT", e.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).obj["setup_state"], "complete")

			pa := e.admin(t, "PATCH", path, `{"dns_configuration": null, "email_configuration": {"smtp_type": "SMTP_NONE", "smtp_server": null}}`).want(t, http.StatusOK)
			if apiHasKey(pa.obj, "dns_configuration") || apiHasKey(pa.obj, "email_configuration", "smtp_server") {
				t.Errorf("PATCH null did not remove the fields: %s", pa.raw)
			}
			apiWantEq(t, "from_email kept by PATCH", apiGet(pa.obj, "email_configuration", "from_email"), "avi@example.test")
			apiWantEq(t, "smtp_type", apiGet(pa.obj, "email_configuration", "smtp_type"), "SMTP_NONE")
			e.admin(t, "DELETE", path, nil).want(t, http.StatusMethodNotAllowed)
			e.admin(t, "GET", path, nil).want(t, http.StatusOK)
		})

		t.Run("serviceengine", func(t *testing.T) {
			apiWantEq(t, "count", e.admin(t, "GET", "/api/serviceengine", nil).want(t, http.StatusOK).obj["count"], 0)
			e.admin(t, "POST", "/api/serviceengine", `{"name": "se-1"}`).want(t, http.StatusMethodNotAllowed)
			e.admin(t, "PUT", "/api/serviceengine/serviceengine-x", `{"name": "se-1"}`).want(t, http.StatusMethodNotAllowed)
			e.admin(t, "PATCH", "/api/serviceengine/serviceengine-x", `{"name": "se-1"}`).want(t, http.StatusMethodNotAllowed)
			e.admin(t, "DELETE", "/api/serviceengine/serviceengine-x", nil).want(t, http.StatusNotFound)
			apiWantEq(t, "count", e.admin(t, "GET", "/api/serviceengine", nil).want(t, http.StatusOK).obj["count"], 0)
		})

		t.Run("unknown kind", func(t *testing.T) {
			e.admin(t, "GET", "/api/nosuchkind", nil).want(t, http.StatusNotFound, "nosuchkind")
			e.admin(t, "POST", "/api/nosuchkind", `{"name": "x"}`).want(t, http.StatusNotFound, "nosuchkind")
			e.admin(t, "GET", "/api/nosuchkind/x", nil).want(t, http.StatusNotFound)
		})
	})

	t.Run("Validation", func(t *testing.T) {
		e.mustCreate(t, "healthmonitor", `{"name": "val-hm", "type": "HEALTH_MONITOR_TCP"}`)
		hmURL := e.urlOf(t, "healthmonitor", "val-hm")
		scURL := e.admin(t, "GET", "/api/systemconfiguration", nil).want(t, http.StatusOK).obj["results"].([]any)[0].(map[string]any)["url"].(string)
		cases := []struct {
			name, method, path, body string
			code                     int
			field                    string
		}{
			{"unknown field", "POST", "/api/healthmonitor", `{"name": "v1", "type": "HEALTH_MONITOR_TCP", "bogus_field": 1}`, 400, "bogus_field"},
			{"unknown nested field", "POST", "/api/healthmonitor", `{"name": "v1", "type": "HEALTH_MONITOR_HTTP", "http_monitor": {"http_requets": "GET / HTTP/1.0"}}`, 400, "http_requets"},
			{"unknown field in a list", "POST", "/api/pool", `{"name": "v1", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}, "weight": 2}]}`, 400, "weight"},
			{"wrong type", "POST", "/api/healthmonitor", `{"name": "v1", "type": "HEALTH_MONITOR_TCP", "send_interval": "5"}`, 400, "send_interval"},
			{"wrong nested type", "POST", "/api/pool", `{"name": "v1", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}, "port": "80"}]}`, 400, "port"},
			{"wrong type of name", "POST", "/api/pool", `{"name": 7}`, 400, "name"},
			{"wrong type of a list", "POST", "/api/pool", `{"name": "v1", "health_monitor_refs": "/api/healthmonitor?name=val-hm"}`, 400, "health_monitor_refs"},
			{"bad enum", "POST", "/api/pool", `{"name": "v1", "lb_algorithm": "LB_ALGORITHM_FASTEST"}`, 400, "lb_algorithm"},
			{"bad hm type", "POST", "/api/healthmonitor", `{"name": "v1", "type": "HEALTH_MONITOR_PING"}`, 400, "type"},
			{"server port out of range", "POST", "/api/pool", `{"name": "v1", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}, "port": 70000}]}`, 400, "servers[0].port"},
			{"service port out of range", "POST", "/api/virtualservice", `{"name": "v1", "services": [{"port": 65536}]}`, 400, "services[0].port"},
			{"service port 0", "POST", "/api/virtualservice", `{"name": "v1", "services": [{"port": 0}]}`, 400, "services[0].port"},
			{"no services", "POST", "/api/virtualservice", `{"name": "v1"}`, 400, "services"},
			{"bad VIP", "POST", "/api/virtualservice", `{"name": "v1", "services": [{"port": 80}], "ip_address": {"addr": "300.1.1.1", "type": "V4"}}`, 400, "ip_address.addr"},
			{"missing name", "POST", "/api/pool", `{"lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN"}`, 400, "name"},
			{"blank name", "POST", "/api/virtualservice", `{"name": " ", "services": [{"port": 80}]}`, 400, "name"},
			{"receive_timeout >= send_interval", "POST", "/api/healthmonitor", `{"name": "v1", "type": "HEALTH_MONITOR_TCP", "send_interval": 5, "receive_timeout": 5}`, 400, "receive_timeout"},
			{"duplicate server", "POST", "/api/pool", `{"name": "v1", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}, "port": 80}, {"ip": {"addr": "192.0.2.1", "type": "V4"}, "port": 80}]}`, 400, "servers[1]"},
			{"bad server address", "POST", "/api/pool", `{"name": "v1", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V6"}}]}`, 400, "servers[0].ip.addr"},
			{"bad vtype", "POST", "/api/cloud", `{"name": "v1", "vtype": "CLOUD_AWS"}`, 400, "vtype"},
			{"linux cloud without user", "POST", "/api/cloud", `{"name": "v1", "vtype": "CLOUD_LINUXSERVER"}`, 400, "linuxserver_configuration.ssh_user_ref"},
			{"bad marathon url", "POST", "/api/cloud", `{"name": "v1", "vtype": "CLOUD_MESOS", "mesos_configuration": {"marathon_configurations": [{"marathon_url": "leader.mesos:8080"}]}}`, 400, "marathon_url"},
			{"bad profile type", "POST", "/api/applicationprofile", `{"name": "v1", "type": "APPLICATION_PROFILE_TYPE_SSL"}`, 400, "type"},
			{"weak user password", "POST", "/api/user", `{"username": "v1", "password": "password"}`, 400, "password"},
			{"user without password", "POST", "/api/user", `{"username": "v1"}`, 400, "password"},
			{"password_hash from a client", "POST", "/api/user", `{"username": "v1", "password_hash": "$2a$12$abcdefghijklmnopqrstuv"}`, 400, "password_hash"},
			{"garbage private key", "POST", "/api/cloudconnectoruser", `{"name": "v1", "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n"}`, 400, "private_key"},
			{"bad smtp type", "PUT", scURL, `{"email_configuration": {"smtp_type": "SMTP_PIGEON"}}`, 400, "email_configuration.smtp_type"},
			{"bad dns server", "PATCH", scURL, `{"dns_configuration": {"server_list": [{"addr": "x", "type": "V4"}]}}`, 400, "dns_configuration.server_list[0].addr"},
			{"not JSON", "POST", "/api/pool", `{"name": `, 400, "body"},
			{"empty body", "POST", "/api/pool", ``, 400, "body"},
			{"two values", "POST", "/api/pool", `{"name": "v1"} {"name": "v2"}`, 400, "body"},
			{"PATCH unknown field", "PATCH", hmURL, `{"bogus_field": 1}`, 400, "bogus_field"},
			{"PATCH wrong type", "PATCH", hmURL, `{"send_interval": "often"}`, 400, "send_interval"},
			{"PATCH removes the name", "PATCH", hmURL, `{"name": null}`, 400, "name"},
			{"PATCH bad value", "PATCH", hmURL, `{"receive_timeout": 20}`, 400, "receive_timeout"},
			{"PATCH not JSON", "PATCH", hmURL, `{`, 400, "body"},
			{"PUT bad value", "PUT", hmURL, `{"name": "val-hm", "type": "HEALTH_MONITOR_TCP", "failed_checks": 51}`, 400, "failed_checks"},
			{"PUT unknown field", "PUT", hmURL, `{"name": "val-hm", "type": "HEALTH_MONITOR_TCP", "colour": "red"}`, 400, "colour"},
			{"duplicate name", "POST", "/api/healthmonitor", `{"name": "val-hm", "type": "HEALTH_MONITOR_HTTP"}`, 409, "name"},
			{"duplicate built-in name", "POST", "/api/applicationprofile", `{"name": "System-HTTP", "type": "APPLICATION_PROFILE_TYPE_HTTP"}`, 409, "name"},
			{"duplicate user name", "POST", "/api/user", `{"username": "admin", "password": "Val-Passw0rd"}`, 409, "name"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				countBefore := e.admin(t, "GET", "/api/healthmonitor", nil).obj["count"]
				r := e.admin(t, c.method, c.path, c.body).want(t, c.code, c.field)
				if r.header.Get("Content-Type") != "application/json" {
					t.Errorf("error Content-Type %q", r.header.Get("Content-Type"))
				}
				apiWantEq(t, "healthmonitor count (nothing stored)", e.admin(t, "GET", "/api/healthmonitor", nil).obj["count"], countBefore)
			})
		}
		// Nothing was stored by the refused requests.
		for _, kind := range []string{"pool", "virtualservice", "cloud", "user", "cloudconnectoruser", "applicationprofile"} {
			if r := e.admin(t, "GET", "/api/"+kind+"?name=v1", nil); r.obj["count"] != float64(0) {
				t.Errorf("a refused request stored a %s: %s", kind, r.raw)
			}
		}
		apiWantEq(t, "val-hm after refused changes", e.admin(t, "GET", hmURL, nil).obj["failed_checks"], 2)
		// A refused PUT of the name taken by another object.
		e.mustCreate(t, "healthmonitor", `{"name": "val-hm2", "type": "HEALTH_MONITOR_TCP"}`)
		e.admin(t, "PUT", hmURL, `{"name": "val-hm2", "type": "HEALTH_MONITOR_TCP"}`).want(t, http.StatusConflict, "name")
		e.admin(t, "PATCH", hmURL, `{"name": "val-hm2"}`).want(t, http.StatusConflict, "name")
		// Renaming to a free name works.
		apiWantEq(t, "renamed", e.admin(t, "PATCH", hmURL, `{"name": "val-hm3"}`).want(t, http.StatusOK).obj["name"], "val-hm3")

		// The DESIGN.md examples are accepted verbatim.
		e.admin(t, "POST", "/api/healthmonitor", apiDesignHM).want(t, http.StatusCreated)
		e.admin(t, "POST", "/api/pool", apiDesignPool).want(t, http.StatusCreated)
		e.admin(t, "POST", "/api/virtualservice", apiDesignVS).want(t, http.StatusCreated)
	})

	t.Run("References", func(t *testing.T) {
		// hm-http, web and web-vs were created verbatim from DESIGN.md by Validation.
		hm := e.byName(t, "healthmonitor", "hm-http")
		hmURL := hm["url"].(string)
		apiWantEq(t, "hm-http send_interval", hm["send_interval"], 5)
		web := e.byName(t, "pool", "web")
		webURL := web["url"].(string)
		apiWantEq(t, "web health_monitor_refs (by name, stored as the uuid form)", web["health_monitor_refs"], []any{hmURL})
		apiWantEq(t, "web servers[0].port", apiGet(web, "servers", 0, "port"), 8080)
		vs := e.byName(t, "virtualservice", "web-vs")
		apiWantEq(t, "web-vs pool_ref", vs["pool_ref"], webURL)
		apiWantEq(t, "web-vs application_profile_ref", vs["application_profile_ref"], e.urlOf(t, "applicationprofile", "System-HTTP"))

		// By uuid, and by a full URL, stored the same way.
		byUUID := e.mustCreate(t, "pool", `{"name": "ref-uuid", "health_monitor_refs": ["`+hmURL+`"]}`)
		apiWantEq(t, "ref by uuid", byUUID["health_monitor_refs"], []any{hmURL})
		byFull := e.mustCreate(t, "pool", `{"name": "ref-full", "health_monitor_refs": ["https://controller.example`+hmURL+`"], "cloud_ref": "/api/cloud?name=Default-Cloud"}`)
		apiWantEq(t, "ref by full URL", byFull["health_monitor_refs"], []any{hmURL})
		apiWantEq(t, "cloud_ref", byFull["cloud_ref"], e.urlOf(t, "cloud", "Default-Cloud"))

		// References to nothing, or to the wrong kind, name the field.
		for _, c := range []struct{ kind, body, field string }{
			{"pool", `{"name": "ref-bad", "health_monitor_refs": ["/api/healthmonitor?name=no-such-hm"]}`, "health_monitor_refs[0]"},
			{"pool", `{"name": "ref-bad", "health_monitor_refs": ["` + hmURL + `", "/api/healthmonitor/healthmonitor-00000000-0000-4000-8000-000000000000"]}`, "health_monitor_refs[1]"},
			{"pool", `{"name": "ref-bad", "health_monitor_refs": ["/api/pool?name=web"]}`, "health_monitor_refs[0]"},
			{"pool", `{"name": "ref-bad", "health_monitor_refs": ["hm-http"]}`, "health_monitor_refs[0]"},
			{"pool", `{"name": "ref-bad", "health_monitor_refs": ["/api/healthmonitor"]}`, "health_monitor_refs[0]"},
			{"pool", `{"name": "ref-bad", "cloud_ref": "/api/cloud?name=nowhere"}`, "cloud_ref"},
			{"virtualservice", `{"name": "ref-bad", "services": [{"port": 80}], "pool_ref": "/api/pool?name=no-such-pool"}`, "pool_ref"},
			{"virtualservice", `{"name": "ref-bad", "services": [{"port": 80}], "application_profile_ref": "/api/applicationprofile?name=System-SSL"}`, "application_profile_ref"},
			{"cloud", `{"name": "ref-bad", "vtype": "CLOUD_LINUXSERVER", "linuxserver_configuration": {"ssh_user_ref": "/api/cloudconnectoruser?name=nobody"}}`, "linuxserver_configuration.ssh_user_ref"},
			{"cloud", `{"name": "ref-bad", "vtype": "CLOUD_DOCKER", "docker_configuration": {"ssh_user_ref": "/api/user?name=admin"}}`, "docker_configuration.ssh_user_ref"},
		} {
			e.admin(t, "POST", "/api/"+c.kind, c.body).want(t, http.StatusBadRequest, c.field)
		}
		// PATCH to a missing reference is refused too, and keeps the stored one.
		e.admin(t, "PATCH", webURL, `{"health_monitor_refs": ["/api/healthmonitor?name=gone"]}`).want(t, http.StatusBadRequest, "health_monitor_refs[0]")
		apiWantEq(t, "web refs after a refused PATCH", e.admin(t, "GET", webURL, nil).obj["health_monitor_refs"], []any{hmURL})

		// Deleting what is referenced: 409 naming the referrer.
		e.admin(t, "DELETE", hmURL, nil).want(t, http.StatusConflict, "pool web")
		e.admin(t, "DELETE", webURL, nil).want(t, http.StatusConflict, "virtualservice web-vs")
		e.admin(t, "DELETE", e.urlOf(t, "applicationprofile", "System-HTTP"), nil).want(t, http.StatusConflict, "System-HTTP")
		e.admin(t, "DELETE", e.urlOf(t, "applicationprofile", "System-L4-Application"), nil).want(t, http.StatusConflict, "System-L4-Application")
		e.admin(t, "DELETE", e.urlOf(t, "cloud", "Default-Cloud"), nil).want(t, http.StatusConflict, "Default-Cloud is built in")
		e.admin(t, "DELETE", e.admin(t, "GET", "/api/systemconfiguration", nil).obj["results"].([]any)[0].(map[string]any)["url"].(string), nil).want(t, http.StatusMethodNotAllowed)
		e.admin(t, "POST", "/api/serviceengine", `{"name": "se"}`).want(t, http.StatusMethodNotAllowed)

		// The DESIGN.md Linux server cloud refers to the setup's SSH user "ops".
		opsURL := e.urlOf(t, "cloudconnectoruser", "ops")
		cloudURL := e.urlOf(t, "cloud", "Default-Cloud")
		lc := e.admin(t, "PUT", cloudURL, apiDesignLinuxCloud).want(t, http.StatusOK)
		apiWantEq(t, "ssh_user_ref", apiGet(lc.obj, "linuxserver_configuration", "ssh_user_ref"), opsURL)
		apiWantEq(t, "host", apiGet(lc.obj, "linuxserver_configuration", "hosts", 0, "host_ip", "addr"), "192.0.2.31")
		e.admin(t, "DELETE", opsURL, nil).want(t, http.StatusConflict, "cloud Default-Cloud")
		// The DESIGN.md Mesos cloud replaces it; ops is then free.
		mc := e.admin(t, "PUT", cloudURL, apiDesignMesosCloud).want(t, http.StatusOK)
		apiWantEq(t, "vtype", mc.obj["vtype"], "CLOUD_MESOS")
		if apiHasKey(mc.obj, "linuxserver_configuration") {
			t.Error("PUT kept linuxserver_configuration")
		}

		// Removing the referrers frees the referenced objects, both ways.
		e.admin(t, "DELETE", e.urlOf(t, "virtualservice", "web-vs"), nil).want(t, http.StatusNoContent)
		e.admin(t, "DELETE", hmURL, nil).want(t, http.StatusConflict, "pool ref-full")
		for _, p := range []string{"web", "ref-uuid"} {
			e.admin(t, "PATCH", e.urlOf(t, "pool", p), `{"health_monitor_refs": null}`).want(t, http.StatusOK)
		}
		e.admin(t, "PATCH", e.urlOf(t, "pool", "ref-full"), `{"health_monitor_refs": [], "cloud_ref": null}`).want(t, http.StatusOK)
		e.admin(t, "DELETE", hmURL, nil).want(t, http.StatusNoContent)
		e.admin(t, "DELETE", webURL, nil).want(t, http.StatusNoContent)
		e.admin(t, "DELETE", opsURL, nil).want(t, http.StatusNoContent)
	})

	t.Run("Secrets", func(t *testing.T) {
		const (
			userPass     = "Secr3t-User-Pass"
			marathonPass = "Marath0n-Secret-Pass"
			smtpPass     = "Smtp-Secret-Pass-9"
		)
		keyPEM, keyPub := apiTestKey(t)
		secretValues := []string{userPass, marathonPass, smtpPass, apiKeyLine(keyPEM)}
		var answers []*apiResp
		keep := func(r *apiResp) *apiResp { answers = append(answers, r); return r }

		u := keep(e.admin(t, "POST", "/api/user", `{"username": "sec-user", "password": "`+userPass+`"}`).want(t, http.StatusCreated))
		userURL := u.obj["url"].(string)
		if apiHasKey(u.obj, "password") || apiHasKey(u.obj, "password_hash") {
			t.Errorf("user answer carries a password field: %s", u.raw)
		}
		ccu := keep(e.admin(t, "POST", "/api/cloudconnectoruser", map[string]string{"name": "sec-ccu", "private_key": keyPEM}).want(t, http.StatusCreated))
		apiWantEq(t, "imported public_key", ccu.obj["public_key"], keyPub)
		ccuURL := ccu.obj["url"].(string)
		cloud := keep(e.admin(t, "POST", "/api/cloud", `{"name": "sec-cloud", "vtype": "CLOUD_MESOS", "mesos_configuration": {"marathon_configurations": [
			{"marathon_url": "http://m1:8080", "marathon_username": "marathon", "marathon_password": "`+marathonPass+`"}]}}`).want(t, http.StatusCreated))
		cloudURL := cloud.obj["url"].(string)
		scURL := e.admin(t, "GET", "/api/systemconfiguration", nil).obj["results"].([]any)[0].(map[string]any)["url"].(string)
		keep(e.admin(t, "PUT", scURL, `{"email_configuration": {"smtp_type": "SMTP_SERVER", "smtp_server": "mail.example.test", "auth_username": "avi", "auth_password": "`+smtpPass+`"}}`).want(t, http.StatusOK))

		// Updates that omit the secrets keep them.
		keep(e.admin(t, "PUT", userURL, `{"username": "sec-user", "is_superuser": true}`).want(t, http.StatusOK))
		keep(e.admin(t, "PATCH", userURL, `{"is_superuser": false}`).want(t, http.StatusOK))
		keep(e.admin(t, "PUT", ccuURL, `{"name": "sec-ccu"}`).want(t, http.StatusOK))
		keep(e.admin(t, "PATCH", ccuURL, `{"public_key": "ssh-ed25519 AAAAforged"}`).want(t, http.StatusOK))
		keep(e.admin(t, "PUT", cloudURL, `{"name": "sec-cloud", "vtype": "CLOUD_MESOS", "mesos_configuration": {"app_sync_frequency": 30, "marathon_configurations": [
			{"marathon_url": "http://m1:8080", "marathon_username": "marathon"}]}}`).want(t, http.StatusOK))
		keep(e.admin(t, "PATCH", cloudURL, `{"mesos_configuration": {"mesos_url": "http://leader.mesos:5050"}}`).want(t, http.StatusOK))
		keep(e.admin(t, "PUT", scURL, `{"email_configuration": {"smtp_type": "SMTP_SERVER", "smtp_server": "mail2.example.test", "auth_username": "avi"}}`).want(t, http.StatusOK))
		keep(e.admin(t, "PATCH", scURL, `{"email_configuration": {"mail_server_port": 587}}`).want(t, http.StatusOK))

		for _, p := range []string{userURL, ccuURL, cloudURL, scURL, "/api/user", "/api/cloudconnectoruser", "/api/cloud", "/api/systemconfiguration", "/api/useraccount", "/api/serviceengine"} {
			keep(e.admin(t, "GET", p, nil).want(t, http.StatusOK))
		}
		// The first password still works after the PUTs and PATCHes.
		keep(e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "sec-user", pass: userPass}).want(t, http.StatusOK))
		for _, r := range answers {
			apiNoSecrets(t, "answer", r.raw, secretValues...)
			if strings.Contains(r.raw, "auth_password") || strings.Contains(r.raw, "marathon_password") || strings.Contains(r.raw, `"password"`) {
				t.Errorf("answer carries a secret field: %s", r.raw)
			}
		}

		// The stored values, straight from the store.
		so, err := e.srv.store.Get("user", strings.TrimPrefix(userURL, "/api/user/"))
		if err != nil || !so.(*avi.User).CheckPassword(userPass) {
			t.Errorf("stored user: %v; want the first password kept", err)
		}
		sc, _ := e.srv.store.Get("cloudconnectoruser", strings.TrimPrefix(ccuURL, "/api/cloudconnectoruser/"))
		if c := sc.(*avi.CloudConnectorUser); c.PrivateKey != keyPEM || c.PublicKey != keyPub {
			t.Errorf("stored cloudconnectoruser: public %q; want the imported pair kept", c.PublicKey)
		}
		cl, _ := e.srv.store.Get("cloud", strings.TrimPrefix(cloudURL, "/api/cloud/"))
		if m := cl.(*avi.Cloud).MesosConfiguration; m == nil || m.MarathonConfigurations[0].MarathonPassword != marathonPass || m.AppSyncFrequency != 30 || m.MesosURL != "http://leader.mesos:5050" {
			t.Errorf("stored cloud %+v: want the Marathon password kept", m)
		}
		sys, _ := e.srv.store.Get("systemconfiguration", strings.TrimPrefix(scURL, "/api/systemconfiguration/"))
		if ec := sys.(*avi.SystemConfiguration).EmailConfiguration; ec == nil || ec.AuthPassword != smtpPass || ec.SMTPPort != 587 || ec.SMTPServer != "mail2.example.test" {
			t.Errorf("stored email configuration %+v: want the SMTP password kept", ec)
		}

		// A changed Marathon user is a new credential: the old password is not carried over.
		e.admin(t, "PATCH", cloudURL, `{"mesos_configuration": {"marathon_configurations": [{"marathon_url": "http://m1:8080", "marathon_username": "other"}]}}`).want(t, http.StatusOK)
		cl, _ = e.srv.store.Get("cloud", strings.TrimPrefix(cloudURL, "/api/cloud/"))
		if p := cl.(*avi.Cloud).MesosConfiguration.MarathonConfigurations[0].MarathonPassword; p != "" {
			t.Errorf("the Marathon password followed a change of user: %q", p)
		}

		// password_hash is never accepted from a client.
		for _, c := range []struct{ method, body string }{
			{"PUT", `{"username": "sec-user", "password_hash": "$2a$12$abcdefghijklmnopqrstuvwxyz012345678901234567890123456"}`},
			{"PATCH", `{"password_hash": "$2a$12$abcdefghijklmnopqrstuvwxyz012345678901234567890123456"}`},
		} {
			e.admin(t, c.method, userURL, c.body).want(t, http.StatusBadRequest, "password_hash")
		}
		e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "sec-user", pass: userPass}).want(t, http.StatusOK)

		// A new password through PUT replaces the old one.
		e.admin(t, "PUT", userURL, `{"username": "sec-user", "password": "Secr3t-User-Pass2"}`).want(t, http.StatusOK)
		e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "sec-user", pass: "Secr3t-User-Pass2"}).want(t, http.StatusOK)
		e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "sec-user", pass: userPass}).want(t, http.StatusUnauthorized)
		e.admin(t, "DELETE", userURL, nil).want(t, http.StatusNoContent)
		e.admin(t, "DELETE", cloudURL, nil).want(t, http.StatusNoContent)
		e.admin(t, "DELETE", ccuURL, nil).want(t, http.StatusNoContent)
		e.admin(t, "PUT", scURL, `{"email_configuration": {"smtp_type": "SMTP_NONE"}}`).want(t, http.StatusOK)
	})

	t.Run("UserAccount", func(t *testing.T) {
		const p1, p2 = "Acc0unt-Pass-One", "Acc0unt-Pass-Two"
		e.mustCreate(t, "user", `{"username": "ua-user", "password": "`+p1+`"}`)
		as := func(pass string) apiCred { return apiCred{user: "ua-user", pass: pass} }
		me := e.do(t, "GET", "/api/useraccount", nil, as(p1)).want(t, http.StatusOK)
		apiWantEq(t, "useraccount username", me.obj["username"], "ua-user")
		apiNoSecrets(t, "useraccount", me.raw)

		e.do(t, "PUT", "/api/useraccount", map[string]string{"old_password": "Wr0ng-old-pass", "password": p2}, as(p1)).want(t, http.StatusBadRequest, "old_password")
		// Still the first password.
		e.do(t, "GET", "/api/useraccount", nil, as(p1)).want(t, http.StatusOK)

		r := e.do(t, "PUT", "/api/useraccount", map[string]string{"old_password": p1, "password": p2}, as(p1)).want(t, http.StatusOK)
		apiNoSecrets(t, "password change", r.raw, p1, p2)
		e.do(t, "GET", "/api/useraccount", nil, as(p2)).want(t, http.StatusOK)
		e.do(t, "GET", "/api/useraccount", nil, as(p1)).want(t, http.StatusUnauthorized)
		// The change was the caller's own account, not the admin's.
		apiWantEq(t, "admin's account", e.admin(t, "GET", "/api/useraccount", nil).want(t, http.StatusOK).obj["username"], "admin")
		e.admin(t, "DELETE", e.urlOf(t, "user", "ua-user"), nil).want(t, http.StatusNoContent)
	})

	t.Run("ExportImport", func(t *testing.T) {
		keyPEM, keyPub := apiTestKey(t)
		const marathonPass = "Exp0rt-Marathon-Pass"
		e.mustCreate(t, "healthmonitor", `{"name": "ex-hm", "type": "HEALTH_MONITOR_HTTP", "send_interval": 7, "receive_timeout": 3}`)
		e.mustCreate(t, "pool", `{"name": "ex-pool", "lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN", "servers": [{"ip": {"addr": "192.0.2.41", "type": "V4"}, "port": 8080}], "health_monitor_refs": ["/api/healthmonitor?name=ex-hm"]}`)
		e.mustCreate(t, "virtualservice", `{"name": "ex-vs", "services": [{"port": 10080}], "pool_ref": "/api/pool?name=ex-pool"}`)
		e.mustCreate(t, "virtualservice", `{"name": "ex-vs-l4", "services": [{"port": 10081}], "pool_ref": "/api/pool?name=ex-pool", "application_profile_ref": "/api/applicationprofile?name=System-L4-Application"}`)
		e.mustCreate(t, "cloudconnectoruser", map[string]string{"name": "ex-ccu", "private_key": keyPEM})
		e.mustCreate(t, "cloudconnectoruser", `{"name": "ex-ccu-gen"}`)
		e.mustCreate(t, "cloud", `{"name": "ex-linux", "vtype": "CLOUD_LINUXSERVER", "linuxserver_configuration": {"ssh_user_ref": "/api/cloudconnectoruser?name=ex-ccu", "hosts": [{"host_ip": {"addr": "192.0.2.51", "type": "V4"}}]}}`)
		e.mustCreate(t, "cloud", `{"name": "ex-mesos", "vtype": "CLOUD_MESOS", "mesos_configuration": {"marathon_configurations": [{"marathon_url": "http://m:8080", "marathon_username": "u", "marathon_password": "`+marathonPass+`"}]}}`)
		genPub := e.byName(t, "cloudconnectoruser", "ex-ccu-gen")["public_key"]

		e.admin(t, "POST", "/api/configuration/export", `{"passphrase": "short"}`).want(t, http.StatusBadRequest, "passphrase")
		e.admin(t, "POST", "/api/configuration/export", `{}`).want(t, http.StatusBadRequest, "passphrase")
		ex := e.admin(t, "POST", "/api/configuration/export", map[string]string{"passphrase": apiExportPhrase}).want(t, http.StatusOK)
		apiNoStrings(t, "export", ex.raw, apiAdminPassword, marathonPass, apiKeyLine(keyPEM), "BEGIN OPENSSH")
		if !strings.Contains(ex.raw, "ex-pool") || !strings.Contains(ex.raw, "$aes-gcm$") {
			t.Fatalf("export lacks the objects or the encrypted secrets: %.300s", ex.raw)
		}
		var export map[string]any
		if err := json.Unmarshal([]byte(ex.raw), &export); err != nil {
			t.Fatal(err)
		}

		// A fresh controller, set up with its own admin password.
		f := newAPIEnv(t)
		const freshPass = "Fresh-Adm1n-Pass"
		f.setUp(t, freshPass, nil)
		freshHTTP := f.urlOf(t, "applicationprofile", "System-HTTP")
		if freshHTTP == e.urlOf(t, "applicationprofile", "System-HTTP") {
			t.Fatal("both controllers' System-HTTP have the same uuid: the rewiring check would prove nothing")
		}

		// Wrong passphrase: 400, and nothing changed.
		version := f.srv.store.Version()
		f.admin(t, "POST", "/api/configuration/import", map[string]any{"passphrase": "wrong passphrase", "configuration": export}).want(t, http.StatusBadRequest)
		f.admin(t, "POST", "/api/configuration/import", map[string]any{"passphrase": apiExportPhrase}).want(t, http.StatusBadRequest, "configuration")
		f.admin(t, "POST", "/api/configuration/import", map[string]any{"passphrase": "short", "configuration": export}).want(t, http.StatusBadRequest, "passphrase")
		if v := f.srv.store.Version(); v != version {
			t.Errorf("a refused import changed the configuration version %d -> %d", version, v)
		}
		for kind, name := range map[string]string{"healthmonitor": "ex-hm", "pool": "ex-pool", "cloudconnectoruser": "ex-ccu"} {
			if r := f.admin(t, "GET", "/api/"+kind+"?name="+name, nil).want(t, http.StatusOK); r.obj["count"] != float64(0) {
				t.Errorf("a refused import created %s %s", kind, name)
			}
		}
		f.do(t, "GET", "/api/useraccount", nil, apiCred{user: "admin", pass: freshPass}).want(t, http.StatusOK) // the fresh password still works

		// The right passphrase.
		imp := f.admin(t, "POST", "/api/configuration/import", map[string]any{"passphrase": apiExportPhrase, "configuration": export}).want(t, http.StatusOK)
		apiNoSecrets(t, "import answer", imp.raw, apiAdminPassword, marathonPass)
		if n, _ := apiGet(imp.obj, "imported", "pool").(float64); n < 1 {
			t.Errorf("import answer %s: want counts per kind", imp.raw)
		}

		// The imported admin password works there; the fresh one no longer does.
		f.do(t, "GET", "/api/useraccount", nil, apiCred{user: "admin", pass: freshPass}).want(t, http.StatusUnauthorized)
		f.pass = apiAdminPassword
		f.do(t, "GET", "/api/useraccount", nil, apiCred{user: "admin", pass: apiAdminPassword}).want(t, http.StatusOK)

		hm := f.byName(t, "healthmonitor", "ex-hm")
		apiWantEq(t, "ex-hm send_interval", hm["send_interval"], 7)
		pool := f.byName(t, "pool", "ex-pool")
		apiWantEq(t, "ex-pool health_monitor_refs", pool["health_monitor_refs"], []any{hm["url"]})
		apiWantEq(t, "ex-pool lb_algorithm", pool["lb_algorithm"], "LB_ALGORITHM_ROUND_ROBIN")
		vs := f.byName(t, "virtualservice", "ex-vs")
		apiWantEq(t, "ex-vs pool_ref", vs["pool_ref"], pool["url"])
		apiWantEq(t, "ex-vs application_profile_ref (rewired to this controller's System-HTTP)", vs["application_profile_ref"], freshHTTP)
		apiWantEq(t, "ex-vs-l4 application_profile_ref", f.byName(t, "virtualservice", "ex-vs-l4")["application_profile_ref"], f.urlOf(t, "applicationprofile", "System-L4-Application"))
		ccu := f.byName(t, "cloudconnectoruser", "ex-ccu")
		apiWantEq(t, "ex-ccu public_key", ccu["public_key"], keyPub)
		apiWantEq(t, "ex-ccu-gen public_key", f.byName(t, "cloudconnectoruser", "ex-ccu-gen")["public_key"], genPub)
		apiWantEq(t, "ex-linux ssh_user_ref", apiGet(f.byName(t, "cloud", "ex-linux"), "linuxserver_configuration", "ssh_user_ref"), ccu["url"])
		mesos, err := f.srv.store.GetByName("cloud", "ex-mesos")
		if err != nil {
			t.Fatal(err)
		}
		if mc := mesos.(*avi.Cloud).MesosConfiguration; mc == nil || mc.MarathonConfigurations[0].MarathonPassword != marathonPass {
			t.Errorf("imported Marathon password not kept: %+v", mc)
		}
		stored, _ := f.srv.store.GetByName("cloudconnectoruser", "ex-ccu")
		if stored.(*avi.CloudConnectorUser).PrivateKey != keyPEM {
			t.Error("imported private key differs")
		}
		// Every reference of every imported object resolves on the fresh controller.
		for _, kind := range []string{"pool", "virtualservice", "cloud"} {
			for _, o := range f.srv.store.List(kind) {
				for _, ref := range o.Refs() {
					if r := f.admin(t, "GET", *ref.Value, nil); r.code != http.StatusOK {
						t.Errorf("%s %s %s = %s does not resolve on the importing controller: %d", kind, o.GetMeta().Name, ref.Field, *ref.Value, r.code)
					}
				}
			}
		}
		apiWantEq(t, "setup state after import", f.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).obj["setup_state"], "complete")
		apiWantEq(t, "systemconfiguration count", f.admin(t, "GET", "/api/systemconfiguration", nil).obj["count"], 1)
		apiWantEq(t, "System-HTTP count", f.admin(t, "GET", "/api/applicationprofile?name=System-HTTP", nil).obj["count"], 1)
		for _, kind := range []string{"healthmonitor", "pool", "virtualservice", "cloudconnectoruser", "cloud", "user", "applicationprofile"} {
			apiWantEq(t, kind+" count on both controllers", f.admin(t, "GET", "/api/"+kind, nil).obj["count"], e.admin(t, "GET", "/api/"+kind, nil).obj["count"])
		}

		// Importing the same export again replaces by name: nothing is duplicated.
		f.admin(t, "POST", "/api/configuration/import", map[string]any{"passphrase": apiExportPhrase, "configuration": export}).want(t, http.StatusOK)
		apiWantEq(t, "pool count after a second import", f.admin(t, "GET", "/api/pool?name=ex-pool", nil).obj["count"], 1)
	})

	t.Run("Hardening", func(t *testing.T) {
		t.Run("duplicate username", func(t *testing.T) {
			r := e.admin(t, "POST", "/api/user", `{"name": "a-admin", "username": "admin", "password": "Dup-Passw0rd"}`)
			if r.code == http.StatusCreated {
				defer e.admin(t, "DELETE", r.obj["url"].(string), nil)
				// What the duplicate does: the admin's own password no longer logs in.
				// (/login: basic auth may answer from its cache.)
				_, _, lr := e.login(t, "admin", apiAdminPassword)
				lr.want(t, http.StatusOK)
			}
			r.want(t, http.StatusConflict, "username")
		})
		t.Run("client-chosen uuid", func(t *testing.T) {
			r := e.admin(t, "POST", "/api/healthmonitor", `{"uuid": "x/y", "name": "bug-uuid", "type": "HEALTH_MONITOR_TCP"}`)
			if r.code == http.StatusCreated {
				// What the bad uuid does: the object cannot be reached at its own url.
				e.admin(t, "GET", r.obj["url"].(string), nil).want(t, http.StatusOK)
			}
			r.want(t, http.StatusBadRequest, "uuid")
		})
		t.Run("built-in profile changed", func(t *testing.T) {
			sh := e.urlOf(t, "applicationprofile", "System-HTTP")
			for _, body := range []string{`{"type": "APPLICATION_PROFILE_TYPE_L4"}`, `{"name": "Renamed"}`} {
				r := e.admin(t, "PATCH", sh, body)
				if r.code == http.StatusOK {
					e.admin(t, "PUT", sh, `{"name": "System-HTTP", "type": "APPLICATION_PROFILE_TYPE_HTTP"}`)
				}
				r.want(t, http.StatusConflict, "System-HTTP")
			}
		})
		t.Run("built-in cloud renamed", func(t *testing.T) {
			dc := e.urlOf(t, "cloud", "Default-Cloud")
			r := e.admin(t, "PATCH", dc, `{"name": "Renamed-Cloud"}`)
			if r.code == http.StatusOK {
				e.admin(t, "PATCH", r.obj["url"].(string), `{"name": "Default-Cloud"}`)
			}
			r.want(t, http.StatusConflict, "Default-Cloud is built in and cannot be renamed")
			// Unlike a built-in profile, it is still written under its own name.
			e.admin(t, "PATCH", dc, `{"name": "Default-Cloud"}`).want(t, http.StatusOK)
		})
		t.Run("error for a body that is not an object", func(t *testing.T) {
			e.admin(t, "POST", "/api/pool", `[]`).want(t, http.StatusBadRequest, "body:")
			e.admin(t, "PATCH", e.urlOf(t, "applicationprofile", "System-HTTP"), `[]`).want(t, http.StatusBadRequest, "body:")
		})
		t.Run("keypair format", func(t *testing.T) {
			if !strings.HasPrefix(setupPublicKey, "ssh-ed25519 AAAA") || strings.Contains(setupPublicKey, "\n") {
				t.Errorf("public key %q: want one authorized_keys line of type ssh-ed25519", setupPublicKey)
			}
		})
	})
}

// TestAPILoginThrottle runs on its own controller: failed logins from one address end in 429
// with Retry-After, for the login form and for basic auth alike.
func TestAPILoginThrottle(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.do(t, "POST", "/api/setup", apiSetupRequest(apiAdminPassword), apiCred{none: true}).want(t, http.StatusOK)
	var last *apiResp
	for i := 0; i < maxFailures; i++ {
		cred := apiCred{user: "admin", pass: fmt.Sprintf("Wr0ng-pass-%d", i)}
		if i%2 == 1 {
			cred = apiCred{user: "nobody", pass: "Wr0ng-pass"}
		}
		last = e.do(t, "GET", "/api/pool", nil, cred)
		if last.code != http.StatusUnauthorized {
			t.Fatalf("wrong login %d: %d %s; want 401", i+1, last.code, last.raw)
		}
	}
	// The next attempts are refused before any password check, even with the right password.
	for _, c := range []struct {
		name string
		r    func() *apiResp
	}{
		{"login form", func() *apiResp {
			_, _, r := e.login(t, "admin", "Wr0ng-again-1")
			return r
		}},
		{"basic auth, right password", func() *apiResp {
			return e.do(t, "GET", "/api/pool", nil, apiCred{user: "admin", pass: apiAdminPassword})
		}},
		{"login form, right password", func() *apiResp {
			_, _, r := e.login(t, "admin", apiAdminPassword)
			return r
		}},
	} {
		r := c.r()
		if r.code != http.StatusTooManyRequests {
			t.Fatalf("%s after %d failures: %d %s; want 429", c.name, maxFailures, r.code, r.raw)
		}
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > int(maxBlock.Seconds()) {
			t.Errorf("%s: Retry-After %q; want whole seconds, 1 to %v", c.name, r.header.Get("Retry-After"), maxBlock)
		}
		if msg, _ := r.obj["error"].(string); !strings.Contains(msg, "wait") {
			t.Errorf("%s: error %q", c.name, msg)
		}
	}
	// Other controllers' addresses are not affected: the initial data is still served.
	e.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).want(t, http.StatusOK)
}

// Deleting a cloud takes what its integrations made (created_by marathon:/docker:<cloud>) with
// it; an operator's object that refers to the cloud still refuses the deletion.
func TestDeletingACloudTakesItsIntegrationsObjects(t *testing.T) {
	e := newAPIEnv(t)
	e.setUp(t, apiAdminPassword, nil)
	for _, vtype := range []string{"CLOUD_MESOS", "CLOUD_DOCKER"} {
		cloud := e.admin(t, "POST", "/api/cloud", map[string]any{"name": "c-" + vtype, "vtype": "CLOUD_NONE"}).want(t, http.StatusCreated).obj
		uuid := cloud["uuid"].(string)
		owner := map[string]string{"CLOUD_MESOS": mesoscloud.Owner(uuid), "CLOUD_DOCKER": dockercloud.Owner(uuid)}[vtype] + "app"
		pool := e.admin(t, "POST", "/api/pool", map[string]any{"name": "p-" + vtype, "cloud_ref": "/api/cloud/" + uuid, "created_by": owner}).want(t, http.StatusCreated).obj
		e.admin(t, "POST", "/api/virtualservice", map[string]any{"name": "v-" + vtype, "cloud_ref": "/api/cloud/" + uuid, "created_by": owner,
			"services": []any{map[string]any{"port": 9000 + len(vtype)}}, "pool_ref": pool["url"]}).want(t, http.StatusCreated)
		op := e.admin(t, "POST", "/api/pool", map[string]any{"name": "op-" + vtype, "cloud_ref": "/api/cloud/" + uuid}).want(t, http.StatusCreated).obj

		e.admin(t, "DELETE", "/api/cloud/"+uuid, nil).want(t, http.StatusConflict, "op-"+vtype)
		if _, err := e.srv.store.GetByName("pool", "p-"+vtype); err != nil {
			t.Errorf("a refused deletion deleted the integration's pool: %v", err)
		}
		e.admin(t, "DELETE", "/api/pool/"+op["uuid"].(string), nil).want(t, http.StatusNoContent)
		e.admin(t, "DELETE", "/api/cloud/"+uuid, nil).want(t, http.StatusNoContent)
		for _, kind := range []string{"pool", "virtualservice"} {
			if _, err := e.srv.store.GetByName(kind, kind[:1]+"-"+vtype); err == nil {
				t.Errorf("%s %s-%s outlived its cloud", kind, kind[:1], vtype)
			}
		}
	}
}
