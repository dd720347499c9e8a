// Package se is the service engine runtime that runs inside the avise container. This part
// keeps the SE joined to its controller: it joins with a token (trusting the controller by the
// certificate hash the token carries), keeps the last configuration on disk and serves it
// when the controller is away, applies each snapshot the controller pushes, retries the virtual
// services it could not apply, and reports heartbeats naming them.
package se

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/avi-init/avi-init/internal/atomicfile"
	"github.com/avi-init/avi-init/internal/version"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
)

// Identity is the SE's standing with its controller.
type Identity struct {
	Controller string `json:"controller"` // host:port of the sysint port
	CertHash   string `json:"cert_hash"`
	SEUUID     string `json:"se_uuid"`
	Credential string `json:"credential"`
	// Controllers are the nodes of the controller's cluster, as it last told: when the one
	// the SE talks to does not answer, it goes to the next.
	Controllers []sechannel.ControllerNode `json:"controllers,omitempty"`
}

// pins are the certificates the SE trusts: its controller's (the join token's) and every node's.
func (id Identity) pins() []string {
	pins := []string{id.CertHash}
	for _, c := range id.Controllers {
		pins = append(pins, c.CertHash)
	}
	return pins
}

// next is the controller address to try after id.Controller: the nodes in turn, and the
// address the SE was given (a cluster's virtual IP, say) among them.
func (id Identity) next(given string) string {
	addrs := []string{}
	if given != "" {
		addrs = append(addrs, given)
	}
	for _, c := range id.Controllers {
		if !slices.Contains(addrs, c.Addr) {
			addrs = append(addrs, c.Addr)
		}
	}
	if len(addrs) == 0 {
		return id.Controller
	}
	i := slices.Index(addrs, id.Controller)
	return addrs[(i+1)%len(addrs)]
}

// Config wires the SE.
type Config struct {
	Controller string // host:port; may be empty when the identity file names it
	JoinToken  string // needed only to join (first start, or after being deleted)
	// JoinTokenFile holds the token when the installer handed it over; when the file exists it
	// takes precedence over JoinToken, and it is removed once the SE has joined.
	JoinTokenFile string
	DataDir       string
	Name          string // the SE's name at the controller; Hostname when empty
	// Hostname is the host the SE runs on, which the join request tells the controller;
	// os.Hostname when empty.
	Hostname string
	MgmtIP   string
	SEGroup  string // the service engine group it joins; empty: Default-Group
	// LocalAddr is the address its connections to the controller leave from (default: the
	// kernel's choice). The controller caps connections per address: SEs sharing one host's
	// address, as a benchmark's do, each need their own.
	LocalAddr string
	Logger    *slog.Logger
	// Apply makes a change to the running configuration: the virtual services it names are
	// added, changed or removed, each on its own, and the others stay as they are. all is the
	// whole configuration after the change, to read during the call. It returns every virtual
	// service of the configuration that is not applied, with its reason; a service named again
	// unchanged is tried again. Each change costs what it changes, not the whole configuration:
	// an SE holds thousands of virtual services and a change names a few.
	Apply func(change sechannel.Change, all *sechannel.State) []sechannel.ServiceError
	// Report returns the metrics and client logs gathered since the last call.
	Report func() ([]sechannel.Metrics, []sechannel.ClientLog)
	// HeartbeatInterval defaults to sechannel.HeartbeatInterval (tests shorten it).
	HeartbeatInterval time.Duration
	// RetryInterval is how often virtual services not applied are tried again, so that a port
	// freed on the host is taken without a configuration change; defaults to retryInterval.
	RetryInterval time.Duration
	// HeadlessAfter is how long an SE started from the configuration kept on disk waits for the
	// controller before it also serves that configuration's north-south services (their VIPs);
	// defaults to headlessAfter.
	HeadlessAfter time.Duration
}

// headlessAfter is the default Config.HeadlessAfter: well past the controller's DownAfter, so
// that a reachable controller has moved a VIP (or confirmed it here) before a restarted SE would
// take it from disk. An SE that takes an address another SE now holds is what ARP conflicts,
// and a client following the wrong one, are made of.
const headlessAfter = 10 * time.Second

