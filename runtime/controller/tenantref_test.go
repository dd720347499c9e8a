package controller

import (
	"net/http"
	"testing"
)

// Tenants as Avi's clients use them: tenant_ref on every object (admin for controller-wide
// ones), the request's tenant by X-Avi-Tenant or X-Avi-Tenant-UUID, and an unknown tenant
// refused naming the header.
func TestTenantRefAsAviClientsUseIt(t *testing.T) {
	e := newSetUpAPIEnv(t)
	adminURL := e.urlOf(t, "tenant", "admin")
	for _, kind := range []string{"cloud", "serviceenginegroup", "cloudconnectoruser", "applicationprofile"} {
		list := e.admin(t, "GET", "/api/"+kind, nil).want(t, http.StatusOK)
		if got := apiGet(list.obj, "results", 0, "tenant_ref"); got != adminURL {
			t.Errorf("%s: tenant_ref %v; want the admin tenant %s", kind, got, adminURL)
		}
	}
	// A controller-wide object written with the admin tenant named is taken; another is refused.
	e.mustCreate(t, "cloudconnectoruser", map[string]any{"name": "k1", "tenant_ref": "/api/tenant?name=admin"})
	team := e.mustCreate(t, "tenant", map[string]any{"name": "team"})
	e.admin(t, "POST", "/api/cloudconnectoruser", map[string]any{"name": "k2", "tenant_ref": team["url"]}).want(t, http.StatusBadRequest, "tenant_ref", "controller-wide")

	byUUID := apiCred{user: "admin", pass: apiAdminPassword, extraHeaders: map[string]string{"X-Avi-Tenant-UUID": team["uuid"].(string)}}
	hm := e.do(t, "POST", "/api/healthmonitor", map[string]any{"name": "team-hm", "type": "HEALTH_MONITOR_TCP"}, byUUID).want(t, http.StatusCreated)
	apiWantEq(t, "tenant of an object created with X-Avi-Tenant-UUID", hm.obj["tenant_ref"], team["url"])
	byName := inTenant(apiCred{user: "admin", pass: apiAdminPassword}, "team")
	apiWantEq(t, "monitors seen in team", apiGet(e.do(t, "GET", "/api/healthmonitor?name=team-hm", nil, byName).want(t, http.StatusOK).obj, "count"), float64(1))

	e.do(t, "GET", "/api/pool", nil, inTenant(apiCred{user: "admin", pass: apiAdminPassword}, "nope")).want(t, http.StatusBadRequest, "X-Avi-Tenant", "nope")
	e.do(t, "GET", "/api/pool", nil, apiCred{user: "admin", pass: apiAdminPassword, extraHeaders: map[string]string{"X-Avi-Tenant-UUID": "tenant-nope"}}).
		want(t, http.StatusBadRequest, "X-Avi-Tenant-UUID")
}
