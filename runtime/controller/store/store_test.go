package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/avi-init/avi-init/model/avi"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCreateResolveDeleteAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.db")
	s := open(t, path)
	v0 := s.Version()
	hm := &avi.HealthMonitor{Meta: avi.Meta{Name: "hm"}, Type: avi.HealthMonitorTCP}
	if err := s.Create(hm); err != nil {
		t.Fatal(err)
	}
	if s.Version() != v0+1 {
		t.Errorf("version %d after one write from %d", s.Version(), v0)
	}
	pool := &avi.Pool{Meta: avi.Meta{Name: "web"}, HealthMonitorRefs: []string{avi.KindHealthMonitor.NameRef("hm")}}
	if err := s.Create(pool); err != nil {
		t.Fatal(err)
	}
	if got := pool.HealthMonitorRefs[0]; got != hm.URL {
		t.Errorf("name reference stored as %q, want %q", got, hm.URL)
	}
	if err := s.Create(&avi.Pool{Meta: avi.Meta{Name: "web"}}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate name: %v, want ErrConflict", err)
	}
	err := s.Create(&avi.Pool{Meta: avi.Meta{Name: "p2"}, HealthMonitorRefs: []string{avi.KindHealthMonitor.NameRef("nope")}})
	var fe *avi.FieldError
	if !errors.As(err, &fe) || fe.Field != "health_monitor_refs[0]" {
		t.Errorf("dangling reference: %v, want a field error on health_monitor_refs[0]", err)
	}
	if err := s.Delete(avi.KindHealthMonitor, hm.UUID); !errors.Is(err, ErrReferenced) {
		t.Errorf("delete of a referenced monitor: %v, want ErrReferenced", err)
	}
	v := s.Version()
	s.Close()

	s2 := open(t, path)
	if s2.Version() != v {
		t.Errorf("version after reopen %d, want %d", s2.Version(), v)
	}
	got, err := Get[*avi.Pool](s2, pool.UUID)
	if err != nil || got.LBAlgorithm != avi.LBLeastConnections || got.HealthMonitorRefs[0] != hm.URL {
		t.Errorf("pool after reopen: %v %+v", err, got)
	}
	if err := s2.Delete(avi.KindPool, pool.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s2.Delete(avi.KindHealthMonitor, hm.UUID); err != nil {
		t.Errorf("delete after its referrer is gone: %v", err)
	}
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	v := s.Version()
	changed := s.Changed()
	err := s.Update(func(tx *Tx) error {
		if err := tx.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: "a"}, Type: avi.HealthMonitorTCP}); err != nil {
			return err
		}
		// The second write fails: the first must not be stored either.
		return tx.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: "b"}, Type: "BOGUS"})
	})
	if err == nil {
		t.Fatal("invalid write accepted")
	}
	if n := len(List[*avi.HealthMonitor](s)); n != 0 || s.Version() != v {
		t.Errorf("failed transaction left %d objects, version %d", n, s.Version())
	}
	select {
	case <-changed:
		t.Error("failed transaction signalled a change")
	default:
	}
	if err := s.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: "a"}, Type: avi.HealthMonitorTCP}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Error("a commit did not signal a change")
	}
}

