package dockercloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/integrations/sshdeploy/sshdtest"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/clouds/orchsync"
	"github.com/avi-init/avi-init/runtime/controller/store"
	"github.com/avi-init/avi-init/runtime/controller/store/storetest"
)

// fakeEngine is a host's engine: the test changes its containers and sends events.
type fakeEngine struct {
	mu         sync.Mutex
	containers []docker.AppContainer
	listErr    error
	lists      int
	events     chan docker.Event
	broken     chan error
}

func (e *fakeEngine) ListLabeled(_ context.Context, key string) ([]docker.AppContainer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lists++
	if e.listErr != nil {
		return nil, e.listErr
	}
	var out []docker.AppContainer
	for _, c := range e.containers {
		if _, ok := c.Labels[key]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func (e *fakeEngine) WatchEvents(ctx context.Context, _ string, fn func(docker.Event)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-e.events:
			fn(ev)
		case err := <-e.broken:
			return err
		}
	}
}

func (e *fakeEngine) Close() error { return nil }

// set replaces the engine's containers and says so on the event stream.
func (e *fakeEngine) set(cs ...docker.AppContainer) {
	e.mu.Lock()
	e.containers = cs
	e.mu.Unlock()
	e.events <- docker.Event{Action: "start"}
}

// fakeConnector reaches fake engines; a host in refuse is not reachable.
type fakeConnector struct {
	mu       sync.Mutex
	engines  map[string]*fakeEngine
	refuse   map[string]error
	connects map[string]int
	users    []string
}

func (f *fakeConnector) Connect(_ context.Context, host, user, key string) (Engine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connects[host]++
	f.users = append(f.users, user+" "+key)
	if err := f.refuse[host]; err != nil {
		return nil, err
	}
	return f.engines[host], nil
}

func (f *fakeConnector) setRefuse(host string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse[host] = err
}

// privateKey is a new ed25519 key in OpenSSH PEM form, as the store wants it.
func privateKey(t *testing.T) string {
	t.Helper()
	_, key := sshdtest.Key(t)
	return string(key)
}

type env struct {
	t     *testing.T
	st    *store.Store
	m     *Manager
	conn  *fakeConnector
	cloud string
}

const (
	hostA = "192.0.2.10"
	hostB = "192.0.2.11"
)

