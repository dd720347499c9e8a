package mapping_test

import (
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/integrations/docker/mapping"
)

const cloudRef = "/api/cloud/cloud-docker"

// recorded is ../testdata/inspect.json: shop-web-1 (healthy), -2 (unhealthy) and -3 (stopped)
// of compose service shop/web; storefront (FE-Proxy: yes, tcp 8080 on every address, tcp 9090
// on the loopback, udp 5353); broken (a label that is not JSON); hostnet (host networking).
func recorded(t testing.TB) []docker.AppContainer {
	t.Helper()
	data, err := os.ReadFile("../testdata/inspect.json")
	if err != nil {
		t.Fatal(err)
	}
	list, err := docker.DecodeInspect(data)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// The hosts of the tests: one reached over IPv4, one over IPv6, running the same containers.
var (
	se1 = netip.MustParseAddr("192.0.2.10")
	se2 = netip.MustParseAddr("2001:db8::20")
)

func mapHosts(hosts ...mapping.Host) []mapping.Result {
	m := &mapping.Mapper{CloudRef: cloudRef}
	return m.Map(hosts)
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
		where := "east-west"
		if v.IPAddress != nil {
			where = "vip " + v.IPAddress.Addr
		}
		s.Objects = append(s.Objects, fmt.Sprintf("vs %s port %d %s %s pool=%s", v.Name, v.Services[0].Port, where,
			strings.TrimPrefix(v.ApplicationProfileRef, "/api/applicationprofile?name="), strings.TrimPrefix(v.PoolRef, "/api/pool?name=")))
	}
	for _, p := range r.Pools {
		var members []string
		for _, sv := range p.Servers {
			members = append(members, netip.AddrPortFrom(netip.MustParseAddr(sv.IP.Addr), uint16(sv.Port)).String())
		}
		s.Objects = append(s.Objects, fmt.Sprintf("pool %s %s [%s]", p.Name, p.LBAlgorithm, strings.Join(members, " ")))
	}
	return s
}

func TestRecordedContainers(t *testing.T) {
	list := recorded(t)
	results := mapHosts(mapping.Host{Addr: se1, Name: "se-1", Containers: list}, mapping.Host{Addr: se2, Containers: list})
	got := map[string]summary{}
	for _, r := range results {
		got[r.Service] = summarize(r)
		if r.Err == nil && (r.VirtualServices[0].CloudRef != cloudRef || r.Pools[0].CloudRef != cloudRef) {
			t.Errorf("%s: not marked as the cloud's", r.Service)
		}
	}
	want := map[string]summary{
		// Only the healthy replica serves, on each host at the host port published at the
		// address the host is reached at: 0.0.0.0's on the IPv4 host, ::'s on the IPv6 one.
		"shop-web": {Objects: []string{
			"vs shop-web-10080 port 10080 east-west System-L4-Application pool=shop-web-10080",
			"pool shop-web-10080 LB_ALGORITHM_ROUND_ROBIN [192.0.2.10:32779 [2001:db8::20]:32778]",
		}},
		"storefront": {Err: "service storefront: container port 9090/tcp has no front-end port: list one per published TCP port, in container port order, in the avi_proxy label's virtualservice.services"},
		"broken":     {Err: "service broken: avi_proxy label: not valid JSON at byte 2: invalid character 'n' looking for beginning of object key string"},
		"hostnet":    {Err: "service hostnet: no container publishes a TCP port (publish the service's ports; host networking is not balanced)"},
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s:\n got  %+v\n want %+v", k, got[k], want[k])
			}
		}
		if len(got) != len(want) {
			t.Errorf("services %v", got)
		}
	}
	if r := results[slicesIndex(results, "shop-web")]; !reflect.DeepEqual(r.Containers, []string{
		"2001:db8::20/shop-web-1", "2001:db8::20/shop-web-2", "2001:db8::20/shop-web-3", "se-1/shop-web-1", "se-1/shop-web-2", "se-1/shop-web-3"}) {
		t.Errorf("containers %v", r.Containers)
	}
}

