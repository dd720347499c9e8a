package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/integrations/docker"
)

// runCheck runs one check and returns its warnings and errors as strings.
func runCheck(t *testing.T, c Check) (warns, errs []string) {
	t.Helper()
	w, e := c.Check(context.Background())
	for _, x := range w {
		warns = append(warns, x.Error())
	}
	for _, x := range e {
		errs = append(errs, x.Error())
	}
	return warns, errs
}

// outcome is what a check should yield: counts, and a phrase each message must contain.
type outcome struct {
	warns, errs int
	mention     string
}

func (o outcome) check(t *testing.T, what string, warns, errs []string) {
	t.Helper()
	if len(warns) != o.warns || len(errs) != o.errs {
		t.Errorf("%s: warnings %q, errors %q; want %d warning(s), %d error(s)", what, warns, errs, o.warns, o.errs)
		return
	}
	for _, m := range append(append([]string(nil), warns...), errs...) {
		if o.mention != "" && !strings.Contains(m, o.mention) {
			t.Errorf("%s: %q does not mention %q", what, m, o.mention)
		}
	}
}

func TestRootCheck(t *testing.T) {
	c := RootCheck(0)
	if c.Name() != "Root" {
		t.Errorf("Name = %q", c.Name())
	}
	w, e := runCheck(t, c)
	outcome{}.check(t, "euid 0", w, e)
	w, e = runCheck(t, RootCheck(1000))
	outcome{errs: 1, mention: "root"}.check(t, "euid 1000", w, e)
}

func TestOSReleaseCheck(t *testing.T) {
	fixtures := []struct {
		host string
		want outcome
	}{
		{"debian12-systemd", outcome{}},
		{"ubuntu2204-nosystemd", outcome{}},
		{"rocky9", outcome{}},
		{"centos7", outcome{warns: 1, mention: "centos 7"}},
		{"tiny", outcome{}},
		{"alpine-no-osrelease", outcome{warns: 1, mention: "os-release"}},
	}
	for _, tt := range fixtures {
		c := OSReleaseCheck(readFixture(t, tt.host))
		if c.Name() != "OSRelease" {
			t.Errorf("Name = %q", c.Name())
		}
		w, e := runCheck(t, c)
		tt.want.check(t, tt.host, w, e)
	}
	made := []struct {
		id, ver string
		want    outcome
	}{
		{"debian", "11", outcome{warns: 1, mention: "debian 11"}},
		{"debian", "12", outcome{}},
		{"debian", "13", outcome{}},
		{"debian", "", outcome{warns: 1}}, // testing/sid carry no VERSION_ID
		{"ubuntu", "20.04", outcome{}},
		{"ubuntu", "22.04", outcome{}},
		{"ubuntu", "23.10", outcome{warns: 1, mention: "ubuntu 23.10"}},
		{"ubuntu", "23.04", outcome{warns: 1}},
		{"ubuntu", "24.04", outcome{}},
		{"ubuntu", "18.04", outcome{warns: 1}},
		{"rocky", "9.3", outcome{}},
		{"rocky", "8", outcome{}},
		{"rhel", "7.9", outcome{warns: 1}},
		{"almalinux", "9.4", outcome{}},
		{"ol", "8.9", outcome{}},
		{"centos", "7", outcome{warns: 1, mention: "not a supported OS"}},
		{"fedora", "40", outcome{warns: 1}},
	}
	for _, tt := range made {
		h := &Host{OSRelease: map[string]string{"ID": tt.id, "VERSION_ID": tt.ver}}
		w, e := runCheck(t, OSReleaseCheck(h))
		tt.want.check(t, tt.id+" "+tt.ver, w, e)
	}
	// A host with a nil OSRelease map must not panic.
	w, e := runCheck(t, OSReleaseCheck(&Host{}))
	outcome{warns: 1}.check(t, "nil os-release", w, e)
}

func TestSystemdCheck(t *testing.T) {
	for host, want := range map[string]outcome{
		"debian12-systemd":     {},
		"rocky9":               {},
		"ubuntu2204-nosystemd": {warns: 1, mention: "restart policy"},
		"alpine-no-osrelease":  {warns: 1, mention: "systemd is not running"},
	} {
		c := SystemdCheck(readFixture(t, host))
		if c.Name() != "Systemd" {
			t.Errorf("Name = %q", c.Name())
		}
		w, e := runCheck(t, c)
		want.check(t, host, w, e)
	}
}

