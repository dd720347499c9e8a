package avi

import (
	"fmt"
	"strings"
)

// Health monitor types.
const (
	HealthMonitorHTTP = "HEALTH_MONITOR_HTTP"
	HealthMonitorTCP  = "HEALTH_MONITOR_TCP"
)

// HealthMonitor checks pool members actively.
type HealthMonitor struct {
	Meta
	// CreatedBy names the integration that made the object (e.g. "marathon:<cloud uuid>"); it
	// owns it and may change or delete it. Empty: the operator's.
	CreatedBy        string       `json:"created_by,omitempty"`
	TenantRef        string       `json:"tenant_ref,omitempty"`
	Type             string       `json:"type"`
	SendInterval     int          `json:"send_interval,omitempty"`
	ReceiveTimeout   int          `json:"receive_timeout,omitempty"`
	SuccessfulChecks int          `json:"successful_checks,omitempty"`
	FailedChecks     int          `json:"failed_checks,omitempty"`
	HTTPMonitor      *HTTPMonitor `json:"http_monitor,omitempty"`
	TCPMonitor       *TCPMonitor  `json:"tcp_monitor,omitempty"`
}

// HTTPMonitor is the request an HTTP monitor sends and the answers it accepts.
type HTTPMonitor struct {
	HTTPRequest      string   `json:"http_request,omitempty"`
	HTTPResponseCode []string `json:"http_response_code,omitempty"`
}

// TCPMonitor optionally sends a request and expects a response.
type TCPMonitor struct {
	TCPRequest  string `json:"tcp_request,omitempty"`
	TCPResponse string `json:"tcp_response,omitempty"`
}

// Defaults are Avi's.
func (h *HealthMonitor) Defaults() {
	if h.SendInterval == 0 {
		h.SendInterval = 10
	}
	if h.ReceiveTimeout == 0 {
		h.ReceiveTimeout = 4
	}
	if h.SuccessfulChecks == 0 {
		h.SuccessfulChecks = 2
	}
	if h.FailedChecks == 0 {
		h.FailedChecks = 2
	}
	if h.Type == HealthMonitorHTTP {
		if h.HTTPMonitor == nil {
			h.HTTPMonitor = &HTTPMonitor{}
		}
		if h.HTTPMonitor.HTTPRequest == "" {
			h.HTTPMonitor.HTTPRequest = "HEAD / HTTP/1.0"
		}
		if len(h.HTTPMonitor.HTTPResponseCode) == 0 {
			h.HTTPMonitor.HTTPResponseCode = []string{"HTTP_2XX", "HTTP_3XX"}
		}
	}
}

