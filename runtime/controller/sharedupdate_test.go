package controller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/placement"
	"github.com/avi-init/avi-init/runtime/controller/store"
	"github.com/avi-init/avi-init/runtime/controller/store/storetest"
)

// TestPlacedBySEIsBySEAndShared: through random placements (SEs going up and down, services
// coming and going), the sets kept from one placement to the next are what BySE computes from
// scratch; an SE whose services did not change keeps its set, and SEs that gain and lose the
// same services and then serve the same share one.
func TestPlacedBySEIsBySEAndShared(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	groups := []placement.Group{{UUID: "g", Standby: true}, {UUID: "h", MinScaleout: 2}}
	var prev placement.Placement
	var bySE map[string]map[string]bool
	for round := range 200 {
		var ses []placement.SE
		for i := range 6 {
			ses = append(ses, placement.SE{UUID: fmt.Sprintf("se-%d", i), Group: groups[i%2].UUID, Up: rng.IntN(4) > 0})
		}
		var vss []placement.VS
		for i := range 12 {
			if rng.IntN(5) > 0 {
				vss = append(vss, placement.VS{UUID: fmt.Sprintf("vs-%d", i), Group: groups[i%2].UUID, VIPs: i % 3})
			}
		}
		next := placement.Place(groups, ses, vss, prev)
		got := placedBySE(prev, bySE, next)
		if want := next.BySE(); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: %v, want %v", round, got, want)
		}
		for se, set := range got {
			if old, ok := bySE[se]; ok && reflect.DeepEqual(old, set) && setID(old) != setID(set) {
				t.Fatalf("round %d: %s serves what it served, yet got a new set", round, se)
			}
			for other, o := range got {
				change := setChange(bySE[se], set)
				if change != "" && change == setChange(bySE[other], o) && reflect.DeepEqual(o, set) && setID(o) != setID(set) {
					t.Fatalf("round %d: %s and %s serve the same services after the same change, in two sets", round, se, other)
				}
			}
		}
		prev, bySE = next, got
	}
}

// setChange names the services gained and lost from one set to another ("": none).
func setChange(from, to map[string]bool) string {
	var added, removed []string
	for vs := range to {
		if !from[vs] {
			added = append(added, vs)
		}
	}
	for vs := range from {
		if !to[vs] {
			removed = append(removed, vs)
		}
	}
	if len(added)+len(removed) == 0 {
		return ""
	}
	slices.Sort(added)
	slices.Sort(removed)
	return fmt.Sprint(added, removed)
}

