package installer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/systemd"
)

// staticBinary stands in for the running executable the installer copies and builds images
// from: the installer only needs it to be a statically linked ELF file.
const staticBinary = "testdata/avi-init.elf"

// fakeEngine is a Docker engine in memory that records every change made to it.
type fakeEngine struct {
	images     map[string]bool
	containers map[string]*docker.Container
	calls      []string
	loaded     int64
	startFails bool
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{images: map[string]bool{}, containers: map[string]*docker.Container{}}
}

func (f *fakeEngine) Info(context.Context) (docker.Info, error) {
	return docker.Info{APIVersion: "1.41", ServerVersion: "20.10", RootDir: "/"}, nil
}
func (f *fakeEngine) ImageExists(_ context.Context, ref string) (bool, error) {
	return f.images[ref], nil
}
func (f *fakeEngine) LoadImage(_ context.Context, r io.Reader, _ io.Writer) error {
	// A real engine reads the tarball's manifest to learn the tag.
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.loaded = int64(len(data))
	ref, err := manifestRef(data)
	if err != nil {
		return err
	}
	f.images[ref] = true
	f.calls = append(f.calls, "load "+ref)
	return nil
}
func (f *fakeEngine) Container(_ context.Context, name string) (*docker.Container, error) {
	if c, ok := f.containers[name]; ok {
		cp := *c
		return &cp, nil
	}
	return nil, nil
}
func (f *fakeEngine) Create(_ context.Context, s docker.ContainerSpec) error {
	if _, ok := f.containers[s.Name]; ok {
		return fmt.Errorf("container %s exists", s.Name)
	}
	f.containers[s.Name] = &docker.Container{ID: s.Name, Image: s.Image, Status: "created", Labels: s.Labels}
	f.calls = append(f.calls, "create "+s.Name)
	return nil
}
func (f *fakeEngine) Start(_ context.Context, name string) error {
	f.calls = append(f.calls, "start "+name)
	c := f.containers[name]
	if f.startFails {
		c.Status, c.ExitCode = "exited", 3
		return nil
	}
	c.Running, c.Status = true, "running"
	return nil
}
func (f *fakeEngine) Stop(_ context.Context, name string, _ time.Duration) error {
	f.calls = append(f.calls, "stop "+name)
	if c, ok := f.containers[name]; ok {
		c.Running, c.Status = false, "exited"
	}
	return nil
}
func (f *fakeEngine) Remove(_ context.Context, name string) error {
	f.calls = append(f.calls, "remove "+name)
	delete(f.containers, name)
	return nil
}
func (f *fakeEngine) Logs(_ context.Context, name string, _ int, _ bool, w io.Writer) error {
	fmt.Fprintf(w, "panic: the controller of %s could not open its store\n", name)
	return nil
}
func (f *fakeEngine) Wait(context.Context, string) (int64, error) { return 0, nil }
func (f *fakeEngine) Close() error                                { return nil }

// manifestRef reads the first tag of a `docker save` tarball.
func manifestRef(data []byte) (string, error) {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("avi-init-fake-%d.tar", time.Now().UnixNano()))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	defer os.Remove(path)
	return tarballRef(path)
}

// fakeSystemd is systemd in memory: units are active or not, enabled or not.
type fakeSystemd struct {
	active  map[string]bool
	enabled map[string]bool
	calls   []string
	onStart func() error
}

func newFakeSystemd() *fakeSystemd {
	return &fakeSystemd{active: map[string]bool{}, enabled: map[string]bool{}}
}

func (s *fakeSystemd) Reload(context.Context) error {
	s.calls = append(s.calls, "daemon-reload")
	return nil
}
func (s *fakeSystemd) Enable(_ context.Context, p string) error {
	s.enabled[filepath.Base(p)] = true
	s.calls = append(s.calls, "enable "+filepath.Base(p))
	return nil
}
func (s *fakeSystemd) Disable(_ context.Context, u string) error {
	s.enabled[u] = false
	s.calls = append(s.calls, "disable "+u)
	return nil
}
func (s *fakeSystemd) Start(_ context.Context, u string) error {
	s.calls = append(s.calls, "start "+u)
	if s.onStart != nil {
		if err := s.onStart(); err != nil {
			return err
		}
	}
	s.active[u] = true
	return nil
}
func (s *fakeSystemd) Restart(_ context.Context, u string) error {
	s.calls = append(s.calls, "restart "+u)
	s.active[u] = true
	return nil
}
func (s *fakeSystemd) Stop(_ context.Context, u string) error {
	s.calls = append(s.calls, "stop "+u)
	s.active[u] = false
	return nil
}
func (s *fakeSystemd) State(_ context.Context, u string) (string, bool, error) {
	if s.active[u] {
		return "active", s.enabled[u], nil
	}
	return "inactive", s.enabled[u], nil
}
func (s *fakeSystemd) Close() {}

