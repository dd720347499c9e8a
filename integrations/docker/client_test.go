package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// fakeEngine serves the engine API: it answers the client's version negotiation with version
// and serves routes (patterns of http.ServeMux, under /v<version>/). The client reaches it
// through ConnectVia, as the controller reaches an engine through SSH.
func fakeEngine(t *testing.T, version string, routes map[string]http.HandlerFunc) *Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", version)
		fmt.Fprint(w, "OK")
	})
	for pattern, h := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" /v"+version+path, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
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

func TestInfo(t *testing.T) {
	info := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"ServerVersion": "20.10.24", "DockerRootDir": "/var/lib/docker"}`)
	}
	tests := []struct {
		version string
		want    Info
		err     string // what the error says; "" for none
	}{
		{"1.41", Info{APIVersion: "1.41", ServerVersion: "20.10.24", RootDir: "/var/lib/docker"}, ""},
		{"1.40", Info{APIVersion: "1.40", ServerVersion: "20.10.24", RootDir: "/var/lib/docker"}, ""},
		// Too old for the client: the version is reported, for the installer to name it.
		{"1.30", Info{APIVersion: "1.30"}, "docker engine API 1.30"},
	}
	for _, tt := range tests {
		c := fakeEngine(t, tt.version, map[string]http.HandlerFunc{"GET /info": info})
		got, err := c.Info(context.Background())
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("API %s: error %v, want %q", tt.version, err, tt.err)
		}
		if got != tt.want {
			t.Errorf("API %s: %+v, want %+v", tt.version, got, tt.want)
		}
	}
}

// TestCreate checks what the engine is asked for: every capability dropped but the spec's, no
// new privileges, a read-only root with a small /tmp, the spec's limits and no swap beyond
// them, rotated logs, host networking, and a restart policy only when asked.
func TestCreate(t *testing.T) {
	spec := ContainerSpec{
		Name: "avise", Image: "avi-init/se:v1-0123456789ab", Cmd: []string{"se", "--data", "/vol"},
		NanoCPUs: 2e9, MemoryBytes: 1 << 30, Binds: []string{"/opt/avi/se:/vol"},
		Labels: map[string]string{"io.avi-init.role": "se"}, CapAdd: []string{"NET_BIND_SERVICE", "NET_ADMIN"},
		Health: []string{"/avi-init", "probe", "se"},
	}
	for _, restart := range []bool{false, true} {
		var name string
		var req container.CreateRequest
		c := fakeEngine(t, "1.41", map[string]http.HandlerFunc{"POST /containers/create": func(w http.ResponseWriter, r *http.Request) {
			name = r.URL.Query().Get("name")
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				t.Error(err)
			}
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"Id": "abc", "Warnings": []}`)
		}})
		spec.RestartAlways = restart
		if err := c.Create(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		if name != "avise" || req.Config == nil || req.HostConfig == nil {
			t.Fatalf("create %q: %+v", name, req)
		}
		cfg, host := req.Config, req.HostConfig
		if cfg.Image != spec.Image || !slices.Equal(cfg.Cmd, spec.Cmd) || !reflect.DeepEqual(cfg.Labels, spec.Labels) {
			t.Errorf("config %+v", cfg)
		}
		if hc := cfg.Healthcheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "/avi-init", "probe", "se"}) || hc.Interval != 2*time.Second || hc.Retries != 3 {
			t.Errorf("health check %+v", hc)
		}
		if !slices.Equal(host.CapDrop, []string{"ALL"}) || !slices.Equal(host.CapAdd, []string{"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"}) ||
			!slices.Equal(host.SecurityOpt, []string{"no-new-privileges"}) || !host.ReadonlyRootfs {
			t.Errorf("privileges: cap drop %v, cap add %v, security %v, read-only root %v", host.CapDrop, host.CapAdd, host.SecurityOpt, host.ReadonlyRootfs)
		}
		if host.Tmpfs["/tmp"] != "rw,nosuid,nodev,size=64m" || string(host.NetworkMode) != "host" || !slices.Equal(host.Binds, spec.Binds) {
			t.Errorf("tmpfs %v, network %q, binds %v", host.Tmpfs, host.NetworkMode, host.Binds)
		}
		if host.NanoCPUs != 2e9 || host.Memory != 1<<30 || host.MemorySwap != 1<<30 {
			t.Errorf("limits: %d nano CPUs, memory %d, memory+swap %d", host.NanoCPUs, host.Memory, host.MemorySwap)
		}
		if lc := host.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "10m" || lc.Config["max-file"] != "3" {
			t.Errorf("log config %+v", lc)
		}
		if want := map[bool]container.RestartPolicyMode{true: container.RestartPolicyUnlessStopped}[restart]; host.RestartPolicy.Name != want {
			t.Errorf("restart %v: policy %q, want %q", restart, host.RestartPolicy.Name, want)
		}
	}
}

