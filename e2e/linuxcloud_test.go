package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/avi-init/avi-init/e2e/sehost"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// linuxHost is one entry of linuxserver_hosts in GET /api/cloud/<uuid>/runtime.
type linuxHost struct {
	HostIP struct {
		Addr string `json:"addr"`
	} `json:"host_ip"`
	State              string `json:"state"`
	Reason             string `json:"reason"`
	HostKeyFingerprint string `json:"host_key_fingerprint"`
	SERef              string `json:"se_ref"`
}

// linuxCloud is a controller process whose Default-Cloud is a Linux server cloud, reachable by
// SE hosts on a sehost network, with an SSH user whose key the controller generated.
type linuxCloud struct {
	c      *controllerProc
	n      *sehost.Network
	cloud  string        // Default-Cloud's uuid
	pub    ssh.PublicKey // the SSH user's public key, to authorize on hosts
	userRf string        // the SSH user's reference
}

// newLinuxCloud starts a controller listening where the hosts of a new sehost network reach it,
// completes its setup, and creates the SSH user aviuser with a generated key, as an operator
// does on the first day.
func newLinuxCloud(t testing.TB) *linuxCloud {
	t.Helper()
	need(t)
	n := sehost.NewNetwork(t)
	c := startControllerProc(t, filepath.Join(t.TempDir(), "ctl"), true, withIP(n.Gateway.String()))
	var user struct {
		UUID      string `json:"uuid"`
		PublicKey string `json:"public_key"`
	}
	if code := c.call(t, "POST", "/api/cloudconnectoruser", map[string]string{"name": sehost.User}, &user); code != 201 {
		t.Fatalf("create the SSH user: %d %+v", code, user)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(user.PublicKey))
	if err != nil {
		t.Fatalf("the SSH user's public key %q: %v", user.PublicKey, err)
	}
	return &linuxCloud{c: c, n: n, cloud: c.uuidOf(t, "cloud", "Default-Cloud"), pub: pub, userRf: "/api/cloudconnectoruser/" + user.UUID}
}

// setHosts makes Default-Cloud a Linux server cloud of exactly these hosts.
func (lc *linuxCloud) setHosts(t testing.TB, hosts ...*sehost.Host) {
	t.Helper()
	lc.setCloud(t, "CLOUD_LINUXSERVER", "linuxserver_configuration", hosts)
}

// setCloud makes Default-Cloud a cloud of type vtype whose configuration (under key) lists
// exactly these hosts and the SSH user.
func (lc *linuxCloud) setCloud(t testing.TB, vtype, key string, hosts []*sehost.Host) {
	t.Helper()
	var list []any
	for _, h := range hosts {
		list = append(list, map[string]any{"host_ip": map[string]string{"addr": h.IP.String(), "type": "V4"}})
	}
	var out map[string]any
	if code := lc.c.call(t, "PUT", "/api/cloud/"+lc.cloud, map[string]any{"name": "Default-Cloud", "vtype": vtype,
		key: map[string]any{"ssh_user_ref": lc.userRf, "hosts": list}}, &out); code != 200 {
		t.Fatalf("PUT the %s cloud: %d %v", vtype, code, out)
	}
}

// entryIDs reads the entry_id the controller stamped on each host of the cloud, by address.
func (lc *linuxCloud) entryIDs(t testing.TB) map[string]string {
	t.Helper()
	var c struct {
		Linux struct {
			Hosts []struct {
				HostIP struct {
					Addr string `json:"addr"`
				} `json:"host_ip"`
				EntryID string `json:"entry_id"`
			} `json:"hosts"`
		} `json:"linuxserver_configuration"`
	}
	if code := lc.c.call(t, "GET", "/api/cloud/"+lc.cloud, nil, &c); code != http.StatusOK {
		t.Fatalf("GET the cloud: %d", code)
	}
	out := map[string]string{}
	for _, h := range c.Linux.Hosts {
		if h.EntryID == "" {
			t.Errorf("host %s of the cloud has no entry_id", h.HostIP.Addr)
		}
		out[h.HostIP.Addr] = h.EntryID
	}
	return out
}

// runtime reads the cloud's hosts. It does not fail the test, so that a watcher goroutine can
// call it.
func (lc *linuxCloud) runtime() ([]linuxHost, []byte, error) {
	code, raw, err := lc.c.send("GET", "/api/cloud/"+lc.cloud+"/runtime", nil)
	if err != nil {
		return nil, nil, err
	}
	if code != http.StatusOK {
		return nil, raw, fmt.Errorf("GET cloud runtime: status %d: %s", code, raw)
	}
	var rt struct {
		Hosts []linuxHost `json:"linuxserver_hosts"`
	}
	if err := json.Unmarshal(raw, &rt); err != nil {
		return nil, raw, fmt.Errorf("GET cloud runtime: %w: %s", err, raw)
	}
	return rt.Hosts, raw, nil
}