// retryInterval is the default Config.RetryInterval: a few seconds, short next to how long an
// operator takes to free a port, long next to what one apply costs.
const retryInterval = 5 * time.Second

// The saver writes once changes have stopped for saveDelay, and at most saveMaxDelay after the
// first it has not written.
const (
	saveDelay    = 500 * time.Millisecond
	saveMaxDelay = 5 * time.Second
)

// ErrRejected is a join the controller or the pin refused: retrying will not help.
var ErrRejected = errors.New("join rejected")

// Runtime is a running SE control channel.
type Runtime struct {
	cfg     Config
	log     *slog.Logger
	kick    chan struct{} // asks for a heartbeat now
	save    chan struct{} // asks for the configuration to be written
	reached chan struct{} // a heartbeat got through: the stream need not wait out its backoff
	leaving atomic.Bool   // stopping: heartbeats ask the controller to move the VIPs away

	// applyMu guards what follows it: one apply at a time, so that a retry never runs an older
	// configuration over a newer one.
	applyMu sync.Mutex
	state   *sechannel.State // the configuration applied
	// kept is the configuration kept on disk while its north-south services wait for the
	// controller (nil once it has spoken, or once they are served headless).
	kept    *sechannel.State
	unsaved bool // state is not on disk yet

	mu         sync.Mutex
	id         Identity
	client     *http.Client
	current    int64  // version applied
	lastErr    string // why the last update could not be read
	notApplied []sechannel.ServiceError
}

// dialTimeout bounds a connection to a controller: a node that is gone is left for the next
// within seconds.
const dialTimeout = 3 * time.Second

// transport trusts the controllers whose certificates hash to one of pins().
func (rt *Runtime) transport(pins func() []string) *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout}
	if rt.cfg.LocalAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(rt.cfg.LocalAddr)}
	}
	return &http.Transport{TLSClientConfig: sechannel.PinnedTLSAny(pins), DialContext: d.DialContext, ForceAttemptHTTP2: true}
}

// setIdentity takes a new identity and a client that trusts its controllers; the connections
// of the client it replaces are closed.
func (rt *Runtime) setIdentity(id Identity) {
	client := &http.Client{Transport: rt.transport(func() []string {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		return rt.id.pins()
	})}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.client != nil {
		rt.client.CloseIdleConnections()
	}
	rt.id, rt.client = id, client
}

// moveOn makes the next controller node the one the SE talks to, after from failed.
func (rt *Runtime) moveOn(from string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.id.Controller != from {
		return // another request moved on already
	}
	if next := rt.id.next(rt.cfg.Controller); next != from {
		rt.log.Warn("controller not answering; trying another node of its cluster", "from", from, "to", next)
		rt.id.Controller = next
	}
}

// learnControllers keeps the cluster's nodes as the controller lists them, on disk too.
func (rt *Runtime) learnControllers(nodes []sechannel.ControllerNode) {
	if len(nodes) == 0 {
		return
	}
	rt.mu.Lock()
	if slices.Equal(rt.id.Controllers, nodes) {
		rt.mu.Unlock()
		return
	}
	rt.id.Controllers = nodes
	data, _ := json.MarshalIndent(rt.id, "", "  ")
	rt.mu.Unlock()
	if err := atomicfile.Write(filepath.Join(rt.cfg.DataDir, contract.SEIdentityFile), data, 0o600); err != nil {
		rt.log.Warn("the controller cluster's nodes not kept", "err", err)
	}
	rt.log.Info("controller cluster nodes", "nodes", len(nodes))
}