// testHost writes a small host root: Debian 12, 2 CPUs, 8 GiB, one ext4 disk.
func testHost(t *testing.T, withSystemd bool) HostReader {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/os-release": "ID=debian\nVERSION_ID=\"12\"\n",
		"proc/cpuinfo":   "processor\t: 0\nprocessor\t: 1\n",
		"proc/meminfo":   "MemTotal:        8388608 kB\n",
		"proc/mounts":    "/dev/vda / ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\n",
		"proc/net/route": "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if withSystemd {
		if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return HostReader{
		Root:        root,
		StatFS:      func(string) (uint64, uint64, error) { return 100 << 30, 200 << 30, nil },
		InterfaceIP: func(string) (string, error) { return "192.0.2.10", nil },
	}
}

type harness struct {
	env    *Env
	engine *fakeEngine
	sd     *fakeSystemd
	out    *bytes.Buffer
	ready  int
}

func newHarness(t *testing.T, withSystemd bool) *harness {
	h := &harness{engine: newFakeEngine(), sd: newFakeSystemd(), out: &bytes.Buffer{}}
	h.env = &Env{
		Root:       t.TempDir(),
		Stdout:     h.out,
		Stderr:     h.out,
		Euid:       0,
		Executable: staticBinary,
		Host:       testHost(t, withSystemd),
		Engine:     h.engine,
		Systemd:    func(context.Context) (systemd.Manager, error) { return h.sd, nil },
		PortFree:   func(int) error { return nil },
		Ready: func(_ context.Context, s containerspec.Settings) error {
			c := h.engine.containers[containerspec.ContainerName(s.Role)]
			if withSystemd || (c != nil && c.Running) {
				h.ready++
				return nil
			}
			return errors.New("connection refused")
		},
	}
	return h
}

func (h *harness) install(t *testing.T, args ...string) (string, error) {
	t.Helper()
	o, err := ParseInstall(args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	h.out.Reset()
	h.engine.calls, h.sd.calls = nil, nil
	err = Install(context.Background(), h.env, o)
	return h.out.String(), err
}

// snapshot lists every file below root with its mode and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", data[:min(len(data), 4096)])
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInstallWithoutSystemdIsIdempotent(t *testing.T) {
	h := newHarness(t, false)
	args := []string{"-c", "-cd", "10", "-cc", "2", "-cm", "4", "-i"}
	if out, err := h.install(t, args...); err != nil {
		t.Fatalf("first install: %v\n%s", err, out)
	}
	ref := h.env.EnvFile("controller")
	fi, err := os.Stat(ref)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %o, want 0600", fi.Mode().Perm())
	}
	wantCalls := []string{"create avicontroller", "start avicontroller"}
	if got := h.engine.calls[1:]; strings.Join(got, ",") != strings.Join(wantCalls, ",") || !strings.HasPrefix(h.engine.calls[0], "load avi-init/controller:") {
		t.Errorf("first install engine calls %v, want a load then %v", h.engine.calls, wantCalls)
	}
	bin, err := os.ReadFile(filepath.Join(h.env.Root, BinaryPath))
	want, _ := os.ReadFile(staticBinary)
	if err != nil || !bytes.Equal(bin, want) {
		t.Errorf("binary not copied to %s: %v", BinaryPath, err)
	}
	c := h.engine.containers["avicontroller"]
	if !c.Running {
		t.Fatalf("controller container not running: %+v", c)
	}

	before := snapshot(t, h.env.Root)
	out, err := h.install(t, args...)
	if err != nil {
		t.Fatalf("second install: %v\n%s", err, out)
	}
	if len(h.engine.calls) != 0 {
		t.Errorf("second install changed the engine: %v", h.engine.calls)
	}
	if !strings.Contains(out, "Nothing to change") {
		t.Errorf("second install did not report no change:\n%s", out)
	}
	if after := snapshot(t, h.env.Root); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("second install changed files")
	}
}

