package controller

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// servers lists a pool's servers as "addr:port ratio" from an API answer.
func servers(t *testing.T, obj map[string]any) []string {
	t.Helper()
	var out []string
	list, _ := obj["servers"].([]any)
	for _, s := range list {
		m := s.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v ratio %v", apiGet(m, "ip", "addr"), m["port"], m["ratio"]))
	}
	return out
}

// Avi's PATCH, as the SDKs and the Terraform provider send it: add appends list entries or
// updates the one with the same key, replace sets fields and whole lists, delete removes list
// entries or resets a field to its default. Other bodies stay RFC 7386 merge patches.
func TestAviPatch(t *testing.T) {
	e := newSetUpAPIEnv(t)
	server := func(addr string, port int, extra ...any) map[string]any {
		s := map[string]any{"ip": map[string]any{"addr": addr, "type": "V4"}, "port": port}
		for i := 0; i+1 < len(extra); i += 2 {
			s[extra[i].(string)] = extra[i+1]
		}
		return s
	}
	pool := e.mustCreate(t, "pool", map[string]any{"name": "web", "default_server_port": 8080, "servers": []any{server("192.0.2.1", 80)}})
	path := "/api/pool/" + pool["uuid"].(string)

	got := e.admin(t, "PATCH", path, map[string]any{"add": map[string]any{"servers": []any{server("192.0.2.2", 80), server("192.0.2.3", 80)}}}).want(t, http.StatusOK)
	apiWantEq(t, "servers after add", servers(t, got.obj), []string{"192.0.2.1:80 ratio 1", "192.0.2.2:80 ratio 1", "192.0.2.3:80 ratio 1"})

	got = e.admin(t, "PATCH", path, map[string]any{"add": map[string]any{"servers": []any{server("192.0.2.2", 80, "ratio", 10)}}}).want(t, http.StatusOK)
	apiWantEq(t, "servers after add of one keyed as one there", servers(t, got.obj), []string{"192.0.2.1:80 ratio 1", "192.0.2.2:80 ratio 10", "192.0.2.3:80 ratio 1"})

	got = e.admin(t, "PATCH", path, map[string]any{"delete": map[string]any{"servers": []any{server("192.0.2.1", 80)}}}).want(t, http.StatusOK)
	apiWantEq(t, "servers after delete", servers(t, got.obj), []string{"192.0.2.2:80 ratio 10", "192.0.2.3:80 ratio 1"})

	got = e.admin(t, "PATCH", path, map[string]any{"replace": map[string]any{"servers": []any{server("192.0.2.9", 81)}, "default_server_port": 9090}}).want(t, http.StatusOK)
	apiWantEq(t, "servers after replace", servers(t, got.obj), []string{"192.0.2.9:81 ratio 1"})
	apiWantEq(t, "default_server_port after replace", got.obj["default_server_port"], float64(9090))

	got = e.admin(t, "PATCH", path, map[string]any{"delete": map[string]any{"default_server_port": 9090}}).want(t, http.StatusOK)
	apiWantEq(t, "default_server_port after delete (back to its default)", got.obj["default_server_port"], float64(80))

	// Mistakes name what was wrong.
	e.admin(t, "PATCH", path, map[string]any{"replace": map[string]any{"servers": "none"}}).want(t, http.StatusBadRequest, "servers")
	e.admin(t, "PATCH", path, map[string]any{"add": map[string]any{"no_such_field": 1}}).want(t, http.StatusBadRequest, "no_such_field")
	e.admin(t, "PATCH", path, map[string]any{"delete": map[string]any{"health_monitor_refs": []any{"x"}}}).want(t, http.StatusBadRequest, "delete.health_monitor_refs")

	// Anything else is a merge patch: "add" beside a field is a field the pool does not have.
	e.admin(t, "PATCH", path, map[string]any{"add": map[string]any{"servers": []any{}}, "name": "web2"}).want(t, http.StatusBadRequest, "add")
	got = e.admin(t, "PATCH", path, map[string]any{"name": "web2"}).want(t, http.StatusOK)
	apiWantEq(t, "name after a merge patch", got.obj["name"], "web2")
	apiWantEq(t, "servers after a merge patch", servers(t, got.obj), []string{"192.0.2.9:81 ratio 1"})
}

// Any PATCH body is applied or refused, never a panic, and an Avi body leaves a document that
// still encodes.
func FuzzAviPatch(f *testing.F) {
	f.Add(`{"add": {"servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}, "port": 80}]}}`)
	f.Add(`{"replace": {"servers": [], "name": "x"}, "delete": {"default_server_port": 1}}`)
	f.Add(`{"delete": {"servers": [1, "a", null, {"port": 80}]}}`)
	f.Add(`{"add": {"servers": {"ip": 1}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var b map[string]any
		if json.Unmarshal([]byte(body), &b) != nil || !aviPatch(b) {
			return
		}
		doc := map[string]any{"name": "p", "servers": []any{map[string]any{"ip": map[string]any{"addr": "192.0.2.1"}, "port": float64(80)}, "x"}}
		if err := applyAviPatch(doc, b); err != nil {
			return
		}
		if _, err := json.Marshal(doc); err != nil {
			t.Fatalf("the patched document does not encode: %v", err)
		}
	})
}
