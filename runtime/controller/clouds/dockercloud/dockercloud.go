// Package dockercloud runs the controller's Docker clouds: on each host a CLOUD_DOCKER cloud
// lists (where linuxcloud keeps an SE), it follows the Docker engine's containers that carry an
// avi_proxy label, and maps them (docker/mapping) to virtual services and pools, written by
// orchsync and marked created_by "docker:<cloud uuid>:<service>".
//
// Each host has a list-watch loop (internal/listwatch) that reaches the host's engine through
// SSH (its socket forwarded over the connection, never exposed on the network), reads the
// labelled containers, and reads them again when the engine's event stream says one started,
// stopped, died, changed health, was renamed or removed (debounced), and on a timer in case an
// event was missed. A host whose engine cannot be reached keeps the containers last read there:
// its SE's health checks judge them, and a broken SSH connection must not take running services
// away. A host never read since the controller started makes the sync partial: services it
// alone may hold are kept.
package dockercloud

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/integrations/docker/mapping"
	"github.com/avi-init/avi-init/internal/listwatch"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/proxylabel"
	"github.com/avi-init/avi-init/runtime/controller/clouds/orchsync"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Engine is one host's Docker engine; *docker.Client through SSH is one.
type Engine interface {
	ListLabeled(ctx context.Context, key string) ([]docker.AppContainer, error)
	WatchEvents(ctx context.Context, key string, fn func(docker.Event)) error
	Close() error
}

// Connector reaches a host's engine as user with privateKey.
type Connector interface {
	Connect(ctx context.Context, host, user, privateKey string) (Engine, error)
}

// Default timing. Events are read again once they have settled (listwatch's defaults: 50 ms,
// at most 500 ms after the first); every host is read in full every Resync; a host whose engine
// cannot be reached is tried again with jittered exponential backoff from one second to a
// minute.
const (
	DefaultResync = 60 * time.Second
	minBackoff    = time.Second
	maxBackoff    = time.Minute
	// recheckAfter reads a host again this long after it connected: an event between the
	// event stream's request and the engine starting to send is not lost.
	recheckAfter = time.Second
)

// Manager runs the Docker clouds of one controller.
type Manager struct {
	Store     *store.Store
	Connector Connector
	Log       *slog.Logger
	// Debounce, MaxDelay and Resync override the defaults (tests).
	Debounce, MaxDelay, Resync time.Duration

	status orchsync.StatusBoard[Status]
}

// Status is what a Docker cloud last saw, for the API and UI.
type Status struct {
	State           string       `json:"state"` // SYNCING (not every host read yet) or SYNCED
	LastSync        string       `json:"last_sync,omitempty"`
	Hosts           []HostStatus `json:"hosts"`
	Services        int          `json:"services"`
	VirtualServices int          `json:"virtual_services"`
	ServiceErrors   []Issue      `json:"service_errors,omitempty"`
	ServiceNotes    []Issue      `json:"service_notes,omitempty"`
}

// HostStatus is one host's engine as the cloud sees it.
type HostStatus struct {
	HostIP avi.IPAddr `json:"host_ip"`
	// State: CONNECTING (not read yet), CONNECTED (following its events), or ERROR (the engine
	// could not be reached or read; the containers last read are kept).
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
	Containers int    `json:"containers"`
	LastRead   string `json:"last_read,omitempty"`
}

// Issue is something about one service.
type Issue struct {
	Service string `json:"service"`
	Message string `json:"message"`
}

// Host states.
const (
	HostConnecting = "CONNECTING"
	HostConnected  = "CONNECTED"
	HostError      = "ERROR"
)

// Owner is the created_by prefix of a cloud's objects.
func (m *Manager) Owner(cloudUUID string) string { return "docker:" + cloudUUID + ":" }

// Clone returns a copy of s that shares nothing with it.
func (s Status) Clone() Status {
	s.Hosts = slices.Clone(s.Hosts)
	s.ServiceErrors = slices.Clone(s.ServiceErrors)
	s.ServiceNotes = slices.Clone(s.ServiceNotes)
	return s
}

