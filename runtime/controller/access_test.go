package controller

// Access tests (issue 12): roles and tenants as Avi's. The finding they guard: a user created
// with "is_superuser": false could make superusers, export the configuration, mint join tokens
// and reset the admin's password.

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

const accessPassword = "Acc3ss-Passw0rd"

// mustUser creates a user with that password holding a role in a tenant ("*": all tenants),
// or nothing when role is empty, and returns how to authenticate as it.
func (e *apiEnv) mustUser(t *testing.T, name, role, tenant string) apiCred {
	t.Helper()
	u := map[string]any{"username": name, "password": accessPassword}
	switch {
	case role != "" && tenant == "*":
		u["access"] = []any{map[string]any{"role_ref": "/api/role?name=" + role, "all_tenants": true}}
	case role != "":
		u["access"] = []any{map[string]any{"role_ref": "/api/role?name=" + role, "tenant_ref": "/api/tenant?name=" + tenant}}
		u["default_tenant_ref"] = "/api/tenant?name=" + tenant
	}
	e.mustCreate(t, "user", u)
	return apiCred{user: name, pass: accessPassword}
}

// inTenant is cred with the X-Avi-Tenant header.
func inTenant(c apiCred, tenant string) apiCred {
	c.extraHeaders = map[string]string{"X-Avi-Tenant": tenant}
	return c
}

func TestNonSuperuserCannotActAsOne(t *testing.T) {
	e := newSetUpAPIEnv(t)
	adminURL := e.urlOf(t, "user", "admin")

	// The audit's user: created with is_superuser false, and no role.
	plain := e.mustUser(t, "plain", "", "")
	for _, c := range []struct {
		method, path string
		body         any
		privilege    string
	}{
		{"POST", "/api/user", `{"username": "evil", "password": "Ev1l-Passw0rd", "is_superuser": true}`, "PERMISSION_USER"},
		{"POST", "/api/configuration/export", `{"passphrase": "` + apiExportPhrase + `"}`, "PERMISSION_CONTROLLER"},
		{"POST", "/api/jointoken", `{}`, "PERMISSION_SE_TOKEN"},
		{"PATCH", adminURL, `{"password": "Ev1l-Passw0rd"}`, "PERMISSION_USER"},
		{"GET", "/api/pool", nil, ""},
	} {
		r := e.do(t, c.method, c.path, c.body, plain)
		if r.code != http.StatusForbidden || !strings.Contains(r.raw, c.privilege) {
			t.Errorf("%s %s by a user without roles: %d %s; want 403 naming %s", c.method, c.path, r.code, r.raw, c.privilege)
		}
	}
	e.do(t, "GET", "/api/useraccount", nil, plain).want(t, http.StatusOK)
	e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "admin", pass: apiAdminPassword}).want(t, http.StatusOK)

	// A System-Admin who is no superuser administers, but makes no superuser and cannot take over
	// one.
	sysadmin := e.mustUser(t, "sysadmin", avi.RoleSystemAdmin, "*")
	e.do(t, "POST", "/api/user", `{"username": "evil", "password": "Ev1l-Passw0rd", "is_superuser": true}`, sysadmin).want(t, http.StatusForbidden, "is_superuser")
	e.do(t, "PATCH", adminURL, `{"password": "Ev1l-Passw0rd"}`, sysadmin).want(t, http.StatusForbidden, "is_superuser")
	e.do(t, "DELETE", adminURL, nil, sysadmin).want(t, http.StatusForbidden, "is_superuser")
	e.do(t, "POST", "/api/configuration/export", `{"passphrase": "`+apiExportPhrase+`"}`, sysadmin).want(t, http.StatusOK)
	e.do(t, "GET", "/api/jointoken", nil, sysadmin).want(t, http.StatusOK)
	// The admin's password still works.
	e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "admin", pass: apiAdminPassword}).want(t, http.StatusOK)

	// Only a superuser makes one.
	e.admin(t, "POST", "/api/user", `{"username": "root2", "password": "R00t-Passw0rd", "is_superuser": true}`).want(t, http.StatusCreated)
	e.do(t, "GET", "/api/systemconfiguration", nil, apiCred{user: "root2", pass: "R00t-Passw0rd"}).want(t, http.StatusOK)

	// A tenant admin resets the password of a user who holds less, not of one who holds more.
	tadmin := e.mustUser(t, "tadmin", avi.RoleTenantAdmin, avi.AdminTenant)
	e.mustUser(t, "operator", avi.RoleApplicationOperator, avi.AdminTenant)
	e.do(t, "PATCH", e.urlOf(t, "user", "operator"), `{"password": "N3w-Passw0rd!"}`, tadmin).want(t, http.StatusOK)
	e.do(t, "PATCH", e.urlOf(t, "user", "sysadmin"), `{"password": "N3w-Passw0rd!"}`, tadmin).want(t, http.StatusForbidden, "access")
	// Nor grants more than it holds, to others or by a role it writes.
	e.do(t, "POST", "/api/user", map[string]any{"username": "helper", "password": accessPassword,
		"access": []any{map[string]any{"role_ref": "/api/role?name=System-Admin", "tenant_ref": "/api/tenant?name=admin"}}}, tadmin).want(t, http.StatusForbidden, "PERMISSION_SYSTEMCONFIGURATION")
	e.do(t, "POST", "/api/role", `{"name": "sneaky", "privileges": [{"resource": "PERMISSION_CONTROLLER", "type": "WRITE_ACCESS"}]}`, tadmin).want(t, http.StatusForbidden, "PERMISSION_CONTROLLER")

	// One's own user object changes no password, access or superuser flag: that is 403 naming the
	// field. The password goes through PUT /api/useraccount, which asks the old one.
	self := e.urlOf(t, "user", "sysadmin")
	e.do(t, "PATCH", self, `{"password": "N3w-Passw0rd!"}`, sysadmin).want(t, http.StatusForbidden, "password")
	e.do(t, "PATCH", self, `{"is_superuser": true}`, sysadmin).want(t, http.StatusForbidden, "is_superuser")
	e.do(t, "PATCH", self, `{"access": [{"role_ref": "/api/role?name=System-Readonly", "all_tenants": true}]}`, sysadmin).want(t, http.StatusForbidden, "access")
	e.do(t, "PUT", self, `{"username": "sysadmin", "name": "sysadmin"}`, sysadmin).want(t, http.StatusForbidden, "access")
	e.do(t, "PATCH", self, `{"name": "sysadmin"}`, sysadmin).want(t, http.StatusOK)
	e.do(t, "PUT", "/api/useraccount", map[string]string{"old_password": accessPassword, "password": "N3w-Passw0rd!"}, sysadmin).want(t, http.StatusOK)
	e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "sysadmin", pass: "N3w-Passw0rd!"}).want(t, http.StatusOK)
	// The superuser changes another user's password.
	e.admin(t, "PATCH", self, `{"password": "Th1rd-Passw0rd"}`).want(t, http.StatusOK)
	e.do(t, "GET", "/api/useraccount", nil, apiCred{user: "sysadmin", pass: "Th1rd-Passw0rd"}).want(t, http.StatusOK)
}

