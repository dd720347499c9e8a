package marathon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixtureApps reads a fixture: an app list, or a single app definition as POSTed.
func fixtureApps(t *testing.T, name string) []App {
	t.Helper()
	data := readFixture(t, name)
	if strings.Contains(name, "_apps") {
		apps, err := DecodeApps(data)
		if err != nil {
			t.Fatal(err)
		}
		return apps
	}
	var a App
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	return []App{a}
}

// TestFixtures reads every app fixture: ports from whichever field that Marathon version uses,
// task addresses, states and health.
func TestFixtures(t *testing.T) {
	type task struct {
		host           string
		ports          []int
		running, alive bool
	}
	type want struct {
		id        string
		ports     []Port
		ipPerTask bool
		checks    int
		tasks     []task
	}
	cases := []struct {
		fixture string
		apps    []want
	}{
		{"marathon-lb_zdd_apps.json", []want{
			{id: "/nginx-green", ports: []Port{{ServicePort: 10000, ContainerPort: 8080, Protocol: "tcp"}}, checks: 1, tasks: []task{
				{"10.0.6.25", []int{16916}, true, true},
				{"10.0.6.25", []int{31184}, true, true},
				{"10.0.6.25", []int{23336}, true, true},
			}},
			{id: "/nginx-blue", ports: []Port{{ServicePort: 10001, ContainerPort: 8080, Protocol: "tcp"}}, checks: 1, tasks: []task{
				{"10.0.1.147", []int{25724}, true, true},
			}},
		}},
		{"marathon-lb_marathon15_apps.json", []want{
			{id: "/pywebserver", ports: []Port{{ServicePort: 10101, ContainerPort: 80, Protocol: "tcp", Name: "test"}}, tasks: []task{
				{"10.0.2.148", []int{1565}, true, true},
			}},
		}},
		{"marathon-docs_app.json", []want{
			{id: "/foo", ports: []Port{{ServicePort: 10019, ContainerPort: 80, Protocol: "tcp", Name: "http"}}, checks: 1},
		}},
		{"marathon-lb_ci_docker_bridge_app.json", []want{
			{id: "/nginx-docker-bridge", ports: []Port{{ContainerPort: 80, Protocol: "tcp"}}},
		}},
		{"marathon-lb_ci_docker_host_app.json", []want{
			{id: "/nginx-docker-host", ports: []Port{{Protocol: "tcp"}}},
		}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			apps := fixtureApps(t, c.fixture)
			if len(apps) != len(c.apps) {
				t.Fatalf("got %d apps, want %d", len(apps), len(c.apps))
			}
			for i, w := range c.apps {
				a := &apps[i]
				if a.ID != w.id || a.Err != nil {
					t.Errorf("app %d: id %q err %v, want %q", i, a.ID, a.Err, w.id)
				}
				if got := a.PortList(); !reflect.DeepEqual(got, w.ports) {
					t.Errorf("%s: ports %+v, want %+v", w.id, got, w.ports)
				}
				if a.IPPerTask() != w.ipPerTask {
					t.Errorf("%s: IP per task %v, want %v", w.id, a.IPPerTask(), w.ipPerTask)
				}
				if len(a.HealthChecks) != w.checks {
					t.Errorf("%s: %d health checks, want %d", w.id, len(a.HealthChecks), w.checks)
				}
				var got []task
				for _, tk := range a.Tasks {
					got = append(got, task{tk.Host, tk.Ports, tk.Running(), a.Healthy(&tk)})
				}
				if !reflect.DeepEqual(got, w.tasks) {
					t.Errorf("%s: tasks %+v, want %+v", w.id, got, w.tasks)
				}
			}
		})
	}
}

func TestHealthCheckFields(t *testing.T) {
	hc := fixtureApps(t, "marathon-docs_app.json")[0].HealthChecks[0]
	three := 3
	want := HealthCheck{Protocol: "HTTP", Path: "/", IntervalSeconds: 20, TimeoutSeconds: 20, MaxConsecutiveFailures: &three}
	if !reflect.DeepEqual(hc, want) {
		t.Errorf("got %+v, want %+v", hc, want)
	}
}

