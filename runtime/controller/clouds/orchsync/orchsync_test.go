package orchsync

import (
	"errors"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
	"github.com/avi-init/avi-init/runtime/controller/store/storetest"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st := storetest.Open(t)
	p := &avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemL4}, Type: avi.ProfileL4}
	if err := st.Create(p); err != nil {
		t.Fatal(err)
	}
	return st
}

// group is a service on port with one member per port in members.
func group(key string, port int, members ...int) Group {
	pool := &avi.Pool{Meta: avi.Meta{Name: key}}
	for _, m := range members {
		pool.Servers = append(pool.Servers, avi.Server{IP: avi.IPAddr{Addr: "192.0.2.1", Type: "V4"}, Port: m})
	}
	vs := &avi.VirtualService{Meta: avi.Meta{Name: key}, Services: []avi.Service{{Port: port}},
		PoolRef: avi.KindPool.NameRef(key), ApplicationProfileRef: avi.KindApplicationProfile.NameRef(avi.SystemL4), EastWestPlacement: true}
	if err := errors.Join(avi.Complete(pool), avi.Complete(vs)); err != nil {
		panic(err)
	}
	return Group{Key: key, VirtualServices: []*avi.VirtualService{vs}, Pools: []*avi.Pool{pool}}
}

func names(st *store.Store, kind avi.Kind) []string {
	var out []string
	for _, o := range st.List(kind) {
		out = append(out, o.GetMeta().Name+"<"+CreatedBy(o)+">")
	}
	return out
}

func TestSyncWritesOnlyWhatChangedAndDeletesWhatIsGone(t *testing.T) {
	st := newStore(t)
	const owner = "docker:c1:"
	rep := Sync(st, owner, []Group{group("a", 9001, 8001), group("b", 9002, 8002)}, Options{})
	if rep.VirtualServices != 2 || len(rep.Errors) != 0 {
		t.Fatalf("first sync: %+v", rep)
	}
	if got := strings.Join(names(st, avi.KindVirtualService), " "); got != "a<docker:c1:a> b<docker:c1:b>" {
		t.Fatalf("virtual services %s", got)
	}
	// The same groups again write nothing: no version change, no push to the SEs.
	v := st.Version()
	Sync(st, owner, []Group{group("a", 9001, 8001), group("b", 9002, 8002)}, Options{})
	if st.Version() != v {
		t.Errorf("an unchanged sync moved the store from version %d to %d", v, st.Version())
	}
	// A member change rewrites a's pool only; b, gone, takes its objects with it.
	Sync(st, owner, []Group{group("a", 9001, 8001, 8003)}, Options{})
	p, err := store.GetByName[*avi.Pool](st, "a")
	if err != nil || len(p.Servers) != 2 {
		t.Fatalf("pool a %+v %v", p, err)
	}
	if got := strings.Join(names(st, avi.KindPool), " "); got != "a<docker:c1:a>" {
		t.Errorf("pools after b went: %s", got)
	}
	// Another owner's objects are never touched by this one's sync.
	Sync(st, "marathon:c2:", []Group{group("m", 9100, 8100)}, Options{})
	Sync(st, owner, nil, Options{})
	if got := strings.Join(names(st, avi.KindVirtualService), " "); got != "m<marathon:c2:m>" {
		t.Errorf("after the owner's last group went: %s", got)
	}
	// A partial sync (a host not read yet) keeps what it does not see.
	Sync(st, owner, []Group{group("a", 9001, 8001)}, Options{})
	if rep := Sync(st, owner, nil, Options{Partial: true}); rep.VirtualServices != 1 {
		t.Errorf("a partial sync counts %d virtual services, want a's one kept", rep.VirtualServices)
	}
	if _, err := store.GetByName[*avi.VirtualService](st, "a"); err != nil {
		t.Errorf("a partial sync deleted what it did not see: %v", err)
	}
	Sync(st, owner, nil, Options{})
	if err := RemoveAll(st, "marathon:c2:"); err != nil || len(store.List[*avi.Pool](st)) != 0 {
		t.Errorf("RemoveAll: %v, pools %v", err, names(st, avi.KindPool))
	}
}

// A controller's store has Default-Cloud and its Default-Group, which the store fills in as the
// group of a virtual service that names none (as integrations' services do): an unchanged sync
// still writes nothing. (Were the filled group taken for a change, every sync would rewrite
// every service, one commit and one version pushed to the SEs each, and a change to one app
// would wait for all of them.)
func TestUnchangedSyncWritesNothingWhenTheStoreFillsTheGroup(t *testing.T) {
	st := newStore(t)
	err := st.Update(func(tx *store.Tx) error {
		c := &avi.Cloud{Meta: avi.Meta{Name: avi.DefaultCloudName}}
		if err := tx.Create(c); err != nil {
			return err
		}
		return tx.Create(&avi.ServiceEngineGroup{Meta: avi.Meta{Name: avi.DefaultSEGroup}, CloudRef: c.URL})
	})
	if err != nil {
		t.Fatal(err)
	}
	const owner = "marathon:c1:"
	Sync(st, owner, []Group{group("a", 9001, 8001), group("b", 9002, 8002)}, Options{})
	vs, err := store.GetByName[*avi.VirtualService](st, "a")
	if err != nil || vs.SEGroupRef == "" {
		t.Fatalf("virtual service a %+v %v: want it stored with its cloud's group", vs, err)
	}
	v := st.Version()
	Sync(st, owner, []Group{group("a", 9001, 8001), group("b", 9002, 8002)}, Options{})
	if st.Version() != v {
		t.Errorf("an unchanged sync moved the store from version %d to %d", v, st.Version())
	}
	// A member change still writes the pool, and only it.
	Sync(st, owner, []Group{group("a", 9001, 8001, 8003), group("b", 9002, 8002)}, Options{})
	if st.Version() != v+1 {
		t.Errorf("a member change moved the store from version %d to %d, want one commit", v, st.Version())
	}
	if after, _ := store.GetByName[*avi.VirtualService](st, "a"); after.LastModified != vs.LastModified {
		t.Error("a member change rewrote the virtual service")
	}
}

