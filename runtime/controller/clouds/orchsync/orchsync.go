// Package orchsync writes what an orchestrator integration maps to into the controller's store.
// An integration (Marathon apps, Docker containers) maps its workloads to groups of virtual
// services, pools and health monitors, one group per app or service; Sync makes the store hold
// exactly those, marking each object created_by "<owner><group key>". It changes and deletes only
// objects so marked, one group per transaction, so that a group that cannot be mapped or written
// never holds up the others. A group in error keeps the objects it had: a broken label must not
// take a running service away. A StatusBoard keeps what each cloud's sync last saw, for the API.
package orchsync

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Group is what one app or service maps to. Objects refer to each other by name.
type Group struct {
	Key             string
	VirtualServices []*avi.VirtualService
	Pools           []*avi.Pool
	HealthMonitors  []*avi.HealthMonitor
	Notes           []string
	// Err, when set, says why the group maps to nothing; it keeps what it had.
	Err error
}

// Issue is something about one group, by its key (empty: about none in particular).
type Issue struct {
	Key     string
	Message string
}

// Report is what a sync did.
type Report struct {
	// VirtualServices counts the services the integration now has in the store.
	VirtualServices int
	Errors          []Issue
	Notes           []Issue
}

// Reserved is a port something other than a virtual service holds on SE hosts (a container's
// published host port): no service may take it.
type Reserved struct {
	Port   int
	Holder string // says what holds it, for the error
}

// Options refine a sync.
type Options struct {
	Reserved []Reserved
	// Partial says the groups may not be all there are (a host not read yet): the objects of
	// keys no group has are kept rather than deleted.
	Partial bool
}

// kinds in the order they are written; deletion goes the other way, so that nothing is
// deleted while still referred to.
var kinds = []avi.Kind{avi.KindHealthMonitor, avi.KindPool, avi.KindVirtualService}

// owned is an object an integration made.
type owned struct {
	kind       avi.Kind
	uuid, name string
}

// Sync makes the store hold what groups map to: the objects of each group are created, replaced
// when they differ and pruned; the objects of keys no group has any more are deleted (unless the
// sync is partial). A group whose ports another service (or a reserved port) holds is refused,
// since two listeners on one port would make every SE reject its whole configuration.
func Sync(st *store.Store, owner string, groups []Group, opts Options) Report {
	byKey := ownedByKey(st, owner)
	ports := portIndex(st)
	for _, r := range opts.Reserved {
		ports[r.Port] = append(ports[r.Port], portUser{name: r.Holder, reserved: true})
	}
	var rep Report
	seen := map[string]bool{}
	for _, g := range groups {
		seen[g.Key] = true
		for _, n := range g.Notes {
			rep.Notes = append(rep.Notes, Issue{g.Key, n})
		}
		err := g.Err
		if err == nil {
			err = ports.claim(owner+g.Key, g.VirtualServices)
		}
		if err == nil {
			err = writeGroup(st, owner+g.Key, g, byKey[g.Key])
		}
		if err != nil {
			rep.Errors = append(rep.Errors, Issue{g.Key, err.Error()})
			rep.VirtualServices += countVS(byKey[g.Key])
			continue
		}
		rep.VirtualServices += len(g.VirtualServices)
	}
	var gone []owned
	for key, objs := range byKey {
		switch {
		case seen[key]:
		case opts.Partial:
			rep.VirtualServices += countVS(objs)
		default:
			gone = append(gone, objs...)
		}
	}
	if len(gone) > 0 {
		if err := st.Update(func(tx *store.Tx) error { return deleteAll(tx, gone) }); err != nil {
			rep.Errors = append(rep.Errors, Issue{"", fmt.Sprintf("delete the objects of what is gone: %v", err)})
		}
	}
	sortIssues(rep.Errors)
	sortIssues(rep.Notes)
	return rep
}

// RemoveAll deletes every object owner made.
func RemoveAll(st *store.Store, owner string) error {
	if len(ownedByKey(st, owner)) == 0 {
		return nil // no write: nothing is pushed to the SEs
	}
	return st.Update(func(tx *store.Tx) error { return DeleteOwned(tx, owner) })
}

// DeleteOwned deletes, in tx, every object one of owners made: with the cloud that made them, so
// that deleting a cloud is not refused because its integration's objects still refer to it.
func DeleteOwned(tx *store.Tx, owners ...string) error {
	var objs []owned
	for _, kind := range kinds {
		for _, o := range tx.List(kind) {
			cb := CreatedBy(o)
			if slices.ContainsFunc(owners, func(owner string) bool { return strings.HasPrefix(cb, owner) }) {
				objs = append(objs, owned{kind, o.GetMeta().UUID, o.GetMeta().Name})
			}
		}
	}
	return deleteAll(tx, objs)
}

// CreatedBy is the created_by of an object an integration may make, or "".
func CreatedBy(o avi.Object) string {
	switch o := o.(type) {
	case *avi.VirtualService:
		return o.CreatedBy
	case *avi.Pool:
		return o.CreatedBy
	case *avi.HealthMonitor:
		return o.CreatedBy
	}
	return ""
}

func sortIssues(is []Issue) {
	slices.SortFunc(is, func(a, b Issue) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Message, b.Message))
	})
}

func countVS(objs []owned) int {
	n := 0
	for _, o := range objs {
		if o.kind == avi.KindVirtualService {
			n++
		}
	}
	return n
}

// ownedByKey lists owner's objects by group key.
func ownedByKey(st *store.Store, owner string) map[string][]owned {
	out := map[string][]owned{}
	st.View(func(v store.View) {
		for _, kind := range kinds {
			for _, o := range v.List(kind) {
				if key, ok := strings.CutPrefix(CreatedBy(o), owner); ok {
					out[key] = append(out[key], owned{kind, o.GetMeta().UUID, o.GetMeta().Name})
				}
			}
		}
	})
	return out
}

