package store

import (
	"errors"
	"path/filepath"
	"testing"

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
	for _, ref := range []string{prof.URL, "https://192.0.2.1" + prof.URL, "/api/applicationprofile?name=System-HTTP", ""} {
		vs := &avi.VirtualService{Meta: avi.Meta{Name: "vs" + ref}, Services: []avi.Service{{Port: 80}}, ApplicationProfileRef: ref}
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
