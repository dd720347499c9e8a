package controller

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// startAPIIn runs a controller on the data directory dir; stop closes it, as a restart does.
func startAPIIn(t *testing.T, dir string) (e *apiEnv, stop func()) {
	t.Helper()
	srv, err := NewServer(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			ts.Close()
			srv.Close()
		}
	}
	t.Cleanup(stop)
	return &apiEnv{srv: srv, ts: ts}, stop
}

// The secrets the API is given (the admin's password, an SMTP password, a Marathon password, an
// imported SSH key) and the hashes made of them are nowhere in config.db; after a restart with
// secrets.key they all work; without it the controller does not start, and says why.
func TestSecretsAreSealedInConfigDB(t *testing.T) {
	dir := t.TempDir()
	e, stop := startAPIIn(t, dir)
	privPEM, _ := apiTestKey(t)
	const smtpPass, marathonPass, opsPass = "smtp-Secret-93f1", "marathon-Secret-5a7c", "0ps-Passw0rd!"
	sc := apiSetupRequest(apiAdminPassword)["systemconfiguration"].(map[string]any)
	sc["email_configuration"] = map[string]any{"smtp_type": "SMTP_SERVER", "smtp_server": "mail.example", "auth_username": "mailer", "auth_password": smtpPass}
	e.setUp(t, apiAdminPassword, map[string]any{
		"systemconfiguration": sc,
		"cloudconnectoruser":  map[string]any{"name": "ops", "private_key": privPEM},
	})
	e.mustCreate(t, "cloud", map[string]any{"name": "mesos", "vtype": "CLOUD_MESOS", "mesos_configuration": map[string]any{
		"marathon_configurations": []any{map[string]any{"marathon_url": "http://marathon.example:8080", "marathon_username": "u", "marathon_password": marathonPass}},
	}})
	e.mustCreate(t, "user", map[string]any{"username": "ops", "password": opsPass, "access": []any{map[string]any{"role_ref": "/api/role?name=System-Readonly", "all_tenants": true}}})

	// What must not be in the file: each secret as JSON writes it, and the hashes.
	secrets := []string{apiAdminPassword, smtpPass, marathonPass, opsPass, apiKeyLine(privPEM)}
	quotedKey, _ := json.Marshal(privPEM)
	secrets = append(secrets, string(quotedKey[1:len(quotedKey)-1]))
	for _, u := range store.List[*avi.User](e.srv.store) {
		secrets = append(secrets, u.PasswordHash)
	}
	if len(secrets) != 8 {
		t.Fatalf("secrets to look for: %q, want the two users' hashes among them", secrets)
	}
	stop()

	raw, err := os.ReadFile(filepath.Join(dir, contract.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("config.db holds the secret %q in clear", s)
		}
	}
	for _, s := range []string{"$2a$", "PRIVATE KEY"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("config.db holds %q", s)
		}
	}
	keyPath := filepath.Join(dir, contract.SecretsKeyFile)
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets key: %v %v, want a file of mode 0600", fi, err)
	}

	e2, stop2 := startAPIIn(t, dir)
	for user, pass := range map[string]string{"admin": apiAdminPassword, "ops": opsPass} {
		_, _, r := e2.login(t, user, pass)
		r.want(t, http.StatusOK)
	}
	sys := store.List[*avi.SystemConfiguration](e2.srv.store)[0]
	cloud, err := store.GetByName[*avi.Cloud](e2.srv.store, "mesos")
	if err != nil {
		t.Fatal(err)
	}
	ccu, err := store.GetByName[*avi.CloudConnectorUser](e2.srv.store, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if sys.EmailConfiguration.AuthPassword != smtpPass || cloud.MesosConfiguration.MarathonConfigurations[0].MarathonPassword != marathonPass || ccu.PrivateKey != privPEM {
		t.Errorf("after a restart: SMTP password %q, Marathon password %q, key kept %v",
			sys.EmailConfiguration.AuthPassword, cloud.MesosConfiguration.MarathonConfigurations[0].MarathonPassword, ccu.PrivateKey == privPEM)
	}
	stop2()

	if err := os.Rename(keyPath, keyPath+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewServer(Config{DataDir: dir}); err == nil || !strings.Contains(err.Error(), keyPath) {
		t.Errorf("start without secrets.key: %v, want an error naming %s", err, keyPath)
	}
}

// A data directory from a version that kept secrets in clear: the controller starts, seals them
// (config.db no longer holds the admin's hash), and the admin logs in as before.
func TestUpgradeSealsTheSecretsOfAnOlderConfigDB(t *testing.T) {
	// An older controller's store: set up, then rewritten as it wrote objects, secrets in clear.
	dir := t.TempDir()
	e, stop := startAPIIn(t, dir)
	e.setUp(t, apiAdminPassword, nil)
	stop()
	path := filepath.Join(dir, contract.StoreFile)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var hash string
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("_meta")).Delete([]byte("secrets_key_check")); err != nil {
			return err
		}
		b := tx.Bucket([]byte(avi.KindUser))
		return b.ForEach(func(id, data []byte) error {
			var u map[string]any
			if err := json.Unmarshal(data, &u); err != nil {
				return err
			}
			h, err := bcrypt.GenerateFromPassword([]byte(apiAdminPassword), bcrypt.MinCost)
			if err != nil {
				return err
			}
			hash, u["password_hash"] = string(h), string(h)
			data, _ = json.Marshal(u)
			return b.Put(id, data)
		})
	})
	db.Close()
	if err != nil || hash == "" {
		t.Fatalf("write an older store: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, contract.SecretsKeyFile)); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); !bytes.Contains(raw, []byte(hash)) {
		t.Fatal("the older store does not hold the hash in clear: nothing to check")
	}

	e2, _ := startAPIIn(t, dir)
	_, _, r := e2.login(t, "admin", apiAdminPassword)
	r.want(t, http.StatusOK)
	if raw, _ := os.ReadFile(path); bytes.Contains(raw, []byte(hash)) {
		t.Error("config.db still holds the admin's hash in clear after the upgrade")
	}
	if fi, err := os.Stat(filepath.Join(dir, contract.SecretsKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets key after the upgrade: %v %v, want a file of mode 0600", fi, err)
	}
}