func TestSingletonAndReferenceForms(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	if err := s.Create(&avi.SystemConfiguration{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(&avi.SystemConfiguration{}); !errors.Is(err, ErrConflict) {
		t.Errorf("second systemconfiguration: %v, want ErrConflict", err)
	}
	prof := &avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP}
	if err := s.Create(prof); err != nil {
		t.Fatal(err)
	}
	for i, ref := range []string{prof.URL, "https://192.0.2.1" + prof.URL, "/api/applicationprofile?name=System-HTTP", ""} {
		// Each on its own port: two services of one group cannot share one.
		vs := &avi.VirtualService{Meta: avi.Meta{Name: "vs" + ref}, Services: []avi.Service{{Port: 80 + i}}, ApplicationProfileRef: ref}
		if err := s.Create(vs); err != nil {
			t.Errorf("reference %q: %v", ref, err)
			continue
		}
		if vs.ApplicationProfileRef != prof.URL {
			t.Errorf("reference %q stored as %q", ref, vs.ApplicationProfileRef)
		}
	}
	err := s.Create(&avi.VirtualService{Meta: avi.Meta{Name: "bad"}, Services: []avi.Service{{Port: 80}}, PoolRef: prof.URL})
	var fe *avi.FieldError
	if !errors.As(err, &fe) || fe.Field != "pool_ref" {
		t.Errorf("a pool_ref naming a profile: %v", err)
	}
}

func TestCreateOrReplaceByName(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	put := func(failed int) *avi.HealthMonitor {
		t.Helper()
		hm := &avi.HealthMonitor{Meta: avi.Meta{Name: "hm"}, Type: avi.HealthMonitorTCP, FailedChecks: failed}
		if err := s.Update(func(tx *Tx) error { return tx.CreateOrReplace(hm) }); err != nil {
			t.Fatal(err)
		}
		return hm
	}
	first := put(3)
	second := put(5)
	if first.UUID != second.UUID {
		t.Errorf("the second write by name made %s beside %s, want it replaced", second.UUID, first.UUID)
	}
	list := List[*avi.HealthMonitor](s)
	if len(list) != 1 || list[0].FailedChecks != 5 {
		t.Errorf("health monitors after two writes by name: %+v, want one with failed_checks 5", list)
	}
}

// stray is an object of no kind in avi.Kinds.
type stray struct{ avi.Meta }

func (*stray) Defaults()          {}
func (*stray) Validate() error    { return nil }
func (*stray) Refs() []avi.Ref    { return nil }
func (*stray) Secrets() []*string { return nil }

func tcpMonitor(name string) *avi.HealthMonitor {
	return &avi.HealthMonitor{Meta: avi.Meta{Name: name}, Type: avi.HealthMonitorTCP}
}

func mustCreate(t *testing.T, s *Store, o avi.Object) {
	t.Helper()
	if err := s.Create(o); err != nil {
		t.Fatalf("create %s: %v", o.GetMeta().Name, err)
	}
}

// Each reader gives the same answers: the store and a transaction (copies), a view (the live
// objects).
func TestTypedReadsThroughEveryReader(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	for _, name := range []string{"b", "c", "a"} {
		mustCreate(t, s, tcpMonitor(name))
	}
	b, err := GetByName[*avi.HealthMonitor](s, "b")
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, r Reader) {
		t.Helper()
		var names []string
		for _, hm := range List[*avi.HealthMonitor](r) {
			names = append(names, hm.Name)
		}
		if strings.Join(names, " ") != "a b c" {
			t.Errorf("List: %v, want a b c by name", names)
		}
		if got, err := Get[*avi.HealthMonitor](r, b.UUID); err != nil || got.Name != "b" {
			t.Errorf("Get: %+v, %v", got, err)
		}
		if got, err := GetByName[*avi.HealthMonitor](r, "c"); err != nil || got.Name != "c" {
			t.Errorf("GetByName: %+v, %v", got, err)
		}
		if got, err := Get[*avi.HealthMonitor](r, "healthmonitor-nope"); !errors.Is(err, ErrNotFound) || got != nil {
			t.Errorf("Get of a missing uuid: %+v, %v; want nil, ErrNotFound", got, err)
		}
		if got, err := GetByName[*avi.HealthMonitor](r, "nope"); !errors.Is(err, ErrNotFound) || got != nil {
			t.Errorf("GetByName of a missing name: %+v, %v; want nil, ErrNotFound", got, err)
		}
		// The uuid of one kind is not found as another.
		if _, err := Get[*avi.Pool](r, b.UUID); !errors.Is(err, ErrNotFound) {
			t.Errorf("a monitor's uuid read as a pool: %v, want ErrNotFound", err)
		}
		if n := len(List[*avi.Pool](r)); n != 0 {
			t.Errorf("%d pools, want none", n)
		}
	}
	t.Run("store", func(t *testing.T) { check(t, s) })
	t.Run("transaction", func(t *testing.T) {
		if err := s.Update(func(tx *Tx) error { check(t, tx); return nil }); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("view", func(t *testing.T) {
		s.View(func(v View) {
			check(t, v)
			if v.Version() != s.version {
				t.Errorf("view version %d, store %d", v.Version(), s.version)
			}
		})
	})
}

// What a caller holds is never the stored object: changing it changes nothing stored.
func TestReadsAndWritesAreCopies(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	hm := tcpMonitor("hm")
	mustCreate(t, s, hm)
	if hm.UUID == "" || hm.URL != avi.KindHealthMonitor.URL(hm.UUID) || hm.LastModified == "" || hm.SendInterval != 10 {
		t.Errorf("created object not completed in place: %+v", hm)
	}
	hm.FailedChecks = 40
	got, _ := Get[*avi.HealthMonitor](s, hm.UUID)
	if got.FailedChecks != 2 {
		t.Errorf("changing the created object changed the stored one: failed_checks %d", got.FailedChecks)
	}
	got.FailedChecks = 41
	for name, read := range map[string]func() *avi.HealthMonitor{
		"Get":       func() *avi.HealthMonitor { o, _ := Get[*avi.HealthMonitor](s, hm.UUID); return o },
		"GetByName": func() *avi.HealthMonitor { o, _ := GetByName[*avi.HealthMonitor](s, "hm"); return o },
		"List":      func() *avi.HealthMonitor { return List[*avi.HealthMonitor](s)[0] },
		"Tx.Get": func() *avi.HealthMonitor {
			var o *avi.HealthMonitor
			s.Update(func(tx *Tx) error { o, _ = Get[*avi.HealthMonitor](tx, hm.UUID); return nil })
			return o
		},
	} {
		if o := read(); o.FailedChecks != 2 {
			t.Errorf("%s after changing a copy: failed_checks %d, want 2", name, o.FailedChecks)
		}
	}
}

// Reads in a transaction see its own writes, under the names they give.
func TestTransactionSeesItsOwnWrites(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	old, gone := tcpMonitor("old"), tcpMonitor("gone")
	mustCreate(t, s, old)
	mustCreate(t, s, gone)
	err := s.Update(func(tx *Tx) error {
		if err := tx.Create(tcpMonitor("new")); err != nil {
			return err
		}
		renamed := tcpMonitor("renamed")
		if err := tx.Put(old.UUID, renamed); err != nil {
			return err
		}
		// Renamed twice in one transaction: only the last name holds.
		if err := tx.Put(old.UUID, tcpMonitor("renamed-again")); err != nil {
			return err
		}
		if err := tx.Delete(avi.KindHealthMonitor, gone.UUID); err != nil {
			return err
		}
		for name, want := range map[string]bool{"new": true, "renamed-again": true, "renamed": false, "old": false, "gone": false} {
			_, ok := tx.ByName(avi.KindHealthMonitor, name)
			_, err := GetByName[*avi.HealthMonitor](tx, name)
			if ok != want || (err == nil) != want {
				t.Errorf("in the transaction, %q found: ByName %v, GetByName %v; want %v", name, ok, err, want)
			}
		}
		if _, err := Get[*avi.HealthMonitor](tx, gone.UUID); !errors.Is(err, ErrNotFound) {
			t.Errorf("a monitor deleted in the transaction: %v, want ErrNotFound", err)
		}
		var names []string
		for _, hm := range List[*avi.HealthMonitor](tx) {
			names = append(names, hm.Name)
		}
		if strings.Join(names, " ") != "new renamed-again" {
			t.Errorf("in the transaction: %v", names)
		}
		// Outside it, nothing has changed yet.
		if n := len(s.objs[avi.KindHealthMonitor]); n != 2 {
			t.Errorf("the store holds %d monitors before the commit, want 2", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"new": true, "renamed-again": true, "old": false, "gone": false} {
		if _, err := GetByName[*avi.HealthMonitor](s, name); (err == nil) != want {
			t.Errorf("after the commit, %q: %v, want found %v", name, err, want)
		}
	}
}

// The version grows by one per committed transaction, whatever it holds; a transaction that
// writes nothing, or fails, neither moves it nor signals a change.
func TestVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.db")
	s := open(t, path)
	for _, c := range []struct {
		name  string
		fn    func(tx *Tx) error
		moves bool
	}{
		{"three writes", func(tx *Tx) error {
			return errors.Join(tx.Create(tcpMonitor("a")), tx.Create(tcpMonitor("b")), tx.Create(tcpMonitor("c")))
		}, true},
		{"reads only", func(tx *Tx) error { tx.List(avi.KindHealthMonitor); return nil }, false},
		{"a write, then an error", func(tx *Tx) error {
			if err := tx.Create(tcpMonitor("d")); err != nil {
				return err
			}
			return errors.New("changed my mind")
		}, false},
		{"a delete", func(tx *Tx) error {
			id, _ := tx.ByName(avi.KindHealthMonitor, "a")
			return tx.Delete(avi.KindHealthMonitor, id)
		}, true},
	} {
		v, changed := s.Version(), s.Changed()
		s.Update(c.fn)
		signalled := false
		select {
		case <-changed:
			signalled = true
		default:
		}
		if moved := s.Version() != v; moved != c.moves || signalled != c.moves {
			t.Errorf("%s: version %d -> %d, change signalled %v; want moved and signalled %v", c.name, v, s.Version(), signalled, c.moves)
		}
		if c.moves && s.Version() != v+1 {
			t.Errorf("%s: version %d -> %d, want one step", c.name, v, s.Version())
		}
	}
	v := s.Version()
	s.Close()
	s2 := open(t, path)
	if s2.Version() != v {
		t.Errorf("version after reopening %d, want %d", s2.Version(), v)
	}
	if got, err := GetByName[*avi.HealthMonitor](s2, "b"); err != nil || got.URL != avi.KindHealthMonitor.URL(got.UUID) {
		t.Errorf("b after reopening: %+v %v", got, err)
	}
	if _, err := GetByName[*avi.HealthMonitor](s2, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted monitor after reopening: %v", err)
	}
}

// A write the file does not take is refused, and the store in memory does not move.
func TestAFailedCommitChangesNothing(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "config.db"))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, tcpMonitor("a"))
	v := s.Version()
	s.Close()
	if err := s.Create(tcpMonitor("b")); err == nil || !strings.Contains(err.Error(), "commit to store") {
		t.Errorf("a write to a closed file: %v, want a commit error", err)
	}
	if s.Version() != v || len(List[*avi.HealthMonitor](s)) != 1 {
		t.Errorf("after a failed commit: version %d (was %d), %d monitors", s.Version(), v, len(List[*avi.HealthMonitor](s)))
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "config.db")); err == nil {
		t.Error("opened a store in a directory that does not exist")
	}
	// An object the store cannot read is an error naming it, not a store without it.
	path := filepath.Join(t.TempDir(), "config.db")
	s := open(t, path)
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(avi.KindPool)).Put([]byte("pool-x"), []byte("{not json"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "pool pool-x") {
		t.Errorf("a store holding a broken pool: %v, want an error naming it", err)
	}
}