func TestDockerEngineCheck(t *testing.T) {
	tests := []struct {
		name  string
		facts EngineFacts
		want  outcome
	}{
		{"unreachable", EngineFacts{Err: errors.New("dial unix /var/run/docker.sock: connect: no such file or directory")}, outcome{errs: 1, mention: "docker.sock"}},
		{"API 1.24", EngineFacts{Info: docker.Info{APIVersion: "1.24"}}, outcome{errs: 1, mention: "1.24"}},
		{"API 1.9", EngineFacts{Info: docker.Info{APIVersion: "1.9"}}, outcome{errs: 1, mention: "upgrade"}},
		{"API 0.99", EngineFacts{Info: docker.Info{APIVersion: "0.99"}}, outcome{errs: 1}},
		{"API 1.39", EngineFacts{Info: docker.Info{APIVersion: "1.39"}}, outcome{errs: 1, mention: "1.40"}},
		{"API 1.30, refused by the client", EngineFacts{Info: docker.Info{APIVersion: "1.30"}, Err: errors.New("docker engine API 1.30: client version 1.40 is too new")}, outcome{errs: 1, mention: "upgrade Docker"}},
		{"API 1.40", EngineFacts{Info: docker.Info{APIVersion: "1.40"}}, outcome{}},
		{"API 1.41", EngineFacts{Info: docker.Info{APIVersion: "1.41"}}, outcome{}},
		{"API 1.100", EngineFacts{Info: docker.Info{APIVersion: "1.100"}}, outcome{}},
		{"API 2.0", EngineFacts{Info: docker.Info{APIVersion: "2.0"}}, outcome{}},
	}
	for _, tt := range tests {
		c := DockerEngineCheck(tt.facts)
		if c.Name() != "DockerEngine" {
			t.Errorf("Name = %q", c.Name())
		}
		w, e := runCheck(t, c)
		tt.want.check(t, tt.name, w, e)
	}
}

func TestDockerStorageCheck(t *testing.T) {
	info := docker.Info{APIVersion: "1.41", RootDir: "/var/lib/docker"}
	tests := []struct {
		name string
		free int64
		err  error
		want outcome
	}{
		{"unknown", -1, nil, outcome{warns: 1, mention: "/var/lib/docker"}},
		{"100 MB", 100 << 20, nil, outcome{errs: 1, mention: "100 MB"}},
		{"511 MB", 511 << 20, nil, outcome{errs: 1}},
		{"512 MB", 512 << 20, nil, outcome{warns: 1}},
		{"1 GB", 1 << 30, nil, outcome{warns: 1, mention: "1024 MB"}},
		{"10 GB", 10 << 30, nil, outcome{}},
		{"engine down", 100 << 20, errors.New("down"), outcome{}}, // DockerEngine reports it
	}
	for _, tt := range tests {
		c := DockerStorageCheck(EngineFacts{Info: info, StorageFree: tt.free, Err: tt.err})
		if c.Name() != "DockerStorage" {
			t.Errorf("Name = %q", c.Name())
		}
		w, e := runCheck(t, c)
		tt.want.check(t, tt.name, w, e)
	}
}

func TestCPUAndMemoryCheck(t *testing.T) {
	h := readFixture(t, "ubuntu2204-nosystemd") // 2 CPUs, memory range [1, 7]
	tests := []struct {
		name       string
		req        Request
		cpu, memry outcome
	}{
		{"fits", Request{Controller: true, ControllerCores: 2, ControllerMemoryGB: 7}, outcome{}, outcome{}},
		{"too many cores", Request{Controller: true, ControllerCores: 3, ControllerMemoryGB: 1}, outcome{errs: 1, mention: "3 cores"}, outcome{}},
		{"too much memory", Request{Controller: true, ControllerCores: 1, ControllerMemoryGB: 8}, outcome{}, outcome{errs: 1, mention: "at most 7 GB"}},
		{"no controller", Request{ControllerCores: 99, ControllerMemoryGB: 99}, outcome{}, outcome{}},
	}
	for _, tt := range tests {
		w, e := runCheck(t, CPUCheck(h, tt.req))
		tt.cpu.check(t, "CPU "+tt.name, w, e)
		w, e = runCheck(t, MemoryCheck(h, tt.req))
		tt.memry.check(t, "Memory "+tt.name, w, e)
	}
	w, e := runCheck(t, MemoryCheck(readFixture(t, "tiny"), Request{Controller: true, ControllerMemoryGB: 1}))
	outcome{errs: 1, mention: "needs at least 1 GB"}.check(t, "Memory on tiny", w, e)
}

