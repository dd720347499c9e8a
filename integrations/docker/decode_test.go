package docker

import (
	"net/netip"
	"os"
	"reflect"
	"testing"
)

// testdata/inspect.json is `docker inspect` of containers made on Docker 20.10 with a small test
// application: three replicas of a compose service (healthy, unhealthy, stopped), a
// north-south front end, one with a broken label and one on the host's network.
func TestDecodeInspect(t *testing.T) {
	data, err := os.ReadFile("testdata/inspect.json")
	if err != nil {
		t.Fatal(err)
	}
	list, err := DecodeInspect(data)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name, State, Health string
		Publishes           []ContainerPort
		Ports               int
	}
	var got []row
	for _, c := range list {
		if len(c.ID) != 64 || c.Labels["avi_proxy"] == "" {
			t.Errorf("%s: id %q, labels %v", c.Name, c.ID, c.Labels)
		}
		got = append(got, row{c.Name, c.State, c.Health, c.Publishes, len(c.Ports)})
	}
	tcp8080 := []ContainerPort{{8080, "tcp"}}
	want := []row{
		{"shop-web-1", "running", "healthy", tcp8080, 2},
		{"shop-web-2", "running", "unhealthy", tcp8080, 2},
		{"shop-web-3", "exited", "unhealthy", tcp8080, 0},
		{"storefront", "running", "", []ContainerPort{{5353, "udp"}, {8080, "tcp"}, {9090, "tcp"}}, 5},
		{"broken", "running", "", tcp8080, 2},
		{"hostnet", "running", "", nil, 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// The front end's ports: 8080 on every IPv4 and every IPv6 address, at different host
	// ports; 9090 on the loopback only.
	front := list[3].Ports
	v4, v6, lo := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("127.0.0.1")
	for _, p := range front {
		switch {
		case p.ContainerPort == 8080 && p.HostIP == "0.0.0.0":
			if !p.ReachableAt(v4) || p.ReachableAt(v6) {
				t.Errorf("%+v", p)
			}
		case p.ContainerPort == 8080 && p.HostIP == "::":
			if p.ReachableAt(v4) || !p.ReachableAt(v6) {
				t.Errorf("%+v", p)
			}
		case p.ContainerPort == 9090:
			if p.HostIP != "127.0.0.1" || p.ReachableAt(v4) || !p.ReachableAt(lo) {
				t.Errorf("%+v", p)
			}
		}
	}
	if _, err := DecodeInspect([]byte(`{"Id": "x"}`)); err == nil {
		t.Error("an object, not a list, decoded")
	}
}

func TestReachableAt(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.10")
	for _, c := range []struct {
		hostIP string
		want   bool
	}{{"", true}, {"0.0.0.0", true}, {"::", false}, {"192.0.2.10", true}, {"::ffff:192.0.2.10", true}, {"192.0.2.11", false}, {"bogus", false}} {
		if got := (PublishedPort{HostIP: c.hostIP}).ReachableAt(v4); got != c.want {
			t.Errorf("%q at %s: %v", c.hostIP, v4, got)
		}
	}
}

func TestEventStopping(t *testing.T) {
	for _, c := range []struct {
		e    Event
		want bool
	}{
		{Event{Action: "kill", Signal: "15"}, true},
		{Event{Action: "kill", Signal: "SIGKILL"}, true},
		{Event{Action: "kill", Signal: "1"}, false}, // a reload signal, not a stop
		{Event{Action: "die", Signal: "15"}, false},
		{Event{Action: "start"}, false},
	} {
		if got := c.e.Stopping(); got != c.want {
			t.Errorf("%+v.Stopping() = %v, want %v", c.e, got, c.want)
		}
	}
}