func TestDecodeAppsKeepsGoodApps(t *testing.T) {
	apps, err := DecodeApps([]byte(`{"apps": [
		{"id": "/a", "portDefinitions": [{"port": 10000}]},
		{"id": "/b", "portDefinitions": [{"port": "ten"}]},
		{"id": 7},
		null,
		{"id": "/c", "unknown": {"deep": [1, 2]}, "tasks": []}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range apps {
		s := a.ID
		if a.Err != nil {
			s += " error: " + a.Err.Error()
		}
		got = append(got, s)
	}
	want := []string{
		"/a",
		`/b error: decode app /b: json: cannot unmarshal string into Go struct field PortDefinition.portDefinitions.port of type int`,
		"apps[2] error: decode app apps[2]: json: cannot unmarshal number into Go struct field App.id of type string",
		"apps[3] error: decode app apps[3]: no id",
		"/c",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if apps[1].PortDefinitions != nil {
		t.Error("an app that failed to decode keeps fields it half read")
	}
}

func TestDecodeAppsRefusesNonLists(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"apps": 3}`, `<html>502</html>`, `[]`, `{"message": "Invalid username or password."}`} {
		if apps, err := DecodeApps([]byte(body)); err == nil {
			t.Errorf("%q: got %d apps and no error", body, len(apps))
		}
	}
	if apps, err := DecodeApps([]byte(`{"apps": []}`)); err != nil || len(apps) != 0 {
		t.Errorf("empty list: %v %v", apps, err)
	}
}

func TestIPPerTask(t *testing.T) {
	cases := []struct {
		app  string
		want bool
	}{
		{`{}`, false},
		{`{"networks": [{"mode": "container", "name": "dcos"}]}`, true},
		{`{"networks": [{"mode": "container/bridge"}]}`, false},
		{`{"networks": [{"mode": "host"}], "ipAddress": {}}`, false},
		{`{"ipAddress": {"networkName": "dcos"}}`, true},
		{`{"ipAddress": {}, "container": {"docker": {"network": "USER"}}}`, true},
		{`{"ipAddress": {}, "container": {"docker": {"network": "BRIDGE"}}}`, false},
		{`{"container": {"docker": {"network": "USER"}}}`, false},
	}
	for _, c := range cases {
		var a App
		if err := json.Unmarshal([]byte(c.app), &a); err != nil {
			t.Fatal(err)
		}
		if got := a.IPPerTask(); got != c.want {
			t.Errorf("%s: got %v, want %v", c.app, got, c.want)
		}
	}
}

func TestPortListSources(t *testing.T) {
	cases := []struct {
		app  string
		want []Port
	}{
		{`{"container": {"portMappings": [{"containerPort": 80, "servicePort": 10101}], "docker": {"portMappings": [{"servicePort": 1}]}}, "portDefinitions": [{"port": 2}]}`,
			[]Port{{ServicePort: 10101, ContainerPort: 80}}},
		{`{"container": {"docker": {"portMappings": [{"containerPort": 8080, "servicePort": 10000, "protocol": "udp"}]}}, "portDefinitions": [{"port": 2}]}`,
			[]Port{{ServicePort: 10000, ContainerPort: 8080, Protocol: "udp"}}},
		{`{"portDefinitions": [{"port": 10000, "name": "web"}, {"port": 10001}], "ports": [1, 2]}`,
			[]Port{{ServicePort: 10000, Name: "web"}, {ServicePort: 10001}}},
		{`{"ports": [10005]}`, []Port{{ServicePort: 10005}}},
		{`{"ipAddress": {"discovery": {"ports": [{"number": 8080, "name": "http", "protocol": "tcp"}]}}}`,
			[]Port{{ContainerPort: 8080, Name: "http", Protocol: "tcp"}}},
		{`{}`, nil},
	}
	for _, c := range cases {
		var a App
		if err := json.Unmarshal([]byte(c.app), &a); err != nil {
			t.Fatal(err)
		}
		if got := a.PortList(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.app, got, c.want)
		}
	}
}

func TestPortTCP(t *testing.T) {
	for proto, want := range map[string]bool{"": true, "tcp": true, "TCP": true, "udp,tcp": true, "udp": false, "sctp": false} {
		if got := (Port{Protocol: proto}).TCP(); got != want {
			t.Errorf("%q: got %v, want %v", proto, got, want)
		}
	}
}

func TestTaskRunningAndHealthy(t *testing.T) {
	alive, dead := HealthResult{Alive: true}, HealthResult{Alive: false}
	checked := &App{HealthChecks: []HealthCheck{{}, {}}}
	unchecked := &App{}
	cases := []struct {
		name             string
		task             Task
		app              *App
		running, healthy bool
	}{
		{"1.5 running", Task{State: "TASK_RUNNING"}, unchecked, true, true},
		{"1.5 staging", Task{State: "TASK_STAGING", StartedAt: "x"}, unchecked, false, true},
		{"1.5 killing", Task{State: "TASK_KILLING", StartedAt: "x"}, unchecked, false, true},
		{"pre-1.5 started", Task{StartedAt: "2016-02-01T22:14:03.432Z"}, unchecked, true, true},
		{"pre-1.5 staged", Task{}, unchecked, false, true},
		{"all alive", Task{State: "TASK_RUNNING", HealthCheckResults: []HealthResult{alive, alive}}, checked, true, true},
		{"one dead", Task{State: "TASK_RUNNING", HealthCheckResults: []HealthResult{alive, dead}}, checked, true, false},
		{"no results yet", Task{State: "TASK_RUNNING"}, checked, true, false},
	}
	for _, c := range cases {
		if got := c.task.Running(); got != c.running {
			t.Errorf("%s: running %v, want %v", c.name, got, c.running)
		}
		if got := c.app.Healthy(&c.task); got != c.healthy {
			t.Errorf("%s: healthy %v, want %v", c.name, got, c.healthy)
		}
	}
}