func slicesIndex(rs []mapping.Result, service string) int {
	for i, r := range rs {
		if r.Service == service {
			return i
		}
	}
	return -1
}

// storefront returns the recorded north-south container with labels replaced.
func storefront(t testing.TB, labels map[string]string) docker.AppContainer {
	t.Helper()
	c := recorded(t)[3]
	c.Labels = labels
	return c
}

func TestNorthSouth(t *testing.T) {
	c := storefront(t, map[string]string{"FE-Proxy": "yes", "avi_proxy": `{"virtualservice": {"ip_address": {"addr": "198.51.100.7", "type": "V4"},
		"services": [{"port": 80}, {"port": 443, "enable_ssl": true}]}}`})
	r := mapHosts(mapping.Host{Addr: se1, Containers: []docker.AppContainer{c}})[0]
	want := summary{
		Objects: []string{
			"vs storefront-80 port 80 vip 198.51.100.7 System-L4-Application pool=storefront-80",
			"vs storefront-443 port 443 vip 198.51.100.7 System-L4-Application pool=storefront-443",
			"pool storefront-80 LB_ALGORITHM_LEAST_CONNECTIONS [192.0.2.10:32782]",
			"pool storefront-443 LB_ALGORITHM_LEAST_CONNECTIONS []",
		},
		Notes: []string{
			"ports 5353/udp are not balanced (the SE proxies TCP)",
			"container 192.0.2.10/storefront: port 9090/tcp is not published at its host's address 192.0.2.10; left out of its pool",
		},
	}
	if got := summarize(r); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if vs := r.VirtualServices[1]; vs.EastWestPlacement || !vs.Services[0].EnableSSL {
		t.Errorf("%+v", vs)
	}
}

func TestServiceKey(t *testing.T) {
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"shop-web-1", map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}, "shop-web"},
		{"x", map[string]string{"com.docker.compose.service": "web"}, "web"},
		{"api.2.q1w2e3", map[string]string{"com.docker.swarm.service.name": "api"}, "api"},
		{"web_3", nil, "web"},
		{"web-12", nil, "web"},
		{"api-v2", nil, "api-v2"},
		{"42", nil, "42"},
	} {
		if got := mapping.ServiceKey(&docker.AppContainer{Name: c.name, Labels: c.labels}); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.name, c.labels, got, c.want)
		}
	}
}

