package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/syncbuf"
)

// controllerProc is a controller started from the binary on loopback ports.
type controllerProc struct {
	cmd     *exec.Cmd
	data    string
	https   int
	sysint  int
	client  *http.Client
	logs    *syncbuf.Buffer // its output, written while it runs
	user    string
	pass    string
	stopped bool
}

const testAdminPassword = "Sturdy-Pass-42"

// procOptions are how startControllerProc runs the controller beyond its defaults.
type procOptions struct {
	ip string // --ip: the management address given to SEs; 127.0.0.1 by default
}

// procOption sets one of procOptions.
type procOption func(*procOptions)

// withIP has the controller give ip as its address to the SEs it deploys, for SE hosts that
// reach the machine there (the controller listens on every address either way).
func withIP(ip string) procOption { return func(o *procOptions) { o.ip = ip } }

// startControllerProc runs `avi-init controller` and, when setup is true, completes its setup.
// It stops when the test ends, and its log is in the test's log if the test failed.
func startControllerProc(t testing.TB, data string, setup bool, opts ...procOption) *controllerProc {
	t.Helper()
	o := procOptions{ip: "127.0.0.1"}
	for _, opt := range opts {
		opt(&o)
	}
	p := freePorts(t, 3)
	c := &controllerProc{data: data, https: p[0], sysint: p[2], logs: &syncbuf.Buffer{}, user: "admin", pass: testAdminPassword}
	c.cmd = exec.Command(aviInit, "controller", "--data", data, "--ip", o.ip,
		"--https-port", strconv.Itoa(p[0]), "--http-port", strconv.Itoa(p[1]), "--sysint-port", strconv.Itoa(p[2]))
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stop() // first: the log is complete once the process has ended
		if t.Failed() {
			t.Logf("controller log:\n%s", c.logs)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(data, "tls/controller.crt")); err == nil && answers(controllerClient(t, data), c.url("/api/initial-data")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the controller did not answer within 20 s")
		}
	}
	c.client = controllerClient(t, data)
	if setup {
		// The setup token, where the controller's log says it is: a controller started without
		// the installer writes its own.
		tok, err := os.ReadFile(filepath.Join(data, "setup-token"))
		if err != nil {
			t.Fatalf("no setup token: %v", err)
		}
		var out map[string]any
		if code := c.call(t, "POST", "/api/setup", map[string]any{"admin": map[string]string{"username": c.user, "password": c.pass}, "setup_token": strings.TrimSpace(string(tok))}, &out); code != 200 {
			t.Fatalf("setup: %d %v", code, out)
		}
	}
	return c
}

func (c *controllerProc) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

func (c *controllerProc) url(path string) string {
	return fmt.Sprintf("https://127.0.0.1:%d%s", c.https, path)
}