// Status returns a copy of a cloud's status.
func (m *Manager) Status(cloudUUID string) (Status, bool) { return m.status.Get(cloudUUID) }

// Runtime is a Docker cloud's status, for the cloud's runtime in the API.
func (m *Manager) Runtime(c *avi.Cloud) (any, bool) { return m.Status(c.UUID) }

func (m *Manager) logger() *slog.Logger {
	if m.Log == nil {
		return slog.Default()
	}
	return m.Log
}

// target is one host of a cloud with the credentials to reach it.
type target struct {
	ip         avi.IPAddr
	user       string
	privateKey string
}

// dockerClouds reads the Docker clouds and their hosts' targets, by cloud uuid and host address.
func (m *Manager) dockerClouds() map[string]map[string]target {
	out := map[string]map[string]target{}
	for _, c := range store.List[*avi.Cloud](m.Store) {
		if c.Vtype != avi.CloudDocker || c.DockerConfiguration == nil {
			continue
		}
		userRef, hosts := c.SEHosts()
		var user, key string
		if u, err := store.Get[*avi.CloudConnectorUser](m.Store, avi.UUIDOf(userRef)); err == nil {
			user, key = u.Name, u.PrivateKey
		}
		ts := map[string]target{}
		for _, h := range hosts {
			ts[h.HostIP.Addr] = target{ip: h.HostIP, user: user, privateKey: key}
		}
		out[c.UUID] = ts
	}
	return out
}

// Run follows the store: each Docker cloud gets a runner that follows its hosts; a cloud that
// goes, or stops being a Docker cloud, takes its objects with it. Run returns when ctx is done
// and every runner has stopped.
func (m *Manager) Run(ctx context.Context) {
	log := m.logger()
	clouds := map[string]*cloudRunner{}
	defer func() {
		for _, c := range clouds {
			c.stop()
		}
	}()
	for {
		changed := m.Store.Changed()
		want := m.dockerClouds()
		for uuid, c := range clouds {
			if _, ok := want[uuid]; ok {
				continue
			}
			c.stop()
			delete(clouds, uuid)
			// The status goes first: a reader that finds the objects gone finds it gone too.
			m.status.Delete(uuid)
			if err := orchsync.RemoveAll(m.Store, m.Owner(uuid)); err != nil {
				log.Error("delete the objects of a removed Docker cloud", "cloud", uuid, "err", err)
			}
		}
		for uuid, targets := range want {
			c, ok := clouds[uuid]
			if !ok {
				c = m.startCloud(ctx, uuid)
				clouds[uuid] = c
			}
			c.setHosts(targets)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// cloudRunner owns one cloud's host goroutines and its sync goroutine.
type cloudRunner struct {
	m      *Manager
	uuid   string
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	poke   chan struct{} // a host's containers changed: sync

	// hosts and hostsSet are touched by Run's goroutine only; state by every host's.
	hosts    map[string]*hostRunner
	hostsSet bool
	mu       sync.Mutex
	state    map[string]*hostState // by host address
}

// hostRunner is the goroutine following one host.
type hostRunner struct {
	t      target
	cancel context.CancelFunc
	done   chan struct{}
}

// hostState is what is known of one host's engine.
type hostState struct {
	containers []docker.AppContainer
	status     HostStatus
}

func (m *Manager) startCloud(ctx context.Context, uuid string) *cloudRunner {
	ctx, cancel := context.WithCancel(ctx)
	c := &cloudRunner{m: m, uuid: uuid, log: m.logger().With("cloud", uuid), ctx: ctx, cancel: cancel,
		poke: make(chan struct{}, 1), hosts: map[string]*hostRunner{}, state: map[string]*hostState{}}
	c.wg.Go(c.syncLoop)
	return c
}

func (c *cloudRunner) stop() {
	c.cancel()
	c.wg.Wait()
}

func (c *cloudRunner) wake() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// setHosts starts a goroutine for each new host, restarts one whose credentials changed (keeping
// what was read there), and stops those no longer listed, whose containers leave the cloud.
func (c *cloudRunner) setHosts(want map[string]target) {
	changed := false
	for addr, h := range c.hosts {
		if t, ok := want[addr]; ok && t == h.t {
			continue
		}
		changed = true
		h.cancel()
		<-h.done
		delete(c.hosts, addr)
		if _, ok := want[addr]; !ok {
			c.mu.Lock()
			delete(c.state, addr)
			c.mu.Unlock()
		}
	}
	for addr, t := range want {
		if _, ok := c.hosts[addr]; ok {
			continue
		}
		changed = true
		c.mu.Lock()
		if _, ok := c.state[addr]; !ok {
			c.state[addr] = &hostState{status: HostStatus{HostIP: t.ip, State: HostConnecting}}
		}
		c.mu.Unlock()
		ctx, cancel := context.WithCancel(c.ctx)
		h := &hostRunner{t: t, cancel: cancel, done: make(chan struct{})}
		c.hosts[addr] = h
		c.wg.Go(func() {
			defer close(h.done)
			c.follow(ctx, t)
		})
	}
	// The first sync waits for the hosts to be known: without them it would delete everything.
	if changed || !c.hostsSet {
		c.hostsSet = true
		c.wake()
	}
}

// syncLoop writes the cloud's containers to the store each time a host's change, one sync at
// a time.
func (c *cloudRunner) syncLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.poke:
		}
		c.sync()
	}
}

