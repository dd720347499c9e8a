// Package linuxcloud runs the controller's Linux server clouds: it keeps a service engine on
// every host such a cloud (or a Docker cloud, whose hosts are SE hosts too) lists. One goroutine per host deploys the SE over SSH (connect, verify
// the host key, check sudo, copy the binary, run the installer), waits until the SE joins and
// heartbeats, retries failures with jittered exponential backoff, and uninstalls the SE from a
// host the cloud no longer lists. The manager follows the store's state, not its writes: a host
// removed and added back is a new entry of the cloud (avi.LinuxHost.EntryID), deployed afresh
// with its key learned anew even when the manager never saw it unlisted.
package linuxcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/avi-init/avi-init/integrations/sshdeploy"
	"github.com/avi-init/avi-init/internal/retry"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// A host's states, as Avi shows them, plus Pending (not tried yet) and Removing (the cloud no
// longer lists it; its SE is being uninstalled). A failure keeps the state of the step that
// failed and sets the reason.
const (
	StatePending         = "Pending"
	StateSSHFailed       = "SSH Failed"
	StateImageInProgress = "Image in Progress"
	StateImageComplete   = "Image Complete"
	StateStartInProgress = "Start in Progress"
	StateStarted         = "Started"
	StateReady           = "Ready"
	StateRemoving        = "Removing"
)

// HostStatus is one host's deployment as the API shows it.
type HostStatus struct {
	HostIP             avi.IPAddr `json:"host_ip"`
	State              string     `json:"state"`
	Reason             string     `json:"reason,omitempty"`
	HostKeyFingerprint string     `json:"host_key_fingerprint,omitempty"`
	SERef              string     `json:"se_ref,omitempty"`
	Attempts           int        `json:"attempts"`
	LastChange         string     `json:"last_change,omitempty"`
	NextAttempt        string     `json:"next_attempt,omitempty"`
}

// Session is one SSH connection to a host; *sshdeploy.Conn is one.
type Session interface {
	HostKeyFingerprint() string
	LocalIP() net.IP
	RemoteIP() net.IP
	CheckSudo(ctx context.Context) error
	CopyBinary(ctx context.Context) error
	Install(ctx context.Context, r sshdeploy.InstallRequest) error
	Uninstall(ctx context.Context) error
	Close() error
}

// Dialer opens sessions to hosts.
type Dialer interface {
	Dial(ctx context.Context, host string, port int, user, privateKey string) (Session, error)
}

// SSH is the Dialer of a *sshdeploy.Deployer.
func SSH(d *sshdeploy.Deployer) Dialer { return sshDialer{d} }

type sshDialer struct{ d *sshdeploy.Deployer }

func (s sshDialer) Dial(ctx context.Context, host string, port int, user, privateKey string) (Session, error) {
	c, err := s.d.DialKey(ctx, host, port, user, privateKey)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return c, nil
}

// HostKeys is where recorded host keys are read (to show them) and forgotten (with the host).
type HostKeys interface {
	Fingerprint(host string) (string, error)
	Forget(host string) error
}

// Controller is what the manager asks of the controller.
type Controller interface {
	// JoinToken issues a short-lived join token for one deployment and a func that revokes it.
	JoinToken(description string) (token string, revoke func(), err error)
	// SE finds the SE whose management address is ip: its reference and whether it is connected
	// and heartbeating.
	SE(ip string) (ref string, ready bool)
	// RemoveSEs deletes the records of the SEs whose management address is ip.
	RemoveSEs(ip string) error
}

// Config is what a Manager needs.
type Config struct {
	Store      *store.Store
	Dialer     Dialer
	HostKeys   HostKeys
	Controller Controller
	// ControllerIP is the controller's management address, given to SEs to join (-m); empty:
	// the address each host reached the controller at.
	ControllerIP string
	SysintPort   int
	SSHPort      int // 22 unless a test says otherwise
	Logger       *slog.Logger
}

