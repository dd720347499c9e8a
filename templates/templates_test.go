package templates_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/avi-init/avi-init/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// controllerUnit is the unit the installer renders for the controller (see installer/install.go).
var controllerUnit = templates.Unit{
	Role:         "controller",
	Description:  "Avi Vantage Controller (avi-init)",
	Binary:       "/usr/local/sbin/avi-init",
	EnvFile:      "/etc/avi-init/avicontroller.env",
	StartTimeout: 120,
}

// controllerEnv is a controller env file as containerspec.Settings.Env writes it.
var controllerEnv = []templates.KV{
	{"AVI_ROLE", "controller"},
	{"AVI_IMAGE", "avi-init/controller:1.0.0"},
	{"AVI_CORES", "4"},
	{"AVI_MEMORY_MB", "8192"},
	{"AVI_DATA_DIR", "/opt/avi/controller/data"},
	{"AVI_DISK_GB", "10"},
	{"AVI_METRICS_DIR", ""},
	{"AVI_LOGS_DIR", ""},
	{"AVI_CONTROLLER_IP", "192.0.2.10"},
	{"AVI_MGMT_IP", ""},
	{"AVI_HTTPS_PORT", "443"},
	{"AVI_HTTP_PORT", "80"},
	{"AVI_DNS_PORT", "53"},
	{"AVI_SYSINT_PORT", "8443"},
}

// golden compares got with testdata/name byte for byte; with -update it rewrites the file.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendered text (run go test -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func parseUnit(t testing.TB, text []byte) []*unit.UnitOption {
	t.Helper()
	opts, err := unit.DeserializeOptions(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("DeserializeOptions: %v\n%s", err, text)
	}
	return opts
}

// lookup returns the values of section/name, in order.
func lookup(opts []*unit.UnitOption, section, name string) []string {
	var vs []string
	for _, o := range opts {
		if o.Section == section && o.Name == name {
			vs = append(vs, o.Value)
		}
	}
	return vs
}

func TestRenderUnitGolden(t *testing.T) {
	text, err := templates.RenderUnit(controllerUnit)
	if err != nil {
		t.Fatalf("RenderUnit: %v", err)
	}
	golden(t, "avicontroller.service.golden", text)

	opts := parseUnit(t, text)
	for _, c := range []struct{ section, name, want string }{
		{"Unit", "Description", "Avi Vantage Controller (avi-init)"},
		{"Service", "Type", "notify"},
		{"Service", "NotifyAccess", "main"},
		{"Service", "ExecStart", "/usr/local/sbin/avi-init supervise controller"},
		{"Service", "EnvironmentFile", "/etc/avi-init/avicontroller.env"},
		{"Service", "TimeoutStartSec", "120"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		got := lookup(opts, c.section, c.name)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("[%s] %s = %q, want exactly [%q]", c.section, c.name, got, c.want)
		}
	}
}

func TestRenderEnvGolden(t *testing.T) {
	text, err := templates.RenderEnv("controller", controllerEnv)
	if err != nil {
		t.Fatalf("RenderEnv: %v", err)
	}
	golden(t, "avicontroller.env.golden", text)

	env, err := templates.ParseEnv(text)
	if err != nil {
		t.Fatalf("ParseEnv: %v", err)
	}
	if len(env) != len(controllerEnv) {
		t.Errorf("ParseEnv returned %d keys, want %d: %v", len(env), len(controllerEnv), env)
	}
	for _, kv := range controllerEnv {
		if v, ok := env[kv.Key]; !ok || v != kv.Value {
			t.Errorf("ParseEnv[%s] = %q, %v; want %q", kv.Key, v, ok, kv.Value)
		}
	}
}