// accessWant is, per built-in role, the access it grants to each resource, as Avi describes
// its roles (docs/api.md): W write, R read, absent none.
var accessWant = map[string]map[string]string{
	avi.RoleSystemAdmin: {"PERMISSION_VIRTUALSERVICE": "W", "PERMISSION_POOL": "W", "PERMISSION_APPLICATIONPROFILE": "W", "PERMISSION_HEALTHMONITOR": "W",
		"PERMISSION_CLOUD": "W", "PERMISSION_USER_CREDENTIAL": "W", "PERMISSION_SERVICEENGINE": "W", "PERMISSION_SERVICEENGINEGROUP": "W", "PERMISSION_SE_TOKEN": "W",
		"PERMISSION_USER": "W", "PERMISSION_ROLE": "W", "PERMISSION_TENANT": "W", "PERMISSION_SYSTEMCONFIGURATION": "W", "PERMISSION_CONTROLLER": "W",
		"PERMISSION_AUDITLOG": "W"},
	avi.RoleApplicationAdmin: {"PERMISSION_VIRTUALSERVICE": "W", "PERMISSION_POOL": "W", "PERMISSION_APPLICATIONPROFILE": "W", "PERMISSION_HEALTHMONITOR": "W",
		"PERMISSION_CLOUD": "R", "PERMISSION_USER_CREDENTIAL": "R", "PERMISSION_SERVICEENGINE": "R", "PERMISSION_SERVICEENGINEGROUP": "R", "PERMISSION_SE_TOKEN": "R"},
	avi.RoleApplicationOperator: {"PERMISSION_VIRTUALSERVICE": "R", "PERMISSION_POOL": "R", "PERMISSION_APPLICATIONPROFILE": "R", "PERMISSION_HEALTHMONITOR": "R"},
	avi.RoleSecurityAdmin:       {"PERMISSION_AUDITLOG": "R"},
	avi.RoleReadonly: {"PERMISSION_VIRTUALSERVICE": "R", "PERMISSION_POOL": "R", "PERMISSION_APPLICATIONPROFILE": "R", "PERMISSION_HEALTHMONITOR": "R",
		"PERMISSION_CLOUD": "R", "PERMISSION_USER_CREDENTIAL": "R", "PERMISSION_SERVICEENGINE": "R", "PERMISSION_SERVICEENGINEGROUP": "R", "PERMISSION_SE_TOKEN": "R",
		"PERMISSION_USER": "R", "PERMISSION_ROLE": "R", "PERMISSION_TENANT": "R", "PERMISSION_SYSTEMCONFIGURATION": "R", "PERMISSION_CONTROLLER": "R"},
	avi.RoleTenantAdmin: {"PERMISSION_VIRTUALSERVICE": "W", "PERMISSION_POOL": "W", "PERMISSION_APPLICATIONPROFILE": "W", "PERMISSION_HEALTHMONITOR": "W",
		"PERMISSION_CLOUD": "W", "PERMISSION_USER_CREDENTIAL": "W", "PERMISSION_SERVICEENGINE": "W", "PERMISSION_SERVICEENGINEGROUP": "W", "PERMISSION_SE_TOKEN": "W",
		"PERMISSION_USER": "W", "PERMISSION_ROLE": "W", "PERMISSION_TENANT": "W"},
	"": {}, // a user without roles
}

