package avi

import (
	"fmt"
	"strconv"
)

// VsVip holds the addresses of one or more virtual services (Avi's vsvip): today's SDKs and the
// Terraform provider give a service its VIP by referring to one (virtualservice.vsvip_ref).
type VsVip struct {
	Meta
	TenantRef     string    `json:"tenant_ref,omitempty"`
	CloudRef      string    `json:"cloud_ref,omitempty"`
	VrfContextRef string    `json:"vrf_context_ref,omitempty"`
	Vip           []Vip     `json:"vip,omitempty"`
	DNSInfo       []DNSInfo `json:"dns_info,omitempty"`
	// EastWestPlacement: the services listen on every SE of their group. Until IPAM allocates
	// east-west addresses (issue 17) such a vsvip has no address.
	EastWestPlacement *bool `json:"east_west_placement,omitempty"`
}

// Vip is one address of a vsvip or of a virtual service's inline vip[].
type Vip struct {
	VipID          string  `json:"vip_id"`
	IPAddress      *IPAddr `json:"ip_address,omitempty"`
	Enabled        *bool   `json:"enabled,omitempty"`
	AutoAllocateIP bool    `json:"auto_allocate_ip,omitempty"`
}

// DNSInfo is a name the DNS service answers with the vsvip's addresses.
type DNSInfo struct {
	FQDN string `json:"fqdn,omitempty"`
	TTL  int    `json:"ttl,omitempty"`
	Type string `json:"type,omitempty"`
}

// Defaults: vips are numbered from 0 and enabled; a DNS record is an A record.
func (v *VsVip) Defaults() {
	defaultVips(v.Vip)
	if v.EastWestPlacement == nil {
		v.EastWestPlacement = boolPtr(false)
	}
	for i := range v.DNSInfo {
		if v.DNSInfo[i].Type == "" {
			v.DNSInfo[i].Type = "DNS_RECORD_A"
		}
	}
}

func defaultVips(vips []Vip) {
	for i := range vips {
		if vips[i].VipID == "" {
			vips[i].VipID = strconv.Itoa(i)
		}
		if vips[i].Enabled == nil {
			vips[i].Enabled = boolPtr(true)
		}
	}
}

// Validate checks the addresses and names.
func (v *VsVip) Validate() error {
	if err := validateName(&v.Meta); err != nil {
		return err
	}
	if err := validateVips("vip", v.Vip); err != nil {
		return err
	}
	if *v.EastWestPlacement && vipAddress(v.Vip) != nil {
		return fieldErr("east_west_placement", "an east-west vsvip has no address until IPAM allocates them (issue 17): its services listen on every SE of their group; remove vip[].ip_address")
	}
	if err := maxItems("dns_info", len(v.DNSInfo), MaxListItems, "names"); err != nil {
		return err
	}
	for i, d := range v.DNSInfo {
		f := fmt.Sprintf("dns_info[%d]", i)
		if err := firstErr(checkHostname(f+".fqdn", d.FQDN), between(f+".ttl", d.TTL, 0, 86400),
			oneOf(f+".type", d.Type, "DNS_RECORD_A", "DNS_RECORD_AAAA", "DNS_RECORD_CNAME")); err != nil {
			return err
		}
	}
	return nil
}

func checkHostname(field, name string) error {
	return IPAddr{Addr: name, Type: "DNS"}.validate(field)
}

// validateVips checks a vip list: unique ids, valid addresses, and the one address per virtual
// service the SEs serve today.
func validateVips(field string, vips []Vip) error {
	if err := maxItems(field, len(vips), MaxListItems, "vips"); err != nil {
		return err
	}
	ids := map[string]bool{}
	var addr string
	for i, vip := range vips {
		f := fmt.Sprintf("%s[%d]", field, i)
		if ids[vip.VipID] {
			return fieldErr(f+".vip_id", "%q is listed twice", vip.VipID)
		}
		ids[vip.VipID] = true
		if err := printable(f+".vip_id", vip.VipID, MaxNameLength); err != nil {
			return err
		}
		if vip.AutoAllocateIP {
			return fieldErr(f+".auto_allocate_ip", "VIP allocation needs IPAM, which avi-init does not have yet (issue 17): give %s.ip_address", f)
		}
		a := vip.IPAddress
		if a == nil {
			continue
		}
		if err := a.validate(f + ".ip_address"); err != nil {
			return err
		}
		if a.Type == "DNS" {
			return fieldErr(f+".ip_address.type", "a VIP must be V4 or V6")
		}
		if vip.Enabled != nil && !*vip.Enabled {
			continue
		}
		if addr != "" && addr != a.Addr {
			return fieldErr(f+".ip_address", "%s: a virtual service has one VIP address today (%s); disable or remove the others", a.Addr, addr)
		}
		addr = a.Addr
	}
	return nil
}

// vipAddress is the address of the first enabled vip that has one.
func vipAddress(vips []Vip) *IPAddr {
	for _, v := range vips {
		if v.IPAddress != nil && (v.Enabled == nil || *v.Enabled) {
			a := *v.IPAddress
			return &a
		}
	}
	return nil
}

// Tenant is the vsvip's tenant reference.
func (v *VsVip) Tenant() *string { return &v.TenantRef }

