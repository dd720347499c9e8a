package controller

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/avi-init/avi-init/integrations/sshdeploy"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/clouds/dockercloud"
	"github.com/avi-init/avi-init/runtime/controller/clouds/linuxcloud"
	"github.com/avi-init/avi-init/runtime/controller/clouds/mesoscloud"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// cloudIntegration is the controller side of one type of cloud (runtime/controller/clouds/*).
type cloudIntegration interface {
	// Run follows the store's clouds of its type until ctx ends.
	Run(ctx context.Context)
	// Runtime is what it reports of a cloud in GET /api/cloud/{uuid}/runtime; false when it has
	// nothing to say about that cloud.
	Runtime(c *avi.Cloud) (any, bool)
	// Owner is the created_by prefix of the objects it made for a cloud, which are deleted with
	// the cloud; empty when it makes none.
	Owner(cloudUUID string) string
}

// cloudType is one entry of the clouds table.
type cloudType struct {
	cloudIntegration
	runtimeField string // its field in the cloud runtime
}

// newClouds builds the clouds table, by vtype. The Linux server and Docker clouds reach hosts
// over SSH on sshPort and verify host keys against one record; the Linux server cloud's manager
// keeps SEs on the hosts of Docker clouds too, deploying this very executable.
func (s *Server) newClouds(sshPort int) (map[string]cloudType, error) {
	keys := sshdeploy.NewKnownHostsFile(filepath.Join(s.cfg.DataDir, KnownHostsFile))
	d, err := sshdeploy.New(keys, selfExe, "")
	if err != nil {
		return nil, err
	}
	linux := linuxcloud.New(linuxcloud.Config{
		Store: s.store, Dialer: linuxcloud.SSH(d), HostKeys: keys, Controller: linuxCloudController{s},
		ControllerIP: s.cfg.IP, SysintPort: s.cfg.SysintPort, SSHPort: sshPort, Logger: s.log,
	})
	return map[string]cloudType{
		avi.CloudLinuxServer: {linux, "linuxserver_hosts"},
		avi.CloudMesos:       {&mesoscloud.Manager{Store: s.store, Log: s.log}, "mesos"},
		avi.CloudDocker: {&dockercloud.Manager{Store: s.store, Connector: dockercloud.SSH(d, sshPort),
			Log: s.log.With("component", "dockercloud")}, "docker"},
	}, nil
}

// runClouds runs every cloud integration until ctx ends, and returns once they all have.
func (s *Server) runClouds(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range s.clouds {
		wg.Go(func() { c.Run(ctx) })
	}
	wg.Wait()
}

// cloudOwners are the created_by prefixes of the objects the integrations made for a cloud.
func (s *Server) cloudOwners(cloudUUID string) []string {
	var out []string
	for _, c := range s.clouds {
		if o := c.Owner(cloudUUID); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// cloudRuntime is GET /api/cloud/{uuid}/runtime: what each integration reports of the cloud
// (Linux server and Docker hosts and their SE deployments, a Mesos cloud's sync, a Docker
// cloud's engines and services).
func (s *Server) cloudRuntime(w http.ResponseWriter, r *http.Request, _ *principal) {
	c, err := store.Get[*avi.Cloud](s.store, r.PathValue("uuid"))
	if err != nil {
		storeError(w, err)
		return
	}
	out := map[string]any{"uuid": c.UUID, "name": c.Name, "vtype": c.Vtype}
	for _, ct := range s.clouds {
		if st, ok := ct.Runtime(c); ok {
			out[ct.runtimeField] = st
		}
	}
	writeJSON(w, http.StatusOK, out)
}
