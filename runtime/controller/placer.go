package controller

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/placement"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// placeCheck is how often the controller looks for SEs gone silent, so that their north-south
// services move within DownAfter and this.
const placeCheck = 100 * time.Millisecond

// placer keeps the placement of the virtual services on the SEs. It lives in memory: it is
// recomputed from the store and the SEs' liveness, which a restarted controller learns again.
// For DownAfter after it starts, the controller is settling: every SE that is up has
// heartbeated in that time, telling what it serves; until then the placement is recomputed
// from those reports each time rather than kept, so that the first SE to reconnect does not
// take every service, and a north-south VIP stays where it is across a controller restart.
type placer struct {
	settled time.Time // the end of settling
	mu      sync.Mutex
	cur     placement.Placement
	bySE    map[string]map[string]bool // cur.BySE(), by placedBySE: never changed, so callers may keep it
	version int64                      // the store version cur was computed at; -1: none
	up      map[string]bool            // the SEs up when cur was computed
	since   map[string]time.Time       // when each SE last went up or down
	changed chan struct{}
}

func newPlacer(started time.Time) *placer {
	return &placer{settled: started.Add(DownAfter), version: -1, up: map[string]bool{}, since: map[string]time.Time{}, changed: make(chan struct{})}
}

// resettle starts settling again, as at a start: a node that has just become the cluster's
// leader hears from the SEs before it moves anything.
func (p *placer) resettle(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settled = now.Add(DownAfter)
}

// Changed is closed at the next change of placement.
func (p *placer) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// placement returns the current placement and the virtual services placed on each SE, computing
// them again when the configuration or an SE's liveness changed since; a new placement wakes the
// SE streams.
func (s *Server) placement() (placement.Placement, map[string]map[string]bool) {
	p := s.placer
	p.mu.Lock()
	defer p.mu.Unlock()
	up := s.se.alive()
	now := s.now()
	settling := now.Before(p.settled)
	s.store.View(func(v store.View) {
		if !settling && v.Version() == p.version && maps.Equal(up, p.up) {
			return
		}
		for uuid := range up {
			if !p.up[uuid] {
				p.since[uuid] = now
			}
		}
		for uuid := range p.up {
			if !up[uuid] {
				p.since[uuid] = now
			}
		}
		groups, ses, vss := placementInputs(v, up, p.since)
		prev := p.cur
		if settling {
			prev = placement.Placement{}
			for vs, holders := range s.se.claims(up) {
				slices.Sort(holders)
				prev[vs] = placement.Assignment{Active: holders}
			}
		}
		next := placement.Place(groups, ses, vss, prev)
		p.version, p.up = v.Version(), up
		if reflect.DeepEqual(next, p.cur) {
			return
		}
		p.cur, p.bySE = next, placedBySE(p.cur, p.bySE, next)
		close(p.changed)
		p.changed = make(chan struct{})
	})
	return p.cur, p.bySE
}