// New loads the SE's identity and last configuration, joining the controller first if needed.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Apply == nil {
		cfg.Apply = func(sechannel.Change, *sechannel.State) []sechannel.ServiceError { return nil }
	}
	if cfg.Report == nil {
		cfg.Report = func() ([]sechannel.Metrics, []sechannel.ClientLog) { return nil, nil }
	}
	if cfg.HeadlessAfter == 0 {
		cfg.HeadlessAfter = headlessAfter
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = sechannel.HeartbeatInterval
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = retryInterval
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Hostname
	}
	if cfg.JoinTokenFile != "" {
		data, err := os.ReadFile(cfg.JoinTokenFile)
		switch {
		case err == nil:
			cfg.JoinToken = strings.TrimSpace(string(data))
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("read join token: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("SE data directory: %w", err)
	}
	rt := &Runtime{cfg: cfg, log: cfg.Logger, current: -1, kick: make(chan struct{}, 1), save: make(chan struct{}, 1), reached: make(chan struct{}, 1),
		state: sechannel.NewState(sechannel.Snapshot{Version: -1})}
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, contract.SEIdentityFile))
	switch {
	case err == nil:
		var id Identity
		if err := json.Unmarshal(data, &id); err != nil {
			return nil, fmt.Errorf("read %s: %w", contract.SEIdentityFile, err)
		}
		if cfg.Controller != "" {
			id.Controller = cfg.Controller
		}
		rt.setIdentity(id)
	case errors.Is(err, os.ErrNotExist):
		if err := rt.join(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("read %s: %w", contract.SEIdentityFile, err)
	}
	if err := rt.loadLastGood(); err != nil {
		rt.log.Warn("no usable last configuration", "err", err)
	}
	return rt, nil
}

// join exchanges the token for an identity and keeps it.
func (rt *Runtime) join(ctx context.Context) error {
	cfg := rt.cfg
	if cfg.JoinToken == "" || cfg.Controller == "" {
		return fmt.Errorf("%w: this SE has not joined a controller: give the controller address and a join token", ErrRejected)
	}
	tok, err := sechannel.ParseToken(cfg.JoinToken)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	// The join's connection is closed after it: the SE's own client takes over, and the
	// controller counts every connection an address holds.
	client := &http.Client{Timeout: 15 * time.Second, Transport: rt.transport(func() []string { return []string{tok.CertHash} })}
	defer client.CloseIdleConnections()
	body, _ := json.Marshal(sechannel.JoinRequest{Token: cfg.JoinToken, Name: cfg.Name, Hostname: cfg.Hostname, MgmtIP: cfg.MgmtIP, Version: version.Version, SEGroup: cfg.SEGroup})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+cfg.Controller+sechannel.JoinPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if errors.Is(err, sechannel.ErrPinMismatch) {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if err != nil {
		return fmt.Errorf("join controller %s: %w", cfg.Controller, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w by controller %s: %s", ErrRejected, cfg.Controller, statusText(resp))
	}
	var jr sechannel.JoinResponse
	if err := json.NewDecoder(resp.Body).Decode(&jr); err != nil {
		return fmt.Errorf("join controller %s: %w", cfg.Controller, err)
	}
	id := Identity{Controller: cfg.Controller, CertHash: tok.CertHash, SEUUID: jr.SEUUID, Credential: jr.Credential, Controllers: jr.Controllers}
	data, _ := json.MarshalIndent(id, "", "  ")
	if err := atomicfile.Write(filepath.Join(cfg.DataDir, contract.SEIdentityFile), data, 0o600); err != nil {
		return err
	}
	rt.setIdentity(id)
	rt.log.Info("joined controller", "controller", cfg.Controller, "se_uuid", jr.SEUUID)
	if cfg.JoinTokenFile != "" {
		// The token has done its job; a secret not kept cannot leak.
		os.Remove(cfg.JoinTokenFile)
	}
	return nil
}

// loadLastGood applies the configuration kept on disk, so the SE serves before (and without)
// the controller.
func (rt *Runtime) loadLastGood() error {
	data, err := os.ReadFile(filepath.Join(rt.cfg.DataDir, contract.SEConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	kept, err := sechannel.ReadState(data)
	if err != nil {
		return fmt.Errorf("%s: %w", contract.SEConfigFile, err)
	}
	// The VIPs of the kept configuration may have moved to another SE while this one was
	// away: east-west services are served at once, north-south ones when the controller
	// says they are still here, or when it stays unreachable (headless).
	eastWest, _ := sechannel.ReadState(data)
	var northSouth []string
	for vs := range kept.All() {
		if isNorthSouth(vs) {
			northSouth = append(northSouth, vs.UUID)
		}
	}
	v := kept.Version()
	if _, err := eastWest.Apply(sechannel.Update{Version: v, BaseVersion: v, Deleted: northSouth}); err != nil {
		return fmt.Errorf("%s: %w", contract.SEConfigFile, err)
	}
	rt.applyMu.Lock()
	defer rt.applyMu.Unlock()
	rt.state = eastWest
	rt.applyHeld(sechannel.Change{Version: v, Changed: slices.Collect(eastWest.All())})
	if len(northSouth) > 0 {
		rt.kept = kept
		rt.log.Info("serving the east-west services of the configuration kept on disk; its north-south services wait for the controller",
			"version", v, "north_south", len(northSouth), "headless_after", rt.cfg.HeadlessAfter)
		return nil
	}
	rt.log.Info("serving the last configuration kept on disk", "version", v)
	return nil
}

// headless serves the north-south services of the configuration kept on disk if the controller
// has not spoken within HeadlessAfter of the start.
func (rt *Runtime) headless(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(rt.cfg.HeadlessAfter):
	}
	rt.applyMu.Lock()
	defer rt.applyMu.Unlock()
	if rt.kept == nil {
		return
	}
	rt.log.Warn("controller unreachable: serving the north-south services kept on disk", "version", rt.kept.Version(), "waited", rt.cfg.HeadlessAfter)
	ch := sechannel.Change{Version: rt.kept.Version()}
	for vs := range rt.kept.All() {
		if _, ok := rt.state.Lookup(vs.UUID); !ok {
			ch.Changed = append(ch.Changed, vs)
		}
	}
	// The kept configuration holds what is applied and the services added now. The controller
	// has sent nothing yet: the first update it sends on a stream is whole.
	rt.state, rt.kept = rt.kept, nil
	rt.state.RequireFull()
	rt.applyHeld(ch)
}

// Version is the configuration version the SE serves (-1: none yet).
func (rt *Runtime) Version() int64 {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.current
}

// Run keeps the snapshot stream and the heartbeats going until ctx ends.
func (rt *Runtime) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { rt.heartbeats(ctx) })
	wg.Go(func() { rt.saver(ctx) })
	wg.Go(func() { rt.retries(ctx) })
	wg.Go(func() { rt.headless(ctx) })
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := rt.stream(ctx)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errUnauthorized) && rt.cfg.JoinToken != "" {
			rt.log.Warn("the controller no longer knows this SE; joining again")
			if jerr := rt.join(ctx); jerr != nil {
				rt.log.Error("join again failed", "err", jerr)
			} else {
				backoff = 200 * time.Millisecond
				continue
			}
		}
		wait := backoff
		if errors.Is(err, errUnavailable) {
			wait = min(backoff, unavailableRetry)
		} else {
			backoff = min(backoff*2, 10*time.Second)
		}
		rt.log.Warn("controller unreachable; serving the last configuration", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		case <-rt.reached:
			// Heartbeats get through again (a network cut healed): the controller has news,
			// a VIP moved elsewhere meanwhile above all.
		}
	}
	wg.Wait()
	rt.handOver()
	return nil
}