func TestChangedSizeReplacesOnlyTheContainer(t *testing.T) {
	h := newHarness(t, false)
	if out, err := h.install(t, "-c", "-cc", "1", "-cm", "2", "-i"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	out, err := h.install(t, "-c", "-cc", "2", "-cm", "2", "-i")
	if err != nil {
		t.Fatalf("re-install: %v\n%s", err, out)
	}
	want := "remove avicontroller,create avicontroller,start avicontroller"
	if got := strings.Join(h.engine.calls, ","); got != want {
		t.Errorf("changed size: engine calls %q, want %q (no image reload)", got, want)
	}
	env, _ := os.ReadFile(h.env.EnvFile("controller"))
	if !strings.Contains(string(env), "AVI_CORES=2\n") {
		t.Errorf("env file not re-rendered:\n%s", env)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	h := newHarness(t, true)
	before := snapshot(t, h.env.Root)
	out, err := h.install(t, "-c", "-cc", "2", "-cm", "4", "-i", "--dry-run")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if after := snapshot(t, h.env.Root); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("dry run changed files")
	}
	if len(h.engine.calls) != 0 || len(h.sd.calls) != 0 {
		t.Errorf("dry run acted: engine %v, systemd %v", h.engine.calls, h.sd.calls)
	}
	for _, want := range []string{"ExecStart=/usr/local/sbin/avi-init supervise controller", "AVI_CORES=2", `"nano_cpus": 2000000000`, "Dry run: nothing was changed."} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
}

func TestInstallUnderSystemd(t *testing.T) {
	h := newHarness(t, true)
	args := []string{"--controller", "--controller-cores", "2", "--controller-memory", "4", "--controller-ip", "192.0.2.10"}
	if out, err := h.install(t, args...); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if got, want := strings.Join(h.sd.calls, ","), "daemon-reload,enable avicontroller.service,start avicontroller.service"; got != want {
		t.Errorf("systemd calls %q, want %q", got, want)
	}
	if len(h.engine.calls) != 1 || !strings.HasPrefix(h.engine.calls[0], "load ") {
		t.Errorf("under systemd the installer must only load the image; the unit creates the container: %v", h.engine.calls)
	}
	unit, err := os.ReadFile(h.env.UnitFile("controller"))
	if err != nil || !strings.Contains(string(unit), "Type=notify") {
		t.Errorf("unit not written: %v\n%s", err, unit)
	}

	if out, err := h.install(t, args...); err != nil || len(h.sd.calls) != 0 {
		t.Errorf("re-run: err %v, systemd calls %v, want none\n%s", err, h.sd.calls, out)
	}
	args[4] = "1"
	if out, err := h.install(t, args...); err != nil {
		t.Fatalf("changed install: %v\n%s", err, out)
	}
	if got, want := strings.Join(h.sd.calls, ","), "restart avicontroller.service"; got != want {
		t.Errorf("changed size: systemd calls %q, want %q", got, want)
	}
}

func TestNoStartEnablesButDoesNotStart(t *testing.T) {
	h := newHarness(t, true)
	if out, err := h.install(t, "-c", "-cc", "1", "-cm", "1", "-i", "--no-start"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if got, want := strings.Join(h.sd.calls, ","), "daemon-reload,enable avicontroller.service"; got != want {
		t.Errorf("--no-start: systemd calls %q, want %q", got, want)
	}
	if h.sd.active["avicontroller.service"] {
		t.Error("--no-start started the unit")
	}
}

func TestJSONReport(t *testing.T) {
	h := newHarness(t, false)
	var stdout bytes.Buffer
	h.env.Stdout = &stdout
	if out, err := h.install(t, "-c", "-cc", "1", "-cm", "1", "-i", "--output", "json"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout.String())
	}
	if !rep.Result.OK || !rep.Result.Changed || rep.Summary == nil || rep.Summary.ControllerCores != 1 {
		t.Errorf("report result/summary wrong: %+v %+v", rep.Result, rep.Summary)
	}
	names := map[string]bool{}
	for _, c := range rep.Checks {
		names[c.Name] = true
	}
	for _, n := range []string{"Root", "OSRelease", "Systemd", "DockerEngine", "DockerStorage", "CPU", "Memory", "DiskFree", "Port-443", "ExistingInstallation"} {
		if !names[n] {
			t.Errorf("report lacks check %s", n)
		}
	}
	if len(rep.Actions) == 0 {
		t.Error("report has no actions")
	}
}

func TestPreflightFailureChangesNothing(t *testing.T) {
	h := newHarness(t, false)
	h.env.PortFree = func(p int) error {
		if p == 443 {
			return errors.New("address already in use")
		}
		return nil
	}
	before := snapshot(t, h.env.Root)
	out, err := h.install(t, "-c", "-i")
	if !errors.Is(err, ErrPreflight) || !strings.Contains(out, "[ERROR Port-443]") || !strings.Contains(out, "--https-port") {
		t.Fatalf("busy port: err %v, want a preflight error naming --https-port\n%s", err, out)
	}
	if after := snapshot(t, h.env.Root); fmt.Sprint(after) != fmt.Sprint(before) || len(h.engine.calls) != 0 {
		t.Errorf("failed preflight changed the host: %v", h.engine.calls)
	}
	if out, err := h.install(t, "-c", "-i", "--https-port", "9443"); err != nil {
		t.Errorf("moved port: %v\n%s", err, out)
	}
}

func TestFailedStartShowsContainerLog(t *testing.T) {
	h := newHarness(t, false)
	h.engine.startFails = true
	out, err := h.install(t, "-c", "-i")
	if err == nil || !strings.Contains(err.Error(), "exited with code 3") {
		t.Fatalf("failed start: err %v", err)
	}
	if !strings.Contains(out, "could not open its store") {
		t.Errorf("failed start does not show the container's log:\n%s", out)
	}
}

func TestNoTerminalNoFlagsIsUsageError(t *testing.T) {
	h := newHarness(t, false)
	_, err := h.install(t)
	var usage *UsageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "-c -cc") {
		t.Fatalf("no terminal, no flags: %v, want a usage error naming the flags", err)
	}
}