// The resources added with the kinds automation looks up are granted as the resources of their
// section: pool groups as pools, profiles as health monitors, VRFs, networks and IPAM profiles as
// clouds; certificates and SSL profiles are Avi's Templates > Security.
func init() {
	like := map[string]string{"PERMISSION_POOLGROUP": "PERMISSION_POOL", "PERMISSION_NETWORKPROFILE": "PERMISSION_HEALTHMONITOR",
		"PERMISSION_APPLICATIONPERSISTENCEPROFILE": "PERMISSION_HEALTHMONITOR", "PERMISSION_ANALYTICSPROFILE": "PERMISSION_HEALTHMONITOR",
		"PERMISSION_VRFCONTEXT": "PERMISSION_CLOUD", "PERMISSION_NETWORK": "PERMISSION_CLOUD", "PERMISSION_IPAMDNSPROVIDERPROFILE": "PERMISSION_CLOUD"}
	security := map[string]string{avi.RoleSystemAdmin: "W", avi.RoleSecurityAdmin: "W", avi.RoleReadonly: "R", avi.RoleTenantAdmin: "W"}
	for role, grants := range accessWant {
		for res, as := range like {
			if a, ok := grants[as]; ok {
				grants[res] = a
			}
		}
		if a, ok := security[role]; ok {
			grants["PERMISSION_SSLPROFILE"], grants["PERMISSION_SSLKEYANDCERTIFICATE"] = a, a
		}
	}
}

// kindResource is the resource of each kind, as Avi's API names them.
var kindResource = map[avi.Kind]string{
	avi.KindSystemConfiguration: "PERMISSION_SYSTEMCONFIGURATION", avi.KindTenant: "PERMISSION_TENANT", avi.KindRole: "PERMISSION_ROLE",
	avi.KindUser: "PERMISSION_USER", avi.KindCloudConnectorUser: "PERMISSION_USER_CREDENTIAL", avi.KindCloud: "PERMISSION_CLOUD",
	avi.KindApplicationProfile: "PERMISSION_APPLICATIONPROFILE", avi.KindHealthMonitor: "PERMISSION_HEALTHMONITOR", avi.KindPool: "PERMISSION_POOL",
	avi.KindVirtualService: "PERMISSION_VIRTUALSERVICE", avi.KindVsVip: "PERMISSION_VIRTUALSERVICE", avi.KindServiceEngine: "PERMISSION_SERVICEENGINE", avi.KindJoinToken: "PERMISSION_SE_TOKEN",
	avi.KindServiceEngineGroup: "PERMISSION_SERVICEENGINEGROUP", avi.KindCluster: "PERMISSION_CONTROLLER",
	avi.KindControllerProperties: "PERMISSION_CONTROLLER", avi.KindIpamDnsProviderProfile: "PERMISSION_IPAMDNSPROVIDERPROFILE",
	avi.KindVrfContext: "PERMISSION_VRFCONTEXT", avi.KindNetwork: "PERMISSION_NETWORK", avi.KindSSLKeyAndCertificate: "PERMISSION_SSLKEYANDCERTIFICATE",
	avi.KindSSLProfile: "PERMISSION_SSLPROFILE", avi.KindNetworkProfile: "PERMISSION_NETWORKPROFILE",
	avi.KindApplicationPersistenceProfile: "PERMISSION_APPLICATIONPERSISTENCEPROFILE", avi.KindAnalyticsProfile: "PERMISSION_ANALYTICSPROFILE",
	avi.KindPoolGroup: "PERMISSION_POOLGROUP",
}

