// Package dataplane is the service engine's traffic path: one listener per virtual service
// port, an L4 TCP proxy or an L7 HTTP proxy behind it, balancing over the pool with the policies
// of package lb. Each virtual service of a configuration applies on its own: one that cannot
// (its port taken) is left out and reported, and the others apply. Listeners that do not change
// keep their connections, and removed listeners stop accepting and let their connections finish.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/se/lb"
)

// Dataplane owns the listeners and pools of one SE.
type Dataplane struct {
	log *slog.Logger
	// listen opens a listener; tests and the SE's VIP handling may wrap it.
	listen func(addr string) (net.Listener, error)

	mu        sync.Mutex // serialises Apply and Close
	listeners map[string]*listener
	pools     map[string]*pool

	statsMu    sync.Mutex
	stats      map[string]*vsStats // by virtual service uuid
	lastReport time.Time
}

// New makes an empty data plane.
func New(log *slog.Logger) *Dataplane {
	if log == nil {
		log = slog.Default()
	}
	return &Dataplane{
		log:        log,
		listen:     func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) },
		listeners:  map[string]*listener{},
		pools:      map[string]*pool{},
		stats:      map[string]*vsStats{},
		lastReport: time.Now(),
	}
}

// service is what a listener serves: compiled once per configuration, read without locks.
type service struct {
	vs    sechannel.VirtualService
	l4    bool
	pool  *pool // nil: no pool, every connection is refused
	stats *vsStats
}

// pool is a pool's members and policy. Members keep their health and connection counts across
// configurations as long as their address stays.
type pool struct {
	cfg     sechannel.Pool
	uuid    string
	policy  lb.Policy
	ups     atomic.Pointer[[]*lb.Upstream]
	idle    map[*lb.Upstream]*idleConns // L7: kept-alive connections, per member
	hms     []avi.HealthMonitor
	checks  *monitors
	reaper  *reaper
	vsUUIDs []string // the virtual services using the pool, for member health reports
}

func (p *pool) members() []*lb.Upstream {
	if u := p.ups.Load(); u != nil {
		return *u
	}
	return nil
}

// listenAddrs are the addresses a virtual service listens on: its VIP, or every address for an
// east-west service, on each of its ports.
func listenAddrs(vs sechannel.VirtualService) []string {
	host := vs.VIP
	var out []string
	for _, s := range vs.Services {
		end := s.PortRangeEnd
		if end < s.Port {
			end = s.Port
		}
		for p := s.Port; p <= end; p++ {
			out = append(out, net.JoinHostPort(host, strconv.Itoa(p)))
		}
	}
	return out
}

// candidate is one enabled virtual service of a snapshot on its way to being applied.
type candidate struct {
	svc    *service
	addrs  []string
	reason string // why it is left out; empty while it can still apply
}

// Apply makes the snapshot the running configuration, each virtual service on its own: one
// that cannot be applied (an address and port another service of the snapshot holds, a port
// taken on the host) is left out, and the others apply. It returns those left out, with their
// reasons, in snapshot order; applying the same snapshot again retries them.
func (d *Dataplane) Apply(snap sechannel.Snapshot) []sechannel.ServiceError {
	d.mu.Lock()
	defer d.mu.Unlock()

	var cands []*candidate
	for _, vs := range snap.VirtualServices {
		if vs.Enabled {
			cands = append(cands, &candidate{svc: &service{vs: vs, l4: vs.ProfileType == avi.ProfileL4}, addrs: listenAddrs(vs)})
		}
	}
	// Services that run now (those the listeners serve) claim their addresses first, so that a
	// new service asking for a taken address and port is the one left out, not the one serving.
	running := map[string]bool{}
	for _, l := range d.listeners {
		running[l.svc.Load().vs.UUID] = true
	}
	var order []*candidate
	for _, first := range []bool{true, false} {
		for _, c := range cands {
			if running[c.svc.vs.UUID] == first {
				order = append(order, c)
			}
		}
	}
	want := map[string]*candidate{}
	for _, c := range order {
		for _, addr := range c.addrs {
			if other, ok := want[addr]; ok {
				c.reason = fmt.Sprintf("address and port claimed twice: %s is held by virtual service %s", addr, other.svc.vs.Name)
				break
			}
		}
		if c.reason == "" {
			for _, addr := range c.addrs {
				want[addr] = c
			}
		}
	}

	// Open what is new before changing anything; a port taken on the host leaves its service
	// out, and the listeners it had opened close again.
	opened := map[string]*listener{}
	for _, c := range order {
		if c.reason != "" {
			continue
		}
		var mine []string
		for _, addr := range c.addrs {
			if _, ok := d.listeners[addr]; ok {
				continue
			}
			ln, err := d.listen(addr)
			if err != nil {
				c.reason = listenReason(addr, err)
				break
			}
			opened[addr] = &listener{addr: addr, l4: c.svc.l4, ln: ln, log: d.log}
			mine = append(mine, addr)
		}
		if c.reason != "" {
			d.leaveOut(c, want, opened, mine)
		}
	}

	// Commit. Members of pools that stay keep their state; the swap is atomic per listener.
	// Monitors restart with the new pool configuration.
	d.commit(cands, want)
	var reopen []string // a listener changing between L4 and L7: its port is free only once closed
	for addr, l := range d.listeners {
		c, keep := want[addr]
		if keep && l.l4 == c.svc.l4 {
			l.svc.Store(c.svc)
			continue
		}
		if keep {
			reopen = append(reopen, addr)
		}
		l.stop()
		delete(d.listeners, addr)
	}
	for _, addr := range reopen {
		c, ok := want[addr]
		if !ok {
			continue // its service was left out at an earlier address
		}
		ln, err := d.listen(addr)
		if err != nil {
			// The service is committed already: its other listeners go, and the next apply
			// retries it whole.
			c.reason = fmt.Sprintf("listen on %s with its new profile: %v", addr, err)
			for _, a := range c.addrs {
				if l, ok := d.listeners[a]; ok && l.svc.Load() == c.svc {
					l.stop()
					delete(d.listeners, a)
				}
			}
			d.leaveOut(c, want, opened, c.addrs)
			continue
		}
		opened[addr] = &listener{addr: addr, l4: c.svc.l4, ln: ln, log: d.log}
	}
	for addr, l := range opened {
		l.svc.Store(want[addr].svc)
		d.listeners[addr] = l
		l.start()
	}
	var out []sechannel.ServiceError
	for _, c := range cands {
		if c.reason != "" {
			out = append(out, sechannel.ServiceError{VSUUID: c.svc.vs.UUID, Reason: c.reason})
		}
	}
	return out
}

