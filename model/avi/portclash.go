package avi

import "fmt"

// Lister is what a rule over several objects reads of the store, as a transaction sees it.
type Lister interface {
	// Each calls fn with every object of a kind; fn must not change them.
	Each(kind Kind, fn func(uuid string, o Object))
	// Lookup returns the object of a kind with that uuid; fn must not change it.
	Lookup(kind Kind, uuid string) (Object, bool)
	// DefaultSEGroup is the URL of a cloud's DefaultSEGroup (cloudRef empty: Default-Cloud's).
	DefaultSEGroup(cloudRef string) string
}

// Settled is an object with rules over other objects, which the store applies on each write
// once the object's references are resolved: Settle fills references that default to another
// object (as FillRefs does) and checks the object against the others. uuid is the object's own.
type Settled interface {
	// FillRefs fills the references that default to another object, as Settle does: what the
	// object is stored with, for a writer that compares it with the stored one before writing.
	FillRefs(l Lister)
	Settle(uuid string, l Lister) error
}

// ConflictError is a write refused because another object holds what it asks for (409).
type ConflictError struct{ Field, Reason string }

func (e *ConflictError) Error() string { return e.Field + ": " + e.Reason }

// SEGroup is the URL of the service engine group that serves the virtual service: its own, or
// its cloud's DefaultSEGroup for one stored before virtual services had groups.
func (v *VirtualService) SEGroup(l Lister) string {
	if v.SEGroupRef != "" {
		return v.SEGroupRef
	}
	return l.DefaultSEGroup(v.CloudRef)
}

// FillRefs: the service engine group defaults to the cloud's DefaultSEGroup; the VIP's fields
// are derived (fillVIP).
func (v *VirtualService) FillRefs(l Lister) {
	v.fillVIP(l)
	if v.SEGroupRef == "" {
		v.SEGroupRef = l.DefaultSEGroup(v.CloudRef)
	}
}

// Settle: the service engine group (filled by FillRefs) must be in the virtual service's cloud,
// and no other enabled virtual service of the group holds one of its ports on its address. The
// SEs of a group serve its services together, so two listeners on one address and port would
// make them refuse one of the two; an east-west service listens on every address of the group's
// SEs and so clashes with any service of the group on its ports.
func (v *VirtualService) Settle(uuid string, l Lister) error {
	if err := v.settleVIP(uuid, l); err != nil {
		return err
	}
	v.FillRefs(l)
	group := v.SEGroupRef
	// The cloud's own group tells which cloud the virtual service is in (no cloud_ref: Default-Cloud).
	g, ok := l.Lookup(KindServiceEngineGroup, UUIDOf(group))
	d, dok := l.Lookup(KindServiceEngineGroup, UUIDOf(l.DefaultSEGroup(v.CloudRef)))
	if ok && dok && g.(*ServiceEngineGroup).CloudRef != d.(*ServiceEngineGroup).CloudRef {
		return fieldErr("se_group_ref", "service engine group %s is not in the virtual service's cloud", g.GetMeta().Name)
	}
	if !v.IsEnabled() {
		return nil
	}
	var clash error
	l.Each(KindVirtualService, func(id string, o Object) {
		other := o.(*VirtualService)
		if clash != nil || id == uuid || !other.IsEnabled() || other.SEGroup(l) != group {
			return
		}
		if port, ok := sharedPort(v, other); ok {
			where := "every address of its SEs (east-west)"
			if v.IPAddress != nil {
				where = v.IPAddress.Addr
			}
			clash = &ConflictError{Field: "services", Reason: fmt.Sprintf("port %d on %s is held by virtual service %s (%s)", port, where, other.Name, id)}
		}
	})
	return clash
}

// sharedPort is the first port of a that b listens on too, on an address a listens on.
func sharedPort(a, b *VirtualService) (int, bool) {
	if a.IPAddress != nil && b.IPAddress != nil && a.IPAddress.Addr != b.IPAddress.Addr {
		return 0, false
	}
	for _, sa := range a.Services {
		for _, sb := range b.Services {
			lo, hi := max(sa.Port, sb.Port), min(max(sa.Port, sa.PortRangeEnd), max(sb.Port, sb.PortRangeEnd))
			if lo <= hi {
				return lo, true
			}
		}
	}
	return 0, false
}
