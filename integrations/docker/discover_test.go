package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/avi-init/avi-init/installer/image"
)

const localSocket = "/var/run/docker.sock"

// localEngine connects to this machine's engine through ConnectVia, as the controller does
// through SSH. In CI the engine must be there; elsewhere the test is skipped without one.
func localEngine(t *testing.T) *Client {
	t.Helper()
	c, err := ConnectVia(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", localSocket)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Info(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker engine at %s: CI must provide one: %v", localSocket, err)
		}
		t.Skipf("no Docker engine at %s: %v", localSocket, err)
	}
	return c
}

// testImage builds internal/testapp statically and loads it as an image, unless the engine
// has it already (the tag carries the binary's hash). Nothing is pulled.
func testImage(t *testing.T, c *Client) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testapp")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./internal/testapp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./internal/testapp: %v\n%s", err, out)
	}
	b, err := image.ReadBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	ref := b.Ref("testapp")
	ctx := context.Background()
	if ok, err := c.ImageExists(ctx, ref); err != nil || ok {
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(b.WriteTarball(pw, "testapp")) }()
	if err := c.LoadImage(ctx, pr, nil); err != nil {
		pr.CloseWithError(err)
		t.Fatal(err)
	}
	return ref
}

// run creates and starts a container of the test image, removed at the end of the test.
func run(t *testing.T, c *Client, name string, cfg *container.Config, host *container.HostConfig) string {
	t.Helper()
	ctx := context.Background()
	c.Remove(ctx, name)
	created, err := c.api.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove(context.Background(), created.ID) })
	if err := c.Start(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	return created.ID
}

// eventLog collects a watch's events for a test to wait on.
type eventLog struct {
	ch   chan Event
	seen []Event
}

// await waits for the event, which may have come already.
func (l *eventLog) await(t *testing.T, id, action string) {
	t.Helper()
	match := func(e Event) bool { return e.ContainerID == id && e.Action == action }
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

func find(t *testing.T, c *Client, key, id string) *AppContainer {
	t.Helper()
	list, err := c.ListLabeled(context.Background(), key)
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

// TestRealEngine follows labelled containers on this machine's engine: listed with their
// published ports and health, and an event for each start, health change, stop and removal.
func TestRealEngine(t *testing.T) {
	c := localEngine(t)
	img := testImage(t, c)
	// A label of the test's own, so that other containers on the engine stay out of it.
	suffix := make([]byte, 4)
	rand.Read(suffix)
	key := "avi-init-test-" + hex.EncodeToString(suffix)

	ctx, cancel := context.WithCancel(context.Background())
	log := &eventLog{ch: make(chan Event, 100)}
	watchDone := make(chan error, 1)
	go func() { watchDone <- c.WatchEvents(ctx, key, func(e Event) { log.ch <- e }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-watchDone; !errors.Is(err, context.Canceled) {
			t.Errorf("watch ended with %v", err)
		}
	})

	web := run(t, c, "avi-init-test-web-"+hex.EncodeToString(suffix),
		&container.Config{Image: img, Labels: map[string]string{key: `{}`, "FE-Proxy": "no"},
			ExposedPorts: nat.PortSet{"8080/tcp": {}, "53/udp": {}},
			Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/avi-init", "health"},
				Interval: 300 * time.Millisecond, Timeout: 2 * time.Second, Retries: 1}},
		&container.HostConfig{PortBindings: nat.PortMap{
			"8080/tcp": {{HostIP: "127.0.0.1"}},
			"53/udp":   {{HostIP: "127.0.0.1"}},
		}})
	plain := run(t, c, "avi-init-test-plain-"+hex.EncodeToString(suffix),
		&container.Config{Image: img, Labels: map[string]string{key: ""}, ExposedPorts: nat.PortSet{"9000/tcp": {}}},
		&container.HostConfig{PortBindings: nat.PortMap{"9000/tcp": {{}}}})
	unlabelled := run(t, c, "avi-init-test-unlabelled-"+hex.EncodeToString(suffix), &container.Config{Image: img}, nil)

	log.await(t, web, "start")
	log.await(t, plain, "start")
	if find(t, c, key, unlabelled) != nil {
		t.Error("a container without the label is listed")
	}

	log.await(t, web, "health_status: healthy")
	w := find(t, c, key, web)
	if w == nil || !w.Running() || w.Health != "healthy" || w.Labels["FE-Proxy"] != "no" || !strings.HasPrefix(w.Name, "avi-init-test-web-") {
		t.Fatalf("web container: %+v", w)
	}
	if len(w.Ports) != 2 || w.Ports[0].ContainerPort != 53 || w.Ports[0].Protocol != "udp" ||
		w.Ports[1].ContainerPort != 8080 || w.Ports[1].Protocol != "tcp" || w.Ports[1].HostIP != "127.0.0.1" || w.Ports[1].HostPort == 0 {
		t.Errorf("web ports: %+v", w.Ports)
	}
	p := find(t, c, key, plain)
	if p == nil || p.Health != "" || len(p.Ports) == 0 || !p.Ports[0].ReachableAt(netip.MustParseAddr("127.0.0.1")) || p.Ports[0].HostPort == 0 {
		t.Errorf("plain container: %+v", p)
	}

	// Sick: the health check fails and the engine says so.
	if err := c.api.ContainerKill(context.Background(), web, "USR1"); err != nil {
		t.Fatal(err)
	}
	log.await(t, web, "health_status: unhealthy")
	if w := find(t, c, key, web); w == nil || w.Health != "unhealthy" || !w.Running() {
		t.Errorf("sick web container: %+v", w)
	}

	// Stopped: no ports published any more. Removed: gone from the list.
	if err := c.Stop(context.Background(), plain, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	log.await(t, plain, "kill")
	log.await(t, plain, "die")
	log.await(t, plain, "stop")
	if i := slices.IndexFunc(log.seen, func(e Event) bool { return e.ContainerID == plain && e.Action == "kill" }); i < 0 || !log.seen[i].Stopping() {
		t.Errorf("docker stop's kill event does not say the container is stopping: %+v", log.seen)
	}
	if p := find(t, c, key, plain); p == nil || p.Running() || p.State != "exited" || len(p.Ports) != 0 {
		t.Errorf("stopped container: %+v", p)
	}
	if err := c.Remove(context.Background(), plain); err != nil {
		t.Fatal(err)
	}
	log.await(t, plain, "destroy")
	if p := find(t, c, key, plain); p != nil {
		t.Errorf("a removed container is listed: %+v", p)
	}
	if slices.ContainsFunc(log.seen, func(e Event) bool { return e.ContainerID == unlabelled }) {
		t.Error("an event of the unlabelled container")
	}
}
