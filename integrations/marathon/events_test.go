package marathon

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func collectEvents(t *testing.T, stream string) ([]string, error) {
	t.Helper()
	var got []string
	err := readEvents(strings.NewReader(stream), func(e string) { got = append(got, e) })
	return got, err
}

func TestReadEventsFixture(t *testing.T) {
	got, err := collectEvents(t, string(readFixture(t, "marathon-docs_events.txt")))
	// event_stream_attached is Marathon's; Events reports its own after connecting.
	if want := []string{"status_update_event", "status_update_event"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "ended") {
		t.Errorf("end of stream: got %v, want an error saying it ended", err)
	}
}

func TestReadEventsFormats(t *testing.T) {
	cases := []struct {
		name, stream string
		want         []string
	}{
		{"type from data only", "data: {\"eventType\":\"api_post_event\"}\n\n", []string{"api_post_event"}},
		{"event field wins", "event: app_terminated_event\ndata: {\"eventType\":\"api_post_event\"}\n\n", []string{"app_terminated_event"}},
		{"keepalive comments", ":\n\n: ping\n\nevent: deployment_success\n\n", []string{"deployment_success"}},
		{"CRLF", "event: status_update_event\r\ndata: {}\r\n\r\n", []string{"status_update_event"}},
		{"no space after colon", "event:health_status_changed_event\n\n", []string{"health_status_changed_event"}},
		{"unlisted types", "event: framework_message_event\n\nevent: subscribe_event\n\n", nil},
		{"data not JSON", "data: {oops\n\n", nil},
		{"unterminated event", "event: status_update_event\n", nil},
	}
	for _, c := range cases {
		got, _ := collectEvents(t, c.stream)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestReadEventsLineLimit(t *testing.T) {
	stream := "data: " + string(bytes.Repeat([]byte("x"), maxEventLine)) + "\n\nevent: status_update_event\n\n"
	got, err := collectEvents(t, stream)
	if err == nil || len(got) != 0 {
		t.Errorf("a line over the limit: got %q, %v; want an error", got, err)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for attempt, ceiling := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		ceiling *= time.Millisecond
		for range 50 {
			d := backoff(attempt, lo, hi)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("attempt %d: %s, want %s to %s", attempt, d, ceiling/2, ceiling)
			}
		}
	}
	if d := backoff(1000, lo, hi); d > hi {
		t.Errorf("attempt 1000: %s over the cap", d)
	}
}

func TestHealthMemory(t *testing.T) {
	alive := []HealthResult{{Alive: true}}
	dead := []HealthResult{{Alive: false}}
	read := func(results map[string][]HealthResult) []App {
		a := App{ID: "/web", HealthChecks: []HealthCheck{{}}}
		for _, id := range []string{"t1", "t2", "t3"} {
			if r, ok := results[id]; ok {
				a.Tasks = append(a.Tasks, Task{ID: id, State: "TASK_RUNNING", HealthCheckResults: r})
			}
		}
		return []App{a, {ID: "/unchecked", Tasks: []Task{{ID: "u1", State: "TASK_RUNNING"}}}}
	}
	healthy := func(apps []App) map[string]bool {
		out := map[string]bool{}
		for i := range apps {
			for j := range apps[i].Tasks {
				out[apps[i].Tasks[j].ID] = apps[i].Healthy(&apps[i].Tasks[j])
			}
		}
		return out
	}
	var m healthMemory
	steps := []struct {
		name    string
		results map[string][]HealthResult
		want    map[string]bool
	}{
		{"first read", map[string][]HealthResult{"t1": alive, "t2": dead, "t3": nil},
			map[string]bool{"t1": true, "t2": false, "t3": false, "u1": true}},
		{"leader change drops results", map[string][]HealthResult{"t1": nil, "t2": nil, "t3": nil},
			map[string]bool{"t1": true, "t2": false, "t3": false, "u1": true}},
		{"new results replace kept ones", map[string][]HealthResult{"t1": dead, "t2": alive, "t3": nil},
			map[string]bool{"t1": false, "t2": true, "t3": false, "u1": true}},
		{"a task that went away is forgotten", map[string][]HealthResult{"t2": alive},
			map[string]bool{"t2": true, "u1": true}},
		{"and is not revived", map[string][]HealthResult{"t1": nil, "t2": nil},
			map[string]bool{"t1": false, "t2": true, "u1": true}},
	}
	for _, s := range steps {
		apps := read(s.results)
		m = m.fill(apps)
		if got := healthy(apps); !reflect.DeepEqual(got, s.want) {
			t.Errorf("%s: healthy %v, want %v", s.name, got, s.want)
		}
	}
}
