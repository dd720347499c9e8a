package controller

// API token tests (issue 12): tokens act as their owner, never with more than the owner holds
// now, capped by their scope; they expire, are revoked, are shown once and stored as hashes.

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// mintToken mints an API token as cred and returns the answer and how to authenticate with it.
func (e *apiEnv) mintToken(t *testing.T, cred apiCred, body any) (map[string]any, apiCred) {
	t.Helper()
	r := e.do(t, "POST", "/api/user-token", body, cred).want(t, http.StatusCreated)
	tok, _ := r.obj["token"].(string)
	if tok == "" {
		t.Fatalf("no token in %s", r.raw)
	}
	return r.obj, tokenCred(tok, "Token")
}

// tokenCred authenticates with an API token in the Authorization header, by scheme.
func tokenCred(tok, scheme string) apiCred {
	return apiCred{none: true, extraHeaders: map[string]string{"Authorization": scheme + " " + tok}}
}

// TestAccessMatrixByToken: the access matrix with each role's API token (no scope) instead of
// its password: the same answers, except that a token mints no token and changes no password.
func TestAccessMatrixByToken(t *testing.T) {
	e := newSetUpAPIEnv(t)
	creds := map[string]apiCred{}
	n := 0
	for role := range accessWant {
		name := "t-" + strings.ToLower(role)
		if role == "" {
			name = "t-none"
		}
		user := e.mustUser(t, name, role, avi.AdminTenant)
		obj, c := e.mintToken(t, user, map[string]any{"description": "matrix " + role})
		// Both of the header's forms: Avi's "Token" and the common "Bearer".
		if n++; n%2 == 0 {
			c = tokenCred(c.extraHeaders["Authorization"][len("Token "):], "Bearer")
		}
		apiWantEq(t, name+" token owner", obj["username"], name)
		creds[role] = c
	}
	runMatrix(t, e, creds, true)
}

