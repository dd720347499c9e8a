package controller

import (
	"net/http"
	"strings"
	"testing"
)

// Every error is JSON, as Avi's, also for a path no route takes (404) and a method its path
// does not take (405, naming in Allow those some route takes: the generic /api/<kind> routes
// take more than the path's own).
func TestErrorsAreJSON(t *testing.T) {
	e := newAPIEnv(t)
	for _, tc := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/api/no/such/path/here", http.StatusNotFound, ""},
		{"DELETE", "/api/initial-data", http.StatusMethodNotAllowed, "GET"},
		{"PUT", "/login", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/se/heartbeat", http.StatusMethodNotAllowed, "POST"},
		{"POST", "/api/cluster/runtime", http.StatusMethodNotAllowed, "GET"},
	} {
		r := e.do(t, tc.method, tc.path, nil, apiCred{none: true})
		if r.code != tc.code || r.obj == nil || r.obj["error"] == nil || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q (%s); want %d with a JSON error", tc.method, tc.path, r.code, r.raw, r.header.Get("Content-Type"), tc.code)
		}
		if got := r.header.Get("Allow"); tc.allow == "" && got != "" || !strings.Contains(got, tc.allow) || strings.Contains(got, tc.method) {
			t.Errorf("%s %s: Allow %q; want it to name %q and not %s", tc.method, tc.path, got, tc.allow, tc.method)
		}
	}
}