// matrixRequest is one request of the matrix: no request changes anything the next depend on
// (bodies are refused, uuids unknown), so its answer tells only whether it was let through.
type matrixRequest struct {
	method, path string
	body         any
	resource     string // "" for every authenticated user; loginOnly: not with an API token
}

// matrixRequests are concrete requests for every authorized route.
func matrixRequests(t *testing.T, s *Server) []matrixRequest {
	var out []matrixRequest
	for _, rt := range s.apiRoutes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		n := len(out)
		switch {
		case strings.Contains(path, "{kind}") && strings.HasPrefix(path, "/api/analytics/"):
			for _, k := range []avi.Kind{avi.KindVirtualService, avi.KindPool} {
				p := strings.NewReplacer("{kind}", string(k), "{uuid}", string(k)+"-nope").Replace(path)
				out = append(out, matrixRequest{method, p, nil, kindResource[k]})
			}
		case strings.Contains(path, "{kind}"):
			for _, k := range avi.Kinds {
				if k.Private {
					continue // answered 404 by these routes
				}
				p := strings.NewReplacer("{kind}", string(k.Kind), "{uuid}", string(k.Kind)+"-nope").Replace(path)
				var body any
				if method != "GET" && method != "DELETE" {
					body = `{"bogus": 1}`
				}
				out = append(out, matrixRequest{method, p, body, kindResource[k.Kind]})
			}
		default:
			want := map[string]matrixRequest{
				"POST /api/jointoken":                           {body: `{"ttl_seconds": -1}`, resource: "PERMISSION_SE_TOKEN"},
				"GET /api/jointoken":                            {resource: "PERMISSION_SE_TOKEN"},
				"DELETE /api/jointoken/{id}":                    {resource: "PERMISSION_SE_TOKEN"},
				"GET /api/analytics/logs/virtualservice/{uuid}": {resource: "PERMISSION_VIRTUALSERVICE"},
				"GET /api/virtualservice-inventory":             {resource: "PERMISSION_VIRTUALSERVICE"},
				"GET /api/cloud/{uuid}/runtime":                 {resource: "PERMISSION_CLOUD"},
				"GET /api/virtualservice/{uuid}/runtime":        {resource: "PERMISSION_VIRTUALSERVICE"},
				"GET /api/pool/{uuid}/runtime/server":           {resource: "PERMISSION_POOL"},
				"GET /api/serviceengine/{uuid}/runtime":         {resource: "PERMISSION_SERVICEENGINE"},
				"GET /metrics":                                  {resource: "PERMISSION_CONTROLLER"},
				"POST /api/configuration/export":                {body: `{}`, resource: "PERMISSION_CONTROLLER"},
				"GET /api/cluster":                              {resource: "PERMISSION_CONTROLLER"},
				"PUT /api/cluster":                              {body: `{"bogus": 1}`, resource: "PERMISSION_CONTROLLER"},
				"PUT /api/cluster/{uuid}":                       {body: `{"bogus": 1}`, resource: "PERMISSION_CONTROLLER"},
				"GET /api/cluster/runtime":                      {resource: "PERMISSION_CONTROLLER"},
				"GET /api/cluster/version":                      {},
				"GET /api/cluster/status":                       {resource: "PERMISSION_CONTROLLER"},
				"POST /api/cluster/jointoken":                   {body: `{"ttl_seconds": -1}`, resource: "PERMISSION_CONTROLLER"},
				"POST /api/configuration/import":                {body: `{}`, resource: "PERMISSION_CONTROLLER"},
				"PUT /api/useraccount":                          {body: `not json`, resource: loginOnly},
				"POST /api/user-token":                          {body: `{"hours": -1}`, resource: loginOnly},
				"GET /api/user-token":                           {},
				"DELETE /api/user-token/{uuid}":                 {},
				"GET /api/auditlog":                             {resource: "PERMISSION_AUDITLOG"},
				"GET /api/useraccount":                          {},
				"GET /api/linux_host_install":                   {resource: "public"},
			}
			req, ok := want[rt.pattern]
			if !ok {
				t.Errorf("route %s has no request in the matrix", rt.pattern)
				continue
			}
			req.method = method
			req.path = strings.NewReplacer("{id}", "nope", "{uuid}", "nope").Replace(path)
			out = append(out, req)
		}
		if len(out) == n {
			t.Errorf("route %s yields no request", rt.pattern)
		}
	}
	return out
}