// hostWatch polls the cloud's runtime every 100 ms and keeps each host's latest status and
// when it first reached each state, so that the test reads times to Ready without its own
// waits skewing them.
type hostWatch struct {
	lc   *linuxCloud
	stop func()
	done chan struct{}

	mu     sync.Mutex
	cur    map[string]linuxHost
	reach  map[string]map[string]time.Time // host, state: first seen
	lastEr error
}

func (lc *linuxCloud) watch(t testing.TB) *hostWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &hostWatch{lc: lc, stop: cancel, done: make(chan struct{}), cur: map[string]linuxHost{}, reach: map[string]map[string]time.Time{}}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			hosts, _, err := lc.runtime()
			now := time.Now()
			w.mu.Lock()
			w.lastEr = err
			for _, h := range hosts {
				w.cur[h.HostIP.Addr] = h
				if w.reach[h.HostIP.Addr] == nil {
					w.reach[h.HostIP.Addr] = map[string]time.Time{}
				}
				if _, seen := w.reach[h.HostIP.Addr][h.State]; !seen {
					w.reach[h.HostIP.Addr][h.State] = now
				}
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *hostWatch) close() {
	w.stop()
	<-w.done
}

// forget drops what was seen of a host, so that its next states count anew.
func (w *hostWatch) forget(ip string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.cur, ip)
	delete(w.reach, ip)
}

