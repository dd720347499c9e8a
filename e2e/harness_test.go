// Package e2e runs avi-init as an operator would, against the real Docker engine and a real
// systemd, and checks the result as the operator would check it.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/e2e/systemdhost"
)

// aviInit is the static binary under test: $AVI_INIT_BIN (make builds it), or built here.
var aviInit string

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	aviInit = os.Getenv("AVI_INIT_BIN")
	if aviInit == "" {
		dir, err := os.MkdirTemp("", "avi-init-e2e-bin")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		aviInit = filepath.Join(dir, "avi-init")
		cmd := exec.Command("go", "build", "-o", aviInit, "../cmd/avi-init")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("build avi-init: %v\n%s", err, out)
		}
	}
	if prereqs() == nil {
		// The tests install the real avicontroller; an earlier installation on this machine is
		// removed first (its data is kept).
		if _, err := os.Stat("/etc/avi-init/avicontroller.env"); err == nil {
			fmt.Fprintln(os.Stderr, "e2e: removing the avi-init installation already on this host (data kept)")
		}
		exec.Command(aviInit, "uninstall").Run()
	}
	return m.Run(), nil
}

// prereqs says what this machine lacks for end-to-end tests.
func prereqs() error {
	if os.Geteuid() != 0 {
		return errors.New("the installer runs as root")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("no Docker engine: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// need fails the test under CI (where everything must exist) and skips it elsewhere.
func need(t testing.TB) {
	t.Helper()
	if err := prereqs(); err != nil {
		systemdhost.Missing(t, err)
	}
}

// needTool is need for a command the test runs.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		systemdhost.Missing(t, fmt.Errorf("%s (.ci/run installs it)", name))
	}
}

// result is one run of avi-init.
type result struct {
	out, err string
	code     int
	took     time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s\n--- stdout\n%s--- stderr\n%s", r.code, r.took, r.out, r.err)
}

// run runs avi-init with no terminal on stdin.
func run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, aviInit, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, &stderr, nil
	start := time.Now()
	err := cmd.Run()
	r := result{out: stdout.String(), err: stderr.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run avi-init %v: %v", args, err)
	}
	t.Logf("avi-init %s: exit %d in %s", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond))
	return r
}

func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("avi-init %v failed:\n%s", args, r)
	}
	return r
}

// freePorts returns n TCP ports nothing listens on now.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// freePortsFrom returns n ports from first upwards that nothing listens on now. Below the
// ephemeral range, they are never taken by a listener on port 0 in the meantime.
func freePortsFrom(t testing.TB, first, n int) []int {
	t.Helper()
	var ports []int
	for p := first; len(ports) < n && p < 32768; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	if len(ports) < n {
		t.Fatalf("fewer than %d free ports from %d", n, first)
	}
	return ports
}

// httpGet returns the body of a 200 answer, or an error.
func httpGet(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return string(body), nil
}

// answers says whether url gives an HTTP answer of any status: the server is up.
func answers(client *http.Client, url string) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// abResult is what ApacheBench reports, and its whole output.
type abResult struct {
	complete, failed, non2xx int
	length                   int // Document Length, in bytes
	out                      string
}

// servedAll says whether all n requests completed, none failed and every answer was 2xx.
func (r abResult) servedAll(n int) bool { return r.complete == n && r.failed == 0 && r.non2xx == 0 }

var abField = regexp.MustCompile(`(?m)^(Complete requests|Failed requests|Non-2xx responses|Document Length):\s+(\d+)`)

// ab runs ApacheBench: n requests, c at a time. A run that fails is an error of the test and
// reports nothing.
func ab(t testing.TB, n, c int, url string) abResult {
	t.Helper()
	out, err := exec.Command("ab", "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-s", "10", url).CombinedOutput()
	r := abResult{out: string(out)}
	if err != nil {
		t.Errorf("ab %s: %v\n%s", url, err, out)
		return r
	}
	for _, m := range abField.FindAllSubmatch(out, -1) {
		v, _ := strconv.Atoi(string(m[2]))
		switch string(m[1]) {
		case "Complete requests":
			r.complete = v
		case "Failed requests":
			r.failed = v
		case "Non-2xx responses":
			r.non2xx = v
		case "Document Length":
			r.length = v
		}
	}
	return r
}

// servedBy sends n requests with get and counts the answers by body; failed requests count nowhere.
func servedBy(n int, get func() (string, error)) map[string]int {
	seen := map[string]int{}
	for range n {
		if body, err := get(); err == nil {
			seen[body]++
		}
	}
	return seen
}

// loadResult is one request of a load loop.
type loadResult struct {
	at   time.Time
	body string
	err  error
}

// startLoad sends requests one after another, 2 ms apart and 20,000 at most, until the
// returned stop is called; stop returns every result.
func startLoad(get func() (string, error)) (stop func() []loadResult) {
	quit := make(chan struct{})
	done := make(chan []loadResult)
	go func() {
		var rs []loadResult
		defer func() { done <- rs }()
		for range 20000 {
			select {
			case <-quit:
				return
			default:
			}
			body, err := get()
			rs = append(rs, loadResult{time.Now(), body, err})
			time.Sleep(2 * time.Millisecond)
		}
		<-quit
	}()
	return func() []loadResult {
		close(quit)
		return <-done
	}
}

// uuidOf is the uuid of the object of that kind and name.
func (c *controllerProc) uuidOf(t testing.TB, kind, name string) string {
	t.Helper()
	var found struct {
		Results []struct {
			UUID string `json:"uuid"`
		} `json:"results"`
	}
	c.call(t, "GET", "/api/"+kind+"?name="+url.QueryEscape(name), nil, &found)
	if len(found.Results) != 1 {
		t.Fatalf("%s %s: %+v", kind, name, found)
	}
	return found.Results[0].UUID
}

// inspect returns `docker inspect` of a container, or nil when there is none.
func inspect(t *testing.T, name string) map[string]any {
	t.Helper()
	out, err := exec.Command("docker", "inspect", name).Output()
	if err != nil {
		return nil
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil || len(v) != 1 {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	return v[0]
}

func field(v map[string]any, path ...string) any {
	var cur any = v
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// controllerClient trusts only the certificate in the controller's data directory, as an
// operator who copied it would.
func controllerClient(t testing.TB, dataDir string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dataDir, "tls/controller.crt"))
	if err != nil {
		t.Fatalf("controller certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("controller certificate: no PEM certificate")
	}
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// initialData fetches GET /api/initial-data over HTTPS.
func initialData(t *testing.T, c *http.Client, port int) map[string]any {
	t.Helper()
	body, err := httpGet(c, fmt.Sprintf("https://127.0.0.1:%d/api/initial-data", port))
	if err != nil {
		t.Fatalf("GET /api/initial-data: %v", err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET /api/initial-data: %v: %s", err, body)
	}
	return v
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