func TestCreateRules(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	taken := tcpMonitor("taken")
	mustCreate(t, s, taken)
	own := NewUUID(avi.KindHealthMonitor)
	for _, c := range []struct {
		name  string
		o     avi.Object
		field string // a field error naming it
		is    error
	}{
		{"a uuid the client chose", &avi.HealthMonitor{Meta: avi.Meta{Name: "own", UUID: own}, Type: avi.HealthMonitorTCP}, "", nil},
		{"a uuid that is not one", &avi.HealthMonitor{Meta: avi.Meta{Name: "x1", UUID: "x/y"}, Type: avi.HealthMonitorTCP}, "uuid", nil},
		{"another kind's uuid", &avi.HealthMonitor{Meta: avi.Meta{Name: "x2", UUID: NewUUID(avi.KindPool)}, Type: avi.HealthMonitorTCP}, "uuid", nil},
		{"a uuid in use", &avi.HealthMonitor{Meta: avi.Meta{Name: "x3", UUID: taken.UUID}, Type: avi.HealthMonitorTCP}, "", ErrConflict},
		{"a name in use", tcpMonitor("taken"), "", ErrConflict},
		{"an invalid object", &avi.HealthMonitor{Meta: avi.Meta{Name: "x4"}, Type: "BOGUS"}, "type", nil},
		{"a type of no kind", &stray{Meta: avi.Meta{Name: "x5"}}, "", avi.ErrUnknownKind},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := s.Version()
			err := s.Create(c.o)
			var fe *avi.FieldError
			switch {
			case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
				t.Errorf("%v, want a field error on %s", err, c.field)
			case c.is != nil && !errors.Is(err, c.is):
				t.Errorf("%v, want %v", err, c.is)
			case c.field == "" && c.is == nil && err != nil:
				t.Errorf("refused: %v", err)
			case err != nil && s.Version() != v:
				t.Errorf("a refused create moved the version")
			}
		})
	}
	if got, err := GetByName[*avi.HealthMonitor](s, "own"); err != nil || got.UUID != own {
		t.Errorf("the client's uuid not kept: %+v %v", got, err)
	}
	for _, o := range []avi.Object{&stray{Meta: avi.Meta{Name: "x"}}} {
		err := s.Update(func(tx *Tx) error { return errors.Join(tx.CreateOrReplace(o), tx.Put("x", o)) })
		if !errors.Is(err, avi.ErrUnknownKind) {
			t.Errorf("CreateOrReplace and Put of a type of no kind: %v", err)
		}
	}
}

