package controller

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Lists take Avi's query parameters: page_size and page with next and previous links, sort
// (-field descending), fields (name, url and uuid always), name and uuid filters; a bad value
// is 400 naming the parameter.
func TestListQueries(t *testing.T) {
	e := newSetUpAPIEnv(t)
	var uuids []string
	for i := range 5 {
		hm := e.mustCreate(t, "healthmonitor", map[string]any{"name": fmt.Sprintf("hm-%d", i), "type": "HEALTH_MONITOR_TCP", "receive_timeout": 9 - i})
		uuids = append(uuids, hm["uuid"].(string))
	}
	names := func(obj map[string]any) []string {
		var out []string
		for _, o := range obj["results"].([]any) {
			out = append(out, o.(map[string]any)["name"].(string))
		}
		return out
	}

	page1 := e.admin(t, "GET", "/api/healthmonitor?page_size=2&sort=name", nil).want(t, http.StatusOK)
	apiWantEq(t, "page 1", names(page1.obj), []string{"hm-0", "hm-1"})
	apiWantEq(t, "count", page1.obj["count"], float64(5))
	next, _ := page1.obj["next"].(string)
	if !strings.Contains(next, "page=2") || page1.obj["previous"] != nil {
		t.Fatalf("page 1: next %q, previous %v; want a link to page 2 and none back", next, page1.obj["previous"])
	}
	page2 := e.admin(t, "GET", next[strings.Index(next, "/api/"):], nil).want(t, http.StatusOK)
	apiWantEq(t, "page 2", names(page2.obj), []string{"hm-2", "hm-3"})
	if prev, _ := page2.obj["previous"].(string); !strings.Contains(prev, "page=1") {
		t.Errorf("page 2: previous %q; want a link to page 1", prev)
	}
	page3 := e.admin(t, "GET", "/api/healthmonitor?page_size=2&page=3&sort=name", nil).want(t, http.StatusOK)
	if apiWantEq(t, "page 3", names(page3.obj), []string{"hm-4"}); page3.obj["next"] != nil {
		t.Errorf("the last page has a next link: %v", page3.obj["next"])
	}

	byTimeout := e.admin(t, "GET", "/api/healthmonitor?sort=-receive_timeout&fields=receive_timeout", nil).want(t, http.StatusOK)
	apiWantEq(t, "sorted by -receive_timeout", names(byTimeout.obj)[:2], []string{"hm-0", "hm-1"})
	first := byTimeout.obj["results"].([]any)[0].(map[string]any)
	if len(first) != 4 || first["uuid"] == nil || first["url"] == nil || first["receive_timeout"] == nil {
		t.Errorf("fields=receive_timeout: %v; want name, url, uuid and receive_timeout only", first)
	}

	byUUID := e.admin(t, "GET", "/api/healthmonitor?uuid="+uuids[1]+","+uuids[3], nil).want(t, http.StatusOK)
	apiWantEq(t, "by uuid", byUUID.obj["count"], float64(2))

	e.admin(t, "GET", "/api/healthmonitor?page_size=0", nil).want(t, http.StatusBadRequest, "page_size")
	e.admin(t, "GET", "/api/healthmonitor?page=2", nil).want(t, http.StatusBadRequest, "page")
}

