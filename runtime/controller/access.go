package controller

import (
	"crypto/cipher"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/audit"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Authorization, as Avi's: a user holds roles in tenants (or in all of them); a role grants
// NO_ACCESS, READ_ACCESS or WRITE_ACCESS per resource; a superuser holds everything. Every API
// route names its resource; authorize resolves who asks, in which tenant, and lets the request
// through only with the access its method needs (read for GET, write otherwise).

// tenantHeader picks the tenant a request works in, by name; tenantUUIDHeader by uuid, as
// Avi's SDKs may send it instead.
const (
	tenantHeader     = "X-Avi-Tenant"
	tenantUUIDHeader = "X-Avi-Tenant-UUID"
)

// byKind is the resource of the routes whose {kind} path value names the kind, and with it the
// resource (the kind's Permission).
const byKind = "{kind}"

// public is the resource of the routes that need no user, as Avi's: their handlers get no
// principal.
const public = "public"

// loginOnly is the resource of the routes every user may use on their own account, but not with
// an API token: minting tokens and changing the password need the password's authority.
const loginOnly = "login only"

// handler is an API handler that runs once its request is authorized.
type handler func(w http.ResponseWriter, r *http.Request, p *principal)

// route is one authorized API route.
type route struct {
	pattern  string
	resource string // avi.Perm*, avi.PermissionExempt, loginOnly or byKind
	handler  handler
	// action is what the audit log records the route's requests as; empty: by the change each
	// made (create, update, delete), and only for the methods that change.
	action string
}

// apiRoutes are the API routes past the setup, each with its resource.
func (s *Server) apiRoutes() []route {
	return []route{
		// The script carries only a public key; hosts fetch it with curl.
		{"GET /api/linux_host_install", public, s.linuxHostInstall, ""},
		{"POST /api/jointoken", avi.PermSEToken, s.createJoinToken, audit.ActionToken},
		{"GET /api/jointoken", avi.PermSEToken, s.listJoinTokens, ""},
		{"DELETE /api/jointoken/{id}", avi.PermSEToken, s.revokeJoinToken, ""},
		{"POST /api/user-token", loginOnly, s.createUserToken, audit.ActionToken},
		{"GET /api/user-token", avi.PermissionExempt, s.listUserTokens, ""},
		{"DELETE /api/user-token/{uuid}", avi.PermissionExempt, s.revokeUserToken, ""},
		{"GET /api/auditlog", avi.PermAuditLog, s.auditLog, ""},
		{"GET /api/analytics/metrics/{kind}/{uuid}", byKind, s.metricsSeries, ""},
		{"GET /api/analytics/logs/virtualservice/{uuid}", avi.PermVirtualService, s.clientLogs, ""},
		{"GET /api/virtualservice-inventory", avi.PermVirtualService, s.inventory, ""},
		{"GET /api/cloud/{uuid}/runtime", avi.PermCloud, s.cloudRuntime, ""},
		{"GET /api/virtualservice/{uuid}/runtime", avi.PermVirtualService, s.vsRuntimeHandler, ""},
		{"GET /api/pool/{uuid}/runtime/server", avi.PermPool, s.poolServersHandler, ""},
		{"GET /api/serviceengine/{uuid}/runtime", avi.PermServiceEngine, s.seRuntimeHandler, ""},
		{"GET /metrics", avi.PermController, s.prometheus, ""},
		{"GET /api/cluster", avi.PermController, s.getCluster, ""},
		{"PUT /api/cluster", avi.PermController, s.putCluster, ""},
		{"PUT /api/cluster/{uuid}", avi.PermController, s.putCluster, ""},
		{"GET /api/cluster/runtime", avi.PermController, s.clusterRuntimeHandler, ""},
		{"GET /api/cluster/version", avi.PermissionExempt, s.clusterVersion, ""},
		{"GET /api/cluster/status", avi.PermController, s.clusterRuntimeHandler, ""},
		{"POST /api/cluster/jointoken", avi.PermController, s.clusterJoinToken, audit.ActionToken},
		{"POST /api/configuration/export", avi.PermController, s.exportConfig, audit.ActionExport},
		{"POST /api/configuration/import", avi.PermController, s.importConfig, audit.ActionImport},
		{"PUT /api/useraccount", loginOnly, s.changePassword, ""},
		{"GET /api/useraccount", avi.PermissionExempt, s.whoami, ""},
		{"GET /api/{kind}", byKind, s.list, ""},
		{"POST /api/{kind}", byKind, s.create, ""},
		{"PUT /api/{kind}", byKind, s.onSingleton(s.put), ""},
		{"PATCH /api/{kind}", byKind, s.onSingleton(s.patch), ""},
		{"GET /api/{kind}/{uuid}", byKind, s.get, ""},
		{"PUT /api/{kind}/{uuid}", byKind, s.put, ""},
		{"PATCH /api/{kind}/{uuid}", byKind, s.patch, ""},
		{"DELETE /api/{kind}/{uuid}", byKind, s.remove, ""},
	}
}

// principal is who a request acts as: a user, the tenant the request works in, the roles the
// user holds where, and the API token the request came with, which caps them.
type principal struct {
	user      *avi.User
	superuser bool
	tenant    string // URL of the request's tenant
	admin     string // URL of the admin tenant
	grants    []grant
	names     map[string]string // tenant URL: name, for messages
	token     *avi.AuthToken    // nil: a session or basic auth
	tokenRole *avi.Role         // the role a token's scope names
	// changes are what the request's writes committed, for the audit log.
	changes []store.Change
}

// grant is a role held in one tenant ("" for all tenants).
type grant struct {
	tenant string
	role   *avi.Role
}

// access is the access p holds to a resource in a tenant (a URL).
func (p *principal) access(resource, tenant string) string {
	if p.superuser {
		return avi.WriteAccess
	}
	best := avi.NoAccess
	for _, g := range p.grants {
		if (g.tenant == "" || g.tenant == tenant) && avi.AccessRank(g.role.Access(resource)) > avi.AccessRank(best) {
			best = g.role.Access(resource)
		}
	}
	return p.capped(resource, best)
}

// everywhere is the access p holds to a resource in every tenant, present and future.
func (p *principal) everywhere(resource string) string {
	if p.superuser {
		return avi.WriteAccess
	}
	best := avi.NoAccess
	for _, g := range p.grants {
		if g.tenant == "" && avi.AccessRank(g.role.Access(resource)) > avi.AccessRank(best) {
			best = g.role.Access(resource)
		}
	}
	return p.capped(resource, best)
}

// capped is what an API token's scope leaves of the access its owner holds.
func (p *principal) capped(resource, have string) string {
	if p.token == nil {
		return have
	}
	return p.token.Cap(resource, have, p.tokenRole)
}

// can reports whether p holds at least the access want to a resource in a tenant.
func (p *principal) can(resource, tenant, want string) bool {
	return avi.AccessRank(p.access(resource, tenant)) >= avi.AccessRank(want)
}

// member reports whether p holds any role in a tenant.
func (p *principal) member(tenant string) bool {
	return p.superuser || slices.ContainsFunc(p.grants, func(g grant) bool { return g.tenant == "" || g.tenant == tenant })
}

// scope is the tenant p's privileges on a resource are taken from: the request's for a
// tenant-scoped resource, the admin tenant for a controller-wide one.
func (p *principal) scope(resource string) string {
	if r, ok := avi.LookupResource(resource); ok && r.Tenanted {
		return p.tenant
	}
	return p.admin
}

func (p *principal) tenantName(url string) string {
	if n, ok := p.names[url]; ok {
		return n
	}
	return url
}

// forbidden is a refusal for lack of access: 403.
type forbidden struct{ msg string }

func (e *forbidden) Error() string { return e.msg }

func forbid(format string, args ...any) error { return &forbidden{msg: fmt.Sprintf(format, args...)} }

// wantAccess is the access a request's method needs.
func wantAccess(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return avi.ReadAccess
	}
	return avi.WriteAccess
}

