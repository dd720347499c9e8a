package avi

import (
	"strings"
	"time"
	"unicode/utf8"
)

// API tokens, as Avi's /api/user-token: a user mints a token for automation, valid for some
// hours; it acts as the user, never with more access than the user holds at the time of each
// request, and possibly with less (its scope).
const (
	DefaultTokenHours = 24
	MaxTokenHours     = 8760 // a year
	// MaxTokenDescription bounds a token's description, in characters.
	MaxTokenDescription = 256
)

// AuthToken is an API token. Its secret is kept only as a SHA-256 hash: the token is shown once,
// at creation.
type AuthToken struct {
	Meta
	UserRef     string `json:"user_ref"`
	Description string `json:"description,omitempty"`
	Created     string `json:"created"`
	Expires     string `json:"expires"`
	LastUsed    string `json:"last_used,omitempty"`
	// The scope: ReadOnly caps every privilege at READ_ACCESS; RoleRef caps each at what that role
	// grants. Neither: the owner's access, whatever it is at the time of the request.
	ReadOnly  bool   `json:"read_only,omitempty"`
	RoleRef   string `json:"role_ref,omitempty"`
	TokenHash string `json:"token_hash,omitempty"`
}

// Defaults: none.
func (a *AuthToken) Defaults() {}

// Validate checks the description and that the scope is one of the two.
func (a *AuthToken) Validate() error {
	if err := validateName(&a.Meta); err != nil {
		return err
	}
	if utf8.RuneCountInString(a.Description) > MaxTokenDescription {
		return fieldErr("description", "longer than %d characters", MaxTokenDescription)
	}
	if strings.ContainsFunc(a.Description, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fieldErr("description", "must be printable")
	}
	if a.ReadOnly && a.RoleRef != "" {
		return fieldErr("role_ref", "a token is read_only or scoped by a role, not both")
	}
	if a.UserRef == "" {
		return fieldErr("user_ref", "is required")
	}
	return nil
}

// Refs: the owner and the scope's role.
func (a *AuthToken) Refs() []Ref {
	refs := []Ref{{Field: "user_ref", Kind: KindUser, Value: &a.UserRef}}
	if a.RoleRef != "" {
		refs = append(refs, Ref{Field: "role_ref", Kind: KindRole, Value: &a.RoleRef})
	}
	return refs
}

// Expired reports whether the token no longer authenticates at now: at Expires and after, or
// with an Expires that is no RFC 3339 time.
func (a *AuthToken) Expired(now time.Time) bool {
	exp, err := time.Parse(time.RFC3339, a.Expires)
	return err != nil || !now.Before(exp)
}

// Secrets: the hash of the token.
func (a *AuthToken) Secrets() []*string { return []*string{&a.TokenHash} }

// Cap is the access a token with this scope leaves of have: at most READ_ACCESS when read-only,
// at most what role grants to resource when scoped by a role (nil: no role).
func (a *AuthToken) Cap(resource, have string, role *Role) string {
	limit := WriteAccess
	switch {
	case a.ReadOnly:
		limit = ReadAccess
	case role != nil:
		limit = role.Access(resource)
	}
	if AccessRank(limit) < AccessRank(have) {
		return limit
	}
	return have
}

// AllAccessRole grants write access to every resource: what a superuser holds, as a role.
func AllAccessRole() *Role {
	r := &Role{}
	for _, res := range Resources {
		r.Privileges = append(r.Privileges, Permission{Resource: res.Name, Type: WriteAccess})
	}
	return r
}