// handOverTimeout bounds how long a stopping SE waits for other SEs to take its north-south
// services; past it (no controller answers), it lets them go anyway. handOverPoll is how
// often it asks meanwhile.
const (
	handOverTimeout = 3 * time.Second
	handOverPoll    = 100 * time.Millisecond
	// handOverOverlap is how long the SE serves on once handed over: the new holders announce
	// their VIPs over 200 ms (vip.DefaultGratuitous), and until a client's cache follows, its
	// requests still come here.
	handOverOverlap = 300 * time.Millisecond
)

// handOver, on the way out, keeps the SE's north-south services served until the SEs they move
// to serve them: make before break, so that no client meets an address nobody answers on.
// Heartbeats say the SE is leaving; the controller places its VIPs elsewhere and answers once
// those SEs report serving them.
func (rt *Runtime) handOver() {
	rt.applyMu.Lock()
	northSouth := false
	for vs := range rt.state.All() {
		if isNorthSouth(vs) {
			northSouth = true
			break
		}
	}
	rt.applyMu.Unlock()
	if !northSouth {
		return
	}
	rt.leaving.Store(true)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), handOverTimeout)
	defer cancel()
	for !rt.heartbeat(ctx) {
		select {
		case <-ctx.Done():
			rt.log.Warn("north-south services not taken over by other SEs in time; letting them go", "waited", time.Since(start).Round(time.Millisecond))
			return
		case <-time.After(handOverPoll):
		}
	}
	rt.log.Info("north-south services handed over", "took", time.Since(start).Round(time.Millisecond))
	time.Sleep(handOverOverlap)
}

