package avi

import (
	"fmt"
	"slices"
	"strings"
)

// Access types of a privilege, as Avi's roles grant them.
const (
	NoAccess    = "NO_ACCESS"
	ReadAccess  = "READ_ACCESS"
	WriteAccess = "WRITE_ACCESS"
)

// AccessRank orders the access types: no access, read, write. An unknown type ranks as none.
func AccessRank(t string) int {
	switch t {
	case WriteAccess:
		return 2
	case ReadAccess:
		return 1
	}
	return 0
}

// The resources a privilege names: Avi's PERMISSION_* names of the object kinds and routes this
// controller has. PermissionExempt marks what every authenticated user may do (their own
// account); no role grants it.
const (
	PermVirtualService      = "PERMISSION_VIRTUALSERVICE"
	PermPool                = "PERMISSION_POOL"
	PermHealthMonitor       = "PERMISSION_HEALTHMONITOR"
	PermApplicationProfile  = "PERMISSION_APPLICATIONPROFILE"
	PermCloud               = "PERMISSION_CLOUD"
	PermUserCredential      = "PERMISSION_USER_CREDENTIAL"
	PermServiceEngine       = "PERMISSION_SERVICEENGINE"
	PermServiceEngineGroup  = "PERMISSION_SERVICEENGINEGROUP"
	PermSEToken             = "PERMISSION_SE_TOKEN"
	PermUser                = "PERMISSION_USER"
	PermRole                = "PERMISSION_ROLE"
	PermTenant              = "PERMISSION_TENANT"
	PermSystemConfiguration = "PERMISSION_SYSTEMCONFIGURATION"
	PermController          = "PERMISSION_CONTROLLER"

	PermPoolGroup                     = "PERMISSION_POOLGROUP"
	PermNetworkProfile                = "PERMISSION_NETWORKPROFILE"
	PermApplicationPersistenceProfile = "PERMISSION_APPLICATIONPERSISTENCEPROFILE"
	PermAnalyticsProfile              = "PERMISSION_ANALYTICSPROFILE"
	PermSSLProfile                    = "PERMISSION_SSLPROFILE"
	PermSSLKeyAndCertificate          = "PERMISSION_SSLKEYANDCERTIFICATE"
	PermVrfContext                    = "PERMISSION_VRFCONTEXT"
	PermNetwork                       = "PERMISSION_NETWORK"
	PermIpamDnsProviderProfile        = "PERMISSION_IPAMDNSPROVIDERPROFILE"
	// PermAuditLog is this controller's own: Avi has no privilege of that name. It guards the
	// audit log (GET /api/auditlog).
	PermAuditLog     = "PERMISSION_AUDITLOG"
	PermissionExempt = "PERMISSION_EXEMPT"
)

// Section is an area of Avi's UI that the built-in roles grant as a whole.
type Section int

// The sections, as Avi's role descriptions name them.
const (
	SectionApplication    Section = iota // virtual services, pools
	SectionProfiles                      // application profiles, health monitors
	SectionSecurity                      // Templates > Security: certificates and SSL profiles
	SectionInfrastructure                // clouds, their credentials, service engines, join tokens
	SectionAccount                       // users, roles, tenants
	SectionSystem                        // system settings, configuration export and import, metrics
	SectionAudit                         // the audit log: System-Admin writes, System-Security-Admin reads
)

// Resource is one resource a role can grant access to.
type Resource struct {
	Name    string
	Section Section
	// Tenanted resources are granted per tenant; the others are controller-wide: their objects
	// live in the admin tenant and the privileges a user holds there apply to them.
	Tenanted bool
}

// Resources are every resource a role's privileges may name.
var Resources = []Resource{
	{PermVirtualService, SectionApplication, true},
	{PermPool, SectionApplication, true},
	{PermApplicationProfile, SectionProfiles, true},
	{PermHealthMonitor, SectionProfiles, true},
	{PermPoolGroup, SectionApplication, true},
	{PermNetworkProfile, SectionProfiles, true},
	{PermApplicationPersistenceProfile, SectionProfiles, true},
	{PermAnalyticsProfile, SectionProfiles, true},
	{PermSSLProfile, SectionSecurity, true},
	{PermSSLKeyAndCertificate, SectionSecurity, true},
	{PermVrfContext, SectionInfrastructure, false},
	{PermNetwork, SectionInfrastructure, false},
	{PermIpamDnsProviderProfile, SectionInfrastructure, false},
	{PermCloud, SectionInfrastructure, false},
	{PermUserCredential, SectionInfrastructure, false},
	{PermServiceEngine, SectionInfrastructure, false},
	{PermServiceEngineGroup, SectionInfrastructure, false},
	{PermSEToken, SectionInfrastructure, false},
	{PermUser, SectionAccount, false},
	{PermRole, SectionAccount, false},
	{PermTenant, SectionAccount, false},
	{PermSystemConfiguration, SectionSystem, false},
	{PermController, SectionSystem, false},
	{PermAuditLog, SectionAudit, false},
}

