package installer

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// designLegacyFlags is DESIGN.md's legacy flag table, written out independently of the code.
// takesValue: the legacy flag is followed by a value word.
var designLegacyFlags = []struct {
	legacy, long string
	takesValue   bool
	value        string // a valid sample value
}{
	{"-c", "--controller", false, ""},
	{"-s", "--se", false, ""},
	{"-cc", "--controller-cores", true, "4"},
	{"-cm", "--controller-memory", true, "7"},
	{"-cd", "--controller-disk", true, "10"},
	{"-cdp", "--controller-data-dir", true, "/data/avi"},
	{"-cmdp", "--controller-metrics-dir", true, "/metrics"},
	{"-cmd", "--controller-metrics-disk", true, "20"},
	{"-cldp", "--controller-logs-dir", true, "/logs"},
	{"-cld", "--controller-logs-disk", true, "30"},
	{"-i", "--controller-ip", false, ""}, // optional value: see TestRewriteLegacyControllerIP
	{"-m", "--master-controller-ip", true, "192.0.2.1"},
	{"-sc", "--se-cores", true, "2"},
	{"-sm", "--se-memory-mb", true, "2048"},
	{"-sdp", "--se-data-dir", true, "/se"},
	{"-sd", "--se-disk", true, "15"},
	{"-sldp", "--se-logs-dir", true, "/selogs"},
	{"-sld", "--se-logs-disk", true, "5"},
	{"-sim", "--se-inband-mgmt", false, ""},
	{"-d", "--dpdk", false, ""},
	{"-sj", "--setup-json", true, "/root/setup.json"},
	{"-sysint", "--sysint-port", true, "9443"},
	{"-rmc", "--rm-containers", false, ""},
}

func TestLegacyTableMatchesDesign(t *testing.T) {
	want := map[string]string{}
	for _, f := range designLegacyFlags {
		want[f.legacy] = f.long
	}
	got := map[string]string{}
	for _, f := range legacyFlags {
		if _, dup := got[f.legacy]; dup {
			t.Errorf("legacy flag %s is in the table twice", f.legacy)
		}
		got[f.legacy] = f.long
	}
	if len(legacyFlags) != len(designLegacyFlags) {
		t.Errorf("the table has %d rows, DESIGN.md has %d", len(legacyFlags), len(designLegacyFlags))
	}
	for l, long := range want {
		if got[l] != long {
			t.Errorf("legacy %s: table says %q, DESIGN.md says %q", l, got[l], long)
		}
	}
	for l, long := range got {
		if _, ok := want[l]; !ok {
			t.Errorf("legacy %s -> %s is in the table but not in DESIGN.md", l, long)
		}
	}
	// Every long flag the table names exists in the flag set.
	fs := newFlagSet(&Options{})
	for _, f := range designLegacyFlags {
		if fs.Lookup(strings.TrimPrefix(f.long, "--")) == nil {
			t.Errorf("long flag %s (for %s) is not defined", f.long, f.legacy)
		}
	}
	// And DESIGN.md's long-only flags too.
	for _, name := range []string{"yes", "dry-run", "output", "no-start", "ignore-preflight-errors", "http-port", "https-port", "dns-port", "join-token", "image-tar"} {
		if fs.Lookup(name) == nil {
			t.Errorf("long-only flag --%s is not defined", name)
		}
	}
}

func TestRewriteLegacyEveryRow(t *testing.T) {
	for _, f := range designLegacyFlags {
		t.Run(f.legacy, func(t *testing.T) {
			in := []string{f.legacy}
			want := []string{f.long}
			if f.takesValue {
				in = append(in, f.value)
				want = append(want, f.value)
			}
			got, err := RewriteLegacy(in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("RewriteLegacy(%q) = %q, want %q", in, got, want)
			}
			// The '=' form.
			if f.takesValue {
				got, err := RewriteLegacy([]string{f.legacy + "=" + f.value})
				if err != nil {
					t.Fatal(err)
				}
				if w := []string{f.long + "=" + f.value}; !reflect.DeepEqual(got, w) {
					t.Errorf("RewriteLegacy(%s=%s) = %q, want %q", f.legacy, f.value, got, w)
				}
			}
			// Long flags pass through unchanged.
			got, err = RewriteLegacy(want)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("RewriteLegacy(%q) = %q, %v; want it unchanged", want, got, err)
			}
		})
	}
}

