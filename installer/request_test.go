package installer

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// scriptAsker is a fake Asker: it answers from a list, substitutes the default for an empty
// answer and calls validate as the terminal prompt does, asking again (with the next answer)
// when validate refuses.
type scriptAsker struct {
	answers  []string
	asked    []askedQuestion // every time a askedQuestion was shown, re-asks included
	refused  []string        // validate's errors, in order
	maxAsked int
}

type askedQuestion struct{ msg, def string }

func (a *scriptAsker) Ask(msg, def string, validate func(string) error) (string, error) {
	for {
		a.asked = append(a.asked, askedQuestion{msg, def})
		if a.maxAsked > 0 && len(a.asked) > a.maxAsked || len(a.answers) == 0 {
			return "", fmt.Errorf("script ran out of answers at %q", msg)
		}
		ans := a.answers[0]
		a.answers = a.answers[1:]
		if ans == "" {
			ans = def
		}
		if err := validate(ans); err != nil {
			a.refused = append(a.refused, err.Error())
			continue
		}
		return ans, nil
	}
}

func (a *scriptAsker) msgs() []string {
	var out []string
	for _, q := range a.asked {
		out = append(out, q.msg)
	}
	return out
}

func parseOpts(t *testing.T, args ...string) *Options {
	t.Helper()
	o, err := ParseInstall(args)
	if err != nil {
		t.Fatalf("ParseInstall(%q): %v", args, err)
	}
	return o
}

