package controller

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/avi-init/avi-init/internal/version"
	"github.com/avi-init/avi-init/model/contract"
)

// versionHeader is the API version a client asks for, and an answer was made in.
const versionHeader = "X-Avi-Version"

// parseAPIVersion reads an x.y.z (or x.y) version.
func parseAPIVersion(v string) ([]int, bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, false
	}
	out := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// apiVersions answers a request whose X-Avi-Version the controller does not serve with 400,
// as Avi does, and names on every answer the version it was made in.
func apiVersions(h http.Handler) http.Handler {
	minV, _ := parseAPIVersion(contract.MinAPIVersion)
	maxV, _ := parseAPIVersion(contract.APIVersion)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked := r.Header.Get(versionHeader)
		if asked == "" {
			w.Header().Set(versionHeader, contract.APIVersion)
			h.ServeHTTP(w, r)
			return
		}
		v, ok := parseAPIVersion(asked)
		if !ok || slices.Compare(v, minV) < 0 || slices.Compare(v, maxV) > 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %q: this controller serves API versions %s to %s",
				versionHeader, asked, contract.MinAPIVersion, contract.APIVersion))
			return
		}
		w.Header().Set(versionHeader, asked)
		h.ServeHTTP(w, r)
	})
}

// versionInfo is the controller's version as Avi's API shows it.
func versionInfo() contract.VersionInfo {
	return contract.VersionInfo{Version: contract.APIVersion, Build: cmp.Or(version.Version, "dev"), ProductName: "avi-init"}
}

// clusterVersion is GET /api/cluster/version.
func (s *Server) clusterVersion(w http.ResponseWriter, _ *http.Request, _ *principal) {
	writeJSON(w, http.StatusOK, versionInfo())
}