// TestSharedUpdatesKeepPerSEPlacement: streams whose SEs hold the same services at the same
// version share one update; a stream whose SE holds other services gets its own, and never a
// north-south service placed elsewhere; a stream that missed versions gets what takes it to the
// newest. Each SE applying its updates holds what a whole snapshot of its services gives.
func TestSharedUpdatesKeepPerSEPlacement(t *testing.T) {
	st := storetest.Open(t)
	create := func(name string, vip string, port int) string {
		t.Helper()
		vs := &avi.VirtualService{Meta: avi.Meta{Name: name}, Services: []avi.Service{{Port: port}}}
		if vip != "" {
			vs.IPAddress = &avi.IPAddr{Addr: vip, Type: "V4"}
		}
		if err := st.Create(vs); err != nil {
			t.Fatal(err)
		}
		return vs.UUID
	}
	if err := st.Create(&avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP}); err != nil {
		t.Fatal(err)
	}
	ew, nsA, nsB := create("ew", "", 80), create("ns-a", "192.0.2.1", 81), create("ns-b", "192.0.2.2", 82)
	setA := map[string]bool{ew: true, nsA: true} // SEs a1 and a2
	setB := map[string]bool{ew: true, nsB: true} // SE b

	c := &snapshotCache{}
	type se struct {
		name   string
		stream streamState
		state  *sechannel.State
		held   sechannel.Snapshot
	}
	ses := []*se{{name: "a1"}, {name: "a2"}, {name: "b"}}
	for _, s := range ses {
		s.state = sechannel.NewState(sechannel.Snapshot{Version: -1})
	}
	setOf := func(s *se) map[string]bool {
		if s.name == "b" {
			return setB
		}
		return setA
	}
	push := func(s *se) []byte {
		t.Helper()
		msg := c.update(st, setOf(s), &s.stream)
		if msg == nil {
			return nil
		}
		if _, err := s.state.ApplyJSON(msg); err != nil {
			t.Fatalf("%s: %s: %v", s.name, msg, err)
		}
		s.held = s.state.Snapshot()
		return msg
	}
	check := func(what string) {
		t.Helper()
		for _, s := range ses {
			fresh := sechannel.NewState(sechannel.Snapshot{Version: -1})
			if _, err := fresh.ApplyJSON(c.update(st, setOf(s), &streamState{})); err != nil {
				t.Fatal(err)
			}
			whole := fresh.Snapshot()
			if !reflect.DeepEqual(s.held, whole) {
				t.Errorf("%s: %s holds %+v, the whole configuration of its services is %+v", what, s.name, s.held, whole)
			}
			other := nsB
			if s.name == "b" {
				other = nsA
			}
			if slices.ContainsFunc(s.held.VirtualServices, func(v sechannel.VirtualService) bool { return v.UUID == other }) {
				t.Errorf("%s: %s holds the north-south service placed on the other SEs", what, s.name)
			}
		}
	}

	a1, a2, b := push(ses[0]), push(ses[1]), push(ses[2])
	if &a1[0] != &a2[0] {
		t.Error("a1 and a2 hold the same services, yet each got its own first update")
	}
	if bytes.Equal(a1, b) {
		t.Error("b got a1's update")
	}
	check("first updates")

	// A change to the east-west service: one update for a1 and a2, another for b.
	put := func(uuid string, port int) {
		t.Helper()
		vs, err := store.Get[*avi.VirtualService](st, uuid)
		if err != nil {
			t.Fatal(err)
		}
		vs.Services[0].Port = port
		if err := st.Put(uuid, vs); err != nil {
			t.Fatal(err)
		}
	}
	put(ew, 8080)
	a1, a2, b = push(ses[0]), push(ses[1]), push(ses[2])
	if &a1[0] != &a2[0] || &a1[0] == &b[0] {
		t.Errorf("after a change: a1 %s, a2 %s, b %s: want a1's shared with a2 only", a1, a2, b)
	}
	var u sechannel.Update
	if err := json.Unmarshal(b, &u); err != nil || u.Full || len(u.VirtualServices) != 1 || u.VirtualServices[0].UUID != ew {
		t.Errorf("b's update after a change of ew: %s, want ew alone", b)
	}
	check("after a change")

	// a2 misses two versions (a change, then the deletion of ns-a); a1 follows each.
	put(nsA, 8081)
	push(ses[0])
	if err := st.Delete(avi.KindVirtualService, nsA); err != nil {
		t.Fatal(err)
	}
	a1, a2 = push(ses[0]), push(ses[1])
	if err := json.Unmarshal(a2, &u); err != nil || u.Full || !reflect.DeepEqual(u.Deleted, []string{nsA}) {
		t.Errorf("a2's update after missing versions: %s, want ns-a deleted", a2)
	}
	if bytes.Equal(a1, a2) {
		t.Errorf("a1 and a2 got the same update from different versions: %s", a1)
	}
	push(ses[2])
	check("after a deletion")
}

// TestBuiltUpdatesBounded: placements that change while the configuration stays (SEs going up
// and down) make new placed sets; the updates kept for the version stay within maxBuilt, and a
// stream still gets what takes its SE to the newest version.
func TestBuiltUpdatesBounded(t *testing.T) {
	st := storetest.Open(t)
	if err := st.Create(&avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP}); err != nil {
		t.Fatal(err)
	}
	vs := &avi.VirtualService{Meta: avi.Meta{Name: "ew"}, Services: []avi.Service{{Port: 80}}}
	if err := st.Create(vs); err != nil {
		t.Fatal(err)
	}
	c := &snapshotCache{}
	var stream streamState
	state := sechannel.NewState(sechannel.Snapshot{Version: -1})
	for i := range 2*maxBuilt + 1 {
		placed := map[string]bool{} // a new set each time, as a new placement makes
		if i%2 == 0 {
			placed[vs.UUID] = true
		}
		if msg := c.update(st, placed, &stream); msg != nil {
			if _, err := state.ApplyJSON(msg); err != nil {
				t.Fatalf("update %d: %s: %v", i, msg, err)
			}
		}
		if len(c.built) > maxBuilt {
			t.Fatalf("after %d placements at one version, %d updates kept, want at most %d", i+1, len(c.built), maxBuilt)
		}
	}
	if snap := state.Snapshot(); snap.Version != stream.version || len(snap.VirtualServices) != 1 || snap.VirtualServices[0].UUID != vs.UUID {
		t.Errorf("the SE holds %+v, want ew alone", snap.VirtualServices)
	}
}