// TestServiceErrors: each fault fails its service only, with the reason.
func TestServiceErrors(t *testing.T) {
	web := recorded(t)[:2]
	alone := mapHosts(mapping.Host{Addr: se1, Containers: web})
	for _, c := range []struct {
		labels map[string]string
		err    string
	}{
		{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": 80}, {"port": 81}, {"port": 82}]}}`}, "the avi_proxy label lists 3 services for the 2 published TCP ports"},
		{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": 80}, {"port": 80}]}}`}, "two ports have front-end port 80"},
		{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": 80}, {"port": 70000}]}}`}, "storefront-70000: "},
		{map[string]string{"avi_proxy": `{"virtualservice": {"services": [{"port": 80}, {"port": 81}]}}`, "FE-Proxy": "yes"}, "gives no virtualservice.ip_address"},
		{map[string]string{"FE-Proxy": "maybe"}, `label FE-Proxy is "maybe": want yes or no`},
	} {
		results := mapHosts(mapping.Host{Addr: se1, Containers: append([]docker.AppContainer{storefront(t, c.labels)}, web...)})
		r := results[slicesIndex(results, "storefront")]
		if r.Err == nil || !strings.HasPrefix(r.Err.Error(), "service storefront: ") || !strings.Contains(r.Err.Error(), c.err) {
			t.Errorf("%v: %v, want %q", c.labels, r.Err, c.err)
		}
		if len(r.VirtualServices)+len(r.Pools) != 0 {
			t.Errorf("%v: a service in error maps to objects", c.labels)
		}
		if !reflect.DeepEqual(results[:slicesIndex(results, "storefront")], alone) {
			t.Errorf("%v: the other service changed", c.labels)
		}
	}

	// Replicas that disagree on their labels: the service waits for them to agree.
	diff := recorded(t)[:2]
	diff[1].Labels = map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "web", "avi_proxy": `{"virtualservice": {"services": [{"port": 10081}]}}`}
	r := mapHosts(mapping.Host{Addr: se1, Name: "se-1", Containers: diff})[0]
	if r.Err == nil || r.Err.Error() != "service shop-web: containers se-1/shop-web-1 and se-1/shop-web-2 have different avi_proxy labels" {
		t.Errorf("disagreeing replicas: %v", r.Err)
	}
}

func TestMembership(t *testing.T) {
	list := recorded(t)[:3]
	for i := range list {
		list[i].Health = ""
	}
	list[2].State = "paused"
	r := mapHosts(mapping.Host{Addr: se1, Containers: list})[0]
	// Without health checks both running replicas serve; the paused one does not.
	if got := summarize(r).Objects[1]; got != "pool shop-web-10080 LB_ALGORITHM_ROUND_ROBIN [192.0.2.10:32779 192.0.2.10:32780]" {
		t.Errorf("pool %s", got)
	}
	// All stopped: the service stays, with an empty pool.
	for i := range list {
		list[i].State, list[i].Ports = "exited", nil
	}
	r = mapHosts(mapping.Host{Addr: se1, Containers: list})[0]
	if r.Err != nil || len(r.VirtualServices) != 1 || len(r.Pools[0].Servers) != 0 {
		t.Errorf("all stopped: %+v", summarize(r))
	}
	if err := r.Pools[0].Validate(); err != nil {
		t.Error(err)
	}
}

// FuzzDockerLabel: no avi_proxy label crashes the mapping or changes another service, and a
// label that is accepted yields valid objects.
func FuzzDockerLabel(f *testing.F) {
	f.Add(`{"virtualservice": {"services": [{"port": 10080}]}, "pool": {"lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN"}}`, false)
	f.Add(`{"virtualservice": {"ip_address": {"addr": "198.51.100.7", "type": "V4"}, "services": [{"port": 80}]}}`, true)
	f.Add(`{"virtualservice": {"services": [{"port": 0}]}}`, false)
	f.Add(`{"virtualservice": {"enabled": false, "services": [{"port": 8}]}}`, false)
	f.Add(`{not json`, false)
	list := recorded(f)
	others := list[3:]
	alone := mapHosts(mapping.Host{Addr: se1, Containers: others})
	f.Fuzz(func(t *testing.T, label string, frontEnd bool) {
		hosts := []mapping.Host{{Addr: se1, Containers: recorded(t)}}
		for i := range hosts[0].Containers[:3] {
			c := &hosts[0].Containers[i]
			c.Labels["avi_proxy"] = label
			if frontEnd {
				c.Labels["FE-Proxy"] = "yes"
			}
		}
		results := mapHosts(hosts...)
		i := slicesIndex(results, "shop-web")
		r := results[i]
		if !reflect.DeepEqual(append(results[:i:i], results[i+1:]...), alone) {
			t.Fatalf("label %q changed another service", label)
		}
		if r.Err != nil {
			if len(r.VirtualServices)+len(r.Pools) != 0 {
				t.Fatalf("label %q: objects and an error", label)
			}
			return
		}
		for _, vs := range r.VirtualServices {
			if err := vs.Validate(); err != nil {
				t.Fatalf("label %q: %v", label, err)
			}
		}
		for _, p := range r.Pools {
			if err := p.Validate(); err != nil {
				t.Fatalf("label %q: %v", label, err)
			}
		}
	})
}