var (
	errUnauthorized = errors.New("unauthorized")
	// errUnavailable is a controller answering 503: a cluster electing its leader, which
	// takes a second or two. The SE asks again soon rather than backing off.
	errUnavailable = errors.New("controller unavailable")
)

// unavailableRetry is how often an SE asks a controller that answered 503.
const unavailableRetry = 300 * time.Millisecond

func (rt *Runtime) request(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	rt.mu.Lock()
	id, client := rt.id, rt.client
	rt.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, method, "https://"+id.Controller+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(sechannel.SEHeader, id.SEUUID)
	req.Header.Set("Authorization", "Bearer "+id.Credential)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			rt.moveOn(id.Controller)
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		resp.Body.Close()
		return nil, errUnauthorized
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		err := fmt.Errorf("%s %s: %s", method, path, statusText(resp))
		if resp.StatusCode == http.StatusServiceUnavailable {
			err = fmt.Errorf("%w: %w", errUnavailable, err)
		}
		return nil, err
	}
	return resp, nil
}

// statusText is a failed response's status and the start of its body, for an error message.
func statusText(resp *http.Response) string {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.Status + " " + string(bytes.TrimSpace(msg))
}

// stream reads updates until the connection ends. Each stream starts with the whole
// configuration; an update for a version other than the one received last ends the stream, and
// the next one starts whole again.
func (rt *Runtime) stream(ctx context.Context) error {
	resp, err := rt.request(ctx, http.MethodGet, sechannel.SnapshotPath, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rt.applyMu.Lock()
	rt.state.RequireFull()
	rt.applyMu.Unlock()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue // keep-alive
		}
		if err := rt.apply(line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// apply applies an update as the stream carries it. What it changes is applied; the virtual
// services that could not be are reported, and retried while they stay held. An update of the
// version held is applied when it changes services: placement moves services between SEs (a
// VIP to the standby) without a new configuration version.
func (rt *Runtime) apply(line []byte) error {
	rt.applyMu.Lock()
	ch, err := rt.state.ApplyJSON(line)
	if err != nil {
		rt.applyMu.Unlock()
		if !errors.Is(err, sechannel.ErrBaseMismatch) {
			rt.mu.Lock()
			rt.lastErr = fmt.Sprintf("update after version %d unreadable: %v", rt.current, err)
			rt.mu.Unlock()
		}
		return err
	}
	waited := rt.kept != nil
	rt.kept = nil // the controller has spoken
	if ch.Empty() && ch.Version == rt.Version() {
		if waited {
			// Served already, but the file still holds the north-south services that waited
			// and that the controller placed elsewhere: a later headless start must not take them.
			rt.unsaved = true
			nudge(rt.save)
		}
		rt.applyMu.Unlock()
		return nil
	}
	notApplied := rt.applyHeld(ch)
	rt.unsaved = true
	held := rt.state.Len()
	rt.applyMu.Unlock()
	rt.mu.Lock()
	rt.lastErr = ""
	rt.mu.Unlock()
	rt.log.Info("configuration applied", "version", ch.Version, "virtual_services", held, "changed", len(ch.Changed), "removed", len(ch.Removed), "not_applied", notApplied)
	// A north-south service placed here is told at once rather than at the next heartbeat:
	// the SE it moved from waits on it to let the VIP go (hand-over). Other changes wait for
	// the next heartbeat (within HeartbeatInterval): every SE of a group reporting at once
	// after each change would contend with the controller sending the change to the last of
	// them (with 100 SEs, a change's p99 to all of them went from 31-38 ms to 45-55 ms).
	if slices.ContainsFunc(ch.Changed, isNorthSouth) {
		nudge(rt.kick)
	}
	nudge(rt.save)
	return nil
}

// isNorthSouth reports whether a virtual service holds a VIP, which only its primary serves.
func isNorthSouth(vs sechannel.VirtualService) bool { return vs.VIP != "" }

// nudge asks a worker for a round without waiting: one asked for already is enough.
func nudge(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// applyHeld applies a change that leads to the state held, returning how many virtual services
// are left out. Those are logged when they change, not at every retry. The caller holds applyMu.
func (rt *Runtime) applyHeld(ch sechannel.Change) int {
	notApplied := rt.cfg.Apply(ch, rt.state)
	rt.mu.Lock()
	changed := !slices.Equal(notApplied, rt.notApplied)
	rt.current, rt.notApplied = ch.Version, notApplied
	rt.mu.Unlock()
	if changed {
		for _, e := range notApplied {
			vs, _ := rt.state.Lookup(e.VSUUID)
			rt.log.Warn("virtual service not applied", "virtual_service", vs.Name, "uuid", e.VSUUID, "reason", e.Reason)
		}
		nudge(rt.kick)
	}
	return len(notApplied)
}

// retries applies the virtual services not applied again every RetryInterval while there are
// some.
func (rt *Runtime) retries(ctx context.Context) {
	t := time.NewTicker(rt.cfg.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rt.applyMu.Lock()
		rt.mu.Lock()
		retry := sechannel.Change{Version: rt.current}
		for _, e := range rt.notApplied {
			if vs, ok := rt.state.Lookup(e.VSUUID); ok {
				retry.Changed = append(retry.Changed, vs)
			}
		}
		rt.mu.Unlock()
		if len(retry.Changed) > 0 && rt.applyHeld(retry) == 0 {
			rt.log.Info("every virtual service applied", "version", retry.Version)
		}
		rt.applyMu.Unlock()
	}
}

// saver keeps the newest applied configuration on disk. Writes are coalesced: a burst of
// changes costs one write when it settles (each write is the whole configuration, which the next
// change would replace), at least one every saveMaxDelay while it lasts, so an SE under a stream
// of changes spends its CPU serving, and a crash loses at most the changes of the last
// saveMaxDelay (which the controller sends again).
func (rt *Runtime) saver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			rt.saveNow()
			return
		case <-rt.save:
		}
		settled, latest := time.NewTimer(saveDelay), time.NewTimer(saveMaxDelay)
	wait:
		for {
			select {
			case <-ctx.Done():
				break wait
			case <-settled.C:
				break wait
			case <-latest.C:
				break wait
			case <-rt.save:
				settled.Reset(saveDelay)
			}
		}
		settled.Stop()
		latest.Stop()
		rt.saveNow()
	}
}