// until waits for a host's status to satisfy ok and returns it.
func (w *hostWatch) until(t testing.TB, ip, what string, timeout time.Duration, ok func(linuxHost) bool) linuxHost {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		h, seen := w.cur[ip]
		err := w.lastEr
		w.mu.Unlock()
		if seen && ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s: timed out after %v waiting for %s; last seen %+v (API error: %v)", ip, timeout, what, h, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// first is when the host was first seen in state since the watch began or forgot it.
func (w *hostWatch) first(ip, state string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reach[ip][state]
}

// ready waits for a host to be Ready and returns its status and when it first was Ready.
func (w *hostWatch) ready(t testing.TB, ip string, timeout time.Duration) (linuxHost, time.Time) {
	t.Helper()
	h := w.until(t, ip, "Ready", timeout, func(h linuxHost) bool { return h.State == "Ready" && h.SERef != "" })
	return h, w.first(ip, "Ready")
}

// psWatch samples `ps -eo args` on the machine and inside SE hosts while it runs, keeping every
// distinct command line, to check afterwards that no secret was on one.
type psWatch struct {
	stop  func()
	done  chan struct{}
	mu    sync.Mutex
	lines map[string]string // command line: where it ran
}

func watchProcesses(hosts ...*sehost.Host) *psWatch {
	ctx, cancel := context.WithCancel(context.Background())
	p := &psWatch{stop: cancel, done: make(chan struct{}), lines: map[string]string{}}
	sample := func(where string, cmd *exec.Cmd) {
		out, _ := cmd.Output() // a host being stopped answers nothing, which is fine
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				p.lines[l] = where
			}
		}
	}
	go func() {
		defer close(p.done)
		for ctx.Err() == nil {
			var wg sync.WaitGroup
			wg.Go(func() { sample("the machine", exec.CommandContext(ctx, "ps", "-eo", "args")) })
			for _, h := range hosts {
				wg.Go(func() { sample(h.IP.String(), exec.CommandContext(ctx, "docker", "exec", h.ID, "ps", "-eo", "args")) })
			}
			wg.Wait()
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return p
}

// finish stops sampling and returns the command lines seen.
func (p *psWatch) finish() map[string]string {
	p.stop()
	<-p.done
	return p.lines
}

// storedPrivateKeys returns the private keys the controller keeps (the API never returns them):
// the base64 lines of each OpenSSH PEM block, read from a copy of its store opened with its
// secrets key, as the controller opens it. The store file itself must not hold them.
func storedPrivateKeys(t testing.TB, dataDir string) []string {
	t.Helper()
	var lines []string
	var err error
	for range 3 { // a copy taken while the controller writes may be torn: take another
		if lines, err = privateKeysInCopy(t.TempDir(), dataDir); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("read the controller's store: %v", err)
	}
	if len(lines) == 0 {
		t.Fatal("no private key found in the controller's store: cannot check that it leaks nowhere")
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, contract.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, "the store file "+contract.StoreFile, string(raw), lines)
	return lines
}

// privateKeysInCopy copies the store and its key from dataDir into dir and returns the lines of
// the private keys the copy holds.
func privateKeysInCopy(dir, dataDir string) ([]string, error) {
	for _, f := range []string{contract.StoreFile, contract.SecretsKeyFile} {
		data, err := os.ReadFile(filepath.Join(dataDir, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(filepath.Join(dir, contract.StoreFile))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var lines []string
	for _, cu := range store.List[*avi.CloudConnectorUser](st) {
		for l := range strings.SplitSeq(cu.PrivateKey, "\n") {
			if len(l) >= 20 && !strings.HasPrefix(l, "-----") {
				lines = append(lines, l)
			}
		}
	}
	return lines, nil
}

// noSecret fails the test if text holds a private key or one of the key's lines.
func noSecret(t testing.TB, what, text string, keyLines []string) {
	t.Helper()
	if strings.Contains(text, "PRIVATE KEY") {
		t.Errorf("%s holds a private key", what)
	}
	for _, l := range keyLines {
		if strings.Contains(text, l) {
			t.Errorf("%s holds a line of the SSH user's private key", what)
			return
		}
	}
}

// abAll runs ab against the virtual service on each host at once and wants every request served.
func abAll(t *testing.T, port int, hosts ...*sehost.Host) {
	t.Helper()
	results := make([]abResult, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { results[i] = ab(t, 100, 4, fmt.Sprintf("http://%s:%d/100kb.txt", h.IP, port)) })
	}
	wg.Wait()
	for i, h := range hosts {
		r := results[i]
		t.Logf("ab -n 100 through the SE on %s: %d complete, %d failed, %d non-2xx", h.IP, r.complete, r.failed, r.non2xx)
		if !r.servedAll(100) {
			t.Errorf("through the SE on %s: %+v, want 100 complete, 0 failed", h.IP, r)
		}
	}
}

// TestLinuxCloud is an operator's first day with a Linux server cloud: add SE hosts through the
// API, see each Ready, serve traffic through every SE; a host without password-less sudo, a
// host that was down and a reinstalled host (new host key) each show why they are not Ready;
// an SE host stops and the others keep serving. The SSH user's private key appears on no
// command line, in no log line and in no API answer.
func TestLinuxCloud(t *testing.T) {
	needTool(t, "ab")
	needTool(t, "ps")
	lc := newLinuxCloud(t)
	c, n := lc.c, lc.n
	_, firstKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, secondKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	booted := time.Now()
	hosts := n.Add(t,
		sehost.Options{AuthorizedKey: lc.pub, Sudo: true},
		sehost.Options{AuthorizedKey: lc.pub, Sudo: true},
		sehost.Options{AuthorizedKey: lc.pub, Sudo: true},
		sehost.Options{AuthorizedKey: lc.pub, HostKey: firstKey}) // no sudo
	t.Logf("%d SE hosts booted on %s in %v", len(hosts), n.Subnet, time.Since(booted).Round(10*time.Millisecond))
	a, b, late, noSudo := hosts[0], hosts[1], hosts[2], hosts[3]
	ctx := context.Background()
	if err := late.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	ps := watchProcesses(a, b, late)
	w := lc.watch(t)
	added := time.Now()
	lc.setHosts(t, a, b, late, noSudo)

	// Without password-less sudo: SSH Failed, saying so.
	h := w.until(t, noSudo.IP.String(), "SSH Failed naming sudo", time.Minute, func(h linuxHost) bool {
		return h.State == "SSH Failed" && strings.Contains(h.Reason, "password-less sudo")
	})
	t.Logf("host without sudo: %s: %s", h.State, h.Reason)
	firstPub, err := ssh.NewPublicKey(firstKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	if want := ssh.FingerprintSHA256(firstPub); h.HostKeyFingerprint != want {
		t.Errorf("host without sudo shows host key %q, want the one it presented, %s", h.HostKeyFingerprint, want)
	}
	// A host that is down: SSH Failed with the connection's error.
	h = w.until(t, late.IP.String(), "SSH Failed", 60*time.Second, func(h linuxHost) bool { return h.State == "SSH Failed" && h.Reason != "" })
	t.Logf("host that is down: %s: %s", h.State, h.Reason)

	for _, h := range []*sehost.Host{a, b} {
		_, at := w.ready(t, h.IP.String(), 3*time.Minute)
		t.Logf("SE host %s: cloud PUT -> Ready in %v", h.IP, at.Sub(added).Round(10*time.Millisecond))
	}

	// The host that was down comes up: it is tried again and gets its SE.
	up := time.Now()
	if err := late.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, at := w.ready(t, late.IP.String(), 2*time.Minute)
	t.Logf("host that was down: start (boot included) -> Ready in %v", at.Sub(up).Round(10*time.Millisecond))
	lines := ps.finish()

	// The host without sudo is reinstalled: same address, new host key. Its first key is kept
	// and the new one refused.
	if err := noSudo.Close(); err != nil {
		t.Fatal(err)
	}
	w.forget(noSudo.IP.String())
	reinstalledHost := n.Add(t, sehost.Options{AuthorizedKey: lc.pub, Sudo: true, HostKey: secondKey, IP: noSudo.IP})[0]
	secondPub, err := ssh.NewPublicKey(secondKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	// The host has been failing since it was added, so its next attempt may be a full backoff
	// (up to 60 s) away, or fall while the new host boots and need one more.
	h = w.until(t, noSudo.IP.String(), "SSH Failed naming the changed host key", 3*time.Minute, func(h linuxHost) bool {
		return h.State == "SSH Failed" && strings.Contains(h.Reason, "host key") && strings.Contains(h.Reason, "changed")
	})
	t.Logf("reinstalled host: %s: %s", h.State, h.Reason)
	if !strings.Contains(h.Reason, ssh.FingerprintSHA256(secondPub)) || h.HostKeyFingerprint != ssh.FingerprintSHA256(firstPub) {
		t.Errorf("reinstalled host: reason %q and fingerprint %q, want the new key %s named and the recorded %s kept",
			h.Reason, h.HostKeyFingerprint, ssh.FingerprintSHA256(secondPub), ssh.FingerprintSHA256(firstPub))
	}
	// As the reason says: removed from the cloud and added back, it is trusted anew, even
	// added back at once, before the controller may have acted on (or even seen) the removal:
	// the host is a new entry of the cloud, and that is what the controller follows.
	reinstalled := noSudo.IP.String()
	before := lc.entryIDs(t)
	w.forget(reinstalled)
	lc.setHosts(t, a, b, late)
	lc.setHosts(t, a, b, late, reinstalledHost)
	readded := time.Now()
	after := lc.entryIDs(t)
	for addr, id := range after {
		if (addr == reinstalled) == (id == before[addr]) {
			t.Errorf("entry ids before %v and after %v the removal and addition: want a new one for %s only", before, after, reinstalled)
		}
	}
	h, at = w.ready(t, reinstalled, 3*time.Minute)
	t.Logf("reinstalled host removed and added back: Ready in %v", at.Sub(readded).Round(10*time.Millisecond))
	if h.HostKeyFingerprint != ssh.FingerprintSHA256(secondPub) {
		t.Errorf("reinstalled host added back shows host key %q, want its new one %s", h.HostKeyFingerprint, ssh.FingerprintSHA256(secondPub))
	}

	// Traffic: a pool of a backend this process serves on the hosts' network, and an east-west
	// virtual service, which every SE serves on its host's addresses.
	backend := serveBackend(t, n.Gateway.String())
	port := 8080
	var out map[string]any
	if code := c.call(t, "POST", "/api/pool", map[string]any{"name": "web-pool", "servers": []any{map[string]any{
		"ip": map[string]string{"addr": n.Gateway.String(), "type": "V4"}, "port": backend}}}, &out); code != 201 {
		t.Fatalf("create the pool: %d %v", code, out)
	}
	if code := c.call(t, "POST", "/api/virtualservice", map[string]any{"name": "web", "east_west_placement": true,
		"services": []any{map[string]int{"port": port}}, "pool_ref": "/api/pool/" + out["uuid"].(string)}, &out); code != 201 {
		t.Fatalf("create the virtual service: %d %v", code, out)
	}
	serving := []*sehost.Host{a, b, late, reinstalledHost}
	for _, h := range serving {
		url := fmt.Sprintf("http://%s:%d/100kb.txt", h.IP, port)
		waitFor(t, "the SE on "+h.IP.String()+" to serve the virtual service", time.Minute, func() bool {
			resp, err := http.Get(url)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			n, _ := io.Copy(io.Discard, resp.Body)
			return resp.StatusCode == 200 && n == 100*1024
		})
	}
	abAll(t, port, serving...)

	// An SE host stops: the others keep serving, and the controller shows its SE down.
	w.forget(b.IP.String())
	stopped := time.Now()
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	abAll(t, port, a, late, reinstalledHost)
	h = w.until(t, b.IP.String(), "the stopped host's SE shown not connected", time.Minute, func(h linuxHost) bool { return h.State != "Ready" })
	t.Logf("stopped host: %s: %s (%v after the stop began)", h.State, h.Reason, w.first(b.IP.String(), h.State).Sub(stopped).Round(100*time.Millisecond))
	var se struct {
		Name       string `json:"name"`
		Connected  bool   `json:"se_connected"`
		OperStatus struct {
			State string `json:"state"`
		} `json:"oper_status"`
	}
	waitFor(t, "the stopped host's SE to be OPER_DOWN", time.Minute, func() bool {
		c.call(t, "GET", strings.TrimPrefix(h.SERef, strings.TrimSuffix(c.url(""), "/")), nil, &se)
		return se.OperStatus.State == "OPER_DOWN" && !se.Connected
	})
	t.Logf("stopped host's SE %s: %s", se.Name, se.OperStatus.State)
	abAll(t, port, a, late, reinstalledHost)
	// It boots again: its SE starts with it and rejoins.
	w.forget(b.IP.String()) // it was Ready before it stopped
	up = time.Now()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, at = w.ready(t, b.IP.String(), 2*time.Minute)
	t.Logf("stopped host: start (boot included) -> Ready again in %v", at.Sub(up).Round(100*time.Millisecond))
	abAll(t, port, serving...)

	// The private key: on no command line seen while deploying, in no log line, in no answer.
	keyLines := storedPrivateKeys(t, c.data)
	installs := 0
	for l, where := range lines {
		noSecret(t, "a command line on "+where+" ("+l+")", l, keyLines)
		if strings.Contains(l, "--join-token-file -") {
			installs++
		}
	}
	if installs == 0 {
		t.Errorf("no installer command line was seen in %d sampled: the process check saw no deployment", len(lines))
	}
	t.Logf("%d distinct command lines sampled on the machine and the hosts while deploying (%d installer runs): no private key", len(lines), installs)
	noSecret(t, "the controller's log", c.logs.String(), keyLines)
	_, raw, err := lc.runtime()
	if err != nil {
		t.Fatal(err)
	}
	script := "/api/linux_host_install?username=" + sehost.User
	answers := map[string]string{"cloud runtime": string(raw), script: fetchText(t, c, script)}
	for _, path := range []string{"/api/cloudconnectoruser", "/api/cloud", "/api/serviceengine"} {
		var v json.RawMessage
		c.call(t, "GET", path, nil, &v)
		answers[path] = string(v)
	}
	for path, body := range answers {
		noSecret(t, path, body, keyLines)
	}

	// Removing a host uninstalls its SE there and deletes its SE record.
	aSE := w.until(t, a.IP.String(), "host a Ready before its removal", time.Minute, func(h linuxHost) bool { return h.SERef != "" }).SERef
	lc.setHosts(t, b, late, reinstalledHost)
	// The removal runs in the background (the host leaves the runtime at once); its SE record
	// goes last, once the SE is uninstalled.
	sePath := strings.TrimPrefix(aSE, strings.TrimSuffix(c.url(""), "/"))
	waitFor(t, "the removed host's SE record to go", 2*time.Minute, func() bool {
		return c.call(t, "GET", sePath, nil, nil) == http.StatusNotFound
	})
	if out, _, err := a.Exec(ctx, "docker", "ps", "-a", "--filter", "name=^avise$", "--format", "{{.Names}}"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("avise on the removed host: %q, %v; want it uninstalled", out, err)
	}
	if out, code, _ := a.Exec(ctx, "test", "-e", "/etc/avi-init/avise.env"); code == 0 {
		t.Errorf("the removed host keeps the SE's env file %s", out)
	}
}

// fetchText GETs a text answer without credentials.
func fetchText(t testing.TB, c *controllerProc, path string) string {
	t.Helper()
	body, err := httpGet(c.client, c.url(path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return body
}

// serveBackend serves /100kb.txt (as e2e/backend does) from this process on ip and returns its
// port; it stops when the test ends.
func serveBackend(t testing.TB, ip string) int {
	t.Helper()
	body := bytes.Repeat([]byte("0123456789abcdef"), 100*1024/16)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /100kb.txt", func(w http.ResponseWriter, _ *http.Request) { w.Write(body) })
	return serveOn(t, ip, mux)
}

// serveOn serves h from this process on ip and returns its port; it stops when the test ends.
func serveOn(t testing.TB, ip string, h http.Handler) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("backend on %s: %v", ip, err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}