// authorize lets a request through once the setup is complete, its sender is authenticated,
// and the sender holds the access its method needs to the route's resource.
func (s *Server) authorize(resource, action string, h handler) http.Handler {
	if resource == public {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, nil) })
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.setupComplete() {
			writeError(w, http.StatusForbidden, "the controller is not set up yet: complete the setup wizard at https://"+r.Host+"/")
			return
		}
		uuid, tok, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		res := resource
		if res == byKind {
			k, ok := kindOf(w, r)
			if !ok {
				return
			}
			res = k.Permission
		}
		p, err := s.principal(uuid, tok, r.Header.Get(tenantHeader), r.Header.Get(tenantUUIDHeader))
		switch {
		case err != nil:
		case res == loginOnly && tok != nil:
			err = forbid("an API token cannot do this: log in with your password")
		case res != avi.PermissionExempt && res != loginOnly:
			err = p.check(res, wantAccess(r))
		}
		if err != nil {
			if p != nil {
				s.audited(w, r, p, action, func(w http.ResponseWriter) { storeError(w, err) })
			} else {
				storeError(w, err)
			}
			return
		}
		if (writes(r) || fromSEs(r) && !local(r)) && !s.node.IsLeader() {
			// The leader makes every change (and audits it) for the user checked here, and
			// holds what the SEs report.
			tokUUID := ""
			if tok != nil {
				tokUUID = tok.UUID
			}
			s.toLeader(w, r, uuid, tokUUID)
			return
		}
		s.audited(w, r, p, action, func(w http.ResponseWriter) { h(w, r, p) })
	})
}