// Validate checks the monitor's fields.
func (h *HealthMonitor) Validate() error {
	if err := validateName(&h.Meta); err != nil {
		return err
	}
	if err := oneOf("type", h.Type, HealthMonitorHTTP, HealthMonitorTCP); err != nil {
		return err
	}
	checks := []error{
		between("send_interval", h.SendInterval, 1, 3600),
		between("receive_timeout", h.ReceiveTimeout, 1, 2400),
		between("successful_checks", h.SuccessfulChecks, 1, 50),
		between("failed_checks", h.FailedChecks, 1, 50),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if h.ReceiveTimeout >= h.SendInterval && h.SendInterval > 1 {
		return fieldErr("receive_timeout", "%d: must be less than send_interval (%d)", h.ReceiveTimeout, h.SendInterval)
	}
	if h.HTTPMonitor != nil {
		if h.Type != HealthMonitorHTTP {
			return fieldErr("http_monitor", "only for type %s", HealthMonitorHTTP)
		}
		req := h.HTTPMonitor.HTTPRequest
		if err := printable("http_monitor.http_request", req, MaxMonitorDataLength); err != nil {
			return err
		}
		if parts := strings.Fields(req); len(parts) < 2 || !strings.HasPrefix(parts[1], "/") || strings.ContainsAny(req, "\r\n") {
			return fieldErr("http_monitor.http_request", "%q: want a request line such as \"GET / HTTP/1.0\"", req)
		}
		if err := maxItems("http_monitor.http_response_code", len(h.HTTPMonitor.HTTPResponseCode), MaxListItems, "codes"); err != nil {
			return err
		}
		for i, c := range h.HTTPMonitor.HTTPResponseCode {
			if err := oneOf(fmt.Sprintf("http_monitor.http_response_code[%d]", i), c, "HTTP_1XX", "HTTP_2XX", "HTTP_3XX", "HTTP_4XX", "HTTP_5XX", "HTTP_ANY"); err != nil {
				return err
			}
		}
	}
	if t := h.TCPMonitor; t != nil {
		if h.Type != HealthMonitorTCP {
			return fieldErr("tcp_monitor", "only for type %s", HealthMonitorTCP)
		}
		return firstErr(checkMonitorData("tcp_monitor.tcp_request", t.TCPRequest), checkMonitorData("tcp_monitor.tcp_response", t.TCPResponse))
	}
	return nil
}

// Tenant is the monitor's tenant reference.
func (h *HealthMonitor) Tenant() *string { return &h.TenantRef }

// Refs: a monitor refers to its tenant only.
func (h *HealthMonitor) Refs() []Ref { return tenantRefs(&h.TenantRef) }

// Secrets: none.
func (h *HealthMonitor) Secrets() []*string { return nil }

// Load-balancing algorithms.
const (
	LBLeastConnections = "LB_ALGORITHM_LEAST_CONNECTIONS"
	LBRoundRobin       = "LB_ALGORITHM_ROUND_ROBIN"
	LBConsistentHash   = "LB_ALGORITHM_CONSISTENT_HASH"
)

// Pool is a set of servers and how to balance across them.
type Pool struct {
	Meta
	CreatedBy         string   `json:"created_by,omitempty"` // as HealthMonitor.CreatedBy
	TenantRef         string   `json:"tenant_ref,omitempty"`
	LBAlgorithm       string   `json:"lb_algorithm,omitempty"`
	LBAlgorithmHash   string   `json:"lb_algorithm_hash,omitempty"`
	DefaultServerPort int      `json:"default_server_port,omitempty"`
	Servers           []Server `json:"servers,omitempty"`
	HealthMonitorRefs []string `json:"health_monitor_refs,omitempty"`
	CloudRef          string   `json:"cloud_ref,omitempty"`
}

// Server is one pool member.
type Server struct {
	IP       IPAddr `json:"ip"`
	Port     int    `json:"port,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Enabled  *bool  `json:"enabled,omitempty"`
	Ratio    int    `json:"ratio,omitempty"`
}

// Defaults are Avi's: least connections, port 80, enabled members of ratio 1.
func (p *Pool) Defaults() {
	if p.LBAlgorithm == "" {
		p.LBAlgorithm = LBLeastConnections
	}
	if p.LBAlgorithm == LBConsistentHash && p.LBAlgorithmHash == "" {
		p.LBAlgorithmHash = "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS"
	}
	if p.DefaultServerPort == 0 {
		p.DefaultServerPort = 80
	}
	for i := range p.Servers {
		s := &p.Servers[i]
		if s.Enabled == nil {
			s.Enabled = boolPtr(true)
		}
		if s.Ratio == 0 {
			s.Ratio = 1
		}
	}
}

// Validate checks the pool's fields.
func (p *Pool) Validate() error {
	if err := validateName(&p.Meta); err != nil {
		return err
	}
	if err := oneOf("lb_algorithm", p.LBAlgorithm, LBLeastConnections, LBRoundRobin, LBConsistentHash); err != nil {
		return err
	}
	if p.LBAlgorithmHash != "" {
		if err := oneOf("lb_algorithm_hash", p.LBAlgorithmHash, "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS"); err != nil {
			return err
		}
	}
	if err := between("default_server_port", p.DefaultServerPort, 1, 65535); err != nil {
		return err
	}
	if err := maxItems("servers", len(p.Servers), MaxServersPerPool, "servers"); err != nil {
		return err
	}
	if err := maxItems("health_monitor_refs", len(p.HealthMonitorRefs), MaxHealthMonitorsPerPool, "health monitors"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, s := range p.Servers {
		f := fmt.Sprintf("servers[%d]", i)
		if err := s.IP.validate(f + ".ip"); err != nil {
			return err
		}
		if s.Port != 0 {
			if err := between(f+".port", s.Port, 1, 65535); err != nil {
				return err
			}
		}
		if err := between(f+".ratio", s.Ratio, 1, 20); err != nil {
			return err
		}
		if err := printable(f+".hostname", s.Hostname, MaxHostnameLength); err != nil {
			return err
		}
		key := fmt.Sprintf("%s:%d", s.IP.Addr, s.Port)
		if seen[key] {
			return fieldErr(f, "%s is listed twice", key)
		}
		seen[key] = true
	}
	return nil
}

// Tenant is the pool's tenant reference.
func (p *Pool) Tenant() *string { return &p.TenantRef }

// Refs: the pool's monitors, cloud and tenant.
func (p *Pool) Refs() []Ref {
	var refs []Ref
	for i := range p.HealthMonitorRefs {
		refs = append(refs, Ref{Field: fmt.Sprintf("health_monitor_refs[%d]", i), Kind: KindHealthMonitor, Value: &p.HealthMonitorRefs[i]})
	}
	if p.CloudRef != "" {
		refs = append(refs, Ref{Field: "cloud_ref", Kind: KindCloud, Value: &p.CloudRef})
	}
	return append(refs, tenantRefs(&p.TenantRef)...)
}

// Secrets: none.
func (p *Pool) Secrets() []*string { return nil }

// Application profile types, and the built-in profiles' names.
const (
	ProfileHTTP       = "APPLICATION_PROFILE_TYPE_HTTP"
	ProfileL4         = "APPLICATION_PROFILE_TYPE_L4"
	SystemHTTP        = "System-HTTP"
	SystemL4          = "System-L4-Application"
	DefaultCloudName  = "Default-Cloud"
	DefaultProfileRef = "/api/" + string(KindApplicationProfile) + "?name=" + SystemHTTP
)

// ApplicationProfile says how an SE proxies a virtual service: L7 HTTP or L4 TCP.
type ApplicationProfile struct {
	Meta
	TenantRef string `json:"tenant_ref,omitempty"`
	Type      string `json:"type"`
}

// Defaults: none beyond the type.
func (a *ApplicationProfile) Defaults() {}

// Validate checks the profile's type.
func (a *ApplicationProfile) Validate() error {
	if err := validateName(&a.Meta); err != nil {
		return err
	}
	return oneOf("type", a.Type, ProfileHTTP, ProfileL4)
}

// Tenant is the profile's tenant reference.
func (a *ApplicationProfile) Tenant() *string { return &a.TenantRef }

// Refs: the tenant.
func (a *ApplicationProfile) Refs() []Ref { return tenantRefs(&a.TenantRef) }

// Secrets: none.
func (a *ApplicationProfile) Secrets() []*string { return nil }

// VirtualService is a service the SEs offer on its ports, balanced over a pool.
type VirtualService struct {
	Meta
	CreatedBy string `json:"created_by,omitempty"` // as HealthMonitor.CreatedBy
	TenantRef string `json:"tenant_ref,omitempty"`
	// IPAddress is the VIP's address: avi-init's older form, derived from vip[] (settleVIP).
	IPAddress *IPAddr `json:"ip_address,omitempty"`
	// Vip is the service's own VIP, or a copy of its vsvip's (VsVipRef).
	Vip                   []Vip            `json:"vip,omitempty"`
	VsVipRef              string           `json:"vsvip_ref,omitempty"`
	Subnet                *Subnet          `json:"subnet,omitempty"`
	Services              []Service        `json:"services"`
	PoolRef               string           `json:"pool_ref,omitempty"`
	ApplicationProfileRef string           `json:"application_profile_ref,omitempty"`
	AnalyticsPolicy       *AnalyticsPolicy `json:"analytics_policy,omitempty"`
	EastWestPlacement     bool             `json:"east_west_placement,omitempty"`
	Enabled               *bool            `json:"enabled,omitempty"`
	CloudRef              string           `json:"cloud_ref,omitempty"`
	// SEGroupRef is the service engine group whose SEs serve the virtual service: by default
	// its cloud's DefaultSEGroup (filled by Settle).
	SEGroupRef string `json:"se_group_ref,omitempty"`
}

// Subnet is an address and mask.
type Subnet struct {
	IPAddr IPAddr `json:"ip_addr"`
	Mask   int    `json:"mask"`
}

// Service is one port of a virtual service.
type Service struct {
	Port         int  `json:"port"`
	PortRangeEnd int  `json:"port_range_end,omitempty"`
	EnableSSL    bool `json:"enable_ssl,omitempty"`
}

// AnalyticsPolicy says what the SEs record for the virtual service.
type AnalyticsPolicy struct {
	MetricsRealtimeUpdate *Toggle `json:"metrics_realtime_update,omitempty"`
	ClientInsights        string  `json:"client_insights,omitempty"`
	FullClientLogs        *Toggle `json:"full_client_logs,omitempty"`
}

// Toggle is an enabled flag with a duration in minutes (0: forever).
type Toggle struct {
	Enabled  bool `json:"enabled"`
	Duration int  `json:"duration,omitempty"`
}

// Defaults: the System-HTTP profile, enabled, default analytics.
func (v *VirtualService) Defaults() {
	defaultVips(v.Vip)
	if v.ApplicationProfileRef == "" {
		v.ApplicationProfileRef = DefaultProfileRef
	}
	if v.Enabled == nil {
		v.Enabled = boolPtr(true)
	}
	if v.AnalyticsPolicy == nil {
		v.AnalyticsPolicy = &AnalyticsPolicy{}
	}
	if v.AnalyticsPolicy.ClientInsights == "" {
		v.AnalyticsPolicy.ClientInsights = "NO_INSIGHTS"
	}
	if v.AnalyticsPolicy.MetricsRealtimeUpdate == nil {
		v.AnalyticsPolicy.MetricsRealtimeUpdate = &Toggle{Enabled: false}
	}
	if v.AnalyticsPolicy.FullClientLogs == nil {
		v.AnalyticsPolicy.FullClientLogs = &Toggle{Enabled: false}
	}
}

// Validate checks the virtual service's fields.
func (v *VirtualService) Validate() error {
	if err := validateName(&v.Meta); err != nil {
		return err
	}
	if len(v.Services) == 0 {
		return fieldErr("services", "at least one service port is required")
	}
	if err := maxItems("services", len(v.Services), MaxServicesPerVirtualService, "services"); err != nil {
		return err
	}
	seen := map[int]bool{}
	for i, s := range v.Services {
		f := fmt.Sprintf("services[%d]", i)
		if err := between(f+".port", s.Port, 1, 65535); err != nil {
			return err
		}
		if s.PortRangeEnd != 0 && (s.PortRangeEnd < s.Port || s.PortRangeEnd > 65535) {
			return fieldErr(f+".port_range_end", "%d: want %d to 65535", s.PortRangeEnd, s.Port)
		}
		if seen[s.Port] {
			return fieldErr(f+".port", "%d is listed twice", s.Port)
		}
		seen[s.Port] = true
	}
	if v.IPAddress != nil {
		if err := v.IPAddress.validate("ip_address"); err != nil {
			return err
		}
		if v.IPAddress.Type == "DNS" {
			return fieldErr("ip_address.type", "a VIP must be V4 or V6")
		}
	}
	if err := validateVips("vip", v.Vip); err != nil {
		return err
	}
	if v.Subnet != nil {
		if err := v.Subnet.IPAddr.validate("subnet.ip_addr"); err != nil {
			return err
		}
		if err := between("subnet.mask", v.Subnet.Mask, 0, 128); err != nil {
			return err
		}
	}
	if a := v.AnalyticsPolicy; a != nil {
		if err := oneOf("analytics_policy.client_insights", a.ClientInsights, "NO_INSIGHTS", "PASSIVE", "ACTIVE"); err != nil {
			return err
		}
		for name, t := range map[string]*Toggle{"metrics_realtime_update": a.MetricsRealtimeUpdate, "full_client_logs": a.FullClientLogs} {
			if t != nil && t.Duration < 0 {
				return fieldErr("analytics_policy."+name+".duration", "%d: must not be negative", t.Duration)
			}
		}
	}
	return nil
}

// Tenant is the virtual service's tenant reference.
func (v *VirtualService) Tenant() *string { return &v.TenantRef }

// Refs: the profile, the pool, the cloud, the SE group (named within the cloud, which resolves
// first) and the tenant.
func (v *VirtualService) Refs() []Ref {
	refs := []Ref{{Field: "application_profile_ref", Kind: KindApplicationProfile, Value: &v.ApplicationProfileRef}}
	if v.PoolRef != "" {
		refs = append(refs, Ref{Field: "pool_ref", Kind: KindPool, Value: &v.PoolRef})
	}
	if v.VsVipRef != "" {
		refs = append(refs, Ref{Field: "vsvip_ref", Kind: KindVsVip, Value: &v.VsVipRef})
	}
	if v.CloudRef != "" {
		refs = append(refs, Ref{Field: "cloud_ref", Kind: KindCloud, Value: &v.CloudRef})
	}
	if v.SEGroupRef != "" {
		refs = append(refs, Ref{Field: "se_group_ref", Kind: KindServiceEngineGroup, Value: &v.SEGroupRef, Scope: &v.CloudRef})
	}
	return append(refs, tenantRefs(&v.TenantRef)...)
}

// Secrets: none.
func (v *VirtualService) Secrets() []*string { return nil }

// IsEnabled reports whether the virtual service is enabled (the default).
func (v *VirtualService) IsEnabled() bool { return v.Enabled == nil || *v.Enabled }

// DefaultSEGroup is the service engine group every cloud has built in, as Avi's.
const DefaultSEGroup = "Default-Group"

// ServiceEngine is an SE that joined the controller. The controller writes it; the API reads it.
type ServiceEngine struct {
	Meta
	TenantRef      string      `json:"tenant_ref,omitempty"`
	MgmtIPAddress  *IPAddr     `json:"mgmt_ip_address,omitempty"`
	SEGroupRef     string      `json:"se_group_ref,omitempty"` // the group it joined
	Hostname       string      `json:"hostname,omitempty"`
	Version        string      `json:"version,omitempty"`
	SEConnected    bool        `json:"se_connected"`
	OperStatus     *OperStatus `json:"oper_status,omitempty"`
	ConfigVersion  int64       `json:"config_version"`
	LastHeartbeat  string      `json:"last_heartbeat,omitempty"`
	ConfigError    string      `json:"config_error,omitempty"`
	ReportsDropped int64       `json:"reports_dropped"` // reports for virtual services not placed on it
	CredentialHash string      `json:"credential_hash,omitempty"`
}

// OperStatus is an object's operational state.
type OperStatus struct {
	State  string `json:"state"` // OPER_UP, OPER_DOWN
	Reason string `json:"reason,omitempty"`
}

// Defaults: none.
func (s *ServiceEngine) Defaults() {}

// Validate checks what the SE reported of itself: its name, host name and version.
func (s *ServiceEngine) Validate() error {
	return firstErr(validateName(&s.Meta), printable("hostname", s.Hostname, MaxHostnameLength), printable("version", s.Version, MaxStringLength))
}

// Refs: its tenant and its group (an SE stored before groups existed has none: it is in Default-Cloud's
// DefaultSEGroup).
func (s *ServiceEngine) Refs() []Ref {
	refs := tenantRefs(&s.TenantRef)
	if s.SEGroupRef == "" {
		return refs
	}
	return append(refs, Ref{Field: "se_group_ref", Kind: KindServiceEngineGroup, Value: &s.SEGroupRef})
}

// Tenant is the SE's tenant reference: always admin.
func (s *ServiceEngine) Tenant() *string { return &s.TenantRef }

// Secrets: the hash of the SE's credential.
func (s *ServiceEngine) Secrets() []*string { return []*string{&s.CredentialHash} }

// JoinToken lets an SE join. Its secret is kept as a hash; the token is shown once, at creation.
// It lets MaxUses SEs join (one unless the operator chose more) until it expires.
type JoinToken struct {
	Meta
	Description string `json:"description,omitempty"`
	Created     string `json:"created"`
	Expires     string `json:"expires"`
	MaxUses     int    `json:"max_uses"`
	Uses        int    `json:"uses"`
	// Scope is what the token lets join: "" an SE, "cluster" a controller.
	Scope      string `json:"scope,omitempty"`
	SecretHash string `json:"secret_hash,omitempty"`
}

// MaxJoinTokenUses bounds how many SEs one join token may let in.
const MaxJoinTokenUses = 10000

// Defaults: a token is single-use.
func (j *JoinToken) Defaults() {
	if j.MaxUses == 0 {
		j.MaxUses = 1
	}
}

// Validate: the name is the token id; max_uses is 1 to MaxJoinTokenUses; the description is the
// operator's.
func (j *JoinToken) Validate() error {
	if j.MaxUses < 1 || j.MaxUses > MaxJoinTokenUses {
		return fieldErr("max_uses", "%d: want 1 to %d", j.MaxUses, MaxJoinTokenUses)
	}
	return firstErr(validateName(&j.Meta), checkDescription("description", j.Description))
}

// UsedUp reports whether as many SEs joined with the token as it allows. A token stored before
// tokens counted their uses (max_uses 0) is single-use.
func (j *JoinToken) UsedUp() bool { return j.Uses >= max(j.MaxUses, 1) }

// Refs: none.
func (j *JoinToken) Refs() []Ref { return nil }

// Secrets: the hash of the token's secret.
func (j *JoinToken) Secrets() []*string { return []*string{&j.SecretHash} }