func TestPutRules(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	a, b := tcpMonitor("a"), tcpMonitor("b")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	user := &avi.User{Username: "u1", Password: "Str0ng-Passw0rd"}
	mustCreate(t, s, user)
	mustCreate(t, s, &avi.User{Username: "u2", Password: "Str0ng-Passw0rd"})

	if err := s.Put("healthmonitor-nope", tcpMonitor("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Put of a missing uuid: %v, want ErrNotFound", err)
	}
	if err := s.Put(a.UUID, tcpMonitor("b")); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "name") {
		t.Errorf("renaming a onto b: %v, want a name conflict", err)
	}
	// A rename frees the old name; the uuid and url stay; _last_modified moves.
	lastModified := a.LastModified
	s.now = func() time.Time { return time.Now().Add(time.Hour) }
	renamed := tcpMonitor("a2")
	if err := s.Put(a.UUID, renamed); err != nil {
		t.Fatal(err)
	}
	if renamed.UUID != a.UUID || renamed.URL != a.URL || renamed.LastModified == lastModified {
		t.Errorf("after Put: %+v; want the uuid and url kept and _last_modified moved from %s", renamed.Meta, lastModified)
	}
	mustCreate(t, s, tcpMonitor("a"))
	// A field that must be unique within the kind (a user's username).
	u2, _ := GetByName[*avi.User](s, "u2")
	u2.Username = "u1"
	if err := s.Put(u2.UUID, u2); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "username") {
		t.Errorf("a second user named u1: %v, want a username conflict", err)
	}
	// Prepare sees the stored object: a user written without a password keeps the hash.
	hash := user.PasswordHash
	if err := s.Put(user.UUID, &avi.User{Username: "u1", IsSuperuser: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := Get[*avi.User](s, user.UUID); got.PasswordHash != hash || !got.IsSuperuser {
		t.Errorf("user after a Put without a password: %+v", got)
	}
}

func TestReferences(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	hm := tcpMonitor("hm")
	mustCreate(t, s, hm)
	mustCreate(t, s, &avi.Pool{Meta: avi.Meta{Name: "other"}})
	for _, c := range []struct {
		ref, reason string // reason: "" for accepted
	}{
		{hm.URL, ""},
		{avi.KindHealthMonitor.NameRef("hm"), ""},
		{"https://controller.example:8443" + hm.URL, ""},
		{"https://controller.example" + avi.KindHealthMonitor.NameRef("hm"), ""},
		{"hm", "want /api/healthmonitor/<uuid>, /api/healthmonitor?name=<name> or healthmonitor-<uuid>"},
		{"/api/healthmonitor", "want /api/healthmonitor/<uuid>"},
		{"/api/healthmonitor/", "want /api/healthmonitor/<uuid>"},
		{"/api/healthmonitor/a/b", "want /api/healthmonitor/<uuid>"},
		{"/api/healthmonitor?name=", "want /api/healthmonitor/<uuid>"},
		{"/api/%zz", "want /api/healthmonitor/<uuid>"},
		{avi.KindPool.NameRef("other"), "refers to a pool, want a healthmonitor"},
		{avi.KindHealthMonitor.NameRef("nope"), "no such healthmonitor"},
		{avi.KindHealthMonitor.URL(NewUUID(avi.KindHealthMonitor)), "no such healthmonitor"},
	} {
		p := &avi.Pool{Meta: avi.Meta{Name: "p"}, HealthMonitorRefs: []string{c.ref}}
		err := s.Update(func(tx *Tx) error {
			if err := tx.Create(p); err != nil {
				return err
			}
			return errors.New("roll back")
		})
		var fe *avi.FieldError
		switch {
		case c.reason == "" && err.Error() != "roll back":
			t.Errorf("reference %q refused: %v", c.ref, err)
		case c.reason == "" && p.HealthMonitorRefs[0] != hm.URL:
			t.Errorf("reference %q stored as %q, want %q", c.ref, p.HealthMonitorRefs[0], hm.URL)
		case c.reason != "" && (!errors.As(err, &fe) || fe.Field != "health_monitor_refs[0]" || !strings.Contains(fe.Reason, c.reason)):
			t.Errorf("reference %q: %v; want a field error on health_monitor_refs[0] saying %q", c.ref, err, c.reason)
		}
	}
}

// An object is deleted only once nothing refers to it; in one transaction the referrers may go
// first.
func TestDeleteAndReferrers(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	hm := tcpMonitor("hm")
	mustCreate(t, s, hm)
	p1 := &avi.Pool{Meta: avi.Meta{Name: "p1"}, HealthMonitorRefs: []string{hm.URL}}
	p2 := &avi.Pool{Meta: avi.Meta{Name: "p2"}, HealthMonitorRefs: []string{hm.URL, hm.URL}}
	mustCreate(t, s, p2)
	mustCreate(t, s, p1)
	s.Update(func(tx *Tx) error {
		if got := strings.Join(tx.Referrers(avi.KindHealthMonitor, hm.UUID), ", "); got != "pool p1, pool p2" {
			t.Errorf("referrers %q, want each pool once, by name", got)
		}
		return nil
	})
	err := s.Delete(avi.KindHealthMonitor, hm.UUID)
	if !errors.Is(err, ErrReferenced) || !strings.Contains(err.Error(), "pool p1, pool p2") {
		t.Errorf("delete of a referenced monitor: %v", err)
	}
	if err := s.Delete(avi.KindHealthMonitor, "healthmonitor-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete of a missing monitor: %v, want ErrNotFound", err)
	}
	err = s.Update(func(tx *Tx) error {
		return errors.Join(tx.Delete(avi.KindPool, p1.UUID), tx.Delete(avi.KindPool, p2.UUID), tx.Delete(avi.KindHealthMonitor, hm.UUID))
	})
	if err != nil {
		t.Errorf("deleting the referrers and the monitor together: %v", err)
	}
	if n := len(List[*avi.HealthMonitor](s)) + len(List[*avi.Pool](s)); n != 0 {
		t.Errorf("%d objects left", n)
	}
}

