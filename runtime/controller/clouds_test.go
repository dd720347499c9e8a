package controller

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
)

// fakeIntegration is a cloud type the table knows nothing else about.
type fakeIntegration struct {
	cloud   string // the uuid it reports on
	running atomic.Bool
}

func (f *fakeIntegration) Run(ctx context.Context) {
	f.running.Store(true)
	<-ctx.Done()
	f.running.Store(false)
}

func (f *fakeIntegration) Runtime(c *avi.Cloud) (any, bool) {
	if c.UUID != f.cloud {
		return nil, false
	}
	return map[string]string{"state": "FOLLOWED " + c.Name}, true
}

func (f *fakeIntegration) Owner(cloudUUID string) string { return "fake:" + cloudUUID + ":" }

// A new cloud type is one entry in the table: it runs with the others, reports in the cloud
// runtime, and what it made goes with its cloud.
func TestCloudTypeIsOneEntry(t *testing.T) {
	e := newAPIEnv(t)
	e.setUp(t, apiAdminPassword, nil)
	cloud := e.admin(t, "POST", "/api/cloud", map[string]any{"name": "k", "vtype": "CLOUD_NONE"}).want(t, http.StatusCreated).obj
	uuid := cloud["uuid"].(string)
	fake := &fakeIntegration{cloud: uuid}
	e.srv.clouds["CLOUD_FAKE"] = cloudType{fake, "fake"}

	rt := e.admin(t, "GET", "/api/cloud/"+uuid+"/runtime", nil).want(t, http.StatusOK)
	apiWantEq(t, "fake runtime", apiGet(rt.obj, "fake", "state"), "FOLLOWED k")
	if hosts, ok := rt.obj["linuxserver_hosts"].([]any); !ok || len(hosts) != 0 {
		t.Errorf("linuxserver_hosts %v, want an empty list on every cloud", rt.obj["linuxserver_hosts"])
	}
	for _, field := range []string{"mesos", "docker"} {
		if v, ok := rt.obj[field]; ok {
			t.Errorf("a cloud of no Mesos or Docker type reports %s: %v", field, v)
		}
	}
	other := e.byName(t, "cloud", avi.DefaultCloudName)["uuid"].(string)
	if v, ok := e.admin(t, "GET", "/api/cloud/"+other+"/runtime", nil).want(t, http.StatusOK).obj["fake"]; ok {
		t.Errorf("the fake integration reports on a cloud it does not follow: %v", v)
	}

	made := e.admin(t, "POST", "/api/pool", map[string]any{"name": "made", "cloud_ref": "/api/cloud/" + uuid, "created_by": fake.Owner(uuid) + "x"}).want(t, http.StatusCreated).obj
	e.admin(t, "POST", "/api/pool", map[string]any{"name": "mine"}).want(t, http.StatusCreated)
	e.admin(t, "DELETE", "/api/cloud/"+uuid, nil).want(t, http.StatusNoContent)
	e.admin(t, "GET", "/api/pool/"+made["uuid"].(string), nil).want(t, http.StatusNotFound)
	e.byName(t, "pool", "mine")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.srv.runClouds(ctx)
	}()
	for deadline := time.Now().Add(10 * time.Second); !fake.running.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fake integration was not run")
		}
	}
	cancel()
	<-done
	if fake.running.Load() {
		t.Error("runClouds returned before the fake integration ended")
	}
}
