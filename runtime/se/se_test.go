package se_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/testnet"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller"
	"github.com/avi-init/avi-init/runtime/se"
)

type ctl struct {
	https, sysint int
	cancel        context.CancelFunc
	done          chan error
	client        *http.Client
}

const password = "Sturdy-Pass-42"

func startController(t *testing.T, dir string, setup bool) *ctl {
	t.Helper()
	c := &ctl{https: testnet.FreePort(t), sysint: testnet.FreePort(t), done: make(chan error, 1)}
	cfg := controller.Config{DataDir: dir, HTTPSPort: c.https, HTTPPort: testnet.FreePort(t), SysintPort: c.sysint, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RaftHeartbeat: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { c.done <- controller.Run(ctx, cfg) }()
	t.Cleanup(c.stop)
	c.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := contract.ProbeController(context.Background(), dir, c.https); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("controller: %v", err)
		}
	}
	if setup {
		tok, err := contract.ReadSetupToken(dir)
		if err != nil {
			t.Fatal(err)
		}
		c.call(t, "POST", "/api/setup", map[string]any{"admin": map[string]string{"username": "admin", "password": password}, "setup_token": tok}, nil)
	}
	return c
}

func (c *ctl) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
		c.cancel = nil
	}
}

func (c *ctl) call(t *testing.T, method, path string, body, out any) {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, fmt.Sprintf("https://127.0.0.1:%d%s", c.https, path), bytes.NewReader(data))
	req.SetBasicAuth("admin", password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, raw)
	}
	if out != nil {
		json.Unmarshal(raw, out)
	}
}

// seConfig configures an SE that joins c with a new token, keeping its data in a new directory.
func (c *ctl) seConfig(t *testing.T, name string) se.Config {
	t.Helper()
	return se.Config{Controller: fmt.Sprintf("127.0.0.1:%d", c.sysint), JoinToken: c.token(t, 1), DataDir: t.TempDir(), Name: name,
		HeartbeatInterval: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// token mints a join token that lets maxUses SEs join.
func (c *ctl) token(t *testing.T, maxUses int) string {
	t.Helper()
	var tok map[string]string
	c.call(t, "POST", "/api/jointoken", map[string]any{"max_uses": maxUses}, &tok)
	return tok["token"]
}

// run runs rt until the returned stop is called.
func run(rt *se.Runtime) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	return func() {
		cancel()
		<-done
	}
}

// applied applies changes as a data plane does, each service on its own: it records the
// versions applied and the services it serves, and leaves out any VS named "refuse-me" while
// refuse is set. After each change it checks that what it serves is what applying the whole
// configuration would give.
type applied struct {
	mu       sync.Mutex
	refuse   bool
	versions []int64
	serving  map[string]string // name by uuid
	refused  map[string]bool   // by uuid
	drift    []string          // where the changes applied differ from the whole configuration
}

// newApplied is an applied that fails t, at its end, if it drifted.
func newApplied(t *testing.T, refuse bool) *applied {
	a := &applied{refuse: refuse, serving: map[string]string{}, refused: map[string]bool{}}
	t.Cleanup(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, d := range a.drift {
			t.Errorf("the changes applied differ from the whole configuration: %s", d)
		}
	})
	return a
}

func (a *applied) apply(ch sechannel.Change, all *sechannel.State) []sechannel.ServiceError {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.versions = append(a.versions, ch.Version)
	for _, id := range ch.Removed {
		delete(a.serving, id)
		delete(a.refused, id)
	}
	for _, v := range ch.Changed {
		delete(a.serving, v.UUID)
		delete(a.refused, v.UUID)
		if v.Name == "refuse-me" && a.refuse {
			a.refused[v.UUID] = true
		} else {
			a.serving[v.UUID] = v.Name
		}
	}
	var out []sechannel.ServiceError
	whole := map[string]string{}
	for v := range all.All() {
		if a.refused[v.UUID] {
			out = append(out, sechannel.ServiceError{VSUUID: v.UUID, Reason: "listen on :1: address already in use"})
		} else {
			whole[v.UUID] = v.Name
		}
	}
	if !maps.Equal(whole, a.serving) {
		a.drift = append(a.drift, fmt.Sprintf("version %d: serving %v, the whole configuration is %v", ch.Version, a.serving, whole))
	}
	return out
}

func (a *applied) setRefuse(refuse bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refuse = refuse
}

func (a *applied) has(name string) bool { return a.names()[name] }