func TestValidateValue(t *testing.T) {
	for _, v := range []string{"", "Avi Controller", "a  b", "x=y", "192.0.2.10", "café", "a#b", "a;b", "[Service]", "100%"} {
		if err := templates.ValidateValue("v", v); err != nil {
			t.Errorf("ValidateValue(%q) = %v, want nil", v, err)
		}
	}
	for _, c := range []struct{ name, v, errHas string }{
		{"newline", "a\nb", "line break"},
		{"newline at end", "a\n", "line break"},
		{"carriage return", "a\rb", "line break"},
		{"NUL", "a\x00b", "control character"},
		{"tab", "a\tb", "control character"},
		{"escape", "a\x1b[31mb", "control character"},
		{"DEL", "a\x7fb", "control character"},
		{"C1 next line", "a\u0085b", "control character"},
		{"vertical tab", "a\vb", "control character"},
		{"double quote", `a"b`, "quotes"},
		{"single quote", "a'b", "quotes"},
		{"backslash", `a\b`, "backslash"},
		{"trailing backslash", `a\`, "backslash"},
		{"leading space", " a", "white space"},
		{"trailing space", "a ", "white space"},
		{"trailing no-break space", "a\u00a0", "white space"},
		{"invalid UTF-8", "a\xffb", "UTF-8"},
	} {
		err := templates.ValidateValue("v", c.v)
		if err == nil {
			t.Errorf("%s: ValidateValue(%q) = nil, want an error", c.name, c.v)
		} else if !strings.Contains(err.Error(), c.errHas) {
			t.Errorf("%s: ValidateValue(%q) = %v, want it to mention %q", c.name, c.v, err, c.errHas)
		}
	}
}

func TestValidatePath(t *testing.T) {
	for _, p := range []string{"/", "/usr/local/sbin/avi-init", "/opt/avi/controller/data", "/a.b_c+d@e-f/G9"} {
		if err := templates.ValidatePath("p", p); err != nil {
			t.Errorf("ValidatePath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{
		"", "relative/path", "./a",
		"/a\nb", "/a\n", "/a\rb", "/a\x00b", "/a\tb", "/a\x1bb", "/a\x7fb",
		`/a"b`, "/a'b", `/a\b`, `/a\`,
		" /a", "/a ", "/a b",
		"//a", "/a//b", "/a/./b", "/a/../b", "/a/..", "/a/",
		"/a%b", "/a$b", "/a;b", "/a#b", "/a=b", "/é",
	} {
		if err := templates.ValidatePath("p", p); err == nil {
			t.Errorf("ValidatePath(%q) = nil, want an error", p)
		}
	}
}

func TestRenderEnvRejects(t *testing.T) {
	for _, key := range []string{"", "lower", "Mixed", "1ABC", "A-B", "A B", "A\nB", "A=B", " A", "A\x00"} {
		if _, err := templates.RenderEnv("controller", []templates.KV{{"GOOD", "1"}, {key, "v"}}); err == nil {
			t.Errorf("RenderEnv with key %q = nil error, want an error", key)
		} else if !strings.Contains(err.Error(), "bad key") {
			t.Errorf("RenderEnv with key %q: %v, want a bad key error", key, err)
		}
	}
	for _, v := range []string{"a\nB=1", "a\r", `"a"`, " a", "a\\"} {
		if _, err := templates.RenderEnv("controller", []templates.KV{{"KEY", v}}); err == nil {
			t.Errorf("RenderEnv with value %q = nil error, want an error", v)
		}
	}
	for _, role := range []string{"", "Controller", "se\n#", "x y"} {
		if _, err := templates.RenderEnv(role, []templates.KV{{"KEY", "v"}}); err == nil || !strings.Contains(err.Error(), "role") {
			t.Errorf("RenderEnv with role %q: %v, want an error naming the role", role, err)
		}
	}
}

func TestRenderUnitRejects(t *testing.T) {
	for name, mod := range map[string]func(*templates.Unit){
		"role upper case":      func(u *templates.Unit) { u.Role = "Controller" },
		"role with space":      func(u *templates.Unit) { u.Role = "controller x" },
		"role empty":           func(u *templates.Unit) { u.Role = "" },
		"description newline":  func(u *templates.Unit) { u.Description = "x\nExecStartPre=/bin/sh" },
		"description percent":  func(u *templates.Unit) { u.Description = "100%n" },
		"description dollar":   func(u *templates.Unit) { u.Description = "$HOME" },
		"description trailing": func(u *templates.Unit) { u.Description = `x\` },
		"binary relative":      func(u *templates.Unit) { u.Binary = "avi-init" },
		"binary with space":    func(u *templates.Unit) { u.Binary = "/bin/sh -c x" },
		"binary with newline":  func(u *templates.Unit) { u.Binary = "/x\nUser=root" },
		"env file relative":    func(u *templates.Unit) { u.EnvFile = "x.env" },
		"env file with space":  func(u *templates.Unit) { u.EnvFile = "/x /y" },
		"timeout zero":         func(u *templates.Unit) { u.StartTimeout = 0 },
		"timeout negative":     func(u *templates.Unit) { u.StartTimeout = -1 },
	} {
		u := controllerUnit
		mod(&u)
		if text, err := templates.RenderUnit(u); err == nil {
			t.Errorf("%s: RenderUnit accepted %+v:\n%s", name, u, text)
		}
	}
}

// FuzzRenderEnv: a key and value either are refused, or the env file reads back as exactly that
// one key with exactly that value.
func FuzzRenderEnv(f *testing.F) {
	for _, kv := range controllerEnv {
		f.Add(kv.Key, kv.Value)
	}
	for _, v := range []string{"a\nB=1", "a\rB=1", "#x", ";x", "x=y=z", " x", "x ", "\u2028", "a\u0085b", "\xff", `"x"`, `x\`, "\x00"} {
		f.Add("KEY", v)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		text, err := templates.RenderEnv("controller", []templates.KV{{key, value}})
		if err != nil {
			return
		}
		env, err := templates.ParseEnv(text)
		if err != nil {
			t.Fatalf("RenderEnv(%q=%q) wrote a file ParseEnv refuses: %v\n%s", key, value, err, text)
		}
		if len(env) != 1 || env[key] != value {
			t.Fatalf("RenderEnv(%q=%q) reads back as %q\n%s", key, value, env, text)
		}
	})
}

// FuzzRenderEnvRole: the role named in the env file's header comment must not add a line either.
func FuzzRenderEnvRole(f *testing.F) {
	for _, r := range []string{"controller", "se", "x y", "#", "x\n#"} {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, role string) {
		text, err := templates.RenderEnv(role, []templates.KV{{"KEY", "v"}})
		if err != nil {
			return
		}
		env, err := templates.ParseEnv(text)
		if err != nil {
			t.Fatalf("RenderEnv(role %q) wrote a file ParseEnv refuses: %v\n%s", role, err, text)
		}
		if len(env) != 1 || env["KEY"] != "v" {
			t.Fatalf("RenderEnv(role %q) reads back as %q\n%s", role, env, text)
		}
	})
}

// FuzzRenderUnit: a binary path and description either are refused, or the unit parses to
// exactly the options of the reference unit, with Description and ExecStart carrying the fuzzed
// values unchanged: nothing added, removed or reordered.
func FuzzRenderUnit(f *testing.F) {
	ref, err := templates.RenderUnit(controllerUnit)
	if err != nil {
		f.Fatal(err)
	}
	refOpts := parseUnit(f, ref)

	f.Add(controllerUnit.Binary, controllerUnit.Description)
	f.Add("/usr/bin/avi-init", "")
	f.Add("/x", "a\nExecStartPre=/bin/sh")
	f.Add("/x\n[Service]", "d")
	f.Add("/x y", "d \\")
	f.Add("/x", "d%n$HOME")
	f.Add("/x", "[Install]")
	f.Add("/x", "d\rUser=root")
	f.Add("/x", "# not a comment")
	f.Fuzz(func(t *testing.T, binary, description string) {
		u := controllerUnit
		u.Binary, u.Description = binary, description
		text, err := templates.RenderUnit(u)
		if err != nil {
			return
		}
		opts, err := unit.DeserializeOptions(bytes.NewReader(text))
		if errors.Is(err, unit.ErrLineTooLong) {
			// go-systemd stops at 2048-byte lines; systemd itself reads lines up to 1 MiB.
			t.Skip("line longer than go-systemd parses")
		}
		if err != nil {
			t.Fatalf("RenderUnit(%q, %q) wrote a unit that does not parse: %v\n%s", binary, description, err, text)
		}
		if len(opts) != len(refOpts) {
			t.Fatalf("RenderUnit(%q, %q): %d options, want %d\n%s", binary, description, len(opts), len(refOpts), text)
		}
		for i, o := range opts {
			want := *refOpts[i]
			switch {
			case want.Section == "Unit" && want.Name == "Description":
				want.Value = description
			case want.Section == "Service" && want.Name == "ExecStart":
				want.Value = binary + " supervise controller"
			}
			if *o != want {
				t.Fatalf("RenderUnit(%q, %q): option %d is [%s] %s=%q, want [%s] %s=%q\n%s",
					binary, description, i, o.Section, o.Name, o.Value, want.Section, want.Name, want.Value, text)
			}
		}
		// ExecStart must stay one executable word and two arguments.
		if f := strings.Fields(lookup(opts, "Service", "ExecStart")[0]); len(f) != 3 || f[0] != binary {
			t.Fatalf("ExecStart splits into %q, want [%q supervise controller]", f, binary)
		}
	})
}
