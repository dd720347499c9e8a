package contract

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

func TestParseSetup(t *testing.T) {
	for _, tt := range []struct {
		name, json, field string // field: the field the error names; empty: accepted
	}{
		{"minimal", `{"admin": {"username": "admin", "password": "Str0ng-Passw0rd"}}`, ""},
		{"with cloud", `{"admin": {"username": "admin", "password": "Str0ng-Passw0rd"}, "cloud": {"name": "Default-Cloud", "vtype": "CLOUD_NONE"}}`, ""},
		{"no admin", `{"cloud": {"name": "Default-Cloud"}}`, "admin"},
		{"no password", `{"admin": {"username": "admin"}}`, "admin"},
		{"weak password", `{"admin": {"username": "admin", "password": "admin"}}`, "admin.password"},
		{"unknown field", `{"admin": {"username": "admin", "password": "Str0ng-Passw0rd"}, "adminn": {}}`, "adminn"},
		{"wrong type", `{"admin": "admin"}`, "admin"},
		{"not JSON", `{"admin":`, "body"},
		{"empty", ``, "body"},
	} {
		req, err := ParseSetup([]byte(tt.json))
		var fe *avi.FieldError
		switch {
		case tt.field == "" && (err != nil || req.Admin.Username != "admin"):
			t.Errorf("%s: %v, %v", tt.name, req, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: err %v, want a field error on %q", tt.name, err, tt.field)
		}
	}
}

// writeCert keeps a new self-signed certificate for 127.0.0.1 as a controller does, and returns
// it with its key.
func writeCert(t *testing.T, dataDir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, filepath.Dir(CertFile)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func TestCertHash(t *testing.T) {
	dir := t.TempDir()
	if _, err := CertHash(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no certificate: err %v, want not exist", err)
	}
	cert, _ := writeCert(t, dir)
	if got, err := CertHash(dir); err != nil || got != sechannel.CertHash(cert) {
		t.Errorf("CertHash = %q, %v; want the hash tokens carry, %q", got, err, sechannel.CertHash(cert))
	}
	os.WriteFile(filepath.Join(dir, CertFile), []byte("not PEM"), 0o644)
	if _, err := CertHash(dir); err == nil || !strings.Contains(err.Error(), "not PEM") {
		t.Errorf("garbage certificate: err %v", err)
	}
}

func TestProbeSE(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"", SEIdentityFile, SEConfigFile} {
		if f != "" {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		err := ProbeSE(dir)
		if ready := f == SEConfigFile; (err == nil) != ready {
			t.Errorf("after writing %q: ProbeSE = %v, want ready %v", f, err, ready)
		}
	}
}

// The probe trusts only the certificate in the data directory and reads the initial data.
func TestProbeController(t *testing.T) {
	answer := InitialData{Version: VersionInfo{Version: "1.2.3"}, UserInitialSetup: true, SetupState: "pending"}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/initial-data" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(answer)
	}))
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}}
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())

	got, err := ProbeController(context.Background(), dir, port)
	if err != nil || got != answer {
		t.Errorf("ProbeController = %+v, %v; want %+v", got, err, answer)
	}
	other := t.TempDir()
	writeCert(t, other)
	if _, err := ProbeController(context.Background(), other, port); err == nil {
		t.Error("the probe trusted a certificate other than the one kept in the data directory")
	}
	if _, err := ProbeController(context.Background(), t.TempDir(), port); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no certificate: err %v, want not exist", err)
	}
}

func TestEnsureSetupToken(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadSetupToken(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no token yet: err %v, want not exist", err)
	}
	tok, created, err := EnsureSetupToken(dir)
	if err != nil || !created || len(tok) != 32 {
		t.Fatalf("EnsureSetupToken = %q, %v, %v; want a new 32-character token", tok, created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, SetupTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("setup token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	// A token that exists is kept, by whichever of installer and controller comes second.
	again, created, err := EnsureSetupToken(dir)
	if err != nil || created || again != tok {
		t.Errorf("second EnsureSetupToken = %q, %v, %v; want %q kept", again, created, err, tok)
	}
	if got, err := ReadSetupToken(dir); err != nil || got != tok {
		t.Errorf("ReadSetupToken = %q, %v; want %q", got, err, tok)
	}
	other, _, _ := EnsureSetupToken(t.TempDir())
	if other == tok {
		t.Error("two data directories got the same setup token")
	}
}