func TestRewriteLegacy(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"-i alone", []string{"-i"}, []string{"--controller-ip"}},
		{"-i then a flag", []string{"-i", "-c"}, []string{"--controller-ip", "--controller"}},
		{"-i with an address", []string{"-i", "192.0.2.10"}, []string{"--controller-ip=192.0.2.10"}},
		{"-i with an IPv6 address", []string{"-i", "2001:db8::1"}, []string{"--controller-ip=2001:db8::1"}},
		// A word that is not a flag is -i's value (a bad address is refused later, by Resolve).
		{"-i with a non-address", []string{"-i", "eth0"}, []string{"--controller-ip=eth0"}},
		{"-i=address then a word", []string{"-i=192.0.2.10", "192.0.2.11"}, []string{"--controller-ip=192.0.2.10", "192.0.2.11"}},
		{"long --controller-ip with an address", []string{"--controller-ip", "192.0.2.10"}, []string{"--controller-ip=192.0.2.10"}},
		{"long --controller-ip then a flag", []string{"--controller-ip", "-c"}, []string{"--controller-ip", "--controller"}},
		{"-i then --", []string{"-i", "--", "x"}, []string{"--controller-ip", "--", "x"}},
		{"-i=address", []string{"-i=192.0.2.10"}, []string{"--controller-ip=192.0.2.10"}},
		{"-cc=4", []string{"-cc=4"}, []string{"--controller-cores=4"}},
		{"-cdp=path with =", []string{"-cdp=/a=b"}, []string{"--controller-data-dir=/a=b"}},
		{"Avi example", []string{"-c", "-cd", "10", "-cc", "4", "-cm", "7", "-i"},
			[]string{"--controller", "--controller-disk", "10", "--controller-cores", "4", "--controller-memory", "7", "--controller-ip"}},
		{"after --", []string{"-c", "--", "-cc", "-xyz", "-i", "192.0.2.1"}, []string{"--controller", "--", "-cc", "-xyz", "-i", "192.0.2.1"}},
		{"-- first", []string{"--", "-c"}, []string{"--", "-c"}},
		{"lone dash", []string{"-"}, []string{"-"}},
		{"-h", []string{"-h"}, []string{"--help"}},
		{"positional", []string{"status"}, []string{"status"}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		got, err := RewriteLegacy(tt.in)
		if err != nil {
			t.Errorf("%s: RewriteLegacy(%q): %v", tt.name, tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: RewriteLegacy(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestRewriteLegacyDoesNotModifyInput(t *testing.T) {
	in := []string{"-c", "-cc", "4", "-i", "192.0.2.10"}
	cp := append([]string(nil), in...)
	if _, err := RewriteLegacy(in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, cp) {
		t.Errorf("RewriteLegacy changed its input: %q", in)
	}
}

func TestRewriteLegacyUnknown(t *testing.T) {
	for _, in := range [][]string{{"-xyz"}, {"-c", "-xyz"}, {"-C"}, {"-cc4"}, {"-x=1"}, {"-ii"}} {
		got, err := RewriteLegacy(in)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("RewriteLegacy(%q) = %q, %v; want a *UsageError", in, got, err)
			continue
		}
		bad := strings.SplitN(in[len(in)-1], "=", 2)[0]
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("RewriteLegacy(%q) error %q does not name %s", in, err, bad)
		}
	}
}

func TestParseInstallAviExample(t *testing.T) {
	o, err := ParseInstall([]string{"-c", "-cd", "10", "-cc", "4", "-cm", "7", "-i"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Controller || o.SE || o.ControllerDiskGB != 10 || o.ControllerCores != 4 || o.ControllerMemoryGB != 7 || o.ControllerIP != "detect" {
		t.Errorf("Options = %+v", o)
	}
	for _, name := range []string{"controller", "controller-disk", "controller-cores", "controller-memory", "controller-ip"} {
		if !o.Set(name) {
			t.Errorf("Set(%q) = false", name)
		}
	}
	for _, name := range []string{"se", "controller-data-dir", "sysint-port", "output"} {
		if o.Set(name) {
			t.Errorf("Set(%q) = true for a flag not given", name)
		}
	}
	// Defaults of the flags not given.
	if o.SysintPort != 8443 || o.HTTPSPort != 443 || o.HTTPPort != 80 || o.DNSPort != 53 || o.Output != "text" {
		t.Errorf("defaults: sysint %d https %d http %d dns %d output %q", o.SysintPort, o.HTTPSPort, o.HTTPPort, o.DNSPort, o.Output)
	}
	if !o.Unattended() {
		t.Error("Unattended() = false with flags")
	}

	long, err := ParseInstall([]string{"--controller", "--controller-disk", "10", "--controller-cores=4", "--controller-memory", "7", "--controller-ip"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, long) {
		t.Errorf("long flags give %+v, legacy flags %+v", long, o)
	}
}

func TestParseInstallLegacyEqualsLong(t *testing.T) {
	for _, f := range designLegacyFlags {
		if f.legacy == "-d" {
			continue // refused: TestParseInstallRefused
		}
		legacy := []string{f.legacy}
		long := []string{f.long}
		if f.takesValue {
			legacy = append(legacy, f.value)
			long = append(long, f.value)
		}
		lo, err := ParseInstall(legacy)
		if err != nil {
			t.Errorf("ParseInstall(%q): %v", legacy, err)
			continue
		}
		ll, err := ParseInstall(long)
		if err != nil {
			t.Errorf("ParseInstall(%q): %v", long, err)
			continue
		}
		if !reflect.DeepEqual(lo, ll) {
			t.Errorf("%s gives %+v, %s gives %+v", f.legacy, lo, f.long, ll)
		}
		name := strings.TrimPrefix(f.long, "--")
		if !lo.Set(name) || len(lo.set) != 1 {
			t.Errorf("%s: set = %v, want only %s", f.legacy, lo.set, name)
		}
		if reflect.DeepEqual(lo, mustParse(t, nil)) {
			t.Errorf("%s changed no option", f.legacy)
		}
	}
}

func mustParse(t *testing.T, args []string) *Options {
	t.Helper()
	o, err := ParseInstall(args)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestParseInstallFields(t *testing.T) {
	o := mustParse(t, []string{
		"-c", "-cc", "3", "-cm", "5", "-cd", "12", "-cdp", "/data/avi",
		"-cmdp", "/metrics", "-cmd", "20", "-cldp", "/logs", "-cld", "30",
		"-i", "192.0.2.10", "-m", "192.0.2.1", "-sc", "2", "-sm", "2048",
		"-sdp", "/se", "-sd", "15", "-sldp", "/selogs", "-sld", "5", "-sim",
		"-sj", "/root/setup.json", "-sysint", "9443", "-rmc",
		"--yes", "--dry-run", "--output", "json", "--no-start",
		"--ignore-preflight-errors", "Root,Systemd", "--ignore-preflight-errors=DiskFree",
		"--http-port", "8080", "--https-port", "8443", "--dns-port", "5353",
		"--join-token", "tok", "--image-tar", "/tmp/img.tar",
	})
	want := Options{
		Controller: true, ControllerCores: 3, ControllerMemoryGB: 5, ControllerDiskGB: 12,
		ControllerDataDir: "/data/avi", MetricsDir: "/metrics", MetricsDiskGB: 20, LogsDir: "/logs", LogsDiskGB: 30,
		ControllerIP: "192.0.2.10", MasterIP: "192.0.2.1", SECores: 2, SEMemoryMB: 2048,
		SEDataDir: "/se", SEDiskGB: 15, SELogsDir: "/selogs", SELogsDiskGB: 5, SEInbandMgmt: true,
		SetupJSON: "/root/setup.json", SysintPort: 9443, RmContainers: true,
		Yes: true, DryRun: true, Output: "json", NoStart: true,
		IgnorePreflight: []string{"Root", "Systemd", "DiskFree"},
		HTTPPort:        8080, HTTPSPort: 8443, DNSPort: 5353, JoinToken: "tok", ImageTar: "/tmp/img.tar",
	}
	got := *o
	got.set = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseInstall:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseInstallRefused(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		mention string
	}{
		{"dpdk legacy", []string{"-c", "-d"}, "DPDK"},
		{"dpdk long", []string{"--dpdk"}, "DPDK"},
		{"output yaml", []string{"--output", "yaml"}, "yaml"},
		{"output empty", []string{"--output="}, "text or json"},
		{"stray positional", []string{"-c", "extra"}, "extra"},
		{"positional after --", []string{"-c", "--", "-cc"}, "-cc"},
		{"unknown legacy", []string{"-xyz"}, "-xyz"},
		{"unknown long", []string{"--frobnicate"}, "frobnicate"},
		{"missing value", []string{"-cc"}, "controller-cores"},
		{"not a number", []string{"-cc", "four"}, "four"},
		{"bool with value", []string{"--controller=maybe"}, "maybe"},
	}
	for _, tt := range tests {
		o, err := ParseInstall(tt.args)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%s: ParseInstall(%q) = %+v, %v; want a *UsageError", tt.name, tt.args, o, err)
			continue
		}
		if o != nil {
			t.Errorf("%s: Options returned with an error", tt.name)
		}
		if !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.mention)
		}
	}
}

func TestParseInstallHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-c", "-h"}} {
		_, err := ParseInstall(args)
		if !errors.Is(err, pflag.ErrHelp) {
			t.Errorf("ParseInstall(%q) = %v, want pflag.ErrHelp", args, err)
		}
	}
}

func TestYesImpliesRmContainers(t *testing.T) {
	if o := mustParse(t, []string{"--yes"}); !o.RmContainers {
		t.Error("--yes: RmContainers = false")
	}
	if o := mustParse(t, []string{"-c"}); o.RmContainers {
		t.Error("-c alone: RmContainers = true")
	}
}

func TestUnattended(t *testing.T) {
	if o := mustParse(t, nil); o.Unattended() {
		t.Error("Unattended() with no flags = true")
	}
	if o := mustParse(t, []string{}); o.Unattended() {
		t.Error("Unattended() with empty args = true")
	}
	for _, args := range [][]string{
		{"-c"}, {"-s"}, {"-i"}, {"--yes"}, {"--dry-run"}, {"--output", "text"}, {"--sysint-port", "8443"},
		{"-cc", "4"}, {"--controller=false"}, {"--ignore-preflight-errors", "all"},
	} {
		if o := mustParse(t, args); !o.Unattended() {
			t.Errorf("Unattended() with %q = false", args)
		}
	}
}

func TestInstallUsage(t *testing.T) {
	var b strings.Builder
	InstallUsage(&b)
	out := b.String()
	for _, f := range designLegacyFlags {
		if !strings.Contains(out, f.long) {
			t.Errorf("--help does not list %s", f.long)
		}
		if f.legacy != "-d" && !strings.Contains(out, "("+f.legacy) && !strings.Contains(out, f.legacy+")") {
			t.Errorf("--help does not name the legacy flag %s", f.legacy)
		}
	}
}

func FuzzParseInstall(f *testing.F) {
	for _, s := range []string{
		"", "-c -cd 10 -cc 4 -cm 7 -i", "-i 192.0.2.10", "-cc=4", "-c -- -x", "-xyz", "-d",
		"--output yaml", "-h", "--help", "- -", "-i=::1 ::2", "--ignore-preflight-errors=all,Root",
		"--controller-ip", "-sysint=-1", "--=", "-=", "---c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Fields(s)
		o, err := ParseInstall(args)
		if err == nil {
			if o == nil {
				t.Fatalf("ParseInstall(%q): nil Options and nil error", args)
			}
			if o.Output != "text" && o.Output != "json" {
				t.Fatalf("ParseInstall(%q): Output %q accepted", args, o.Output)
			}
			if o.DPDK {
				t.Fatalf("ParseInstall(%q): DPDK accepted", args)
			}
			if o.Unattended() != (len(o.set) > 0) || (len(args) == 0 && o.Unattended()) {
				t.Fatalf("ParseInstall(%q): Unattended %v", args, o.Unattended())
			}
			return
		}
		var ue *UsageError
		if !errors.As(err, &ue) && !errors.Is(err, pflag.ErrHelp) {
			t.Fatalf("ParseInstall(%q): error %T %v is neither a *UsageError nor pflag.ErrHelp", args, err, err)
		}
	})
}