func TestDiskFreeCheck(t *testing.T) {
	h := readFixture(t, "debian12-systemd") // / 20 GiB free, /data 500 GiB, /mnt/my disk 5 GiB
	tests := []struct {
		name      string
		req       Request
		installed bool
		want      outcome
	}{
		{"fits", Request{DataDir: "/data/opt/avi/controller/data", ControllerDiskGB: 500}, false, outcome{}},
		{"not enough, fresh", Request{DataDir: "/data/opt/avi/controller/data", ControllerDiskGB: 501}, false, outcome{errs: 1, mention: "500 GB free; 501 GB"}},
		{"not enough, installed", Request{DataDir: "/data/opt/avi/controller/data", ControllerDiskGB: 501}, true, outcome{warns: 1, mention: "/data"}},
		{"root", Request{DataDir: "/opt/avi/controller/data", ControllerDiskGB: 21}, false, outcome{errs: 1, mention: "(on /)"}},
		{"metrics short", Request{DataDir: "/data/x", ControllerDiskGB: 10, MetricsDir: "/mnt/my disk/m", MetricsDiskGB: 6}, false, outcome{errs: 1, mention: "/mnt/my disk/m"}},
		{"logs short", Request{DataDir: "/data/x", ControllerDiskGB: 10, LogsDir: "/mnt/my disk/l", LogsDiskGB: 6, MetricsDir: "/data/m", MetricsDiskGB: 5}, false, outcome{errs: 1, mention: "/mnt/my disk/l"}},
		{"all short", Request{DataDir: "/data/x", ControllerDiskGB: 600, LogsDir: "/mnt/my disk/l", LogsDiskGB: 6, MetricsDir: "/opt/m", MetricsDiskGB: 50}, false, outcome{errs: 3, mention: "GB were asked for"}},
		{"all short, installed", Request{DataDir: "/data/x", ControllerDiskGB: 600, LogsDir: "/mnt/my disk/l", LogsDiskGB: 6, MetricsDir: "/opt/m", MetricsDiskGB: 50}, true, outcome{warns: 3}},
	}
	for _, tt := range tests {
		c := DiskFreeCheck(h, tt.req, tt.installed)
		if c.Name() != "DiskFree" {
			t.Errorf("Name = %q", c.Name())
		}
		w, e := runCheck(t, c)
		tt.want.check(t, tt.name, w, e)
	}
	// Not on a local disk: an error, installed or not.
	u := readFixture(t, "ubuntu2204-nosystemd") // / is overlay
	for _, installed := range []bool{false, true} {
		w, e := runCheck(t, DiskFreeCheck(u, Request{DataDir: "/opt/avi/controller/data", ControllerDiskGB: 1}, installed))
		outcome{errs: 1, mention: "not on a local disk"}.check(t, fmt.Sprint("overlay root, installed=", installed), w, e)
	}
	// tiny: 500 MB free at / is less than 1 GB.
	w, e := runCheck(t, DiskFreeCheck(readFixture(t, "tiny"), Request{DataDir: "/opt/avi/controller/data", ControllerDiskGB: 1}, false))
	outcome{errs: 1, mention: "0 GB free"}.check(t, "tiny", w, e)
}

func TestPortCheck(t *testing.T) {
	busy := func(port int) error { return fmt.Errorf("bind :%d: address already in use", port) }
	free := func(int) error { return nil }
	called := 0
	counting := func(int) error { called++; return errors.New("in use") }

	c := PortCheck(443, movableBy("https-port"), busy, false)
	if c.Name() != "Port-443" {
		t.Errorf("Name = %q, want Port-443", c.Name())
	}
	w, e := runCheck(t, c)
	outcome{errs: 1, mention: "--https-port"}.check(t, "busy", w, e)
	if len(e) == 1 && (!strings.Contains(e[0], "443") || !strings.Contains(e[0], "address already in use")) {
		t.Errorf("error %q should name the port and the cause", e[0])
	}
	w, e = runCheck(t, PortCheck(8443, movableBy("sysint-port"), busy, false))
	outcome{errs: 1, mention: "--sysint-port"}.check(t, "busy sysint", w, e)

	w, e = runCheck(t, PortCheck(443, movableBy("https-port"), free, false))
	outcome{}.check(t, "free", w, e)

	w, e = runCheck(t, PortCheck(443, movableBy("https-port"), counting, true))
	outcome{}.check(t, "ours", w, e)
	if called != 0 {
		t.Errorf("a port held by our own installation was probed %d times", called)
	}
}