// writeGroup writes one group's objects in one transaction: created, replaced when they
// differ, and the group's objects it no longer maps to deleted.
func writeGroup(st *store.Store, maker string, g Group, had []owned) error {
	type write struct {
		kind avi.Kind
		o    avi.Object
	}
	var objs []write
	for _, o := range g.HealthMonitors {
		o.CreatedBy = maker
		objs = append(objs, write{avi.KindHealthMonitor, o})
	}
	for _, o := range g.Pools {
		o.CreatedBy = maker
		objs = append(objs, write{avi.KindPool, o})
	}
	for _, o := range g.VirtualServices {
		o.CreatedBy = maker
		objs = append(objs, write{avi.KindVirtualService, o})
	}
	return st.Update(func(tx *store.Tx) error {
		keep := map[owned]bool{} // by kind and name
		for _, w := range objs {
			name := w.o.GetMeta().Name
			keep[owned{kind: w.kind, name: name}] = true
			id, exists := tx.ByName(w.kind, name)
			if !exists {
				if err := tx.Create(w.o); err != nil {
					return fmt.Errorf("%s %s: %w", w.kind, name, err)
				}
				continue
			}
			cur, err := tx.Get(w.kind, id)
			if err != nil {
				return err
			}
			if CreatedBy(cur) != maker {
				return fmt.Errorf("%s %s: the name is taken by an object this integration did not make for it", w.kind, name)
			}
			if same(tx, w.kind, cur, w.o) {
				continue
			}
			if err := tx.Put(id, w.o); err != nil {
				return fmt.Errorf("%s %s: %w", w.kind, name, err)
			}
		}
		var stale []owned
		for _, o := range had {
			if !keep[owned{kind: o.kind, name: o.name}] {
				stale = append(stale, o)
			}
		}
		return deleteAll(tx, stale)
	})
}

// same reports whether writing want over cur would change nothing (no write, so no push to the
// SEs): want's references are compared in the stored form (by uuid, with those the store
// defaults filled), and the fields the store sets are ignored.
func same(tx *store.Tx, kind avi.Kind, cur, want avi.Object) bool {
	k, _ := kind.Info()
	w := k.New()
	data, err := json.Marshal(want)
	if err != nil || json.Unmarshal(data, w) != nil {
		return false
	}
	for _, r := range w.Refs() {
		escaped, ok := strings.CutPrefix(*r.Value, r.Kind.NameRef(""))
		if !ok {
			continue
		}
		name, err := url.QueryUnescape(escaped)
		if err != nil {
			return false
		}
		id, found := tx.ByName(r.Kind, name)
		if !found {
			return false
		}
		*r.Value = r.Kind.URL(id)
	}
	// A reference left empty (a virtual service's group) is stored filled: compared empty, every
	// sync would write every such object again.
	if s, ok := w.(avi.Settled); ok {
		s.FillRefs(tx)
	}
	wm, cm := w.GetMeta(), cur.GetMeta()
	wm.UUID, wm.URL, wm.LastModified = cm.UUID, cm.URL, cm.LastModified
	a, err1 := json.Marshal(w)
	b, err2 := json.Marshal(cur)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// deleteAll deletes objects, virtual services first, then pools, then health monitors.
func deleteAll(tx *store.Tx, objs []owned) error {
	for i := len(kinds) - 1; i >= 0; i-- {
		for _, o := range objs {
			if o.kind != kinds[i] {
				continue
			}
			if err := tx.Delete(o.kind, o.uuid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("delete %s %s: %w", o.kind, o.name, err)
			}
		}
	}
	return nil
}

// ports is who listens on each port: virtual services with their VIP (empty for east-west
// services, which listen on every address), and reserved ports.
type ports map[int][]portUser

type portUser struct {
	vip, name, createdBy string
	reserved             bool
}

func portIndex(st *store.Store) ports {
	idx := ports{}
	st.View(func(v store.View) {
		for _, vs := range store.List[*avi.VirtualService](v) {
			if vs.IsEnabled() {
				idx.add(vs, vs.CreatedBy)
			}
		}
	})
	return idx
}

func vip(vs *avi.VirtualService) string {
	if vs.IPAddress == nil {
		return ""
	}
	return vs.IPAddress.Addr
}

// servicePorts lists every port a virtual service listens on.
func servicePorts(vs *avi.VirtualService) []int {
	var out []int
	for _, s := range vs.Services {
		for p := s.Port; p <= max(s.Port, s.PortRangeEnd); p++ {
			out = append(out, p)
		}
	}
	return out
}

func (idx ports) add(vs *avi.VirtualService, createdBy string) {
	for _, p := range servicePorts(vs) {
		idx[p] = append(idx[p], portUser{vip: vip(vs), name: vs.Name, createdBy: createdBy})
	}
}

// claim takes the services' ports, or says who holds one of them. An east-west service clashes
// with anything on its port; a VIP only with east-west services and the same VIP. A reserved
// port (bound on every address of a host) clashes with everything.
func (idx ports) claim(createdBy string, vss []*avi.VirtualService) error {
	for _, vs := range vss {
		v := vip(vs)
		for _, p := range servicePorts(vs) {
			for _, u := range idx[p] {
				switch {
				case u.reserved:
					return fmt.Errorf("virtual service %s: port %d is taken by %s", vs.Name, p, u.name)
				case u.createdBy != createdBy && (v == "" || u.vip == "" || u.vip == v):
					return fmt.Errorf("virtual service %s: port %d is taken by virtual service %s", vs.Name, p, u.name)
				}
			}
		}
	}
	for _, vs := range vss {
		idx.add(vs, createdBy)
	}
	return nil
}
