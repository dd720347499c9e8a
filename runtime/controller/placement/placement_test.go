package placement

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ses(group string, up ...bool) []SE {
	var out []SE
	for i, u := range up {
		out = append(out, SE{UUID: fmt.Sprintf("se-%c", 'a'+i), Group: group, Up: u, Since: t0})
	}
	return out
}

func TestEastWestOnEverySEOfItsGroupUpOrNot(t *testing.T) {
	groups := []Group{{UUID: "g", Standby: true}, {UUID: "h", Standby: true}}
	all := append(ses("g", true, false, true), SE{UUID: "se-z", Group: "h", Up: true})
	p := Place(groups, all, []VS{{UUID: "ew", Group: "g"}}, nil)
	if got, want := p["ew"], (Assignment{Active: []string{"se-a", "se-b", "se-c"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("east-west: %+v, want %+v", got, want)
	}
}

func TestNorthSouthOnePrimaryOneStandbySpread(t *testing.T) {
	groups := []Group{{UUID: "g", Standby: true}}
	var vss []VS
	for i := range 6 {
		vss = append(vss, VS{UUID: fmt.Sprintf("vs-%d", i), Group: "g", VIPs: 1})
	}
	p := Place(groups, ses("g", true, true, true), vss, nil)
	load := map[string]int{}
	for _, vs := range vss {
		a := p[vs.UUID]
		if len(a.Active) != 1 || a.Standby == "" || a.Standby == a.Active[0] {
			t.Fatalf("%s: %+v, want one primary and another SE as standby", vs.UUID, a)
		}
		load[a.Active[0]]++
	}
	if !reflect.DeepEqual(load, map[string]int{"se-a": 2, "se-b": 2, "se-c": 2}) {
		t.Errorf("load %v, want 2 each", load)
	}
	if again := Place(groups, ses("g", true, true, true), vss, nil); !reflect.DeepEqual(again, p) {
		t.Errorf("not deterministic: %v then %v", p, again)
	}
	// One SE alone: primary, no standby; none up: nowhere.
	if a := Place(groups, ses("g", true), vss[:1], nil)["vs-0"]; !reflect.DeepEqual(a, Assignment{Active: []string{"se-a"}}) {
		t.Errorf("one SE: %+v", a)
	}
	if a := Place(groups, ses("g", false), vss[:1], nil)["vs-0"]; len(a.Active) != 0 || a.Standby != "" {
		t.Errorf("no SE up: %+v", a)
	}
}

// The primary goes down: its standby takes the service; it returns: the new primary keeps it.
func TestFailoverToStandbyAndNoFlapBack(t *testing.T) {
	groups := []Group{{UUID: "g", Standby: true}}
	vss := []VS{{UUID: "web", Group: "g", VIPs: 1}}
	p := Place(groups, ses("g", true, true, true), vss, nil)
	primary, standby := p["web"].Active[0], p["web"].Standby
	down := ses("g", true, true, true)
	for i := range down {
		if down[i].UUID == primary {
			down[i].Up = false
		}
	}
	p2 := Place(groups, down, vss, p)
	if got := p2["web"].Active; !reflect.DeepEqual(got, []string{standby}) {
		t.Fatalf("after %s went down: active %v, want its standby %s", primary, got, standby)
	}
	if p2["web"].Standby == "" || p2["web"].Standby == primary {
		t.Errorf("new standby %q: want another up SE", p2["web"].Standby)
	}
	p3 := Place(groups, ses("g", true, true, true), vss, p2)
	if got := p3["web"].Active; !reflect.DeepEqual(got, []string{standby}) {
		t.Errorf("old primary back: active %v, want %s to keep it", got, standby)
	}
}

// Elastic mode spreads a service over min_scaleout_per_vs SEs only where each holds its own
// address: one VIP, one SE; no standby.
func TestElasticScaleoutOnlyPerAddress(t *testing.T) {
	groups := []Group{{UUID: "g", MinScaleout: 2}}
	p := Place(groups, ses("g", true, true, true), []VS{{UUID: "one", Group: "g", VIPs: 1}, {UUID: "two", Group: "g", VIPs: 2}, {UUID: "three", Group: "g", VIPs: 3}}, nil)
	for vs, n := range map[string]int{"one": 1, "two": 2, "three": 2} {
		if a := p[vs]; len(a.Active) != n || a.Standby != "" {
			t.Errorf("%s: %+v, want %d SEs and no standby", vs, a, n)
		}
	}
}

// Ties go to the SE up the longest; an SE of another group is never chosen.
func TestChoiceIsByLoadThenUptime(t *testing.T) {
	groups := []Group{{UUID: "g", Standby: true}}
	all := []SE{{UUID: "se-a", Group: "g", Up: true, Since: t0.Add(time.Minute)}, {UUID: "se-b", Group: "g", Up: true, Since: t0}, {UUID: "se-x", Group: "other", Up: true, Since: t0.Add(-time.Hour)}}
	p := Place(groups, all, []VS{{UUID: "web", Group: "g", VIPs: 1}}, nil)
	if want := (Assignment{Active: []string{"se-b"}, Standby: "se-a"}); !reflect.DeepEqual(p["web"], want) {
		t.Errorf("%+v, want %+v", p["web"], want)
	}
	if by := p.BySE(); !reflect.DeepEqual(by, map[string]map[string]bool{"se-b": {"web": true}}) {
		t.Errorf("BySE: %v, want web on se-b alone (a standby serves nothing)", by)
	}
}
