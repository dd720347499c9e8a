// Package dataplane is the service engine's traffic path: one listener per virtual service
// port, an L4 TCP proxy or an L7 HTTP proxy behind it, balancing over the pool with the policies
// of package lb. A configuration is applied whole or not at all; listeners that do not change
// keep their connections, and removed listeners stop accepting and let their connections finish.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

// ErrConflict is two virtual services claiming one address and port.
var ErrConflict = errors.New("address and port claimed twice")

// Apply makes the snapshot the running configuration, or changes nothing and returns why not.
func (d *Dataplane) Apply(snap sechannel.Snapshot) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	// Compile: every listener's service, and the pools they use.
	want := map[string]*service{}
	pools := map[string]*pool{}
	enabled := map[string]bool{}
	for _, vs := range snap.VirtualServices {
		if !vs.Enabled {
			continue
		}
		enabled[vs.UUID] = true
		svc := &service{vs: vs, l4: vs.ProfileType == avi.ProfileL4, stats: d.statsFor(vs.UUID)}
		svc.stats.fullLogs.Store(vs.FullClientLogs)
		if vs.Pool != nil {
			svc.pool = d.compilePool(pools, *vs.Pool)
			svc.pool.vsUUIDs = append(svc.pool.vsUUIDs, vs.UUID)
		}
		for _, addr := range listenAddrs(vs) {
			if other, ok := want[addr]; ok {
				return fmt.Errorf("%w: %s by %s and %s", ErrConflict, addr, other.vs.Name, vs.Name)
			}
			want[addr] = svc
		}
	}

	// Open what is new before changing anything, so that a port in use rejects the whole
	// configuration.
	opened := map[string]*listener{}
	var reopen []string // a listener changing between L4 and L7: its port is free only once closed
	for addr, svc := range want {
		if l, ok := d.listeners[addr]; ok {
			if l.l4 != svc.l4 {
				reopen = append(reopen, addr)
			}
			continue
		}
		ln, err := d.listen(addr)
		if err != nil {
			for _, l := range opened {
				l.ln.Close()
			}
			return fmt.Errorf("virtual service %s: listen on %s: %w", svc.vs.Name, addr, err)
		}
		opened[addr] = &listener{addr: addr, l4: svc.l4, ln: ln, log: d.log}
	}

	// Commit. Members of pools that stay keep their state; the swap is atomic per listener.
	// Monitors restart with the new pool configuration.
	for _, p := range d.pools {
		p.retire(pools[p.uuid])
	}
	d.pools = pools
	for _, p := range pools {
		p.checks = startMonitors(p)
		p.reaper = startReaper(p)
	}
	d.statsMu.Lock()
	for uuid := range d.stats {
		if !enabled[uuid] {
			delete(d.stats, uuid)
		}
	}
	d.statsMu.Unlock()
	for addr, l := range d.listeners {
		svc, keep := want[addr]
		if keep && l.l4 == svc.l4 {
			l.svc.Store(svc)
			continue
		}
		l.stop()
		delete(d.listeners, addr)
	}
	for _, addr := range reopen {
		ln, err := d.listen(addr)
		if err != nil {
			d.log.Error("listener not reopened with its new profile", "addr", addr, "err", err)
			continue
		}
		opened[addr] = &listener{addr: addr, l4: want[addr].l4, ln: ln, log: d.log}
	}
	for addr, l := range opened {
		l.svc.Store(want[addr])
		d.listeners[addr] = l
		l.start()
	}
	return nil
}

// compilePool returns the pool for a configuration, reusing members by address.
func (d *Dataplane) compilePool(pools map[string]*pool, cfg sechannel.Pool) *pool {
	if p, ok := pools[cfg.UUID]; ok {
		return p
	}
	old := d.pools[cfg.UUID]
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
	p := &pool{uuid: cfg.UUID, policy: lb.NewPolicy(cfg.Algorithm), idle: idle, hms: cfg.HealthMonitors}
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
