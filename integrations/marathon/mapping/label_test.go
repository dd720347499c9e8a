package mapping_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/integrations/marathon"
	"github.com/avi-init/avi-init/integrations/marathon/mapping"
	"github.com/avi-init/avi-init/model/avi"
)

// designLabel is DESIGN.md's example, with a subnet.
const designLabel = `{"virtualservice": {"ip_address": {"addr": "198.51.100.7", "type": "V4"},
                    "subnet": {"ip_addr": {"addr": "198.51.100.0", "type": "V4"}, "mask": 24},
                    "services": [{"port": 8080}],
                    "analytics_policy": {"metrics_realtime_update": {"enabled": true, "duration": 30},
                                         "client_insights": "NO_INSIGHTS",
                                         "full_client_logs": {"enabled": false}}},
 "pool": {"lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN"}}`

// labelled is the nginx-blue fixture app with labels added.
func labelled(t testing.TB, labels map[string]string) marathon.App {
	t.Helper()
	a := fixture(t, "marathon-lb_zdd_apps.json")[1]
	a.Labels = labels
	return a
}

func TestNorthSouth(t *testing.T) {
	r := mapApps(labelled(t, map[string]string{"FE-Proxy": "Yes", "avi_proxy": designLabel}))[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	vs, pool := r.VirtualServices[0], r.Pools[0]
	want := &avi.VirtualService{
		Meta:                  avi.Meta{Name: "nginx-blue-10001"},
		IPAddress:             &avi.IPAddr{Addr: "198.51.100.7", Type: "V4"},
		Subnet:                &avi.Subnet{IPAddr: avi.IPAddr{Addr: "198.51.100.0", Type: "V4"}, Mask: 24},
		Services:              []avi.Service{{Port: 8080}},
		PoolRef:               "/api/pool?name=nginx-blue-10001",
		ApplicationProfileRef: "/api/applicationprofile?name=System-HTTP",
		AnalyticsPolicy: &avi.AnalyticsPolicy{
			MetricsRealtimeUpdate: &avi.Toggle{Enabled: true, Duration: 30},
			ClientInsights:        "NO_INSIGHTS",
			FullClientLogs:        &avi.Toggle{Enabled: false},
		},
		Enabled:  vs.Enabled,
		CloudRef: cloudRef,
	}
	if !reflect.DeepEqual(vs, want) || !vs.IsEnabled() {
		g, _ := json.Marshal(vs)
		w, _ := json.Marshal(want)
		t.Errorf("got  %s\nwant %s", g, w)
	}
	if pool.LBAlgorithm != avi.LBRoundRobin || len(pool.Servers) != 1 {
		t.Errorf("pool %+v", pool)
	}
}

func TestEastWestWithLabel(t *testing.T) {
	r := mapApps(labelled(t, map[string]string{"avi_proxy": designLabel}))[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	vs := r.VirtualServices[0]
	if vs.IPAddress != nil || vs.Subnet != nil || !vs.EastWestPlacement || vs.Services[0].Port != 8080 || !vs.AnalyticsPolicy.MetricsRealtimeUpdate.Enabled {
		t.Errorf("got %+v", vs)
	}
	if want := []string{"avi_proxy ip_address and subnet are used only with FE-Proxy: yes"}; !reflect.DeepEqual(r.Notes, want) {
		t.Errorf("notes %q, want %q", r.Notes, want)
	}
}

func TestLabelSettings(t *testing.T) {
	cases := []struct {
		labels map[string]string
		check  func(vs *avi.VirtualService, pool *avi.Pool) bool
	}{
		{map[string]string{"avi_proxy": `{"virtualservice": {"enabled": false}}`},
			func(vs *avi.VirtualService, _ *avi.Pool) bool { return !vs.IsEnabled() }},
		{map[string]string{"avi_proxy": `{}`, "FE-Proxy": "no"},
			func(vs *avi.VirtualService, _ *avi.Pool) bool {
				return vs.EastWestPlacement && vs.Services[0].Port == 10001
			}},
		{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": 443, "enable_ssl": true}]}}`},
			func(vs *avi.VirtualService, _ *avi.Pool) bool {
				return vs.Services[0] == avi.Service{Port: 443, EnableSSL: true}
			}},
		{map[string]string{"FE-Proxy": " YES ", "avi_proxy": `{"virtualservice": {"ip_address": {"addr": "2001:db8::7", "type": "V6"}, "east_west_placement": true}}`},
			func(vs *avi.VirtualService, _ *avi.Pool) bool {
				return vs.IPAddress.Addr == "2001:db8::7" && vs.EastWestPlacement && vs.Services[0].Port == 10001
			}},
		{map[string]string{"avi_proxy": `{"pool": {"lb_algorithm": "LB_ALGORITHM_CONSISTENT_HASH"}}`},
			func(_ *avi.VirtualService, p *avi.Pool) bool {
				return p.LBAlgorithm == avi.LBConsistentHash && p.LBAlgorithmHash == "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS"
			}},
	}
	for _, c := range cases {
		r := mapApps(labelled(t, c.labels))[0]
		if r.Err != nil {
			t.Errorf("%v: %v", c.labels, r.Err)
			continue
		}
		if !c.check(r.VirtualServices[0], r.Pools[0]) {
			t.Errorf("%v: got %+v %+v", c.labels, r.VirtualServices[0], r.Pools[0])
		}
	}
}

// badLabels are labels that skip their app, with the error each gives.
var badLabels = []struct {
	labels map[string]string
	err    string
}{
	{map[string]string{"avi_proxy": `not json`}, "avi_proxy label: want a JSON object"},
	{map[string]string{"avi_proxy": `null`}, "avi_proxy label: want a JSON object"},
	{map[string]string{"avi_proxy": `[{"virtualservice": {}}]`}, "avi_proxy label: want a JSON object"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"ip_address": `}, "avi_proxy label: not valid JSON: it ends early"},
	{map[string]string{"avi_proxy": `{"virtualservice": {,}}`}, "avi_proxy label: not valid JSON at byte 21: invalid character ',' looking for beginning of object key string"},
	{map[string]string{"avi_proxy": `{} {}`}, "avi_proxy label: text after the JSON object"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"bogus": 1}}`}, `avi_proxy label: unknown field "bogus"`},
	{map[string]string{"avi_proxy": `{"virtualservice": {"name": "mine"}}`}, `avi_proxy label: unknown field "name"`},
	{map[string]string{"avi_proxy": `{"virtualservice": {}, "healthmonitor": {}}`}, `avi_proxy label: unknown field "healthmonitor"`},
	{map[string]string{"avi_proxy": `{"pool": {"servers": []}}`}, `avi_proxy label: unknown field "servers"`},
	{map[string]string{"avi_proxy": `{"virtualservice": {"ip_address": {"addr": "198.51.100.7", "type": "V4", "mask": 1}}}`}, `avi_proxy label: unknown field "mask"`},
	{map[string]string{"avi_proxy": `{"virtualservice": {"services": "80"}}`}, "avi_proxy label: virtualservice.services: got a JSON string, want a list"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": "80"}]}}`}, "avi_proxy label: virtualservice.services.port: got a JSON string, want an integer"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": 80.5}]}}`}, "avi_proxy label: virtualservice.services.port: got a JSON number 80.5, want an integer"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"enabled": "yes"}}`}, "avi_proxy label: virtualservice.enabled: got a JSON string, want true or false"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"analytics_policy": {"full_client_logs": 1}}}`}, "avi_proxy label: virtualservice.analytics_policy.full_client_logs: got a JSON number, want an object"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": 70000}]}}`}, "nginx-blue-10001: services[0].port: 70000: want 1 to 65535"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": 1}, {"port": 2}]}}`}, "the avi_proxy label lists 2 services for the app's 1 ports"},
	{map[string]string{"avi_proxy": `{"virtualservice": {"analytics_policy": {"client_insights": "ALL"}}}`}, `nginx-blue-10001: analytics_policy.client_insights: "ALL": want one of NO_INSIGHTS, PASSIVE, ACTIVE`},
	{map[string]string{"avi_proxy": `{"pool": {"lb_algorithm": "FASTEST"}}`}, `nginx-blue-10001: lb_algorithm: "FASTEST": want one of`},
	{map[string]string{"FE-Proxy": "yes", "avi_proxy": `{"virtualservice": {"ip_address": {"addr": "300.1.1.1", "type": "V4"}}}`}, `nginx-blue-10001: ip_address.addr: "300.1.1.1" is not an IPv4 address`},
	{map[string]string{"FE-Proxy": "yes", "avi_proxy": `{"virtualservice": {"ip_address": {"addr": "vip.example", "type": "DNS"}}}`}, `nginx-blue-10001: ip_address.type: a VIP must be V4 or V6`},
	{map[string]string{"FE-Proxy": "yes", "avi_proxy": `{"virtualservice": {"services": [{"port": 80}]}}`}, "label FE-Proxy is yes, but the avi_proxy label gives no virtualservice.ip_address"},
	{map[string]string{"FE-Proxy": "yes"}, "label FE-Proxy is yes, but the avi_proxy label gives no virtualservice.ip_address"},
	{map[string]string{"FE-Proxy": "1"}, `label FE-Proxy is "1": want yes or no`},
}