// send sends a JSON request with basic auth and returns the answer's status and body; an error
// means no answer came. It does not fail the test, so that goroutines can call it.
func (c *controllerProc) send(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.url(path), r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// call sends a JSON request with basic auth and decodes the answer into out.
func (c *controllerProc) call(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	code, data, err := c.send(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return code
}

// create POSTs an object of kind and returns its uuid; any answer but 201 with a uuid fails the test.
func (c *controllerProc) create(t testing.TB, kind string, body map[string]any) string {
	t.Helper()
	var out map[string]any
	code := c.call(t, "POST", "/api/"+kind, body, &out)
	uuid, _ := out["uuid"].(string)
	if code != 201 || uuid == "" {
		t.Fatalf("create %s: %d %v", kind, code, out)
	}
	return uuid
}

func (c *controllerProc) token(t testing.TB, ttl int) string {
	t.Helper()
	var out map[string]string
	if code := c.call(t, "POST", "/api/jointoken", map[string]any{"description": "test", "ttl_seconds": ttl}, &out); code != 201 {
		t.Fatalf("create join token: %d %v", code, out)
	}
	return out["token"]
}

// seProc is an SE started from the binary.
type seProc struct {
	cmd  *exec.Cmd
	data string
	out  *bytes.Buffer
	done chan error
}

func startSE(t testing.TB, c *controllerProc, token, name string) *seProc {
	t.Helper()
	return startSEAt(t, fmt.Sprintf("127.0.0.1:%d", c.sysint), token, name)
}

// startSEAt runs an SE on this machine that joins the controller at addr (host:port) with token.
func startSEAt(t testing.TB, addr, token, name string) *seProc {
	t.Helper()
	s := &seProc{data: filepath.Join(t.TempDir(), name), out: &bytes.Buffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(aviInit, "se", "--controller", addr, "--data", s.data, "--name", name)
	s.cmd.Env = append(os.Environ(), "AVI_JOIN_TOKEN="+token)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		s.done <- nil
		if t.Failed() {
			t.Logf("SE %s log:\n%s", name, s.out)
		}
	})
	return s
}

// snapshot is the configuration the SE keeps on disk.
func (s *seProc) snapshot() (version int64, names []string) {
	data, err := os.ReadFile(filepath.Join(s.data, "config.json"))
	if err != nil {
		return -1, nil
	}
	var snap struct {
		Version         int64 `json:"version"`
		VirtualServices []struct {
			Name string `json:"name"`
		} `json:"virtual_services"`
	}
	if json.Unmarshal(data, &snap) != nil {
		return -1, nil
	}
	for _, v := range snap.VirtualServices {
		names = append(names, v.Name)
	}
	return snap.Version, names
}

// TestSEChannel: a real SE process joins with a token, receives a snapshot and a change, and is
// shown down when it stops; a wrong token, an expired token, a used-up (single-use) token, a wrong
// certificate hash and a join under the name of the SE that joined are refused.
func TestSEChannel(t *testing.T) {
	if err := exec.Command(aviInit, "version").Run(); err != nil {
		t.Fatalf("avi-init binary: %v", err)
	}
	c := startControllerProc(t, filepath.Join(t.TempDir(), "ctl"), true)
	token := c.token(t, 3600)
	se := startSE(t, c, token, "se-1")

	waitFor(t, "the SE to hold the first snapshot", 15*time.Second, func() bool {
		v, _ := se.snapshot()
		return v > 0
	})
	if fi, err := os.Stat(filepath.Join(se.data, "identity.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("SE identity file: %v, want mode 0600", err)
	}
	waitFor(t, "the controller to show the SE up", 10*time.Second, func() bool {
		var list struct {
			Results []struct {
				Name          string `json:"name"`
				Connected     bool   `json:"se_connected"`
				ConfigVersion int64  `json:"config_version"`
				OperStatus    struct {
					State string `json:"state"`
				} `json:"oper_status"`
			} `json:"results"`
		}
		c.call(t, "GET", "/api/serviceengine", nil, &list)
		v, _ := se.snapshot()
		return len(list.Results) == 1 && list.Results[0].Name == "se-1" && list.Results[0].Connected &&
			list.Results[0].OperStatus.State == "OPER_UP" && list.Results[0].ConfigVersion == v
	})

	// A change reaches the SE.
	start := time.Now()
	var vs map[string]any
	if code := c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "web-vs", "services": []map[string]int{{"port": 10001}}}, &vs); code != 201 {
		t.Fatalf("create virtual service: %d %v", code, vs)
	}
	waitFor(t, "the SE to receive the change", 5*time.Second, func() bool {
		_, names := se.snapshot()
		return strings.Contains(strings.Join(names, ","), "web-vs")
	})
	t.Logf("change reached the SE's disk in %s", time.Since(start).Round(time.Millisecond))

	// Refusals: each SE process exits with an error naming the reason.
	badNamed := func(tok, name, want string) {
		t.Helper()
		s := startSE(t, c, tok, name)
		select {
		case err := <-s.done:
			if err == nil || !strings.Contains(s.out.String(), want) {
				t.Errorf("SE with a bad token: exit %v, want an error mentioning %q:\n%s", err, want, s.out)
			}
			s.done <- err
		case <-time.After(15 * time.Second):
			t.Errorf("SE with a bad token (want %q) did not give up", want)
		}
	}
	bad := func(tok, want string) { t.Helper(); badNamed(tok, "se-bad", want) }
	parts := strings.Split(token, ".")
	wrongSecret := parts[0] + "." + strings.Repeat("x", 16) + "." + strings.Join(parts[2:], ".")
	bad(wrongSecret, "unknown or revoked join token")
	flipped := token[:len(token)-64] + strings.Repeat("0", 64)
	bad(flipped, "does not match the join token")
	short := c.token(t, 1)
	time.Sleep(1500 * time.Millisecond)
	bad(short, "expired")
	// The token se-1 joined with is single-use; a fresh one does not take se-1's name.
	bad(token, "used up")
	badNamed(c.token(t, 3600), "se-1", "delete it first")
	waitFor(t, "se-1 to stay up under its own credential", 10*time.Second, func() bool {
		var l struct {
			Results []struct {
				Connected bool `json:"se_connected"`
			} `json:"results"`
		}
		c.call(t, "GET", "/api/serviceengine?name=se-1", nil, &l)
		return len(l.Results) == 1 && l.Results[0].Connected
	})

	// Revoked: DELETE the token, then it is refused.
	var list struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
	}
	c.call(t, "GET", "/api/jointoken", nil, &list)
	revoked := false
	for _, jt := range list.Results {
		if strings.HasPrefix(token, jt.ID+".") {
			if code := c.call(t, "DELETE", "/api/jointoken/"+jt.ID, nil, nil); code != 204 {
				t.Fatalf("revoke token: %d", code)
			}
			revoked = true
		}
	}
	if !revoked {
		t.Fatalf("GET /api/jointoken does not list the token: %+v", list)
	}
	bad(token, "unknown or revoked join token")

	// The SE stops: the controller shows it down once it misses its heartbeats.
	se.cmd.Process.Kill()
	waitFor(t, "the controller to show the stopped SE down", 15*time.Second, func() bool {
		var l struct {
			Results []struct {
				Name       string `json:"name"`
				OperStatus struct {
					State string `json:"state"`
				} `json:"oper_status"`
			} `json:"results"`
		}
		c.call(t, "GET", "/api/serviceengine?name=se-1", nil, &l)
		return len(l.Results) == 1 && l.Results[0].OperStatus.State == "OPER_DOWN"
	})
}
