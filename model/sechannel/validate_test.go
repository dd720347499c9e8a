package sechannel

import (
	"strings"
	"testing"
	"unicode"
)

// hasC0OrDEL reports whether s holds a byte below 0x20 or DEL, the characters CheckText must
// refuse whatever else it refuses.
func hasC0OrDEL(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"se-1", true},
		{"rack 4 hosts, Zürich", true},
		{"", true},
		{"se\x00", false},
		{"line\nforged", false},
		{"bell\a", false},
		{"tab\there", false},
		{"del\x7f", false},
		{"c1\u0085", false},
		{"\x1b[31mred", false},
	} {
		err := CheckText("hostname", c.in)
		if (err == nil) != c.ok {
			t.Errorf("CheckText(%q) = %v, want ok %v", c.in, err, c.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "hostname: ") {
			t.Errorf("CheckText(%q) = %q: does not name the field", c.in, err)
		}
	}
}

func TestJoinRequestValidateNamesTheField(t *testing.T) {
	good := JoinRequest{Name: "se-1", Hostname: "host-1", Version: "1.0", MgmtIP: "192.0.2.1"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good join request: %v", err)
	}
	for field, set := range map[string]func(*JoinRequest){
		"name":     func(j *JoinRequest) { j.Name = "se\x00" },
		"hostname": func(j *JoinRequest) { j.Hostname = "host\n1" },
		"version":  func(j *JoinRequest) { j.Version = "1.0\r" },
		"mgmt_ip":  func(j *JoinRequest) { j.MgmtIP = "192.0.2.1\x7f" },
	} {
		j := good
		set(&j)
		if err := j.Validate(); err == nil || !strings.HasPrefix(err.Error(), field+": ") {
			t.Errorf("%s with a control character: %v, want an error naming %s", field, err, field)
		}
	}
	if err := (JoinRequest{}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "name: ") {
		t.Errorf("no name: %v, want name: is required", err)
	}
}

// FuzzCheckText: every C0 control and DEL is refused, text without control characters passes,
// and the error never carries a control character of its own.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"se-1", "", "a\x00b", "x\ny", "\x7f", "é\u0085", "\xff\xfe", "\x1b[2J"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckText("name", s)
		if hasC0OrDEL(s) && err == nil {
			t.Fatalf("CheckText(%q) accepted a control character", s)
		}
		if err == nil && strings.IndexFunc(s, unicode.IsControl) >= 0 {
			t.Fatalf("CheckText(%q) accepted a control character", s)
		}
		if err != nil {
			if strings.IndexFunc(s, unicode.IsControl) < 0 {
				t.Fatalf("CheckText(%q) refused text without control characters: %v", s, err)
			}
			if msg := err.Error(); strings.IndexFunc(msg, unicode.IsControl) >= 0 || !strings.HasPrefix(msg, "name: ") {
				t.Fatalf("CheckText(%q) error %q: want the field named and no control character", s, msg)
			}
		}
	})
}
