package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
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

// fakeEngine answers the client's version negotiation and streams events to the one watch,
// then ends the stream or waits for the client to leave.
type fakeEngine struct {
	*httptest.Server
	query chan string
}

func newFakeEngine(t *testing.T, events []string, hold bool) *fakeEngine {
	t.Helper()
	f := &fakeEngine{query: make(chan string, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		fmt.Fprint(w, "OK")
	})
	mux.HandleFunc("/v1.41/events", func(w http.ResponseWriter, r *http.Request) {
		f.query <- r.URL.Query().Get("filters")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for _, e := range events {
			fmt.Fprintln(w, e)
			w.(http.Flusher).Flush()
		}
		if hold {
			<-r.Context().Done()
		}
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEngine) client(t *testing.T) *Client {
	t.Helper()
	addr := strings.TrimPrefix(f.URL, "http://")
	c, err := ConnectVia(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestWatchEventsEndsWithTheStream(t *testing.T) {
	f := newFakeEngine(t, []string{
		`{"Type": "container", "Action": "start", "Actor": {"ID": "aaa"}, "timeNano": 1700000000000000001}`,
		`{"Type": "container", "Action": "health_status: healthy", "Actor": {"ID": "aaa"}, "timeNano": 1700000000000000002}`,
		`{"Type": "container", "Action": "kill", "Actor": {"ID": "aaa", "Attributes": {"signal": "15"}}, "timeNano": 1700000000000000003}`,
	}, false)
	var got []Event
	err := f.client(t).WatchEvents(context.Background(), "avi_proxy", func(e Event) { got = append(got, e) })
	if err == nil || !strings.HasPrefix(err.Error(), "docker events: ") {
		t.Errorf("a stream that ended: %v", err)
	}
	want := []Event{{"aaa", "start", "", time.Unix(0, 1700000000000000001)}, {"aaa", "health_status: healthy", "", time.Unix(0, 1700000000000000002)},
		{"aaa", "kill", "15", time.Unix(0, 1700000000000000003)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events %+v", got)
	}
	q := <-f.query
	for _, s := range []string{`"type":{"container":true}`, `"label":{"avi_proxy":true}`, `"health_status":true`, `"destroy":true`} {
		if !strings.Contains(q, s) {
			t.Errorf("filters %s: no %s", q, s)
		}
	}
}

func TestWatchEventsStopsWithItsContext(t *testing.T) {
	f := newFakeEngine(t, []string{`{"Type": "container", "Action": "die", "Actor": {"ID": "bbb"}}`}, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.client(t).WatchEvents(ctx, "avi_proxy", func(e Event) {
			if e.ContainerID == "bbb" {
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("watch ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end with its context")
	}
}

// TestWatchEventsBadStream: a line the engine would never send ends the watch with an error
// rather than a panic.
func TestWatchEventsBadStream(t *testing.T) {
	f := newFakeEngine(t, []string{`{"Type": "container", "Action": `}, false)
	err := f.client(t).WatchEvents(context.Background(), "avi_proxy", func(Event) { t.Error("an event from junk") })
	if err == nil {
		t.Error("junk ended the watch without an error")
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
