// Package mesoscloud runs the controller's Mesos/Marathon integration: one Marathon watcher
// per CLOUD_MESOS cloud, and a sync that keeps the virtual services, pools and health monitors
// the cloud's apps map to equal to what is in the store. Objects are marked created_by
// "marathon:<cloud uuid>:<app id>"; the sync changes and deletes only those, one app per
// transaction, so that an app that cannot be mapped or written never holds up the others. An
// app in error keeps the objects it had, and the error is shown in the cloud's status.
package mesoscloud

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/avi-init/avi-init/avi"
	"github.com/avi-init/avi-init/marathon"
	"github.com/avi-init/avi-init/marathon/mapping"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Manager runs the Mesos clouds of one controller.
type Manager struct {
	Store *store.Store
	Log   *slog.Logger
	// Resolve finds task hosts' addresses (DNS when nil).
	Resolve mapping.Resolver
	// HTTPClient reaches Marathon (http.DefaultClient when nil).
	HTTPClient *http.Client
	// Debounce overrides the watcher's event debounce (tests).
	Debounce time.Duration

	mu     sync.Mutex
	status map[string]*Status // by cloud uuid
}

// Status is what a Mesos cloud's sync last saw, for the API and UI.
type Status struct {
	State           string     `json:"state"` // SYNCING, SYNCED, or ERROR (Marathon not read)
	Reason          string     `json:"reason,omitempty"`
	LastSync        string     `json:"last_sync,omitempty"`
	Apps            int        `json:"apps"`
	VirtualServices int        `json:"virtual_services"`
	AppErrors       []AppIssue `json:"app_errors,omitempty"`
	AppNotes        []AppIssue `json:"app_notes,omitempty"`
}

// AppIssue is something about one app.
type AppIssue struct {
	AppID   string `json:"app_id"`
	Message string `json:"message"`
}

// Status returns a copy of a cloud's status.
func (m *Manager) Status(cloudUUID string) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.status[cloudUUID]
	if !ok {
		return Status{}, false
	}
	c := *s
	c.AppErrors = slices.Clone(s.AppErrors)
	c.AppNotes = slices.Clone(s.AppNotes)
	return c, true
}

func (m *Manager) setStatus(cloud string, fn func(*Status)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status == nil {
		m.status = map[string]*Status{}
	}
	s, ok := m.status[cloud]
	if !ok {
		s = &Status{State: "SYNCING"}
		m.status[cloud] = s
	}
	fn(s)
}

// runner is one cloud's watcher.
type runner struct {
	key    string // the cloud's Mesos configuration; a change restarts the watcher
	cancel context.CancelFunc
	done   chan struct{}
}

