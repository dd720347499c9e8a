package sehost

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/avi-init/avi-init/e2e/internal/testimage"
	"github.com/avi-init/avi-init/integrations/sshdeploy/sshdtest"
)

// TestSEHosts starts two SE hosts and uses them as the controller's SSH
// deployer will: log in with a key, use sudo and the host's own engine,
// load an image into it and run a host-network container that the test
// process reaches at the host's address.
func TestSEHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("boots containers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	signer := sshdtest.Signer(t)
	_, fixedHostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fixedPub, err := ssh.NewPublicKey(fixedHostKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	bin := aviInitBinary(t)

	n := NewNetwork(t)
	began := time.Now()
	hosts := n.Add(t,
		Options{AuthorizedKey: signer.PublicKey(), Sudo: true, HostKey: fixedHostKey},
		Options{AuthorizedKey: signer.PublicKey()})
	t.Logf("2 hosts on %s (%s) ready in %s", n.Name, n.Subnet, time.Since(began).Round(10*time.Millisecond))
	sudoHost, plainHost := hosts[0], hosts[1]

	// Host keys: the fixed one is presented as given; the other was made at
	// boot, and HostKey reads what sshd presents.
	madeKey, err := plainHost.HostKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(madeKey.Marshal(), fixedPub.Marshal()) {
		t.Error("the host without a fixed key presents the fixed key")
	}
	sudoSSH := dial(t, sudoHost, signer, fixedPub)
	plainSSH := dial(t, plainHost, signer, madeKey)

	if out, err := run(sudoSSH, "sudo -n docker info --format '{{.ServerVersion}} {{.Driver}} {{.CgroupVersion}}'"); err != nil {
		t.Fatalf("sudo docker info on the sudo host: %v\n%s", err, out)
	} else {
		t.Logf("inner engine: %s", strings.TrimSpace(out))
	}
	out, err := run(plainSSH, "sudo -n docker info")
	if err == nil || !strings.Contains(out, "a password is required") {
		t.Errorf("sudo on the host without sudo: err %v, output %q; want a failure saying a password is required", err, out)
	}

	// The hosts route through the gateway, as the installer expects, and
	// reach the machine there: where a controller the test runs listens.
	if out, err := run(plainSSH, "ip -4 route show default"); err != nil || !strings.Contains(out, "via "+n.Gateway.String()) {
		t.Errorf("default route: %q, %v; want one via %s", out, err, n.Gateway)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(n.Gateway.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if out, err := run(plainSSH, fmt.Sprintf("echo hello >/dev/tcp/%s/%d", n.Gateway, port)); err != nil {
		t.Errorf("connect from %s to the gateway %s:%d: %v\n%s", plainHost.Name, n.Gateway, port, err, out)
	}

	// The inner engine loads an image and runs a host-network container
	// with CPU and memory limits (the installer sets both), whose port the
	// test process reaches at the host's address. The controller runtime
	// serves as the listener: it answers without anything else running.
	if err := sudoHost.CopyIn(bin, "/usr/local/bin/avi-init"); err != nil {
		t.Fatal(err)
	}
	out, err = run(sudoSSH, "sudo avi-init image save --role controller -o /tmp/controller.tar && sudo docker load -i /tmp/controller.tar")
	if err != nil {
		t.Fatalf("load an image into the inner engine: %v\n%s", err, out)
	}
	ref := regexp.MustCompile(`Loaded image: (\S+)`).FindStringSubmatch(out)
	if ref == nil {
		t.Fatalf("docker load said %q, want the loaded image's name", out)
	}
	out, err = run(sudoSSH, "sudo docker run --detach --name probe --network host --cpus 0.5 --memory 256m --volume /tmp/probe:/vol "+
		ref[1]+" controller --https-port 9443 --http-port 9080 --sysint-port 9444 --dns-port 5354")
	if err != nil {
		t.Fatalf("run a container in the inner engine: %v\n%s", err, out)
	}
	url := fmt.Sprintf("https://%s/api/initial-data", net.JoinHostPort(sudoHost.IP.String(), "9443"))
	if body, err := getJSON(ctx, url); err != nil {
		logs, _ := run(sudoSSH, "sudo docker logs probe")
		t.Fatalf("GET %s: %v\ncontainer logs:\n%s", url, err, logs)
	} else {
		t.Logf("GET %s: %s", url, body)
	}

	logMemory(t, hosts)

	// Stop and start keep the address and the host key made at first boot.
	plainSSH.Close()
	if err := plainHost.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", plainHost.SSHAddr(), time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", plainHost.SSHAddr())
	}
	began = time.Now()
	if err := plainHost.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s ready again %s after Start", plainHost.Name, time.Since(began).Round(10*time.Millisecond))
	plainSSH = dial(t, plainHost, signer, madeKey)
	if out, err := run(plainSSH, "id -un"); err != nil || strings.TrimSpace(out) != User {
		t.Errorf("id -un after restart: %q, %v; want %s", out, err, User)
	}
}

// TestSEHostBridge starts a host whose inner engine keeps its default
// bridge, loads an image from the machine's engine into it, and runs a
// container there without host networking whose published port the test
// process reaches at the host's address: what a Docker cloud's
// application containers need.
func TestSEHostBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("boots containers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	signer := sshdtest.Signer(t)

	n := NewNetwork(t)
	ref := backendImage(t)
	began := time.Now()
	h := n.Add(t, Options{AuthorizedKey: signer.PublicKey(), Bridge: true})[0]
	t.Logf("%s ready in %s", h.Name, time.Since(began).Round(10*time.Millisecond))

	began = time.Now()
	if err := h.LoadImages(ctx, ref); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %s in %s", ref, time.Since(began).Round(10*time.Millisecond))
	if err := h.LoadImages(ctx, "avi-init-e2e/no-such-image:0"); err == nil || !strings.Contains(err.Error(), "docker save") {
		t.Errorf("LoadImages of an image the machine lacks: %v; want a docker save error", err)
	} else {
		t.Logf("LoadImages of an image the machine lacks: %v", err)
	}
	out, code, err := h.Exec(ctx, "docker", "run", "--detach", "--name", "app", "--hostname", "bridged", "--publish", "18080:8080", ref)
	if err != nil || code != 0 {
		t.Fatalf("run a bridged container in the inner engine: exit %d, %v\n%s", code, err, out)
	}
	url := fmt.Sprintf("http://%s/", net.JoinHostPort(h.IP.String(), "18080"))
	const want = "from bridged\n"
	if body, err := poll(ctx, url, func(b []byte) bool { return string(b) == want }); err != nil {
		logs, _, _ := h.Exec(ctx, "docker", "logs", "app")
		t.Fatalf("GET %s: %v; want %q\ncontainer logs:\n%s", url, err, want, logs)
	} else {
		t.Logf("GET %s: %q", url, body)
	}
}

// backendImage is e2e/backend (a static HTTP server answering / with "from <host name>") as an
// image in the machine's engine, the same as the e2e package's.
func backendImage(t *testing.T) string {
	t.Helper()
	ref, err := testimage.Build("../backend", "avie2e/backend")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// aviInitBinary is $AVI_INIT_BIN (make builds it) or a static build here:
// static, because it runs alone in the image it builds.
func aviInitBinary(t *testing.T) string {
	if p := os.Getenv("AVI_INIT_BIN"); p != "" {
		return p
	}
	p := filepath.Join(t.TempDir(), "avi-init")
	cmd := exec.Command("go", "build", "-o", p, "../../cmd/avi-init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build avi-init: %v\n%s", err, out)
	}
	return p
}

// dial logs in as User, accepting only hostKey.
func dial(t *testing.T, h *Host, signer ssh.Signer, hostKey ssh.PublicKey) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", h.SSHAddr(), &ssh.ClientConfig{
		User:            User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh %s@%s: %v", User, h.SSHAddr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs a shell command over c and returns its combined output.
func run(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

// getJSON polls url until it answers 200 with JSON: the container takes a
// moment to listen. Its certificate is self-signed.
func getJSON(ctx context.Context, url string) (string, error) {
	return poll(ctx, url, json.Valid)
}

// poll GETs url until it answers 200 with a body that ok accepts, for up
// to 30 s; HTTPS certificates are not checked.
func poll(ctx context.Context, url string, ok func([]byte) bool) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		body, err := get(ctx, client, url, ok)
		if err == nil {
			return body, nil
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func get(ctx context.Context, client *http.Client, url string, ok func([]byte) bool) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || !ok(body) {
		return "", fmt.Errorf("status %s, body %q", resp.Status, body)
	}
	return string(body), nil
}

// BenchmarkAdd10 measures how long ten SE hosts started together take to
// be ready, and what one costs in memory once booted (the SE benchmark
// needs ten hosts from added to SE Ready in under 20 s).
//
//	go test -run '^$' -bench Add10 -benchtime 1x ./e2e/sehost/
func BenchmarkAdd10(b *testing.B) {
	signer := sshdtest.Signer(b)
	opts := make([]Options, 10)
	for i := range opts {
		opts[i] = Options{AuthorizedKey: signer.PublicKey(), Sudo: true}
	}
	n := NewNetwork(b)
	var mib float64
	for b.Loop() {
		hosts := n.Add(b, opts...)
		b.StopTimer()
		mib = 0
		for _, h := range hosts {
			m, err := memoryMiB(h)
			if err != nil {
				b.Fatal(err)
			}
			mib += m
			if err := h.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(mib/float64(len(opts)), "MiB/host")
}

// logMemory reports what each host costs the machine.
func logMemory(t *testing.T, hosts []*Host) {
	for _, h := range hosts {
		m, err := memoryMiB(h)
		if err != nil {
			t.Error(err)
			continue
		}
		t.Logf("%s memory: %.1f MiB", h.Name, m)
	}
}

// memoryMiB is the host's memory use as `docker stats` counts it: its
// cgroup's usage less the page cache it could drop.
func memoryMiB(h *Host) (float64, error) {
	out, err := exec.Command("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", h.ID).Output()
	if err != nil {
		return 0, fmt.Errorf("docker stats %s: %w", h.Name, err)
	}
	// "57.38MiB / 23.54GiB"
	usage, _, _ := strings.Cut(string(out), " / ")
	for _, u := range []struct {
		suffix string
		mib    float64
	}{{"GiB", 1024}, {"MiB", 1}, {"KiB", 1.0 / 1024}, {"B", 1.0 / (1 << 20)}} {
		if num, ok := strings.CutSuffix(usage, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("docker stats %s: memory %q: %w", h.Name, usage, err)
			}
			return v * u.mib, nil
		}
	}
	return 0, fmt.Errorf("docker stats %s: memory %q: unknown unit", h.Name, usage)
}
