package controller

import (
	"net/http"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// cloudRuntime is GET /api/cloud/{uuid}/runtime: what each integration reports of the cloud
// (Linux server and Docker hosts and their SE deployments, a Mesos cloud's sync, a Docker
// cloud's engines and services).
func (s *Server) cloudRuntime(w http.ResponseWriter, r *http.Request, _ string) {
	c, err := store.Get[*avi.Cloud](s.store, r.PathValue("uuid"))
	if err != nil {
		storeError(w, err)
		return
	}
	out := map[string]any{"uuid": c.UUID, "name": c.Name, "vtype": c.Vtype, "linuxserver_hosts": s.linux.Hosts(c)}
	if st, ok := s.mesos.Status(c.UUID); ok {
		out["mesos"] = st
	}
	if st, ok := s.docker.Status(c.UUID); ok {
		out["docker"] = st
	}
	writeJSON(w, http.StatusOK, out)
}
