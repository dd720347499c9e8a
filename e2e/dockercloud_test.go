package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/avi-init/avi-init/e2e/sehost"
)

// dockerRuntime is the docker part of GET /api/cloud/<uuid>/runtime.
type dockerRuntime struct {
	State string `json:"state"`
	Hosts []struct {
		HostIP struct {
			Addr string `json:"addr"`
		} `json:"host_ip"`
		State      string `json:"state"`
		Reason     string `json:"reason"`
		Containers int    `json:"containers"`
	} `json:"hosts"`
	Services        int `json:"services"`
	VirtualServices int `json:"virtual_services"`
	ServiceErrors   []struct {
		Service string `json:"service"`
		Message string `json:"message"`
	} `json:"service_errors"`
}

func (lc *linuxCloud) docker(t testing.TB) (dockerRuntime, string) {
	t.Helper()
	_, raw, err := lc.runtime()
	if err != nil {
		t.Fatalf("cloud runtime: %v", err)
	}
	var rt struct {
		Docker dockerRuntime `json:"docker"`
	}
	if err := json.Unmarshal(raw, &rt); err != nil {
		t.Fatalf("cloud runtime: %v: %s", err, raw)
	}
	return rt.Docker, string(raw)
}

// setDockerHosts makes Default-Cloud a Docker cloud of exactly these hosts.
func (lc *linuxCloud) setDockerHosts(t testing.TB, hosts ...*sehost.Host) {
	t.Helper()
	lc.setCloud(t, "CLOUD_DOCKER", "docker_configuration", hosts)
}

// hostDocker runs a docker command in an SE host's own engine, which must succeed.
func hostDocker(t testing.TB, h *sehost.Host, args ...string) string {
	t.Helper()
	out, code, err := h.Exec(context.Background(), append([]string{"docker"}, args...)...)
	if err != nil || code != 0 {
		t.Fatalf("docker %s on %s: exit %d, %v\n%s", strings.Join(args, " "), h.IP, code, err, out)
	}
	return out
}

// runApp runs a backend container in a host's engine with the given avi_proxy label, publishing
// its port 8080 on hostPort. It runs as the backends of the other tests do: no capabilities, a
// read-only root, an unprivileged user; its image checks its health every second. Stopped, it
// serves for another second, as an application that drains does.
func runApp(t testing.TB, h *sehost.Host, image, name, label string, hostPort int) {
	t.Helper()
	hostDocker(t, h, "run", "-d", "--name", name, "--hostname", name, "--label", "avi_proxy="+label,
		"--publish", fmt.Sprintf("%d:8080", hostPort), "--cap-drop", "ALL", "--read-only", "--user", "65534:65534",
		image, "backend", "--drain", "1s")
}

