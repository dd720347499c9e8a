package controller

import (
	"net/http"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// A virtual service gets its VIP from a vsvip (vsvip_ref), as today's SDKs give it one; the VIP
// follows the vsvip, a vsvip in use is not deleted, and the older ip_address and inline vip[]
// forms keep working without a client that knows one form dropping the other's VIP.
func TestVsVip(t *testing.T) {
	e := newSetUpAPIEnv(t)
	vip := func(addr string) map[string]any {
		return map[string]any{"vip_id": "0", "ip_address": map[string]any{"addr": addr, "type": "V4"}}
	}
	vsvip := e.mustCreate(t, "vsvip", map[string]any{"name": "front", "vip": []any{vip("192.0.2.10")},
		"dns_info": []any{map[string]any{"fqdn": "front.example.test"}}})
	apiWantEq(t, "vsvip vip enabled by default", apiGet(vsvip, "vip", 0, "enabled"), true)
	apiWantEq(t, "dns record type", apiGet(vsvip, "dns_info", 0, "type"), "DNS_RECORD_A")

	vs := e.mustCreate(t, "virtualservice", map[string]any{"name": "web", "vsvip_ref": "/api/vsvip?name=front",
		"services": []any{map[string]any{"port": 80}}})
	vsPath := "/api/virtualservice/" + vs["uuid"].(string)
	apiWantEq(t, "vs address from its vsvip", apiGet(vs, "ip_address", "addr"), "192.0.2.10")
	apiWantEq(t, "vs vip[] from its vsvip", apiGet(vs, "vip", 0, "ip_address", "addr"), "192.0.2.10")
	if got := e.vsVIP(t, vs["uuid"].(string)); got != "192.0.2.10" {
		t.Fatalf("the SEs are told VIP %q; want the vsvip's 192.0.2.10", got)
	}

	// The vsvip changes: the service follows, in the same write.
	vsvip["vip"] = []any{vip("192.0.2.11")}
	e.admin(t, "PUT", "/api/vsvip/"+vsvip["uuid"].(string), vsvip).want(t, http.StatusOK)
	got := e.admin(t, "GET", vsPath, nil).want(t, http.StatusOK)
	apiWantEq(t, "vs address after the vsvip changed", apiGet(got.obj, "ip_address", "addr"), "192.0.2.11")
	if a := e.vsVIP(t, vs["uuid"].(string)); a != "192.0.2.11" {
		t.Errorf("the SEs are told VIP %q after the vsvip changed; want 192.0.2.11", a)
	}
	// A read-modify-write echoing the mirrored fields keeps working; changing them on the service
	// is refused with what to do.
	got.obj["services"] = []any{map[string]any{"port": 81}}
	e.admin(t, "PUT", vsPath, got.obj).want(t, http.StatusOK)
	got.obj["ip_address"] = map[string]any{"addr": "192.0.2.99", "type": "V4"}
	e.admin(t, "PUT", vsPath, got.obj).want(t, http.StatusBadRequest, "ip_address", "vsvip front")

	e.admin(t, "DELETE", "/api/vsvip/"+vsvip["uuid"].(string), nil).want(t, http.StatusConflict, "virtualservice web")

	// A second service on the same vsvip and port clashes, on the vsvip's address.
	e.admin(t, "POST", "/api/virtualservice", map[string]any{"name": "web2", "vsvip_ref": vsvip["uuid"],
		"services": []any{map[string]any{"port": 81}}}).want(t, http.StatusConflict, "192.0.2.11")
	// The vsvip cannot move onto an address that makes two services of a group clash.
	other := e.mustCreate(t, "virtualservice", map[string]any{"name": "other", "ip_address": map[string]any{"addr": "192.0.2.20", "type": "V4"},
		"services": []any{map[string]any{"port": 81}}})
	vsvip["vip"] = []any{vip("192.0.2.20")}
	e.admin(t, "PUT", "/api/vsvip/"+vsvip["uuid"].(string), vsvip).want(t, http.StatusConflict, "virtualservice web", "port 81")

	// ip_address alone is vip[0]; a client that knows only vip[] (a typed SDK) writes back what it
	// read without ip_address and keeps the VIP; one that knows only ip_address changes it.
	apiWantEq(t, "ip_address becomes vip[0]", apiGet(other, "vip", 0, "ip_address", "addr"), "192.0.2.20")
	otherPath := "/api/virtualservice/" + other["uuid"].(string)
	delete(other, "ip_address")
	sdk := e.admin(t, "PUT", otherPath, other).want(t, http.StatusOK)
	apiWantEq(t, "VIP kept by a vip[]-only client", apiGet(sdk.obj, "ip_address", "addr"), "192.0.2.20")
	sdk.obj["ip_address"] = map[string]any{"addr": "192.0.2.21", "type": "V4"}
	moved := e.admin(t, "PUT", otherPath, sdk.obj).want(t, http.StatusOK)
	apiWantEq(t, "VIP moved by an ip_address client", apiGet(moved.obj, "vip", 0, "ip_address", "addr"), "192.0.2.21")
	moved.obj["vip"] = []any{vip("192.0.2.22")}
	moved = e.admin(t, "PUT", otherPath, moved.obj).want(t, http.StatusOK)
	apiWantEq(t, "VIP moved by a vip[] client", apiGet(moved.obj, "ip_address", "addr"), "192.0.2.22")
	e.admin(t, "POST", "/api/virtualservice", map[string]any{"name": "both", "ip_address": map[string]any{"addr": "192.0.2.30", "type": "V4"},
		"vip": []any{vip("192.0.2.31")}, "services": []any{map[string]any{"port": 82}}}).want(t, http.StatusBadRequest, "ip_address", "give the VIP once")

	// What avi-init cannot do yet is refused with the reason.
	auto := map[string]any{"vip_id": "0", "auto_allocate_ip": true}
	e.admin(t, "POST", "/api/vsvip", map[string]any{"name": "auto", "vip": []any{auto}}).want(t, http.StatusBadRequest, "auto_allocate_ip", "IPAM")
	e.admin(t, "POST", "/api/vsvip", map[string]any{"name": "two", "vip": []any{vip("192.0.2.40"), map[string]any{"vip_id": "1", "ip_address": map[string]any{"addr": "192.0.2.41", "type": "V4"}}}}).
		want(t, http.StatusBadRequest, "vip[1].ip_address", "one VIP address")
	e.admin(t, "POST", "/api/vsvip", map[string]any{"name": "ew", "east_west_placement": true, "vip": []any{vip("192.0.2.50")}}).
		want(t, http.StatusBadRequest, "east_west_placement")
}

// vsVIP is the VIP the SE channel gives the SEs for a virtual service.
func (e *apiEnv) vsVIP(t *testing.T, uuid string) string {
	t.Helper()
	vs, err := store.Get[*avi.VirtualService](e.srv.store, uuid)
	if err != nil {
		t.Fatal(err)
	}
	return resolve(vs, refIndex{}).VIP
}
