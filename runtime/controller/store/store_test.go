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
	hm, err := s.Create("healthmonitor", &avi.HealthMonitor{Meta: avi.Meta{Name: "hm"}, Type: avi.HealthMonitorTCP})
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != v0+1 {
		t.Errorf("version %d after one write from %d", s.Version(), v0)
	}
	pool, err := s.Create("pool", &avi.Pool{Meta: avi.Meta{Name: "web"}, HealthMonitorRefs: []string{"/api/healthmonitor?name=hm"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := pool.(*avi.Pool).HealthMonitorRefs[0]; got != hm.GetMeta().URL {
		t.Errorf("name reference stored as %q, want %q", got, hm.GetMeta().URL)
	}
	if _, err := s.Create("pool", &avi.Pool{Meta: avi.Meta{Name: "web"}}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate name: %v, want ErrConflict", err)
	}
	_, err = s.Create("pool", &avi.Pool{Meta: avi.Meta{Name: "p2"}, HealthMonitorRefs: []string{"/api/healthmonitor?name=nope"}})
	var fe *avi.FieldError
	if !errors.As(err, &fe) || fe.Field != "health_monitor_refs[0]" {
		t.Errorf("dangling reference: %v, want a field error on health_monitor_refs[0]", err)
	}
	if err := s.Delete("healthmonitor", hm.GetMeta().UUID); !errors.Is(err, ErrReferenced) {
		t.Errorf("delete of a referenced monitor: %v, want ErrReferenced", err)
	}
	v := s.Version()
	s.Close()

	s2 := open(t, path)
	if s2.Version() != v {
		t.Errorf("version after reopen %d, want %d", s2.Version(), v)
	}
	got, err := s2.Get("pool", pool.GetMeta().UUID)
	if err != nil || got.(*avi.Pool).LBAlgorithm != avi.LBLeastConnections {
		t.Errorf("pool after reopen: %v %+v", err, got)
	}
	if err := s2.Delete("pool", pool.GetMeta().UUID); err != nil {
		t.Fatal(err)
	}
	if err := s2.Delete("healthmonitor", hm.GetMeta().UUID); err != nil {
		t.Errorf("delete after its referrer is gone: %v", err)
	}
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	v := s.Version()
	changed := s.Changed()
	err := s.Update(func(tx *Tx) error {
		if _, err := tx.Create("healthmonitor", &avi.HealthMonitor{Meta: avi.Meta{Name: "a"}, Type: avi.HealthMonitorTCP}); err != nil {
			return err
		}
		// The second write fails: the first must not be stored either.
		_, err := tx.Create("healthmonitor", &avi.HealthMonitor{Meta: avi.Meta{Name: "b"}, Type: "BOGUS"})
		return err
	})
	if err == nil {
		t.Fatal("invalid write accepted")
	}
	if len(s.List("healthmonitor")) != 0 || s.Version() != v {
		t.Errorf("failed transaction left %d objects, version %d", len(s.List("healthmonitor")), s.Version())
	}
	select {
	case <-changed:
		t.Error("failed transaction signalled a change")
	default:
	}
	if _, err := s.Create("healthmonitor", &avi.HealthMonitor{Meta: avi.Meta{Name: "a"}, Type: avi.HealthMonitorTCP}); err != nil {
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
	if _, err := s.Create("systemconfiguration", &avi.SystemConfiguration{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create("systemconfiguration", &avi.SystemConfiguration{}); !errors.Is(err, ErrConflict) {
		t.Errorf("second systemconfiguration: %v, want ErrConflict", err)
	}
	prof, err := s.Create("applicationprofile", &avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{prof.GetMeta().URL, "https://192.0.2.1" + prof.GetMeta().URL, "/api/applicationprofile?name=System-HTTP", ""} {
		vs, err := s.Create("virtualservice", &avi.VirtualService{Meta: avi.Meta{Name: "vs" + ref}, Services: []avi.Service{{Port: 80}}, ApplicationProfileRef: ref})
		if err != nil {
			t.Errorf("reference %q: %v", ref, err)
			continue
		}
		if got := vs.(*avi.VirtualService).ApplicationProfileRef; got != prof.GetMeta().URL {
			t.Errorf("reference %q stored as %q", ref, got)
		}
	}
	_, err = s.Create("virtualservice", &avi.VirtualService{Meta: avi.Meta{Name: "bad"}, Services: []avi.Service{{Port: 80}}, PoolRef: prof.GetMeta().URL})
	var fe *avi.FieldError
	if !errors.As(err, &fe) || fe.Field != "pool_ref" {
		t.Errorf("a pool_ref naming a profile: %v", err)
	}
}

func TestCreateOrReplaceByName(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "config.db"))
	put := func(failed int) avi.Object {
		t.Helper()
		var out avi.Object
		err := s.Update(func(tx *Tx) error {
			var err error
			out, err = tx.CreateOrReplace("healthmonitor", &avi.HealthMonitor{Meta: avi.Meta{Name: "hm"}, Type: avi.HealthMonitorTCP, FailedChecks: failed})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := put(3)
	second := put(5)
	if first.GetMeta().UUID != second.GetMeta().UUID {
		t.Errorf("the second write by name made %s beside %s, want it replaced", second.GetMeta().UUID, first.GetMeta().UUID)
	}
	list := s.List("healthmonitor")
	if len(list) != 1 || list[0].(*avi.HealthMonitor).FailedChecks != 5 {
		t.Errorf("health monitors after two writes by name: %+v, want one with failed_checks 5", list)
	}
}
