package mapping_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/integrations/marathon"
	"github.com/avi-init/avi-init/integrations/marathon/mapping"
	"github.com/avi-init/avi-init/model/avi"
)

const cloudRef = "/api/cloud/cloud-mesos"

// hosts is the resolver of the tests: a few agent names, no DNS.
func hosts(_ context.Context, host string) (netip.Addr, error) {
	switch host {
	case "agent-1.mesos":
		return netip.MustParseAddr("192.0.2.11"), nil
	case "agent-6.mesos":
		return netip.MustParseAddr("2001:db8::6"), nil
	}
	return netip.Addr{}, fmt.Errorf("lookup %s: no such host", host)
}

func mapApps(apps ...marathon.App) []mapping.Result {
	m := &mapping.Mapper{CloudRef: cloudRef, Resolve: hosts}
	return m.Map(context.Background(), apps)
}

func fixture(t testing.TB, name string) []marathon.App {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(name, "_apps") {
		apps, err := marathon.DecodeApps(data)
		if err != nil {
			t.Fatal(err)
		}
		return apps
	}
	var a marathon.App
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	return []marathon.App{a}
}

func app(t testing.TB, def string) marathon.App {
	t.Helper()
	apps, err := marathon.DecodeApps([]byte(`{"apps": [` + def + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return apps[0]
}

// summary is what a test compares of a Result: one line per object.
type summary struct {
	Objects []string
	Notes   []string
	Err     string
}

func summarize(r mapping.Result) summary {
	s := summary{Notes: r.Notes}
	if r.Err != nil {
		s.Err = r.Err.Error()
	}
	for _, v := range r.VirtualServices {
		line := fmt.Sprintf("vs %s port %d %s pool=%s", v.Name, v.Services[0].Port, strings.TrimPrefix(v.ApplicationProfileRef, "/api/applicationprofile?name="), strings.TrimPrefix(v.PoolRef, "/api/pool?name="))
		if v.IPAddress != nil {
			line += " vip=" + v.IPAddress.Addr
		}
		if v.EastWestPlacement {
			line += " east-west"
		}
		if v.CloudRef != cloudRef {
			line += " cloud=" + v.CloudRef
		}
		s.Objects = append(s.Objects, line)
	}
	for _, p := range r.Pools {
		var members []string
		for _, m := range p.Servers {
			members = append(members, netip.AddrPortFrom(netip.MustParseAddr(m.IP.Addr), uint16(m.Port)).String())
		}
		var monitors []string
		for _, ref := range p.HealthMonitorRefs {
			monitors = append(monitors, strings.TrimPrefix(ref, "/api/healthmonitor?name="))
		}
		line := fmt.Sprintf("pool %s %s [%s] monitors=%v", p.Name, p.LBAlgorithm, strings.Join(members, " "), monitors)
		if p.CloudRef != cloudRef {
			line += " cloud=" + p.CloudRef
		}
		s.Objects = append(s.Objects, line)
	}
	for _, h := range r.HealthMonitors {
		line := fmt.Sprintf("hm %s %s every %ds timeout %ds up after %d down after %d", h.Name, h.Type, h.SendInterval, h.ReceiveTimeout, h.SuccessfulChecks, h.FailedChecks)
		if h.HTTPMonitor != nil {
			line += fmt.Sprintf(" %q %v", h.HTTPMonitor.HTTPRequest, h.HTTPMonitor.HTTPResponseCode)
		}
		s.Objects = append(s.Objects, line)
	}
	return s
}

func checkSummary(t *testing.T, what string, got, want summary) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

// TestFixtures maps every recorded payload: ports from each Marathon version's fields, members
// from running healthy tasks on their hosts' ports, monitors from the health checks.
func TestFixtures(t *testing.T) {
	cases := []struct {
		fixture string
		want    map[string]summary
	}{
		{"marathon-lb_zdd_apps.json", map[string]summary{
			"/nginx-green": {Objects: []string{
				"vs nginx-green-10000 port 10000 System-HTTP pool=nginx-green-10000 east-west",
				"pool nginx-green-10000 LB_ALGORITHM_LEAST_CONNECTIONS [10.0.6.25:16916 10.0.6.25:23336 10.0.6.25:31184] monitors=[nginx-green-10000-hc0]",
				`hm nginx-green-10000-hc0 HEALTH_MONITOR_HTTP every 3s timeout 2s up after 1 down after 10 "GET / HTTP/1.0" [HTTP_2XX HTTP_3XX]`,
			}},
			"/nginx-blue": {Objects: []string{
				"vs nginx-blue-10001 port 10001 System-HTTP pool=nginx-blue-10001 east-west",
				"pool nginx-blue-10001 LB_ALGORITHM_LEAST_CONNECTIONS [10.0.1.147:25724] monitors=[nginx-blue-10001-hc0]",
				`hm nginx-blue-10001-hc0 HEALTH_MONITOR_HTTP every 3s timeout 2s up after 1 down after 10 "GET / HTTP/1.0" [HTTP_2XX HTTP_3XX]`,
			}},
		}},
		// Bridge networking: the task's 172.17.0.2 is private to its agent; the host port is used.
		{"marathon-lb_marathon15_apps.json", map[string]summary{
			"/pywebserver": {Objects: []string{
				"vs pywebserver-10101 port 10101 System-L4-Application pool=pywebserver-10101 east-west",
				"pool pywebserver-10101 LB_ALGORITHM_LEAST_CONNECTIONS [10.0.2.148:1565] monitors=[]",
			}},
		}},
		{"marathon-docs_app.json", map[string]summary{
			"/foo": {Objects: []string{
				"vs foo-10019 port 10019 System-HTTP pool=foo-10019 east-west",
				"pool foo-10019 LB_ALGORITHM_LEAST_CONNECTIONS [] monitors=[foo-10019-hc0]",
				`hm foo-10019-hc0 HEALTH_MONITOR_HTTP every 20s timeout 19s up after 1 down after 3 "GET / HTTP/1.0" [HTTP_2XX HTTP_3XX]`,
			}},
		}},
		// Definitions as POSTed: Marathon has not assigned the service ports yet.
		{"marathon-lb_ci_docker_bridge_app.json", map[string]summary{
			"/nginx-docker-bridge": {Err: "app /nginx-docker-bridge: port 0 has no service port (Marathon assigns one when it deploys the app) and the avi_proxy label gives none"},
		}},
		{"marathon-lb_ci_docker_host_app.json", map[string]summary{
			"/nginx-docker-host": {Err: "app /nginx-docker-host: port 0 has no service port (Marathon assigns one when it deploys the app) and the avi_proxy label gives none"},
		}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			results := mapApps(fixture(t, c.fixture)...)
			if len(results) != len(c.want) {
				t.Fatalf("%d results, want %d", len(results), len(c.want))
			}
			for _, r := range results {
				checkSummary(t, r.AppID, summarize(r), c.want[r.AppID])
			}
		})
	}
}

// TestFixturesAreStable maps each fixture twice, and in reverse app and task order: the same
// objects, so a re-sync changes nothing.
func TestFixturesAreStable(t *testing.T) {
	files, err := filepath.Glob("../testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		apps := fixture(t, filepath.Base(f))
		first := mapApps(apps...)
		reversed := slices.Clone(apps)
		slices.Reverse(reversed)
		for i := range reversed {
			reversed[i].Tasks = slices.Clone(reversed[i].Tasks)
			slices.Reverse(reversed[i].Tasks)
		}
		second := mapApps(reversed...)
		slices.Reverse(second)
		if !reflect.DeepEqual(first, second) {
			t.Errorf("%s: mapping depends on order", f)
		}
	}
}

func TestTaskMembership(t *testing.T) {
	checks := `"healthChecks": [{"protocol": "TCP", "portIndex": 1}]`
	cases := []struct {
		name string
		app  string
		want summary
	}{
		{"host networking, two ports, host names resolved", `{"id": "/shop/api", "portDefinitions": [{"port": 10010, "name": "http"}, {"port": 10011}],` + checks + `, "tasks": [
			{"id": "a", "host": "agent-1.mesos", "ports": [31001, 31002], "state": "TASK_RUNNING", "healthCheckResults": [{"alive": true}]},
			{"id": "b", "host": "agent-6.mesos", "ports": [31003, 31004], "state": "TASK_RUNNING", "healthCheckResults": [{"alive": true}]},
			{"id": "sick", "host": "agent-1.mesos", "ports": [31005, 31006], "state": "TASK_RUNNING", "healthCheckResults": [{"alive": false}]},
			{"id": "grace", "host": "agent-1.mesos", "ports": [31007, 31008], "state": "TASK_RUNNING"},
			{"id": "staging", "host": "agent-1.mesos", "ports": [31009, 31010], "state": "TASK_STAGING"},
			{"id": "lost", "host": "gone.mesos", "ports": [31011, 31012], "state": "TASK_RUNNING", "healthCheckResults": [{"alive": true}]},
			{"id": "lost2", "host": "gone.mesos", "ports": [31013, 31014], "state": "TASK_RUNNING", "healthCheckResults": [{"alive": true}]},
			{"id": "short", "host": "192.0.2.12", "ports": [31015], "state": "TASK_RUNNING", "healthCheckResults": [{"alive": true}]}]}`,
			summary{Objects: []string{
				"vs shop-api-10010 port 10010 System-HTTP pool=shop-api-10010 east-west",
				"vs shop-api-10011 port 10011 System-L4-Application pool=shop-api-10011 east-west",
				"pool shop-api-10010 LB_ALGORITHM_LEAST_CONNECTIONS [192.0.2.11:31001 192.0.2.12:31015 [2001:db8::6]:31003] monitors=[]",
				"pool shop-api-10011 LB_ALGORITHM_LEAST_CONNECTIONS [192.0.2.11:31002 [2001:db8::6]:31004] monitors=[shop-api-10011-hc0]",
				"hm shop-api-10011-hc0 HEALTH_MONITOR_TCP every 60s timeout 20s up after 1 down after 3",
			}, Notes: []string{
				`tasks on host "gone.mesos" left out: lookup gone.mesos: no such host`,
				"task short has no port 1; left out of its pool",
			}}},
		{"IP per task (1.5 container network)", `{"id": "/ipt", "networks": [{"mode": "container", "name": "dcos"}],
			"container": {"portMappings": [{"containerPort": 8080, "servicePort": 10020}]}, "tasks": [
			{"id": "a", "host": "agent-1.mesos", "ports": [], "state": "TASK_RUNNING", "ipAddresses": [{"ipAddress": "fd00::5", "protocol": "IPv6"}, {"ipAddress": "9.0.0.5", "protocol": "IPv4"}]},
			{"id": "b", "host": "agent-1.mesos", "state": "TASK_RUNNING", "ipAddresses": [{"ipAddress": "fd00::6", "protocol": "IPv6"}]},
			{"id": "c", "host": "agent-1.mesos", "state": "TASK_RUNNING"}]}`,
			summary{Objects: []string{
				"vs ipt-10020 port 10020 System-L4-Application pool=ipt-10020 east-west",
				"pool ipt-10020 LB_ALGORITHM_LEAST_CONNECTIONS [9.0.0.5:8080 [fd00::6]:8080] monitors=[]",
			}, Notes: []string{"task c has no IP address yet; left out"}}},
		{"IP per task before 1.5 (discovery ports, a label for the port)", `{"id": "/old", "labels": {"avi_proxy": "{\"virtualservice\": {\"services\": [{\"port\": 10030}]}}"},
			"ipAddress": {"discovery": {"ports": [{"number": 9000, "name": "db", "protocol": "tcp"}]}}, "tasks": [
			{"id": "a", "host": "agent-1.mesos", "startedAt": "2016-01-01T00:00:00Z", "ipAddresses": [{"ipAddress": "9.0.0.7"}]}]}`,
			summary{Objects: []string{
				"vs old-10030 port 10030 System-L4-Application pool=old-10030 east-west",
				"pool old-10030 LB_ALGORITHM_LEAST_CONNECTIONS [9.0.0.7:9000] monitors=[]",
			}}},
		{"UDP port skipped", `{"id": "/dns", "portDefinitions": [{"port": 10053, "protocol": "udp"}, {"port": 10054, "protocol": "udp,tcp"}]}`,
			summary{Objects: []string{
				"vs dns-10054 port 10054 System-L4-Application pool=dns-10054 east-west",
				"pool dns-10054 LB_ALGORITHM_LEAST_CONNECTIONS [] monitors=[]",
			}, Notes: []string{`port 0: protocol "udp" is not balanced (the SE proxies TCP)`}}},
		{"no ports", `{"id": "/worker", "tasks": [{"id": "a", "host": "192.0.2.1", "state": "TASK_RUNNING"}]}`, summary{}},
		{"two ports, one service port", `{"id": "/twice", "portDefinitions": [{"port": 10060}, {"port": 10060}]}`,
			summary{Err: "app /twice: two ports have service port 10060"}},
	}
	for _, c := range cases {
		checkSummary(t, c.name, summarize(mapApps(app(t, c.app))[0]), c.want)
	}
}

func TestHealthChecks(t *testing.T) {
	cases := []struct {
		check    string
		monitor  string
		note     string
		profiled string
	}{
		{`{"protocol": "HTTP", "path": "/health", "intervalSeconds": 10, "timeoutSeconds": 5, "maxConsecutiveFailures": 0}`,
			`hm app-10000-hc0 HEALTH_MONITOR_HTTP every 10s timeout 5s up after 1 down after 1 "GET /health HTTP/1.0" [HTTP_2XX HTTP_3XX]`, "", "System-HTTP"},
		{`{"protocol": "MESOS_HTTP", "intervalSeconds": 1, "timeoutSeconds": 30, "maxConsecutiveFailures": 99}`,
			`hm app-10000-hc0 HEALTH_MONITOR_HTTP every 1s timeout 1s up after 1 down after 50 "GET / HTTP/1.0" [HTTP_2XX HTTP_3XX]`, "", "System-HTTP"},
		{`{}`, `hm app-10000-hc0 HEALTH_MONITOR_HTTP every 60s timeout 20s up after 1 down after 3 "GET / HTTP/1.0" [HTTP_2XX HTTP_3XX]`, "", "System-HTTP"},
		{`{"protocol": "TCP", "intervalSeconds": 5, "timeoutSeconds": 2}`, "hm app-10000-hc0 HEALTH_MONITOR_TCP every 5s timeout 2s up after 1 down after 3", "", "System-L4-Application"},
		{`{"protocol": "MESOS_TCP"}`, "hm app-10000-hc0 HEALTH_MONITOR_TCP every 60s timeout 20s up after 1 down after 3", "", "System-L4-Application"},
		{`{"protocol": "HTTPS", "path": "/"}`, "hm app-10000-hc0 HEALTH_MONITOR_TCP every 60s timeout 20s up after 1 down after 3",
			"health check 0: HTTPS is checked as TCP (the SE has no HTTPS monitor)", "System-L4-Application"},
		{`{"protocol": "COMMAND", "command": {"value": "curl -f localhost"}}`, "", "health check 0: COMMAND checks run in the task; not mapped", "System-L4-Application"},
		{`{"protocol": "GRPC"}`, "", `health check 0: unknown protocol "GRPC"; not mapped`, "System-L4-Application"},
		{`{"protocol": "HTTP", "path": "/a b"}`, "", `health check 0: path "/a b" is not a plain URL path; not mapped`, "System-L4-Application"},
		{`{"protocol": "HTTP", "path": "health"}`, "", `health check 0: path "health" is not a plain URL path; not mapped`, "System-L4-Application"},
		{`{"protocol": "TCP", "port": 8123}`, "", "health check 0 checks fixed port 8123, not one of the app's ports; not mapped", "System-L4-Application"},
		{`{"protocol": "TCP", "portIndex": 3}`, "", "health check 0 checks port index 3; the app has 1 ports; not mapped", "System-L4-Application"},
	}
	for _, c := range cases {
		r := mapApps(app(t, `{"id": "/app", "portDefinitions": [{"port": 10000}], "healthChecks": [`+c.check+`]}`))[0]
		if r.Err != nil {
			t.Errorf("%s: %v", c.check, r.Err)
			continue
		}
		s := summarize(r)
		var monitor string
		if len(r.HealthMonitors) == 1 {
			monitor = s.Objects[len(s.Objects)-1]
		}
		var note string
		if len(r.Notes) == 1 {
			note = r.Notes[0]
		}
		if monitor != c.monitor || note != c.note || len(r.HealthMonitors) > 1 || len(r.Notes) > 1 {
			t.Errorf("%s:\ngot  %q, notes %q\nwant %q, note %q", c.check, s.Objects, r.Notes, c.monitor, c.note)
		}
		if !strings.Contains(s.Objects[0], " "+c.profiled+" ") {
			t.Errorf("%s: %s, want profile %s", c.check, s.Objects[0], c.profiled)
		}
	}
}

// TestNameCollisions: two IDs that give one name; the first in ID order keeps it, whatever
// the list order, and an app that fails claims nothing.
func TestNameCollisions(t *testing.T) {
	nested := app(t, `{"id": "/a/b", "portDefinitions": [{"port": 10000}]}`)
	flat := app(t, `{"id": "/a-b", "portDefinitions": [{"port": 10000}]}`)
	broken := app(t, `{"id": "/a-a", "labels": {"FE-Proxy": "perhaps"}, "portDefinitions": [{"port": 10000}]}`)
	for _, order := range [][]marathon.App{{nested, flat}, {flat, nested}} {
		results := mapApps(order...)
		for _, r := range results {
			switch r.AppID {
			case "/a-b":
				if r.Err != nil {
					t.Errorf("/a-b: %v", r.Err)
				}
			case "/a/b":
				if r.Err == nil || r.Err.Error() != "app /a/b: virtualservice a-b-10000 is already the name of an object of app /a-b" {
					t.Errorf("/a/b: %v", r.Err)
				}
			}
		}
	}
	if r := mapApps(broken, flat); r[1].Err != nil {
		t.Errorf("a broken app took a name: %v", r[1].Err)
	}
	if r := mapApps(flat, flat); r[0].Err != nil || r[1].Err == nil {
		t.Errorf("one ID twice: %v, %v", r[0].Err, r[1].Err)
	}
}

func TestDecodeErrorsAreReported(t *testing.T) {
	apps, err := marathon.DecodeApps([]byte(`{"apps": [{"id": "/bad", "tasks": "none"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := mapApps(apps...)[0]
	if r.AppID != "/bad" || r.Err == nil || !strings.Contains(r.Err.Error(), "decode app /bad") || len(r.VirtualServices) != 0 {
		t.Errorf("got %+v", r)
	}
}

func TestObjectsAreValid(t *testing.T) {
	for _, r := range mapApps(fixture(t, "marathon-lb_zdd_apps.json")...) {
		var objs []avi.Object
		for _, o := range r.VirtualServices {
			objs = append(objs, o)
		}
		for _, o := range r.Pools {
			objs = append(objs, o)
		}
		for _, o := range r.HealthMonitors {
			objs = append(objs, o)
		}
		for _, o := range objs {
			if err := o.Validate(); err != nil {
				t.Errorf("%s: %v", o.GetMeta().Name, err)
			}
		}
	}
}

func TestMapperWithoutCloud(t *testing.T) {
	r := (&mapping.Mapper{Resolve: hosts}).Map(context.Background(), fixture(t, "marathon-lb_marathon15_apps.json"))
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r[0].VirtualServices[0].CloudRef != "" || r[0].Pools[0].CloudRef != "" {
		t.Error("a cloud reference from nowhere")
	}
}

func TestProfiles(t *testing.T) {
	for name, want := range map[string]string{"http": "System-HTTP", "HTTP-api": "System-HTTP", "https": "System-L4-Application", "db": "System-L4-Application", "": "System-L4-Application"} {
		r := mapApps(app(t, `{"id": "/p", "portDefinitions": [{"port": 10000, "name": "`+name+`"}]}`))[0]
		if got := r.VirtualServices[0].ApplicationProfileRef; got != "/api/applicationprofile?name="+want {
			t.Errorf("port %q: %s, want %s", name, got, want)
		}
	}
}

// TestDNS resolves through the system resolver without leaving the host.
func TestDNS(t *testing.T) {
	addr, err := mapping.DNS(t.Context(), "localhost")
	if err != nil {
		t.Skip("no localhost entry:", err)
	}
	if !addr.IsLoopback() {
		t.Errorf("localhost is %s", addr)
	}
}