// leaveOut releases the addresses a service left out claimed, closing the listeners opened for it.
func (d *Dataplane) leaveOut(c *candidate, want map[string]*candidate, opened map[string]*listener, addrs []string) {
	for _, addr := range addrs {
		if l, ok := opened[addr]; ok {
			l.ln.Close()
			delete(opened, addr)
		}
	}
	for _, addr := range c.addrs {
		if want[addr] == c {
			delete(want, addr)
		}
	}
}

// commit compiles the pools and statistics of the services that apply and swaps them in.
func (d *Dataplane) commit(cands []*candidate, want map[string]*candidate) {
	pools := map[string]*pool{}
	applied := map[string]bool{}
	for _, c := range cands {
		if c.reason != "" {
			continue
		}
		vs := c.svc.vs
		applied[vs.UUID] = true
		c.svc.stats = d.statsFor(vs.UUID)
		c.svc.stats.fullLogs.Store(vs.FullClientLogs)
		if vs.Pool != nil {
			c.svc.pool = d.compilePool(pools, *vs.Pool)
			c.svc.pool.vsUUIDs = append(c.svc.pool.vsUUIDs, vs.UUID)
		}
	}
	for _, p := range d.pools {
		if next := pools[p.uuid]; next != p {
			p.retire(next)
		}
	}
	d.pools = pools
	for _, p := range pools {
		if p.checks == nil {
			p.checks = startMonitors(p)
			p.reaper = startReaper(p)
		}
	}
	d.statsMu.Lock()
	for uuid := range d.stats {
		if !applied[uuid] {
			delete(d.stats, uuid)
		}
	}
	d.statsMu.Unlock()
}

// compilePool returns the pool for a configuration, reusing members by address. A pool whose
// configuration did not change is kept whole, monitors running: a retry of the services left
// out, or a change elsewhere, does not check its members out of turn.
func (d *Dataplane) compilePool(pools map[string]*pool, cfg sechannel.Pool) *pool {
	if p, ok := pools[cfg.UUID]; ok {
		return p
	}
	old := d.pools[cfg.UUID]
	if old != nil && reflect.DeepEqual(old.cfg, cfg) {
		old.vsUUIDs = nil
		pools[cfg.UUID] = old
		return old
	}
	byAddr := map[string]*lb.Upstream{}
	if old != nil {
		for _, u := range old.members() {
			byAddr[u.Addr] = u
		}
	}
	var ups []*lb.Upstream
	idle := map[*lb.Upstream]*idleConns{}
	for _, s := range cfg.Servers {
		addr := net.JoinHostPort(s.IP, strconv.Itoa(s.Port))
		u, ok := byAddr[addr]
		if !ok {
			u = lb.NewUpstream(addr, s.Ratio, s.Enabled, nil)
		} else {
			u.Set(s.Ratio, s.Enabled)
		}
		ups = append(ups, u)
		if old != nil && old.idle[u] != nil {
			idle[u] = old.idle[u]
		} else {
			idle[u] = &idleConns{}
		}
	}
	p := &pool{cfg: cfg, uuid: cfg.UUID, policy: lb.NewPolicy(cfg.Algorithm), idle: idle, hms: cfg.HealthMonitors}
	p.ups.Store(&ups)
	pools[cfg.UUID] = p
	return p
}

// retire stops a pool's monitors and reaper, and closes the idle connections of its members
// that next (the pool's new configuration, or nil) does not keep.
func (p *pool) retire(next *pool) {
	p.checks.stop()
	p.reaper.stop()
	for u, ic := range p.idle {
		if next == nil || next.idle[u] != ic {
			ic.close()
		}
	}
}

// Close stops every listener and monitor and waits for connections to end or ctx to expire.
func (d *Dataplane) Close(ctx context.Context) error {
	d.mu.Lock()
	ls := d.listeners
	d.listeners = map[string]*listener{}
	for _, p := range d.pools {
		p.retire(nil)
	}
	d.pools = map[string]*pool{}
	d.mu.Unlock()
	for _, l := range ls {
		l.stop()
	}
	done := make(chan struct{})
	go func() {
		for _, l := range ls {
			l.wg.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listenReason is why a listener could not open, as an operator reads it: the kernel's error
// names the address already ("listen tcp :80: bind: address already in use"); another is given
// the address.
func listenReason(addr string, err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return err.Error()
	}
	return fmt.Sprintf("listen on %s: %v", addr, err)
}
