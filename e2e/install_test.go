package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/contract"
)

const envFile = "/etc/avi-init/avicontroller.env"

// TestInstallLifecycle is the operator's day: dry run, install with the Avi script's flags, a
// re-run that changes nothing, a resize that restarts, status, uninstall that keeps data, purge.
func TestInstallLifecycle(t *testing.T) {
	need(t)
	data := filepath.Join(t.TempDir(), "controller-data")
	p := freePorts(t, 3)
	args := []string{"-c", "-cd", "10", "-cc", "2", "-cm", "4", "-i", "-cdp", data,
		"--https-port", strconv.Itoa(p[0]), "--http-port", strconv.Itoa(p[1]), "-sysint", strconv.Itoa(p[2])}
	t.Cleanup(func() { run(t, "uninstall") })

	// Dry run: the plan in full, nothing changed.
	dry := mustRun(t, append(args, "--dry-run")...)
	for _, want := range []string{"Run Controller   : Yes", "AVI_CORES=2", `"nano_cpus": 2000000000`, "Dry run: nothing was changed."} {
		if !strings.Contains(dry.out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, dry)
		}
	}
	if _, err := os.Stat(envFile); err == nil {
		t.Error("dry run wrote the env file")
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("dry run created the data directory")
	}
	if inspect(t, "avicontroller") != nil {
		t.Error("dry run created the container")
	}

	// Install: the summary block, a running, healthy controller with the asked limits.
	first := mustRun(t, args...)
	summary := "Run SE           : No\nRun Controller   : Yes\nController Cores : 2\nMemory(GB)       : 4\nDisk(GB)         : 10\nController IP    : "
	if !strings.Contains(first.out, summary) {
		t.Errorf("install output lacks the summary block:\n%s", first)
	}
	c := inspect(t, "avicontroller")
	if c == nil {
		t.Fatal("no avicontroller container after install")
	}
	checks := map[string]any{
		"State.Running":             true,
		"HostConfig.NanoCpus":       float64(2e9),
		"HostConfig.Memory":         float64(4 << 30),
		"HostConfig.Privileged":     false,
		"HostConfig.ReadonlyRootfs": true,
		"HostConfig.NetworkMode":    "host",
	}
	for path, want := range checks {
		if got := field(c, strings.Split(path, ".")...); got != want {
			t.Errorf("container %s = %v, want %v", path, got, want)
		}
	}
	if got := fmt.Sprint(field(c, "HostConfig", "CapDrop")); got != "[ALL]" {
		t.Errorf("container CapDrop = %s, want [ALL]", got)
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	client := controllerClient(t, data)
	idata := initialData(t, client, p[0])
	if field(idata, "version", "Version") == nil || idata["setup_state"] != "pending" {
		t.Errorf("initial-data = %v, want a version and setup_state pending", idata)
	}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/login", p[1]))
	if err != nil {
		t.Fatalf("HTTP port: %v", err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(loc, "https://") || !strings.HasSuffix(loc, fmt.Sprintf(":%d/login", p[0])) {
		t.Errorf("HTTP port answered %s to %q, want a redirect to HTTPS port %d", resp.Status, loc, p[0])
	}
	initialData(t, client, p[2]) // the sysint port serves too
	// The one-time setup token: printed by the installer, kept 0600 in the data directory.
	tokLine := regexp.MustCompile(`(?m)^Setup token      : ([0-9a-f]{32})$`).FindStringSubmatch(first.out)
	if tokLine == nil {
		t.Fatalf("install output lacks the setup token:\n%s", first)
	}
	setupToken := tokLine[1]
	if fi, err := os.Stat(filepath.Join(data, "setup-token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("setup token file: %v, want mode 0600", err)
	}
	waitFor(t, "the engine to report the controller healthy", 30*time.Second, func() bool {
		return field(inspect(t, "avicontroller"), "State", "Health", "Status") == "healthy"
	})
	cert, _ := os.ReadFile(filepath.Join(data, "tls/controller.crt"))

	// The same command again: no change, no restart.
	again := mustRun(t, args...)
	if !strings.Contains(again.out, "Nothing to change") {
		t.Errorf("re-run did not report no change:\n%s", again)
	}
	c2 := inspect(t, "avicontroller")
	if c2["Id"] != c["Id"] || field(c2, "State", "StartedAt") != field(c, "State", "StartedAt") {
		t.Error("re-run replaced or restarted the container")
	}
	jsonRun := mustRun(t, append(args, "--output", "json")...)
	var rep struct {
		Summary map[string]any   `json:"summary"`
		Checks  []map[string]any `json:"checks"`
		Actions []map[string]any `json:"actions"`
		Result  struct {
			OK, Changed bool
			SetupToken  string `json:"setup_token"`
		}
	}
	if err := json.Unmarshal([]byte(jsonRun.out), &rep); err != nil {
		t.Fatalf("--output json: stdout is not one JSON document: %v\n%s", err, jsonRun)
	}
	if !rep.Result.OK || rep.Result.Changed || rep.Summary["controller_cores"] != float64(2) || len(rep.Checks) == 0 || len(rep.Actions) == 0 || rep.Result.SetupToken != setupToken {
		t.Errorf("--output json re-run: %+v; want setup_token %s", rep, setupToken)
	}

	// A changed size re-renders and restarts the controller; its data stays.
	resized := append([]string(nil), args...)
	resized[4] = "1" // -cc 1
	mustRun(t, resized...)
	c3 := inspect(t, "avicontroller")
	if c3["Id"] == c["Id"] || field(c3, "HostConfig", "NanoCpus") != float64(1e9) {
		t.Errorf("resize: container %v with NanoCpus %v, want a new container with 1e9", c3["Id"], field(c3, "HostConfig", "NanoCpus"))
	}
	if cert2, _ := os.ReadFile(filepath.Join(data, "tls/controller.crt")); string(cert2) != string(cert) {
		t.Error("resize lost the controller's certificate (data directory not kept)")
	}
	initialData(t, client, p[0])

	st := mustRun(t, "status")
	if !strings.Contains(st.out, "answering: yes") || !strings.Contains(st.out, "avicontroller running") ||
		!strings.Contains(st.out, "cluster:   CLUSTER_UP_NO_HA, this node (") || !strings.Contains(st.out, ") CLUSTER_LEADER\n") {
		t.Errorf("status (want it answering, a cluster of one led by this node):\n%s", st)
	}
	var sj struct {
		Healthy bool `json:"healthy"`
		Roles   []struct {
			Role       string `json:"role"`
			Installed  bool   `json:"installed"`
			State      string `json:"state"`
			Answering  bool   `json:"answering"`
			SetupToken string `json:"setup_token"`
		} `json:"roles"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--output", "json").out), &sj); err != nil || !sj.Healthy || len(sj.Roles) != 2 || sj.Roles[0].Role != "controller" || sj.Roles[0].State != "running" || !sj.Roles[0].Answering || sj.Roles[1].Installed {
		t.Errorf("status --output json: %v %+v", err, sj)
	}

	// Setup needs the token `avi-init status` shows; once set up, the token is gone.
	if !strings.Contains(st.out, "setup token: "+setupToken) || sj.Roles[0].SetupToken != setupToken {
		t.Errorf("status does not show the setup token while not set up (json: %q):\n%s", sj.Roles[0].SetupToken, st)
	}
	setup := func(token string) (int, string) {
		body := fmt.Sprintf(`{"admin": {"username": "admin", "password": "Sturdy-Pass-42"}, "setup_token": %q}`, token)
		resp, err := client.Post(fmt.Sprintf("https://127.0.0.1:%d/api/setup", p[0]), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST /api/setup: %v", err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	if code, msg := setup(""); code != http.StatusForbidden || !strings.Contains(msg, "avi-init status") {
		t.Errorf("setup without the token: %d %s; want 403 saying where the token is", code, msg)
	}
	if code, msg := setup(sj.Roles[0].SetupToken); code != http.StatusOK {
		t.Fatalf("setup with the token from avi-init status: %d %s", code, msg)
	}
	if st := mustRun(t, "status"); strings.Contains(st.out, "setup token") {
		t.Errorf("status shows a setup token once set up:\n%s", st)
	}
	if _, err := os.Stat(filepath.Join(data, "setup-token")); !os.IsNotExist(err) {
		t.Errorf("setup token file once set up: %v, want it deleted", err)
	}

	// Uninstall keeps data; purge asks (no terminal: refuses without --yes), then deletes it.
	mustRun(t, "uninstall")
	if inspect(t, "avicontroller") != nil {
		t.Error("uninstall left the container")
	}
	for _, f := range []string{envFile, "/usr/local/sbin/avi-init"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("uninstall left %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "tls/controller.crt")); err != nil {
		t.Errorf("uninstall deleted data: %v", err)
	}
	if st := run(t, "status"); st.code == 0 || !strings.Contains(st.out, "not installed") {
		t.Errorf("status after uninstall:\n%s", st)
	}
	// The env file that named the data is gone; purge still finds it, and then says there is
	// nothing left rather than succeed silently.
	if r := mustRun(t, "uninstall", "--purge", "--yes"); !strings.Contains(r.out, "deleted "+data) {
		t.Errorf("purge after uninstall does not say it deleted %s:\n%s", data, r)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("purge after uninstall kept %s: %v", data, err)
	}
	if r := run(t, "uninstall", "--purge", "--yes"); r.code == 0 || !strings.Contains(r.err, "nothing was deleted") {
		t.Errorf("purge with nothing left: want a failure saying nothing was deleted:\n%s", r)
	}
	mustRun(t, args...)
	if r := run(t, "uninstall", "--purge"); r.code != 2 || !strings.Contains(r.err, "--yes") {
		t.Errorf("purge with no terminal and no --yes: want exit 2 naming --yes:\n%s", r)
	}
	if _, err := os.Stat(data); err != nil {
		t.Errorf("a refused purge deleted data: %v", err)
	}
	mustRun(t, "uninstall", "--purge", "--yes")
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("purge kept %s: %v", data, err)
	}
}

// TestUsageErrors: mistakes exit 2 with a message saying what to do, and change nothing.
func TestUsageErrors(t *testing.T) {
	need(t)
	cpus := strings.Count(string(must(os.ReadFile("/proc/cpuinfo"))), "processor\t:")
	cases := []struct {
		args []string
		want string
	}{
		{nil, "-c -cc"},
		{[]string{"-c", "-cc", "99"}, fmt.Sprintf("[1, %d]", cpus)},
		{[]string{"-c", "-cm", "100000"}, "out of range"},
		{[]string{"-d"}, "DPDK"},
		{[]string{"-c", "-i", "not-an-ip"}, "not an IP address"},
		{[]string{"-c", "--controller-ip", "300.1.1.1"}, "not an IP address"},
		{[]string{"-zz"}, "unknown flag -zz"},
		{[]string{"-c", "--https-port", "443", "--http-port", "443"}, "must differ"},
	}
	for _, tc := range cases {
		r := run(t, tc.args...)
		if r.code != 2 || !strings.Contains(r.err, tc.want) {
			t.Errorf("avi-init %v: want exit 2 and %q:\n%s", tc.args, tc.want, r)
		}
		if _, err := os.Stat(envFile); err == nil {
			t.Fatalf("avi-init %v wrote %s", tc.args, envFile)
		}
	}
	if h := mustRun(t, "--help"); !strings.Contains(h.out, "--controller-cores") || !strings.Contains(h.out, "(-cc)") {
		t.Errorf("--help does not list the flags:\n%s", h)
	}
}

// TestBusyPortAndImageTar: a taken port stops the install in preflight, naming the flag that
// moves it; an image saved with `image save` loads with `docker load` and installs with
// --image-tar.
func TestBusyPortAndImageTar(t *testing.T) {
	need(t)
	t.Cleanup(func() { run(t, "uninstall", "--purge", "--yes") })
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	p := freePorts(t, 2)
	data := filepath.Join(t.TempDir(), "data")
	base := []string{"-c", "-cc", "1", "-cm", "1", "-cd", "1", "-i", "-cdp", data, "--http-port", strconv.Itoa(p[0]), "-sysint", strconv.Itoa(p[1])}
	r := run(t, append(base, "--https-port", strconv.Itoa(busy))...)
	if r.code != 1 || !strings.Contains(r.out, fmt.Sprintf("[ERROR Port-%d]", busy)) || !strings.Contains(r.out, "--https-port") {
		t.Errorf("busy port: want exit 1 and [ERROR Port-%d] naming --https-port:\n%s", busy, r)
	}
	if inspect(t, "avicontroller") != nil {
		t.Fatal("a failed preflight created the container")
	}

	tarball := filepath.Join(t.TempDir(), "controller.tar")
	saved := mustRun(t, "image", "save", "--role", "controller", "-o", tarball)
	ref := strings.TrimSuffix(saved.out[strings.LastIndex(saved.out, "(")+1:], ")\n")
	if out, err := exec.Command("docker", "rmi", "-f", ref).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such image") {
		t.Fatalf("docker rmi %s: %v %s", ref, err, out)
	}
	if out, err := exec.Command("docker", "load", "-i", tarball).CombinedOutput(); err != nil || !strings.Contains(string(out), ref) {
		t.Fatalf("docker load of image save output: %v: %s", err, out)
	}
	if out, err := exec.Command("docker", "rmi", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker rmi %s: %v %s", ref, err, out)
	}
	https := freePorts(t, 1)[0]
	inst := mustRun(t, append(base, "--https-port", strconv.Itoa(https), "--image-tar", tarball)...)
	if !strings.Contains(inst.out, "from "+tarball) {
		t.Errorf("install did not load from the tarball:\n%s", inst)
	}
	if got := field(inspect(t, "avicontroller"), "Config", "Image"); got != ref {
		t.Errorf("container image %v, want %s", got, ref)
	}
	initialData(t, controllerClient(t, data), https)
	if r := run(t, "image", "save", "--role", "nope", "-o", tarball); r.code != 2 {
		t.Errorf("image save --role nope: want exit 2:\n%s", r)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestSetupJSON: --setup-json configures the controller on first boot; the API answers with
// those credentials at once, and the file (it holds the password) does not stay behind.
func TestSetupJSON(t *testing.T) {
	need(t)
	t.Cleanup(func() { run(t, "uninstall", "--purge", "--yes") })
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	setup := filepath.Join(dir, "setup.json")
	weak := filepath.Join(dir, "weak.json")
	os.WriteFile(setup, []byte(`{"admin": {"username": "admin", "password": "`+testAdminPassword+`"},
 "systemconfiguration": {"dns_configuration": {"server_list": [{"addr": "192.0.2.53", "type": "V4"}]},
                         "ntp_configuration": {"ntp_servers": [{"server": {"addr": "pool.ntp.org", "type": "DNS"}}]},
                         "email_configuration": {"smtp_type": "SMTP_NONE"}},
 "cloud": {"name": "Default-Cloud", "vtype": "CLOUD_NONE"}}`), 0o600)
	os.WriteFile(weak, []byte(`{"admin": {"username": "admin", "password": "password"}}`), 0o600)
	p := freePorts(t, 3)
	args := []string{"-c", "-cc", "1", "-cm", "1", "-cd", "1", "-i", "-cdp", data,
		"--https-port", strconv.Itoa(p[0]), "--http-port", strconv.Itoa(p[1]), "-sysint", strconv.Itoa(p[2])}
	if r := run(t, append(args, "-sj", weak)...); r.code != 2 || !strings.Contains(r.err, "admin.password") {
		t.Errorf("weak admin password in --setup-json: want exit 2 naming admin.password:\n%s", r)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("a refused --setup-json created the data directory")
	}
	inst := mustRun(t, append(args, "-sj", setup)...)
	if strings.Contains(inst.out+inst.err, testAdminPassword) {
		t.Error("the install output shows the admin password")
	}
	c := &controllerProc{https: p[0], client: controllerClient(t, data), user: "admin", pass: testAdminPassword}
	if got := initialData(t, c.client, p[0])["setup_state"]; got != "complete" {
		t.Fatalf("setup_state %v after --setup-json, want complete", got)
	}
	var sc struct {
		DNS struct {
			Servers []struct{ Addr string } `json:"server_list"`
		} `json:"dns_configuration"`
	}
	if code := c.call(t, "GET", "/api/systemconfiguration", nil, &sc); code != 200 || len(sc.DNS.Servers) != 1 || sc.DNS.Servers[0].Addr != "192.0.2.53" {
		t.Errorf("GET /api/systemconfiguration with the setup credentials: %d %+v", code, sc)
	}
	if _, err := os.Stat(filepath.Join(data, "setup.json")); !os.IsNotExist(err) {
		t.Errorf("the setup file stayed in the data directory: %v", err)
	}
	logs, _ := execCommand("docker", "logs", "avicontroller")
	if strings.Contains(logs, testAdminPassword) {
		t.Error("the controller's log shows the admin password")
	}
	// The admin's password hash is sealed in config.db with the key beside it (0600), and opened
	// again after a restart: the admin still logs in.
	if fi, err := os.Stat(filepath.Join(data, contract.SecretsKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the controller's secrets key: %v %v, want a file of mode 0600", fi, err)
	}
	if raw, err := os.ReadFile(filepath.Join(data, contract.StoreFile)); err != nil || strings.Contains(string(raw), "$2a$") {
		t.Errorf("config.db holds a password hash in clear (%v)", err)
	}
	if out, err := execCommand("docker", "restart", "avicontroller"); err != nil {
		t.Fatalf("docker restart avicontroller: %v: %s", err, out)
	}
	waitFor(t, "the admin to log in after a restart", time.Minute, func() bool {
		code, _, err := c.send("GET", "/api/systemconfiguration", nil)
		return err == nil && code == 200
	})
	if again := mustRun(t, append(args, "-sj", setup)...); !strings.Contains(again.out, "Nothing to change") {
		t.Errorf("re-run with --setup-json after first boot changed something:\n%s", again)
	}
}

// installControllerAndSE installs the controller and an SE beside it (-c -s) with setup JSON,
// waits for the SE to show up connected, and uninstalls both (purging data) when the test ends.
func installControllerAndSE(t *testing.T) (c *controllerProc, seData string, args []string) {
	need(t)
	t.Cleanup(func() { run(t, "uninstall", "--purge", "--yes") })
	dir := t.TempDir()
	data := filepath.Join(dir, "ctl")
	seData = filepath.Join(dir, "se")
	setup := filepath.Join(dir, "setup.json")
	os.WriteFile(setup, []byte(`{"admin": {"username": "admin", "password": "`+testAdminPassword+`"}}`), 0o600)
	p := freePorts(t, 3)
	// The controller's address is loopback, so the SE's traffic stays on this machine.
	args = []string{"-c", "-s", "-cc", "1", "-cm", "1", "-cd", "1", "-sc", "1", "-sm", "512", "-i", "127.0.0.1",
		"-cdp", data, "-sdp", seData, "-sj", setup,
		"--https-port", strconv.Itoa(p[0]), "--http-port", strconv.Itoa(p[1]), "-sysint", strconv.Itoa(p[2])}
	inst := mustRun(t, args...)
	if !strings.Contains(inst.out, "SE Cores         : 1") {
		t.Errorf("summary lacks the SE:\n%s", inst)
	}
	se := inspect(t, "avise")
	if se == nil || field(se, "State", "Running") != true || field(se, "HostConfig", "NetworkMode") != "host" ||
		fmt.Sprint(field(se, "HostConfig", "CapDrop")) != "[ALL]" || field(se, "HostConfig", "Privileged") != false ||
		field(se, "HostConfig", "NanoCpus") != float64(1e9) || field(se, "HostConfig", "Memory") != float64(512<<20) ||
		fmt.Sprint(field(se, "HostConfig", "CapAdd")) != "[CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW]" {
		t.Fatalf("avise container: %v", se)
	}
	if _, err := os.Stat(filepath.Join(seData, "join-token")); !os.IsNotExist(err) {
		t.Errorf("the SE's join token stayed on disk after it joined: %v", err)
	}
	c = &controllerProc{https: p[0], client: controllerClient(t, data), user: "admin", pass: testAdminPassword}
	var ses struct {
		Results []struct {
			Connected     bool  `json:"se_connected"`
			ConfigVersion int64 `json:"config_version"`
			OperStatus    struct {
				State string `json:"state"`
			} `json:"oper_status"`
		} `json:"results"`
	}
	waitFor(t, "the SE to show up and connected", 30*time.Second, func() bool {
		c.call(t, "GET", "/api/serviceengine", nil, &ses)
		return len(ses.Results) == 1 && ses.Results[0].Connected && ses.Results[0].OperStatus.State == "OPER_UP" && ses.Results[0].ConfigVersion > 0
	})
	return c, seData, args
}

// TestControllerAndSE: `-c -s` installs the controller and an SE beside it; the SE joins with
// nothing for the operator to copy and shows up, in the controller, up and holding the current
// configuration.
func TestControllerAndSE(t *testing.T) {
	needTool(t, "ab")
	c, seData, args := installControllerAndSE(t)
	// A virtual service created through the API serves traffic through the SE.
	big := strings.Repeat("0123456789abcdef", 100*1024/16)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/100kb.txt" {
			fmt.Fprint(w, big)
			return
		}
		fmt.Fprint(w, "from the backend")
	}))
	defer backend.Close()
	bport := backend.Listener.Addr().(*net.TCPAddr).Port
	vsPort := freePorts(t, 1)[0]
	var out map[string]any
	if code := c.call(t, "POST", "/api/pool", map[string]any{"name": "web", "servers": []any{map[string]any{"ip": map[string]string{"addr": "127.0.0.1", "type": "V4"}, "port": bport}}}, &out); code != 201 {
		t.Fatalf("create pool: %d %v", code, out)
	}
	if code := c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "web-vs", "services": []any{map[string]int{"port": vsPort}}, "pool_ref": "/api/pool?name=web"}, &out); code != 201 {
		t.Fatalf("create virtual service: %d %v", code, out)
	}
	// serves says whether the SE answers on port with want.
	serves := func(port int, want string) bool {
		body, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", port))
		return err == nil && body == want
	}
	waitFor(t, "the SE to serve the new virtual service", 15*time.Second, func() bool { return serves(vsPort, "from the backend") })

	// As the operator checks it: ab completes 100 requests of 100 KB through the SE, none failed.
	if r := ab(t, 100, 10, fmt.Sprintf("http://127.0.0.1:%d/100kb.txt", vsPort)); !r.servedAll(100) || r.length != 102400 {
		t.Errorf("ab through the SE: want 100 complete, none failed, 102400 bytes each:\n%s", r.out)
	}

	// The SE reports the traffic: the controller's analytics show requests for the VS.
	vsUUID := out["uuid"].(string)
	waitFor(t, "the controller to show the VS's requests", 15*time.Second, func() bool {
		var m struct {
			Series []struct {
				Data []struct {
					Value float64 `json:"value"`
				} `json:"data"`
			} `json:"series"`
		}
		c.call(t, "GET", "/api/analytics/metrics/virtualservice/"+vsUUID+"?metric_id=l7_client.avg_complete_responses", nil, &m)
		return len(m.Series) == 1 && len(m.Series[0].Data) > 0 && m.Series[0].Data[len(m.Series[0].Data)-1].Value > 0
	})

	// A port another process holds on the SE's host leaves out only the service asking for it:
	// a service created after it applies, the SE's metrics say which is not applied, and once
	// the process frees the port the SE takes it without a configuration change.
	squatter, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	clashPort, laterPort := squatter.Addr().(*net.TCPAddr).Port, freePorts(t, 1)[0]
	if code := c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "clash-vs", "services": []any{map[string]int{"port": clashPort}}, "pool_ref": "/api/pool?name=web"}, &out); code != 201 {
		squatter.Close()
		t.Fatalf("create the clashing virtual service: %d %v", code, out)
	}
	clashUUID := out["uuid"].(string)
	if code := c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "later-vs", "services": []any{map[string]int{"port": laterPort}}, "pool_ref": "/api/pool?name=web"}, &out); code != 201 {
		squatter.Close()
		t.Fatalf("create a virtual service after the clash: %d %v", code, out)
	}
	waitFor(t, "the SE to serve the service created after the one it cannot apply", 15*time.Second, func() bool { return serves(laterPort, "from the backend") })
	seMetrics := func() string {
		body, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/metrics", contract.DefaultSEMetricsPort))
		if err != nil {
			return err.Error()
		}
		return body
	}
	notApplied := `avi_se_virtualservice_applied{uuid="` + clashUUID + `",virtualservice="clash-vs"} 0`
	waitFor(t, "the SE's metrics to show the clashing service not applied", 15*time.Second, func() bool { return strings.Contains(seMetrics(), notApplied) })
	squatter.Close()
	freed := time.Now()
	waitFor(t, "the SE to take the freed port", 15*time.Second, func() bool { return serves(clashPort, "from the backend") })
	t.Logf("the freed port served by the SE after %v", time.Since(freed).Round(100*time.Millisecond))

	// Headless: with the controller stopped the SE keeps serving, and a restarted SE serves its
	// last configuration; once the controller is back the SE catches up.
	if out, err := execCommand("docker", "stop", "avicontroller"); err != nil {
		t.Fatalf("docker stop avicontroller: %v %s", err, out)
	}
	for i := range 20 {
		if !serves(vsPort, "from the backend") {
			t.Fatalf("request %d failed with the controller stopped", i)
		}
	}
	if out, err := execCommand("docker", "restart", "avise"); err != nil {
		t.Fatalf("docker restart avise: %v %s", err, out)
	}
	waitFor(t, "the restarted SE to serve its last configuration without the controller", 20*time.Second, func() bool { return serves(vsPort, "from the backend") })
	if out, err := execCommand("docker", "start", "avicontroller"); err != nil {
		t.Fatalf("docker start avicontroller: %v %s", err, out)
	}
	waitFor(t, "the controller to answer again", 30*time.Second, func() bool { return answers(c.client, c.url("/api/initial-data")) })
	vsPort2 := freePorts(t, 1)[0]
	if code := c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "web-vs-2", "services": []any{map[string]int{"port": vsPort2}}, "pool_ref": "/api/pool?name=web"}, &out); code != 201 {
		t.Fatalf("create a virtual service after the controller came back: %d %v", code, out)
	}
	waitFor(t, "the SE to reconnect and catch up", 30*time.Second, func() bool { return serves(vsPort2, "from the backend") })

	st := mustRun(t, "status")
	if strings.Count(st.out, "answering: yes") != 2 {
		t.Errorf("status does not show both roles answering:\n%s", st)
	}
	if again := mustRun(t, args...); !strings.Contains(again.out, "Nothing to change") {
		t.Errorf("re-run changed something:\n%s", again)
	}
	mustRun(t, "uninstall")
	if inspect(t, "avise") != nil || inspect(t, "avicontroller") != nil {
		t.Error("uninstall left a container")
	}
	if _, err := os.Stat(filepath.Join(seData, "identity.json")); err != nil {
		t.Errorf("uninstall deleted the SE's data: %v", err)
	}
}