// TestListLabeled serves the recorded containers of testdata/inspect.json and one that is
// removed between the list and its inspection: it is left out, the rest come in ID order.
func TestListLabeled(t *testing.T) {
	data, err := os.ReadFile("testdata/inspect.json")
	if err != nil {
		t.Fatal(err)
	}
	var recorded []json.RawMessage
	if err := json.Unmarshal(data, &recorded); err != nil {
		t.Fatal(err)
	}
	byID := map[string]json.RawMessage{}
	list := []map[string]string{{"Id": "gone"}}
	for _, raw := range recorded {
		var c struct{ ID string }
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		byID[c.ID] = raw
		list = append(list, map[string]string{"Id": c.ID})
	}
	var query string
	c := fakeEngine(t, "1.41", map[string]http.HandlerFunc{
		"GET /containers/json": func(w http.ResponseWriter, r *http.Request) {
			query = r.URL.RawQuery
			json.NewEncoder(w).Encode(list)
		},
		"GET /containers/{id}/json": func(w http.ResponseWriter, r *http.Request) {
			raw, ok := byID[r.PathValue("id")]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintf(w, `{"message": "No such container: %s"}`, r.PathValue("id"))
				return
			}
			w.Write(raw)
		},
	})
	got, err := c.ListLabeled(context.Background(), "avi_proxy")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(query, "all=1") || !strings.Contains(query, "avi_proxy") {
		t.Errorf("list query %s: want all containers labelled avi_proxy", query)
	}
	var names []string
	for _, a := range got {
		names = append(names, a.Name)
	}
	want := []string{"shop-web-1", "hostnet", "shop-web-2", "shop-web-3", "broken", "storefront"}
	if !slices.Equal(names, want) || !slices.IsSortedFunc(got, func(a, b AppContainer) int { return strings.Compare(a.ID, b.ID) }) {
		t.Errorf("listed %v, want %v in ID order", names, want)
	}
	decoded, err := DecodeInspect(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range decoded {
		i := slices.IndexFunc(got, func(a AppContainer) bool { return a.ID == d.ID })
		if i < 0 || !reflect.DeepEqual(got[i], d) {
			t.Errorf("%s listed differs from its decoded inspection", d.Name)
		}
	}
}

// eventsRoute streams lines as the engine's event stream, after sending the request's filters
// to query; with hold it then waits for the client to leave.
func eventsRoute(lines []string, hold bool, query chan<- string) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"GET /events": func(w http.ResponseWriter, r *http.Request) {
		query <- r.URL.Query().Get("filters")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for _, l := range lines {
			fmt.Fprintln(w, l)
			w.(http.Flusher).Flush()
		}
		if hold {
			<-r.Context().Done()
		}
	}}
}

func TestWatchEventsEndsWithTheStream(t *testing.T) {
	query := make(chan string, 1)
	c := fakeEngine(t, "1.41", eventsRoute([]string{
		`{"Type": "container", "Action": "start", "Actor": {"ID": "aaa"}, "timeNano": 1700000000000000001}`,
		`{"Type": "container", "Action": "health_status: healthy", "Actor": {"ID": "aaa"}, "timeNano": 1700000000000000002}`,
		`{"Type": "container", "Action": "kill", "Actor": {"ID": "aaa", "Attributes": {"signal": "15"}}, "timeNano": 1700000000000000003}`,
	}, false, query))
	var got []Event
	err := c.WatchEvents(context.Background(), "avi_proxy", func(e Event) { got = append(got, e) })
	if err == nil || !strings.HasPrefix(err.Error(), "docker events: ") {
		t.Errorf("a stream that ended: %v", err)
	}
	want := []Event{{"aaa", "start", "", time.Unix(0, 1700000000000000001)}, {"aaa", "health_status: healthy", "", time.Unix(0, 1700000000000000002)},
		{"aaa", "kill", "15", time.Unix(0, 1700000000000000003)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events %+v", got)
	}
	q := <-query
	for _, s := range []string{`"type":{"container":true}`, `"label":{"avi_proxy":true}`, `"health_status":true`, `"destroy":true`} {
		if !strings.Contains(q, s) {
			t.Errorf("filters %s: no %s", q, s)
		}
	}
}

func TestWatchEventsStopsWithItsContext(t *testing.T) {
	c := fakeEngine(t, "1.41", eventsRoute([]string{`{"Type": "container", "Action": "die", "Actor": {"ID": "bbb"}}`}, true, make(chan string, 1)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.WatchEvents(ctx, "avi_proxy", func(e Event) {
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
	c := fakeEngine(t, "1.41", eventsRoute([]string{`{"Type": "container", "Action": `}, false, make(chan string, 1)))
	err := c.WatchEvents(context.Background(), "avi_proxy", func(Event) { t.Error("an event from junk") })
	if err == nil {
		t.Error("junk ended the watch without an error")
	}
}