// LookupResource returns the resource of that name.
func LookupResource(name string) (Resource, bool) {
	for _, r := range Resources {
		if r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// AdminTenant is the built-in tenant: controller-wide objects live in it, and its profiles are
// shared with every tenant.
const AdminTenant = "admin"

// The built-in roles' names.
const (
	RoleSystemAdmin         = "System-Admin"
	RoleApplicationAdmin    = "System-Application-Admin"
	RoleApplicationOperator = "System-Application-Operator"
	RoleSecurityAdmin       = "System-Security-Admin"
	RoleReadonly            = "System-Readonly"
	RoleTenantAdmin         = "System-Tenant-Admin"
)

type builtInRole struct {
	name     string
	sections map[Section]string
}

// builtInRoles are the access each built-in role grants per section, as Avi documents them;
// a section not listed is NO_ACCESS.
var builtInRoles = []builtInRole{
	{RoleSystemAdmin, map[Section]string{SectionApplication: WriteAccess, SectionProfiles: WriteAccess, SectionSecurity: WriteAccess,
		SectionInfrastructure: WriteAccess, SectionAccount: WriteAccess, SectionSystem: WriteAccess, SectionAudit: WriteAccess}},
	{RoleApplicationAdmin, map[Section]string{SectionApplication: WriteAccess, SectionProfiles: WriteAccess, SectionInfrastructure: ReadAccess}},
	{RoleApplicationOperator, map[Section]string{SectionApplication: ReadAccess, SectionProfiles: ReadAccess}},
	{RoleSecurityAdmin, map[Section]string{SectionSecurity: WriteAccess, SectionAudit: ReadAccess}},
	{RoleReadonly, map[Section]string{SectionApplication: ReadAccess, SectionProfiles: ReadAccess, SectionSecurity: ReadAccess,
		SectionInfrastructure: ReadAccess, SectionAccount: ReadAccess, SectionSystem: ReadAccess}},
	{RoleTenantAdmin, map[Section]string{SectionApplication: WriteAccess, SectionProfiles: WriteAccess, SectionSecurity: WriteAccess,
		SectionInfrastructure: WriteAccess, SectionAccount: WriteAccess}},
}

// BuiltInRoles returns the built-in roles, each listing every resource.
func BuiltInRoles() []*Role {
	out := make([]*Role, 0, len(builtInRoles))
	for _, b := range builtInRoles {
		r := &Role{Meta: Meta{Name: b.name}}
		for _, res := range Resources {
			t := b.sections[res.Section]
			if t == "" {
				t = NoAccess
			}
			r.Privileges = append(r.Privileges, Permission{Resource: res.Name, Type: t})
		}
		out = append(out, r)
	}
	return out
}

// IsBuiltInRole reports whether a role name is a built-in role's.
func IsBuiltInRole(name string) bool {
	return slices.ContainsFunc(builtInRoles, func(b builtInRole) bool { return b.name == name })
}

// Tenant is an isolated part of the configuration: every tenant-scoped object belongs to one.
type Tenant struct {
	Meta
	Description string `json:"description,omitempty"`
}

// Defaults: none.
func (t *Tenant) Defaults() {}

// Validate checks the name and description.
func (t *Tenant) Validate() error {
	if err := validateName(&t.Meta); err != nil {
		return err
	}
	if strings.Contains(t.Name, "/") || t.Name == "*" {
		return fieldErr("name", "%q: a tenant name has no '/' and is not '*'", t.Name)
	}
	return checkDescription("description", t.Description)
}

// Refs: none.
func (t *Tenant) Refs() []Ref { return nil }

// Secrets: none.
func (t *Tenant) Secrets() []*string { return nil }

// Role grants access to resources.
type Role struct {
	Meta
	TenantRef  string       `json:"tenant_ref,omitempty"`
	Privileges []Permission `json:"privileges,omitempty"`
}

// Permission is one privilege of a role.
type Permission struct {
	Resource string `json:"resource"`
	Type     string `json:"type"`
}

// Defaults: none.
func (r *Role) Defaults() {}

// Validate checks that each privilege names a known resource, once, with a known access type.
func (r *Role) Validate() error {
	if err := validateName(&r.Meta); err != nil {
		return err
	}
	if err := maxItems("privileges", len(r.Privileges), MaxListItems, "privileges"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, p := range r.Privileges {
		f := fmt.Sprintf("privileges[%d]", i)
		if _, ok := LookupResource(p.Resource); !ok {
			names := make([]string, len(Resources))
			for j, res := range Resources {
				names[j] = res.Name
			}
			return fieldErr(f+".resource", "%q: want one of %s", p.Resource, strings.Join(names, ", "))
		}
		if seen[p.Resource] {
			return fieldErr(f+".resource", "%s is listed twice", p.Resource)
		}
		seen[p.Resource] = true
		if err := oneOf(f+".type", p.Type, NoAccess, ReadAccess, WriteAccess); err != nil {
			return err
		}
	}
	return nil
}

// Access returns the access the role grants to a resource.
func (r *Role) Access(resource string) string {
	for _, p := range r.Privileges {
		if p.Resource == resource {
			return p.Type
		}
	}
	return NoAccess
}

// Tenant is the role's tenant reference.
func (r *Role) Tenant() *string { return &r.TenantRef }

// Refs: the tenant.
func (r *Role) Refs() []Ref { return tenantRefs(&r.TenantRef) }

// Secrets: none.
func (r *Role) Secrets() []*string { return nil }

// UserRole is one grant of a user: a role in one tenant, or in all of them.
type UserRole struct {
	RoleRef    string `json:"role_ref"`
	TenantRef  string `json:"tenant_ref,omitempty"`
	AllTenants bool   `json:"all_tenants,omitempty"`
}

// Tenanted is an object that belongs to a tenant, named by its tenant_ref (empty: admin).
type Tenanted interface {
	Object
	Tenant() *string
}

// tenantRefs is the reference list of an object's tenant_ref, when set.
func tenantRefs(ref *string) []Ref {
	if *ref == "" {
		return nil
	}
	return []Ref{{Field: "tenant_ref", Kind: KindTenant, Value: ref}}
}
