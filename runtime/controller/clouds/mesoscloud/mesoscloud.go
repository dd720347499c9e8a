// Package mesoscloud runs the controller's Mesos/Marathon integration: one list-watch loop
// (internal/listwatch) over a Marathon's apps per CLOUD_MESOS cloud, whose apps are written to the store by orchsync, marked created_by
// "marathon:<cloud uuid>:<app id>". An app in error keeps the objects it had, and the error is
// shown in the cloud's status.
package mesoscloud

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/avi-init/avi-init/integrations/marathon"
	"github.com/avi-init/avi-init/integrations/marathon/mapping"
	"github.com/avi-init/avi-init/internal/listwatch"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/clouds/orchsync"
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
	// Debounce overrides the event debounce (tests).
	Debounce time.Duration

	status orchsync.StatusBoard[Status]
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

// Clone returns a copy of s that shares nothing with it.
func (s Status) Clone() Status {
	s.AppErrors = slices.Clone(s.AppErrors)
	s.AppNotes = slices.Clone(s.AppNotes)
	return s
}

// Status returns a copy of a cloud's status.
func (m *Manager) Status(cloudUUID string) (Status, bool) { return m.status.Get(cloudUUID) }

// Runtime is a Mesos cloud's status, for the cloud's runtime in the API.
func (m *Manager) Runtime(c *avi.Cloud) (any, bool) { return m.Status(c.UUID) }

// runner is one cloud's list-watch loop.
type runner struct {
	key    string // the cloud's Mesos configuration; a change restarts the loop
	cancel context.CancelFunc
	done   chan struct{}
}

// Run follows the store: a loop starts for each Mesos cloud, restarts when its configuration
// changes, and stops, deleting the objects the cloud made, when the cloud goes or stops being a
// Mesos cloud. It returns when ctx is done and every loop has stopped.
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
				// The status goes first: a reader that finds the objects gone finds it gone too.
				m.status.Delete(uuid)
				if err := orchsync.RemoveAll(m.Store, m.Owner(uuid)); err != nil {
					log.Error("delete the objects of a removed Mesos cloud", "cloud", uuid, "err", err)
				}
			}
		}
		for uuid, cloud := range want {
			if _, ok := runners[uuid]; ok {
				continue
			}
			r, err := m.start(ctx, cloud)
			if err != nil {
				log.Error("Mesos cloud not started", "cloud", cloud.Name, "err", err)
				m.status.Update(uuid, func(s *Status) { s.State, s.Reason = "ERROR", err.Error() })
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
	for _, c := range store.List[*avi.Cloud](m.Store) {
		if c.Vtype == avi.CloudMesos && c.MesosConfiguration != nil {
			out[c.UUID] = c
		}
	}
	return out
}

// cloudKey is what, when it changes, restarts a cloud's loop: its Marathons, credentials
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
	mapper := &mapping.Mapper{CloudRef: avi.KindCloud.URL(uuid), Resolve: m.Resolve}
	src := &marathon.AppSource{Client: client, OnApps: func(ctx context.Context, apps []marathon.App) {
		m.sync(uuid, apps, mapper.Map(ctx, apps))
	}}
	opts := listwatch.Options{
		Debounce: m.Debounce,
		Resync:   time.Duration(cloud.MesosConfiguration.AppSyncFrequency) * time.Second,
		OnError: func(err error, retryIn time.Duration) {
			log.Warn("marathon app list read failed", "err", err, "retry_in", retryIn)
			m.status.Update(uuid, func(s *Status) { s.State, s.Reason = "ERROR", err.Error() })
		},
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &runner{key: cloudKey(cloud), cancel: cancel, done: make(chan struct{})}
	m.status.Update(uuid, func(s *Status) { s.State, s.Reason = "SYNCING", "" })
	go func() {
		defer close(r.done)
		listwatch.Run(ctx, src, opts)
	}()
	return r, nil
}

// Owner is the created_by prefix of a cloud's objects.
func (m *Manager) Owner(cloudUUID string) string { return "marathon:" + cloudUUID + ":" }

// sync makes the store hold what the apps map to.
func (m *Manager) sync(cloud string, apps []marathon.App, results []mapping.Result) {
	groups := make([]orchsync.Group, 0, len(results))
	for _, r := range results {
		groups = append(groups, orchsync.Group{Key: r.AppID, VirtualServices: r.VirtualServices, Pools: r.Pools,
			HealthMonitors: r.HealthMonitors, Notes: r.Notes, Err: r.Err})
	}
	rep := orchsync.Sync(m.Store, m.Owner(cloud), groups, orchsync.Options{})
	for _, e := range rep.Errors {
		if e.Key == "" {
			m.logger().Error("Mesos cloud sync", "cloud", cloud, "err", e.Message)
		}
	}
	m.status.Update(cloud, func(s *Status) {
		s.State, s.Reason = "SYNCED", ""
		s.LastSync = time.Now().UTC().Format(time.RFC3339)
		s.Apps, s.VirtualServices = len(apps), rep.VirtualServices
		s.AppErrors, s.AppNotes = appIssues(rep.Errors), appIssues(rep.Notes)
	})
}

func appIssues(is []orchsync.Issue) []AppIssue {
	var out []AppIssue
	for _, i := range is {
		out = append(out, AppIssue{AppID: i.Key, Message: i.Message})
	}
	return out
}