// TestAPITokenRoleBounds: a token's access is the lesser of its owner's current roles and its
// scope, per resource.
func TestAPITokenRoleBounds(t *testing.T) {
	e := newSetUpAPIEnv(t)
	// An operator's token scoped by System-Admin is still an operator's: it reads, never writes.
	op := e.mustUser(t, "op", avi.RoleApplicationOperator, avi.AdminTenant)
	_, opTok := e.mintToken(t, op, map[string]any{"role_ref": "/api/role?name=" + avi.RoleSystemAdmin})
	e.do(t, "GET", "/api/pool", nil, opTok).want(t, http.StatusOK)
	e.do(t, "POST", "/api/pool", `{"name": "op-pool"}`, opTok).want(t, http.StatusForbidden, "PERMISSION_POOL")
	e.do(t, "GET", "/api/user", nil, opTok).want(t, http.StatusForbidden, "PERMISSION_USER")

	// A System-Admin's read-only token reads and writes nothing; an operator-scoped one reads
	// only what the operator role grants; an unscoped one writes, without a CSRF header.
	sys := e.mustUser(t, "sys", avi.RoleSystemAdmin, "*")
	_, ro := e.mintToken(t, sys, `{"read_only": true, "hours": 2}`)
	_, scoped := e.mintToken(t, sys, map[string]any{"role_ref": "/api/role?name=" + avi.RoleApplicationOperator})
	_, full := e.mintToken(t, sys, `{}`)
	e.do(t, "GET", "/api/user", nil, ro).want(t, http.StatusOK)
	e.do(t, "POST", "/api/pool", `{"name": "ro-pool"}`, ro).want(t, http.StatusForbidden, "PERMISSION_POOL", "READ_ACCESS")
	e.do(t, "GET", "/api/pool", nil, scoped).want(t, http.StatusOK)
	e.do(t, "GET", "/api/cloud", nil, scoped).want(t, http.StatusForbidden, "PERMISSION_CLOUD")
	e.do(t, "POST", "/api/pool", `{"name": "full-pool"}`, full).want(t, http.StatusCreated)
	// A user made by a token grants no more than the token holds.
	e.do(t, "POST", "/api/user", map[string]any{"username": "x", "password": accessPassword,
		"access": []any{map[string]any{"role_ref": "/api/role?name=" + avi.RoleSystemAdmin, "all_tenants": true}}}, scoped).want(t, http.StatusForbidden)

	// The owner loses a role: the token loses it too, at once.
	e.admin(t, "PATCH", e.urlOf(t, "user", "sys"), map[string]any{"access": []any{
		map[string]any{"role_ref": "/api/role?name=" + avi.RoleReadonly, "all_tenants": true}}}).want(t, http.StatusOK)
	e.do(t, "POST", "/api/pool", `{"name": "full-pool-2"}`, full).want(t, http.StatusForbidden, "PERMISSION_POOL")
	e.do(t, "GET", "/api/pool", nil, full).want(t, http.StatusOK)

	// A superuser's read-only token is no superuser: it reads everything and writes nothing.
	_, adminRO := e.mintToken(t, apiCred{}, `{"read_only": true}`)
	e.do(t, "GET", "/api/systemconfiguration", nil, adminRO).want(t, http.StatusOK)
	e.do(t, "POST", "/api/user", `{"username": "evil", "password": "Ev1l-Passw0rd", "is_superuser": true}`, adminRO).want(t, http.StatusForbidden, "PERMISSION_USER")
	e.do(t, "POST", "/api/configuration/export", `{"passphrase": "`+apiExportPhrase+`"}`, adminRO).want(t, http.StatusForbidden, "PERMISSION_CONTROLLER")

	// A token mints no token and changes no password.
	e.do(t, "POST", "/api/user-token", `{}`, full).want(t, http.StatusForbidden, "API token")
	e.do(t, "PUT", "/api/useraccount", map[string]string{"old_password": accessPassword, "password": "N3w-Passw0rd!"}, full).want(t, http.StatusForbidden, "API token")

	// What a request may ask for.
	e.admin(t, "POST", "/api/user-token", `{"hours": 8761}`).want(t, http.StatusBadRequest, "hours")
	e.admin(t, "POST", "/api/user-token", `{"hours": -1}`).want(t, http.StatusBadRequest, "hours")
	e.admin(t, "POST", "/api/user-token", `{"read_only": true, "role_ref": "/api/role?name=System-Readonly"}`).want(t, http.StatusBadRequest, "role_ref")
	e.admin(t, "POST", "/api/user-token", `{"role_ref": "/api/role?name=nope"}`).want(t, http.StatusBadRequest, "role_ref")
	e.admin(t, "POST", "/api/user-token", `{"scope": "all"}`).want(t, http.StatusBadRequest, "scope")
	e.admin(t, "POST", "/api/user-token", map[string]string{"description": "bad\x00desc"}).want(t, http.StatusBadRequest, "description")
	// The generic object routes do not serve tokens.
	e.admin(t, "GET", "/api/authtoken", nil).want(t, http.StatusNotFound)
}

