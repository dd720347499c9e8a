package linuxcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/sshdeploy"
	"github.com/avi-init/avi-init/internal/syncbuf"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
	"github.com/avi-init/avi-init/runtime/controller/store/storetest"
)

// fakeHost is how one host behaves. Fields are read under fakeSSH's lock.
type fakeHost struct {
	dialErrs   []error // returned by the next dials, one each; then dials succeed
	keyChanged bool    // dials are refused as a changed host key until the host's key is forgotten
	sudoErr    error
	installErr error
	installs   []sshdeploy.InstallRequest
	uninstalls int
	joined     bool // the SE installed last has joined
}

// fakeSSH is a Dialer whose sessions report what the manager asked and when.
type fakeSSH struct {
	mu    sync.Mutex
	m     *Manager
	hosts map[string]*fakeHost
	// statesSeen is the host's state at each step, as the manager showed it then.
	statesSeen map[string][]string
}

func (f *fakeSSH) host(addr string) *fakeHost {
	if f.hosts[addr] == nil {
		f.hosts[addr] = &fakeHost{}
	}
	return f.hosts[addr]
}

func (f *fakeSSH) Dial(_ context.Context, host string, port int, user, privateKey string) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if user != "ops" || privateKey == "" || port != 22 {
		return nil, fmt.Errorf("dialed as %q on port %d", user, port)
	}
	h := f.host(host)
	if len(h.dialErrs) > 0 {
		err := h.dialErrs[0]
		h.dialErrs = h.dialErrs[1:]
		return nil, err
	}
	if h.keyChanged {
		return nil, &sshdeploy.HostKeyChangedError{Host: host, Recorded: "SHA256:old", Presented: "SHA256:new"}
	}
	return &fakeSession{f: f, addr: host}, nil
}

func (f *fakeSSH) see(addr, step string) {
	f.statesSeen[addr] = append(f.statesSeen[addr], step+":"+f.m.state(target{ip: avi.IPAddr{Addr: addr}}))
}

type fakeSession struct {
	f    *fakeSSH
	addr string
}

func (s *fakeSession) HostKeyFingerprint() string { return "SHA256:fake-" + s.addr }
func (s *fakeSession) LocalIP() net.IP            { return net.ParseIP("192.0.2.1") }
func (s *fakeSession) RemoteIP() net.IP           { return net.ParseIP(s.addr) }
func (s *fakeSession) Close() error               { return nil }

func (s *fakeSession) CheckSudo(context.Context) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return s.f.host(s.addr).sudoErr
}

func (s *fakeSession) CopyBinary(context.Context) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.see(s.addr, "copy")
	return nil
}

func (s *fakeSession) Install(_ context.Context, r sshdeploy.InstallRequest) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.see(s.addr, "install")
	h := s.f.host(s.addr)
	h.installs = append(h.installs, r)
	h.joined = h.installErr == nil
	return h.installErr
}

func (s *fakeSession) Uninstall(context.Context) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	h := s.f.host(s.addr)
	h.uninstalls++
	h.joined = false
	return nil
}

// fakeController issues tokens and has an SE join once its host's installer ran.
type fakeController struct {
	mu      sync.Mutex
	ssh     *fakeSSH
	issued  []string
	revoked map[string]bool
	ready   map[string]bool // SEs that heartbeat, by management address
	removed []string
}

func (c *fakeController) JoinToken(desc string) (string, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tok := fmt.Sprintf("tok%d", len(c.issued))
	c.issued = append(c.issued, tok)
	return tok, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.revoked[tok] = true
	}, nil
}

func (c *fakeController) SE(ip string) (string, bool) {
	c.mu.Lock()
	ready, known := c.ready[ip]
	c.mu.Unlock()
	if !known {
		// Not told otherwise: the SE joins once the installer ran without error.
		c.ssh.mu.Lock()
		ready = c.ssh.host(ip).joined
		c.ssh.mu.Unlock()
	}
	return "/api/serviceengine/serviceengine-" + ip, ready
}

func (c *fakeController) setReady(ip string, ready bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready[ip] = ready
}

func (c *fakeController) RemoveSEs(ip string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removed = append(c.removed, ip)
	return nil
}

// fakeKeys records what is forgotten; forgetting a host's key lets it be dialed with its new one.
type fakeKeys struct {
	mu        sync.Mutex
	ssh       *fakeSSH
	forgotten []string
}

func (k *fakeKeys) Fingerprint(string) (string, error) { return "", nil }
func (k *fakeKeys) Forget(host string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forgotten = append(k.forgotten, host)
	k.ssh.mu.Lock()
	defer k.ssh.mu.Unlock()
	k.ssh.host(host).keyChanged = false
	return nil
}