// Run follows the store: a watcher starts for each Mesos cloud, restarts when its
// configuration changes, and stops, deleting the objects the cloud made, when the cloud goes or
// stops being a Mesos cloud. It returns when ctx is done and every watcher has stopped.
func (m *Manager) Run(ctx context.Context) {
	log := m.logger()
	runners := map[string]*runner{}
	defer func() {
		for _, r := range runners {
			r.cancel()
			<-r.done
		}
	}()
	for {
		changed := m.Store.Changed()
		want := m.mesosClouds()
		for uuid, r := range runners {
			if cloud, ok := want[uuid]; ok && cloudKey(cloud) == r.key {
				continue
			}
			r.cancel()
			<-r.done
			delete(runners, uuid)
			if _, ok := want[uuid]; !ok {
				if err := m.removeAll(uuid); err != nil {
					log.Error("delete the objects of a removed Mesos cloud", "cloud", uuid, "err", err)
				}
				m.mu.Lock()
				delete(m.status, uuid)
				m.mu.Unlock()
			}
		}
		for uuid, cloud := range want {
			if _, ok := runners[uuid]; ok {
				continue
			}
			r, err := m.start(ctx, cloud)
			if err != nil {
				log.Error("Mesos cloud not started", "cloud", cloud.Name, "err", err)
				m.setStatus(uuid, func(s *Status) { s.State, s.Reason = "ERROR", err.Error() })
				continue
			}
			runners[uuid] = r
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func (m *Manager) logger() *slog.Logger {
	if m.Log == nil {
		return slog.Default()
	}
	return m.Log
}

func (m *Manager) mesosClouds() map[string]*avi.Cloud {
	out := map[string]*avi.Cloud{}
	for _, o := range m.Store.List("cloud") {
		if c := o.(*avi.Cloud); c.Vtype == avi.CloudMesos && c.MesosConfiguration != nil {
			out[c.UUID] = c
		}
	}
	return out
}

// cloudKey is what, when it changes, restarts a cloud's watcher: its Marathons, credentials
// and sync period. It stays in memory only.
func cloudKey(c *avi.Cloud) string {
	data, _ := json.Marshal(c.MesosConfiguration)
	return string(data)
}

func (m *Manager) start(ctx context.Context, cloud *avi.Cloud) (*runner, error) {
	var eps []marathon.Endpoint
	for _, mc := range cloud.MesosConfiguration.MarathonConfigurations {
		eps = append(eps, marathon.Endpoint{URL: mc.MarathonURL, Username: mc.MarathonUsername, Password: mc.MarathonPassword, Token: mc.MarathonToken})
	}
	log := m.logger().With("cloud", cloud.Name)
	client, err := marathon.NewClient(marathon.Config{Endpoints: eps, HTTPClient: m.HTTPClient, Logger: log})
	if err != nil {
		return nil, err
	}
	uuid := cloud.UUID
	mapper := &mapping.Mapper{CloudRef: store.URL("cloud", uuid), Resolve: m.Resolve}
	w := &marathon.Watcher{
		Source: client, Logger: log, Debounce: m.Debounce,
		SyncInterval: time.Duration(cloud.MesosConfiguration.AppSyncFrequency) * time.Second,
		OnApps: func(ctx context.Context, apps []marathon.App) {
			m.sync(uuid, apps, mapper.Map(ctx, apps))
		},
		OnError: func(_ context.Context, err error) {
			m.setStatus(uuid, func(s *Status) { s.State, s.Reason = "ERROR", err.Error() })
		},
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &runner{key: cloudKey(cloud), cancel: cancel, done: make(chan struct{})}
	m.setStatus(uuid, func(s *Status) { s.State, s.Reason = "SYNCING", "" })
	go func() {
		defer close(r.done)
		if err := w.Run(ctx); err != nil {
			log.Error("Marathon watcher stopped", "err", err)
		}
	}()
	return r, nil
}

// Owner is the created_by prefix of a cloud's objects.
func Owner(cloudUUID string) string { return "marathon:" + cloudUUID + ":" }

// kinds in the order they are written; deletion goes the other way, so that nothing is
// deleted while still referred to.
var kinds = []string{"healthmonitor", "pool", "virtualservice"}

// owned is an object the cloud made.
type owned struct {
	kind, uuid, name string
}

// sync makes the store hold what the apps map to.
func (m *Manager) sync(cloud string, apps []marathon.App, results []mapping.Result) {
	log := m.logger()
	owner := Owner(cloud)
	byApp := m.ownedByApp(owner)
	ports := m.portIndex()

	var appErrors, notes []AppIssue
	seen := map[string]bool{}
	vsCount := 0
	for _, r := range results {
		seen[r.AppID] = true
		for _, n := range r.Notes {
			notes = append(notes, AppIssue{r.AppID, n})
		}
		err := r.Err
		if err == nil {
			err = ports.claim(owner+r.AppID, r.VirtualServices)
		}
		if err == nil {
			err = m.writeApp(owner+r.AppID, r, byApp[r.AppID])
		}
		if err != nil {
			// The app keeps whatever it had: a broken label must not take a running
			// service away.
			appErrors = append(appErrors, AppIssue{r.AppID, err.Error()})
			vsCount += countVS(byApp[r.AppID])
			continue
		}
		vsCount += len(r.VirtualServices)
	}
	// Apps gone from Marathon take their objects with them.
	var gone []owned
	for app, objs := range byApp {
		if !seen[app] {
			gone = append(gone, objs...)
		}
	}
	if len(gone) > 0 {
		if err := m.Store.Update(func(tx *store.Tx) error { return deleteAll(tx, gone) }); err != nil {
			log.Error("delete the objects of deleted apps", "err", err)
			appErrors = append(appErrors, AppIssue{"", fmt.Sprintf("delete the objects of deleted apps: %v", err)})
		}
	}
	sortIssues(appErrors)
	sortIssues(notes)
	m.setStatus(cloud, func(s *Status) {
		s.State, s.Reason = "SYNCED", ""
		s.LastSync = time.Now().UTC().Format(time.RFC3339)
		s.Apps, s.VirtualServices = len(apps), vsCount
		s.AppErrors, s.AppNotes = appErrors, notes
	})
}

func sortIssues(is []AppIssue) {
	slices.SortFunc(is, func(a, b AppIssue) int {
		return cmp.Or(cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.Message, b.Message))
	})
}

func countVS(objs []owned) int {
	n := 0
	for _, o := range objs {
		if o.kind == "virtualservice" {
			n++
		}
	}
	return n
}

// ownedByApp lists the cloud's objects by app ID.
func (m *Manager) ownedByApp(owner string) map[string][]owned {
	out := map[string][]owned{}
	m.Store.View(func(_ int64, objs func(string) []avi.Object) {
		for _, kind := range kinds {
			for _, o := range objs(kind) {
				app, ok := strings.CutPrefix(createdBy(o), owner)
				if ok {
					out[app] = append(out[app], owned{kind, o.GetMeta().UUID, o.GetMeta().Name})
				}
			}
		}
	})
	return out
}

func createdBy(o avi.Object) string {
	switch o := o.(type) {
	case *avi.VirtualService:
		return o.CreatedBy
	case *avi.Pool:
		return o.CreatedBy
	case *avi.HealthMonitor:
		return o.CreatedBy
	}
	return ""
}

// writeApp writes one app's objects in one transaction: created, replaced when they differ,
// and the app's objects it no longer maps to deleted.
func (m *Manager) writeApp(maker string, r mapping.Result, had []owned) error {
	type write struct {
		kind string
		o    avi.Object
	}
	var objs []write
	for _, o := range r.HealthMonitors {
		o.CreatedBy = maker
		objs = append(objs, write{"healthmonitor", o})
	}
	for _, o := range r.Pools {
		o.CreatedBy = maker
		objs = append(objs, write{"pool", o})
	}
	for _, o := range r.VirtualServices {
		o.CreatedBy = maker
		objs = append(objs, write{"virtualservice", o})
	}
	return m.Store.Update(func(tx *store.Tx) error {
		keep := map[string]bool{}
		for _, w := range objs {
			name := w.o.GetMeta().Name
			keep[w.kind+" "+name] = true
			id, exists := tx.ByName(w.kind, name)
			if !exists {
				if _, err := tx.Create(w.kind, w.o); err != nil {
					return fmt.Errorf("%s %s: %w", w.kind, name, err)
				}
				continue
			}
			cur, err := tx.Get(w.kind, id)
			if err != nil {
				return err
			}
			if createdBy(cur) != maker {
				return fmt.Errorf("%s %s: the name is taken by an object this app did not make", w.kind, name)
			}
			if same(tx, w.kind, cur, w.o) {
				continue
			}
			if _, err := tx.Put(w.kind, id, w.o); err != nil {
				return fmt.Errorf("%s %s: %w", w.kind, name, err)
			}
		}
		var stale []owned
		for _, o := range had {
			if !keep[o.kind+" "+o.name] {
				stale = append(stale, o)
			}
		}
		return deleteAll(tx, stale)
	})
}

// same reports whether writing want over cur would change nothing: want's references are
// compared in the stored form (by uuid), and the fields the store sets are ignored.
func same(tx *store.Tx, kind string, cur, want avi.Object) bool {
	k, _ := avi.KindByName(kind)
	w := k.New()
	data, err := json.Marshal(want)
	if err != nil || json.Unmarshal(data, w) != nil {
		return false
	}
	for _, r := range w.Refs() {
		name, ok := strings.CutPrefix(*r.Value, "/api/"+r.Kind+"?name=")
		if !ok {
			continue
		}
		id, found := tx.ByName(r.Kind, name)
		if !found {
			return false
		}
		*r.Value = store.URL(r.Kind, id)
	}
	wm, cm := w.GetMeta(), cur.GetMeta()
	wm.UUID, wm.URL, wm.LastModified = cm.UUID, cm.URL, cm.LastModified
	a, err1 := json.Marshal(w)
	b, err2 := json.Marshal(cur)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// deleteAll deletes objects, virtual services first, then pools, then health monitors.
func deleteAll(tx *store.Tx, objs []owned) error {
	for i := len(kinds) - 1; i >= 0; i-- {
		for _, o := range objs {
			if o.kind != kinds[i] {
				continue
			}
			if err := tx.Delete(o.kind, o.uuid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("delete %s %s: %w", o.kind, o.name, err)
			}
		}
	}
	return nil
}

// removeAll deletes every object a cloud made.
func (m *Manager) removeAll(cloud string) error {
	var all []owned
	for _, objs := range m.ownedByApp(Owner(cloud)) {
		all = append(all, objs...)
	}
	if len(all) == 0 {
		return nil
	}
	return m.Store.Update(func(tx *store.Tx) error { return deleteAll(tx, all) })
}

// ports is which virtual services listen on each port, with their VIP (empty for east-west
// services, which listen on every address). Two services on one port and address would make
// every SE reject its whole configuration, so an app whose port is taken is refused instead.
type ports map[int][]portUser

type portUser struct{ vip, name, createdBy string }

func (m *Manager) portIndex() ports {
	idx := ports{}
	m.Store.View(func(_ int64, objs func(string) []avi.Object) {
		for _, o := range objs("virtualservice") {
			if vs := o.(*avi.VirtualService); vs.IsEnabled() {
				idx.add(vs, vs.CreatedBy)
			}
		}
	})
	return idx
}

func vip(vs *avi.VirtualService) string {
	if vs.IPAddress == nil {
		return ""
	}
	return vs.IPAddress.Addr
}

// servicePorts lists every port a virtual service listens on.
func servicePorts(vs *avi.VirtualService) []int {
	var out []int
	for _, s := range vs.Services {
		for p := s.Port; p <= max(s.Port, s.PortRangeEnd); p++ {
			out = append(out, p)
		}
	}
	return out
}

func (idx ports) add(vs *avi.VirtualService, createdBy string) {
	for _, p := range servicePorts(vs) {
		idx[p] = append(idx[p], portUser{vip(vs), vs.Name, createdBy})
	}
}

// claim takes the app's ports, or says which service holds one of them. An east-west service
// clashes with anything on its port; a VIP only with east-west services and the same VIP.
func (idx ports) claim(createdBy string, vss []*avi.VirtualService) error {
	for _, vs := range vss {
		v := vip(vs)
		for _, p := range servicePorts(vs) {
			for _, u := range idx[p] {
				if u.createdBy != createdBy && (v == "" || u.vip == "" || u.vip == v) {
					return fmt.Errorf("virtual service %s: port %d is taken by virtual service %s", vs.Name, p, u.name)
				}
			}
		}
	}
	for _, vs := range vss {
		idx.add(vs, createdBy)
	}
	return nil
}