func TestParseInstallControllerIP(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-i"}, "detect"},
		{[]string{"-i", "-c"}, "detect"},
		{[]string{"-c", "-i"}, "detect"},
		{[]string{"-i", "192.0.2.10"}, "192.0.2.10"},
		{[]string{"-i", "192.0.2.10", "-c"}, "192.0.2.10"},
		{[]string{"-i=192.0.2.10"}, "192.0.2.10"},
		{[]string{"--controller-ip", "192.0.2.10"}, "192.0.2.10"},
		{[]string{"--controller-ip=192.0.2.10"}, "192.0.2.10"},
		{[]string{"--controller-ip"}, "detect"},
		{[]string{"-c"}, ""},
	}
	for _, tt := range tests {
		o, err := ParseInstall(tt.args)
		if err != nil {
			t.Errorf("ParseInstall(%q): %v", tt.args, err)
			continue
		}
		if o.ControllerIP != tt.want {
			t.Errorf("ParseInstall(%q).ControllerIP = %q, want %q", tt.args, o.ControllerIP, tt.want)
		}
	}
	// -i=IP already has its value: a following word is a stray argument.
	_, err := ParseInstall([]string{"-i=192.0.2.10", "192.0.2.11"})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "192.0.2.11") {
		t.Errorf("ParseInstall(-i=IP IP) = %v, want a *UsageError naming the stray word", err)
	}
}

func TestReadJoinToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == "AVI_JOIN_TOKEN" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		env   string
		want  string
		err   string
	}{
		{name: "flag wins over the environment", args: []string{"--join-token", "flag"}, env: "env", want: "flag"},
		{name: "environment", env: "env", want: "env"},
		{name: "file", args: []string{"--join-token-file", file}, env: "env", want: "from-file"},
		{name: "stdin", args: []string{"--join-token-file", "-"}, stdin: "piped\n", want: "piped"},
		{name: "empty stdin", args: []string{"--join-token-file", "-"}, err: "no token"},
		{name: "missing file", args: []string{"--join-token-file", file + ".missing"}, err: "--join-token-file"},
		{name: "both", args: []string{"--join-token", "x", "--join-token-file", "-"}, err: "give one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseInstall(append([]string{"-s"}, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			err = o.ReadJoinToken(strings.NewReader(tt.stdin), env(tt.env))
			if tt.err != "" {
				var ue *UsageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ReadJoinToken: %v; want a usage error mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil || o.JoinToken != tt.want {
				t.Fatalf("ReadJoinToken: token %q, %v; want %q", o.JoinToken, err, tt.want)
			}
		})
	}
}