// check refuses unless p holds want to resource where it applies: in the request's tenant for a
// tenant-scoped resource, in admin for a controller-wide one.
func (p *principal) check(resource, want string) error {
	scope := p.scope(resource)
	have := p.access(resource, scope)
	switch {
	case avi.AccessRank(have) >= avi.AccessRank(want):
		return nil
	case !p.member(scope):
		return forbid("%s: %s needed in tenant %q (%s), where you hold no role", resource, want, p.tenantName(scope), tenantHeader)
	}
	return forbid("%s: %s needed in tenant %q; you have %s", resource, want, p.tenantName(scope), have)
}

// principal resolves the user with that uuid, the API token the request came with (nil: none)
// and the tenant a request names (by name, else by uuid; neither: the user's default tenant, else
// admin). A tenant that does not exist is the client's error (400), as on Avi.
func (s *Server) principal(uuid string, tok *avi.AuthToken, tenantName, tenantUUID string) (*principal, error) {
	u, err := store.Get[*avi.User](s.store, uuid)
	if err != nil {
		return nil, &unauthenticated{"your account no longer exists: log in again"}
	}
	p := &principal{user: u, superuser: u.IsSuperuser, names: map[string]string{}, token: tok}
	for _, t := range store.List[*avi.Tenant](s.store) {
		p.names[t.URL] = t.Name
		if t.Name == avi.AdminTenant {
			p.admin = t.URL
		}
	}
	for _, a := range u.Access {
		if role, err := store.Get[*avi.Role](s.store, avi.UUIDOf(a.RoleRef)); err == nil {
			p.grants = append(p.grants, grant{tenant: a.TenantRef, role: role})
		}
	}
	if tok != nil && (tok.ReadOnly || tok.RoleRef != "") {
		if tok.RoleRef != "" {
			if p.tokenRole, err = store.Get[*avi.Role](s.store, avi.UUIDOf(tok.RoleRef)); err != nil {
				return nil, &unauthenticated{"the API token's role no longer exists"}
			}
		}
		// A scoped token of a superuser is no superuser: it holds every privilege everywhere, as
		// grants its scope caps.
		if p.superuser {
			p.superuser = false
			p.grants = []grant{{role: avi.AllAccessRole()}}
		}
	}
	switch {
	case tenantName != "":
		t, err := store.GetByName[*avi.Tenant](s.store, tenantName)
		if err != nil {
			return nil, &avi.FieldError{Field: tenantHeader, Reason: fmt.Sprintf("no tenant is named %q (GET /api/tenant lists those you may use)", tenantName)}
		}
		p.tenant = t.URL
	case tenantUUID != "":
		t, err := store.Get[*avi.Tenant](s.store, tenantUUID)
		if err != nil {
			return nil, &avi.FieldError{Field: tenantUUIDHeader, Reason: fmt.Sprintf("no tenant has uuid %q (GET /api/tenant lists those you may use)", tenantUUID)}
		}
		p.tenant = t.URL
	case u.DefaultTenantRef != "":
		p.tenant = u.DefaultTenantRef
	default:
		p.tenant = p.admin
	}
	return p, nil
}

// unauthenticated is a credential that no longer names a user: 401.
type unauthenticated struct{ msg string }

func (e *unauthenticated) Error() string { return e.msg }

