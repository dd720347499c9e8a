package store

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
)

// TestNamesPerTenant: names are unique per tenant for tenant-scoped kinds, as Avi's; a name
// reference is looked up in the referring object's tenant, then, for a shared kind, in admin;
// admin's key is the same whether tenant_ref is empty (stored before tenants) or names admin.
func TestNamesPerTenant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.db")
	s := open(t, path)
	// A pool stored before tenants existed, then the tenants.
	if err := s.Create(&avi.Pool{Meta: avi.Meta{Name: "legacy"}}); err != nil {
		t.Fatal(err)
	}
	admin, t1 := &avi.Tenant{Meta: avi.Meta{Name: avi.AdminTenant}}, &avi.Tenant{Meta: avi.Meta{Name: "t1"}}
	for _, tn := range []*avi.Tenant{admin, t1} {
		if err := s.Create(tn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: "shared"}, Type: avi.HealthMonitorTCP, TenantRef: admin.URL}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(&avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP}); err != nil {
		t.Fatal(err)
	}
	web0 := &avi.Pool{Meta: avi.Meta{Name: "web"}, TenantRef: admin.URL}
	web1 := &avi.Pool{Meta: avi.Meta{Name: "web"}, TenantRef: avi.KindTenant.NameRef("t1"), HealthMonitorRefs: []string{avi.KindHealthMonitor.NameRef("shared")}}
	for _, p := range []*avi.Pool{web0, web1} {
		if err := s.Create(p); err != nil {
			t.Fatalf("pool web in %s: %v", p.TenantRef, err)
		}
	}
	if web1.TenantRef != t1.URL || web1.HealthMonitorRefs[0] == avi.KindHealthMonitor.NameRef("shared") {
		t.Errorf("t1's pool: tenant %q, monitor %q", web1.TenantRef, web1.HealthMonitorRefs[0])
	}
	for _, dup := range []*avi.Pool{
		{Meta: avi.Meta{Name: "web"}, TenantRef: t1.URL},
		{Meta: avi.Meta{Name: "web"}},                          // no tenant_ref: admin's
		{Meta: avi.Meta{Name: "legacy"}, TenantRef: admin.URL}, // admin's, as the legacy one
	} {
		if err := s.Create(dup); !errors.Is(err, ErrConflict) {
			t.Errorf("pool %s in %q again: %v, want ErrConflict", dup.Name, dup.TenantRef, err)
		}
	}
	// A virtual service of t1 naming pool web gets t1's; admin's gets admin's.
	vs1 := &avi.VirtualService{Meta: avi.Meta{Name: "vs"}, TenantRef: t1.URL, Services: []avi.Service{{Port: 80}}, PoolRef: avi.KindPool.NameRef("web")}
	vs0 := &avi.VirtualService{Meta: avi.Meta{Name: "vs"}, Services: []avi.Service{{Port: 81}}, PoolRef: avi.KindPool.NameRef("web")}
	for _, v := range []*avi.VirtualService{vs1, vs0} {
		if err := s.Create(v); err != nil {
			t.Fatal(err)
		}
	}
	if vs1.PoolRef != web1.URL || vs0.PoolRef != web0.URL {
		t.Errorf("pool_ref of t1's vs %q (want %q), of admin's %q (want %q)", vs1.PoolRef, web1.URL, vs0.PoolRef, web0.URL)
	}
	// Pools are not shared: a name only admin has is no pool in t1.
	err := s.Create(&avi.VirtualService{Meta: avi.Meta{Name: "vs2"}, TenantRef: t1.URL, Services: []avi.Service{{Port: 81}}, PoolRef: avi.KindPool.NameRef("legacy")})
	var fe *avi.FieldError
	if !errors.As(err, &fe) || fe.Field != "pool_ref" {
		t.Errorf("t1 naming admin's pool: %v, want a field error on pool_ref", err)
	}
	check := func(s *Store) {
		t.Helper()
		if p, err := GetByName[*avi.Pool](s, "web"); err != nil || p.UUID != web0.UUID {
			t.Errorf("GetByName(web) = %v, %v; want admin's", p, err)
		}
		s.Update(func(tx *Tx) error {
			if id, ok := tx.ByNameIn(avi.KindPool, t1.URL, "web"); !ok || id != web1.UUID {
				t.Errorf("t1's web: %q %v", id, ok)
			}
			if id, ok := tx.ByNameIn(avi.KindPool, admin.URL, "legacy"); !ok || id == "" {
				t.Errorf("admin's legacy pool not found by the admin tenant's URL")
			}
			return nil
		})
	}
	check(s)
	// Renaming in one tenant frees the name there only.
	web1.Name = "web-1"
	if err := s.Put(web1.UUID, web1); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(&avi.Pool{Meta: avi.Meta{Name: "web"}, TenantRef: t1.URL}); err != nil {
		t.Errorf("web in t1 after the rename: %v", err)
	}
	s.Close()
	s2 := open(t, path)
	if err := s2.Create(&avi.Pool{Meta: avi.Meta{Name: "web-1"}, TenantRef: t1.URL}); !errors.Is(err, ErrConflict) {
		t.Errorf("after reopen, web-1 in t1 again: %v, want ErrConflict", err)
	}
	if p, err := GetByName[*avi.Pool](s2, "web"); err != nil || p.UUID != web0.UUID {
		t.Errorf("after reopen, GetByName(web) = %v, %v; want admin's", p, err)
	}
}
