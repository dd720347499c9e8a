package marathon_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/marathon"
	"github.com/avi-init/avi-init/integrations/marathon/marathontest"
	"github.com/avi-init/avi-init/internal/syncbuf"
)

const password = "s3cret-Pa55word"

func newClient(t *testing.T, log *syncbuf.Buffer, endpoints ...marathon.Endpoint) *marathon.Client {
	t.Helper()
	var w = &syncbuf.Buffer{}
	if log != nil {
		w = log
	}
	c, err := marathon.NewClient(marathon.Config{
		Endpoints:         endpoints,
		Logger:            slog.New(slog.NewTextHandler(w, nil)),
		StreamIdleTimeout: 300 * time.Millisecond,
		MinBackoff:        10 * time.Millisecond,
		MaxBackoff:        40 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func loadFixture(t *testing.T, s *marathontest.Server, name string) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LoadAppList(data); err != nil {
		t.Fatal(err)
	}
}

// closedURL is the address of a server that is gone: connections are refused.
func closedURL(t *testing.T) string {
	s := httptest.NewServer(http.NotFoundHandler())
	s.Close()
	return s.URL
}

func TestAppsReadsTheList(t *testing.T) {
	s := marathontest.NewServer(t)
	loadFixture(t, s, "marathon-lb_zdd_apps.json")
	apps, err := newClient(t, nil, marathon.Endpoint{URL: s.URL}).Apps(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps[0].ID != "/nginx-green" || len(apps[0].Tasks) != 3 || len(apps[1].Tasks) != 1 {
		t.Errorf("got %+v", apps)
	}
}

func TestAuth(t *testing.T) {
	cases := []struct {
		name     string
		require  func(*marathontest.Server)
		endpoint marathon.Endpoint
		ok       bool
	}{
		{"none needed", func(*marathontest.Server) {}, marathon.Endpoint{}, true},
		{"basic", func(s *marathontest.Server) { s.RequireBasicAuth("ops", password) }, marathon.Endpoint{Username: "ops", Password: password}, true},
		{"token", func(s *marathontest.Server) { s.RequireToken("tok-" + password) }, marathon.Endpoint{Token: "tok-" + password}, true},
		{"wrong password", func(s *marathontest.Server) { s.RequireBasicAuth("ops", "other") }, marathon.Endpoint{Username: "ops", Password: password}, false},
		{"wrong token", func(s *marathontest.Server) { s.RequireToken("other") }, marathon.Endpoint{Token: "tok-" + password}, false},
		{"none given", func(s *marathontest.Server) { s.RequireBasicAuth("ops", password) }, marathon.Endpoint{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := marathontest.NewServer(t)
			loadFixture(t, s, "marathon-lb_marathon15_apps.json")
			c.require(s)
			ep := c.endpoint
			ep.URL = s.URL
			log := &syncbuf.Buffer{}
			_, err := newClient(t, log, ep).Apps(t.Context())
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, marathon.ErrAuth) {
				t.Fatalf("got %v, want ErrAuth", err)
			}
			if msg := err.Error(); !strings.Contains(msg, s.URL) || strings.Contains(msg, password) {
				t.Errorf("%q: want the URL and never the password", msg)
			}
			if strings.Contains(log.String(), password) {
				t.Errorf("the log holds the password: %s", log)
			}
		})
	}
}

func TestNewClientRefusesBadEndpoints(t *testing.T) {
	cases := []marathon.Endpoint{
		{URL: "http://ops:" + password + "@marathon.example:8080"},
		{URL: "ftp://marathon.example"},
		{URL: "marathon.example:8080"},
		{URL: "http://marathon.example:8080/?x=1"},
		{URL: "http://marathon.example:8080", Username: "ops", Password: password, Token: "t"},
		{URL: "http://[::1" + password},
	}
	for _, ep := range cases {
		_, err := marathon.NewClient(marathon.Config{Endpoints: []marathon.Endpoint{ep}})
		if err == nil {
			t.Errorf("%+v: accepted", ep)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%q holds the password", err)
		}
	}
	if _, err := marathon.NewClient(marathon.Config{}); err == nil {
		t.Error("a client without endpoints")
	}
}

func TestAppsFailsOver(t *testing.T) {
	s := marathontest.NewServer(t)
	loadFixture(t, s, "marathon-lb_marathon15_apps.json")
	down := closedURL(t)
	c := newClient(t, nil, marathon.Endpoint{URL: down}, marathon.Endpoint{URL: s.URL})
	for range 2 {
		if apps, err := c.Apps(t.Context()); err != nil || len(apps) != 1 {
			t.Fatalf("got %v, %v", apps, err)
		}
	}

	s.Close()
	_, err := c.Apps(t.Context())
	if err == nil || !strings.Contains(err.Error(), down) || !strings.Contains(err.Error(), s.URL) {
		t.Errorf("all down: got %v, want an error naming both URLs", err)
	}
}

func TestAppsFollowsTheLeader(t *testing.T) {
	leader := marathontest.NewServer(t)
	loadFixture(t, leader, "marathon-lb_zdd_apps.json")
	leader.RequireBasicAuth("ops", password)
	standby := marathontest.NewServer(t)
	standby.RedirectTo(leader.URL)

	apps, err := newClient(t, nil, marathon.Endpoint{URL: standby.URL, Username: "ops", Password: password}).Apps(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || leader.Requests("/v2/apps") != 1 {
		t.Errorf("%d apps, %d reads at the leader", len(apps), leader.Requests("/v2/apps"))
	}
}

func TestNoRedirectFromHTTPSToHTTP(t *testing.T) {
	plain := marathontest.NewServer(t)
	tlsServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer tlsServer.Close()
	c, err := marathon.NewClient(marathon.Config{
		Endpoints:  []marathon.Endpoint{{URL: tlsServer.URL, Username: "ops", Password: password}},
		HTTPClient: tlsServer.Client(),
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apps(t.Context()); err == nil || !strings.Contains(err.Error(), "refusing redirect") {
		t.Errorf("got %v, want a refused redirect", err)
	}
	if plain.Requests("/v2/apps") != 0 {
		t.Error("credentials went out over http")
	}
}

// events follows a client's event stream into a channel until the test ends.
func events(t *testing.T, c *marathon.Client) <-chan string {
	t.Helper()
	ch := make(chan string, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Events(ctx, func(e string) { ch <- e }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Events returned %v", err)
		}
	})
	return ch
}

// expect waits for the named event, skipping others.
func expect(t *testing.T, ch <-chan string, want string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e := <-ch:
			if e == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %s within %s", want, within)
		}
	}
}

func TestEventsReportsChanges(t *testing.T) {
	s := marathontest.NewServer(t)
	s.SetKeepAlive(50 * time.Millisecond)
	ch := events(t, newClient(t, nil, marathon.Endpoint{URL: s.URL}))
	expect(t, ch, marathon.EventStreamAttached, time.Second)

	def, err := os.ReadFile("testdata/marathon-lb_ci_docker_host_app.json")
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.AddApp(def)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "api_post_event", time.Second)
	expect(t, ch, "status_update_event", time.Second)
	expect(t, ch, "deployment_success", time.Second)
	if err := s.DeleteApp(id); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "app_terminated_event", time.Second)
}