// writeControllerCert stands in for the controller's first boot: the certificate SE tokens pin.
func writeControllerCert(t *testing.T, dataDir string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, contract.CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return sechannel.CertHash(cert)
}

// --cluster-join leaves the controller the node to join and the token (0600, never shown); a
// re-run once the cluster took the controller in leaves the file as the controller keeps it.
func TestClusterJoinFile(t *testing.T) {
	h := newHarness(t, false)
	ctlData := filepath.Join(h.env.Root, "opt/avi/controller/data")
	writeControllerCert(t, ctlData)
	tok := "abcdef.0123456789abcdef.sha256:" + strings.Repeat("0", 64)
	args := []string{"-c", "-cc", "1", "-cm", "1", "-i", "192.0.2.20", "--cluster-join", "192.0.2.10", "--join-token", tok}
	out, err := h.install(t, args...)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	path := filepath.Join(ctlData, contract.ClusterJoinFile)
	data, err := os.ReadFile(path)
	var j contract.ClusterJoin
	if err != nil || json.Unmarshal(data, &j) != nil || j.Leader != "192.0.2.10" || j.Token != tok || j.Joined {
		t.Fatalf("cluster join file: %v %s", err, data)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, want mode 0600", path, err)
	}
	if strings.Contains(out, tok) || !strings.Contains(out, "Cluster Join     : 192.0.2.10") {
		t.Errorf("the install output shows the token, or not the node to join:\n%s", out)
	}
	joined, _ := json.Marshal(contract.ClusterJoin{Leader: "192.0.2.10", Token: tok, Joined: true})
	os.WriteFile(path, joined, 0o600)
	if out, err := h.install(t, args...); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(path); string(data) != string(joined) {
		t.Errorf("a re-run after the join changed the file: %s", data)
	}
}