// TestAccessMatrix sends every route as every built-in role (held in the admin tenant) and as a
// user without roles: each is let through exactly when the role grants the route's resource the
// access its method needs, else answered 403 naming the resource.
func TestAccessMatrix(t *testing.T) {
	e := newSetUpAPIEnv(t)
	creds := map[string]apiCred{}
	for role := range accessWant {
		name := "u-" + strings.ToLower(role)
		if role == "" {
			name = "u-none"
		}
		creds[role] = e.mustUser(t, name, role, avi.AdminTenant)
	}
	runMatrix(t, e, creds, false)
}

// runMatrix sends every route with each role's credentials (tokens: API tokens, which the
// login-only routes refuse) and checks that each is let through exactly when the role allows it.
func runMatrix(t *testing.T, e *apiEnv, creds map[string]apiCred, tokens bool) {
	t.Helper()
	reqs := matrixRequests(t, e.srv)
	if len(reqs) < 80 {
		t.Fatalf("only %d requests in the matrix", len(reqs))
	}
	for role, grants := range accessWant {
		for _, q := range reqs {
			need := "W"
			if q.method == "GET" {
				need = "R"
			}
			allowed := q.resource == "" || q.resource == "public" || grants[q.resource] == "W" || grants[q.resource] == need
			naming := q.resource
			if q.resource == loginOnly {
				allowed, naming = !tokens, "API token"
			}
			r := e.do(t, q.method, q.path, q.body, creds[role])
			switch {
			case r.code == http.StatusUnauthorized || r.code == http.StatusTooManyRequests:
				t.Fatalf("%q: %s %s: %d %s", role, q.method, q.path, r.code, r.raw)
			case allowed && r.code == http.StatusForbidden:
				t.Errorf("%q: %s %s refused: %s", role, q.method, q.path, r.raw)
			case !allowed && (r.code != http.StatusForbidden || !strings.Contains(r.raw, naming)):
				t.Errorf("%q: %s %s: %d %s; want 403 naming %s", role, q.method, q.path, r.code, r.raw, naming)
			}
		}
	}
}

// TestBuiltInsStay: the built-in roles and the admin tenant are neither changed nor deleted, even
// by a superuser.
func TestBuiltInsStay(t *testing.T) {
	e := newSetUpAPIEnv(t)
	for role := range accessWant {
		if role == "" {
			continue
		}
		u := e.urlOf(t, "role", role)
		e.admin(t, "PUT", u, map[string]any{"name": role, "privileges": []any{}}).want(t, http.StatusConflict, "built in")
		e.admin(t, "PATCH", u, `{"privileges": []}`).want(t, http.StatusConflict, "built in")
		e.admin(t, "DELETE", u, nil).want(t, http.StatusConflict, "built in")
	}
	admin := e.urlOf(t, "tenant", "admin")
	e.admin(t, "PATCH", admin, `{"name": "root"}`).want(t, http.StatusConflict, "built in")
	e.admin(t, "DELETE", admin, nil).want(t, http.StatusConflict, "built in")
	// The setup admin holds System-Admin in every tenant.
	a := e.byName(t, "user", "admin")
	apiWantEq(t, "admin access role", apiGet(a, "access", 0, "role_ref"), e.urlOf(t, "role", avi.RoleSystemAdmin))
	apiWantEq(t, "admin access all_tenants", apiGet(a, "access", 0, "all_tenants"), true)
	apiWantEq(t, "admin default tenant", a["default_tenant_ref"], admin)
	// Custom roles are the operator's.
	e.mustCreate(t, "role", `{"name": "vs-reader", "privileges": [{"resource": "PERMISSION_VIRTUALSERVICE", "type": "READ_ACCESS"}]}`)
	e.admin(t, "POST", "/api/role", `{"name": "typo", "privileges": [{"resource": "PERMISSION_VS", "type": "READ_ACCESS"}]}`).want(t, http.StatusBadRequest, "privileges[0].resource")
	e.admin(t, "DELETE", e.urlOf(t, "role", "vs-reader"), nil).want(t, http.StatusNoContent)
}