// Refs: the cloud, the VRF (named within the cloud, which resolves first) and the tenant.
func (v *VsVip) Refs() []Ref {
	var refs []Ref
	if v.CloudRef != "" {
		refs = append(refs, Ref{Field: "cloud_ref", Kind: KindCloud, Value: &v.CloudRef})
	}
	if v.VrfContextRef != "" {
		refs = append(refs, Ref{Field: "vrf_context_ref", Kind: KindVrfContext, Value: &v.VrfContextRef, Scope: &v.CloudRef})
	}
	return append(refs, tenantRefs(&v.TenantRef)...)
}

// Secrets: none.
func (v *VsVip) Secrets() []*string { return nil }

// Feeds: a virtual service's VIP is its vsvip's, so the store settles the services referring to
// a vsvip again when it changes.
func (v *VsVip) Feeds() Kind { return KindVirtualService }

// Source is an object other objects derive fields from (Settled objects referring to it): the
// store settles those again in the transaction that changes it.
type Source interface {
	Feeds() Kind
}

// settleVIP makes the virtual service's vip[] and ip_address agree: with a vsvip_ref both are
// its vsvip's; otherwise ip_address is the first enabled vip's address and an ip_address alone
// becomes vip[0]. A writer that sends one of the two forms changed, or only the form it knows,
// keeps its VIP: a client that knows only vip[] (today's SDKs) never drops an ip_address it did
// not send, and one that knows only ip_address changes the VIP with it.
func (v *VirtualService) settleVIP(uuid string, l Lister) error {
	var old *VirtualService
	if o, ok := l.Lookup(KindVirtualService, uuid); ok {
		old = o.(*VirtualService)
	}
	if v.VsVipRef != "" {
		o, ok := l.Lookup(KindVsVip, UUIDOf(v.VsVipRef))
		if !ok {
			return fieldErr("vsvip_ref", "%q: no such vsvip", v.VsVipRef)
		}
		vsvip := o.(*VsVip)
		// Fields echoed back from a read are the vsvip's; anything else is a change the client
		// must make to the vsvip.
		if v.IPAddress != nil && !sameAddr(v.IPAddress, vipAddress(vsvip.Vip)) && (old == nil || !sameAddr(old.IPAddress, v.IPAddress)) {
			return fieldErr("ip_address", "the VIP of a virtual service with a vsvip_ref is its vsvip's (%s): change vsvip %s, or leave ip_address out", addrString(vipAddress(vsvip.Vip)), vsvip.Name)
		}
		if len(v.Vip) > 0 && !sameVips(v.Vip, vsvip.Vip) && (old == nil || !sameVips(old.Vip, v.Vip)) {
			return fieldErr("vip", "the vips of a virtual service with a vsvip_ref are its vsvip's: change vsvip %s, or leave vip out", vsvip.Name)
		}
		if v.CloudRef != "" && vsvip.CloudRef != "" && v.CloudRef != vsvip.CloudRef {
			return fieldErr("vsvip_ref", "vsvip %s is in another cloud than the virtual service", vsvip.Name)
		}
		v.fillVIP(l)
		return nil
	}
	if v.IPAddress != nil && len(v.Vip) > 0 && !sameAddr(v.IPAddress, vipAddress(v.Vip)) {
		switch {
		case old != nil && sameAddr(old.IPAddress, v.IPAddress):
			v.IPAddress = nil // the client changed vip[]
		case old != nil && sameVips(old.Vip, v.Vip):
			v.Vip = nil // the client changed ip_address
		default:
			return fieldErr("ip_address", "%s differs from vip[].ip_address %s: give the VIP once", v.IPAddress.Addr, addrString(vipAddress(v.Vip)))
		}
	}
	v.fillVIP(l)
	return nil
}

// fillVIP derives the fields the VIP is stored with (FillRefs): a vsvip's vips and placement, or
// vip[] and ip_address from each other.
func (v *VirtualService) fillVIP(l Lister) {
	if v.VsVipRef != "" {
		if o, ok := l.Lookup(KindVsVip, UUIDOf(v.VsVipRef)); ok {
			vsvip := o.(*VsVip)
			v.Vip = append([]Vip(nil), vsvip.Vip...)
			for i := range v.Vip {
				if a := v.Vip[i].IPAddress; a != nil {
					c := *a
					v.Vip[i].IPAddress = &c
				}
			}
			v.IPAddress = vipAddress(v.Vip)
			v.EastWestPlacement = vsvip.EastWestPlacement != nil && *vsvip.EastWestPlacement
		}
		return
	}
	switch {
	case v.IPAddress != nil && len(v.Vip) == 0:
		a := *v.IPAddress
		v.Vip = []Vip{{VipID: "0", IPAddress: &a, Enabled: boolPtr(true)}}
	case len(v.Vip) > 0:
		v.IPAddress = vipAddress(v.Vip)
	}
}

func sameAddr(a, b *IPAddr) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.Addr == b.Addr && a.Type == b.Type)
}

func sameVips(a, b []Vip) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.VipID != y.VipID || !sameAddr(x.IPAddress, y.IPAddress) || x.AutoAllocateIP != y.AutoAllocateIP ||
			(x.Enabled == nil || *x.Enabled) != (y.Enabled == nil || *y.Enabled) {
			return false
		}
	}
	return true
}

func addrString(a *IPAddr) string {
	if a == nil {
		return "none"
	}
	return a.Addr
}
