// Package vip gives north-south virtual services their addresses. A VIP that no interface of
// the SE's host holds is added to the interface the route to it leaves by, announced to the
// LAN (gratuitous ARP, unsolicited neighbour advertisement), and removed again once no virtual
// service placed on this SE uses it. Each VIP succeeds or fails on its own: one that cannot be
// added leaves out only the services using it.
//
// The addresses the SE added are recorded on disk, so that an SE restarted after a crash
// removes those it no longer serves. Addresses the host already had are never touched: they
// belong to the operator.
package vip

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/avi-init/avi-init/internal/atomicfile"
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

// Announcer tells the LAN that ip is now on link, so that neighbours' caches follow a VIP that
// moved here: Gratuitous in production, a recorder in tests.
type Announcer interface {
	Announce(link string, ip netip.Addr) error
}

// StateFile is the file in the SE's data directory recording the VIPs it added.
const StateFile = "vips.json"

// owned is one recorded VIP, as kept in StateFile.
type owned struct {
	VIP       netip.Addr `json:"vip"`
	Interface string     `json:"interface"`
}

// Manager holds the VIPs this SE added.
type Manager struct {
	host  Host
	ann   Announcer
	state string // path of the record; none when empty
	log   *slog.Logger

	mu        sync.Mutex
	owned     map[netip.Addr]string // VIP -> the interface it was added to
	announces sync.WaitGroup
}

// New makes a manager that owns the VIPs recorded in the state file (none when it is missing
// or unreadable): an SE that crashed still owns what it added, and removes it at its first
// apply unless the configuration it serves still names it.
func New(host Host, ann Announcer, stateFile string, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	m := &Manager{host: host, ann: ann, state: stateFile, log: log, owned: map[netip.Addr]string{}}
	if stateFile == "" {
		return m
	}
	data, err := os.ReadFile(stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return m
	}
	var rec []owned
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil {
		log.Warn("VIPs added earlier are unknown; none will be removed", "file", stateFile, "err", err)
		return m
	}
	for _, o := range rec {
		m.owned[o.VIP] = o.Interface
	}
	if len(rec) > 0 {
		log.Info("VIPs added before this start", "vips", len(rec))
	}
	return m
}

// Of lists the VIPs of a snapshot's enabled virtual services, each with the services using
// it. East-west services (no VIP, or an unspecified one) listen everywhere and need none. A
// service whose VIP is not an IP address is in bad, with the reason.
func Of(snap sechannel.Snapshot) (users map[netip.Addr][]string, bad map[string]string) {
	users, bad = map[netip.Addr][]string{}, map[string]string{}
	for _, vs := range snap.VirtualServices {
		if !vs.Enabled || vs.VIP == "" {
			continue
		}
		ip, err := netip.ParseAddr(vs.VIP)
		if err != nil {
			bad[vs.UUID] = fmt.Sprintf("VIP %q is not an IP address", vs.VIP)
			continue
		}
		ip = ip.Unmap()
		if !ip.IsUnspecified() {
			users[ip] = append(users[ip], vs.UUID)
		}
	}
	return users, bad
}

// Wrap puts VIP handling around a data plane's apply. The snapshot's VIPs are on the host
// while its listeners open; a service whose VIP cannot be added is left out of what apply gets
// and reported; once apply is done the VIPs no service names any more are removed and those
// added now are announced. A VIP of a service the data plane leaves out stays: it is placed on
// this SE, and the next apply retries the service.
func (m *Manager) Wrap(apply func(sechannel.Snapshot) []sechannel.ServiceError) func(sechannel.Snapshot) []sechannel.ServiceError {
	return func(snap sechannel.Snapshot) []sechannel.ServiceError {
		m.mu.Lock()
		defer m.mu.Unlock()
		users, failed := Of(snap)
		added, addErrs := m.add(slices.Collect(maps.Keys(users)))
		for ip, err := range addErrs {
			for _, uuid := range users[ip] {
				failed[uuid] = err.Error()
			}
		}
		keep := snap
		keep.VirtualServices = slices.DeleteFunc(slices.Clone(snap.VirtualServices), func(vs sechannel.VirtualService) bool {
			_, ok := failed[vs.UUID]
			return ok
		})
		for _, e := range apply(keep) {
			failed[e.VSUUID] = e.Reason
		}
		var stale []netip.Addr
		for ip := range m.owned {
			if _, ok := users[ip]; !ok {
				stale = append(stale, ip)
			}
		}
		m.remove(stale)
		m.announce(added)
		var out []sechannel.ServiceError
		for _, vs := range snap.VirtualServices {
			if reason, ok := failed[vs.UUID]; ok {
				out = append(out, sechannel.ServiceError{VSUUID: vs.UUID, Reason: reason})
			}
		}
		return out
	}
}

