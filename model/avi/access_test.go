package avi

import (
	"strings"
	"testing"
	"time"
)

func TestRoleValidate(t *testing.T) {
	ok := &Role{Meta: Meta{Name: "r"}, Privileges: []Permission{{PermVirtualService, ReadAccess}, {PermPool, WriteAccess}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid role: %v", err)
	}
	if ok.Access(PermPool) != WriteAccess || ok.Access(PermUser) != NoAccess {
		t.Errorf("Access: pool %s, user %s", ok.Access(PermPool), ok.Access(PermUser))
	}
	for field, r := range map[string]*Role{
		"privileges[0].resource": {Meta: Meta{Name: "r"}, Privileges: []Permission{{"PERMISSION_NOPE", ReadAccess}}},
		"privileges[1].resource": {Meta: Meta{Name: "r"}, Privileges: []Permission{{PermPool, ReadAccess}, {PermPool, WriteAccess}}},
		"privileges[0].type":     {Meta: Meta{Name: "r"}, Privileges: []Permission{{PermPool, "ALL_ACCESS"}}},
		"name":                   {Privileges: nil},
	} {
		err := r.Validate()
		if fe, isFE := err.(*FieldError); !isFE || fe.Field != field {
			t.Errorf("%+v: %v; want an error naming %s", r.Privileges, err, field)
		}
	}
}

func TestUserAccessValidate(t *testing.T) {
	base := func(a ...UserRole) *User {
		return &User{Meta: Meta{Name: "u"}, Username: "u", PasswordHash: "h", Access: a}
	}
	if err := base(UserRole{RoleRef: "r", TenantRef: "t"}, UserRole{RoleRef: "r", AllTenants: true}).Validate(); err != nil {
		t.Fatalf("valid access: %v", err)
	}
	for field, u := range map[string]*User{
		"access[0].role_ref":   base(UserRole{TenantRef: "t"}),
		"access[0].tenant_ref": base(UserRole{RoleRef: "r"}),
		"access[1].tenant_ref": base(UserRole{RoleRef: "r", AllTenants: true}, UserRole{RoleRef: "r", TenantRef: "t", AllTenants: true}),
	} {
		err := u.Validate()
		if fe, isFE := err.(*FieldError); !isFE || fe.Field != field {
			t.Errorf("%+v: %v; want an error naming %s", u.Access, err, field)
		}
	}
	refs := base(UserRole{RoleRef: "r", TenantRef: "t"}, UserRole{RoleRef: "r2", AllTenants: true}).Refs()
	var fields []string
	for _, r := range refs {
		fields = append(fields, r.Field+":"+string(r.Kind))
	}
	if got := strings.Join(fields, " "); got != "access[0].role_ref:role access[0].tenant_ref:tenant access[1].role_ref:role" {
		t.Errorf("user refs: %s", got)
	}
}

// TestBuiltInRoles: each built-in role lists every resource once and grants what Avi's
// description of it says.
func TestBuiltInRoles(t *testing.T) {
	roles := map[string]*Role{}
	for _, r := range BuiltInRoles() {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
		if len(r.Privileges) != len(Resources) {
			t.Errorf("%s lists %d privileges, want %d", r.Name, len(r.Privileges), len(Resources))
		}
		if !IsBuiltInRole(r.Name) {
			t.Errorf("IsBuiltInRole(%s) is false", r.Name)
		}
		roles[r.Name] = r
	}
	if len(roles) != 6 || IsBuiltInRole("custom") {
		t.Fatalf("built-in roles: %d", len(roles))
	}
	for _, c := range []struct{ role, resource, want string }{
		{RoleSystemAdmin, PermController, WriteAccess},
		{RoleApplicationAdmin, PermVirtualService, WriteAccess},
		{RoleApplicationAdmin, PermCloud, ReadAccess},
		{RoleApplicationAdmin, PermUser, NoAccess},
		{RoleApplicationOperator, PermPool, ReadAccess},
		{RoleApplicationOperator, PermServiceEngine, NoAccess},
		{RoleApplicationAdmin, PermServiceEngineGroup, ReadAccess},
		{RoleReadonly, PermServiceEngineGroup, ReadAccess},
		{RoleTenantAdmin, PermServiceEngineGroup, WriteAccess},
		{RoleSecurityAdmin, PermVirtualService, NoAccess},
		{RoleReadonly, PermSystemConfiguration, ReadAccess},
		{RoleTenantAdmin, PermUser, WriteAccess},
		{RoleTenantAdmin, PermSystemConfiguration, NoAccess},
		// The audit log: System-Admin writes, System-Security-Admin reads, nobody else sees it.
		{RoleSystemAdmin, PermAuditLog, WriteAccess},
		{RoleSecurityAdmin, PermAuditLog, ReadAccess},
		{RoleReadonly, PermAuditLog, NoAccess},
		{RoleTenantAdmin, PermAuditLog, NoAccess},
		{RoleApplicationAdmin, PermAuditLog, NoAccess},
	} {
		if got := roles[c.role].Access(c.resource); got != c.want {
			t.Errorf("%s grants %s %s, want %s", c.role, c.resource, got, c.want)
		}
	}
}

// TestKindPermissions: every kind names a resource; the application objects are tenant-scoped,
// the rest controller-wide; profiles, monitors and certificates are shared.
func TestKindPermissions(t *testing.T) {
	shared := map[Kind]bool{KindHealthMonitor: true, KindApplicationProfile: true, KindSSLKeyAndCertificate: true, KindSSLProfile: true,
		KindNetworkProfile: true, KindApplicationPersistenceProfile: true, KindAnalyticsProfile: true}
	tenanted := map[Kind]bool{KindVirtualService: true, KindVsVip: true, KindPool: true, KindPoolGroup: true}
	for k := range shared {
		tenanted[k] = true
	}
	// The kinds whose Avi schema has no tenant_ref, and the controller's own.
	noTenantRef := map[Kind]bool{KindSystemConfiguration: true, KindTenant: true, KindUser: true, KindJoinToken: true, KindAuthToken: true, KindClusterMember: true}
	for _, k := range Kinds {
		// A private kind's own routes say who may use them (API tokens: their owner).
		if _, ok := LookupResource(k.Permission); !ok && !(k.Private && k.Permission == PermissionExempt) {
			t.Errorf("%s: permission %q is no resource", k.Kind, k.Permission)
		}
		if k.Tenanted() != tenanted[k.Kind] {
			t.Errorf("%s: tenanted %v", k.Kind, k.Tenanted())
		}
		if _, ok := k.New().(Tenanted); ok == noTenantRef[k.Kind] {
			t.Errorf("%s objects: tenant_ref %v", k.Kind, ok)
		}
		if k.Shared != shared[k.Kind] {
			t.Errorf("%s: shared %v", k.Kind, k.Shared)
		}
	}
	if err := (&Tenant{Meta: Meta{Name: "a/b"}}).Validate(); err == nil {
		t.Error("a tenant name with '/' is accepted")
	}
}

// TestTokenCap: a token's scope caps the access its owner holds, never raises it.
func TestTokenCap(t *testing.T) {
	readonly := &AuthToken{ReadOnly: true}
	full := &AuthToken{}
	operator := BuiltInRoles()[2] // System-Application-Operator
	for _, c := range []struct {
		tok        *AuthToken
		role       *Role
		have, want string
	}{
		{full, nil, WriteAccess, WriteAccess},
		{full, nil, NoAccess, NoAccess},
		{readonly, nil, WriteAccess, ReadAccess},
		{readonly, nil, NoAccess, NoAccess},
		{full, operator, WriteAccess, ReadAccess},
		{full, operator, NoAccess, NoAccess},
	} {
		if got := c.tok.Cap(PermVirtualService, c.have, c.role); got != c.want {
			t.Errorf("read_only %v, role %v: cap of %s = %s, want %s", c.tok.ReadOnly, c.role != nil, c.have, got, c.want)
		}
	}
	if operator.Name != RoleApplicationOperator {
		t.Fatalf("role 2 is %s", operator.Name)
	}
}

// TestTokenExpired: a token authenticates until its expiry, not at it; an expiry that is no
// time is expired.
func TestTokenExpired(t *testing.T) {
	exp := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok := &AuthToken{Expires: exp.Format(time.RFC3339)}
	for _, c := range []struct {
		now  time.Time
		want bool
	}{
		{exp.Add(-time.Second), false},
		{exp, true},
		{exp.Add(time.Second), true},
		{exp.Add(-time.Second).In(time.FixedZone("UTC+2", 2*3600)), false},
	} {
		if got := tok.Expired(c.now); got != c.want {
			t.Errorf("expired at %v: %v, want %v", c.now, got, c.want)
		}
	}
	if !(&AuthToken{Expires: "tomorrow"}).Expired(exp) {
		t.Error("a token with no expiry time is live")
	}
}