// References by name are escaped (proxylabel, mapping): an object whose name needs escaping is
// recognised as unchanged too, and not written again on every sync.
func TestSyncOfANameThatIsEscapedWritesNothingTheSecondTime(t *testing.T) {
	st := newStore(t)
	Sync(st, "docker:c1:", []Group{group("web app/1", 9001, 8001)}, Options{})
	v := st.Version()
	if rep := Sync(st, "docker:c1:", []Group{group("web app/1", 9001, 8001)}, Options{}); len(rep.Errors) != 0 || rep.VirtualServices != 1 {
		t.Fatalf("second sync: %+v", rep)
	}
	if st.Version() != v {
		t.Errorf("an unchanged sync moved the store from version %d to %d", v, st.Version())
	}
}

func TestSyncRefusesGroupsPerGroupAndKeepsWhatTheyHad(t *testing.T) {
	st := newStore(t)
	const owner = "docker:c1:"
	Sync(st, owner, []Group{group("a", 9001, 8001)}, Options{})

	// An operator's service on 9002, a container's published host port on 9003.
	op := group("operator", 9002, 8000)
	if err := st.Create(op.Pools[0]); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(op.VirtualServices[0]); err != nil {
		t.Fatal(err)
	}
	reserved := []Reserved{{Port: 9003, Holder: "the published port of container web-1 on host 192.0.2.7"}}
	broken := Group{Key: "a", Err: errors.New("service a: the avi_proxy label does not parse")}
	rep := Sync(st, owner, []Group{broken, group("b", 9002, 8002), group("c", 9003, 8003), group("d", 9004, 8004)}, Options{Reserved: reserved})

	want := map[string]string{
		"a": "does not parse",
		"b": "port 9002 is taken by virtual service operator",
		"c": "port 9003 is taken by the published port of container web-1",
	}
	if len(rep.Errors) != len(want) {
		t.Fatalf("errors %+v, want one each for %v", rep.Errors, want)
	}
	for _, e := range rep.Errors {
		if !strings.Contains(e.Message, want[e.Key]) {
			t.Errorf("error of %q: %q, want it to say %q", e.Key, e.Message, want[e.Key])
		}
	}
	// a keeps its service while its label is broken; d, unaffected, is written.
	if rep.VirtualServices != 2 {
		t.Errorf("virtual services counted %d, want 2 (a kept, d new)", rep.VirtualServices)
	}
	for _, name := range []string{"a", "d"} {
		if _, err := store.GetByName[*avi.VirtualService](st, name); err != nil {
			t.Errorf("virtual service %s: %v", name, err)
		}
	}
	// A name another owner holds is refused, not taken over.
	rep = Sync(st, "docker:c2:", []Group{group("operator", 9050, 8050)}, Options{})
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Message, "the name is taken") {
		t.Errorf("taking the operator's name: %+v", rep.Errors)
	}
}

// The store's own port rule holds for what an integration writes too: a group whose two
// services share a port (which the sync's own index lets pass, both being the group's) is
// refused, reported under its key with the holder named, and the other groups are written.
func TestSyncReportsAStoreRefusedPortClashPerGroup(t *testing.T) {
	st := newStore(t)
	clash := group("twice", 9100, 8100)
	second := *clash.VirtualServices[0]
	second.Name = "twice-again"
	clash.VirtualServices = append(clash.VirtualServices, &second)
	rep := Sync(st, "marathon:c1:", []Group{clash, group("fine", 9101, 8101)}, Options{})
	if len(rep.Errors) != 1 || rep.Errors[0].Key != "twice" || !strings.Contains(rep.Errors[0].Message, "port 9100") ||
		!strings.Contains(rep.Errors[0].Message, "held by virtual service twice") {
		t.Fatalf("errors %+v, want one for twice naming port 9100 and its holder", rep.Errors)
	}
	if _, err := store.GetByName[*avi.VirtualService](st, "fine"); err != nil {
		t.Errorf("the other group's service: %v", err)
	}
	if _, err := store.GetByName[*avi.VirtualService](st, "twice"); err == nil {
		t.Error("the refused group's first service was written without its second")
	}
}

// A north-south service (a VIP given as ip_address, which the store also keeps as vip[0]) is
// recognised as unchanged too: the store's derived vip[] is no change.
func TestUnchangedNorthSouthSyncWritesNothing(t *testing.T) {
	st := newStore(t)
	ns := func() Group {
		g := group("ns", 9001, 8001)
		g.VirtualServices[0].EastWestPlacement = false
		g.VirtualServices[0].IPAddress = &avi.IPAddr{Addr: "192.0.2.80", Type: "V4"}
		return g
	}
	Sync(st, "docker:c1:", []Group{ns()}, Options{})
	v := st.Version()
	if rep := Sync(st, "docker:c1:", []Group{ns()}, Options{}); len(rep.Errors) != 0 || rep.VirtualServices != 1 {
		t.Fatalf("second sync: %+v", rep)
	}
	if st.Version() != v {
		t.Errorf("an unchanged sync moved the store from version %d to %d", v, st.Version())
	}
}
