package controller

import (
	"net/http"
	"testing"

	"github.com/avi-init/avi-init/model/contract"
)

// The controller reports Avi's API version (x.y.z) with its build beside it, serves the
// X-Avi-Version a client asks for when it is one it has, refuses others with 400, and names on
// every answer the version it was made in.
func TestAPIVersions(t *testing.T) {
	e := newSetUpAPIEnv(t)
	idata := e.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).want(t, http.StatusOK)
	if apiGet(idata.obj, "version", "Version") != contract.APIVersion || apiGet(idata.obj, "version", "build") == nil {
		t.Errorf("initial-data version: %v; want %s and the build", idata.obj["version"], contract.APIVersion)
	}
	if got := idata.header.Get(versionHeader); got != contract.APIVersion {
		t.Errorf("an answer to a request naming no version: %s %q; want %s", versionHeader, got, contract.APIVersion)
	}
	cv := e.admin(t, "GET", "/api/cluster/version", nil).want(t, http.StatusOK)
	apiWantEq(t, "cluster version", cv.obj["Version"], contract.APIVersion)

	for _, tc := range []struct {
		asked string
		code  int
	}{{"22.1.3", http.StatusOK}, {"30.2.1", http.StatusOK}, {"16.4", http.StatusOK}, {"99.1.1", http.StatusBadRequest}, {"15.2.1", http.StatusBadRequest}, {"latest", http.StatusBadRequest}} {
		r := e.do(t, "GET", "/api/healthmonitor", nil, apiCred{user: e.user, pass: e.pass, extraHeaders: map[string]string{versionHeader: tc.asked}})
		if r.code != tc.code {
			t.Errorf("%s %s: %d %s; want %d", versionHeader, tc.asked, r.code, r.raw, tc.code)
		}
		if tc.code == http.StatusOK && r.header.Get(versionHeader) != tc.asked {
			t.Errorf("%s %s: answered in %q", versionHeader, tc.asked, r.header.Get(versionHeader))
		}
		if tc.code == http.StatusBadRequest {
			r.want(t, http.StatusBadRequest, contract.MinAPIVersion)
		}
	}
}