// Timing. A host failing again and again is tried every 30 to 60 s; an SE gets readyTimeout to
// join after its installer finished before the deployment counts as failed.
const (
	minBackoff     = time.Second
	maxBackoff     = 60 * time.Second
	readyTimeout   = 2 * time.Minute
	pollInterval   = 250 * time.Millisecond
	dialTimeout    = 30 * time.Second
	installTimeout = 10 * time.Minute
	removeAttempts = 5
	tokenDesc      = "Linux server cloud host "
)

// Manager keeps SEs on the hosts of the Linux server clouds.
type Manager struct {
	cfg Config
	log *slog.Logger

	// Seams for tests: waiting and jitter.
	sleep        func(ctx context.Context, d time.Duration) error
	jitter       func() float64
	now          func() time.Time
	readyTimeout time.Duration

	mu     sync.Mutex
	status map[string]*HostStatus // by host address
}

// New returns a Manager; Run starts it.
func New(cfg Config) *Manager {
	if cfg.SSHPort == 0 {
		cfg.SSHPort = 22
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Manager{cfg: cfg, log: log.With("component", "linuxcloud"), sleep: sleep, jitter: rand.Float64, now: time.Now,
		readyTimeout: readyTimeout, status: map[string]*HostStatus{}}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the wait before attempt+1: exponential from minBackoff, capped at maxBackoff, the
// upper half jittered so that hosts failing together do not retry together.
func backoff(attempt int, jitter float64) time.Duration {
	return retry.Backoff(attempt-1, 2*minBackoff, maxBackoff, jitter)
}

// target is one host to keep an SE on, with the credentials to reach it.
type target struct {
	cloud      string // uuid
	entry      string // the host entry's EntryID: another one is the host removed and added back
	ip         avi.IPAddr
	user       string
	privateKey string
}

// worker is the goroutine owning one host.
type worker struct {
	t      target
	remove bool // uninstalling, not deploying
	cancel context.CancelFunc
	done   chan struct{}
}

// Run keeps the hosts' SEs in line with the store until ctx ends, then stops every host's
// goroutine and returns once they have ended.
func (m *Manager) Run(ctx context.Context) {
	workers := map[string]*worker{}
	var wg sync.WaitGroup
	defer func() {
		for _, w := range workers {
			w.cancel()
		}
		wg.Wait()
	}()
	for {
		// Every commit wakes the manager; most change no host, and then nothing happens.
		changed := m.cfg.Store.Changed()
		m.reconcile(ctx, &wg, workers)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// targets reads the hosts the Linux server and Docker clouds list. A host listed twice is the
// first cloud's (clouds by name).
func (m *Manager) targets() map[string]target {
	out := map[string]target{}
	for _, c := range store.List[*avi.Cloud](m.cfg.Store) {
		userRef, hosts := c.SEHosts()
		if len(hosts) == 0 {
			continue
		}
		var user, key string
		if u, err := store.Get[*avi.CloudConnectorUser](m.cfg.Store, avi.UUIDOf(userRef)); err == nil {
			user, key = u.Name, u.PrivateKey
		}
		for _, h := range hosts {
			if _, dup := out[h.HostIP.Addr]; !dup {
				out[h.HostIP.Addr] = target{cloud: c.UUID, entry: h.EntryID, ip: h.HostIP, user: user, privateKey: key}
			}
		}
	}
	return out
}

// reconcile starts a deployment for each new (or changed) host and a removal for each host no
// longer listed. A host's new goroutine waits for its previous one to end, so two never work
// on one host at once.
//
// A listed host whose entry is not the one its goroutine works for was removed and added back,
// whether or not a reconcile ran while it was unlisted (the store's change signal coalesces
// quick writes). Either way it ends as a removal cut short by the addition would: its key is
// forgotten, and it is deployed afresh.
func (m *Manager) reconcile(ctx context.Context, wg *sync.WaitGroup, workers map[string]*worker) {
	want := m.targets()
	start := func(addr string, t target, remove bool) {
		var prev chan struct{}
		// fresh: a new entry of a host the manager worked on. Its removal, when the manager
		// saw one, forgets the key itself.
		var fresh, forget bool
		if old, ok := workers[addr]; ok {
			old.cancel()
			prev = old.done
			fresh = !remove && old.t.entry != t.entry
			forget = fresh && !old.remove
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{t: t, remove: remove, cancel: cancel, done: make(chan struct{})}
		workers[addr] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(w.done)
			defer cancel()
			if prev != nil {
				select {
				case <-prev:
				case <-wctx.Done():
					return
				}
			}
			if remove {
				m.removeHost(wctx, t)
				return
			}
			if forget {
				m.forgetKey(t)
			}
			m.setInitial(t, fresh)
			m.keepHost(wctx, t, fresh)
		}()
	}
	for addr, t := range want {
		if w, ok := workers[addr]; !ok || w.remove || w.t != t {
			start(addr, t, false)
		}
	}
	for addr, w := range workers {
		if _, listed := want[addr]; listed {
			continue
		}
		select {
		case <-w.done:
			if w.remove {
				delete(workers, addr) // removed: its status is gone too
				continue
			}
		default:
			if w.remove {
				continue
			}
		}
		start(addr, w.t, true)
	}
}

// hostID is how the host key store names a host.
func (m *Manager) hostID(t target) string {
	return sshdeploy.HostID(t.ip.Addr, m.cfg.SSHPort)
}

// forgetKey forgets the key recorded for a host, so that the key it presents next is trusted.
func (m *Manager) forgetKey(t target) {
	if err := m.cfg.HostKeys.Forget(m.hostID(t)); err != nil {
		m.log.Error("host key not forgotten", "host", t.ip.Addr, "err", err)
	}
}

// setInitial shows a host about to be deployed, with the key recorded for it, if any. A host
// deployed again (its credentials changed) keeps its status until the deployment moves it; a
// fresh entry starts anew.
func (m *Manager) setInitial(t target, fresh bool) {
	fp, _ := m.cfg.HostKeys.Fingerprint(m.hostID(t))
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.status[t.ip.Addr]
	if fresh || !ok || st.State == StateRemoving {
		m.status[t.ip.Addr] = &HostStatus{HostIP: t.ip, State: StatePending, HostKeyFingerprint: fp, LastChange: m.stamp()}
	}
}

func (m *Manager) stamp() string { return m.now().UTC().Format(time.RFC3339) }

// set moves a host to state; a non-empty reason says why it is stuck there.
func (m *Manager) set(t target, state, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.status[t.ip.Addr]
	if !ok {
		st = &HostStatus{HostIP: t.ip}
		m.status[t.ip.Addr] = st
	}
	if st.State != state || st.Reason != reason {
		st.LastChange = m.stamp()
	}
	st.State, st.Reason, st.NextAttempt = state, reason, ""
}

func (m *Manager) update(t target, fn func(st *HostStatus)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.status[t.ip.Addr]; ok {
		fn(st)
	}
}

func (m *Manager) state(t target) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.status[t.ip.Addr]; ok {
		return st.State
	}
	return ""
}

// Hosts returns the status of each host a cloud lists, in its order.
func (m *Manager) Hosts(c *avi.Cloud) []HostStatus {
	out := []HostStatus{}
	_, hosts := c.SEHosts()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range hosts {
		if st, ok := m.status[h.HostIP.Addr]; ok {
			out = append(out, *st)
		} else {
			out = append(out, HostStatus{HostIP: h.HostIP, State: StatePending})
		}
	}
	return out
}

// Runtime is the deployment of each host a cloud lists, for the cloud's runtime in the API:
// every cloud has the list, empty when it has no SE hosts.
func (m *Manager) Runtime(c *avi.Cloud) (any, bool) { return m.Hosts(c), true }

// Owner is empty: the Linux server cloud makes no configuration objects (the records of its SEs
// go with their hosts).
func (m *Manager) Owner(string) string { return "" }

// keepHost deploys an SE on the host, retrying with backoff, then watches it; an SE gone for
// readyTimeout is deployed again. A fresh entry is deployed even if its SE is connected, as
// after its removal and addition.
func (m *Manager) keepHost(ctx context.Context, t target, fresh bool) {
	log := m.log.With("host", t.ip.Addr)
	// After a controller restart, a host whose SE is connected needs nothing.
	if ip := net.ParseIP(t.ip.Addr); ip != nil && !fresh {
		if ref, ready := m.cfg.Controller.SE(ip.String()); ready {
			m.set(t, StateReady, "")
			m.update(t, func(st *HostStatus) { st.SERef = ref })
			m.watch(ctx, t, ip.String())
		}
	}
	for attempt := 1; ctx.Err() == nil; attempt++ {
		m.update(t, func(st *HostStatus) { st.Attempts = attempt })
		mgmtIP, err := m.deploy(ctx, t)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			log.Info("service engine ready")
			attempt = 0
			m.watch(ctx, t, mgmtIP)
			continue
		}
		wait := backoff(attempt, m.jitter())
		m.update(t, func(st *HostStatus) {
			st.Reason, st.NextAttempt = err.Error(), m.now().Add(wait).UTC().Format(time.RFC3339)
		})
		log.Warn("service engine deployment failed", "state", m.state(t), "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		if m.sleep(ctx, wait) != nil {
			return
		}
	}
}

// deploy runs one deployment to Ready and returns the management address the SE reports.
func (m *Manager) deploy(ctx context.Context, t target) (string, error) {
	mgmtIP, revoke, err := m.install(ctx, t)
	if revoke != nil {
		// The SE has joined (or failed to) by the time this deployment ends; a retry gets a
		// new token.
		defer revoke()
	}
	if err != nil {
		return "", err
	}
	m.set(t, StateStarted, "waiting for the SE to join")
	return mgmtIP, m.waitReady(ctx, t, mgmtIP)
}

// install copies the binary to the host and runs the installer there with a new join token,
// returning the host's address and the token's revoke. The SSH connection is closed when it
// returns, not held while the SE joins.
func (m *Manager) install(ctx context.Context, t target) (string, func(), error) {
	sess, err := m.connect(ctx, t)
	if err != nil {
		return "", nil, err
	}
	defer sess.Close()
	m.set(t, StateImageInProgress, "")
	if err := sess.CopyBinary(ctx); err != nil {
		return "", nil, err
	}
	m.set(t, StateImageComplete, "")
	token, revoke, err := m.cfg.Controller.JoinToken(tokenDesc + t.ip.Addr)
	if err != nil {
		return "", nil, fmt.Errorf("issue a join token: %w", err)
	}
	controllerIP := m.cfg.ControllerIP
	if controllerIP == "" {
		controllerIP = sess.LocalIP().String()
	}
	mgmtIP := sess.RemoteIP().String()
	m.set(t, StateStartInProgress, "")
	ictx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	err = sess.Install(ictx, sshdeploy.InstallRequest{ControllerIP: controllerIP, SysintPort: m.cfg.SysintPort, MgmtIP: mgmtIP, JoinToken: token})
	return mgmtIP, revoke, err
}

// connect opens a session and checks sudo; any failure is SSH Failed.
func (m *Manager) connect(ctx context.Context, t target) (Session, error) {
	fail := func(err error) (Session, error) {
		m.set(t, StateSSHFailed, err.Error())
		return nil, err
	}
	if t.user == "" || t.privateKey == "" {
		return fail(fmt.Errorf("the cloud has no SSH user with a key: set linuxserver_configuration.ssh_user_ref"))
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	sess, err := m.cfg.Dialer.Dial(dctx, t.ip.Addr, m.cfg.SSHPort, t.user, t.privateKey)
	if errors.Is(err, sshdeploy.ErrUnusableKey) {
		return fail(fmt.Errorf("the SSH user's private key is not usable: import it again"))
	}
	if err != nil {
		return fail(err)
	}
	m.update(t, func(st *HostStatus) { st.HostKeyFingerprint = sess.HostKeyFingerprint() })
	if err := sess.CheckSudo(dctx); err != nil {
		sess.Close()
		return fail(err)
	}
	return sess, nil
}

// waitReady waits until the SE on the host has joined and heartbeats.
func (m *Manager) waitReady(ctx context.Context, t target, mgmtIP string) error {
	deadline := m.now().Add(m.readyTimeout)
	for {
		if ref, ready := m.cfg.Controller.SE(mgmtIP); ready {
			m.set(t, StateReady, "")
			m.update(t, func(st *HostStatus) { st.SERef = ref })
			return nil
		}
		if m.now().After(deadline) {
			return fmt.Errorf("the installer finished but the SE did not join and heartbeat within %v: see journalctl -u avise on the host", m.readyTimeout)
		}
		if err := m.sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// watch follows a Ready SE until ctx ends or the SE has been gone for readyTimeout.
func (m *Manager) watch(ctx context.Context, t target, mgmtIP string) {
	lastSeen := m.now()
	for m.sleep(ctx, pollInterval) == nil {
		if ref, ready := m.cfg.Controller.SE(mgmtIP); ready {
			lastSeen = m.now()
			if m.state(t) != StateReady {
				m.set(t, StateReady, "")
			}
			m.update(t, func(st *HostStatus) { st.SERef = ref })
			continue
		}
		if m.now().Sub(lastSeen) > m.readyTimeout {
			m.log.Warn("service engine gone: deploying it again", "host", t.ip.Addr)
			return
		}
		m.set(t, StateStarted, "the SE is not connected: waiting for it to come back")
	}
}

// removeHost uninstalls the SE from a host the cloud no longer lists, removes its SE record and
// forgets its host key (so that the host, re-added, is trusted anew). An unreachable host is
// tried a few times; its record is removed anyway.
func (m *Manager) removeHost(ctx context.Context, t target) {
	log := m.log.With("host", t.ip.Addr)
	// The key is forgotten however the removal ends, also when the host is listed again before
	// it ends (ctx cancelled): removing and re-adding a host is how an operator accepts the new
	// key of a reinstalled host, and a host with a changed key cannot be uninstalled, so its
	// removal is still retrying when it comes back.
	defer m.forgetKey(t)
	m.set(t, StateRemoving, "uninstalling the SE")
	mgmtIP := t.ip.Addr
	for attempt := 1; ; attempt++ {
		ip, err := m.uninstall(ctx, t)
		if ctx.Err() != nil {
			return
		}
		if ip != "" {
			mgmtIP = ip
		}
		if err == nil {
			log.Info("service engine uninstalled")
			break
		}
		if attempt == removeAttempts {
			log.Warn("service engine not uninstalled: giving up; remove it on the host with avi-init uninstall", "err", err)
			break
		}
		wait := backoff(attempt, m.jitter())
		m.set(t, StateRemoving, err.Error())
		log.Warn("uninstall failed", "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		if m.sleep(ctx, wait) != nil {
			return
		}
	}
	if err := m.cfg.Controller.RemoveSEs(mgmtIP); err != nil {
		log.Error("service engine record not removed", "err", err)
	}
	m.mu.Lock()
	delete(m.status, t.ip.Addr)
	m.mu.Unlock()
}

// uninstall runs the uninstaller on the host (copying the binary first if it is missing) and
// returns the host's address as the SE reports it.
func (m *Manager) uninstall(ctx context.Context, t target) (string, error) {
	sess, err := m.connect(ctx, t)
	if err != nil {
		return "", err
	}
	defer sess.Close()
	m.set(t, StateRemoving, "uninstalling the SE")
	if err := sess.CopyBinary(ctx); err != nil {
		return sess.RemoteIP().String(), err
	}
	ictx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	return sess.RemoteIP().String(), sess.Uninstall(ictx)
}