func newEnv(t *testing.T, hosts ...string) *env {
	t.Helper()
	st := storetest.Open(t)
	conn := &fakeConnector{engines: map[string]*fakeEngine{}, refuse: map[string]error{}, connects: map[string]int{}}
	for _, h := range []string{hostA, hostB} {
		conn.engines[h] = &fakeEngine{events: make(chan docker.Event, 16), broken: make(chan error, 1)}
	}
	e := &env{t: t, st: st, conn: conn}
	err := st.Update(func(tx *store.Tx) error {
		p := &avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemL4}, Type: avi.ProfileL4}
		if err := tx.Create(p); err != nil {
			return err
		}
		u := &avi.CloudConnectorUser{Meta: avi.Meta{Name: "aviuser"}, PrivateKey: privateKey(t)}
		if err := tx.Create(u); err != nil {
			return err
		}
		c := e.cloudObject(hosts...)
		if err := tx.Create(c); err != nil {
			return err
		}
		e.cloud = c.UUID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs a manager until the test ends or stop is called.
func (e *env) start() (stop func()) {
	e.m = &Manager{Store: e.st, Connector: e.conn, Log: slog.New(slog.DiscardHandler), Debounce: 5 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.m.Run(ctx) }()
	stop = func() {
		cancel()
		<-done
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) cloudObject(hosts ...string) *avi.Cloud {
	c := &avi.Cloud{Meta: avi.Meta{Name: "docker"}, Vtype: avi.CloudDocker,
		DockerConfiguration: &avi.DockerConfiguration{SSHUserRef: "/api/cloudconnectoruser?name=aviuser"}}
	for _, h := range hosts {
		c.DockerConfiguration.Hosts = append(c.DockerConfiguration.Hosts, avi.LinuxHost{HostIP: avi.IPAddr{Addr: h, Type: "V4"}})
	}
	return c
}

func (e *env) setHosts(hosts ...string) {
	e.t.Helper()
	c := e.cloudObject(hosts...)
	if err := e.st.Put(e.cloud, c); err != nil {
		e.t.Fatal(err)
	}
}

// within waits up to a second (the Marathon cloud's bound) for cond.
func (e *env) within(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			st, _ := e.m.Status(e.cloud)
			e.t.Fatalf("%s: not within a second (cloud status %+v)", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// members lists a pool's servers as ip:port, or "gone".
func (e *env) members(pool string) string {
	p, err := store.GetByName[*avi.Pool](e.st, pool)
	if err != nil {
		return "gone"
	}
	var out []string
	for _, s := range p.Servers {
		out = append(out, fmt.Sprintf("%s:%d", s.IP.Addr, s.Port))
	}
	return strings.Join(out, " ")
}

func label(front int) map[string]string {
	return map[string]string{"avi_proxy": fmt.Sprintf(`{"virtualservice": {"services": [{"port": %d}]}}`, front)}
}

// ctr is a running container publishing its port 8080 on hostPort.
func ctr(name string, hostPort int, labels map[string]string) docker.AppContainer {
	return docker.AppContainer{ID: "id-" + name, Name: name, Labels: labels, State: "running",
		Publishes: []docker.ContainerPort{{Port: 8080, Protocol: "tcp"}},
		Ports:     []docker.PublishedPort{{ContainerPort: 8080, Protocol: "tcp", HostIP: "0.0.0.0", HostPort: hostPort}}}
}

func TestContainersBecomeVirtualServicesAndFollowTheEngine(t *testing.T) {
	e := newEnv(t, hostA, hostB)
	a, b := e.conn.engines[hostA], e.conn.engines[hostB]
	a.containers = []docker.AppContainer{ctr("web-1", 18080, label(9081)), {ID: "id-db", Name: "db", State: "running"}}
	b.containers = []docker.AppContainer{ctr("web-2", 18080, label(9081))}
	e.start()

	e.within("web's VS with both containers", func() bool { return e.members("web-9081") == hostA+":18080 "+hostB+":18080" })
	vs, err := store.GetByName[*avi.VirtualService](e.st, "web-9081")
	if err != nil {
		t.Fatal(err)
	}
	if vs.CreatedBy != e.m.Owner(e.cloud)+"web" || len(vs.Services) != 1 || vs.Services[0].Port != 9081 || !vs.EastWestPlacement || vs.CloudRef != avi.KindCloud.URL(e.cloud) {
		t.Errorf("web's VS: %+v", vs)
	}
	e.within("status synced", func() bool {
		st, _ := e.m.Status(e.cloud)
		return st.State == "SYNCED" && len(st.Hosts) == 2 && st.Hosts[0].State == HostConnected && st.Hosts[0].Containers == 1 && st.VirtualServices == 1
	})
	u, _ := store.GetByName[*avi.CloudConnectorUser](e.st, "aviuser")
	e.conn.mu.Lock()
	got := slices.Clone(e.conn.users)
	e.conn.mu.Unlock()
	if len(got) < 2 || got[0] != "aviuser "+u.PrivateKey {
		t.Errorf("connected as %v, want the cloud's SSH user and key", got)
	}

	// Stopped, unhealthy and paused containers leave the pool; healthy and running ones are in.
	stopped := ctr("web-2", 18080, label(9081))
	stopped.State, stopped.Ports = "exited", nil
	b.set(stopped)
	e.within("web-2 stopped leaves", func() bool { return e.members("web-9081") == hostA+":18080" })
	unhealthy := ctr("web-1", 18080, label(9081))
	unhealthy.Health = "unhealthy"
	a.set(unhealthy)
	e.within("web-1 unhealthy leaves", func() bool { return e.members("web-9081") == "" })
	if _, err := store.GetByName[*avi.VirtualService](e.st, "web-9081"); err != nil {
		t.Errorf("a service whose containers are all down lost its VS: %v", err)
	}
	healthy := ctr("web-1", 18080, label(9081))
	healthy.Health = "healthy"
	a.set(healthy)
	b.set(ctr("web-2", 18080, label(9081)))
	e.within("both back", func() bool { return e.members("web-9081") == hostA+":18080 "+hostB+":18080" })

	// docker stop: the kill event (SIGTERM) takes web-2 out while it still runs and drains;
	// started again, it is back.
	b.events <- docker.Event{ContainerID: "id-web-2", Action: "kill", Signal: "15"}
	e.within("web-2 out on SIGTERM, still running", func() bool { return e.members("web-9081") == hostA+":18080" })
	b.events <- docker.Event{ContainerID: "id-web-2", Action: "kill", Signal: "1"}
	time.Sleep(50 * time.Millisecond)
	if got := e.members("web-9081"); got != hostA+":18080" {
		t.Errorf("after SIGHUP to a stopping container: %q", got)
	}
	b.events <- docker.Event{ContainerID: "id-web-2", Action: "start"}
	e.within("web-2 back after start", func() bool { return e.members("web-9081") == hostA+":18080 "+hostB+":18080" })
	a.events <- docker.Event{ContainerID: "id-web-1", Action: "kill", Signal: "1"}
	time.Sleep(50 * time.Millisecond)
	if got := e.members("web-9081"); got != hostA+":18080 "+hostB+":18080" {
		t.Errorf("a SIGHUP (reload) took a member out: %q", got)
	}

	// Every container of the service removed: its objects go.
	a.set()
	b.set()
	e.within("web's objects removed", func() bool {
		_, err := store.GetByName[*avi.VirtualService](e.st, "web-9081")
		return errors.Is(err, store.ErrNotFound) && e.members("web-9081") == "gone"
	})
}

func TestBrokenLabelsAndPortClashesAreRefusedPerService(t *testing.T) {
	e := newEnv(t, hostA)
	a := e.conn.engines[hostA]
	a.containers = []docker.AppContainer{
		ctr("web-1", 18080, label(9081)),
		ctr("broken-1", 18081, map[string]string{"avi_proxy": `{"virtualservice": {nope}}`}),
		// Its front port is web-1's published host port: the SE on that host could not listen.
		ctr("clash-1", 18082, label(18080)),
	}
	e.start()
	var st Status
	e.within("synced with two errors", func() bool {
		st, _ = e.m.Status(e.cloud)
		return len(st.ServiceErrors) == 2
	})
	if e.members("web-9081") != hostA+":18080" {
		t.Errorf("the good service: %q", e.members("web-9081"))
	}
	want := map[string]string{
		"broken": "avi_proxy label: not valid JSON",
		"clash":  "port 18080 is taken by container web-1, which publishes it on host " + hostA,
	}
	for _, is := range st.ServiceErrors {
		if !strings.Contains(is.Message, want[is.Service]) {
			t.Errorf("error of %s: %q, want it to say %q", is.Service, is.Message, want[is.Service])
		}
	}
	if st.Services != 3 || st.VirtualServices != 1 {
		t.Errorf("status counts %d services, %d VSs; want 3, 1", st.Services, st.VirtualServices)
	}
}

func TestUnreachableEngineKeepsWhatWasReadAndIsRetried(t *testing.T) {
	e := newEnv(t, hostA, hostB)
	a, b := e.conn.engines[hostA], e.conn.engines[hostB]
	a.containers = []docker.AppContainer{ctr("web-1", 18080, label(9081))}
	b.containers = []docker.AppContainer{ctr("web-2", 18080, label(9081))}
	e.start()
	e.within("both members", func() bool { return e.members("web-9081") == hostA+":18080 "+hostB+":18080" })

	// B's SSH connection breaks and B refuses new ones: its container stays in the pool.
	e.conn.setRefuse(hostB, errors.New("dial tcp 192.0.2.11:22: connect: connection refused"))
	b.broken <- errors.New("docker events: EOF")
	e.within("B shown in error", func() bool {
		st, _ := e.m.Status(e.cloud)
		return len(st.Hosts) == 2 && st.Hosts[1].State == HostError && strings.Contains(st.Hosts[1].Reason, "connection refused")
	})
	// A change on A is still followed meanwhile.
	a.set(ctr("web-1", 18080, label(9081)), ctr("web-3", 18090, label(9081)))
	e.within("A's new container", func() bool {
		return e.members("web-9081") == hostA+":18080 "+hostA+":18090 "+hostB+":18080"
	})
	// B answers again: reconnected after its backoff (one second at most, the first time).
	e.conn.setRefuse(hostB, nil)
	b.mu.Lock()
	b.containers = nil
	b.mu.Unlock()
	deadline := time.Now().Add(3 * time.Second)
	for e.members("web-9081") != hostA+":18080 "+hostA+":18090" {
		if time.Now().After(deadline) {
			st, _ := e.m.Status(e.cloud)
			t.Fatalf("B not read again after it came back: %q, status %+v", e.members("web-9081"), st)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A host that is removed from the cloud takes its containers out.
	e.setHosts(hostB)
	e.within("A's containers leave with A", func() bool { return e.members("web-9081") == "gone" })
}

func TestHostNotReadYetKeepsServicesAndCloudRemovalDeletesThem(t *testing.T) {
	e := newEnv(t, hostA, hostB)
	// Objects from before a controller restart: web on A and B, api on B only.
	e.conn.engines[hostA].containers = []docker.AppContainer{ctr("web-1", 18080, label(9081))}
	e.conn.engines[hostB].containers = []docker.AppContainer{ctr("web-2", 18080, label(9081)), ctr("api-1", 18081, label(9082))}
	stop := e.start()
	e.within("both services", func() bool { return e.members("api-9082") == hostB+":18081" && e.members("web-9081") != "gone" })
	stop()

	// Restarted while B is unreachable: api, which only B could show, is kept.
	e.conn.setRefuse(hostB, errors.New("no route to host"))
	e.start()
	e.within("A read, B not", func() bool {
		st, _ := e.m.Status(e.cloud)
		return st.State == "SYNCING" && len(st.Hosts) == 2 && st.Hosts[0].State == HostConnected && st.Hosts[1].State == HostError
	})
	if got := e.members("api-9082"); got != hostB+":18081" {
		t.Errorf("api while B was not read: %q", got)
	}

	// The cloud stops being a Docker cloud: everything it made goes.
	c := e.cloudObject(hostA, hostB)
	c.Vtype = avi.CloudNone
	if err := e.st.Put(e.cloud, c); err != nil {
		t.Fatal(err)
	}
	e.within("objects deleted", func() bool {
		for _, kind := range []avi.Kind{avi.KindVirtualService, avi.KindPool} {
			for _, o := range e.st.List(kind) {
				if strings.HasPrefix(orchsync.CreatedBy(o), e.m.Owner(e.cloud)) {
					return false
				}
			}
		}
		return true
	})
	if _, ok := e.m.Status(e.cloud); ok {
		t.Errorf("a cloud no longer Docker keeps a status")
	}
}