// include_name returns references with the name of what they refer to (ref#name), in lists and
// gets alike, and such a reference is taken back as it is.
func TestIncludeName(t *testing.T) {
	e := newSetUpAPIEnv(t)
	hm := e.mustCreate(t, "healthmonitor", map[string]any{"name": "hm", "type": "HEALTH_MONITOR_TCP"})
	pool := e.mustCreate(t, "pool", map[string]any{"name": "web", "health_monitor_refs": []any{"/api/healthmonitor/" + hm["uuid"].(string)}})
	path := "/api/pool/" + pool["uuid"].(string)
	ref := func(obj map[string]any) string { return apiGet(obj, "health_monitor_refs", 0).(string) }

	plain := e.admin(t, "GET", path, nil).want(t, http.StatusOK)
	if strings.Contains(ref(plain.obj), "#") {
		t.Errorf("without include_name: %q", ref(plain.obj))
	}
	named := e.admin(t, "GET", path+"?include_name", nil).want(t, http.StatusOK)
	if want := "/api/healthmonitor/" + hm["uuid"].(string) + "#hm"; ref(named.obj) != want {
		t.Errorf("get with include_name: %q; want %q", ref(named.obj), want)
	}
	list := e.admin(t, "GET", "/api/pool?include_name=true", nil).want(t, http.StatusOK)
	if got := apiGet(list.obj, "results", 0, "health_monitor_refs", 0); got != ref(named.obj) {
		t.Errorf("list with include_name: %v; want %q", got, ref(named.obj))
	}
	// A client that read with include_name writes the object back as it read it.
	back := named.obj
	delete(back, "url")
	e.admin(t, "PUT", path, back).want(t, http.StatusOK)
	if after := e.admin(t, "GET", path, nil).want(t, http.StatusOK); ref(after.obj) != ref(plain.obj) {
		t.Errorf("after a PUT of the named object: %q; want %q", ref(after.obj), ref(plain.obj))
	}
}

// The rest of Avi's list queries: search, refers_to and referred_by, <ref>.uuid, skip_default,
// and a trailing slash on any path.
func TestListFiltersAndTrailingSlashes(t *testing.T) {
	e := newSetUpAPIEnv(t)
	hm := e.mustCreate(t, "healthmonitor", map[string]any{"name": "hm-web", "type": "HEALTH_MONITOR_TCP"})
	hmRef := "/api/healthmonitor/" + hm["uuid"].(string)
	web := e.mustCreate(t, "pool", map[string]any{"name": "web-pool", "health_monitor_refs": []any{hmRef}})
	e.mustCreate(t, "pool", map[string]any{"name": "db-pool", "lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN"})
	vs := e.mustCreate(t, "virtualservice", map[string]any{"name": "web", "pool_ref": web["url"], "services": []any{map[string]any{"port": 8080}}})
	names := func(path string) []string {
		t.Helper()
		var out []string
		for _, o := range e.admin(t, "GET", path, nil).want(t, http.StatusOK).obj["results"].([]any) {
			out = append(out, o.(map[string]any)["name"].(string))
		}
		return out
	}
	apiWantEq(t, "search in the name", names("/api/pool?search=WEB"), []string{"web-pool"})
	apiWantEq(t, "search (field,text)", names("/api/pool?search=(lb_algorithm,round_robin)"), []string{"db-pool"})
	apiWantEq(t, "refers_to", names("/api/pool?refers_to=healthmonitor:"+hm["uuid"].(string)), []string{"web-pool"})
	apiWantEq(t, "referred_by", names("/api/pool?referred_by=virtualservice:"+vs["uuid"].(string)), []string{"web-pool"})
	apiWantEq(t, "health_monitor_refs.uuid", names("/api/pool?health_monitor_refs.uuid="+hm["uuid"].(string)), []string{"web-pool"})
	cloud := e.byName(t, "cloud", "Default-Cloud")
	apiWantEq(t, "cloud_ref.uuid", names("/api/serviceenginegroup?cloud_ref.uuid="+cloud["uuid"].(string)), []string{"Default-Group"})
	apiWantEq(t, "cloud_ref.uuid of another cloud", names("/api/serviceenginegroup?cloud_ref.uuid=cloud-nope"), []string(nil))
	apiWantEq(t, "skip_default and a trailing slash", names("/api/pool/?name=web-pool&skip_default=true"), []string{"web-pool"})
	e.admin(t, "GET", "/api/pool/"+web["uuid"].(string)+"/", nil).want(t, http.StatusOK)
	e.admin(t, "GET", "/api/virtualservice/"+vs["uuid"].(string)+"/runtime/", nil).want(t, http.StatusOK)
	e.admin(t, "GET", "/api/pool?refers_to=nothing", nil).want(t, http.StatusBadRequest, "refers_to", "<kind>:<uuid>")
	e.admin(t, "GET", "/api/pool?search=(,x)", nil).want(t, http.StatusBadRequest, "search")
}