// tenantOf is the tenant an object belongs to: its tenant_ref, or admin for controller-wide
// objects and for objects stored before tenants existed.
func (p *principal) tenantOf(o avi.Object) string {
	if t, ok := o.(avi.Tenanted); ok && *t.Tenant() != "" {
		return *t.Tenant()
	}
	return p.admin
}

// visible reports whether p sees an object of kind k in the request's tenant: a controller-wide
// object always (the route checked the privilege), a tenant-scoped one in its tenant, and the
// admin tenant's objects of shared kinds everywhere.
func (p *principal) visible(k avi.KindInfo, o avi.Object) bool {
	if !k.Tenanted() {
		return true
	}
	t := p.tenantOf(o)
	return t == p.tenant || k.Shared && t == p.admin
}

// readable reports whether p may read an object wherever it is (an export covers every tenant).
func (p *principal) readable(k avi.KindInfo, o avi.Object) bool {
	t := p.admin
	if k.Tenanted() {
		t = p.tenantOf(o)
	}
	return p.can(k.Permission, t, avi.ReadAccess)
}

// lookup returns the object of kind k with that uuid that p sees; one p does not see is not
// found, as one that does not exist.
func (s *Server) lookup(p *principal, k avi.KindInfo, uuid string) (avi.Object, error) {
	o, err := s.store.Get(k.Kind, uuid)
	if err != nil {
		return nil, err
	}
	if !p.visible(k, o) {
		return nil, fmt.Errorf("%s %s: %w", k.Kind, uuid, store.ErrNotFound)
	}
	return o, nil
}

// changeable refuses the change or removal of a stored object p may not change: one of another
// tenant (not found), an admin object shared into the request's tenant, a user who holds more
// than p, a role that grants more than p holds everywhere.
func (s *Server) changeable(tx *store.Tx, p *principal, k avi.KindInfo, old avi.Object) error {
	if !p.visible(k, old) {
		return fmt.Errorf("%s %s: %w", k.Kind, old.GetMeta().UUID, store.ErrNotFound)
	}
	if k.Tenanted() && p.tenantOf(old) != p.tenant {
		return forbid("%s %q is shared from tenant %q: change it there", k.Kind, old.GetMeta().Name, p.tenantName(p.tenantOf(old)))
	}
	return s.mayChangeGrants(tx, p, old)
}

// mayChangeGrants refuses the change of a user who holds more than p, or of a role that grants
// more than p holds everywhere.
func (s *Server) mayChangeGrants(tx *store.Tx, p *principal, old avi.Object) error {
	switch o := old.(type) {
	case *avi.User:
		if o.IsSuperuser && !p.superuser {
			return forbid("is_superuser: %s is a superuser; only a superuser may change or delete that account", o.Username)
		}
		if o.UUID != p.user.UUID {
			if err := s.holds(tx, p, o.Access); err != nil {
				return forbid("access: you may change only users whose access you hold yourself (%v)", err)
			}
		}
	case *avi.Role:
		return p.holdsRole(o)
	}
	return nil
}

// holds refuses access grants that give more than p holds: each role's privileges in its
// tenant, or in every tenant for all_tenants.
func (s *Server) holds(tx *store.Tx, p *principal, access []avi.UserRole) error {
	if p.superuser {
		return nil
	}
	for i, a := range access {
		role, err := store.Get[*avi.Role](tx, avi.UUIDOf(a.RoleRef))
		if err != nil {
			return &avi.FieldError{Field: fmt.Sprintf("access[%d].role_ref", i), Reason: "no such role"}
		}
		for _, pr := range role.Privileges {
			have, where := p.everywhere(pr.Resource), "every tenant"
			if !a.AllTenants {
				have, where = p.access(pr.Resource, a.TenantRef), "tenant "+p.tenantName(a.TenantRef)
			}
			if avi.AccessRank(have) < avi.AccessRank(pr.Type) {
				return forbid("access[%d]: role %s grants %s %s in %s, which you do not hold", i, role.Name, pr.Resource, pr.Type, where)
			}
		}
	}
	return nil
}

// holdsRole refuses a role that grants more than p holds in every tenant: whoever holds the
// role, wherever, would get it from p.
func (p *principal) holdsRole(r *avi.Role) error {
	for i, pr := range r.Privileges {
		if avi.AccessRank(p.everywhere(pr.Resource)) < avi.AccessRank(pr.Type) {
			return forbid("privileges[%d]: %s %s is more than you hold in every tenant", i, pr.Resource, pr.Type)
		}
	}
	return nil
}

