// Package vip gives north-south virtual services their addresses. A VIP that no interface of
// the SE's host holds is added to the interface the route to it leaves by, and removed again
// once no virtual service uses it. Addresses the host already had are never touched: they
// belong to the operator.
package vip

import (
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"github.com/avi-init/avi-init/model/sechannel"
)

// Host is the SE host's addresses: netlink in production, a fake in tests.
type Host interface {
	// IsLocal reports whether an interface already holds ip.
	IsLocal(ip netip.Addr) (bool, error)
	// LinkFor names the interface the route to ip leaves by.
	LinkFor(ip netip.Addr) (string, error)
	Add(link string, ip netip.Addr) error
	Remove(link string, ip netip.Addr) error
}

// Manager holds the VIPs this SE added.
type Manager struct {
	host Host
	log  *slog.Logger

	mu    sync.Mutex
	owned map[netip.Addr]string // VIP -> the interface it was added to
}

// New makes a manager that owns no address yet.
func New(host Host, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{host: host, log: log, owned: map[netip.Addr]string{}}
}

// Of lists the VIPs of a snapshot's enabled virtual services. East-west services (no VIP, or
// an unspecified one) listen everywhere and need none. A VIP that is not an IP address rejects
// the snapshot.
func Of(snap sechannel.Snapshot) ([]netip.Addr, error) {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, vs := range snap.VirtualServices {
		if !vs.Enabled || vs.VIP == "" {
			continue
		}
		ip, err := netip.ParseAddr(vs.VIP)
		if err != nil {
			return nil, fmt.Errorf("virtual service %s: VIP %q is not an IP address", vs.Name, vs.VIP)
		}
		ip = ip.Unmap()
		if ip.IsUnspecified() || seen[ip] {
			continue
		}
		seen[ip] = true
		out = append(out, ip)
	}
	return out, nil
}

// Apply adds the VIPs of want that the host lacks, then runs apply (which opens the
// listeners on them), then removes the VIPs added earlier that want no longer names. When
// adding or apply fails, the VIPs added for this attempt are removed again and the earlier ones
// stay: the last good configuration keeps its addresses.
func (m *Manager) Apply(want []netip.Addr, apply func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	added, err := m.add(want)
	if err == nil {
		err = apply()
	}
	if err != nil {
		m.remove(added)
		return err
	}
	var stale []netip.Addr
	for ip := range m.owned {
		if !slices.Contains(want, ip) {
			stale = append(stale, ip)
		}
	}
	m.remove(stale)
	return nil
}

// add adds each VIP of want that no interface holds, returning those it added.
func (m *Manager) add(want []netip.Addr) ([]netip.Addr, error) {
	var added []netip.Addr
	for _, ip := range want {
		if _, ok := m.owned[ip]; ok {
			continue
		}
		local, err := m.host.IsLocal(ip)
		if err != nil {
			return added, fmt.Errorf("VIP %s: %w", ip, err)
		}
		if local {
			continue
		}
		link, err := m.host.LinkFor(ip)
		if err != nil {
			return added, fmt.Errorf("VIP %s: no interface reaches it: %w", ip, err)
		}
		if err := m.host.Add(link, ip); err != nil {
			return added, fmt.Errorf("VIP %s: add to %s: %w", ip, link, err)
		}
		m.log.Info("VIP added", "vip", ip, "interface", link)
		m.owned[ip] = link
		added = append(added, ip)
	}
	return added, nil
}

// remove takes VIPs this SE added off their interfaces. A failure is logged and the VIP
// forgotten: it no longer serves a configuration, and keeping it owned would retry forever.
func (m *Manager) remove(ips []netip.Addr) {
	for _, ip := range ips {
		link := m.owned[ip]
		delete(m.owned, ip)
		if err := m.host.Remove(link, ip); err != nil {
			m.log.Warn("VIP not removed", "vip", ip, "interface", link, "err", err)
			continue
		}
		m.log.Info("VIP removed", "vip", ip, "interface", link)
	}
}

// Close removes every VIP this SE added, so that another SE can take them over.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(slices.Collect(maps.Keys(m.owned)))
}

// Wrap puts VIP handling around a data plane's apply: a snapshot's VIPs are on the host while
// its listeners open, and the ones it no longer names go afterwards.
func (m *Manager) Wrap(apply func(sechannel.Snapshot) error) func(sechannel.Snapshot) error {
	return func(snap sechannel.Snapshot) error {
		want, err := Of(snap)
		if err != nil {
			return err
		}
		return m.Apply(want, func() error { return apply(snap) })
	}
}