func TestUUIDs(t *testing.T) {
	for _, k := range avi.Kinds {
		id := NewUUID(k.Kind)
		if !uuidRE.MatchString(id) || !strings.HasPrefix(id, string(k.Kind)+"-") || id == NewUUID(k.Kind) {
			t.Errorf("NewUUID(%s) = %q", k.Kind, id)
		}
		if got := avi.UUIDOf(k.Kind.URL(id)); got != id {
			t.Errorf("avi.UUIDOf(%s) = %q", k.Kind.URL(id), got)
		}
	}
}

// TestChanges: a transaction lists what it staged with what each replaced; an object created and
// deleted within it is no change.
func TestChanges(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	a := &avi.Pool{Meta: avi.Meta{Name: "a"}}
	b := &avi.Pool{Meta: avi.Meta{Name: "b"}}
	for _, p := range []*avi.Pool{a, b} {
		if err := s.Create(p); err != nil {
			t.Fatal(err)
		}
	}
	var got []Change
	err := s.Update(func(tx *Tx) error {
		if err := tx.Put(a.UUID, &avi.Pool{Meta: avi.Meta{Name: "a"}, DefaultServerPort: 8080}); err != nil {
			return err
		}
		if err := tx.Delete(avi.KindPool, b.UUID); err != nil {
			return err
		}
		c := &avi.Pool{Meta: avi.Meta{Name: "c"}}
		if err := tx.Create(c); err != nil {
			return err
		}
		tmp := &avi.Pool{Meta: avi.Meta{Name: "tmp"}}
		if err := tx.Create(tmp); err != nil {
			return err
		}
		if err := tx.Delete(avi.KindPool, tmp.UUID); err != nil {
			return err
		}
		got = tx.Changes()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Change{}
	for _, c := range got {
		o := c.New
		if o == nil {
			o = c.Old
		}
		byName[o.GetMeta().Name] = c
	}
	if len(got) != 3 {
		t.Fatalf("%d changes, want 3: %+v", len(got), got)
	}
	if c := byName["a"]; c.Old.(*avi.Pool).DefaultServerPort == 8080 || c.New.(*avi.Pool).DefaultServerPort != 8080 {
		t.Errorf("a: %+v", c)
	}
	if c := byName["b"]; c.Old == nil || c.New != nil {
		t.Errorf("b: %+v", c)
	}
	if c := byName["c"]; c.Old != nil || c.New == nil {
		t.Errorf("c: %+v", c)
	}
}

// References as Avi's clients write them: a bare uuid, a full URL with #name, and a trailing
// slash before ?name=; each lands on /api/<kind>/<uuid>.
func TestReferenceForms(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	hm := &avi.HealthMonitor{Meta: avi.Meta{Name: "hm"}, Type: avi.HealthMonitorTCP}
	if err := s.Create(hm); err != nil {
		t.Fatal(err)
	}
	for i, ref := range []string{hm.UUID, "https://controller.example/api/healthmonitor/" + hm.UUID + "#hm", "/api/healthmonitor/?name=hm", "https://10.0.0.1/api/healthmonitor?name=hm"} {
		pool := &avi.Pool{Meta: avi.Meta{Name: fmt.Sprint("pool", i)}, HealthMonitorRefs: []string{ref}}
		if err := s.Create(pool); err != nil {
			t.Errorf("reference %q: %v", ref, err)
			continue
		}
		if got := pool.HealthMonitorRefs[0]; got != hm.URL {
			t.Errorf("reference %q resolved to %q; want %q", ref, got, hm.URL)
		}
	}
	bad := &avi.Pool{Meta: avi.Meta{Name: "bad"}, HealthMonitorRefs: []string{strings.Replace(hm.UUID, "healthmonitor", "pool", 1)}}
	if err := s.Create(bad); err == nil || !strings.Contains(err.Error(), "want a healthmonitor") {
		t.Errorf("a bare uuid of another kind: %v; want it refused naming the kind wanted", err)
	}
}
