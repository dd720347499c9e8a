// Package avi holds the configuration objects of the controller's REST API, with Avi's object
// names and JSON field names, so that Avi-style JSON (as carried in avi_proxy labels) is read as
// is. Each object knows its defaults, its rules and its references; the controller's API, its
// store and the SEs all share these types.
package avi

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Meta is what every object carries.
type Meta struct {
	UUID         string `json:"uuid,omitempty"`
	URL          string `json:"url,omitempty"`
	Name         string `json:"name"`
	LastModified string `json:"_last_modified,omitempty"`
	// Extra holds the fields of Avi's schema the object's Go type has no field for (ExtraOf);
	// the API answers them merged in (Document).
	Extra map[string]any `json:"_extra,omitempty"`
}

// GetMeta returns the object's common fields.
func (m *Meta) GetMeta() *Meta { return m }

// Object is one configuration object.
type Object interface {
	GetMeta() *Meta
	// Defaults fills the fields left empty with Avi's defaults.
	Defaults()
	// Validate checks the object's own fields; references are checked by the store.
	Validate() error
	// Refs lists the object's reference fields.
	Refs() []Ref
	// Secrets lists the fields that must never leave the controller in clear (passwords,
	// password hashes, private keys).
	Secrets() []*string
}

// Keyed is an object with fields other than its name that must be unique within its kind.
type Keyed interface {
	UniqueKeys() map[string]string // field: value
}

// Redact empties an object's secrets, for answers to clients.
func Redact(o Object) {
	for _, p := range o.Secrets() {
		*p = ""
	}
}

// Ref is one reference field: the kind it points at and the field holding it.
type Ref struct {
	Field string
	Kind  Kind
	Value *string
	// Scope, when set, is where a name reference is looked up: the URL of the object whose
	// children the referred kind's names are unique among (a cloud for service engine groups;
	// empty: Default-Cloud). See Scoped.
	Scope *string
}

// FieldError is a validation error naming the field at fault.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// IPAddr is Avi's address type.
type IPAddr struct {
	Addr string `json:"addr"`
	Type string `json:"type"` // V4, V6 or DNS
}

// IPOf is addr as Avi writes it: V4 for IPv4 (and IPv4-mapped IPv6) addresses, V6 for others.
func IPOf(addr netip.Addr) IPAddr {
	addr = addr.Unmap()
	if addr.Is4() {
		return IPAddr{Addr: addr.String(), Type: "V4"}
	}
	return IPAddr{Addr: addr.String(), Type: "V6"}
}

func (a IPAddr) validate(field string) error {
	switch a.Type {
	case "V4":
		if ip := net.ParseIP(a.Addr); ip == nil || ip.To4() == nil {
			return fieldErr(field+".addr", "%q is not an IPv4 address", a.Addr)
		}
	case "V6":
		if ip := net.ParseIP(a.Addr); ip == nil || ip.To4() != nil {
			return fieldErr(field+".addr", "%q is not an IPv6 address", a.Addr)
		}
	case "DNS":
		if len(a.Addr) > MaxHostnameLength {
			return fieldErr(field+".addr", "%d bytes: a host name has at most %d", len(a.Addr), MaxHostnameLength)
		}
		if a.Addr == "" || strings.ContainsFunc(a.Addr, func(r rune) bool { return r == ' ' || r == '/' || isControl(r) }) {
			return fieldErr(field+".addr", "%q is not a host name (no spaces, '/' or control characters)", a.Addr)
		}
	default:
		return fieldErr(field+".type", "%q: want V4, V6 or DNS", a.Type)
	}
	return nil
}

func oneOf(field, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fieldErr(field, "%q: want one of %s", v, strings.Join(allowed, ", "))
}

func between(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fieldErr(field, "%d: want %d to %d", v, lo, hi)
	}
	return nil
}

func validateName(m *Meta) error {
	if strings.TrimSpace(m.Name) == "" {
		return fieldErr("name", "is required")
	}
	if n := utf8.RuneCountInString(m.Name); n > MaxNameLength {
		return fieldErr("name", "%d characters: at most %d allowed", n, MaxNameLength)
	}
	return printable("name", m.Name, len(m.Name))
}

func boolPtr(b bool) *bool { return &b }

// Complete fills each object's defaults and validates it, as the store does on a write, so
// that an integration finds a bad object before writing anything; the error names the object.
func Complete[T Object](objs ...T) error {
	for _, o := range objs {
		o.Defaults()
		if err := o.Validate(); err != nil {
			return fmt.Errorf("%s: %w", o.GetMeta().Name, err)
		}
	}
	return nil
}

// UUIDOf is the uuid a stored reference (an object's URL, /api/<kind>/<uuid>) names.
func UUIDOf(ref string) string { return ref[strings.LastIndexByte(ref, '/')+1:] }