// names are the names of the services it serves.
func (a *applied) names() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]bool{}
	for _, name := range a.serving {
		out[name] = true
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestServiceNotAppliedLeavesTheOthersAndHeadlessRestart: a virtual service the SE cannot
// apply no longer freezes its configuration: the others of the same and later versions apply,
// and a restarted SE serves the newest from disk.
func TestServiceNotAppliedLeavesTheOthersAndHeadlessRestart(t *testing.T) {
	c := startController(t, t.TempDir(), true)
	a := newApplied(t, true)
	cfg := c.seConfig(t, "se-a")
	seDir := cfg.DataDir
	cfg.Apply, cfg.JoinTokenFile = a.apply, filepath.Join(seDir, "join-token")
	os.WriteFile(cfg.JoinTokenFile, []byte(cfg.JoinToken), 0o600)
	rt, err := se.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.JoinTokenFile); !os.IsNotExist(err) {
		t.Errorf("the join token file stayed after joining: %v", err)
	}
	if err := contract.ProbeSE(seDir); err == nil {
		t.Error("probe says ready before the SE holds a configuration")
	}
	stop := run(rt)

	c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "good", "services": []map[string]int{{"port": 8080}}}, nil)
	waitFor(t, "the good VS", func() bool { return a.has("good") && rt.Version() > 0 })
	c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "refuse-me", "services": []map[string]int{{"port": 1}}}, nil)
	c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "later", "services": []map[string]int{{"port": 8081}}}, nil)
	waitFor(t, "the VS created after the one left out", func() bool { return a.has("later") })
	if !a.has("good") || a.has("refuse-me") {
		t.Errorf("applied %v, want good and later, not refuse-me", a.names())
	}
	newest := rt.Version()
	stop()
	if err := contract.ProbeSE(seDir); err != nil {
		t.Errorf("probe after the SE applied a configuration: %v", err)
	}

	// The controller goes away; a restarted SE serves its last configuration from disk.
	c.stop()
	b := newApplied(t, false)
	cfg.Apply, cfg.JoinToken = b.apply, ""
	rt2, err := se.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("restart without the controller: %v", err)
	}
	if rt2.Version() != newest || !b.has("good") || !b.has("later") {
		t.Errorf("headless restart serves version %d, want %d with good and later", rt2.Version(), newest)
	}
}

// fakeController serves one snapshot and records the heartbeats, so that a test sees exactly
// what the SE reports.
type fakeController struct {
	gone       chan struct{} // closed when the controller dies: its streams end
	mu         sync.Mutex
	heartbeats []sechannel.Heartbeat
	streamed   bool // the snapshot line was sent
}

func (f *fakeController) hasStreamed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.streamed
}

func (f *fakeController) last() (sechannel.Heartbeat, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.heartbeats) == 0 {
		return sechannel.Heartbeat{}, false
	}
	return f.heartbeats[len(f.heartbeats)-1], true
}

// startWithFakeController starts an SE whose controller streams the given line, then waits. The
// SE logs to logTo.
func startWithFakeController(t *testing.T, a *applied, line string, logTo io.Writer, opts ...func(*se.Config)) (*fakeController, *se.Runtime) {
	t.Helper()
	return startAnswering(t, a, line, nil, logTo, opts...)
}

// startAnswering is startWithFakeController whose controller answers each heartbeat with what
// answer returns for it (nil: an empty body).
func startAnswering(t *testing.T, a *applied, line string, answer func(sechannel.Heartbeat) *sechannel.HeartbeatAnswer, logTo io.Writer, opts ...func(*se.Config)) (*fakeController, *se.Runtime) {
	t.Helper()
	f, srv := fakeNode(t, line, answer)
	rt, _ := newSE(t, srv, a, logTo, opts...)
	return f, rt
}

