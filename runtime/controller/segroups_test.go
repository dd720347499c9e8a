package controller

import (
	"net/http"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

// Every cloud has its own Default-Group, made with it and gone with it; Default-Group cannot be
// deleted or renamed alone; a virtual service is in its cloud's Default-Group unless it names
// another group of its cloud.
func TestDefaultSEGroupPerCloud(t *testing.T) {
	e := newSetUpAPIEnv(t)
	defCloud := e.urlOf(t, "cloud", avi.DefaultCloudName)
	groups := func() map[string]map[string]any { // by cloud URL
		out := map[string]map[string]any{}
		for _, r := range e.admin(t, "GET", "/api/serviceenginegroup", nil).want(t, http.StatusOK).obj["results"].([]any) {
			g := r.(map[string]any)
			if g["name"] == avi.DefaultSEGroup {
				out[g["cloud_ref"].(string)] = g
			}
		}
		return out
	}
	def := groups()[defCloud]
	if def == nil {
		t.Fatalf("Default-Cloud has no Default-Group: %v", groups())
	}
	apiWantEq(t, "ha_mode", def["ha_mode"], avi.HAModeActiveStandby)
	apiWantEq(t, "min_scaleout_per_vs", def["min_scaleout_per_vs"], 1.0)
	other := e.mustCreate(t, "cloud", map[string]any{"name": "other"})
	otherGroup := groups()[other["url"].(string)]
	if otherGroup == nil {
		t.Fatalf("a new cloud has no Default-Group: %v", groups())
	}
	e.admin(t, "DELETE", "/api/serviceenginegroup/"+def["uuid"].(string), nil).want(t, http.StatusConflict, "built in")
	e.admin(t, "PATCH", "/api/serviceenginegroup/"+def["uuid"].(string), map[string]any{"name": "x"}).want(t, http.StatusConflict, "renamed")
	e.admin(t, "PATCH", "/api/serviceenginegroup/"+def["uuid"].(string), map[string]any{"ha_mode": avi.HAModeShared}).want(t, http.StatusOK)
	e.admin(t, "POST", "/api/serviceenginegroup", map[string]any{"name": avi.DefaultSEGroup}).want(t, http.StatusConflict, "exists")
	e.admin(t, "POST", "/api/serviceenginegroup", map[string]any{"name": "g", "min_scaleout_per_vs": 65}).want(t, http.StatusBadRequest, "min_scaleout_per_vs")

	vs := e.mustCreate(t, "virtualservice", map[string]any{"name": "web", "services": []any{map[string]any{"port": 80}}})
	apiWantEq(t, "default se_group_ref", vs["se_group_ref"], def["url"])
	vs2 := e.mustCreate(t, "virtualservice", map[string]any{"name": "web2", "cloud_ref": other["url"], "services": []any{map[string]any{"port": 80}},
		"se_group_ref": "/api/serviceenginegroup?name=" + avi.DefaultSEGroup})
	apiWantEq(t, "named se_group_ref in its cloud", vs2["se_group_ref"], otherGroup["url"])
	e.admin(t, "POST", "/api/virtualservice", map[string]any{"name": "web3", "services": []any{map[string]any{"port": 81}}, "se_group_ref": otherGroup["url"]}).
		want(t, http.StatusBadRequest, "se_group_ref", "not in the virtual service's cloud")

	e.admin(t, "DELETE", "/api/virtualservice/"+vs2["uuid"].(string), nil).want(t, http.StatusNoContent)
	e.admin(t, "DELETE", "/api/cloud/"+other["uuid"].(string), nil).want(t, http.StatusNoContent)
	if g := groups()[other["url"].(string)]; g != nil {
		t.Errorf("a deleted cloud's Default-Group stays: %v", g)
	}
}

// A virtual service whose address and port another service of its group holds is refused with
// 409 naming the holder: the same VIP, or an east-west service (on every address); another VIP
// or another group does not clash, nor does a disabled service.
func TestPortClashRefused(t *testing.T) {
	e := newSetUpAPIEnv(t)
	vs := func(name, vip string, port int, extra map[string]any) map[string]any {
		b := map[string]any{"name": name, "services": []any{map[string]any{"port": port}}}
		if vip != "" {
			b["ip_address"] = map[string]any{"addr": vip, "type": "V4"}
		}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	web := e.mustCreate(t, "virtualservice", vs("web", "10.0.0.5", 80, nil))
	r := e.admin(t, "POST", "/api/virtualservice", vs("web2", "10.0.0.5", 80, nil)).want(t, http.StatusConflict)
	apiWantEq(t, "clash", r.obj["error"], "services: port 80 on 10.0.0.5 is held by virtual service web ("+web["uuid"].(string)+")")
	e.mustCreate(t, "virtualservice", vs("other-vip", "10.0.0.6", 80, nil))
	e.admin(t, "POST", "/api/virtualservice", vs("ew", "", 80, nil)).want(t, http.StatusConflict, "port 80 on every address", "held by virtual service")
	// A port range covering a held port clashes too.
	e.admin(t, "POST", "/api/virtualservice", map[string]any{"name": "range", "ip_address": map[string]any{"addr": "10.0.0.5", "type": "V4"},
		"services": []any{map[string]any{"port": 70, "port_range_end": 90}}}).want(t, http.StatusConflict, "port 80 on 10.0.0.5")
	e.mustCreate(t, "virtualservice", vs("off", "10.0.0.5", 80, map[string]any{"enabled": false}))
	e.admin(t, "PATCH", "/api/virtualservice/"+e.byName(t, "virtualservice", "off")["uuid"].(string), map[string]any{"enabled": true}).
		want(t, http.StatusConflict, "held by virtual service web")
	e.mustCreate(t, "serviceenginegroup", map[string]any{"name": "edge"})
	e.mustCreate(t, "virtualservice", vs("edge-web", "10.0.0.5", 80, map[string]any{"se_group_ref": "/api/serviceenginegroup?name=edge"}))
	// Changing a service in place is no clash with itself.
	e.admin(t, "PATCH", "/api/virtualservice/"+web["uuid"].(string), map[string]any{"services": []any{map[string]any{"port": 80}, map[string]any{"port": 8080}}}).want(t, http.StatusOK)
}

// An SE joins the group it names (default Default-Group); an unknown group is refused with 400
// naming it.
func TestJoinNamesItsGroup(t *testing.T) {
	e := newJoinEnv(t)
	edge := e.mustCreate(t, "serviceenginegroup", map[string]any{"name": "edge"})
	tok := e.newToken(t, map[string]any{"max_uses": 3})
	e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": tok, "name": "se-x", "se_group": "nope"}, apiCred{none: true}).
		want(t, http.StatusBadRequest, "se_group", `"nope"`, "no such service engine group")
	e.join(t, tok, "se-1").want(t, http.StatusOK)
	e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": tok, "name": "se-2", "se_group": "edge"}, apiCred{none: true}).want(t, http.StatusOK)
	apiWantEq(t, "default group", e.byName(t, "serviceengine", "se-1")["se_group_ref"], e.urlOf(t, "serviceenginegroup", avi.DefaultSEGroup))
	apiWantEq(t, "named group", e.byName(t, "serviceengine", "se-2")["se_group_ref"], edge["url"])
	e.admin(t, "DELETE", "/api/serviceenginegroup/"+edge["uuid"].(string), nil).want(t, http.StatusConflict, "se-2")
}