func TestEventsKeepalivesKeepTheStream(t *testing.T) {
	s := marathontest.NewServer(t)
	s.SetKeepAlive(50 * time.Millisecond)
	ch := events(t, newClient(t, nil, marathon.Endpoint{URL: s.URL}))
	expect(t, ch, marathon.EventStreamAttached, time.Second)
	// Three idle timeouts with nothing but keepalives: the stream stays.
	time.Sleep(time.Second)
	select {
	case e := <-ch:
		t.Errorf("got %s; the stream was reconnected", e)
	default:
	}
}

func TestEventsReconnectsASilentStream(t *testing.T) {
	s := marathontest.NewServer(t)
	log := &syncbuf.Buffer{}
	ch := events(t, newClient(t, log, marathon.Endpoint{URL: s.URL}))
	expect(t, ch, marathon.EventStreamAttached, time.Second)
	s.Silence()
	start := time.Now()
	expect(t, ch, marathon.EventStreamAttached, 2*time.Second)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("reconnected after %s, before the idle timeout", waited)
	}
	if !strings.Contains(log.String(), "event stream went silent") {
		t.Errorf("the log does not say why: %s", log)
	}
	// The new stream works.
	loadFixture(t, s, "marathon-lb_marathon15_apps.json")
	if err := s.Scale("/pywebserver", 2); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "status_update_event", time.Second)
}

func TestEventsFailsOver(t *testing.T) {
	s := marathontest.NewServer(t)
	log := &syncbuf.Buffer{}
	ch := events(t, newClient(t, log, marathon.Endpoint{URL: closedURL(t)}, marathon.Endpoint{URL: s.URL}))
	expect(t, ch, marathon.EventStreamAttached, time.Second)
	if s.Streams() != 1 {
		t.Errorf("%d streams at the second Marathon, want 1", s.Streams())
	}
}

func TestEventsFollowTheLeader(t *testing.T) {
	leader := marathontest.NewServer(t)
	leader.RequireToken("tok")
	standby := marathontest.NewServer(t)
	standby.RedirectTo(leader.URL)
	ch := events(t, newClient(t, nil, marathon.Endpoint{URL: standby.URL, Token: "tok"}))
	expect(t, ch, marathon.EventStreamAttached, time.Second)
	if leader.Streams() != 1 {
		t.Errorf("%d streams at the leader, want 1", leader.Streams())
	}
}

func TestEventsReportAuthFailures(t *testing.T) {
	s := marathontest.NewServer(t)
	s.RequireBasicAuth("ops", "other")
	log := &syncbuf.Buffer{}
	ch := events(t, newClient(t, log, marathon.Endpoint{URL: s.URL, Username: "ops", Password: password}))
	time.Sleep(200 * time.Millisecond)
	select {
	case e := <-ch:
		t.Errorf("got %s with wrong credentials", e)
	default:
	}
	got := log.String()
	if !strings.Contains(got, marathon.ErrAuth.Error()) || !strings.Contains(got, s.URL) || strings.Contains(got, password) {
		t.Errorf("want the URL and the refusal, never the password, in the log:\n%s", got)
	}
}
