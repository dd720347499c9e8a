package se_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/testnet"
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
	cfg := controller.Config{DataDir: dir, HTTPSPort: c.https, HTTPPort: testnet.FreePort(t), SysintPort: c.sysint, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
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

// applied records the snapshots the SE applied; it refuses any with a VS named "refuse-me".
type applied struct {
	mu       sync.Mutex
	versions []int64
	names    map[string]bool
}

func (a *applied) apply(s sechannel.Snapshot) error {
	for _, v := range s.VirtualServices {
		if v.Name == "refuse-me" {
			return errors.New("cannot listen on port 1")
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.versions = append(a.versions, s.Version)
	a.names = map[string]bool{}
	for _, v := range s.VirtualServices {
		a.names[v.Name] = true
	}
	return nil
}

func (a *applied) has(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.names[name]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestRejectedConfigKeepsLastGoodAndHeadlessRestart(t *testing.T) {
	c := startController(t, t.TempDir(), true)
	a := &applied{}
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
	good := rt.Version()

	c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "refuse-me", "services": []map[string]int{{"port": 1}}}, nil)
	var ses struct {
		Results []struct {
			ConfigError   string `json:"config_error"`
			ConfigVersion int64  `json:"config_version"`
		} `json:"results"`
	}
	waitFor(t, "the controller to show the rejection", func() bool {
		c.call(t, "GET", "/api/serviceengine", nil, &ses)
		return len(ses.Results) == 1 && ses.Results[0].ConfigError != ""
	})
	if rt.Version() != good || ses.Results[0].ConfigVersion != good || !a.has("good") {
		t.Errorf("after a rejected snapshot the SE serves version %d (controller sees %d), want the last good %d", rt.Version(), ses.Results[0].ConfigVersion, good)
	}
	stop()
	if err := contract.ProbeSE(seDir); err != nil {
		t.Errorf("probe after the SE applied a configuration: %v", err)
	}

	// The controller goes away; a restarted SE serves its last good configuration from disk.
	c.stop()
	b := &applied{}
	cfg.Apply, cfg.JoinToken = b.apply, ""
	rt2, err := se.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("restart without the controller: %v", err)
	}
	if rt2.Version() != good || !b.has("good") {
		t.Errorf("headless restart serves version %d, want %d with the good VS", rt2.Version(), good)
	}
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
