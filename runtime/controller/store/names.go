package store

import "github.com/avi-init/avi-init/model/avi"

// Names are unique per kind and, for tenant-scoped kinds, per tenant, as Avi's: the name index
// is keyed by nameKey. The admin tenant's key is empty, as is that of an object stored before
// tenants existed (no tenant_ref), which is admin's.

// nameKey is the key of a name in a tenant (a tenant URL, or "" for admin and controller-wide
// objects).
func nameKey(tenant, name string) string { return tenant + "\x00" + name }

// keyOf is the name key of an object of a kind, admin being the admin tenant's URL. The name of
// a scoped object (avi.Scoped) is keyed within its scope.
func keyOf(kind avi.Kind, o avi.Object, admin string) string {
	name := o.GetMeta().Name
	if s, ok := o.(avi.Scoped); ok {
		name = scopedName(s.NameScope(), name)
	}
	return nameKey(tenantKey(kind, o, admin), name)
}

// scopedName is a name within a scope, as the name index keys it.
func scopedName(scope, name string) string { return scope + "\x00" + name }

// ByNameInScope returns the uuid of the scoped object of that kind, scope (the URL of the object
// holding it) and name.
func (tx *Tx) ByNameInScope(kind avi.Kind, scope, name string) (string, bool) {
	return tx.byKey(kind, nameKey("", scopedName(scope, name)))
}

// tenantKey is the tenant part of an object's name key.
func tenantKey(kind avi.Kind, o avi.Object, admin string) string {
	k, ok := kind.Info()
	if !ok || !k.Tenanted() {
		return ""
	}
	if t, ok := o.(avi.Tenanted); ok && *t.Tenant() != admin {
		return *t.Tenant()
	}
	return ""
}

// adminURL is the URL of the admin tenant, or "" before it exists.
func (s *Store) adminURL() string {
	if id, ok := s.names[avi.KindTenant][nameKey("", avi.AdminTenant)]; ok {
		return avi.KindTenant.URL(id)
	}
	return ""
}

// adminURL is the URL of the admin tenant as the transaction sees it.
func (tx *Tx) adminURL() string {
	if id, ok := tx.byKey(avi.KindTenant, nameKey("", avi.AdminTenant)); ok {
		return avi.KindTenant.URL(id)
	}
	return ""
}

// ByNameIn returns the uuid of the object of that kind and name in a tenant (its URL; "" for
// admin). A controller-wide kind has no tenants: tenant is ignored.
func (tx *Tx) ByNameIn(kind avi.Kind, tenant, name string) (string, bool) {
	if k, ok := kind.Info(); !ok || !k.Tenanted() || tenant == tx.adminURL() {
		tenant = ""
	}
	return tx.byKey(kind, nameKey(tenant, name))
}

// ByNameOf returns the uuid of the stored object that has o's kind, tenant and name.
func (tx *Tx) ByNameOf(o avi.Object) (string, bool) {
	kind, ok := avi.KindOf(o)
	if !ok {
		return "", false
	}
	return tx.byKey(kind, keyOf(kind, o, tx.adminURL()))
}

// byKey returns the uuid of the object of that kind and name key.
func (tx *Tx) byKey(kind avi.Kind, key string) (string, bool) {
	if id, ok := tx.stagedNames[kind][key]; ok {
		return id, true
	}
	id, ok := tx.s.names[kind][key]
	if !ok {
		return "", false
	}
	if _, staged := tx.staged[kind][id]; staged {
		return "", false // renamed or deleted in this transaction
	}
	return id, true
}
