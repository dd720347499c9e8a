package avi

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The limits of what one object may hold (docs/api.md, "Limits"). They keep one write from
// making the controller and every SE hold and check an unbounded configuration; each is well
// above what a real deployment needs. A write over one is refused with a 400 naming the field
// and the limit.
const (
	MaxServersPerPool            = 5000
	MaxHealthMonitorsPerPool     = 20
	MaxServicesPerVirtualService = 1024
	MaxHostsPerCloud             = 1024
	// MaxListItems bounds every other list field (DNS and NTP servers, response codes, access
	// grants, privileges, Marathons).
	MaxListItems = 256
	// MaxNameLength is in characters, as is MaxDescriptionLength.
	MaxNameLength        = 256
	MaxDescriptionLength = 1024
	// MaxHostnameLength is a DNS name's (RFC 1035), in bytes.
	MaxHostnameLength = 255
	// MaxMonitorDataLength bounds what a health monitor sends and expects, in bytes.
	MaxMonitorDataLength = 1024
	// MaxStringLength bounds the other free-text fields (versions, URLs, user names), in bytes.
	MaxStringLength = 1024
	// MaxPasswordBytes is bcrypt's limit: it ignores what follows, so a longer password is
	// refused rather than silently cut.
	MaxPasswordBytes = 72
)

// maxItems refuses a list of more than limit items, naming the field, what it counts and the limit.
func maxItems(field string, n, limit int, what string) error {
	if n > limit {
		return fieldErr(field, "%d %s: at most %d allowed", n, what, limit)
	}
	return nil
}

// isControl reports a control character (C0, DEL or C1), NUL among them.
func isControl(r rune) bool { return unicode.IsControl(r) }

// printable refuses a string with a control character or over limit bytes.
func printable(field, s string, limit int) error {
	if len(s) > limit {
		return fieldErr(field, "%d bytes: at most %d allowed", len(s), limit)
	}
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fieldErr(field, "holds control character %U at byte %d: not allowed", r, i)
	}
	return nil
}

// checkDescription refuses a description over MaxDescriptionLength characters or with control
// characters other than line breaks and tabs.
func checkDescription(field, s string) error {
	if n := utf8.RuneCountInString(s); n > MaxDescriptionLength {
		return fieldErr(field, "%d characters: at most %d allowed", n, MaxDescriptionLength)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return isControl(r) && r != '\n' && r != '\t' }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fieldErr(field, "holds control character %U at byte %d: not allowed", r, i)
	}
	return nil
}

// linuxUserRE is a portable Linux user name, as useradd accepts it by default.
var linuxUserRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// LinuxUserRule says what ValidLinuxUser accepts, for messages.
const LinuxUserRule = "a Linux user name: a lower case letter or _, then lower case letters, digits, _ and -, at most 32 in all"

// ValidLinuxUser reports whether name is a Linux user name the controller logs in to hosts as
// and the host install script creates: the one rule every part of the program checks.
func ValidLinuxUser(name string) bool { return linuxUserRE.MatchString(name) }

// firstErr is the first error of a list of checks, in the order they are listed.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkMonitorData refuses what a TCP health monitor sends or expects over
// MaxMonitorDataLength bytes or with control characters other than CR, LF and tab, which
// line-based protocols need; NUL among them.
func checkMonitorData(field, s string) error {
	if len(s) > MaxMonitorDataLength {
		return fieldErr(field, "%d bytes: at most %d allowed", len(s), MaxMonitorDataLength)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return isControl(r) && r != '\r' && r != '\n' && r != '\t' }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fieldErr(field, "holds control character %U at byte %d: not allowed", r, i)
	}
	return nil
}
