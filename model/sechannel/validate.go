package sechannel

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/avi-init/avi-init/model/avi"
)

// CheckText refuses a text field holding a control character (NUL and the rest below 0x20, DEL,
// and the C1 controls): names, host names and versions are shown in the UI, written to logs and
// copied into shell lines, where such a character would forge lines or hide what follows. The
// error names the field and quotes the value, so it carries no control character itself.
func CheckText(field, s string) error {
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return &avi.FieldError{Field: field, Reason: fmt.Sprintf("%q: control character at byte %d; want printable text", s, i)}
	}
	return nil
}

// Validate checks what a joining SE says of itself before the controller keeps it.
func (j JoinRequest) Validate() error {
	if j.Name == "" {
		return &avi.FieldError{Field: "name", Reason: "is required"}
	}
	for _, f := range []struct{ field, value string }{
		{"name", j.Name}, {"hostname", j.Hostname}, {"version", j.Version}, {"mgmt_ip", j.MgmtIP},
	} {
		if err := CheckText(f.field, f.value); err != nil {
			return err
		}
	}
	return nil
}