// placedBySE is next.BySE(), made from the previous placement and its BySE: an SE whose
// services did not change keeps its set, and SEs that gain and lose the same services and then
// serve the same share one (every SE of a group, for an east-west service). A change
// costs what it changes, and a stream tells by the set alone what its SE held (snapshotCache).
// Sets are never changed once made.
func placedBySE(prev placement.Placement, prevBySE map[string]map[string]bool, next placement.Placement) map[string]map[string]bool {
	type diff struct{ added, removed []string }
	diffs := map[string]*diff{}
	of := func(se string) *diff {
		d, ok := diffs[se]
		if !ok {
			d = &diff{}
			diffs[se] = d
		}
		return d
	}
	// The SEs a service gains and loses, worked out once for each pair of lists: the east-west
	// services of a group share theirs, and a group's SE going up or down changes them all.
	type lists struct {
		old, next       *string
		oldLen, nextLen int
	}
	type move struct{ gained, lost []string }
	moves := map[lists]move{}
	first := func(l []string) *string {
		if len(l) == 0 {
			return nil
		}
		return &l[0]
	}
	for vs, a := range next {
		old := prev[vs].Active
		k := lists{first(old), first(a.Active), len(old), len(a.Active)}
		if k.old == k.next && k.oldLen == k.nextLen {
			continue // the same list: placement shares the lists it keeps
		}
		m, ok := moves[k]
		if !ok {
			was, is := setOf(old), setOf(a.Active)
			for _, se := range a.Active {
				if !was[se] {
					m.gained = append(m.gained, se)
				}
			}
			for _, se := range old {
				if !is[se] {
					m.lost = append(m.lost, se)
				}
			}
			moves[k] = m
		}
		for _, se := range m.gained {
			of(se).added = append(of(se).added, vs)
		}
		for _, se := range m.lost {
			of(se).removed = append(of(se).removed, vs)
		}
	}
	for vs, a := range prev {
		if _, ok := next[vs]; !ok {
			for _, se := range a.Active {
				of(se).removed = append(of(se).removed, vs)
			}
		}
	}
	out := make(map[string]map[string]bool, len(prevBySE))
	for se, set := range prevBySE {
		if diffs[se] == nil {
			out[se] = set
		}
	}
	type change struct{ added, removed string } // uuids, joined by commas (which no uuid holds)
	type madeKey struct {
		from unsafe.Pointer // setID of the set changed
		change
	}
	type sameKey struct {
		size int
		change
	}
	made := map[madeKey]map[string]bool{}   // by the set changed and how
	same := map[sameKey][]map[string]bool{} // by how and the size: the sets made, to find an equal one
	for se, d := range diffs {
		slices.Sort(d.added)
		slices.Sort(d.removed)
		old := prevBySE[se]
		how := change{strings.Join(d.added, ","), strings.Join(d.removed, ",")}
		key := madeKey{setID(old), how}
		set, ok := made[key]
		if !ok {
			set = maps.Clone(old)
			if set == nil {
				set = map[string]bool{}
			}
			for _, vs := range d.removed {
				delete(set, vs)
			}
			for _, vs := range d.added {
				set[vs] = true
			}
			// SEs that came up at different times hold equal sets of their own: the same change
			// makes them one.
			bucket := sameKey{len(set), how}
			if i := slices.IndexFunc(same[bucket], func(o map[string]bool) bool { return maps.Equal(o, set) }); i >= 0 {
				set = same[bucket][i]
			} else {
				same[bucket] = append(same[bucket], set)
			}
			made[key] = set
		}
		if len(set) > 0 {
			out[se] = set
		}
	}
	return out
}

func setOf(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

// placementInputs reads the groups, the SEs and the virtual services of the store as placement
// takes them. An object without a group (stored before groups existed) is in its cloud's
// Default-Group; a group is in Default-Cloud when it names no cloud.
func placementInputs(v store.View, up map[string]bool, since map[string]time.Time) ([]placement.Group, []placement.SE, []placement.VS) {
	groups := store.List[*avi.ServiceEngineGroup](v)
	defaults := map[string]string{} // cloud URL: its Default-Group's URL
	var defaultCloud string
	for _, c := range store.List[*avi.Cloud](v) {
		if c.Name == avi.DefaultCloudName {
			defaultCloud = c.URL
		}
	}
	var pg []placement.Group
	for _, g := range groups {
		if g.Name == avi.DefaultSEGroup {
			defaults[g.CloudRef] = g.URL
		}
		pg = append(pg, placement.Group{UUID: g.URL, Standby: g.Standby(), MinScaleout: g.MinScaleoutPerVS})
	}
	groupOf := func(ref, cloud string) string {
		switch {
		case ref != "":
			return ref
		case cloud != "":
			return defaults[cloud]
		}
		return defaults[defaultCloud]
	}
	var ses []placement.SE
	for _, se := range store.List[*avi.ServiceEngine](v) {
		ses = append(ses, placement.SE{UUID: se.UUID, Group: groupOf(se.SEGroupRef, ""), Up: up[se.UUID], Since: since[se.UUID]})
	}
	var vss []placement.VS
	for _, vs := range store.List[*avi.VirtualService](v) {
		n := 0
		if vs.IPAddress != nil {
			n = 1
		}
		vss = append(vss, placement.VS{UUID: vs.UUID, Group: groupOf(vs.SEGroupRef, vs.CloudRef), VIPs: n})
	}
	return pg, ses, vss
}

// runPlacement looks for SEs gone silent until ctx ends: a placement that changes wakes the
// streams of the SEs concerned.
func (s *Server) runPlacement(ctx context.Context) {
	t := time.NewTicker(placeCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.placement()
		}
	}
}