// TestDockerCloud is an operator's Docker cloud: two hosts prepared with the controller's
// linux_host_install script, application containers there carrying an avi_proxy label, the
// cloud pointed at the hosts. Each host gets an SE; the labelled containers become a virtual
// service on every SE whose pool follows the containers' health, stop, start and scale-out under
// traffic with no failed request, however slowly the controller follows (the SE moves a
// connection a stopping member refuses or resets to another member); a broken label and a front-end port that clashes with a
// published host port are reported per service while the others serve; removing the containers
// removes the service.
func TestDockerCloud(t *testing.T) {
	needTool(t, "ab")
	lc := newLinuxCloud(t)
	c, n := lc.c, lc.n
	image := ensureBackendHealthImage(t)
	ctx := context.Background()

	// The hosts know nothing of the controller: a key of no one's, no sudo. The operator runs
	// the controller's preparation script on each, as root.
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	strangerPub, err := ssh.NewPublicKey(stranger.Public())
	if err != nil {
		t.Fatal(err)
	}
	booted := time.Now()
	hosts := n.Add(t, sehost.Options{AuthorizedKey: strangerPub, Bridge: true}, sehost.Options{AuthorizedKey: strangerPub, Bridge: true})
	a, b := hosts[0], hosts[1]
	t.Logf("2 Docker hosts booted in %v", time.Since(booted).Round(10*time.Millisecond))
	script := fetchText(t, c, "/api/linux_host_install?username="+sehost.User)
	for _, h := range hosts {
		out, code, err := h.Exec(ctx, "sh", "-c", script)
		if err != nil || code != 0 {
			t.Fatalf("linux_host_install on %s: exit %d, %v\n%s", h.IP, code, err, out)
		}
		for _, want := range []string{"authorized the controller's key", "granted aviuser password-less sudo", "group docker: added aviuser"} {
			if !strings.Contains(out, want) {
				t.Errorf("linux_host_install on %s did not say %q:\n%s", h.IP, want, out)
			}
		}
		// Run again, it changes nothing.
		if out, _, _ := h.Exec(ctx, "sh", "-c", script); !strings.Contains(out, "is a member already") || !strings.Contains(out, "authorized already") {
			t.Errorf("linux_host_install run twice on %s:\n%s", h.IP, out)
		}
		if err := h.LoadImages(ctx, image); err != nil {
			t.Fatal(err)
		}
	}

	const web = `{"virtualservice": {"services": [{"port": 8081}]}}`
	runApp(t, a, image, "web-1", web, 18080)
	runApp(t, b, image, "web-2", web, 18080)
	runApp(t, b, image, "broken-1", `{"virtualservice": {nope}}`, 18081)
	// Its front-end port is the host port web-1 and web-2 publish: the SEs could not listen on it.
	runApp(t, a, image, "clash-1", `{"virtualservice": {"services": [{"port": 18080}]}}`, 18082)

	w := lc.watch(t)
	added := time.Now()
	lc.setDockerHosts(t, a, b)
	for _, h := range hosts {
		_, at := w.ready(t, h.IP.String(), 3*time.Minute)
		t.Logf("Docker host %s: cloud PUT -> SE Ready in %v", h.IP, at.Sub(added).Round(10*time.Millisecond))
	}
	var rt dockerRuntime
	var raw string
	waitFor(t, "both engines followed and the services mapped", 30*time.Second, func() bool {
		rt, raw = lc.docker(t)
		return rt.State == "SYNCED" && len(rt.Hosts) == 2 && rt.Hosts[0].State == "CONNECTED" && rt.Hosts[1].State == "CONNECTED" &&
			rt.VirtualServices == 1 && len(rt.ServiceErrors) == 2
	})
	t.Logf("docker runtime: %s", raw)
	wantErr := map[string]string{"broken": "avi_proxy label", "clash": "port 18080 is taken by container web-"}
	for _, e := range rt.ServiceErrors {
		if !strings.Contains(e.Message, wantErr[e.Service]) {
			t.Errorf("service %s: error %q, want it to say %q", e.Service, e.Message, wantErr[e.Service])
		}
	}
	var vs map[string]any
	if code := c.call(t, "GET", "/api/virtualservice/"+c.uuidOf(t, "virtualservice", "web-8081"), nil, &vs); code != 200 {
		t.Fatalf("GET web-8081: %d %v", code, vs)
	}
	if cb, _ := vs["created_by"].(string); !strings.HasPrefix(cb, "docker:"+lc.cloud+":web") {
		t.Errorf("web-8081 created_by %q", cb)
	}

	// Both containers serve through the SE on either host. The service is L4 (Docker says
	// nothing of a port's protocol), balanced per connection: each request on its own.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, h := range hosts {
		url := fmt.Sprintf("http://%s:8081/", h.IP)
		seen := map[string]bool{}
		waitFor(t, "both containers serving through the SE on "+h.IP.String(), 30*time.Second, func() bool {
			if body, err := httpGet(client, url); err == nil {
				seen[strings.TrimSpace(body)] = true
			}
			return seen["from web-1"] && seen["from web-2"]
		})
	}
	abAll(t, 8081, a, b)

	// Under a load loop through A's SE: web-2 turns unhealthy, recovers, is stopped, started;
	// web-3 joins on A. Membership follows each, and no request fails. What the operator sees
	// is asserted: no failed request, and each change followed within margins a busy machine
	// keeps (tens of seconds); how long each took is printed.
	url := fmt.Sprintf("http://%s:8081/", a.IP)
	stop := startLoad(func() (string, error) { return httpGet(client, url) })
	served := func(by string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		waitFor(t, by+" serving", within, func() bool {
			body, err := httpGet(client, url)
			return err == nil && strings.TrimSpace(body) == "from "+by
		})
		return time.Since(start)
	}
	absent := func(what, who string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		waitFor(t, who+" out of the pool ("+what+")", within, func() bool {
			for range 20 {
				if body, err := httpGet(client, url); err == nil && strings.TrimSpace(body) == "from "+who {
					return false
				}
			}
			return true
		})
		return time.Since(start)
	}
	post := func(h *sehost.Host, path string) {
		t.Helper()
		resp, err := client.Post(fmt.Sprintf("http://%s:18080%s", h.IP, path), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	const within = 30 * time.Second
	post(b, "/healthz/down")
	t.Logf("web-2 unhealthy -> out of the pool in %v", absent("unhealthy", "web-2", within).Round(10*time.Millisecond))
	post(b, "/healthz/up")
	t.Logf("web-2 healthy again -> serving in %v", served("web-2", within).Round(10*time.Millisecond))
	// docker stop returns once the container has drained (a second) and exited. The controller
	// takes web-2 out at the stop signal, within the drain or after it on a busy machine:
	// either way no request fails, as the SE moves what web-2 refuses or resets to web-1.
	stopping := exec.Command("docker", "exec", b.ID, "docker", "stop", "web-2")
	if err := stopping.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("docker stop web-2 -> out of the pool in %v (it drains for 1s)", absent("stopping", "web-2", within).Round(10*time.Millisecond))
	if err := stopping.Wait(); err != nil {
		t.Fatalf("docker stop web-2: %v", err)
	}
	hostDocker(t, b, "start", "web-2")
	t.Logf("web-2 started -> serving in %v", served("web-2", within).Round(10*time.Millisecond))
	runApp(t, a, image, "web-3", web, 18090)
	t.Logf("web-3 run on A -> serving in %v", served("web-3", within).Round(10*time.Millisecond))
	results := stop()
	failed := 0
	for _, r := range results {
		if r.err != nil {
			failed++
			if failed <= 3 {
				t.Logf("failed request at %s: %v", r.at.Format(time.RFC3339Nano), r.err)
			}
		}
	}
	t.Logf("load loop through the SE on %s: %d requests, %d failed", a.IP, len(results), failed)
	if failed != 0 || len(results) < 100 {
		t.Errorf("load loop: %d requests, %d failed; want no failed request", len(results), failed)
	}

	// The web containers removed: the service goes, and the SEs close its port.
	hostDocker(t, a, "rm", "-f", "web-1", "web-3")
	hostDocker(t, b, "rm", "-f", "web-2")
	waitFor(t, "web-8081 deleted", within, func() bool {
		var out map[string]any
		return c.call(t, "GET", "/api/virtualservice?name=web-8081", nil, &out) == 200 && out["count"] == float64(0)
	})
	waitFor(t, "the SEs closing port 8081", within, func() bool {
		return !answers(client, url) && !answers(client, fmt.Sprintf("http://%s:8081/", b.IP))
	})

	// The SSH user's private key is in no answer and no log line.
	keyLines := storedPrivateKeys(t, c.data)
	_, raw = lc.docker(t)
	noSecret(t, "the cloud runtime", raw, keyLines)
	noSecret(t, "the controller's log", c.logs.String(), keyLines)
}