// TestTenantIsolation: a user of one tenant sees and changes only that tenant's objects, plus
// the admin tenant's shared profiles and monitors; refers to nothing of another tenant; exports
// only what it may read.
func TestTenantIsolation(t *testing.T) {
	e := newSetUpAPIEnv(t)
	for _, n := range []string{"t1", "t2"} {
		e.mustCreate(t, "tenant", map[string]any{"name": n})
	}
	t1URL, t2URL := e.urlOf(t, "tenant", "t1"), e.urlOf(t, "tenant", "t2")
	u1 := e.mustUser(t, "app1", avi.RoleApplicationAdmin, "t1")
	u2 := e.mustUser(t, "app2", avi.RoleApplicationAdmin, "t2")
	// The admin's own objects, in the admin tenant.
	e.mustCreate(t, "healthmonitor", `{"name": "hm-shared", "type": "HEALTH_MONITOR_TCP"}`)
	adminPool := e.mustCreate(t, "pool", `{"name": "p-admin"}`)
	// Each tenant's user makes a pool there (its default tenant), using the shared monitor.
	p1 := e.do(t, "POST", "/api/pool", `{"name": "p1", "health_monitor_refs": ["/api/healthmonitor?name=hm-shared"]}`, u1).want(t, http.StatusCreated).obj
	apiWantEq(t, "p1 tenant_ref", p1["tenant_ref"], t1URL)
	p2 := e.do(t, "POST", "/api/pool", `{"name": "p2"}`, inTenant(u2, "t2")).want(t, http.StatusCreated).obj
	apiWantEq(t, "p2 tenant_ref", p2["tenant_ref"], t2URL)
	// A tenant of its own choosing in the body is refused, naming tenant_ref.
	e.do(t, "POST", "/api/pool", map[string]any{"name": "p-x", "tenant_ref": t2URL}, u1).want(t, http.StatusBadRequest, "tenant_ref")

	names := func(r *apiResp) []string {
		var out []string
		for _, o := range r.obj["results"].([]any) {
			out = append(out, o.(map[string]any)["name"].(string))
		}
		return out
	}
	// Lists: one's tenant only; shared monitors from admin.
	apiWantEq(t, "t1 pools", names(e.do(t, "GET", "/api/pool", nil, u1).want(t, http.StatusOK)), []string{"p1"})
	apiWantEq(t, "t2 pools", names(e.do(t, "GET", "/api/pool", nil, u2).want(t, http.StatusOK)), []string{"p2"})
	apiWantEq(t, "admin-tenant pools", names(e.admin(t, "GET", "/api/pool", nil).want(t, http.StatusOK)), []string{"p-admin"})
	apiWantEq(t, "pools the superuser sees in t1", names(e.do(t, "GET", "/api/pool", nil, inTenant(apiCred{}, "t1")).want(t, http.StatusOK)), []string{"p1"})
	apiWantEq(t, "t1 monitors", names(e.do(t, "GET", "/api/healthmonitor", nil, u1).want(t, http.StatusOK)), []string{"hm-shared"})
	apiWantEq(t, "t1 pools named p2", e.do(t, "GET", "/api/pool?name=p2", nil, u1).want(t, http.StatusOK).obj["count"], 0)

	// Gets, changes, deletes of another tenant's object: not found.
	p2URL := "/api/pool/" + p2["uuid"].(string)
	e.do(t, "GET", p2URL, nil, u1).want(t, http.StatusNotFound)
	e.do(t, "PUT", p2URL, `{"name": "p2"}`, u1).want(t, http.StatusNotFound)
	e.do(t, "PATCH", p2URL, `{"default_server_port": 81}`, u1).want(t, http.StatusNotFound)
	e.do(t, "DELETE", p2URL, nil, u1).want(t, http.StatusNotFound)
	e.do(t, "GET", "/api/analytics/metrics/pool/"+p2["uuid"].(string), nil, u1).want(t, http.StatusNotFound)
	e.do(t, "GET", p2URL, nil, u2).want(t, http.StatusOK)
	// The shared monitor is read in t1, not changed there.
	hm := e.urlOf(t, "healthmonitor", "hm-shared")
	e.do(t, "GET", hm, nil, u1).want(t, http.StatusOK)
	e.do(t, "PATCH", hm, `{"send_interval": 20}`, u1).want(t, http.StatusForbidden, "admin")
	e.do(t, "DELETE", hm, nil, u1).want(t, http.StatusForbidden, "admin")

	// References to another tenant's objects are refused, naming the field; to shared ones not.
	e.do(t, "POST", "/api/virtualservice", map[string]any{"name": "vs-x", "services": []any{map[string]any{"port": 8080}}, "pool_ref": p2URL}, u1).want(t, http.StatusBadRequest, "pool_ref")
	r := e.do(t, "POST", "/api/virtualservice", `{"name": "vs-y", "services": [{"port": 8080}], "pool_ref": "/api/pool?name=p-admin"}`, u1).want(t, http.StatusBadRequest, "pool_ref", "no such pool")
	if strings.Contains(r.raw, adminPool["uuid"].(string)) {
		t.Errorf("a refused reference by name tells the other tenant's uuid: %s", r.raw)
	}
	vs1 := e.do(t, "POST", "/api/virtualservice", `{"name": "vs1", "services": [{"port": 8080}], "pool_ref": "/api/pool?name=p1"}`, u1).want(t, http.StatusCreated).obj
	e.do(t, "PATCH", "/api/virtualservice/"+vs1["uuid"].(string), map[string]any{"pool_ref": adminPool["url"]}, u1).want(t, http.StatusBadRequest, "pool_ref")
	// Names are per tenant: t2 has its own p1, which its references by name find.
	p1t2 := e.do(t, "POST", "/api/pool", `{"name": "p1"}`, u2).want(t, http.StatusCreated).obj
	// The tenants' services share the SEs of Default-Group: each on its own port.
	vs2 := e.do(t, "POST", "/api/virtualservice", `{"name": "vs1", "services": [{"port": 8081}], "pool_ref": "/api/pool?name=p1"}`, u2).want(t, http.StatusCreated).obj
	apiWantEq(t, "t2's vs1 pool_ref", vs2["pool_ref"], p1t2["url"])
	e.do(t, "POST", "/api/pool", `{"name": "p1"}`, u1).want(t, http.StatusConflict, "name")
	e.do(t, "DELETE", "/api/virtualservice/"+vs2["uuid"].(string), nil, u2).want(t, http.StatusNoContent)
	e.do(t, "DELETE", "/api/pool/"+p1t2["uuid"].(string), nil, u2).want(t, http.StatusNoContent)
	apiWantEq(t, "t1 inventory", len(e.do(t, "GET", "/api/virtualservice-inventory", nil, u1).want(t, http.StatusOK).obj["results"].([]any)), 1)
	apiWantEq(t, "t2 inventory", len(e.do(t, "GET", "/api/virtualservice-inventory", nil, u2).want(t, http.StatusOK).obj["results"].([]any)), 0)
	e.do(t, "GET", "/api/analytics/logs/virtualservice/"+vs1["uuid"].(string), nil, u2).want(t, http.StatusNotFound)

	// A tenant one holds no role in is not entered.
	e.do(t, "GET", "/api/pool", nil, inTenant(u1, "t2")).want(t, http.StatusForbidden, "X-Avi-Tenant")
	e.do(t, "GET", "/api/pool", nil, inTenant(u1, "admin")).want(t, http.StatusForbidden, "X-Avi-Tenant")
	e.do(t, "GET", "/api/pool", nil, inTenant(u1, "nope")).want(t, http.StatusBadRequest, "X-Avi-Tenant", "no tenant is named \"nope\"")
	// A tenant in use is not deleted.
	e.admin(t, "DELETE", t1URL, nil).want(t, http.StatusConflict)

	// An export holds what its user may read: a System-Admin of the admin tenant alone exports
	// admin's objects, nothing of t1 or t2; a tenant's user exports nothing (it is the System
	// section's).
	e.do(t, "POST", "/api/configuration/export", `{"passphrase": "`+apiExportPhrase+`"}`, u1).want(t, http.StatusForbidden, "PERMISSION_CONTROLLER")
	sys0 := e.mustUser(t, "sys0", avi.RoleSystemAdmin, avi.AdminTenant)
	ex := e.do(t, "POST", "/api/configuration/export", `{"passphrase": "`+apiExportPhrase+`"}`, sys0).want(t, http.StatusOK)
	var doc Export
	if err := json.Unmarshal([]byte(ex.raw), &doc); err != nil {
		t.Fatal(err)
	}
	exported := map[string][]string{}
	for kind, objs := range doc.Configuration {
		for _, raw := range objs {
			var m avi.Meta
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			exported[kind] = append(exported[kind], m.Name)
		}
	}
	apiWantEq(t, "pools exported for admin", exported["pool"], []string{"p-admin"})
	if vs := exported["virtualservice"]; len(vs) != 0 {
		t.Errorf("admin's export holds t1's virtual services %v", vs)
	}
	if len(exported["user"]) == 0 || len(exported["tenant"]) != 3 {
		t.Errorf("admin's export lacks controller-wide objects: %v", exported)
	}
	// The superuser's export holds every tenant.
	all := e.admin(t, "POST", "/api/configuration/export", map[string]string{"passphrase": apiExportPhrase}).want(t, http.StatusOK)
	for _, n := range []string{`"p1"`, `"p2"`, `"p-admin"`, `"t1"`} {
		if !strings.Contains(all.raw, n) {
			t.Errorf("the superuser's export lacks %s", n)
		}
	}
}