func TestResolveUnattendedDefaults(t *testing.T) {
	tests := []struct {
		host string
		args []string
		want Request
	}{
		{
			// 2 CPUs, memory [1, 7], data on /var/lib/avi (40 GiB free), ens3 192.0.2.20
			host: "ubuntu2204-nosystemd", args: []string{"-c", "-i"},
			want: Request{Controller: true, ControllerCores: 2, ControllerMemoryGB: 7, ControllerDiskGB: 10,
				DataDir: "/var/lib/avi/opt/avi/controller/data", ControllerIP: "192.0.2.20",
				HTTPSPort: 443, HTTPPort: 80, DNSPort: 53, SysintPort: 8443},
		},
		{
			// 4 CPUs, memory [1, 15]: the defaults fit as they are.
			host: "debian12-systemd", args: []string{"-c"},
			want: Request{Controller: true, ControllerCores: 4, ControllerMemoryGB: 8, ControllerDiskGB: 10,
				DataDir: "/data/opt/avi/controller/data", ControllerIP: "192.0.2.10",
				HTTPSPort: 443, HTTPPort: 80, DNSPort: 53, SysintPort: 8443},
		},
		{
			host: "debian12-systemd", args: []string{"-c", "-cd", "10", "-cc", "4", "-cm", "7", "-i"},
			want: Request{Controller: true, ControllerCores: 4, ControllerMemoryGB: 7, ControllerDiskGB: 10,
				DataDir: "/data/opt/avi/controller/data", ControllerIP: "192.0.2.10",
				HTTPSPort: 443, HTTPPort: 80, DNSPort: 53, SysintPort: 8443},
		},
		{
			// Any flag means unattended; the controller is the default role.
			host: "centos7", args: []string{"--yes"},
			want: Request{Controller: true, ControllerCores: 2, ControllerMemoryGB: 3, ControllerDiskGB: 10,
				DataDir: "/opt/avi/controller/data", ControllerIP: "192.0.2.10",
				HTTPSPort: 443, HTTPPort: 80, DNSPort: 53, SysintPort: 8443},
		},
		{
			host: "debian12-systemd",
			args: []string{"-c", "-cc", "1", "-cm", "1", "-cdp", "/mnt/my disk/../../srv/avi/", "-cd", "20", "-i", "198.51.100.9",
				"-cmdp", "/data/metrics", "-cldp", "/data/logs", "-cld", "500",
				"--https-port", "8444", "--http-port", "8080", "--dns-port", "5353", "-sysint", "9443"},
			want: Request{Controller: true, ControllerCores: 1, ControllerMemoryGB: 1, ControllerDiskGB: 20,
				DataDir: "/srv/avi", ControllerIP: "198.51.100.9",
				MetricsDir: "/data/metrics", MetricsDiskGB: 10, LogsDir: "/data/logs", LogsDiskGB: 500,
				HTTPSPort: 8444, HTTPPort: 8080, DNSPort: 5353, SysintPort: 9443},
		},
	}
	for _, tt := range tests {
		t.Run(tt.host+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := Resolve(parseOpts(t, tt.args...), readFixture(t, tt.host), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Resolve:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestResolveUnattendedRefused(t *testing.T) {
	tests := []struct {
		name, host string
		args       []string
		mention    []string
	}{
		{"cores over the host", "ubuntu2204-nosystemd", []string{"-c", "-cc", "99"}, []string{"--controller-cores", "99", "[1, 2]"}},
		{"zero cores", "ubuntu2204-nosystemd", []string{"-c", "-cc", "0"}, []string{"[1, 2]"}},
		{"memory over the host", "ubuntu2204-nosystemd", []string{"-c", "-cm", "8"}, []string{"--controller-memory", "[1, 7]"}},
		{"disk over the free space", "debian12-systemd", []string{"-c", "-cd", "501"}, []string{"--controller-disk", "[1, 500]"}},
		{"disk over the chosen dir's free space", "debian12-systemd", []string{"-c", "-cdp", "/srv/avi", "-cd", "21"}, []string{"[1, 20]"}},
		{"SE alone without its controller", "debian12-systemd", []string{"-s"}, []string{"-m IP", "--join-token"}},
		{"SE alone without a token", "debian12-systemd", []string{"-s", "-m", "192.0.2.1"}, []string{"join token"}},
		{"SE alone with a malformed token", "debian12-systemd", []string{"-s", "-m", "192.0.2.1", "--join-token", "abc"}, []string{"--join-token", "malformed"}},
		{"SE alone with a bad controller address", "debian12-systemd", []string{"-s", "-m", "controller", "--join-token", "abc"}, []string{"-m", "not an IP address"}},
		{"SE alone with a bad -i address", "debian12-systemd", []string{"-s", "-m", "192.0.2.1", "--join-token", "abcdef.0123456789abcdef.sha256:" + strings.Repeat("0", 64), "-i", "host"}, []string{"--controller-ip", "not an IP address"}},
		{"-m beside a controller", "debian12-systemd", []string{"-c", "-s", "-m", "192.0.2.1"}, []string{"-m and --join-token"}},
		{"setup JSON file missing", "debian12-systemd", []string{"-c", "-sj", "/root/setup.json"}, []string{"--setup-json"}},
		{"SE cores beyond what the controller leaves", "ubuntu2204-nosystemd", []string{"-c", "-s", "-sc", "2"}, []string{"--se-cores", "[1, 1]"}},
		{"controller cores leaving the SE nothing", "ubuntu2204-nosystemd", []string{"-c", "-s", "-cc", "2"}, []string{"--controller-cores", "[1, 1]"}},
		{"SE memory beyond what is left", "ubuntu2204-nosystemd", []string{"-c", "-s", "-cm", "6", "-sm", "4096"}, []string{"--se-memory-mb", "[512, "}},
		{"SE disk size not built yet", "debian12-systemd", []string{"-c", "-s", "-sd", "10"}, []string{"--se-disk"}},
		{"bad -i address", "debian12-systemd", []string{"-c", "-i", "eth0"}, []string{"eth0", "not an IP address"}},
		{"bad -i= address", "debian12-systemd", []string{"-c", "-i=300.1.1.1"}, []string{"300.1.1.1"}},
		{"no default route", "alpine-no-osrelease", []string{"-c"}, []string{"-i IP"}},
		{"metrics disk without dir", "debian12-systemd", []string{"-c", "-cmd", "10"}, []string{"--controller-metrics-disk", "--controller-metrics-dir"}},
		{"logs disk without dir", "debian12-systemd", []string{"-c", "-cld", "10"}, []string{"--controller-logs-disk", "--controller-logs-dir"}},
		{"metrics disk too big", "debian12-systemd", []string{"-c", "-cmdp", "/data/m", "-cmd", "501"}, []string{"--controller-metrics-disk", "[1, 500]"}},
		{"logs disk too big", "debian12-systemd", []string{"-c", "-cldp", "/srv/l", "-cld", "21"}, []string{"--controller-logs-disk", "[1, 20]"}},
		{"metrics dir with a space", "debian12-systemd", []string{"-c", "-cmdp", "/mnt/my disk/m"}, []string{"--controller-metrics-dir"}},
		{"duplicate ports", "debian12-systemd", []string{"-c", "--https-port", "8443"}, []string{"https-port", "sysint-port", "8443"}},
		{"duplicate http/dns", "debian12-systemd", []string{"-c", "--http-port", "53"}, []string{"http-port", "dns-port"}},
		{"port out of range", "debian12-systemd", []string{"-c", "--dns-port", "70000"}, []string{"--dns-port", "70000"}},
		{"port zero", "debian12-systemd", []string{"-c", "-sysint", "0"}, []string{"--sysint-port"}},
		{"relative data dir", "debian12-systemd", []string{"-c", "-cdp", "data"}, []string{"--controller-data-dir", "absolute"}},
		{"data dir off local disks", "ubuntu2204-nosystemd", []string{"-c", "-cdp", "/opt/avi"}, []string{"--controller-data-dir", "local disk"}},
		{"data dir with odd characters", "debian12-systemd", []string{"-c", "-cdp", "/data/a$b"}, []string{"--controller-data-dir"}},
		{"cluster join without a token", "debian12-systemd", []string{"-c", "--cluster-join", "192.0.2.1"}, []string{"--cluster-join", "AVI_JOIN_TOKEN", "/api/cluster/jointoken"}},
		{"cluster join with a malformed token", "debian12-systemd", []string{"-c", "--cluster-join", "192.0.2.1", "--join-token", "abc"}, []string{"--cluster-join", "malformed"}},
		{"cluster join to a name", "debian12-systemd", []string{"-c", "--cluster-join", "controller-1", "--join-token", testToken}, []string{"--cluster-join", "not an IP address"}},
		{"cluster join to a bad port", "debian12-systemd", []string{"-c", "--cluster-join", "192.0.2.1:0", "--join-token", testToken}, []string{"--cluster-join", "port"}},
		{"cluster join of an SE", "debian12-systemd", []string{"-s", "-m", "192.0.2.1", "--join-token", testToken, "--cluster-join", "192.0.2.1"}, []string{"--cluster-join", "only a controller"}},
		{"cluster join with an SE beside", "debian12-systemd", []string{"-c", "-s", "--cluster-join", "192.0.2.1", "--join-token", testToken}, []string{"--cluster-join with -s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Resolve(parseOpts(t, tt.args...), readFixture(t, tt.host), nil)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("Resolve(%q) = %+v, %v; want a *UsageError", tt.args, r, err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// testToken is a well-formed join token.
var testToken = "abcdef.0123456789abcdef.sha256:" + strings.Repeat("0", 64)

// A controller joins a cluster with the node's address and a token; the token is not shown.
func TestResolveClusterJoin(t *testing.T) {
	r, err := Resolve(parseOpts(t, "-c", "-i", "192.0.2.20", "--cluster-join", "192.0.2.10:8443", "--join-token", testToken), readFixture(t, "debian12-systemd"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClusterJoin != "192.0.2.10:8443" || r.JoinToken != testToken {
		t.Errorf("cluster join %q, token %q; want the node and the token", r.ClusterJoin, r.JoinToken)
	}
	var buf bytes.Buffer
	PrintSummary(&buf, r)
	if strings.Contains(buf.String(), testToken) {
		t.Errorf("the summary shows the token: %s", buf.String())
	}
}

func TestResolveHostBelowMinimum(t *testing.T) {
	// tiny has 1 GB of memory: less than 1 GB is left after the host's 512 MB. That is an error
	// before any askedQuestion, in both modes.
	h := readFixture(t, "tiny")
	if _, err := Resolve(parseOpts(t, "-c"), h, nil); err == nil || !strings.Contains(err.Error(), "needs at least 1 GB") {
		t.Errorf("unattended on tiny: err = %v, want one saying 1 GB is needed", err)
	}
	a := &scriptAsker{answers: []string{"", "", "", "", "", "", "", "", ""}}
	if _, err := Resolve(parseOpts(t), h, a); err == nil || !strings.Contains(err.Error(), "needs at least 1 GB") {
		t.Errorf("interactive on tiny: err = %v, want one saying 1 GB is needed", err)
	}
	if len(a.asked) != 0 {
		t.Errorf("interactive on tiny asked %q before failing", a.msgs())
	}
	// No CPU at all.
	noCPU := readFixture(t, "debian12-systemd")
	noCPU.CPUs = 0
	a = &scriptAsker{answers: []string{""}}
	if _, err := Resolve(parseOpts(t), noCPU, a); err == nil || len(a.asked) != 0 {
		t.Errorf("0 CPUs: err = %v, asked %q; want an error before any askedQuestion", err, a.msgs())
	}
}

func TestResolveInteractiveScript(t *testing.T) {
	h := readFixture(t, "debian12-systemd") // 4 CPUs, memory [1, 15], /data 500 GiB free, eth0 192.0.2.10
	a := &scriptAsker{answers: []string{"", "", "", "", "", "", "", "", ""}}
	r, err := Resolve(parseOpts(t), h, a)
	if err != nil {
		t.Fatal(err)
	}
	want := []askedQuestion{
		{"Do you want to run Avi Controller on this Host [y/n]", "y"},
		{"Do you want to run Avi SE on this Host [y/n]", "n"},
		{"Enter The Number Of Cores For Avi Controller. Range [1, 4]", "4"},
		{"Please Enter Memory (in GB) for Avi Controller. Range [1, 15]", "8"},
		{"Please enter directory path for Avi Controller Config (Default [/data/opt/avi/controller/data])", "/data/opt/avi/controller/data"},
		{"Please enter disk size (in GB) for Avi Controller Config (Default [10])", "10"},
		{"", ""}, // metrics partition: checked below
		{"", ""}, // client-log partition: checked below
		{"Please enter Controller IP (Default [192.0.2.10])", "192.0.2.10"},
	}
	if len(a.asked) != len(want) {
		t.Fatalf("asked %d questions, want %d:\n%s", len(a.asked), len(want), strings.Join(a.msgs(), "\n"))
	}
	for i, w := range want {
		if w.msg == "" {
			continue
		}
		if a.asked[i] != w {
			t.Errorf("askedQuestion %d = %q (default %q), want %q (default %q)", i+1, a.asked[i].msg, a.asked[i].def, w.msg, w.def)
		}
	}
	for i, what := range map[int]string{6: "Metrics", 7: "Client Logs"} {
		q := a.asked[i]
		if !strings.Contains(q.msg, "separate partition") || !strings.Contains(q.msg, what) || q.def != "" {
			t.Errorf("askedQuestion %d = %q (default %q), want the optional %s partition with no default", i+1, q.msg, q.def, what)
		}
	}
	wantReq := Request{Controller: true, ControllerCores: 4, ControllerMemoryGB: 8, ControllerDiskGB: 10,
		DataDir: "/data/opt/avi/controller/data", ControllerIP: "192.0.2.10",
		HTTPSPort: 443, HTTPPort: 80, DNSPort: 53, SysintPort: 8443}
	if r != wantReq {
		t.Errorf("Resolve with every default:\n got %+v\nwant %+v", r, wantReq)
	}
	if len(a.refused) != 0 {
		t.Errorf("defaults were refused: %q", a.refused)
	}
}

func TestResolveInteractiveRangesFromHost(t *testing.T) {
	h := readFixture(t, "ubuntu2204-nosystemd") // 2 CPUs, memory [1, 7], /var/lib/avi 40 GiB, ens3 192.0.2.20
	a := &scriptAsker{answers: []string{"", "", "", "", "", "", "", "", ""}}
	r, err := Resolve(parseOpts(t), h, a)
	if err != nil {
		t.Fatal(err)
	}
	msgs := a.msgs()
	for i, w := range map[int]askedQuestion{
		2: {"Enter The Number Of Cores For Avi Controller. Range [1, 2]", "2"},
		3: {"Please Enter Memory (in GB) for Avi Controller. Range [1, 7]", "7"},
		4: {"Please enter directory path for Avi Controller Config (Default [/var/lib/avi/opt/avi/controller/data])", "/var/lib/avi/opt/avi/controller/data"},
		8: {"Please enter Controller IP (Default [192.0.2.20])", "192.0.2.20"},
	} {
		if i >= len(a.asked) || a.asked[i] != w {
			t.Errorf("askedQuestion %d: want %q (default %q); asked:\n%s", i+1, w.msg, w.def, strings.Join(msgs, "\n"))
		}
	}
	if r.ControllerCores != 2 || r.ControllerMemoryGB != 7 {
		t.Errorf("defaults clamped to the host: cores %d memory %d, want 2 and 7", r.ControllerCores, r.ControllerMemoryGB)
	}
}

func TestResolveInteractiveAnswers(t *testing.T) {
	h := readFixture(t, "debian12-systemd")
	cores := "Enter The Number Of Cores For Avi Controller. Range [1, 4]"
	memory := "Please Enter Memory (in GB) for Avi Controller. Range [1, 15]"
	dir := "Please enter directory path for Avi Controller Config (Default [/data/opt/avi/controller/data])"
	disk := "Please enter disk size (in GB) for Avi Controller Config (Default [10])"
	ip := "Please enter Controller IP (Default [192.0.2.10])"
	a := &scriptAsker{answers: []string{
		"maybe", "yes", // controller: "maybe" is asked again
		"s", "no", // SE: not y or n, asked again
		"99", "0", "four", "+2", "2", // cores: asked again until in range and a whole number
		"16", "15", // memory
		"data", "/srv/avi", // dir: relative is asked again
		"21", "20", // disk: / has 20 GiB free
		"/data/metrics", "501", "", // metrics partition on /data, size asked with its range, default taken
		"", // no client-log partition
		"not-an-ip", "2001:db8::5",
	}}
	r, err := Resolve(parseOpts(t), h, a)
	if err != nil {
		t.Fatalf("Resolve: %v (asked %q)", err, a.msgs())
	}
	count := func(msg string) int {
		n := 0
		for _, m := range a.msgs() {
			if m == msg {
				n++
			}
		}
		return n
	}
	for msg, n := range map[string]int{
		"Do you want to run Avi Controller on this Host [y/n]": 2,
		"Do you want to run Avi SE on this Host [y/n]":         2,
		cores: 5, memory: 2, disk: 2, ip: 2,
		"Please enter disk size (in GB) for Avi Controller Metrics. Range [1, 500]": 2,
	} {
		if got := count(msg); got != n {
			t.Errorf("%q asked %d times, want %d", msg, got, n)
		}
	}
	if got := count(dir); got != 2 {
		t.Errorf("%q asked %d times, want 2", dir, got)
	}
	want := Request{Controller: true, ControllerCores: 2, ControllerMemoryGB: 15, ControllerDiskGB: 20,
		DataDir: "/srv/avi", MetricsDir: "/data/metrics", MetricsDiskGB: 10,
		ControllerIP: "2001:db8::5", HTTPSPort: 443, HTTPPort: 80, DNSPort: 53, SysintPort: 8443}
	if r != want {
		t.Errorf("Resolve:\n got %+v\nwant %+v", r, want)
	}
	if len(a.answers) != 0 {
		t.Errorf("answers left over: %q", a.answers)
	}
	// The refusals explain themselves.
	joined := strings.Join(a.refused, "\n")
	for _, m := range []string{"answer y or n", "99 is out of range", "[1, 4]", `"four" is not a whole number`, "not an absolute path", "not an IP address"} {
		if !strings.Contains(joined, m) {
			t.Errorf("refusals %q lack %q", a.refused, m)
		}
	}
}

func TestResolveInteractiveNothingToInstall(t *testing.T) {
	a := &scriptAsker{answers: []string{"n", "n"}}
	_, err := Resolve(parseOpts(t), readFixture(t, "debian12-systemd"), a)
	if err == nil || !strings.Contains(err.Error(), "nothing to install") {
		t.Errorf("no controller, no SE: err = %v", err)
	}
	if len(a.asked) != 2 {
		t.Errorf("asked %q after both roles were declined", a.msgs())
	}
}

func TestResolveInteractiveAskerError(t *testing.T) {
	// An asker that fails (e.g. ^C) stops Resolve with its error, at any askedQuestion.
	for n := 1; n <= 9; n++ {
		answers := make([]string, n-1)
		a := &scriptAsker{answers: answers}
		_, err := Resolve(parseOpts(t), readFixture(t, "debian12-systemd"), a)
		if err == nil || !strings.Contains(err.Error(), "ran out of answers") {
			t.Errorf("asker failing at askedQuestion %d: err = %v", n, err)
		}
	}
}

func TestPrintSummary(t *testing.T) {
	var b bytes.Buffer
	PrintSummary(&b, Request{Controller: true, ControllerCores: 4, ControllerMemoryGB: 7, ControllerDiskGB: 10,
		ControllerIP: "192.0.2.10", DataDir: "/data", HTTPSPort: 443})
	want := "Run SE           : No\n" +
		"Run Controller   : Yes\n" +
		"Controller Cores : 4\n" +
		"Memory(GB)       : 7\n" +
		"Disk(GB)         : 10\n" +
		"Controller IP    : 192.0.2.10\n"
	if b.String() != want {
		t.Errorf("PrintSummary:\n%s\nwant (DESIGN.md):\n%s", b.String(), want)
	}
	// The labels line up: every value starts in the same column.
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if strings.Index(l, ": ") != 17 {
			t.Errorf("label not aligned: %q", l)
		}
	}
}

// A Request from Resolve (unattended) passes the preflight checks of the same host.
func TestResolvedRequestPassesPreflight(t *testing.T) {
	for _, host := range []string{"debian12-systemd", "ubuntu2204-nosystemd", "rocky9", "centos7"} {
		h := readFixture(t, host)
		r, err := Resolve(parseOpts(t, "-c", "-i", "192.0.2.99"), h, nil)
		if err != nil {
			t.Errorf("%s: %v", host, err)
			continue
		}
		for _, c := range []Check{CPUCheck(h, r), MemoryCheck(h, r), DiskFreeCheck(h, r, false)} {
			if w, e := runCheck(t, c); len(e) != 0 || len(w) != 0 {
				t.Errorf("%s: %s on the resolved request: warnings %q errors %q", host, c.Name(), w, e)
			}
		}
	}
}

// Data directory rules: only a local disk with room, and a default that is always usable.

func TestDataDirUnderTmpfsRefused(t *testing.T) {
	h := readFixture(t, "debian12-systemd") // /run and /dev/shm are tmpfs
	for _, dir := range []string{"/run/avi", "/dev/shm/avi"} {
		_, err := Resolve(parseOpts(t, "-c", "-cdp", dir), h, nil)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "local disk") {
			t.Errorf("-cdp %s (tmpfs): err = %v, want a *UsageError saying it is not on a local disk", dir, err)
		}
	}
}

func TestDataDirOnSmallDiskIsUsageError(t *testing.T) {
	h := readFixture(t, "rocky9") // /boot has 768 MiB free
	_, err := Resolve(parseOpts(t, "-c", "-cdp", "/boot/avi"), h, nil)
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Errorf("-cdp on a disk with < 1 GB free: err = %T %v, want a *UsageError", err, err)
	}
	u := readFixture(t, "ubuntu2204-nosystemd") // / is overlay
	_, err = Resolve(parseOpts(t, "-c", "-cdp", "/var/lib/avi/../../../opt/avi"), u, nil)
	if !errors.As(err, &ue) {
		t.Errorf("-cdp with .. leaving the local disk: err = %T %v, want a *UsageError", err, err)
	}
	a := &scriptAsker{answers: []string{"", "", "", "", "/boot/avi", "/srv/avi", "", "", "", ""}}
	if _, err := Resolve(parseOpts(t), h, a); err != nil {
		t.Errorf("interactive: a data dir on a too-small disk should be asked again, got %v", err)
	}
}

func TestDefaultDataDirIsValid(t *testing.T) {
	h := &Host{CPUs: 4, MemoryBytes: 8 * tGiB, DefaultIP: "192.0.2.1",
		Mounts: []Mount{{Path: "/", FreeBytes: 5 * tGiB}, {Path: "/mnt/my disk", FreeBytes: 50 * tGiB}}}
	r, err := Resolve(parseOpts(t, "-c"), h, nil)
	if err != nil {
		t.Fatalf("unattended with a largest disk whose path has a space: %v", err)
	}
	if r.DataDir != "/opt/avi/controller/data" {
		t.Errorf("default data dir %q, want the usable disk's /opt/avi/controller/data", r.DataDir)
	}
	a := &scriptAsker{answers: []string{"", "", "", "", "", "", "", "", ""}}
	if _, err := Resolve(parseOpts(t), h, a); err != nil {
		t.Errorf("interactive: the default data dir must be accepted when taken: %v (refused %q)", err, a.refused)
	}
}

func TestDiskMinimumBeforeQuestions(t *testing.T) {
	h := &Host{CPUs: 4, MemoryBytes: 8 * tGiB, DefaultIP: "192.0.2.1", Mounts: []Mount{{Path: "/", FreeBytes: 500 * tMiB}}}
	a := &scriptAsker{answers: []string{"", "", "", "", "", "", "", "", ""}}
	if _, err := Resolve(parseOpts(t), h, a); err == nil || len(a.asked) != 0 {
		t.Errorf("host without 1 GB free anywhere: err %v after %d questions; want an error before any", err, len(a.asked))
	}
}

// An SE alone reports the address given with -i (a controller deploying over SSH gives the
// address it reached the host at), else the host's default route's.
func TestResolveSEAloneMgmtIP(t *testing.T) {
	token := "abcdef.0123456789abcdef.sha256:" + strings.Repeat("0", 64)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "198.51.100.31"}, "198.51.100.31"},
		{[]string{"-i"}, "192.0.2.10"},
		{nil, "192.0.2.10"},
	} {
		args := append([]string{"-s", "-m", "192.0.2.1", "--join-token", token}, tt.args...)
		r, err := Resolve(parseOpts(t, args...), readFixture(t, "debian12-systemd"), nil)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", tt.args, err)
		}
		if r.MgmtIP != tt.want || r.ControllerIP != "192.0.2.1" || r.JoinToken != token {
			t.Errorf("Resolve(%q): mgmt IP %q, controller %q; want %q, 192.0.2.1", tt.args, r.MgmtIP, r.ControllerIP, tt.want)
		}
	}
}

// --se-group names the group an SE joins; it is checked as a unit-file value and refused for a
// controller alone.
func TestResolveSEGroup(t *testing.T) {
	token := "abcdef.0123456789abcdef.sha256:" + strings.Repeat("0", 64)
	base := []string{"-s", "-m", "192.0.2.1", "--join-token", token}
	r, err := Resolve(parseOpts(t, append(base, "--se-group", "edge")...), readFixture(t, "debian12-systemd"), nil)
	if err != nil || r.SEGroup != "edge" {
		t.Fatalf("Resolve --se-group edge: %v, group %q", err, r.SEGroup)
	}
	if r, err := Resolve(parseOpts(t, base...), readFixture(t, "debian12-systemd"), nil); err != nil || r.SEGroup != "" {
		t.Errorf("Resolve without --se-group: %v, group %q; want none (Default-Group)", err, r.SEGroup)
	}
	for _, args := range [][]string{append(base, "--se-group", "a\"b"), append(base, "--se-group=-x"), {"-c", "--se-group", "edge"}} {
		_, err := Resolve(parseOpts(t, args...), readFixture(t, "debian12-systemd"), nil)
		var usage *UsageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), "--se-group") {
			t.Errorf("Resolve(%q): %v, want a usage error naming --se-group", args, err)
		}
	}
}