func TestExistingInstallationCheck(t *testing.T) {
	foreign := &docker.Container{ID: "abc", Labels: map[string]string{"maintainer": "someone"}}
	unlabelled := &docker.Container{ID: "def"}
	ours := &docker.Container{ID: "ghi", Labels: map[string]string{containerspec.Label: containerspec.RoleController}}
	name := containerspec.ContainerName(containerspec.RoleController)
	tests := []struct {
		name      string
		installed bool
		c         *docker.Container
		rmc       bool
		want      outcome
	}{
		{"fresh host", false, nil, false, outcome{}},
		{"foreign container", false, foreign, false, outcome{errs: 1, mention: name}},
		{"unlabelled container", false, unlabelled, false, outcome{errs: 1, mention: "-rmc"}},
		{"foreign container, -rmc", false, foreign, true, outcome{warns: 1, mention: name}},
		{"our container", false, ours, false, outcome{}},
		{"installed, our container", true, ours, false, outcome{warns: 1, mention: "updated in place"}},
		{"installed, foreign container", true, foreign, false, outcome{warns: 1, errs: 1}},
	}
	for _, tt := range tests {
		c := ExistingInstallationCheck("controller", tt.installed, tt.c, tt.rmc)
		if c.Name() != "ExistingInstallation" {
			t.Errorf("Name = %q", c.Name())
		}
		w, e := runCheck(t, c)
		tt.want.check(t, tt.name, w, e)
	}
}

// stubCheck is a check with fixed results that records whether it ran.
type stubCheck struct {
	name        string
	warns, errs []string
	ran         *int
}

func (s stubCheck) Name() string { return s.name }
func (s stubCheck) Check(context.Context) ([]error, []error) {
	if s.ran != nil {
		*s.ran++
	}
	var w, e []error
	for _, x := range s.warns {
		w = append(w, errors.New(x))
	}
	for _, x := range s.errs {
		e = append(e, errors.New(x))
	}
	return w, e
}

func TestRunChecks(t *testing.T) {
	ran := 0
	checks := func() []Check {
		return []Check{
			stubCheck{name: "Root", errs: []string{"not root"}, ran: &ran},
			stubCheck{name: "Systemd", warns: []string{"no systemd"}, ran: &ran},
			stubCheck{name: "DiskFree", errs: []string{"no room at /data", "no room at /logs"}, warns: []string{"tight"}, ran: &ran},
			stubCheck{name: "Port-443", ran: &ran},
		}
	}
	tests := []struct {
		name        string
		ignore      []string
		wantErr     bool
		errLines    []string
		warnLines   []string
		ignored     map[string]int // check name -> ignored entries
		errorsCount map[string]int
	}{
		{
			name: "no ignore", wantErr: true,
			errLines:    []string{"[ERROR Root]: not root", "[ERROR DiskFree]: no room at /data", "[ERROR DiskFree]: no room at /logs"},
			warnLines:   []string{"[WARNING Systemd]: no systemd", "[WARNING DiskFree]: tight"},
			errorsCount: map[string]int{"Root": 1, "DiskFree": 2},
		},
		{
			name: "ignore one by name, other case", ignore: []string{"diskfree"}, wantErr: true,
			errLines:    []string{"[ERROR Root]: not root"},
			warnLines:   []string{"[WARNING DiskFree]: no room at /data", "[WARNING DiskFree]: no room at /logs", "[WARNING DiskFree]: tight", "[WARNING Systemd]: no systemd"},
			ignored:     map[string]int{"DiskFree": 2},
			errorsCount: map[string]int{"Root": 1},
		},
		{
			name: "ignore both by name", ignore: []string{"ROOT", " DiskFree "}, wantErr: false,
			warnLines: []string{"[WARNING Root]: not root", "[WARNING DiskFree]: no room at /data"},
			ignored:   map[string]int{"Root": 1, "DiskFree": 2},
		},
		{
			name: "all", ignore: []string{"all"}, wantErr: false,
			warnLines: []string{"[WARNING Root]: not root", "[WARNING DiskFree]: no room at /logs", "[WARNING Systemd]: no systemd"},
			ignored:   map[string]int{"Root": 1, "DiskFree": 2},
		},
		{
			name: "ALL upper case", ignore: []string{"ALL"}, wantErr: false,
			ignored: map[string]int{"Root": 1, "DiskFree": 2},
		},
		{
			name: "ignoring a check that only warns changes nothing", ignore: []string{"Systemd", "Nope"}, wantErr: true,
			errLines:    []string{"[ERROR Root]: not root"},
			errorsCount: map[string]int{"Root": 1, "DiskFree": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran = 0
			var out bytes.Buffer
			results, err := RunChecks(context.Background(), checks(), tt.ignore, &out)
			if ran != 4 {
				t.Errorf("%d checks ran, want all 4 (a failing check does not stop the others)", ran)
			}
			if tt.wantErr {
				if !errors.Is(err, ErrPreflight) {
					t.Errorf("err = %v, want ErrPreflight", err)
				}
				if !strings.Contains(out.String(), "--ignore-preflight-errors") {
					t.Errorf("output does not say how to go on:\n%s", out.String())
				}
			} else if err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			text := out.String()
			for _, l := range tt.errLines {
				if !strings.Contains(text, l) {
					t.Errorf("output lacks %q:\n%s", l, text)
				}
			}
			for _, l := range tt.warnLines {
				if !strings.Contains(text, l) {
					t.Errorf("output lacks %q:\n%s", l, text)
				}
			}
			if !tt.wantErr && strings.Contains(text, "[ERROR") {
				t.Errorf("output has an ERROR line though nothing failed:\n%s", text)
			}
			if len(results) != 4 {
				t.Fatalf("%d results, want 4", len(results))
			}
			for i, want := range []string{"Root", "Systemd", "DiskFree", "Port-443"} {
				if results[i].Name != want {
					t.Errorf("result %d is %q, want %q (in the order run)", i, results[i].Name, want)
				}
			}
			nErr := 0
			for _, r := range results {
				if got := len(r.Ignored); got != tt.ignored[r.Name] {
					t.Errorf("%s: %d ignored, want %d (%q)", r.Name, got, tt.ignored[r.Name], r.Ignored)
				}
				if got := len(r.Errors); got != tt.errorsCount[r.Name] {
					t.Errorf("%s: %d errors, want %d", r.Name, got, tt.errorsCount[r.Name])
				}
				nErr += len(r.Errors)
			}
			if tt.wantErr && err != nil && !strings.Contains(err.Error(), fmt.Sprint(nErr)) {
				t.Errorf("err %q does not count the %d errors", err, nErr)
			}
			// Warnings stay warnings whatever is ignored.
			if w := results[1].Warnings; len(w) != 1 || w[0] != "no systemd" {
				t.Errorf("Systemd warnings = %q", w)
			}
		})
	}
}