func (rt *Runtime) saveNow() {
	rt.applyMu.Lock()
	var data []byte
	if rt.unsaved {
		data, rt.unsaved = rt.state.JSON(), false
	}
	rt.applyMu.Unlock()
	if data == nil {
		return
	}
	if err := atomicfile.Write(filepath.Join(rt.cfg.DataDir, contract.SEConfigFile), data, 0o600); err != nil {
		rt.log.Warn("could not keep the configuration on disk", "err", err)
	}
}

func (rt *Runtime) heartbeats(ctx context.Context) {
	t := time.NewTicker(rt.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		rt.heartbeat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-rt.kick:
		}
	}
}

// heartbeat reports to the controller; it returns whether the controller answered that the
// services of a leaving SE are handed over.
func (rt *Runtime) heartbeat(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	metrics, logs := rt.cfg.Report()
	rt.mu.Lock()
	hb := sechannel.Heartbeat{ConfigVersion: rt.current, ConfigError: rt.lastErr, NotApplied: rt.notApplied, Metrics: metrics, Logs: logs, Leaving: rt.leaving.Load()}
	rt.mu.Unlock()
	body, _ := json.Marshal(hb)
	resp, err := rt.request(ctx, http.MethodPost, sechannel.HeartbeatPath, bytes.NewReader(body))
	if err != nil {
		rt.log.Debug("heartbeat failed", "err", err)
		return false
	}
	defer resp.Body.Close()
	// Read to the end: the connection of a response closed unread is not reused, and every
	// heartbeat would cost both sides a new TLS handshake.
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil || resp.StatusCode != http.StatusOK {
		rt.log.Debug("heartbeat refused", "status", resp.Status, "err", err)
		return false
	}
	nudge(rt.reached)
	var answer sechannel.HeartbeatAnswer
	if json.Unmarshal(raw, &answer) != nil {
		return false
	}
	rt.learnControllers(answer.Controllers)
	return hb.Leaving && answer.HandedOver
}