func TestControllerAndSEJoinWithNothingToCopy(t *testing.T) {
	h := newHarness(t, false)
	ctlData := filepath.Join(h.env.Root, "opt/avi/controller/data")
	seData := filepath.Join(h.env.Root, "opt/avi/se/data")
	hash := writeControllerCert(t, ctlData)
	args := []string{"-c", "-s", "-cc", "1", "-cm", "1", "-sc", "1", "-sm", "512", "-i", "192.0.2.10"}
	out, err := h.install(t, args...)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	var loads, rest []string
	for _, c := range h.engine.calls {
		if strings.HasPrefix(c, "load ") {
			loads = append(loads, c)
		} else {
			rest = append(rest, c)
		}
	}
	if len(loads) != 2 || !strings.Contains(loads[0], "avi-init/controller:") || !strings.Contains(loads[1], "avi-init/se:") {
		t.Errorf("image loads %v, want the controller's then the SE's", loads)
	}
	if got, want := strings.Join(rest, ","), "create avicontroller,start avicontroller,create avise,start avise"; got != want {
		t.Errorf("engine calls %q, want %q (the SE after the controller answers)", got, want)
	}
	var bt contract.BootstrapToken
	data, err := os.ReadFile(filepath.Join(ctlData, contract.BootstrapTokenFile))
	if err != nil || json.Unmarshal(data, &bt) != nil || bt.ID == "" {
		t.Fatalf("bootstrap token for the controller: %v %s", err, data)
	}
	tokData, err := os.ReadFile(filepath.Join(seData, contract.JoinTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sechannel.ParseToken(string(tokData))
	if err != nil || tok.ID != bt.ID || tok.Secret != bt.Secret || tok.CertHash != hash {
		t.Errorf("the SE's token %q does not match the controller's bootstrap token and certificate: %v", tokData, err)
	}
	for _, f := range []string{filepath.Join(ctlData, contract.BootstrapTokenFile), filepath.Join(seData, contract.JoinTokenFile), h.env.EnvFile("se")} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, err)
		}
	}
	if strings.Contains(out, bt.Secret) {
		t.Error("the install output shows the token's secret")
	}
	spec := h.engine.containers["avise"]
	if spec == nil || !spec.Running {
		t.Fatalf("avise not running: %+v", spec)
	}

	// Once the SE has joined, a re-run changes nothing and makes no new token.
	os.WriteFile(filepath.Join(seData, "identity.json"), []byte("{}"), 0o600)
	os.Remove(filepath.Join(seData, contract.JoinTokenFile))
	os.Remove(filepath.Join(ctlData, contract.BootstrapTokenFile))
	out, err = h.install(t, args...)
	if err != nil || len(h.engine.calls) != 0 || !strings.Contains(out, "Nothing to change") {
		t.Errorf("re-run after the SE joined: err %v, engine calls %v\n%s", err, h.engine.calls, out)
	}

	h.out.Reset()
	if err := Uninstall(context.Background(), h.env, &UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(h.engine.containers) != 0 {
		t.Errorf("uninstall left containers: %v", h.engine.containers)
	}
	for _, role := range []string{"controller", "se"} {
		if _, err := os.Stat(h.env.EnvFile(role)); err == nil {
			t.Errorf("uninstall left the %s env file", role)
		}
	}
}

func TestSEAloneWritesItsToken(t *testing.T) {
	h := newHarness(t, false)
	token := sechannel.NewToken(strings.Repeat("ab", 32)).String()
	out, err := h.install(t, "-s", "-m", "192.0.2.1", "--join-token", token, "-sc", "1", "-sm", "512")
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(filepath.Join(h.env.Root, "opt/avi/se/data", contract.JoinTokenFile))
	if strings.TrimSpace(string(got)) != token || strings.Contains(out, token) {
		t.Errorf("SE token file %q (want the given token, never printed)", got)
	}
	if _, ok := h.engine.containers["avicontroller"]; ok {
		t.Error("an SE alone installed a controller")
	}
	env, _ := os.ReadFile(h.env.EnvFile("se"))
	if !strings.Contains(string(env), "AVI_CONTROLLER_IP=192.0.2.1\n") || strings.Contains(string(env), token) {
		t.Errorf("SE env file:\n%s", env)
	}
}

// The SE serves its metrics on a fixed loopback port: preflight says when something holds it,
// unless it is the SE being updated.
func TestPreflightChecksTheSEMetricsPort(t *testing.T) {
	metrics := contract.DefaultSEMetricsPort
	token := sechannel.NewToken(strings.Repeat("ab", 32)).String()
	args := []string{"-s", "-m", "192.0.2.1", "--join-token", token, "-sc", "1", "-sm", "512"}
	h := newHarness(t, false)
	probed := map[int]bool{}
	h.env.PortFree = func(p int) error {
		probed[p] = true
		if p == metrics {
			return errors.New("address already in use")
		}
		return nil
	}
	out, err := h.install(t, args...)
	name := fmt.Sprintf("[ERROR Port-%d]", metrics)
	if !errors.Is(err, ErrPreflight) || !strings.Contains(out, name) || !strings.Contains(out, "metrics") {
		t.Fatalf("busy SE metrics port: err %v, want %s naming the metrics\n%s", err, name, out)
	}

	// Installed and running, the SE holds the port itself.
	h.env.PortFree = func(int) error { return nil }
	if out, err := h.install(t, args...); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	clear(probed)
	h.env.PortFree = func(p int) error {
		probed[p] = true
		return errors.New("address already in use")
	}
	if out, err := h.install(t, args...); err != nil || probed[metrics] {
		t.Errorf("re-run over the running SE: err %v, metrics port probed %v\n%s", err, probed[metrics], out)
	}
}
