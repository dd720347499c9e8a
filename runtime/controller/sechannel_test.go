package controller

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/avi-init/avi-init/sechannel"
)

// TestBootstrapToken: a token the installer leaves in the data directory is adopted (at boot,
// or when an SE first presents it), lets the SE beside the controller join, and does not stay
// on disk.
func TestBootstrapToken(t *testing.T) {
	e := newAPIEnv(t)
	dir := e.srv.cfg.DataDir
	cert, err := loadOrCreateCert(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hash := sechannel.CertHash(cert.Leaf)
	e.setUp(t, "Bootstrap-Pass-1", nil)

	tok := sechannel.NewToken(hash)
	data, _ := json.Marshal(BootstrapToken{ID: tok.ID, Secret: tok.Secret})
	path := filepath.Join(dir, BootstrapTokenFile)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	join := e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": tok.String(), "name": "se-beside"}, apiCred{none: true}).want(t, http.StatusOK)
	if join.obj["se_uuid"] == "" {
		t.Fatalf("join with the bootstrap token: %v", join.obj)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("bootstrap token file kept after adoption: %v", err)
	}
	listed := e.admin(t, "GET", "/api/jointoken", nil).want(t, http.StatusOK)
	found := false
	for _, r := range listed.obj["results"].([]any) {
		found = found || r.(map[string]any)["id"] == tok.ID
	}
	if !found {
		t.Errorf("the adopted token is not listed (so it cannot be revoked): %v", listed.obj)
	}

	// A malformed file is reported and left alone, not adopted.
	os.WriteFile(path, []byte(`{"id": "x"}`), 0o600)
	if err := e.srv.adoptBootstrapToken(); err == nil {
		t.Error("a bootstrap token without a secret was adopted")
	}
}