// TestBadLabels: each bad label skips its app with an error naming the app and the fault, and
// leaves the other apps' objects exactly as they were.
func TestBadLabels(t *testing.T) {
	others := fixture(t, "marathon-lb_zdd_apps.json")[:1]
	alone := mapApps(others...)
	for _, c := range badLabels {
		results := mapApps(append([]marathon.App{labelled(t, c.labels)}, others...)...)
		r := results[0]
		if r.Err == nil || !strings.HasPrefix(r.Err.Error(), "app /nginx-blue: ") || !strings.Contains(r.Err.Error(), c.err) {
			t.Errorf("%v: got %v, want %q", c.labels, r.Err, c.err)
		}
		if len(r.VirtualServices)+len(r.Pools)+len(r.HealthMonitors) != 0 {
			t.Errorf("%v: an app in error maps to objects", c.labels)
		}
		if !reflect.DeepEqual(results[1:], alone) {
			t.Errorf("%v: the other apps changed", c.labels)
		}
	}
}

// FuzzAviProxyLabel: no label crashes the mapping or changes another app's objects, and a
// label that is accepted yields valid objects.
func FuzzAviProxyLabel(f *testing.F) {
	f.Add(designLabel, true)
	f.Add(`{"virtualservice": {"services": [{"port": 443, "enable_ssl": true}]}}`, false)
	for _, c := range badLabels {
		f.Add(c.labels["avi_proxy"], c.labels["FE-Proxy"] != "")
	}
	others := fixture(f, "marathon-lb_zdd_apps.json")[:1]
	alone := mapApps(others...)
	f.Fuzz(func(t *testing.T, label string, frontEnd bool) {
		labels := map[string]string{"avi_proxy": label}
		if frontEnd {
			labels["FE-Proxy"] = "yes"
		}
		results := mapApps(append([]marathon.App{labelled(t, labels)}, others...)...)
		if !reflect.DeepEqual(results[1:], alone) {
			t.Fatalf("label %q changed another app", label)
		}
		checkValid(t, results[0])
	})
}

