package controller

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/avi-init/avi-init/model/avi"
)

// exportDoc exports e's configuration with the passphrase and decodes it as a client would.
func exportDoc(t *testing.T, e *apiEnv, passphrase string) map[string]any {
	t.Helper()
	ex := e.admin(t, "POST", "/api/configuration/export", map[string]string{"passphrase": passphrase}).want(t, http.StatusOK)
	var doc map[string]any
	if err := json.Unmarshal([]byte(ex.raw), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func docObjects(doc map[string]any, kind avi.Kind) []any {
	objs, _ := doc["configuration"].(map[string]any)[string(kind)].([]any)
	return objs
}

// resign signs a changed export again with the passphrase, as only who knows it can.
func resign(t *testing.T, doc map[string]any, passphrase string) {
	t.Helper()
	data, _ := json.Marshal(doc)
	var ex Export
	if err := json.Unmarshal(data, &ex); err != nil {
		t.Fatal(err)
	}
	salt, _ := base64.StdEncoding.DecodeString(ex.Encryption.Salt)
	keys, err := deriveExportKeys(passphrase, salt)
	if err != nil {
		t.Fatal(err)
	}
	if doc["signature"], err = keys.signature(&ex); err != nil {
		t.Fatal(err)
	}
}

// An export is signed with a key derived from its passphrase: a changed file, or a wrong
// passphrase, is refused whole, whatever the file holds; and no import reopens the setup.
func TestExportSignature(t *testing.T) {
	e := newSetUpAPIEnv(t)
	e.mustCreate(t, "pool", `{"name": "sig-pool", "servers": [{"ip": {"addr": "192.0.2.41", "type": "V4"}, "port": 8080}]}`)
	f := newSetUpAPIEnv(t)
	refused := func(name string, body map[string]any, want string) {
		t.Helper()
		version := f.srv.store.Version()
		r := f.admin(t, "POST", "/api/configuration/import", body)
		if msg, _ := r.obj["error"].(string); r.code != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %s; want 400 naming %q", name, r.code, r.raw, want)
		}
		if v := f.srv.store.Version(); v != version {
			t.Errorf("%s: the refused import changed the configuration (version %d -> %d)", name, version, v)
		}
	}
	phrase := func(doc map[string]any) map[string]any {
		return map[string]any{"passphrase": apiExportPhrase, "configuration": doc}
	}

	// Reopening the setup: welcome_workflow_complete false.
	doc := exportDoc(t, e, apiExportPhrase)
	docObjects(doc, avi.KindSystemConfiguration)[0].(map[string]any)["welcome_workflow_complete"] = false
	refused("setup reopened", phrase(doc), errExportChanged)
	apiWantEq(t, "setup state", f.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).obj["setup_state"], "complete")

	// A user planted with a password hash of the attacker's choice.
	doc = exportDoc(t, e, apiExportPhrase)
	hash, _ := bcrypt.GenerateFromPassword([]byte("Pl4nted-Passw0rd"), bcrypt.MinCost)
	cfg := doc["configuration"].(map[string]any)
	cfg["user"] = append(docObjects(doc, avi.KindUser), map[string]any{"name": "planted", "username": "planted", "password_hash": string(hash), "is_superuser": true})
	refused("planted user", phrase(doc), errExportChanged)
	f.do(t, "GET", "/api/useraccount", nil, apiCred{user: "planted", pass: "Pl4nted-Passw0rd"}).want(t, http.StatusUnauthorized)

	// A file without sealed secrets (users and keys taken out), with a wrong passphrase.
	doc = exportDoc(t, e, apiExportPhrase)
	delete(doc["configuration"].(map[string]any), "user")
	delete(doc["configuration"].(map[string]any), "cloudconnectoruser")
	refused("no secrets, wrong passphrase", map[string]any{"passphrase": "another passphrase", "configuration": doc}, errExportChanged)
	refused("no secrets, right passphrase", phrase(doc), errExportChanged)

	// Unsigned, or signed otherwise, or no passphrase at all.
	doc = exportDoc(t, e, apiExportPhrase)
	delete(doc, "signature")
	refused("no signature", phrase(doc), "configuration.signature")
	doc = exportDoc(t, e, apiExportPhrase)
	doc["encryption"].(map[string]any)["kdf"] = "scrypt-aes-256-gcm"
	refused("old KDF", phrase(doc), "configuration.encryption.kdf")
	refused("no passphrase", map[string]any{"configuration": exportDoc(t, e, apiExportPhrase)}, "passphrase")

	// The untouched file, re-encoded by the client, imports.
	f.admin(t, "POST", "/api/configuration/import", phrase(exportDoc(t, e, apiExportPhrase))).want(t, http.StatusOK)
	f.byName(t, "pool", "sig-pool")

	// Even a file signed with the passphrase does not reopen the setup.
	doc = exportDoc(t, e, apiExportPhrase)
	docObjects(doc, avi.KindSystemConfiguration)[0].(map[string]any)["welcome_workflow_complete"] = false
	resign(t, doc, apiExportPhrase)
	f.admin(t, "POST", "/api/configuration/import", phrase(doc)).want(t, http.StatusOK)
	apiWantEq(t, "setup state after importing welcome_workflow_complete false", f.do(t, "GET", "/api/initial-data", nil, apiCred{none: true}).obj["setup_state"], "complete")
}