// Hold makes the VIPs this manager holds exactly want: those missing are added and announced,
// the others removed. It returns, per VIP, why one could not be added. A controller cluster's
// leader holds the cluster's virtual IP this way.
func (m *Manager) Hold(want []netip.Addr) map[netip.Addr]error {
	m.mu.Lock()
	defer m.mu.Unlock()
	added, errs := m.add(want)
	var stale []netip.Addr
	for ip := range m.owned {
		if !slices.Contains(want, ip) {
			stale = append(stale, ip)
		}
	}
	m.remove(stale)
	m.announce(added)
	return errs
}

// add adds each VIP of want that no interface holds, returning those it added and, per VIP,
// why one could not be. A VIP is recorded before it is added, so that a crash in between still
// leaves it owned.
func (m *Manager) add(want []netip.Addr) ([]netip.Addr, map[netip.Addr]error) {
	errs := map[netip.Addr]error{}
	links := map[netip.Addr]string{}
	for _, ip := range want {
		// A VIP owned but no longer on the host (a reboot took it) is added again.
		local, err := m.host.IsLocal(ip)
		if err != nil {
			errs[ip] = fmt.Errorf("VIP %s: %w", ip, err)
			continue
		}
		if local {
			continue
		}
		link, err := m.host.LinkFor(ip)
		if err != nil {
			errs[ip] = fmt.Errorf("VIP %s: no interface reaches it: %w", ip, err)
			continue
		}
		links[ip] = link
	}
	if len(links) == 0 {
		return nil, errs
	}
	maps.Copy(m.owned, links)
	if err := m.save(); err != nil {
		// Unrecorded, an address would outlive a crash of this SE: better not to add it.
		for ip := range links {
			delete(m.owned, ip)
			errs[ip] = fmt.Errorf("VIP %s: %w", ip, err)
		}
		return nil, errs
	}
	var added []netip.Addr
	for ip, link := range links {
		if err := m.host.Add(link, ip); err != nil {
			delete(m.owned, ip)
			errs[ip] = fmt.Errorf("VIP %s: add to %s: %w", ip, link, err)
			continue
		}
		m.log.Info("VIP added", "vip", ip, "interface", link)
		added = append(added, ip)
	}
	if len(added) < len(links) {
		m.saveOrWarn()
	}
	return added, errs
}

// announce tells the LAN about VIPs just added, in the background: an announcement takes a few
// hundred milliseconds that the next configuration should not wait for.
func (m *Manager) announce(ips []netip.Addr) {
	if m.ann == nil {
		return
	}
	for _, ip := range ips {
		link := m.owned[ip]
		m.announces.Go(func() {
			if err := m.ann.Announce(link, ip); err != nil {
				m.log.Warn("VIP not announced; neighbours learn it when their cache expires", "vip", ip, "interface", link, "err", err)
			}
		})
	}
}

// remove takes VIPs this SE added off their interfaces. A failure is logged and the VIP
// forgotten: it no longer serves a configuration, and keeping it owned would retry forever.
// Announcements still in flight end first: one sent after its VIP left would draw the LAN's
// traffic for it here, away from the SE that holds it now.
func (m *Manager) remove(ips []netip.Addr) {
	if len(ips) == 0 {
		return
	}
	m.announces.Wait()
	for _, ip := range ips {
		link := m.owned[ip]
		delete(m.owned, ip)
		if err := m.host.Remove(link, ip); err != nil {
			m.log.Warn("VIP not removed", "vip", ip, "interface", link, "err", err)
			continue
		}
		m.log.Info("VIP removed", "vip", ip, "interface", link)
	}
	m.saveOrWarn()
}

// save records the owned VIPs in the state file.
func (m *Manager) save() error {
	if m.state == "" {
		return nil
	}
	rec := []owned{}
	for ip, link := range m.owned {
		rec = append(rec, owned{VIP: ip, Interface: link})
	}
	slices.SortFunc(rec, func(a, b owned) int { return a.VIP.Compare(b.VIP) })
	data, _ := json.MarshalIndent(rec, "", "  ")
	if err := atomicfile.Write(m.state, data, 0o600); err != nil {
		return fmt.Errorf("record the VIPs this SE added: %w", err)
	}
	return nil
}

// saveOrWarn records a shrinking set: a failure leaves extra VIPs recorded, which a later
// start tries to remove and forgets.
func (m *Manager) saveOrWarn() {
	if err := m.save(); err != nil {
		m.log.Warn("VIP record not updated", "err", err)
	}
}

// RemoveRecorded removes from host every VIP that the SE whose data directory is dataDir
// recorded as added, as its Close would have: for an SE that could not (it crashed).
func RemoveRecorded(host Host, dataDir string, log *slog.Logger) {
	New(host, nil, filepath.Join(dataDir, StateFile), log).Close()
}

// Close removes every VIP this SE added (once their announcements are done), so that another SE
// can take them over.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(slices.Collect(maps.Keys(m.owned)))
}