// TestAPITokenLifecycle: expiry by the controller's clock, shown once, stored as a hash, revoked
// by DELETE, by a password change and with the user.
func TestAPITokenLifecycle(t *testing.T) {
	e := newSetUpAPIEnv(t)
	var clock atomic.Int64
	clock.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Unix())
	e.srv.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	ops := e.mustUser(t, "ops1", avi.RoleApplicationAdmin, avi.AdminTenant)
	opsURL := e.urlOf(t, "user", "ops1")

	obj, tok := e.mintToken(t, ops, `{"hours": 1, "description": "ci"}`)
	apiWantEq(t, "expires", obj["expires"], "2026-03-01T13:00:00Z")
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusOK)
	clock.Add(59 * 60)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusOK)
	clock.Add(60)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusUnauthorized, "expired")

	// The default life is 24 hours.
	def, _ := e.mintToken(t, ops, `{}`)
	apiWantEq(t, "default expiry", def["expires"], "2026-03-02T13:00:00Z")

	// Shown once: the list names the token, never its value or hash; the store holds the hash.
	obj, tok = e.mintToken(t, ops, `{"description": "deploy"}`)
	secret := tok.extraHeaders["Authorization"][len("Token "):]
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusOK)
	list := e.do(t, "GET", "/api/user-token", nil, ops).want(t, http.StatusOK)
	apiWantEq(t, "ops1's tokens", list.obj["count"], 3)
	if strings.Contains(list.raw, secret) || strings.Contains(list.raw, hashToken(secret)) || strings.Contains(list.raw, `"token"`) {
		t.Errorf("the token list shows a token or its hash: %s", list.raw)
	}
	if !strings.Contains(list.raw, `"last_used":"2026-03-01T13:00:00Z"`) {
		t.Errorf("the token list lacks the last use: %s", list.raw)
	}
	raw, err := os.ReadFile(filepath.Join(e.srv.cfg.DataDir, contract.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), secret) || strings.Contains(string(raw), hashToken(secret)) {
		t.Errorf("config.db holds the token or its clear SHA-256 (the hash is sealed at rest)")
	}
	if stored, err := store.Get[*avi.AuthToken](e.srv.store, obj["uuid"].(string)); err != nil || stored.TokenHash != hashToken(secret) {
		t.Errorf("the stored token is not the token's SHA-256: %v", err)
	}
	// Others see none of ops1's tokens; the superuser sees them all.
	other := e.mustUser(t, "other", avi.RoleApplicationAdmin, avi.AdminTenant)
	apiWantEq(t, "other's tokens", e.do(t, "GET", "/api/user-token", nil, other).want(t, http.StatusOK).obj["count"], 0)
	apiWantEq(t, "all tokens", e.admin(t, "GET", "/api/user-token", nil).want(t, http.StatusOK).obj["count"], 3)
	e.do(t, "DELETE", "/api/user-token/"+obj["uuid"].(string), nil, other).want(t, http.StatusNotFound)

	// Revoked: refused at once.
	e.do(t, "DELETE", "/api/user-token/"+obj["uuid"].(string), nil, ops).want(t, http.StatusNoContent)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusUnauthorized, "revoked")

	// A password change revokes the user's tokens, whoever changes it.
	_, tok = e.mintToken(t, ops, `{}`)
	e.do(t, "PUT", "/api/useraccount", map[string]string{"old_password": accessPassword, "password": "N3w-Passw0rd!"}, ops).want(t, http.StatusOK)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusUnauthorized, "revoked")
	ops.pass = "N3w-Passw0rd!"
	_, tok = e.mintToken(t, ops, `{}`)
	e.admin(t, "PATCH", opsURL, `{"password": "Th1rd-Passw0rd"}`).want(t, http.StatusOK)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusUnauthorized, "revoked")
	// Another change of the user keeps them.
	ops.pass = "Th1rd-Passw0rd"
	_, tok = e.mintToken(t, ops, `{}`)
	e.admin(t, "PATCH", opsURL, `{"name": "Ops One"}`).want(t, http.StatusOK)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusOK)
	// Deleting the user deletes them.
	e.admin(t, "DELETE", opsURL, nil).want(t, http.StatusNoContent)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusUnauthorized)
	for _, o := range e.admin(t, "GET", "/api/user-token", nil).want(t, http.StatusOK).obj["results"].([]any) {
		if o.(map[string]any)["username"] == "ops1" {
			t.Errorf("a deleted user's token is left: %v", o)
		}
	}
}

// TestAPITokenLogin: Avi's SDK logs in with {"username", "token"}; the session it gets has the
// token's scope and ends with the token.
func TestAPITokenLogin(t *testing.T) {
	e := newSetUpAPIEnv(t)
	sys := e.mustUser(t, "sdk", avi.RoleSystemAdmin, "*")
	obj, tok := e.mintToken(t, sys, `{"read_only": true}`)
	value := tok.extraHeaders["Authorization"][len("Token "):]
	// As the SDK posts it: a form.
	form := apiCred{none: true, contentType: "application/x-www-form-urlencoded"}
	e.do(t, "POST", "/login", "username=other&token="+value, form).want(t, http.StatusUnauthorized)
	e.do(t, "POST", "/login", "username=sdk&token=nope", form).want(t, http.StatusUnauthorized)
	r := e.do(t, "POST", "/login", "username=sdk&token="+value, form).want(t, http.StatusOK)
	sess := apiCred{}
	for _, c := range r.resp.Cookies() {
		switch c.Name {
		case "avi-sessionid":
			sess.session = c.Value
		case "csrftoken":
			sess.csrf = c.Value
		}
	}
	e.do(t, "GET", "/api/user", nil, sess).want(t, http.StatusOK)
	e.do(t, "POST", "/api/pool", `{"name": "sdk-pool"}`, sess).want(t, http.StatusForbidden, "READ_ACCESS")
	e.do(t, "POST", "/api/user-token", `{}`, sess).want(t, http.StatusForbidden, "API token")
	apiWantEq(t, "login entry's token", e.auditEntries(t, "user=sdk&action=login")[0]["token_id"], obj["id"])
	// Revoked: the session ends too.
	e.do(t, "DELETE", "/api/user-token/"+obj["uuid"].(string), nil, sys).want(t, http.StatusNoContent)
	e.do(t, "GET", "/api/user", nil, sess).want(t, http.StatusUnauthorized, "revoked")
}