// The real checks on a fixture host, through the runner.
func TestRunChecksOnFixtures(t *testing.T) {
	healthy := EngineFacts{Info: docker.Info{APIVersion: "1.43", RootDir: "/var/lib/docker"}, StorageFree: 50 << 30}
	free := func(int) error { return nil }
	build := func(host string, euid int, req Request) []Check {
		h := readFixture(t, host)
		return []Check{
			RootCheck(euid), OSReleaseCheck(h), SystemdCheck(h), DockerEngineCheck(healthy), DockerStorageCheck(healthy),
			CPUCheck(h, req), MemoryCheck(h, req), DiskFreeCheck(h, req, false),
			PortCheck(443, movableBy("https-port"), free, false), ExistingInstallationCheck("controller", false, nil, false),
		}
	}
	req := Request{Controller: true, ControllerCores: 2, ControllerMemoryGB: 3, DataDir: "/opt/avi/controller/data", ControllerDiskGB: 10}

	var out bytes.Buffer
	if _, err := RunChecks(context.Background(), build("rocky9", 0, req), nil, &out); err != nil || out.Len() != 0 {
		t.Errorf("rocky9: err %v, output %q; want a clean pass", err, out.String())
	}

	out.Reset()
	_, err := RunChecks(context.Background(), build("centos7", 0, req), nil, &out)
	if err != nil || !strings.Contains(out.String(), "[WARNING OSRelease]") || strings.Contains(out.String(), "[ERROR") {
		t.Errorf("centos7: err %v, output %q; want only an OSRelease warning", err, out.String())
	}

	out.Reset()
	_, err = RunChecks(context.Background(), build("tiny", 1000, Request{Controller: true, ControllerCores: 1, ControllerMemoryGB: 1, DataDir: "/opt/avi/controller/data", ControllerDiskGB: 1}), nil, &out)
	if !errors.Is(err, ErrPreflight) {
		t.Errorf("tiny as a user: err %v, want ErrPreflight", err)
	}
	for _, l := range []string{"[ERROR Root]", "[ERROR Memory]", "[ERROR DiskFree]"} {
		if !strings.Contains(out.String(), l) {
			t.Errorf("tiny: output lacks %s:\n%s", l, out.String())
		}
	}
}
