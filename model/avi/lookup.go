package avi

// Kinds automation looks up before it creates anything (a VRF, a network, a certificate, a
// profile), which avi-init keeps as Avi's schema defines them without acting on them yet: every
// field but the name, tenant and cloud is in Meta.Extra, checked against the schema. Later issues
// give them behaviour (certificates: issue 16; IPAM and DNS profiles: issue 17).

// Stored is the part such an object has in Go: its name and its tenant.
type Stored struct {
	Meta
	TenantRef string `json:"tenant_ref,omitempty"`
}

// Defaults: none beyond the schema's, which the object keeps as written.
func (s *Stored) Defaults() {}

// Validate checks the name; the schema checked the rest.
func (s *Stored) Validate() error { return validateName(&s.Meta) }

// Refs: the tenant.
func (s *Stored) Refs() []Ref { return tenantRefs(&s.TenantRef) }

// Secrets: none.
func (s *Stored) Secrets() []*string { return nil }

// Tenant is the object's tenant reference.
func (s *Stored) Tenant() *string { return &s.TenantRef }

// InCloud is a stored object that belongs to a cloud (cloud_ref).
type InCloud struct {
	Stored
	CloudRef string `json:"cloud_ref,omitempty"`
}

// Refs: the cloud and the tenant.
func (c *InCloud) Refs() []Ref {
	refs := c.Stored.Refs()
	if c.CloudRef != "" {
		refs = append(refs, Ref{Field: "cloud_ref", Kind: KindCloud, Value: &c.CloudRef})
	}
	return refs
}

// VrfContext is a routing context of a cloud (Avi's built-ins: global, management).
type VrfContext struct{ InCloud }

// Network is a network of a cloud, with its subnets.
type Network struct{ InCloud }

// PoolGroup is a group of pools.
type PoolGroup struct{ InCloud }

// SSLProfile is a TLS profile (System-Standard built in).
type SSLProfile struct{ Stored }

// NetworkProfile is a transport profile (System-TCP-Proxy built in).
type NetworkProfile struct{ Stored }

// ApplicationPersistenceProfile says how a client sticks to a server.
type ApplicationPersistenceProfile struct{ Stored }

// AnalyticsProfile says what analytics are computed (System-Analytics-Profile built in).
type AnalyticsProfile struct{ Stored }

// IpamDnsProviderProfile is an IPAM or DNS provider.
type IpamDnsProviderProfile struct{ Stored }

// ControllerProperties is the controller's tunables; one exists.
type ControllerProperties struct{ Stored }

// SSLKeyAndCertificate is a certificate with its private key (System-Default-Cert built in).
type SSLKeyAndCertificate struct {
	Stored
	Key string `json:"key,omitempty"`
}

// Secrets: the private key.
func (c *SSLKeyAndCertificate) Secrets() []*string { return []*string{&c.Key} }

// Prepare keeps the stored key when a client writes the object back without it (answers never
// carry it).
func (c *SSLKeyAndCertificate) Prepare(old Object) error {
	if o, ok := old.(*SSLKeyAndCertificate); ok && c.Key == "" {
		c.Key = o.Key
	}
	return nil
}

// NameScope: a VRF's name is unique within its cloud (each cloud has its global and management).
func (v *VrfContext) NameScope() string { return v.CloudRef }

// Built-in VRF names, as Avi creates them with each cloud.
const (
	VrfGlobal     = "global"
	VrfManagement = "management"
)