// harness is a Manager over a real store, with fake SSH, controller and clock.
type harness struct {
	m     *Manager
	st    *store.Store
	ssh   *fakeSSH
	ctl   *fakeController
	keys  *fakeKeys
	logs  *syncbuf.Buffer
	cloud string
	key   *avi.CloudConnectorUser
	// waits receives each backoff the manager starts; it waits until the test sends on release.
	waits   chan time.Duration
	release chan struct{}
}

func newHarness(t *testing.T, hosts ...string) *harness {
	t.Helper()
	st := storetest.Open(t)
	h := &harness{st: st, keys: &fakeKeys{}, logs: &syncbuf.Buffer{}, waits: make(chan time.Duration), release: make(chan struct{})}
	h.ssh = &fakeSSH{hosts: map[string]*fakeHost{}, statesSeen: map[string][]string{}}
	h.ctl = &fakeController{ssh: h.ssh, revoked: map[string]bool{}, ready: map[string]bool{}}
	h.keys.ssh = h.ssh
	h.key = &avi.CloudConnectorUser{Meta: avi.Meta{Name: "ops"}}
	if err := st.Create(h.key); err != nil {
		t.Fatal(err)
	}
	h.m = New(Config{Store: st, Dialer: h.ssh, HostKeys: h.keys, Controller: h.ctl, SysintPort: 8443,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil))})
	h.ssh.m = h.m
	h.m.jitter = func() float64 { return 0.5 }
	h.m.readyTimeout = 200 * time.Millisecond
	h.m.sleep = func(ctx context.Context, d time.Duration) error {
		if d == pollInterval {
			return sleep(ctx, time.Millisecond)
		}
		select {
		case h.waits <- d:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-h.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := h.cloudObject(hosts)
	if err := st.Create(c); err != nil {
		t.Fatal(err)
	}
	h.cloud = c.UUID
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

func (h *harness) cloudObject(hosts []string) *avi.Cloud {
	c := &avi.Cloud{Meta: avi.Meta{Name: "linux"}, Vtype: avi.CloudLinuxServer,
		LinuxserverConfiguration: &avi.LinuxServerConfiguration{SSHUserRef: "/api/cloudconnectoruser?name=ops"}}
	for _, a := range hosts {
		c.LinuxserverConfiguration.Hosts = append(c.LinuxserverConfiguration.Hosts, avi.LinuxHost{HostIP: avi.IPAddr{Addr: a, Type: "V4"}})
	}
	return c
}

func (h *harness) setHosts(t *testing.T, hosts ...string) {
	t.Helper()
	if err := h.st.Put(h.cloud, h.cloudObject(hosts)); err != nil {
		t.Fatal(err)
	}
}

// commitHosts writes the cloud with each list of hosts in turn, all in one commit: the manager
// sees the last list only, as it does when the store's change signal coalesces quick writes.
func (h *harness) commitHosts(t *testing.T, lists ...[]string) {
	t.Helper()
	err := h.st.Update(func(tx *store.Tx) error {
		for _, hosts := range lists {
			if err := tx.Put(h.cloud, h.cloudObject(hosts)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) status(t *testing.T, addr string) HostStatus {
	t.Helper()
	c, err := store.Get[*avi.Cloud](h.st, h.cloud)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range h.m.Hosts(c) {
		if s.HostIP.Addr == addr {
			return s
		}
	}
	return HostStatus{}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (h *harness) waitState(t *testing.T, addr, state string) HostStatus {
	t.Helper()
	var st HostStatus
	waitFor(t, addr+" "+state, func() bool {
		st = h.status(t, addr)
		return st.State == state
	})
	return st
}

func TestDeployHostsToReady(t *testing.T) {
	h := newHarness(t, "198.51.100.1", "198.51.100.2")
	for _, addr := range []string{"198.51.100.1", "198.51.100.2"} {
		st := h.waitState(t, addr, StateReady)
		if st.HostKeyFingerprint != "SHA256:fake-"+addr || st.SERef != "/api/serviceengine/serviceengine-"+addr || st.Reason != "" {
			t.Errorf("%s: %+v", addr, st)
		}
	}
	h.ssh.mu.Lock()
	defer h.ssh.mu.Unlock()
	for _, addr := range []string{"198.51.100.1", "198.51.100.2"} {
		if got, want := strings.Join(h.ssh.statesSeen[addr], " "), "copy:Image in Progress install:Start in Progress"; got != want {
			t.Errorf("%s: states at each step %q, want %q", addr, got, want)
		}
		in := h.ssh.hosts[addr].installs
		// No management IP configured: the address the host reached the controller at.
		if len(in) != 1 || in[0].ControllerIP != "192.0.2.1" || in[0].MgmtIP != addr || in[0].SysintPort != 8443 || !strings.HasPrefix(in[0].JoinToken, "tok") {
			t.Errorf("%s: installs %+v", addr, in)
		}
	}
	h.ctl.mu.Lock()
	defer h.ctl.mu.Unlock()
	if len(h.ctl.issued) != 2 || !h.ctl.revoked[h.ctl.issued[0]] || !h.ctl.revoked[h.ctl.issued[1]] {
		t.Errorf("tokens issued %v, revoked %v: want one per deployment, each revoked once the SE is ready", h.ctl.issued, h.ctl.revoked)
	}
}

func TestUnreachableHostRetriedWithBackoffUntilItComesBack(t *testing.T) {
	h := newHarness(t)
	h.ssh.hosts["198.51.100.3"] = &fakeHost{dialErrs: []error{
		errors.New("connect to 198.51.100.3:22: connection refused"),
		errors.New("connect to 198.51.100.3:22: connection refused"),
		errors.New("connect to 198.51.100.3:22: no route to host"),
	}}
	h.setHosts(t, "198.51.100.3")
	// Jitter 0.5: 1.5 s, 3 s, 6 s.
	for i, want := range []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second} {
		got := <-h.waits
		if got != want {
			t.Errorf("backoff %d: %v, want %v", i+1, got, want)
		}
		st := h.status(t, "198.51.100.3")
		if st.State != StateSSHFailed || !strings.Contains(st.Reason, "198.51.100.3:22") || st.NextAttempt == "" || st.Attempts != i+1 {
			t.Errorf("while waiting: %+v", st)
		}
		h.release <- struct{}{}
	}
	st := h.waitState(t, "198.51.100.3", StateReady)
	if st.Reason != "" || st.NextAttempt != "" {
		t.Errorf("ready host: %+v", st)
	}
}

func TestSudoMissingAndChangedKeyAreSSHFailed(t *testing.T) {
	h := newHarness(t)
	h.ssh.hosts["198.51.100.4"] = &fakeHost{sudoErr: errors.New("password-less sudo is not available to ops (sudo: a password is required)")}
	changed := &sshdeploy.HostKeyChangedError{Host: "198.51.100.5", Recorded: "SHA256:old", Presented: "SHA256:new"}
	h.ssh.hosts["198.51.100.5"] = &fakeHost{dialErrs: []error{changed}}
	h.setHosts(t, "198.51.100.4", "198.51.100.5")
	want := map[string][]string{
		"198.51.100.4": {"password-less sudo", "a password is required"},
		"198.51.100.5": {"changed", "SHA256:old", "SHA256:new", "refused"},
	}
	for range 2 {
		<-h.waits
	}
	for addr, mention := range want {
		st := h.status(t, addr)
		if st.State != StateSSHFailed {
			t.Errorf("%s: state %q, want %q", addr, st.State, StateSSHFailed)
		}
		for _, s := range mention {
			if !strings.Contains(st.Reason, s) {
				t.Errorf("%s: reason %q does not mention %q", addr, st.Reason, s)
			}
		}
	}
	h.ssh.mu.Lock()
	defer h.ssh.mu.Unlock()
	for addr := range want {
		if n := len(h.ssh.hosts[addr].installs); n != 0 {
			t.Errorf("%s: installed %d times", addr, n)
		}
	}
}

func TestFailedInstallKeepsItsStepAndReason(t *testing.T) {
	h := newHarness(t)
	h.ssh.hosts["198.51.100.6"] = &fakeHost{installErr: errors.New("installer on the host: exit status 1: preflight: Docker engine not reachable")}
	h.setHosts(t, "198.51.100.6")
	<-h.waits
	st := h.status(t, "198.51.100.6")
	if st.State != StateStartInProgress || !strings.Contains(st.Reason, "Docker engine not reachable") {
		t.Errorf("after a failed install: %+v", st)
	}
}

func TestRemovedHostUninstalledAndAddedBack(t *testing.T) {
	h := newHarness(t, "198.51.100.7", "198.51.100.8")
	h.waitState(t, "198.51.100.7", StateReady)
	h.waitState(t, "198.51.100.8", StateReady)
	h.setHosts(t, "198.51.100.8")
	waitFor(t, "the SE record removed", func() bool {
		h.ctl.mu.Lock()
		defer h.ctl.mu.Unlock()
		return len(h.ctl.removed) == 1
	})
	h.ssh.mu.Lock()
	uninstalls := h.ssh.hosts["198.51.100.7"].uninstalls
	h.ssh.mu.Unlock()
	h.ctl.mu.Lock()
	removed := h.ctl.removed
	h.ctl.mu.Unlock()
	h.keys.mu.Lock()
	forgotten := h.keys.forgotten
	h.keys.mu.Unlock()
	if uninstalls != 1 || removed[0] != "198.51.100.7" || len(forgotten) != 1 || forgotten[0] != "198.51.100.7" {
		t.Errorf("removal: %d uninstalls, SE records removed %v, keys forgotten %v", uninstalls, removed, forgotten)
	}
	h.m.mu.Lock()
	_, kept := h.m.status["198.51.100.7"]
	h.m.mu.Unlock()
	if kept {
		t.Errorf("a removed host keeps a status")
	}

	// Added back: deployed again.
	h.setHosts(t, "198.51.100.8", "198.51.100.7")
	h.waitState(t, "198.51.100.7", StateReady)
	h.ssh.mu.Lock()
	defer h.ssh.mu.Unlock()
	if n := len(h.ssh.hosts["198.51.100.7"].installs); n != 2 {
		t.Errorf("installs after adding the host back: %d, want 2", n)
	}
}

// A Docker cloud's hosts are SE hosts too; the cloud turning into another type removes them.
func TestDockerCloudHostsGetSEs(t *testing.T) {
	h := newHarness(t)
	docker := &avi.Cloud{Meta: avi.Meta{Name: "docker"}, Vtype: avi.CloudDocker, DockerConfiguration: &avi.DockerConfiguration{
		SSHUserRef: "/api/cloudconnectoruser?name=ops", Hosts: []avi.LinuxHost{{HostIP: avi.IPAddr{Addr: "198.51.100.20", Type: "V4"}}}}}
	if err := h.st.Create(docker); err != nil {
		t.Fatal(err)
	}
	hosts := h.m.Hosts(docker)
	if len(hosts) != 1 || hosts[0].HostIP.Addr != "198.51.100.20" {
		t.Fatalf("the Docker cloud's hosts: %+v", hosts)
	}
	waitFor(t, "the Docker cloud's host Ready", func() bool {
		c, err := store.Get[*avi.Cloud](h.st, docker.UUID)
		if err != nil {
			return false
		}
		hs := h.m.Hosts(c)
		return len(hs) == 1 && hs[0].State == StateReady
	})
	none := docker
	none.Vtype = avi.CloudNone
	if err := h.st.Put(none.UUID, none); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the host's SE uninstalled", func() bool {
		h.ssh.mu.Lock()
		defer h.ssh.mu.Unlock()
		return h.ssh.hosts["198.51.100.20"].uninstalls == 1
	})
}

// A reinstalled host (its key changed) is removed and at once added back, as the refusal tells
// the operator: its removal cannot uninstall (the key is still refused) and is cut short, yet
// the key is forgotten, so that the host is trusted anew and deployed.
func TestChangedKeyHostRemovedAndAddedBackAtOnce(t *testing.T) {
	const addr = "198.51.100.10"
	h := newHarness(t)
	changed := &sshdeploy.HostKeyChangedError{Host: addr, Recorded: "SHA256:old", Presented: "SHA256:new"}
	h.ssh.hosts[addr] = &fakeHost{dialErrs: []error{changed, changed}}
	h.setHosts(t, addr)
	<-h.waits // the deployment refused
	h.setHosts(t)
	<-h.waits // the uninstall refused
	if st := h.status(t, addr); st.State != "" {
		t.Errorf("a host no longer listed shows %+v", st)
	}
	h.setHosts(t, addr)
	h.waitState(t, addr, StateReady)
	h.keys.mu.Lock()
	defer h.keys.mu.Unlock()
	if len(h.keys.forgotten) != 1 || h.keys.forgotten[0] != addr {
		t.Errorf("keys forgotten %v, want %s's", h.keys.forgotten, addr)
	}
}

// A host removed and added back is a new entry, whether or not the manager saw it unlisted: its
// key is forgotten and learned anew, and it is deployed again. The removal and the addition are
// one commit here, so the manager cannot see the host unlisted; a host kept is left alone.
func TestHostRemovedAndAddedBackUnseen(t *testing.T) {
	const addr, other = "198.51.100.11", "198.51.100.12"
	for _, tt := range []struct {
		name       string
		keyChanged bool // reinstalled: its deployment is refused until the key is forgotten
		lists      [][]string
		forgotten  int
		installs   int
	}{
		{"reinstalled host removed and added back", true, [][]string{{other}, {other, addr}}, 1, 1},
		{"ready host removed and added back", false, [][]string{{other}, {other, addr}}, 1, 2},
		{"ready host kept while another is added", false, [][]string{{addr, other}}, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.ssh.hosts[addr] = &fakeHost{keyChanged: tt.keyChanged}
			h.setHosts(t, addr)
			if tt.keyChanged {
				<-h.waits // the deployment refused, waiting to retry
				if st := h.status(t, addr); st.State != StateSSHFailed || !strings.Contains(st.Reason, "changed") {
					t.Fatalf("reinstalled host before its removal: %+v", st)
				}
			} else {
				h.waitState(t, addr, StateReady)
			}
			h.commitHosts(t, tt.lists...)
			var forgotten, installs int
			counts := func() {
				h.keys.mu.Lock()
				forgotten = len(h.keys.forgotten)
				h.keys.mu.Unlock()
				h.ssh.mu.Lock()
				installs = len(h.ssh.hosts[addr].installs)
				h.ssh.mu.Unlock()
			}
			waitFor(t, "the host's key forgotten and its SE installed as often as wanted", func() bool {
				counts()
				return forgotten >= tt.forgotten && installs >= tt.installs
			})
			// The other host's deployment began in the same pass as any of this host's.
			h.waitState(t, other, StateReady)
			st := h.waitState(t, addr, StateReady)
			if st.HostKeyFingerprint != "SHA256:fake-"+addr || st.Reason != "" {
				t.Errorf("%s after the commit: %+v", addr, st)
			}
			counts()
			if forgotten != tt.forgotten || installs != tt.installs {
				t.Errorf("key forgotten %d times, installed %d times; want %d and %d", forgotten, installs, tt.forgotten, tt.installs)
			}
		})
	}
}

func TestConnectedSEIsNotDeployedAgain(t *testing.T) {
	h := newHarness(t)
	h.ctl.setReady("198.51.100.9", true)
	h.setHosts(t, "198.51.100.9")
	h.waitState(t, "198.51.100.9", StateReady)
	// The SE goes away: shown Started, then, past the timeout, deployed again.
	h.ctl.setReady("198.51.100.9", false)
	h.waitState(t, "198.51.100.9", StateStarted)
	waitFor(t, "a new deployment", func() bool {
		h.ssh.mu.Lock()
		defer h.ssh.mu.Unlock()
		return len(h.ssh.host("198.51.100.9").installs) > 0
	})
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		attempt  int
		jitter   float64
		min, max time.Duration
	}{
		{1, 0, time.Second, time.Second},
		{1, 0.999, time.Second, 2 * time.Second},
		{2, 0, 2 * time.Second, 2 * time.Second},
		{5, 1, 16 * time.Second, 32 * time.Second},
		{6, 0, 30 * time.Second, 30 * time.Second},
		{6, 1, 60 * time.Second, 60 * time.Second},
		{100, 0.5, 45 * time.Second, 45 * time.Second},
	} {
		if got := backoff(tt.attempt, tt.jitter); got < tt.min || got > tt.max {
			t.Errorf("backoff(%d, %v) = %v, want %v..%v", tt.attempt, tt.jitter, got, tt.min, tt.max)
		}
	}
}

// The private key never shows in a host's status or the manager's logs, even when deployments
// fail.
func TestNoPrivateKeyInStatusOrLogs(t *testing.T) {
	h := newHarness(t)
	h.ssh.hosts["198.51.100.10"] = &fakeHost{dialErrs: []error{errors.New("connect: connection refused")}}
	h.setHosts(t, "198.51.100.10")
	<-h.waits
	h.release <- struct{}{}
	st := h.waitState(t, "198.51.100.10", StateReady)
	data, _ := json.Marshal(st)
	secrets := []string{h.key.PrivateKey}
	for _, line := range strings.Split(h.key.PrivateKey, "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	h.ctl.mu.Lock()
	secrets = append(secrets, h.ctl.issued...)
	h.ctl.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(string(data), s) || strings.Contains(h.logs.String(), s) {
			t.Errorf("a secret (%.12s...) is in the status or the logs", s)
		}
	}
	if !strings.Contains(h.logs.String(), "connection refused") {
		t.Errorf("the failure was not logged: %s", h.logs.String())
	}
}