// fakeNode is a fake controller (or one node of a fake cluster): it streams line and answers
// each heartbeat with what answer returns for it (nil: an empty body).
func fakeNode(t *testing.T, line string, answer func(sechannel.Heartbeat) *sechannel.HeartbeatAnswer) (*fakeController, *httptest.Server) {
	t.Helper()
	f := &fakeController{gone: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+sechannel.SnapshotPath, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, line)
		w.(http.Flusher).Flush()
		f.mu.Lock()
		f.streamed = true
		f.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-f.gone:
		}
	})
	mux.HandleFunc("POST "+sechannel.HeartbeatPath, func(w http.ResponseWriter, r *http.Request) {
		var hb sechannel.Heartbeat
		if err := json.NewDecoder(r.Body).Decode(&hb); err != nil {
			// An SE that gives a heartbeat up (it stops, or moves to another node) cancels it
			// while it is read: that is no heartbeat, and no fault.
			if r.Context().Err() == nil {
				t.Errorf("heartbeat: %v", err)
			}
			return
		}
		f.mu.Lock()
		f.heartbeats = append(f.heartbeats, hb)
		f.mu.Unlock()
		if answer != nil {
			if ans := answer(hb); ans != nil {
				json.NewEncoder(w).Encode(ans)
			}
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return f, srv
}

// newSE makes an SE that has joined the controller srv (its identity is in its data directory,
// dir), applies to a, and logs to logTo; opts change its configuration before it starts.
func newSE(t *testing.T, srv *httptest.Server, a *applied, logTo io.Writer, opts ...func(*se.Config)) (rt *se.Runtime, dir string) {
	t.Helper()
	dir = t.TempDir()
	id := se.Identity{Controller: srv.Listener.Addr().String(), CertHash: sechannel.CertHash(srv.Certificate()), SEUUID: "se-1", Credential: "c"}
	data, _ := json.Marshal(id)
	os.WriteFile(filepath.Join(dir, contract.SEIdentityFile), data, 0o600)
	cfg := se.Config{DataDir: dir, Apply: a.apply, HeartbeatInterval: 50 * time.Millisecond,
		RetryInterval: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logTo, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	rt, err := se.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt, dir
}

// TestHeartbeatReportsAnUnreadableUpdate: ConfigError is left for what it means now, an
// update the SE could not read at all.
func TestHeartbeatReportsAnUnreadableUpdate(t *testing.T) {
	f, rt := startWithFakeController(t, newApplied(t, false), `{"version": "four"`, io.Discard)
	stop := run(rt)
	defer stop()
	waitFor(t, "a heartbeat with the configuration error", func() bool {
		hb, ok := f.last()
		return ok && strings.Contains(hb.ConfigError, "unreadable") && hb.ConfigVersion == -1
	})
}

// TestHeartbeatReportsServicesNotAppliedAndRetriesThem: every heartbeat names the virtual
// services left out with their reasons (and no configuration error: the snapshot was read);
// the SE retries them without a new snapshot, and once one applies, the heartbeats say so.
func TestHeartbeatReportsServicesNotAppliedAndRetriesThem(t *testing.T) {
	snap := sechannel.Update{Version: 4, Full: true, VirtualServices: []sechannel.VirtualService{
		{UUID: "vs-1", Name: "good", Enabled: true}, {UUID: "vs-2", Name: "refuse-me", Enabled: true}}}
	line, _ := json.Marshal(snap)
	a := newApplied(t, true)
	f, rt := startWithFakeController(t, a, string(line), io.Discard)
	stop := run(rt)
	defer stop()
	waitFor(t, "a heartbeat naming the service not applied", func() bool {
		hb, ok := f.last()
		return ok && hb.ConfigVersion == 4 && len(hb.NotApplied) == 1
	})
	hb, _ := f.last()
	if want := (sechannel.ServiceError{VSUUID: "vs-2", Reason: "listen on :1: address already in use"}); hb.NotApplied[0] != want || hb.ConfigError != "" {
		t.Errorf("heartbeat not applied %+v, config error %q; want %+v and none", hb.NotApplied, hb.ConfigError, want)
	}
	if !a.has("good") {
		t.Error("the service that could apply did not")
	}

	// The host frees the port: the retry applies the service with no new snapshot.
	a.setRefuse(false)
	waitFor(t, "a heartbeat with every service applied", func() bool {
		hb, ok := f.last()
		return ok && len(hb.NotApplied) == 0 && a.has("refuse-me")
	})
	a.mu.Lock()
	retries := len(a.versions)
	a.mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.versions) != retries {
		t.Errorf("applied %d more times once every service applied, want no more retries", len(a.versions)-retries)
	}
}

// lockedBuffer is a log sink the SE's goroutines write to while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServiceNotAppliedIsLoggedOncePerChange: a service left out is logged, with its name and
// reason, when it is first left out, not again at each retry (one line every few seconds for
// as long as a port stays taken); once it applies, that is logged.
func TestServiceNotAppliedIsLoggedOncePerChange(t *testing.T) {
	snap := sechannel.Update{Version: 4, Full: true, VirtualServices: []sechannel.VirtualService{
		{UUID: "vs-1", Name: "good", Enabled: true}, {UUID: "vs-2", Name: "refuse-me", Enabled: true}}}
	line, _ := json.Marshal(snap)
	a := newApplied(t, true)
	var logs lockedBuffer
	_, rt := startWithFakeController(t, a, string(line), &logs)
	stop := run(rt)
	defer stop()
	waitFor(t, "five retries", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.versions) >= 6
	})
	if n := strings.Count(logs.String(), "virtual service not applied"); n != 1 || !strings.Contains(logs.String(), "virtual_service=refuse-me") {
		t.Errorf("%d log lines for the service not applied after five retries, want 1 naming refuse-me:\n%s", n, logs.String())
	}
	a.setRefuse(false)
	waitFor(t, "the retry that applies it logged", func() bool { return strings.Contains(logs.String(), "every virtual service applied") })
}

