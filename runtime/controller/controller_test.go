package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/testnet"
	"github.com/avi-init/avi-init/model/contract"
)

// startController runs the controller on free loopback ports until the test ends.
func startController(t *testing.T, dir string) Config {
	t.Helper()
	_, cfg := startControllerWith(t, dir, defaultConnLimits)
	return cfg
}

// startControllerWith runs the controller with its connection limits set.
func startControllerWith(t *testing.T, dir string, limits connLimits) (*Server, Config) {
	t.Helper()
	cfg := Config{DataDir: dir, IP: "192.0.2.10", HTTPSPort: testnet.FreePort(t), HTTPPort: testnet.FreePort(t), SysintPort: testnet.FreePort(t)}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.limits = limits
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller stopped with %v", err)
		}
		s.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := contract.ProbeController(context.Background(), dir, cfg.HTTPSPort); err == nil {
			return s, cfg
		} else if time.Now().After(deadline) {
			t.Fatalf("controller never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestControllerServesInitialDataAndKeepsItsCertificate(t *testing.T) {
	dir := t.TempDir()
	cfg := startController(t, dir)
	data, err := contract.ProbeController(context.Background(), dir, cfg.HTTPSPort)
	if err != nil {
		t.Fatal(err)
	}
	if data.Version.Version == "" || data.SetupState != "pending" || !data.UserInitialSetup {
		t.Errorf("initial data %+v: want a version and setup pending", data)
	}
	if _, err := contract.ProbeController(context.Background(), dir, cfg.SysintPort); err != nil {
		t.Errorf("sysint port: %v", err)
	}
	key, err := os.Stat(filepath.Join(dir, contract.KeyFile))
	if err != nil || key.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, key.Mode().Perm())
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/x?y=1", cfg.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := fmt.Sprintf("https://127.0.0.1:%d/x?y=1", cfg.HTTPSPort); resp.Header.Get("Location") != want {
		t.Errorf("HTTP redirect to %q, want %q", resp.Header.Get("Location"), want)
	}

	// A Host that is none of the controller's names is not reflected.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/x", cfg.HTTPPort), nil)
	req.Host = "evil.example"
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := fmt.Sprintf("https://%s:%d/x", cfg.IP, cfg.HTTPSPort); resp.Header.Get("Location") != want {
		t.Errorf("HTTP redirect with Host evil.example to %q, want %q", resp.Header.Get("Location"), want)
	}

	before, _ := os.ReadFile(filepath.Join(dir, contract.CertFile))
	cert, err := loadOrCreateCert(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := cert.Certificate[0]; string(before) == "" || len(got) == 0 {
		t.Fatal("no certificate kept")
	}
	after, _ := os.ReadFile(filepath.Join(dir, contract.CertFile))
	if string(before) != string(after) {
		t.Error("a restart replaced the certificate kept in the data directory")
	}
}

func TestProbeRejectsAnotherCertificate(t *testing.T) {
	dir := t.TempDir()
	cfg := startController(t, dir)
	// A different controller's certificate must not be trusted.
	other := t.TempDir()
	if _, err := loadOrCreateCert(other, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := contract.ProbeController(context.Background(), other, cfg.HTTPSPort); err == nil {
		t.Fatal("probe trusted a controller whose certificate is not the one in its data directory")
	}
	if _, err := contract.ProbeController(context.Background(), t.TempDir(), cfg.HTTPSPort); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("probe without a certificate: %v, want a not-exist error", err)
	}
}

func TestRunFailsOnBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	err = Run(context.Background(), Config{DataDir: t.TempDir(), HTTPSPort: busy, HTTPPort: testnet.FreePort(t), SysintPort: testnet.FreePort(t)})
	if err == nil {
		t.Fatal("Run on a busy port succeeded")
	}
}
