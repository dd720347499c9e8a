package controller

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

var errSetupDone = errors.New("the controller is set up already")

// applySetup stores the whole first-boot configuration in one transaction.
func (s *Server) applySetup(req *contract.SetupRequest) error {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.setupComplete() {
		return errSetupDone
	}
	ccu := req.CloudConnectorUser
	if req.KeyID != "" {
		k, ok := s.pendingKeys[req.KeyID]
		if !ok {
			return &avi.FieldError{Field: "cloudconnectoruser_key_id", Reason: "unknown key: generate it again"}
		}
		if ccu == nil {
			ccu = &avi.CloudConnectorUser{}
		}
		ccu.PrivateKey, ccu.PublicKey = k.PrivateKey, k.PublicKey
		if ccu.Name == "" {
			ccu.Name = "avi-init"
		}
	}
	err := s.store.Update(func(tx *store.Tx) error {
		admin := &avi.User{Meta: avi.Meta{Name: req.Admin.Username}, Username: req.Admin.Username, Password: req.Admin.Password, IsSuperuser: true,
			Access:           []avi.UserRole{{RoleRef: avi.KindRole.NameRef(avi.RoleSystemAdmin), AllTenants: true}},
			DefaultTenantRef: avi.KindTenant.NameRef(avi.AdminTenant)}
		if err := tx.Create(admin); err != nil {
			return prefixField("admin", err)
		}
		if ccu != nil {
			if err := tx.Create(ccu); err != nil {
				return prefixField(string(avi.KindCloudConnectorUser), err)
			}
		}
		if req.Cloud != nil {
			if req.Cloud.Name == "" {
				req.Cloud.Name = avi.DefaultCloudName
			}
			if err := tx.CreateOrReplace(req.Cloud); err != nil {
				return prefixField(string(avi.KindCloud), err)
			}
			if err := ensureCloudDefaults(tx); err != nil {
				return err
			}
		}
		sc := req.SystemConfiguration
		if sc == nil {
			sc = &avi.SystemConfiguration{}
		}
		sc.WelcomeWorkflowComplete = true
		cur := store.List[*avi.SystemConfiguration](tx)
		if len(cur) != 1 {
			return fmt.Errorf("want one %s, have %d", avi.KindSystemConfiguration, len(cur))
		}
		sc.Name = cur[0].Name
		if err := tx.Put(cur[0].UUID, sc); err != nil {
			return prefixField(string(avi.KindSystemConfiguration), err)
		}
		return nil
	})
	if err == nil {
		clear(s.pendingKeys)
		s.setupToken = ""
		if err := os.Remove(filepath.Join(s.cfg.DataDir, contract.SetupTokenFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Error("setup token file not removed; it no longer opens anything", "err", err)
		}
	}
	return err
}

// prepareSetupToken keeps the setup token while the controller is not set up, writing one
// when the installer did not (a controller started on its own), and removes it once set up.
// The log says where the token is, never the token.
func (s *Server) prepareSetupToken() error {
	path := filepath.Join(s.cfg.DataDir, contract.SetupTokenFile)
	if s.setupComplete() {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the setup token of a set-up controller: %w", err)
		}
		return nil
	}
	tok, created, err := contract.EnsureSetupToken(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("setup token: %w", err)
	}
	s.setupMu.Lock()
	s.setupToken = tok
	s.setupMu.Unlock()
	s.log.Info("setup pending: the setup wizard asks for the setup token kept in a file; on the host, sudo avi-init status shows it",
		"file", path, "written_now", created)
	return nil
}

// checkSetupToken reports whether a request carries the setup token, in the X-Avi-Setup-Token
// header or else in field (the body's setup_token); otherwise it answers the request itself.
// Wrong tokens count against the sender's address as failed logins do.
func (s *Server) checkSetupToken(w http.ResponseWriter, r *http.Request, field string) bool {
	tok := r.Header.Get(contract.SetupTokenHeader)
	if tok == "" {
		tok = field
	}
	addr := clientAddr(r)
	if wait := s.throttle.attempt(addr); wait > 0 {
		tooMany(w, wait)
		return false
	}
	s.setupMu.Lock()
	want := s.setupToken
	s.setupMu.Unlock()
	if want == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(want)) != 1 {
		writeError(w, http.StatusForbidden, "setup_token: missing or wrong: the installer printed it, and it is in the file "+
			contract.SetupTokenFile+" in the controller's data directory; on the controller's host run: sudo avi-init status")
		return false
	}
	s.throttle.release(addr)
	return true
}

// bodySetupToken is the setup_token field of a body, if it is a JSON object that has one.
func bodySetupToken(data []byte) string {
	var b struct {
		SetupToken string `json:"setup_token"`
	}
	json.Unmarshal(data, &b)
	return b.SetupToken
}

// setup is POST /api/setup: the wizard's last step. Open only while the controller is not set
// up, and only to who shows the setup token.
func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	if s.setupComplete() {
		writeError(w, http.StatusForbidden, errSetupDone.Error())
		return
	}
	data, ok := readBody(w, r, maxObjectBody)
	if !ok || !s.checkSetupToken(w, r, bodySetupToken(data)) {
		return
	}
	req, err := contract.ParseSetup(data)
	if err != nil {
		storeError(w, err)
		return
	}
	if err := s.applySetup(req); err != nil {
		if errors.Is(err, errSetupDone) {
			writeError(w, http.StatusForbidden, err.Error())
			return
		}
		storeError(w, err)
		return
	}
	s.log.Info("setup complete", "admin", req.Admin.Username, "from", clientAddr(r))
	writeJSON(w, http.StatusOK, s.initialData())
}

// maxPendingKeys bounds the key pairs an unfinished wizard can make the controller hold.
const maxPendingKeys = 16

// setupKeyPair generates an ed25519 pair for the wizard and returns its public half; the
// private half stays here until the setup is posted. It needs the setup token too.
func (s *Server) setupKeyPair(w http.ResponseWriter, r *http.Request) {
	if s.setupComplete() {
		writeError(w, http.StatusForbidden, errSetupDone.Error())
		return
	}
	data, ok := readBody(w, r, maxObjectBody)
	if !ok || !s.checkSetupToken(w, r, bodySetupToken(data)) {
		return
	}
	k := &avi.CloudConnectorUser{Meta: avi.Meta{Name: "avi-init"}}
	if err := k.Prepare(nil); err != nil {
		storeError(w, err)
		return
	}
	id := randomToken()
	s.setupMu.Lock()
	if len(s.pendingKeys) >= maxPendingKeys {
		clear(s.pendingKeys)
	}
	s.pendingKeys[id] = k
	s.setupMu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"key_id": id, "public_key": k.PublicKey})
}

// applySetupFile applies the installer's setup file once. The file holds the admin password:
// it is read, never logged, and deleted once applied; a rejected file is kept aside (0600) so
// the operator can see what was wrong.
func (s *Server) applySetupFile() error {
	path := filepath.Join(s.cfg.DataDir, contract.SetupFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", contract.SetupFile, err)
	}
	if s.setupComplete() {
		s.log.Info("setup file ignored: the controller is set up already")
		return os.Remove(path)
	}
	req, err := contract.ParseSetup(data)
	if err == nil {
		err = s.applySetup(req)
	}
	if err != nil {
		os.Rename(path, path+".rejected")
		return fmt.Errorf("%s rejected (kept as %s.rejected): %w", contract.SetupFile, contract.SetupFile, err)
	}
	s.log.Info("setup applied from the setup file", "admin", req.Admin.Username)
	return os.Remove(path)
}
