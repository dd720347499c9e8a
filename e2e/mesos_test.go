package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/marathon/marathontest"
)

// taskBackends starts a real HTTP server on loopback for every task the Marathon test server
// launches, answering with the task's number.
type taskBackends struct {
	mu      sync.Mutex
	servers []*httptest.Server
	names   []string
}

// count is how many tasks were launched; name(i) is what the i-th (from 0) answers.
func (b *taskBackends) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.names)
}

func (b *taskBackends) name(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.names[i]
}

func (b *taskBackends) launch(appID string, ports int) (string, []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var hostPorts []int
	for range ports {
		name := fmt.Sprintf("%s task %d", appID, len(b.servers)+1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		b.servers = append(b.servers, srv)
		b.names = append(b.names, name)
		hostPorts = append(hostPorts, srv.Listener.Addr().(*net.TCPAddr).Port)
	}
	return "127.0.0.1", hostPorts
}

func (b *taskBackends) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.servers {
		s.Close()
	}
}

// mesosSetup is a controller and an SE (real processes) with Default-Cloud made a Mesos cloud
// reading the Marathon test server.
func mesosSetup(t testing.TB) (*controllerProc, *marathontest.Server, *taskBackends, string) {
	t.Helper()
	c := startControllerProc(t, filepath.Join(t.TempDir(), "ctl"), true)
	mar := marathontest.NewServer(t)
	backends := &taskBackends{}
	t.Cleanup(backends.close)
	mar.SetLauncher(backends.launch)
	cloud := c.uuidOf(t, "cloud", "Default-Cloud")
	var out map[string]any
	if code := c.call(t, "PUT", "/api/cloud/"+cloud, map[string]any{"name": "Default-Cloud", "vtype": "CLOUD_MESOS",
		"mesos_configuration": map[string]any{"marathon_configurations": []any{map[string]string{"marathon_url": mar.URL}}}}, &out); code != 200 {
		t.Fatalf("make Default-Cloud a Mesos cloud: %d %v", code, out)
	}
	return c, mar, backends, cloud
}

// TestMarathonAppsServeThroughTheSE: apps posted to Marathon become virtual services on the SE,
// follow scaling with no failed request, report a broken label without disturbing the others,
// and go with their app.
func TestMarathonAppsServeThroughTheSE(t *testing.T) {
	need(t)
	c, mar, _, cloud := mesosSetup(t)
	startSE(t, c, c.token(t, 600), "se-mesos")

	port := freePortsFrom(t, 21000, 1)[0] // below the ephemeral ports the tasks listen on
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	posted := time.Now()
	if _, err := mar.AddApp(fmt.Appendf(nil, `{"id": "/shop/web", "instances": 2,
		"portDefinitions": [{"port": %d, "protocol": "tcp", "name": "http"}],
		"healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2}]}`, port)); err != nil {
		t.Fatal(err)
	}
	get := func() (string, error) { return httpGet(http.DefaultClient, url) }
	waitFor(t, "the app's service port to serve through the SE", 10*time.Second, func() bool { _, err := get(); return err == nil })
	t.Logf("app posted to Marathon -> traffic through the SE: %v", time.Since(posted).Round(time.Millisecond))
	if s := servedBy(20, get); len(s) != 2 {
		t.Errorf("served by %v, want both tasks", s)
	}

	// Scale under a load loop: no request fails.
	stop := startLoad(get)
	scaled := time.Now()
	if err := mar.Scale("/shop/web", 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the third task to take traffic", 10*time.Second, func() bool { return servedBy(10, get)["/shop/web task 3"] > 0 })
	t.Logf("scale event -> traffic on the new task: %v", time.Since(scaled).Round(time.Millisecond))
	results := stop()
	var failures []error
	for _, r := range results {
		if r.err != nil {
			failures = append(failures, r.err)
		}
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed while scaling: %v", len(failures), len(results), failures[0])
	}

	// A broken label: the app is skipped with its error in the cloud's runtime; the others serve.
	if _, err := mar.AddApp([]byte(`{"id": "/broken", "instances": 1, "portDefinitions": [{"port": 0, "protocol": "tcp"}],
		"labels": {"FE-Proxy": "yes", "avi_proxy": "{\"virtualservice\": {\"services\": \"80\"}}"}}`)); err != nil {
		t.Fatal(err)
	}
	var rt struct {
		Mesos struct {
			State     string `json:"state"`
			AppErrors []struct {
				AppID   string `json:"app_id"`
				Message string `json:"message"`
			} `json:"app_errors"`
		} `json:"mesos"`
	}
	waitFor(t, "the broken app's error in the cloud's runtime", 10*time.Second, func() bool {
		c.call(t, "GET", "/api/cloud/"+cloud+"/runtime", nil, &rt)
		return len(rt.Mesos.AppErrors) == 1
	})
	if e := rt.Mesos.AppErrors[0]; e.AppID != "/broken" || !strings.Contains(e.Message, "services") {
		t.Errorf("app error %+v", e)
	}
	if _, err := get(); err != nil {
		t.Errorf("the good app stopped serving after a broken one arrived: %v", err)
	}

	// Delete the app: its virtual service goes, and the port stops answering.
	if err := mar.DeleteApp("/shop/web"); err != nil {
		t.Fatal(err)
	}
	var vss struct {
		Count int `json:"count"`
	}
	waitFor(t, "the deleted app's virtual service to go", 10*time.Second, func() bool {
		c.call(t, "GET", "/api/virtualservice?name=shop-web-"+fmt.Sprint(port), nil, &vss)
		return vss.Count == 0
	})
	waitFor(t, "the SE to close the deleted app's port", 10*time.Second, func() bool { _, err := get(); return err != nil })
}