// place puts an object to create or replace in p's tenant when it names none: a tenant-scoped
// object in the request's tenant, a controller-wide one in admin.
func (p *principal) place(k avi.KindInfo, o avi.Object) {
	if t, ok := o.(avi.Tenanted); ok && *t.Tenant() == "" {
		*t.Tenant() = p.admin
		if k.Tenanted() {
			*t.Tenant() = p.tenant
		}
	}
}

// checkWritten checks an object just staged in tx as p wrote it (old: what it replaced, nil
// for a new one), its references resolved: it is in the tenant it may be in, it refers to
// nothing of another tenant, and a user or role grants nothing p does not hold. sent holds the
// references as the client sent them, by field, for an API write: the object must then be in the
// request's tenant. Else (sent nil: an import) it may be in any tenant where p may write it.
func (s *Server) checkWritten(tx *store.Tx, p *principal, k avi.KindInfo, o, old avi.Object, sent map[string]string) error {
	inRequest := sent != nil
	tenant := p.tenantOf(o)
	switch {
	case !k.Tenanted() && tenant != p.admin:
		return &avi.FieldError{Field: "tenant_ref", Reason: fmt.Sprintf("%s objects are controller-wide: they belong to tenant %s", k.Kind, avi.AdminTenant)}
	case k.Tenanted() && inRequest && tenant != p.tenant:
		return &avi.FieldError{Field: "tenant_ref", Reason: fmt.Sprintf("objects are written in the request's tenant (%s: %s)", tenantHeader, p.tenantName(p.tenant))}
	case k.Tenanted() && !p.can(k.Permission, tenant, avi.WriteAccess):
		return forbid("%s: %s needed in tenant %q", k.Permission, avi.WriteAccess, p.tenantName(tenant))
	case !k.Tenanted() && !p.can(k.Permission, p.admin, avi.WriteAccess):
		return forbid("%s: %s needed in tenant %q", k.Permission, avi.WriteAccess, avi.AdminTenant)
	}
	for _, r := range o.Refs() {
		rk, ok := r.Kind.Info()
		if !ok || !rk.Tenanted() {
			continue
		}
		target, err := tx.Get(r.Kind, avi.UUIDOf(*r.Value))
		if err != nil {
			return err
		}
		// Worded as the store words a reference to nothing, so that it tells nothing of other
		// tenants.
		if t := p.tenantOf(target); t != tenant && !(rk.Shared && t == p.admin) {
			v, ok := sent[r.Field]
			if !ok {
				v = *r.Value
			}
			return &avi.FieldError{Field: r.Field, Reason: fmt.Sprintf("%q: no such %s", v, r.Kind)}
		}
	}
	switch o := o.(type) {
	case *avi.User:
		return s.checkUser(tx, p, o, old)
	case *avi.Role:
		return p.holdsRole(o)
	}
	return nil
}

// checkUser checks a user account p wrote: only a superuser makes superusers, nobody grants
// more than they hold, and nobody changes their own access through it.
func (s *Server) checkUser(tx *store.Tx, p *principal, u *avi.User, old avi.Object) error {
	prev, _ := old.(*avi.User)
	if prev != nil && prev.UUID == p.user.UUID {
		switch {
		case u.IsSuperuser != prev.IsSuperuser:
			return forbid("is_superuser: you cannot change your own")
		case !slices.Equal(u.Access, prev.Access):
			return forbid("access: you cannot change your own")
		}
		return nil
	}
	if u.IsSuperuser && !p.superuser {
		return forbid("is_superuser: only a superuser may grant it")
	}
	return s.holds(tx, p, u.Access)
}

// checkOwnPassword refuses a password sent in a user object for one's own account: that goes
// through PUT /api/useraccount, which asks for the old one.
func checkOwnPassword(p *principal, k avi.KindInfo, uuid string, o avi.Object) error {
	if u, ok := o.(*avi.User); ok && k.Kind == avi.KindUser && uuid == p.user.UUID && u.Password != "" {
		return forbid("password: change your own password with PUT /api/useraccount")
	}
	return nil
}