// TestImportedPasswordRevokesTokens: an import that gives a user another password revokes the
// user's tokens, as a change through the API does.
func TestImportedPasswordRevokesTokens(t *testing.T) {
	e := newSetUpAPIEnv(t)
	ops := e.mustUser(t, "ops2", avi.RoleApplicationAdmin, avi.AdminTenant)
	ex := e.admin(t, "POST", "/api/configuration/export", map[string]string{"passphrase": apiExportPhrase}).want(t, http.StatusOK)
	e.admin(t, "PATCH", e.urlOf(t, "user", "ops2"), `{"password": "N3w-Passw0rd!"}`).want(t, http.StatusOK)
	ops.pass = "N3w-Passw0rd!"
	_, tok := e.mintToken(t, ops, `{}`)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusOK)
	e.admin(t, "POST", "/api/configuration/import", map[string]any{"passphrase": apiExportPhrase, "configuration": ex.obj}).want(t, http.StatusOK)
	e.do(t, "GET", "/api/pool", nil, tok).want(t, http.StatusUnauthorized, "revoked")
	e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "ops2", pass: accessPassword}).want(t, http.StatusOK)
}

// Finding the token a request carries costs the same with 1 token in the store as with 500
// (every user's): a request made with a token does not copy every token there is.
func TestTokenLookupCostDoesNotGrowWithTokens(t *testing.T) {
	e := newSetUpAPIEnv(t)
	admin := e.byName(t, "user", "admin")
	addTokens := func(n int) {
		for range n {
			tok := &avi.AuthToken{Meta: avi.Meta{Name: randomToken()[:12]}, UserRef: admin["url"].(string),
				Created: "2026-01-01T00:00:00Z", Expires: "2027-01-01T00:00:00Z", TokenHash: hashToken(randomToken())}
			if err := e.srv.store.Create(tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, cred := e.mintToken(t, apiCred{}, `{}`)
	value := cred.extraHeaders["Authorization"][len("Token "):]
	lookup := func() {
		if e.srv.tokenByValue(value) == nil {
			t.Fatal("the minted token is not found")
		}
	}
	one := testing.AllocsPerRun(20, lookup)
	addTokens(499)
	many := testing.AllocsPerRun(20, lookup)
	if many > one+10 {
		t.Errorf("finding a token allocates %.0f times among 500 tokens, %.0f times among 1", many, one)
	}
	if e.srv.tokenByValue("no-such-token") != nil {
		t.Error("an unknown token is found")
	}
}

// tokenByValue copies the token it finds by value, which is a whole copy only while a token
// holds nothing by reference: a slice, map or pointer added to avi.AuthToken fails this.
func TestAuthTokenCopiesByValue(t *testing.T) {
	var check func(ty reflect.Type, path string)
	check = func(ty reflect.Type, path string) {
		for i := range ty.NumField() {
			f := ty.Field(i)
			if ty == reflect.TypeFor[avi.Meta]() && f.Name == "Extra" {
				continue // tokenByValue drops it: tokens are no kind of Avi's schema
			}
			switch f.Type.Kind() {
			case reflect.Struct:
				check(f.Type, path+f.Name+".")
			case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
			default:
				t.Errorf("avi.AuthToken.%s%s is a %s: tokenByValue's copy would share it with the store", path, f.Name, f.Type)
			}
		}
	}
	check(reflect.TypeFor[avi.AuthToken](), "")
}