// An SE the controller no longer knows (deleted by the operator) joins again with its token (one
// with a use left) and keeps the new identity.
func TestJoinsAgainWhenTheControllerForgetsIt(t *testing.T) {
	c := startController(t, t.TempDir(), true)
	cfg := c.seConfig(t, "se-b")
	// Tokens are single-use by default: joining again after the delete takes a second use.
	cfg.JoinToken = c.token(t, 2)
	rt, err := se.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	identity := func() se.Identity {
		var id se.Identity
		data, _ := os.ReadFile(filepath.Join(cfg.DataDir, contract.SEIdentityFile))
		json.Unmarshal(data, &id)
		return id
	}
	first := identity().SEUUID
	if first == "" {
		t.Fatal("no identity kept after joining")
	}
	defer run(rt)()

	listed := func() []string {
		var ses struct {
			Results []struct {
				UUID string `json:"uuid"`
			} `json:"results"`
		}
		c.call(t, "GET", "/api/serviceengine", nil, &ses)
		var out []string
		for _, r := range ses.Results {
			out = append(out, r.UUID)
		}
		return out
	}
	waitFor(t, "the controller to list the SE", func() bool { return len(listed()) == 1 })
	c.call(t, "DELETE", "/api/serviceengine/"+first, nil, nil)
	waitFor(t, "the SE to join again", func() bool {
		uuids := listed()
		return len(uuids) == 1 && uuids[0] != first && identity().SEUUID == uuids[0]
	})
}

// The join request tells the controller the SE's host: the one given, or the machine's.
func TestJoinTellsTheHostname(t *testing.T) {
	c := startController(t, t.TempDir(), true)
	own, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, hostname, want string }{
		{name: "se-given", hostname: "se-host-7", want: "se-host-7"},
		{name: "se-own", want: own},
	} {
		cfg := c.seConfig(t, tc.name)
		cfg.Hostname = tc.hostname
		if _, err := se.New(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		var ses struct {
			Results []struct {
				Hostname string `json:"hostname"`
			} `json:"results"`
		}
		c.call(t, "GET", "/api/serviceengine?name="+tc.name, nil, &ses)
		if len(ses.Results) != 1 || ses.Results[0].Hostname != tc.want {
			t.Errorf("SE %s (Hostname %q) as the controller stores it: %+v, want hostname %q", tc.name, tc.hostname, ses.Results, tc.want)
		}
	}
}

// TestPlacementChangeOfTheSameVersionApplies: placement moves a service to this SE (a VIP to the
// standby) and another away without a new configuration version; the SE applies both changes.
func TestPlacementChangeOfTheSameVersionApplies(t *testing.T) {
	var lines []string
	for _, u := range []sechannel.Update{
		{Version: 4, Full: true, VirtualServices: []sechannel.VirtualService{{UUID: "vs-1", Name: "first", Enabled: true}}},
		{Version: 4, BaseVersion: 4, VirtualServices: []sechannel.VirtualService{{UUID: "vs-2", Name: "moved-here", Enabled: true}}},
		{Version: 4, BaseVersion: 4, Deleted: []string{"vs-1"}},
	} {
		line, _ := json.Marshal(u)
		lines = append(lines, string(line))
	}
	a := newApplied(t, false)
	_, rt := startWithFakeController(t, a, strings.Join(lines, "\n"), io.Discard)
	stop := run(rt)
	defer stop()
	waitFor(t, "the service placed here applied and the one moved away removed", func() bool { return a.has("moved-here") && !a.has("first") })
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Equal(a.versions, []int64{4, 4, 4}) {
		t.Errorf("applied versions %v; want version 4 three times, once per change", a.versions)
	}
}