// write creates (uuid empty) or replaces an object of kind k as p, with every check, in one
// transaction.
func (s *Server) write(p *principal, k avi.KindInfo, uuid string, o avi.Object) error {
	if err := checkOwnPassword(p, k, uuid, o); err != nil {
		return err
	}
	return s.update(p, func(tx *store.Tx) error {
		var old avi.Object
		if uuid != "" {
			var err error
			if old, err = tx.Get(k.Kind, uuid); err != nil {
				return err
			}
			if err := s.changeable(tx, p, k, old); err != nil {
				return err
			}
		}
		p.place(k, o)
		sent := map[string]string{}
		for _, r := range o.Refs() {
			sent[r.Field] = *r.Value
		}
		var err error
		if old == nil {
			err = tx.Create(o)
		} else {
			err = tx.Put(uuid, o)
		}
		if err != nil {
			return err
		}
		return s.checkWritten(tx, p, k, o, old, sent)
	})
}

// seedAccess creates the admin tenant and the built-in roles, and brings the built-in roles of
// a store written by an older version to their current privileges.
func seedAccess(tx *store.Tx) error {
	if _, ok := tx.ByName(avi.KindTenant, avi.AdminTenant); !ok {
		if err := tx.Create(&avi.Tenant{Meta: avi.Meta{Name: avi.AdminTenant}}); err != nil {
			return err
		}
	}
	for _, r := range avi.BuiltInRoles() {
		r.TenantRef = avi.KindTenant.NameRef(avi.AdminTenant)
		id, ok := tx.ByName(avi.KindRole, r.Name)
		if !ok {
			if err := tx.Create(r); err != nil {
				return err
			}
			continue
		}
		cur, err := store.Get[*avi.Role](tx, id)
		if err != nil {
			return err
		}
		if !slices.Equal(cur.Privileges, r.Privileges) {
			if err := tx.Put(id, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// importAs stages one exported object (see importObject) as p imports it: p must be able to
// change what it replaces and to write it where it lands, as through the API, except that it
// may land in any tenant where p may write it. The built-in roles and the admin tenant are every
// controller's own: references to them are mapped to this controller's, which stay as they are
// (staged is false).
func (s *Server) importAs(tx *store.Tx, p *principal, k avi.KindInfo, field string, raw json.RawMessage, aead cipher.AEAD, moved map[string]string) (staged bool, err error) {
	// The object as it lands: its references (its tenant and, for a scoped name, its scope)
	// mapped as importObject maps them.
	head := k.New()
	if err := json.Unmarshal(raw, head); err != nil {
		return false, prefixField(field, avi.JSONFieldError(err))
	}
	for _, ref := range head.Refs() {
		if to, ok := moved[*ref.Value]; ok {
			*ref.Value = to
		}
	}
	name := head.GetMeta().Name
	builtIn := k.Kind == avi.KindRole && avi.IsBuiltInRole(name) || k.Kind == avi.KindTenant && name == avi.AdminTenant
	id, exists := tx.ByNameOf(head)
	if k.Singleton {
		cur := tx.List(k.Kind)
		if exists = len(cur) > 0; exists {
			id = cur[0].GetMeta().UUID
		}
	}
	if builtIn && exists {
		moved[k.Kind.URL(head.GetMeta().UUID)] = k.Kind.URL(id)
		return false, nil
	}
	var old avi.Object
	if exists {
		if old, err = tx.Get(k.Kind, id); err != nil {
			return false, err
		}
		scope := p.admin
		if k.Tenanted() {
			scope = p.tenantOf(old)
		}
		if !p.can(k.Permission, scope, avi.WriteAccess) {
			return false, prefixField(field, forbid("%s: %s needed in tenant %q to replace %s %q", k.Permission, avi.WriteAccess, p.tenantName(scope), k.Kind, name))
		}
		if err := s.mayChangeGrants(tx, p, old); err != nil {
			return false, prefixField(field, err)
		}
	}
	if err := importObject(tx, k, field, raw, aead, moved); err != nil {
		return false, err
	}
	if !exists {
		var ok bool
		if id, ok = tx.ByNameOf(head); !ok {
			return false, fmt.Errorf("%s: %s %q not staged", field, k.Kind, name)
		}
	}
	o, err := tx.Get(k.Kind, id)
	if err != nil {
		return false, err
	}
	return true, prefixField(field, s.checkWritten(tx, p, k, o, old, nil))
}