// TestStoreWithoutTenantsLoadsAsAdmin: a store written before roles and tenants existed gets the
// admin tenant and the built-in roles, and its objects belong to admin.
func TestStoreWithoutTenantsLoadsAsAdmin(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, contract.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Create(&avi.Pool{Meta: avi.Meta{Name: "legacy"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	srv, err := NewServer(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, r := range avi.BuiltInRoles() {
		if _, err := store.GetByName[*avi.Role](srv.store, r.Name); err != nil {
			t.Errorf("built-in role %s missing after upgrade: %v", r.Name, err)
		}
	}
	admin, err := store.GetByName[*avi.Tenant](srv.store, avi.AdminTenant)
	if err != nil {
		t.Fatal(err)
	}
	p := &principal{admin: admin.URL, tenant: admin.URL}
	pool, _ := store.GetByName[*avi.Pool](srv.store, "legacy")
	if k, _ := avi.KindPool.Info(); !p.visible(k, pool) || p.tenantOf(pool) != admin.URL {
		t.Errorf("a pool without tenant_ref is not admin's")
	}
}

// TestImportGrantsNoMoreThanTheImporterHolds: an import is a write like any other: a System-Admin
// who is no superuser imports no superuser, nor changes one; a superuser does.
func TestImportGrantsNoMoreThanTheImporterHolds(t *testing.T) {
	e := newSetUpAPIEnv(t)
	e.admin(t, "POST", "/api/user", `{"username": "root2", "password": "R00t-Passw0rd", "is_superuser": true}`).want(t, http.StatusCreated)
	e.mustCreate(t, "tenant", `{"name": "t1"}`)
	e.mustCreate(t, "pool", `{"name": "imp-pool"}`)
	ex := e.admin(t, "POST", "/api/configuration/export", map[string]string{"passphrase": apiExportPhrase}).want(t, http.StatusOK)
	var doc map[string]any
	if err := json.Unmarshal([]byte(ex.raw), &doc); err != nil {
		t.Fatal(err)
	}
	// Into a fresh controller, by a System-Admin of every tenant who is no superuser.
	f := newAPIEnv(t)
	f.setUp(t, apiAdminPassword, nil)
	sysadmin := f.mustUser(t, "sysadmin", avi.RoleSystemAdmin, "*")
	req := map[string]any{"passphrase": apiExportPhrase, "configuration": doc}
	f.do(t, "POST", "/api/configuration/import", req, sysadmin).want(t, http.StatusForbidden, "is_superuser")
	if r := f.admin(t, "GET", "/api/pool?name=imp-pool", nil).want(t, http.StatusOK); r.obj["count"] != float64(0) {
		t.Errorf("a refused import left objects: %s", r.raw)
	}
	// The superuser imports it; the built-in roles stay this controller's, and the users' grants
	// refer to them.
	r := f.admin(t, "POST", "/api/configuration/import", req).want(t, http.StatusOK)
	apiWantEq(t, "roles imported", apiGet(r.obj, "imported", "role"), nil)
	f.do(t, "GET", "/api/systemconfiguration", nil, apiCred{user: "root2", pass: "R00t-Passw0rd"}).want(t, http.StatusOK)
	apiWantEq(t, "admin's role", apiGet(f.byName(t, "user", "admin"), "access", 0, "role_ref"), f.urlOf(t, "role", avi.RoleSystemAdmin))
	f.byName(t, "tenant", "t1")
}
