package avi

// High-availability modes of a service engine group, as Avi names them.
const (
	// HAModeActiveStandby: each north-south VIP is held by one SE, with one standby that takes
	// it over.
	HAModeActiveStandby = "HA_MODE_LEGACY_ACTIVE_STANDBY"
	// HAModeShared: elastic N+M; a virtual service is spread over min_scaleout_per_vs SEs where
	// each holds its own address.
	HAModeShared = "HA_MODE_SHARED"
)

// Bounds of a service engine group's fields, as Avi's.
const (
	MaxScaleoutPerVS = 64
	MaxSEsPerGroup   = 1000
	MaxSENamePrefix  = 16
)

// ServiceEngineGroup is a set of SEs that serve the same virtual services, and how the
// controller places a virtual service on them. Its name is unique within its cloud: every cloud
// has its own DefaultSEGroup.
type ServiceEngineGroup struct {
	Meta
	TenantRef        string `json:"tenant_ref,omitempty"`
	CloudRef         string `json:"cloud_ref,omitempty"`
	HAMode           string `json:"ha_mode,omitempty"`
	MinScaleoutPerVS int    `json:"min_scaleout_per_vs,omitempty"`
	MaxScaleoutPerVS int    `json:"max_scaleout_per_vs,omitempty"`
	MaxSE            int    `json:"max_se,omitempty"`
	BufferSE         *int   `json:"buffer_se,omitempty"` // 0 is a value
	SENamePrefix     string `json:"se_name_prefix,omitempty"`
}

// Defaults are Avi's, but for ha_mode: active/standby, so that a VIP has one holder and one
// standby unless the operator chooses elastic mode.
func (g *ServiceEngineGroup) Defaults() {
	if g.CloudRef == "" {
		g.CloudRef = KindCloud.NameRef(DefaultCloudName)
	}
	if g.HAMode == "" {
		g.HAMode = HAModeActiveStandby
	}
	if g.MinScaleoutPerVS == 0 {
		g.MinScaleoutPerVS = 1
	}
	if g.MaxScaleoutPerVS == 0 {
		g.MaxScaleoutPerVS = 4
	}
	if g.MaxSE == 0 {
		g.MaxSE = 10
	}
	if g.BufferSE == nil {
		one := 1
		g.BufferSE = &one
	}
	if g.SENamePrefix == "" {
		g.SENamePrefix = "Avi"
	}
}

// Validate checks the group's fields.
func (g *ServiceEngineGroup) Validate() error {
	if err := validateName(&g.Meta); err != nil {
		return err
	}
	if err := oneOf("ha_mode", g.HAMode, HAModeActiveStandby, HAModeShared); err != nil {
		return err
	}
	checks := []error{
		between("min_scaleout_per_vs", g.MinScaleoutPerVS, 1, MaxScaleoutPerVS),
		between("max_scaleout_per_vs", g.MaxScaleoutPerVS, 1, MaxScaleoutPerVS),
		between("max_se", g.MaxSE, 1, MaxSEsPerGroup),
		between("buffer_se", *g.BufferSE, 0, MaxSEsPerGroup),
	}
	if err := firstErr(checks...); err != nil {
		return err
	}
	if g.MaxScaleoutPerVS < g.MinScaleoutPerVS {
		return fieldErr("max_scaleout_per_vs", "%d: must not be less than min_scaleout_per_vs (%d)", g.MaxScaleoutPerVS, g.MinScaleoutPerVS)
	}
	if len(g.SENamePrefix) > MaxSENamePrefix || !isIdentifier(g.SENamePrefix) {
		return fieldErr("se_name_prefix", "%q: want 1 to %d letters, digits, '-' or '_'", g.SENamePrefix, MaxSENamePrefix)
	}
	return nil
}

func isIdentifier(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// NameScope: a group's name is unique within its cloud.
func (g *ServiceEngineGroup) NameScope() string { return g.CloudRef }

// Tenant is the group's tenant reference.
func (g *ServiceEngineGroup) Tenant() *string { return &g.TenantRef }

// Refs: the cloud and the tenant.
func (g *ServiceEngineGroup) Refs() []Ref {
	return append([]Ref{{Field: "cloud_ref", Kind: KindCloud, Value: &g.CloudRef}}, tenantRefs(&g.TenantRef)...)
}

// Secrets: none.
func (g *ServiceEngineGroup) Secrets() []*string { return nil }

// Scoped is an object whose name is unique within a scope (the URL of the object holding it)
// rather than within its kind: a service engine group's within its cloud.
type Scoped interface {
	NameScope() string
}

// Standby reports whether the group keeps a standby SE for each north-south VIP.
func (g *ServiceEngineGroup) Standby() bool { return g.HAMode == HAModeActiveStandby }