// sync maps what every host last read and writes it.
func (c *cloudRunner) sync() {
	c.mu.Lock()
	var hosts []mapping.Host
	var statuses []HostStatus
	var reserved []orchsync.Reserved
	partial := false
	for _, st := range c.state {
		statuses = append(statuses, st.status)
		if st.status.LastRead == "" { // not read since the controller started
			partial = true
			continue
		}
		addr, err := netip.ParseAddr(st.status.HostIP.Addr)
		if err != nil {
			continue // validated when the cloud was written
		}
		hosts = append(hosts, mapping.Host{Addr: addr, Containers: st.containers})
		reserved = append(reserved, publishedPorts(st.status.HostIP.Addr, st.containers)...)
	}
	c.mu.Unlock()

	mapper := &mapping.Mapper{CloudRef: avi.KindCloud.URL(c.uuid)}
	results := mapper.Map(hosts)
	groups := make([]orchsync.Group, 0, len(results))
	for _, r := range results {
		groups = append(groups, orchsync.Group{Key: r.Service, VirtualServices: r.VirtualServices, Pools: r.Pools, Notes: r.Notes, Err: r.Err})
	}
	rep := orchsync.Sync(c.m.Store, c.m.Owner(c.uuid), groups, orchsync.Options{Reserved: reserved, Partial: partial})
	for _, e := range rep.Errors {
		if e.Key == "" {
			c.log.Error("Docker cloud sync", "err", e.Message)
		}
	}
	slices.SortFunc(statuses, func(a, b HostStatus) int { return cmp.Compare(a.HostIP.Addr, b.HostIP.Addr) })
	state := "SYNCED"
	if partial {
		state = "SYNCING"
	}
	c.m.status.Update(c.uuid, func(s *Status) {
		*s = Status{
			State: state, LastSync: time.Now().UTC().Format(time.RFC3339), Hosts: statuses,
			Services: len(results), VirtualServices: rep.VirtualServices,
			ServiceErrors: issues(rep.Errors), ServiceNotes: issues(rep.Notes),
		}
	})
}

func issues(is []orchsync.Issue) []Issue {
	var out []Issue
	for _, i := range is {
		out = append(out, Issue{Service: i.Key, Message: i.Message})
	}
	return out
}

// publishedPorts are the host ports the containers of a host are bound to: the SE on that host
// could not listen there too.
func publishedPorts(host string, cs []docker.AppContainer) []orchsync.Reserved {
	var out []orchsync.Reserved
	for _, ct := range cs {
		for _, p := range ct.Ports {
			out = append(out, orchsync.Reserved{Port: p.HostPort,
				Holder: fmt.Sprintf("container %s, which publishes it on host %s", ct.Name, host)})
		}
	}
	return out
}

