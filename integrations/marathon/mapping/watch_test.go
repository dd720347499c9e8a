package mapping_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/marathon"
	"github.com/avi-init/avi-init/integrations/marathon/mapping"
	"github.com/avi-init/avi-init/integrations/marathon/marathontest"
	"github.com/avi-init/avi-init/internal/listwatch"
)

// TestAppsFollowMarathon runs the whole chain against the test server: Marathon's changes
// reach the mapped objects within a second.
func TestAppsFollowMarathon(t *testing.T) {
	s := marathontest.NewServer(t)
	client, err := marathon.NewClient(marathon.Config{Endpoints: []marathon.Endpoint{{URL: s.URL}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mapper := &mapping.Mapper{CloudRef: cloudRef, Resolve: hosts}
	updates := make(chan []mapping.Result, 100)
	src := &marathon.AppSource{Client: client, OnApps: func(ctx context.Context, apps []marathon.App) { updates <- mapper.Map(ctx, apps) }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		listwatch.Run(ctx, src, listwatch.Options{OnError: func(err error, _ time.Duration) { t.Errorf("list: %v", err) }})
	}()
	defer func() {
		cancel()
		<-done
	}()

	// waitFor waits up to a second for a mapping where the app is in the wanted state.
	var latest []mapping.Result
	waitFor := func(what, appID string, ok func(r *mapping.Result) bool) {
		t.Helper()
		deadline := time.After(time.Second)
		for {
			var found *mapping.Result
			for i := range latest {
				if latest[i].AppID == appID {
					found = &latest[i]
				}
			}
			if ok(found) {
				return
			}
			select {
			case latest = <-updates:
			case <-deadline:
				t.Fatalf("%s: not within a second; last mapping of %s: %+v", what, appID, found)
			}
		}
	}
	members := func(n int) func(r *mapping.Result) bool {
		return func(r *mapping.Result) bool {
			return r != nil && r.Err == nil && len(r.Pools) == 1 && len(r.Pools[0].Servers) == n
		}
	}

	def, err := os.ReadFile("../testdata/marathon-docs_app.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddApp(def); err != nil {
		t.Fatal(err)
	}
	waitFor("a new app with two tasks", "/foo", members(2))
	if vs := latest[0].VirtualServices[0]; vs.Name != "foo-10019" || vs.Services[0].Port != 10019 || !vs.EastWestPlacement {
		t.Errorf("virtual service %+v", vs)
	}

	if err := s.Scale("/foo", 4); err != nil {
		t.Fatal(err)
	}
	waitFor("scaled up", "/foo", members(4))

	tasks := s.Tasks("/foo")
	if err := s.KillTask("/foo", tasks[0]); err != nil {
		t.Fatal(err)
	}
	killedPort := latest[0].Pools[0].Servers[0].Port
	waitFor("a killed task replaced", "/foo", func(r *mapping.Result) bool {
		return members(4)(r) && r.Pools[0].Servers[0].Port != killedPort
	})

	if err := s.SetTaskHealth("/foo", tasks[1], false); err != nil {
		t.Fatal(err)
	}
	waitFor("an unhealthy task left out", "/foo", members(3))

	// A leader change: health results vanish without an event, then another app comes.
	s.DropHealthResults()
	host, err := os.ReadFile("../testdata/marathon-lb_ci_docker_host_app.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddApp(host); err != nil {
		t.Fatal(err)
	}
	waitFor("the second app", "/nginx-docker-host", members(4))
	waitFor("health kept across the leader change", "/foo", members(3))

	broken := strings.NewReplacer(`"/nginx-docker-host"`, `"/broken"`, `"HAPROXY_GROUP"`, `"FE-Proxy": "yes", "HAPROXY_GROUP"`).Replace(string(host))
	if _, err := s.AddApp([]byte(broken)); err != nil {
		t.Fatal(err)
	}
	waitFor("a broken app reported", "/broken", func(r *mapping.Result) bool { return r != nil && r.Err != nil })
	waitFor("the others unaffected", "/foo", members(3))

	if err := s.DeleteApp("/foo"); err != nil {
		t.Fatal(err)
	}
	waitFor("a deleted app gone", "/foo", func(r *mapping.Result) bool { return r == nil })
}
