package controller

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/syncbuf"
	"github.com/avi-init/avi-init/model/contract"
)

// newAPIEnvIn is newAPIEnv on a given data directory, logging into log.
func newAPIEnvIn(t *testing.T, dir string, log *syncbuf.Buffer) *apiEnv {
	t.Helper()
	srv, err := NewServer(Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(log, nil))})
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

// Before setup, whoever reaches the controller first does not become its admin: the setup and
// the wizard's key pair need the setup token from the data directory.
func TestSetupToken(t *testing.T) {
	dir := t.TempDir()
	var log syncbuf.Buffer
	e := newAPIEnvIn(t, dir, &log)
	tok, err := contract.ReadSetupToken(dir)
	if err != nil {
		t.Fatalf("a controller started on its own has no setup token: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, contract.SetupTokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("setup token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if l := log.String(); strings.Contains(l, tok) || !strings.Contains(l, filepath.Join(dir, contract.SetupTokenFile)) {
		t.Errorf("the log must say where the setup token is, never the token:\n%s", l)
	}

	none := apiCred{none: true}
	wrong := apiCred{none: true, extraHeaders: map[string]string{contract.SetupTokenHeader: strings.ToUpper(tok)}}
	for name, c := range map[string]struct {
		path string
		body any
		cred apiCred
	}{
		"setup without token":    {"/api/setup", apiSetupRequest(apiAdminPassword), none},
		"setup, wrong header":    {"/api/setup", apiSetupRequest(apiAdminPassword), wrong},
		"setup, wrong field":     {"/api/setup", withField(apiSetupRequest(apiAdminPassword), "setup_token", tok[1:]), none},
		"keypair without token":  {"/api/setup/keypair", nil, none},
		"keypair, wrong field":   {"/api/setup/keypair", map[string]string{"setup_token": "x" + tok}, none},
		"invalid body, no token": {"/api/setup", `{"admin": {"username": "admin"}}`, none},
	} {
		e.srv.throttle.succeed("127.0.0.1") // each case from a clean count (TestSetupTokenThrottle checks it)
		r := e.do(t, "POST", c.path, c.body, c.cred)
		msg, _ := r.obj["error"].(string)
		if r.code != http.StatusForbidden || !strings.HasPrefix(msg, "setup_token:") || !strings.Contains(msg, contract.SetupTokenFile) || !strings.Contains(msg, "avi-init status") {
			t.Errorf("%s: %d %s; want 403 naming setup_token and where to find it", name, r.code, r.raw)
		}
	}
	apiWantEq(t, "setup_state after refused setups", e.do(t, "GET", "/api/initial-data", nil, none).want(t, http.StatusOK).obj["setup_state"], "pending")

	e.srv.throttle.succeed("127.0.0.1")
	// The header, and the field with the spaces a paste brings along.
	e.do(t, "POST", "/api/setup/keypair", nil, apiCred{none: true, extraHeaders: map[string]string{contract.SetupTokenHeader: tok}}).want(t, http.StatusOK)
	e.do(t, "POST", "/api/setup", withField(apiSetupRequest(apiAdminPassword), "setup_token", " "+tok+"\n"), none).want(t, http.StatusOK)
	if _, err := os.Stat(filepath.Join(dir, contract.SetupTokenFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("setup token file after setup: %v, want it deleted", err)
	}
	e.do(t, "POST", "/api/setup", withField(apiSetupRequest("An0ther-Passw0rd"), "setup_token", tok), none).want(t, http.StatusForbidden)
	e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "admin", pass: apiAdminPassword}).want(t, http.StatusOK)

	// A set-up controller restarted makes no new token.
	e.srv.Close()
	again := newAPIEnvIn(t, dir, &syncbuf.Buffer{})
	if _, err := contract.ReadSetupToken(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a set-up controller wrote a setup token on restart: %v", err)
	}
	again.do(t, "POST", "/api/setup/keypair", nil, apiCred{none: true, extraHeaders: map[string]string{contract.SetupTokenHeader: tok}}).want(t, http.StatusForbidden)
}

func withField(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

// The controller keeps the token the installer wrote before its first start.
func TestSetupTokenFromInstaller(t *testing.T) {
	dir := t.TempDir()
	tok, _, err := contract.EnsureSetupToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newAPIEnvIn(t, dir, &syncbuf.Buffer{})
	if got, err := contract.ReadSetupToken(dir); err != nil || got != tok {
		t.Errorf("setup token after first boot %q, %v; want the installer's %q", got, err, tok)
	}
	e.do(t, "POST", "/api/setup", withField(apiSetupRequest(apiAdminPassword), "setup_token", tok), apiCred{none: true}).want(t, http.StatusOK)
}

// --setup-json needs no token, and leaves none behind.
func TestSetupFileNeedsNoToken(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := contract.EnsureSetupToken(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, contract.SetupFile), []byte(`{"admin": {"username": "admin", "password": "`+apiAdminPassword+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newAPIEnvIn(t, dir, &syncbuf.Buffer{})
	apiWantEq(t, "setup_state", e.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).obj["setup_state"], "complete")
	if _, err := contract.ReadSetupToken(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("setup token after --setup-json: %v, want none", err)
	}
}

// Wrong setup tokens count against the sender's address as failed logins do.
func TestSetupTokenThrottle(t *testing.T) {
	dir := t.TempDir()
	e := newAPIEnvIn(t, dir, &syncbuf.Buffer{})
	stopped := time.Now()
	e.srv.throttle.mu.Lock()
	e.srv.throttle.now = func() time.Time { return stopped }
	e.srv.throttle.mu.Unlock()
	for i := range maxFailures {
		e.do(t, "POST", "/api/setup", withField(apiSetupRequest(apiAdminPassword), "setup_token", strings.Repeat(string(rune('a'+i)), 32)), apiCred{none: true}).want(t, http.StatusForbidden)
	}
	tok, _ := contract.ReadSetupToken(dir)
	r := e.do(t, "POST", "/api/setup", withField(apiSetupRequest(apiAdminPassword), "setup_token", tok), apiCred{none: true})
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("the right token after %d wrong ones: %d %s; want 429 with Retry-After", maxFailures, r.code, r.raw)
	}
}
