// Package placement decides which service engines serve each virtual service. It is a pure
// function of the groups, the SEs and their liveness, the virtual services and the previous
// placement, so that the controller can recompute it at any time and get the same answer.
//
// An east-west service (no VIP) is served by every SE of its group, up or not: it holds no
// address another SE could take, and an SE the controller has not heard from lately may still
// serve its host's clients, who would lose the service if it were withdrawn. A north-south service's
// addresses are held by exactly one SE each (its primary), with a standby in active/standby
// mode; in elastic mode (HA_MODE_SHARED) a service with several addresses is spread over up to
// min_scaleout_per_vs SEs, each holding its own. Placement is sticky: a primary that is up keeps
// its services, so an SE that returns takes nothing back; when choosing, the SE with the fewest
// services wins, ties going to the SE up the longest, then by uuid.
package placement

import (
	"cmp"
	"slices"
	"time"
)

// Group is a service engine group as placement sees it.
type Group struct {
	UUID string
	// Standby: active/standby mode, a standby for each north-south service; else elastic.
	Standby bool
	// MinScaleout is the number of SEs an elastic service is spread over, at most one per
	// address.
	MinScaleout int
}

// SE is a service engine: its group, whether it is up and since when (up or down).
type SE struct {
	UUID  string
	Group string
	Up    bool
	Since time.Time
}

// VS is a virtual service: its group and how many addresses it has (0: east-west).
type VS struct {
	UUID  string
	Group string
	VIPs  int
}

// Assignment is where one virtual service is placed: the SEs serving it (for a north-south
// service, its primaries, one per address held) and its standby (none in elastic mode, or when
// the group has no other up SE).
type Assignment struct {
	Active  []string `json:"active"`
	Standby string   `json:"standby,omitempty"`
}

// Placement is every virtual service's assignment, by uuid.
type Placement map[string]Assignment

// BySE is, for each SE that serves any, the set of virtual services it serves.
func (p Placement) BySE() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for vs, a := range p {
		for _, se := range a.Active {
			if out[se] == nil {
				out[se] = map[string]bool{}
			}
			out[se][vs] = true
		}
	}
	return out
}

// Place computes the placement. prev is the previous one (nil: none).
func Place(groups []Group, ses []SE, vss []VS, prev Placement) Placement {
	byGroup := map[string]Group{}
	for _, g := range groups {
		byGroup[g.UUID] = g
	}
	// The up SEs of each group, the longest up first, then by uuid: the order ties go in.
	up := map[string][]SE{}
	isUp := map[string]string{}    // uuid: group
	every := map[string][]string{} // group: every SE's uuid, up or not, in uuid order
	for _, se := range ses {
		every[se.Group] = append(every[se.Group], se.UUID)
		if se.Up {
			up[se.Group] = append(up[se.Group], se)
			isUp[se.UUID] = se.Group
		}
	}
	for _, list := range every {
		slices.Sort(list)
	}
	for _, list := range up {
		slices.SortFunc(list, func(a, b SE) int {
			if c := a.Since.Compare(b.Since); c != 0 {
				return c
			}
			return cmp.Compare(a.UUID, b.UUID)
		})
	}
	vss = slices.Clone(vss)
	slices.SortFunc(vss, func(a, b VS) int { return cmp.Compare(a.UUID, b.UUID) })

	out := make(Placement, len(vss))
	load := map[string]int{} // north-south services held, by SE
	inGroup := func(se, group string) bool { g, ok := isUp[se]; return ok && g == group }
	// First what stays where it is, so that load counts it before anything moves.
	for _, vs := range vss {
		if vs.VIPs == 0 {
			continue
		}
		var a Assignment
		for _, se := range prev[vs.UUID].Active {
			if inGroup(se, vs.Group) && len(a.Active) < want(vs, byGroup[vs.Group]) {
				a.Active = append(a.Active, se)
				load[se]++
			}
		}
		out[vs.UUID] = a
	}
	// The east-west services of a group share one list of its SEs, the previous placement's
	// when it has not changed, so that comparing placements finds them unchanged at once. The
	// lists are read only.
	eastWest := map[string][]string{}
	for _, vs := range vss {
		members := up[vs.Group]
		if vs.VIPs == 0 {
			active, ok := eastWest[vs.Group]
			if !ok {
				active = append([]string{}, every[vs.Group]...)
				eastWest[vs.Group] = active
			}
			if old := prev[vs.UUID].Active; old != nil && slices.Equal(old, active) {
				active = old
				eastWest[vs.Group] = old
			}
			out[vs.UUID] = Assignment{Active: active}
			continue
		}
		g := byGroup[vs.Group]
		a := out[vs.UUID]
		old := prev[vs.UUID]
		// A lost primary's place goes first to its standby, if up.
		if len(a.Active) < want(vs, g) && old.Standby != "" && inGroup(old.Standby, vs.Group) && !slices.Contains(a.Active, old.Standby) {
			a.Active = append(a.Active, old.Standby)
			load[old.Standby]++
		}
		for len(a.Active) < want(vs, g) {
			se, ok := leastLoaded(members, load, a.Active)
			if !ok {
				break
			}
			a.Active = append(a.Active, se)
			load[se]++
		}
		a.Standby = ""
		if g.Standby && len(a.Active) > 0 {
			if old.Standby != "" && inGroup(old.Standby, vs.Group) && !slices.Contains(a.Active, old.Standby) {
				a.Standby = old.Standby
			} else if se, ok := leastLoaded(members, load, a.Active); ok {
				a.Standby = se
			}
		}
		if a.Active == nil {
			a.Active = []string{}
		}
		out[vs.UUID] = a
	}
	return out
}

// want is how many SEs hold a north-south service: one in active/standby mode; in elastic mode
// min_scaleout_per_vs, but never more than its addresses (each SE holds its own).
func want(vs VS, g Group) int {
	if g.Standby {
		return 1
	}
	return max(1, min(g.MinScaleout, vs.VIPs))
}

// leastLoaded is the SE of members, not in taken, holding the fewest services; ties go in the
// members' order.
func leastLoaded(members []SE, load map[string]int, taken []string) (string, bool) {
	best, found := "", false
	for _, se := range members {
		if slices.Contains(taken, se.UUID) {
			continue
		}
		if !found || load[se.UUID] < load[best] {
			best, found = se.UUID, true
		}
	}
	return best, found
}
