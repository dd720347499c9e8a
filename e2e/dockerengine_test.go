package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/e2e/systemdhost"
	engine "github.com/avi-init/avi-init/integrations/docker"
)

// dockerEvents collects a watch's events for a test to wait on.
type dockerEvents struct {
	ch   chan engine.Event
	seen []engine.Event
}

// await waits for the event, which may have come already.
func (l *dockerEvents) await(t *testing.T, id, action string) {
	t.Helper()
	match := func(e engine.Event) bool { return e.ContainerID == id && e.Action == action }
	if slices.ContainsFunc(l.seen, match) {
		return
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-l.ch:
			l.seen = append(l.seen, e)
			if match(e) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q event for %.12s; saw %+v", action, id, l.seen)
		}
	}
}

// TestDockerDiscovery follows labelled containers on this machine's engine through the docker
// package, connected as the controller connects to a Docker cloud's host (ConnectVia, here to
// the local socket rather than through SSH): listed with their published ports and health, and
// an event for each start, health change, stop and removal.
func TestDockerDiscovery(t *testing.T) {
	need(t)
	withHealth, plainImage := ensureBackendHealthImage(t), ensureBackendImage(t)
	c, err := engine.ConnectVia(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", systemdhost.DockerSocket)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	// A label of the test's own, so that other containers on the engine stay out of it.
	suffix := make([]byte, 4)
	rand.Read(suffix)
	key := "avie2e-discovery-" + hex.EncodeToString(suffix)

	watchCtx, cancel := context.WithCancel(ctx)
	events := &dockerEvents{ch: make(chan engine.Event, 100)}
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- c.WatchEvents(watchCtx, key, func(e engine.Event) {
			select {
			case events.ch <- e:
			case <-watchCtx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-watchDone; !errors.Is(err, context.Canceled) {
			t.Errorf("watch ended with %v", err)
		}
	})

	// run starts a backend container as the other tests do, removed when the test ends.
	run := func(name string, args ...string) string {
		t.Helper()
		name = "avie2e-discovery-" + name
		execCommand("docker", "rm", "-f", name)
		args = append([]string{"run", "-d", "--name", name, "--cap-drop", "ALL", "--read-only", "--user", "65534:65534"}, args...)
		id := strings.TrimSpace(docker(t, args...))
		t.Cleanup(func() { c.Remove(context.Background(), id) })
		return id
	}
	// The web container checks its health every second (its image's HEALTHCHECK).
	web := run("web", "--label", key+"={}", "--label", "FE-Proxy=no",
		"--publish", "127.0.0.1::8080", "--publish", "127.0.0.1::53/udp", withHealth)
	plain := run("plain", "--label", key+"=", "--publish", "127.0.0.1::9000", plainImage)
	unlabelled := run("unlabelled", plainImage)

	find := func(id string) *engine.AppContainer {
		t.Helper()
		list, err := c.ListLabeled(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for i := range list {
			if list[i].ID == id {
				return &list[i]
			}
		}
		return nil
	}

	events.await(t, web, "start")
	events.await(t, plain, "start")
	if find(unlabelled) != nil {
		t.Error("a container without the label is listed")
	}

	events.await(t, web, "health_status: healthy")
	w := find(web)
	if w == nil || !w.Running() || w.Health != "healthy" || w.Labels["FE-Proxy"] != "no" || w.Name != "avie2e-discovery-web" {
		t.Fatalf("web container: %+v", w)
	}
	if len(w.Ports) != 2 || w.Ports[0].ContainerPort != 53 || w.Ports[0].Protocol != "udp" ||
		w.Ports[1].ContainerPort != 8080 || w.Ports[1].Protocol != "tcp" || w.Ports[1].HostIP != "127.0.0.1" || w.Ports[1].HostPort == 0 {
		t.Fatalf("web ports: %+v", w.Ports)
	}
	wantPublishes := []engine.ContainerPort{{Port: 53, Protocol: "udp"}, {Port: 8080, Protocol: "tcp"}}
	if !slices.Equal(w.Publishes, wantPublishes) {
		t.Errorf("web publishes %+v, want %+v", w.Publishes, wantPublishes)
	}
	p := find(plain)
	if p == nil || p.Health != "" || len(p.Ports) != 1 || !p.Ports[0].ReachableAt(netip.MustParseAddr("127.0.0.1")) || p.Ports[0].HostPort == 0 {
		t.Errorf("plain container: %+v", p)
	}

	// Sick: the health check fails and the engine says so. The listed port is the way in.
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/healthz/down", w.Ports[1].HostPort), "", nil)
	if err != nil {
		t.Fatalf("make web sick through its listed port: %v", err)
	}
	resp.Body.Close()
	events.await(t, web, "health_status: unhealthy")
	if w := find(web); w == nil || w.Health != "unhealthy" || !w.Running() {
		t.Errorf("sick web container: %+v", w)
	}

	// Stopped: no ports published any more, the configured ones kept. Removed: gone from the list.
	if err := c.Stop(ctx, plain, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	events.await(t, plain, "kill")
	events.await(t, plain, "die")
	events.await(t, plain, "stop")
	if i := slices.IndexFunc(events.seen, func(e engine.Event) bool { return e.ContainerID == plain && e.Action == "kill" }); i < 0 || !events.seen[i].Stopping() {
		t.Errorf("docker stop's kill event does not say the container is stopping: %+v", events.seen)
	}
	if p := find(plain); p == nil || p.Running() || p.State != "exited" || len(p.Ports) != 0 || len(p.Publishes) != 1 {
		t.Errorf("stopped container: %+v", p)
	}
	if err := c.Remove(ctx, plain); err != nil {
		t.Fatal(err)
	}
	events.await(t, plain, "destroy")
	if p := find(plain); p != nil {
		t.Errorf("a removed container is listed: %+v", p)
	}
	if slices.ContainsFunc(events.seen, func(e engine.Event) bool { return e.ContainerID == unlabelled }) {
		t.Error("an event of the unlabelled container")
	}
}
