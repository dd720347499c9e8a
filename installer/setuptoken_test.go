package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/model/contract"
)

// controllerDataDir is the data directory the installed controller was given.
func controllerDataDir(t *testing.T, h *harness) string {
	t.Helper()
	data, err := os.ReadFile(h.env.EnvFile("controller"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := settingsFromFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return s.DataDir
}

// The installer writes the controller's setup token (0600) before its first start and prints
// it, in text and in --output json; `avi-init status` shows it until the controller is set up.
func TestSetupTokenPrintedAndShown(t *testing.T) {
	h := newHarness(t, false)
	var stdout bytes.Buffer
	h.env.Stdout = &stdout
	args := []string{"-c", "-cc", "1", "-cm", "1", "-i"}
	if out, err := h.install(t, append(args, "--output", "json")...); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	dir := controllerDataDir(t, h)
	tok, err := contract.ReadSetupToken(dir)
	if err != nil {
		t.Fatalf("no setup token after install: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, contract.SetupTokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("setup token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Result.SetupToken != tok {
		t.Errorf("--output json result.setup_token = %q (%v), want %q", rep.Result.SetupToken, err, tok)
	}

	h.env.Stdout = h.out
	out, err := h.install(t, args...)
	if err != nil || !strings.Contains(out, "Setup token      : "+tok+"\n") || !strings.Contains(out, "sudo avi-init status") {
		t.Errorf("re-run while not set up: %v; want the same token printed:\n%s", err, out)
	}

	h.out.Reset()
	if _, err := Status(context.Background(), h.env, "text"); err != nil || !strings.Contains(h.out.String(), "setup token: "+tok) {
		t.Errorf("status: %v; want the setup token shown:\n%s", err, h.out)
	}
	h.out.Reset()
	var doc struct{ Roles []RoleStatus }
	if _, err := Status(context.Background(), h.env, "json"); err != nil || json.Unmarshal(h.out.Bytes(), &doc) != nil || doc.Roles[0].SetupToken != tok {
		t.Errorf("status --output json: %v; want setup_token %q:\n%s", err, tok, h.out)
	}

	// Once set up, the controller deletes the file: nothing shows a token any more.
	os.Remove(filepath.Join(dir, contract.SetupTokenFile))
	os.WriteFile(filepath.Join(dir, contract.StoreFile), nil, 0o600)
	out, err = h.install(t, args...)
	if err != nil || strings.Contains(out, "Setup token") {
		t.Errorf("re-run once set up: %v; want no setup token:\n%s", err, out)
	}
	if _, err := contract.ReadSetupToken(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the installer wrote a setup token for a controller that has booted: %v", err)
	}
	h.out.Reset()
	if Status(context.Background(), h.env, "text"); strings.Contains(h.out.String(), "setup token") {
		t.Errorf("status once set up shows a setup token:\n%s", h.out)
	}
}

// --setup-json sets the controller up on first boot: no setup token to print.
func TestSetupJSONWritesNoSetupToken(t *testing.T) {
	h := newHarness(t, false)
	setup := filepath.Join(t.TempDir(), "setup.json")
	os.WriteFile(setup, []byte(`{"admin": {"username": "admin", "password": "Str0ng-Passw0rd"}}`), 0o600)
	out, err := h.install(t, "-c", "-cc", "1", "-cm", "1", "-i", "--setup-json", setup)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if _, err := contract.ReadSetupToken(controllerDataDir(t, h)); !errors.Is(err, os.ErrNotExist) || strings.Contains(out, "Setup token") {
		t.Errorf("--setup-json: setup token file %v; want none, and none printed:\n%s", err, out)
	}
}
