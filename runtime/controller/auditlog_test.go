package controller

// Audit log tests (issue 12): every change through the API, login, logout, export, import and
// token minted is recorded, who, when, from where, with the diff, secrets masked.

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/audit"
)

// auditEntries queries the audit log as the admin.
func (e *apiEnv) auditEntries(t *testing.T, query string) []map[string]any {
	t.Helper()
	r := e.admin(t, "GET", "/api/auditlog?"+query, nil).want(t, http.StatusOK)
	var out []map[string]any
	for _, o := range r.obj["results"].([]any) {
		out = append(out, o.(map[string]any))
	}
	return out
}

func TestAuditLog(t *testing.T) {
	e := newAPIEnv(t)
	if _, err := loadOrCreateCert(e.srv.cfg.DataDir, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.setUp(t, apiAdminPassword, nil)
	const secret = "S3cret-Passw0rd"
	// A user created with a password: the entry says who, from where, and the diff masks it.
	e.mustCreate(t, "user", map[string]any{"username": "carol", "password": secret})
	carol := e.urlOf(t, "user", "carol")
	got := e.auditEntries(t, "kind=user&action=create")
	if len(got) != 1 {
		t.Fatalf("user creations logged: %v", got)
	}
	c := got[0]
	apiWantEq(t, "user", c["user"], "admin")
	apiWantEq(t, "client", c["client"], "127.0.0.1")
	apiWantEq(t, "tenant", c["tenant"], avi.AdminTenant)
	apiWantEq(t, "name", c["name"], "carol")
	apiWantEq(t, "status", c["status"], 201)
	apiWantEq(t, "uuid", "/api/user/"+c["uuid"].(string), carol)
	apiWantEq(t, "new password_hash", apiGet(c, "diff", "password_hash", "new"), audit.Masked)
	apiWantEq(t, "new username", apiGet(c, "diff", "username", "new"), "carol")
	// Its password changed: an update, both sides masked.
	e.admin(t, "PATCH", carol, `{"password": "N3w-Passw0rd!"}`).want(t, http.StatusOK)
	u := e.auditEntries(t, "kind=user&action=update")[0]
	apiWantEq(t, "old password_hash", apiGet(u, "diff", "password_hash", "old"), audit.Masked)
	apiWantEq(t, "new password_hash", apiGet(u, "diff", "password_hash", "new"), audit.Masked)
	// A pool changed: the field, old and new.
	pool := e.mustCreate(t, "pool", `{"name": "web", "default_server_port": 80}`)
	e.admin(t, "PATCH", "/api/pool/"+pool["uuid"].(string), `{"default_server_port": 8080}`).want(t, http.StatusOK)
	p := e.auditEntries(t, "kind=pool&action=update")[0]
	apiWantEq(t, "old port", apiGet(p, "diff", "default_server_port", "old"), 80)
	apiWantEq(t, "new port", apiGet(p, "diff", "default_server_port", "new"), 8080)
	// A refused write is logged with its status.
	e.admin(t, "POST", "/api/pool", `{"name": "web"}`).want(t, http.StatusConflict)
	apiWantEq(t, "refused create status", e.auditEntries(t, "kind=pool&action=create")[0]["status"], 409)
	e.admin(t, "DELETE", "/api/pool/"+pool["uuid"].(string), nil).want(t, http.StatusNoContent)
	apiWantEq(t, "deleted name", e.auditEntries(t, "kind=pool&action=delete")[0]["name"], "web")

	// Logins, failed and not, and logouts.
	e.do(t, "POST", "/login", map[string]string{"username": "carol", "password": "wrong"}, apiCred{none: true}).want(t, http.StatusUnauthorized)
	session, csrf, r := e.login(t, "carol", "N3w-Passw0rd!")
	r.want(t, http.StatusOK)
	e.do(t, "POST", "/logout", nil, apiCred{session: session, csrf: csrf}).want(t, http.StatusOK)
	for _, a := range []string{audit.ActionLoginFailed, audit.ActionLogin, audit.ActionLogout} {
		if got := e.auditEntries(t, "user=carol&action="+a); len(got) != 1 {
			t.Errorf("%s entries for carol: %v", a, got)
		}
	}

	// Export, import, join and API tokens; a request made with a token names it.
	ex := e.admin(t, "POST", "/api/configuration/export", map[string]string{"passphrase": apiExportPhrase}).want(t, http.StatusOK)
	e.admin(t, "POST", "/api/configuration/import", map[string]any{"passphrase": apiExportPhrase, "configuration": ex.obj}).want(t, http.StatusOK)
	e.admin(t, "POST", "/api/jointoken", `{}`).want(t, http.StatusCreated)
	tokObj, tok := e.mintToken(t, apiCred{}, `{"description": "ci"}`)
	e.do(t, "POST", "/api/pool", `{"name": "by-token"}`, tok).want(t, http.StatusCreated)
	apiWantEq(t, "export entries", len(e.auditEntries(t, "action=export")), 1)
	if len(e.auditEntries(t, "action=import")) == 0 {
		t.Errorf("no import entries")
	}
	tokens := e.auditEntries(t, "action=token")
	apiWantEq(t, "token entries", len(tokens), 2)
	apiWantEq(t, "newest first", tokens[0]["kind"], string(avi.KindAuthToken))
	apiWantEq(t, "join token", tokens[1]["kind"], string(avi.KindJoinToken))
	byToken := e.auditEntries(t, "kind=pool&action=create")[0]
	apiWantEq(t, "token id", byToken["token_id"], tokObj["id"])

	// Filters and paging.
	all := e.admin(t, "GET", "/api/auditlog?page_size=2", nil).want(t, http.StatusOK)
	apiWantEq(t, "page size", len(all.obj["results"].([]any)), 2)
	if n := all.obj["count"].(float64); n < 15 {
		t.Errorf("only %v entries", n)
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	apiWantEq(t, "entries since an hour from now", len(e.auditEntries(t, "since="+future)), 0)
	apiWantEq(t, "entries until an hour from now", len(e.auditEntries(t, "user=carol&until="+future)), 3)
	e.admin(t, "GET", "/api/auditlog?page_size=1001", nil).want(t, http.StatusBadRequest, "page_size")
	e.admin(t, "GET", "/api/auditlog?since=yesterday", nil).want(t, http.StatusBadRequest, "since")

	// The file: 0600, no secret in it.
	path := filepath.Join(e.srv.cfg.DataDir, audit.FileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	tokValue := tok.extraHeaders["Authorization"][len("Token "):]
	apiNoStrings(t, "audit log", string(raw), secret, "N3w-Passw0rd!", apiAdminPassword, tokValue, hashToken(tokValue))
	if !strings.Contains(string(raw), audit.Masked) {
		t.Errorf("the audit log masks nothing")
	}
}