// update changes one host's state, if the host is still the cloud's, and has the cloud synced.
func (c *cloudRunner) update(addr string, fn func(st *hostState)) {
	c.mu.Lock()
	st, ok := c.state[addr]
	if ok {
		fn(st)
	}
	c.mu.Unlock()
	if ok {
		c.wake()
	}
}

func (c *cloudRunner) setError(addr string, err error) {
	c.update(addr, func(st *hostState) {
		st.status.State, st.status.Reason = HostError, err.Error()
	})
}

// follow keeps one host's containers read until ctx ends: a list-watch loop over the host's
// engine, reached anew after each failure; meanwhile the host keeps what was read last.
func (c *cloudRunner) follow(ctx context.Context, t target) {
	log := c.log.With("host", t.ip.Addr)
	listwatch.Run(ctx, &hostSource{c: c, t: t}, listwatch.Options{
		Debounce: c.m.Debounce, MaxDelay: c.m.MaxDelay, Resync: cmp.Or(c.m.Resync, DefaultResync),
		Recheck: recheckAfter, MinBackoff: minBackoff, MaxBackoff: maxBackoff,
		OnError: func(err error, retryIn time.Duration) {
			c.setError(t.ip.Addr, err)
			log.Warn("Docker engine not followed", "retry_in", retryIn.Round(time.Millisecond), "err", err)
		},
	})
}

// hostSource is one host's engine as the list-watch loop follows it: each session connects
// through SSH, follows the events and lists the labelled containers.
type hostSource struct {
	c   *cloudRunner
	t   target
	eng Engine // the session's; set by Open

	// stopping holds the containers docker stop (or kill) has signalled in this session: they
	// leave their pools at once, while they may still drain, not when they have exited.
	mu       sync.Mutex
	stopping map[string]bool
}

// Open connects to the host's engine.
func (h *hostSource) Open(ctx context.Context) error {
	if h.t.user == "" || h.t.privateKey == "" {
		return fmt.Errorf("the cloud's SSH user has no private key")
	}
	eng, err := h.c.m.Connector.Connect(ctx, h.t.ip.Addr, h.t.user, h.t.privateKey)
	if err != nil {
		return err
	}
	h.eng, h.stopping = eng, map[string]bool{}
	return nil
}

// Close closes the session's connection.
func (h *hostSource) Close() error { return h.eng.Close() }

// Watch follows the engine's events, remembering the containers being stopped.
func (h *hostSource) Watch(ctx context.Context, notify func()) error {
	return h.eng.WatchEvents(ctx, proxylabel.LabelKey, func(ev docker.Event) {
		h.mu.Lock()
		if ev.Stopping() {
			h.stopping[ev.ContainerID] = true
		} else if ev.Action == "start" {
			delete(h.stopping, ev.ContainerID)
		}
		h.mu.Unlock()
		notify()
	})
}

// List reads the labelled containers into the host's state and has the cloud synced.
func (h *hostSource) List(ctx context.Context) error {
	addr := h.t.ip.Addr
	cs, err := h.eng.ListLabeled(ctx, proxylabel.LabelKey)
	if err != nil {
		return fmt.Errorf("read the containers of %s: %w (the SSH user must be in the host's docker group: /api/linux_host_install adds it)", addr, err)
	}
	h.mu.Lock()
	listed := map[string]bool{}
	for i := range cs {
		listed[cs[i].ID] = true
		if h.stopping[cs[i].ID] && cs[i].State != "running" {
			delete(h.stopping, cs[i].ID) // it has stopped: nothing more to remember
		}
		cs[i].Stopping = h.stopping[cs[i].ID]
	}
	for id := range h.stopping {
		if !listed[id] {
			delete(h.stopping, id)
		}
	}
	h.mu.Unlock()
	h.c.update(addr, func(st *hostState) {
		st.containers = cs
		st.status.State, st.status.Reason = HostConnected, ""
		st.status.Containers, st.status.LastRead = len(cs), time.Now().UTC().Format(time.RFC3339)
	})
	return nil
}
