package marathontest_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/marathon/marathontest"
)

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		b.WriteString(sc.Text())
	}
	return resp.StatusCode, b.String()
}

type appList struct {
	Apps []struct {
		ID        string            `json:"id"`
		Instances int               `json:"instances"`
		Ports     []json.RawMessage `json:"portDefinitions"`
		Tasks     []struct {
			ID    string `json:"id"`
			Host  string `json:"host"`
			Ports []int  `json:"ports"`
			State string `json:"state"`
		} `json:"tasks"`
	} `json:"apps"`
}

func apps(t *testing.T, s *marathontest.Server, query string) appList {
	t.Helper()
	code, body := do(t, http.MethodGet, s.URL+"/v2/apps"+query, "")
	if code != http.StatusOK {
		t.Fatalf("GET /v2/apps: %d %s", code, body)
	}
	var l appList
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestHTTPAPI drives the server as a user of Marathon's API would, with curl.
func TestHTTPAPI(t *testing.T) {
	s := marathontest.NewServer(t)
	def, err := os.ReadFile("../testdata/marathon-lb_ci_docker_host_app.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, http.MethodPost, s.URL+"/v2/apps", string(def)); code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, body)
	}
	if code, _ := do(t, http.MethodPost, s.URL+"/v2/apps", string(def)); code != http.StatusUnprocessableEntity {
		t.Errorf("POST twice: %d", code)
	}
	l := apps(t, s, "?embed=apps.tasks")
	if len(l.Apps) != 1 || len(l.Apps[0].Tasks) != 4 || string(l.Apps[0].Ports[0]) != `{"port":10000,"protocol":"tcp"}` {
		t.Fatalf("after POST: %+v", l)
	}
	if tk := l.Apps[0].Tasks[0]; tk.Host != "127.0.0.1" || len(tk.Ports) != 1 || tk.State != "TASK_RUNNING" {
		t.Errorf("task %+v", tk)
	}
	if l := apps(t, s, ""); l.Apps[0].Tasks != nil {
		t.Error("tasks listed without embed=apps.tasks")
	}

	if code, body := do(t, http.MethodPut, s.URL+"/v2/apps/nginx-docker-host", `{"instances": 2}`); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	l = apps(t, s, "?embed=apps.tasks")
	if len(l.Apps[0].Tasks) != 2 || l.Apps[0].Instances != 2 {
		t.Fatalf("after scaling: %+v", l)
	}
	killed := l.Apps[0].Tasks[0].ID
	if code, body := do(t, http.MethodDelete, s.URL+"/v2/apps/nginx-docker-host/tasks/"+killed, ""); code != http.StatusOK {
		t.Fatalf("DELETE task: %d %s", code, body)
	}
	if ids := s.Tasks("/nginx-docker-host"); len(ids) != 2 || ids[0] == killed || ids[1] == killed {
		t.Errorf("after the kill: %v (killed %s)", ids, killed)
	}
	if code, _ := do(t, http.MethodDelete, s.URL+"/v2/apps/nginx-docker-host", ""); code != http.StatusOK {
		t.Fatalf("DELETE app: %d", code)
	}
	if l := apps(t, s, ""); len(l.Apps) != 0 {
		t.Errorf("after DELETE: %+v", l)
	}
	if code, _ := do(t, http.MethodDelete, s.URL+"/v2/apps/nginx-docker-host", ""); code != http.StatusNotFound {
		t.Errorf("DELETE twice: %d", code)
	}
}

func TestEventStreamNeedsAccept(t *testing.T) {
	s := marathontest.NewServer(t)
	if code, _ := do(t, http.MethodGet, s.URL+"/v2/events", ""); code != http.StatusNotAcceptable {
		t.Errorf("got %d", code)
	}
}

func TestEventStreamFilters(t *testing.T) {
	s := marathontest.NewServer(t)
	if err := s.LoadAppList([]byte(`{"apps": [{"id": "/a", "portDefinitions": [{"port": 10000}]}]}`)); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/v2/events?event_type=app_terminated_event", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				lines <- strings.TrimPrefix(sc.Text(), "event: ")
			}
		}
		close(lines)
	}()
	if e := <-lines; e != "event_stream_attached" {
		t.Fatalf("first event %q", e)
	}
	if err := s.Scale("/a", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp("/a"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-lines:
		if e != "app_terminated_event" {
			t.Errorf("got %q through a filter for app_terminated_event", e)
		}
	case <-time.After(time.Second):
		t.Error("no app_terminated_event")
	}
}