// TestRestartHoldsNorthSouthServicesForTheController: an SE restarted from the configuration kept
// on disk serves its east-west services at once, but a north-south service's VIP may have moved
// to another SE meanwhile: it waits for the controller, and is served when the controller
// confirms it here (in the version kept on disk), not when it places it elsewhere; with the
// controller unreachable, it is served after HeadlessAfter.
func TestRestartHoldsNorthSouthServicesForTheController(t *testing.T) {
	const headlessAfter = 300 * time.Millisecond
	kept := sechannel.Snapshot{Version: 7, VirtualServices: []sechannel.VirtualService{
		{UUID: "vs-1", Name: "east-west", Enabled: true}, {UUID: "vs-2", Name: "north-south", Enabled: true, VIP: "192.0.2.10"}}}
	keep := func(cfg *se.Config) {
		data, _ := json.Marshal(kept)
		if err := os.WriteFile(filepath.Join(cfg.DataDir, contract.SEConfigFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.HeadlessAfter = headlessAfter
	}
	eastWestOnly, _ := json.Marshal(sechannel.Update{Version: 7, Full: true, VirtualServices: kept.VirtualServices[:1]})
	both, _ := json.Marshal(sechannel.Update{Version: 7, Full: true, VirtualServices: kept.VirtualServices})

	for _, tc := range []struct {
		name      string
		line      string // what the controller streams
		reachable bool
	}{
		{"the controller places it elsewhere", string(eastWestOnly), true},
		{"the controller confirms it here", string(both), true},
		{"the controller is unreachable", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApplied(t, false)
			var dataDir string
			opts := []func(*se.Config){keep, func(cfg *se.Config) { dataDir = cfg.DataDir }}
			if !tc.reachable {
				opts = append(opts, func(cfg *se.Config) { cfg.Controller = "127.0.0.1:1" })
			}
			confirmed := tc.line == string(both)
			if confirmed {
				// Served by the controller's word alone: the same version as kept on disk, which
				// holds it here.
				opts = append(opts, func(cfg *se.Config) { cfg.HeadlessAfter = time.Hour })
			}
			f, rt := startWithFakeController(t, a, tc.line, io.Discard, opts...)
			if !a.has("east-west") || a.has("north-south") {
				t.Fatalf("started from disk: applied %v; want the east-west service alone", a.names())
			}
			stop := run(rt)
			defer stop()
			if confirmed {
				waitFor(t, "north-south served once the controller confirmed it", func() bool { return a.has("north-south") })
			} else if tc.reachable {
				// Once the controller has spoken, and well past HeadlessAfter, the service it
				// placed elsewhere is still not served here (had HeadlessAfter passed before
				// it spoke, its word would have removed the service again).
				waitFor(t, "the controller's snapshot", f.hasStreamed)
				time.Sleep(5 * headlessAfter)
				if a.has("north-south") {
					t.Errorf("after HeadlessAfter: north-south served true; want false")
				}
				// Nor would a later start without the controller: the file no longer holds it.
				waitFor(t, "the kept configuration without the service placed elsewhere", func() bool {
					var onDisk sechannel.Snapshot
					data, err := os.ReadFile(filepath.Join(dataDir, contract.SEConfigFile))
					return err == nil && json.Unmarshal(data, &onDisk) == nil && len(onDisk.VirtualServices) == 1 && onDisk.VirtualServices[0].Name == "east-west"
				})
			} else {
				waitFor(t, "north-south served once HeadlessAfter passed", func() bool { return a.has("north-south") })
			}
			if !a.has("east-west") {
				t.Error("the east-west service is no longer served")
			}
		})
	}
}

// TestMissedUpdateResyncs: an update relative to a version the SE does not hold (it missed one)
// ends the stream without being applied; the next stream starts whole, its later updates apply,
// a deletion among them, and the configuration kept on disk is the one the SE holds.
func TestMissedUpdateResyncs(t *testing.T) {
	vs := func(id, name string) sechannel.VirtualService {
		return sechannel.VirtualService{UUID: id, Name: name, Enabled: true, Services: []avi.Service{{Port: 80}}}
	}
	line := func(u sechannel.Update) string { data, _ := json.Marshal(u); return string(data) }
	streams := [][]string{
		{line(sechannel.Update{Version: 1, Full: true, VirtualServices: []sechannel.VirtualService{vs("a", "alpha"), vs("b", "beta")}}),
			line(sechannel.Update{Version: 3, BaseVersion: 2, VirtualServices: []sechannel.VirtualService{vs("x", "missed")}})},
		{line(sechannel.Update{Version: 3, Full: true, VirtualServices: []sechannel.VirtualService{vs("a", "alpha"), vs("c", "gamma")}}),
			line(sechannel.Update{Version: 4, BaseVersion: 3, Deleted: []string{"a"}})},
	}
	var mu sync.Mutex
	opened := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+sechannel.SnapshotPath, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := opened
		opened++
		mu.Unlock()
		if n < len(streams) {
			for _, l := range streams[n] {
				fmt.Fprintln(w, l)
			}
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("POST "+sechannel.HeartbeatPath, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	a := newApplied(t, false)
	rt, dir := newSE(t, srv, a, io.Discard)
	stop := run(rt)
	waitFor(t, "version 4", func() bool { return rt.Version() == 4 })
	stop()
	a.mu.Lock()
	versions := slices.Clone(a.versions)
	a.mu.Unlock()
	if names := a.names(); !slices.Equal(versions, []int64{1, 3, 4}) || !reflect.DeepEqual(names, map[string]bool{"gamma": true}) {
		t.Errorf("applied versions %v, holding %v: want 1, 3, 4 (never the missed update) and gamma alone", versions, names)
	}
	var saved sechannel.Snapshot
	data, err := os.ReadFile(filepath.Join(dir, contract.SEConfigFile))
	if err == nil {
		err = json.Unmarshal(data, &saved)
	}
	if want := (sechannel.Snapshot{Version: 4, VirtualServices: []sechannel.VirtualService{vs("c", "gamma")}}); err != nil || !reflect.DeepEqual(saved, want) {
		t.Errorf("kept on disk %+v (%v), want %+v", saved, err, want)
	}
}

// TestHeartbeatsReuseTheirConnection: the controller answers heartbeats with a body over
// HTTP/1.1 (it offers no HTTP/2); the SE reads each answer to the end, so its heartbeats share
// one connection rather than costing a TLS handshake each.
func TestHeartbeatsReuseTheirConnection(t *testing.T) {
	var mu sync.Mutex
	conns, heartbeats := 0, 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+sechannel.SnapshotPath, func(w http.ResponseWriter, r *http.Request) {
		line, _ := json.Marshal(sechannel.Update{Version: 1, Full: true})
		fmt.Fprintln(w, string(line))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("POST "+sechannel.HeartbeatPath, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		heartbeats++
		mu.Unlock()
		fmt.Fprintln(w, `{"ok": true}`)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rt, _ := newSE(t, srv, newApplied(t, false), io.Discard)
	stop := run(rt)
	defer stop()
	waitFor(t, "ten heartbeats", func() bool { mu.Lock(); defer mu.Unlock(); return heartbeats >= 10 })
	mu.Lock()
	defer mu.Unlock()
	// The stream holds one connection, the heartbeats another; a third is slack for a
	// heartbeat that races the first one's return to the pool.
	if conns > 3 {
		t.Errorf("%d connections for %d heartbeats and a stream; want at most 3", conns, heartbeats)
	}
}

// TestConnectionsLeaveFromLocalAddr: with LocalAddr set, the SE's connections to its controller
// leave from that address.
func TestConnectionsLeaveFromLocalAddr(t *testing.T) {
	var mu sync.Mutex
	from := map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+sechannel.HeartbeatPath, func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from[host] = true
		mu.Unlock()
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	rt, _ := newSE(t, srv, newApplied(t, false), io.Discard, func(cfg *se.Config) { cfg.LocalAddr = "127.0.0.2" })
	stop := run(rt)
	defer stop()
	waitFor(t, "a heartbeat", func() bool { mu.Lock(); defer mu.Unlock(); return len(from) > 0 })
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(from, map[string]bool{"127.0.0.2": true}) {
		t.Errorf("heartbeats from %v, want 127.0.0.2 alone", slices.Collect(maps.Keys(from)))
	}
}

// TestStopHandsOverNorthSouthServices: an SE stopping with a north-south service says it is
// leaving and keeps serving until the controller answers that other SEs have taken the service
// over (make before break), or for handOverTimeout when none answers so; an SE with east-west
// services only has nothing to hand over and stops at once.
func TestStopHandsOverNorthSouthServices(t *testing.T) {
	update := func(vip string) string {
		line, _ := json.Marshal(sechannel.Update{Version: 2, Full: true, VirtualServices: []sechannel.VirtualService{
			{UUID: "vs-ew", Name: "east-west", Enabled: true},
			{UUID: "vs-ns", Name: "north-south", Enabled: true, VIP: vip},
		}})
		return string(line)
	}
	for _, tc := range []struct {
		name        string
		vip         string
		handedAfter int // leaving heartbeats before the controller answers handed over; 0: never
		atLeast     time.Duration
		within      time.Duration
	}{
		{name: "taken over at the third leaving heartbeat", vip: "192.0.2.10", handedAfter: 3, within: 2 * time.Second},
		{name: "never taken over", vip: "192.0.2.10", atLeast: 2500 * time.Millisecond, within: 6 * time.Second},
		{name: "east-west only", within: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			leaving := 0
			a := newApplied(t, false)
			_, rt := startAnswering(t, a, update(tc.vip), func(hb sechannel.Heartbeat) *sechannel.HeartbeatAnswer {
				mu.Lock()
				defer mu.Unlock()
				if !hb.Leaving {
					return &sechannel.HeartbeatAnswer{}
				}
				leaving++
				return &sechannel.HeartbeatAnswer{HandedOver: tc.handedAfter > 0 && leaving >= tc.handedAfter}
			}, io.Discard)
			stop := run(rt)
			waitFor(t, "the configuration applied", func() bool { return a.has("north-south") })
			mu.Lock()
			if leaving != 0 {
				t.Errorf("%d heartbeats said leaving before the SE was stopped", leaving)
			}
			mu.Unlock()
			start := time.Now()
			stop()
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case tc.vip == "" && leaving != 0:
				t.Errorf("an SE with no VIP sent %d leaving heartbeats; want none", leaving)
			case tc.handedAfter > 0 && leaving != tc.handedAfter:
				t.Errorf("%d leaving heartbeats; want the SE to stop at the answer to the %dth", leaving, tc.handedAfter)
			case tc.vip != "" && tc.handedAfter == 0 && leaving < 2:
				t.Errorf("%d leaving heartbeats while waiting; want it to ask again", leaving)
			}
			if took < tc.atLeast || took > tc.within {
				t.Errorf("stopping took %v; want %v to %v", took.Round(time.Millisecond), tc.atLeast, tc.within)
			}
		})
	}
}

// TestHeartbeatThroughCutsTheStreamBackoff: while the snapshot stream keeps failing, its retries
// back off (to 10 s); once a heartbeat gets through, a network cut has healed and the stream is
// tried again at once rather than at the end of its backoff.
func TestHeartbeatThroughCutsTheStreamBackoff(t *testing.T) {
	var mu sync.Mutex
	cut := true
	attempts := 0
	line, _ := json.Marshal(sechannel.Update{Version: 3, Full: true, VirtualServices: []sechannel.VirtualService{{UUID: "vs-1", Name: "web", Enabled: true}}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+sechannel.SnapshotPath, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		down := cut
		mu.Unlock()
		if down {
			http.Error(w, "cut", http.StatusServiceUnavailable)
			return
		}
		w.Write(append(line, '\n'))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("POST "+sechannel.HeartbeatPath, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cut {
			http.Error(w, "cut", http.StatusServiceUnavailable)
		}
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	a := newApplied(t, false)
	rt, _ := newSE(t, srv, a, io.Discard, func(c *se.Config) { c.HeartbeatInterval = 100 * time.Millisecond })
	stop := run(rt)
	defer stop()
	// Backoff 0.2, 0.4, ... 6.4 s: six attempts within about 6 s, the next wait 6.4 s.
	waitFor(t, "the stream to have failed six times", func() bool { mu.Lock(); defer mu.Unlock(); return attempts >= 6 })
	mu.Lock()
	cut = false
	mu.Unlock()
	healed := time.Now()
	waitFor(t, "the configuration applied", func() bool { return a.has("web") })
	if took := time.Since(healed); took > 2*time.Second {
		t.Errorf("the stream came back %v after heartbeats got through; want within about a heartbeat, not the backoff's 6.4 s", took.Round(time.Millisecond))
	}
}

// TestHeartbeatAtOnceForNorthSouthOnly: a north-south service placed on the SE is reported at
// once (the SE it moved from waits on that to let its VIP go); an east-west change waits for the
// next heartbeat, so that a group's SEs do not all report at once after every change.
func TestHeartbeatAtOnceForNorthSouthOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vip    string
		atOnce bool
	}{
		{name: "north-south", vip: "192.0.2.10", atOnce: true},
		{name: "east-west"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, _ := json.Marshal(sechannel.Update{Version: 2, Full: true, VirtualServices: []sechannel.VirtualService{{UUID: "vs-1", Name: "web", Enabled: true, VIP: tc.vip}}})
			a := newApplied(t, false)
			handedOver := func(sechannel.Heartbeat) *sechannel.HeartbeatAnswer {
				return &sechannel.HeartbeatAnswer{HandedOver: true}
			}
			f, rt := startAnswering(t, a, string(line), handedOver, io.Discard, func(c *se.Config) { c.HeartbeatInterval = time.Hour })
			stop := run(rt)
			defer stop()
			waitFor(t, "the configuration applied", func() bool { return a.has("web") })
			// The heartbeat every SE sends as it starts may come before or after the apply;
			// what the apply asks for comes after it.
			time.Sleep(time.Second)
			f.mu.Lock()
			beats := len(f.heartbeats)
			f.mu.Unlock()
			if reported := beats > 1; reported != tc.atOnce {
				t.Errorf("%d heartbeats within a second of the apply, the first at start; a heartbeat asked for by the apply: %v, want %v", beats, reported, tc.atOnce)
			}
		})
	}
}

func (f *fakeController) heartbeatCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.heartbeats)
}

// An SE learns the nodes of its controller's cluster from the heartbeat answers, keeps them,
// and when its node goes, goes on with another within seconds, trusting it by its pin; a
// restart starts from the nodes kept.
func TestSEMovesToAnotherControllerNode(t *testing.T) {
	line := `{"version": 1, "full": true, "virtual_services": []}`
	var a, b *httptest.Server
	nodes := func() []sechannel.ControllerNode {
		return []sechannel.ControllerNode{{Addr: a.Listener.Addr().String(), CertHash: sechannel.CertHash(a.Certificate())},
			{Addr: b.Listener.Addr().String(), CertHash: sechannel.CertHash(b.Certificate())}}
	}
	answer := func(sechannel.Heartbeat) *sechannel.HeartbeatAnswer {
		return &sechannel.HeartbeatAnswer{Controllers: nodes()}
	}
	fa, a := fakeNode(t, line, answer)
	fb, b := fakeNode(t, line, answer)
	rt, dir := newSE(t, a, newApplied(t, false), io.Discard)
	stop := run(rt)
	waitFor(t, "the SE to learn the cluster's nodes", func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, contract.SEIdentityFile))
		var id se.Identity
		return json.Unmarshal(data, &id) == nil && len(id.Controllers) == 2
	})
	if fb.heartbeatCount() != 0 {
		t.Fatalf("heartbeats at the second node while the first answers: %d", fb.heartbeatCount())
	}
	close(fa.gone) // the node dies: its streams end with it
	a.CloseClientConnections()
	a.Close()
	start := time.Now()
	waitFor(t, "heartbeats at the other node", func() bool { return fb.heartbeatCount() > 0 })
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the SE took %v to go to the other node; want within seconds", took)
	}
	t.Logf("on the other node after %v (%d heartbeats at the first)", time.Since(start).Round(time.Millisecond), fa.heartbeatCount())
	stop()

	// Restarted, the SE's identity still names the dead node first: it finds the live one.
	before := fb.heartbeatCount()
	rt2, err := se.New(context.Background(), se.Config{DataDir: dir, Apply: newApplied(t, false).apply, HeartbeatInterval: 50 * time.Millisecond,
		RetryInterval: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	stop2 := run(rt2)
	defer stop2()
	waitFor(t, "the restarted SE at the live node", func() bool { return fb.heartbeatCount() > before })
}

// A controller answering 503 (a cluster electing its leader) is asked again within a third of a
// second each time, not after a growing backoff: the SE has its configuration soon after the
// new leader is in.
func TestUnavailableControllerAskedAgainSoon(t *testing.T) {
	var mu sync.Mutex
	available := false
	var unavailableAnswers int
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+sechannel.SnapshotPath, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := available
		if !ok {
			unavailableAnswers++
		}
		mu.Unlock()
		if !ok {
			http.Error(w, `{"error": "no leader"}`, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, `{"version": 7, "full": true, "virtual_services": []}`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("POST "+sechannel.HeartbeatPath, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error": "no leader"}`, http.StatusServiceUnavailable)
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	a := newApplied(t, false)
	rt, _ := newSE(t, srv, a, io.Discard, func(c *se.Config) { c.HeartbeatInterval = time.Hour })
	stop := run(rt)
	defer stop()
	time.Sleep(3 * time.Second) // long enough for a doubling backoff to reach 3.2 s
	mu.Lock()
	answers := unavailableAnswers
	available = true
	mu.Unlock()
	start := time.Now()
	waitFor(t, "the configuration once the controller is available", func() bool { return rt.Version() == 7 })
	if took := time.Since(start); took > time.Second {
		t.Errorf("the SE had the configuration %v after the controller became available; want within a second", took)
	}
	if answers < 8 {
		t.Errorf("the SE asked %d times in 3 s while the controller answered 503; want every 300 ms or so", answers)
	}
}
