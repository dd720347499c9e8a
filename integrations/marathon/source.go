package marathon

import (
	"context"
	"errors"
)

// AppSource is a Marathon's app list as a list-watch loop (internal/listwatch) follows it: List
// reads the apps and hands them on whole; Watch turns the event stream into change notices.
type AppSource struct {
	Client *Client
	// OnApps receives every app list read, whole, one call at a time.
	OnApps func(ctx context.Context, apps []App)

	health healthMemory // used by List only
}

// List reads the app list and hands it to OnApps.
func (s *AppSource) List(ctx context.Context) error {
	if s.Client == nil || s.OnApps == nil {
		return errors.New("marathon app source: Client and OnApps are required")
	}
	apps, err := s.Client.Apps(ctx)
	if err != nil {
		return err
	}
	s.health = s.health.fill(apps)
	s.OnApps(ctx, apps)
	return nil
}

// Watch follows the event stream until ctx is done; the Client reconnects it by itself.
func (s *AppSource) Watch(ctx context.Context, notify func()) error {
	if s.Client == nil {
		return errors.New("marathon app source: Client is required")
	}
	return s.Client.Events(ctx, func(string) { notify() })
}

// healthMemory is the last health results seen per task ID. While a Marathon leader changes,
// the new leader lists tasks without results until it has checked them again; taking those
// tasks for unhealthy would empty pools of healthy apps.
type healthMemory map[string][]HealthResult

// fill gives each task of an app with health checks whose results are missing its last known
// results, and returns the memory for the next read: the results of the tasks that still exist.
func (m healthMemory) fill(apps []App) healthMemory {
	next := healthMemory{}
	for i := range apps {
		a := &apps[i]
		if len(a.HealthChecks) == 0 {
			continue
		}
		for j := range a.Tasks {
			t := &a.Tasks[j]
			if len(t.HealthCheckResults) == 0 {
				t.HealthCheckResults = m[t.ID]
			}
			if len(t.HealthCheckResults) > 0 {
				next[t.ID] = t.HealthCheckResults
			}
		}
	}
	return next
}
