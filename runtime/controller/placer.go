package controller

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

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
	bySE    map[string]map[string]bool // cur.BySE(): replaced whole, never changed, so callers may keep it
	version int64                      // the store version cur was computed at; -1: none
	up      map[string]bool            // the SEs up when cur was computed
	since   map[string]time.Time       // when each SE last went up or down
	changed chan struct{}
}

func newPlacer(started time.Time) *placer {
	return &placer{settled: started.Add(DownAfter), version: -1, up: map[string]bool{}, since: map[string]time.Time{}, changed: make(chan struct{})}
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
		p.cur, p.bySE = next, next.BySE()
		close(p.changed)
		p.changed = make(chan struct{})
	})
	return p.cur, p.bySE
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