// FuzzDecodeApps: no app list crashes decoding or mapping, and one app, however broken, never
// changes the objects of the apps around it (unless it is a valid app taking their names,
// which is then reported on them).
func FuzzDecodeApps(f *testing.F) {
	var list struct {
		Apps []json.RawMessage `json:"apps"`
	}
	for _, name := range []string{"marathon-lb_zdd_apps.json", "marathon-lb_marathon15_apps.json"} {
		data, err := os.ReadFile("../testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		var l struct {
			Apps []json.RawMessage `json:"apps"`
		}
		if err := json.Unmarshal(data, &l); err != nil {
			f.Fatal(err)
		}
		for _, a := range l.Apps {
			f.Add([]byte(a))
		}
		list.Apps = append(list.Apps, l.Apps...)
	}
	for _, name := range []string{"marathon-docs_app.json", "marathon-lb_ci_docker_bridge_app.json", "marathon-lb_ci_docker_host_app.json"} {
		data, err := os.ReadFile("../testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{"id": "/x", "tasks": [{"ports": [-1]}]}`, `{"id": "/nginx-blue", "ports": [10001]}`, `{"apps": [null]}`, `null`, `{"id": "/a\u0000b", "ports": [1]}`} {
		f.Add([]byte(s))
	}
	first, last := list.Apps[0], list.Apps[1]
	around := mapApps(decode(f, `{"apps": [`+string(first)+`,`+string(last)+`]}`)...)

	f.Fuzz(func(t *testing.T, data []byte) {
		// As a whole response.
		if apps, err := marathon.DecodeApps(data); err == nil {
			for _, r := range mapApps(apps...) {
				checkValid(t, r)
			}
		}
		// As one app among good ones.
		if !json.Valid(data) {
			return
		}
		apps := decode(t, `{"apps": [`+string(first)+`,`+string(data)+`,`+string(last)+`]}`)
		results := mapApps(apps...)
		if len(results) != 3 {
			t.Fatalf("%d results", len(results))
		}
		checkValid(t, results[1])
		for i, want := range []mapping.Result{around[0], around[1]} {
			got := results[2*i]
			if reflect.DeepEqual(got, want) {
				continue
			}
			taken := results[1].Err == nil && got.Err != nil && strings.HasSuffix(got.Err.Error(), "is already the name of an object of app "+results[1].AppID)
			if !taken {
				t.Fatalf("app %s changed next to %q: %+v", want.AppID, data, got)
			}
		}
	})
}

func decode(t testing.TB, body string) []marathon.App {
	t.Helper()
	apps, err := marathon.DecodeApps([]byte(body))
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return apps
}

// checkValid: a result is an error or valid objects, never both.
func checkValid(t *testing.T, r mapping.Result) {
	t.Helper()
	if r.Err != nil {
		if len(r.VirtualServices)+len(r.Pools)+len(r.HealthMonitors) != 0 {
			t.Fatalf("%s: objects and an error", r.AppID)
		}
		return
	}
	for _, vs := range r.VirtualServices {
		if err := vs.Validate(); err != nil {
			t.Fatalf("%s: %v", r.AppID, err)
		}
	}
	for _, p := range r.Pools {
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", r.AppID, err)
		}
	}
	for _, h := range r.HealthMonitors {
		if err := h.Validate(); err != nil {
			t.Fatalf("%s: %v", r.AppID, err)
		}
	}
}
