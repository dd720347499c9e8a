package controller

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/syncbuf"
	"github.com/avi-init/avi-init/internal/testnet"
)

// A Linux server cloud through the API: the host's deployment state in the cloud's runtime, the
// linux_host_install script, and the SSH user's private key in no answer and no log line.
func TestLinuxServerCloudAPI(t *testing.T) {
	logs := &syncbuf.Buffer{}
	srv, err := NewServer(Config{DataDir: t.TempDir(), SysintPort: 8443, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// Hosts are reached on a port nothing listens on: the deployment fails at SSH.
	if srv.clouds, err = srv.newClouds(testnet.FreePort(t)); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	e := &apiEnv{srv: srv, ts: ts}
	priv, pub := apiTestKey(t)
	e.setUp(t, apiAdminPassword, map[string]any{
		"cloudconnectoruser": map[string]any{"name": "ops", "private_key": priv},
		"cloud": map[string]any{"name": "Default-Cloud", "vtype": "CLOUD_LINUXSERVER", "linuxserver_configuration": map[string]any{
			"ssh_user_ref": "/api/cloudconnectoruser?name=ops",
			"hosts":        []any{map[string]any{"host_ip": map[string]any{"addr": "127.0.0.1", "type": "V4"}}}}},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.runClouds(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		ts.Close()
		srv.Close()
	})

	cloud := e.byName(t, "cloud", "Default-Cloud")
	path := "/api/cloud/" + cloud["uuid"].(string) + "/runtime"
	var rt *apiResp
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rt = e.admin(t, "GET", path, nil).want(t, http.StatusOK)
		// The next attempt is set once the failure is recorded; the state may show a moment before.
		if apiGet(rt.obj, "linuxserver_hosts", 0, "state") == "SSH Failed" && apiGet(rt.obj, "linuxserver_hosts", 0, "next_attempt") != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host never showed SSH Failed: %s", rt.raw)
		}
	}
	apiWantEq(t, "runtime host", apiGet(rt.obj, "linuxserver_hosts", 0, "host_ip", "addr"), "127.0.0.1")
	apiWantEq(t, "runtime vtype", rt.obj["vtype"], "CLOUD_LINUXSERVER")
	if reason, _ := apiGet(rt.obj, "linuxserver_hosts", 0, "reason").(string); !strings.Contains(reason, "connection refused") {
		t.Errorf("reason %q does not say the connection was refused", reason)
	}
	if apiGet(rt.obj, "linuxserver_hosts", 0, "next_attempt") == nil {
		t.Errorf("a failed host shows no next attempt: %s", rt.raw)
	}
	e.admin(t, "GET", "/api/cloud/cloud-00000000-0000-4000-8000-000000000000/runtime", nil).want(t, http.StatusNotFound)
	e.do(t, "GET", path, nil, apiCred{none: true}).want(t, http.StatusUnauthorized)

	// The host preparation script: no authentication, the public key only.
	script := e.do(t, "GET", "/api/linux_host_install?username=ops", nil, apiCred{none: true}).want(t, http.StatusOK)
	if ct := script.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/x-shellscript") {
		t.Errorf("script content type %q", ct)
	}
	for _, want := range []string{"key='" + pub + "'", "user='ops'", "NOPASSWD: ALL", "/etc/sudoers.d/avi-$user"} {
		if !strings.Contains(script.raw, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	check := exec.Command("sh", "-n")
	check.Stdin = strings.NewReader(script.raw)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v\n%s", err, out)
	}
	e.do(t, "GET", "/api/linux_host_install?username=Ops;reboot", nil, apiCred{none: true}).want(t, http.StatusBadRequest, "username")
	e.do(t, "GET", "/api/linux_host_install", nil, apiCred{none: true}).want(t, http.StatusBadRequest, "username")
	e.do(t, "GET", "/api/linux_host_install?username=nobody", nil, apiCred{none: true}).want(t, http.StatusNotFound, "nobody")

	// The same host in a Docker cloud: an SE is kept on it as before, and its engine is followed
	// over SSH, which fails the same way.
	e.admin(t, "PUT", "/api/cloud/"+cloud["uuid"].(string), map[string]any{"name": "Default-Cloud", "vtype": "CLOUD_DOCKER",
		"docker_configuration": map[string]any{"ssh_user_ref": "/api/cloudconnectoruser?name=ops",
			"hosts": []any{map[string]any{"host_ip": map[string]any{"addr": "127.0.0.1", "type": "V4"}}}}}).want(t, http.StatusOK)
	var drt *apiResp
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		drt = e.admin(t, "GET", path, nil).want(t, http.StatusOK)
		if apiGet(drt.obj, "docker", "hosts", 0, "state") == "ERROR" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Docker cloud's host never showed ERROR: %s", drt.raw)
		}
	}
	apiWantEq(t, "docker runtime vtype", drt.obj["vtype"], "CLOUD_DOCKER")
	apiWantEq(t, "docker cloud SE host", apiGet(drt.obj, "linuxserver_hosts", 0, "host_ip", "addr"), "127.0.0.1")
	if reason, _ := apiGet(drt.obj, "docker", "hosts", 0, "reason").(string); !strings.Contains(reason, "connection refused") {
		t.Errorf("the Docker host's reason %q does not say the connection was refused", reason)
	}
	e.admin(t, "PUT", "/api/cloud/"+cloud["uuid"].(string), map[string]any{"name": "Default-Cloud", "vtype": "CLOUD_DOCKER",
		"docker_configuration": map[string]any{"hosts": []any{}}}).want(t, http.StatusBadRequest, "docker_configuration.ssh_user_ref")

	// The private key is in no answer and no log line.
	answers := map[string]string{"runtime": rt.raw, "docker runtime": drt.raw, "script": script.raw,
		"cloudconnectoruser": e.admin(t, "GET", "/api/cloudconnectoruser", nil).raw,
		"cloud":              e.admin(t, "GET", "/api/cloud", nil).raw,
		"logs":               logs.String()}
	for what, raw := range answers {
		apiNoStrings(t, what, raw, apiKeyLine(priv))
	}
	if !strings.Contains(logs.String(), "service engine deployment failed") {
		t.Errorf("the failed deployment was not logged:\n%s", logs.String())
	}
}
