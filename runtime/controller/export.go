package controller

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/scrypt"

	"github.com/avi-init/avi-init/internal/version"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Export is a whole configuration. Secrets (password hashes, private keys, passwords) are
// encrypted with a key derived from the export's passphrase, so the file can be kept and moved
// without exposing them, and imported into a fresh controller with the same passphrase. The
// whole export is signed with another key derived from the passphrase: a file that was changed
// (setup state, users with chosen password hashes, anything) or a wrong passphrase is refused.
type Export struct {
	Meta          ExportMeta                   `json:"meta"`
	Encryption    ExportEncryption             `json:"encryption"`
	Configuration map[string][]json.RawMessage `json:"configuration"`
	// Signature is the HMAC-SHA256, in base64, of signedContent.
	Signature string `json:"signature"`
}

// ExportMeta says where an export comes from.
type ExportMeta struct {
	Version       string `json:"version"`
	ConfigVersion int64  `json:"config_version"`
	Exported      string `json:"exported"`
}

// ExportEncryption is how the secrets were encrypted and the export signed.
type ExportEncryption struct {
	KDF  string `json:"kdf"`
	Salt string `json:"salt"`
}

const (
	secretPrefix     = "$aes-gcm$"
	minPassphraseLen = 8
	// exportKDF: scrypt (N=32768, r=8, p=1) of the passphrase and salt gives a 32-byte master
	// key; HKDF-SHA256 derives from it the AES-256-GCM key of the secrets and the HMAC-SHA256
	// key of the signature.
	exportKDF = "scrypt-hkdf-sha256"
	// errExportChanged is what an export that does not verify gets.
	errExportChanged = "does not verify: the file was changed or the passphrase is wrong"
)

// exportKeys are the keys an export's passphrase and salt give.
type exportKeys struct {
	aead cipher.AEAD // seals the secrets
	mac  []byte      // signs the whole export
}

func deriveExportKeys(passphrase string, salt []byte) (*exportKeys, error) {
	master, err := scrypt.Key([]byte(passphrase), salt, 1<<15, 8, 1, 32)
	if err != nil {
		return nil, err
	}
	encKey, err := hkdf.Key(sha256.New, master, nil, "avi-init export: secrets", 32)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, master, nil, "avi-init export: signature", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &exportKeys{aead: aead, mac: macKey}, nil
}

// signedContent is what an export's signature covers: its meta, its encryption parameters and
// every object an import reads, each encoded as this controller encodes it once decoded. So a
// client that re-encodes the file (key order, spacing, number forms) does not break the
// signature, and what is verified is exactly what is imported; kinds an import does not read
// are not covered and not imported.
func signedContent(ex *Export) ([]byte, error) {
	doc := Export{Meta: ex.Meta, Encryption: ex.Encryption, Configuration: map[string][]json.RawMessage{}}
	for _, k := range avi.Kinds {
		if k.Internal {
			continue
		}
		for i, raw := range ex.Configuration[string(k.Kind)] {
			o := k.New()
			if err := json.Unmarshal(raw, o); err != nil {
				return nil, prefixField(fmt.Sprintf("configuration.%s[%d]", k.Kind, i), avi.JSONFieldError(err))
			}
			canon, err := json.Marshal(o)
			if err != nil {
				return nil, err
			}
			doc.Configuration[string(k.Kind)] = append(doc.Configuration[string(k.Kind)], canon)
		}
	}
	return json.Marshal(doc)
}

// signature is the HMAC-SHA256 of an export's signed content.
func (k *exportKeys) signature(ex *Export) (string, error) {
	content, err := signedContent(ex)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k.mac)
	m.Write(content)
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// verify checks an export's signature before anything in it is used.
func (k *exportKeys) verify(ex *Export) error {
	want, err := k.signature(ex)
	if err != nil {
		return err
	}
	if ex.Signature == "" || !hmac.Equal([]byte(ex.Signature), []byte(want)) {
		return &avi.FieldError{Field: "configuration.signature", Reason: errExportChanged}
	}
	return nil
}

func seal(aead cipher.AEAD, plain string) string {
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), nil))
}

func open(aead cipher.AEAD, sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, secretPrefix))
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errors.New("malformed secret")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
	if err != nil {
		return "", errors.New("wrong passphrase")
	}
	return string(plain), nil
}

type passphraseRequest struct {
	Passphrase    string  `json:"passphrase"`
	Configuration *Export `json:"configuration,omitempty"`
}

func readPassphrase(w http.ResponseWriter, r *http.Request) (*passphraseRequest, bool) {
	var req passphraseRequest
	if !decodeBody(w, r, maxImportBody, &req) {
		return nil, false
	}
	if len(req.Passphrase) < minPassphraseLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("passphrase: at least %d characters; it encrypts the secrets in the export and signs it", minPassphraseLen))
		return nil, false
	}
	return &req, true
}

// exportConfig is POST /api/configuration/export {"passphrase": ...}.
func (s *Server) exportConfig(w http.ResponseWriter, r *http.Request, p *principal) {
	req, ok := readPassphrase(w, r)
	if !ok {
		return
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	keys, err := deriveExportKeys(req.Passphrase, salt)
	if err != nil {
		storeError(w, err)
		return
	}
	ex := Export{
		Meta:          ExportMeta{Version: version.Version, ConfigVersion: s.store.Version(), Exported: s.now().UTC().Format(time.RFC3339)},
		Encryption:    ExportEncryption{KDF: exportKDF, Salt: base64.StdEncoding.EncodeToString(salt)},
		Configuration: map[string][]json.RawMessage{},
	}
	for _, k := range avi.Kinds {
		if k.Internal {
			continue // service engines are runtime state: they join again
		}
		for _, o := range s.store.List(k.Kind) {
			if !p.readable(k, o) {
				continue // an export holds only what its user may read
			}
			for _, p := range o.Secrets() {
				if *p != "" {
					*p = seal(keys.aead, *p)
				}
			}
			raw, _ := json.Marshal(o)
			ex.Configuration[string(k.Kind)] = append(ex.Configuration[string(k.Kind)], raw)
		}
	}
	if ex.Signature, err = keys.signature(&ex); err != nil {
		storeError(w, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="avi-init-configuration.json"`)
	writeJSON(w, http.StatusOK, ex)
}

// importConfig is POST /api/configuration/import {"passphrase": ..., "configuration": EXPORT}.
// Objects are matched by name: an existing one is replaced, a new one created; references are
// rewritten to the objects they land on. It all commits in one transaction, or nothing does.
func (s *Server) importConfig(w http.ResponseWriter, r *http.Request, p *principal) {
	req, ok := readPassphrase(w, r)
	if !ok {
		return
	}
	ex := req.Configuration
	if ex == nil {
		writeError(w, http.StatusBadRequest, "configuration: is required (the document export returned)")
		return
	}
	if ex.Encryption.KDF != exportKDF {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("configuration.encryption.kdf: %q, want %q: the file was changed, or an avi-init that did not sign its exports made it", ex.Encryption.KDF, exportKDF))
		return
	}
	salt, err := base64.StdEncoding.DecodeString(ex.Encryption.Salt)
	if err != nil || len(salt) == 0 {
		writeError(w, http.StatusBadRequest, "configuration.encryption.salt: missing or malformed")
		return
	}
	keys, err := deriveExportKeys(req.Passphrase, salt)
	if err != nil {
		storeError(w, err)
		return
	}
	if err := keys.verify(ex); err != nil {
		storeError(w, err)
		return
	}
	counts := map[avi.Kind]int{}
	err = s.update(p, func(tx *store.Tx) error {
		moved := map[string]string{} // exported URL -> URL here
		for _, k := range avi.Kinds {
			if k.Internal {
				continue
			}
			for i, raw := range ex.Configuration[string(k.Kind)] {
				staged, err := s.importAs(tx, p, k, fmt.Sprintf("configuration.%s[%d]", k.Kind, i), raw, keys.aead, moved)
				if err != nil {
					return err
				}
				if staged {
					counts[k.Kind]++
				}
			}
		}
		return nil
	})
	if err != nil {
		storeError(w, err)
		return
	}
	s.basic.clear()
	// A password the import changed logs its user out, as any password change does; the
	// importer keeps the session the import came in.
	keep := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		keep = c.Value
	}
	for _, user := range newPasswords(p.changes) {
		s.sessions.endUserExcept(user, keep)
	}
	writeJSON(w, http.StatusOK, map[string]any{"imported": counts, "config_version": s.store.Version()})
}

// importObject stages one exported object (field names it in errors): its secrets decrypted,
// its references rewritten by moved, and matched by name. It records in moved where the
// object's exported URL lands.
func importObject(tx *store.Tx, k avi.KindInfo, field string, raw json.RawMessage, aead cipher.AEAD, moved map[string]string) error {
	o := k.New()
	if err := json.Unmarshal(raw, o); err != nil {
		return prefixField(field, avi.JSONFieldError(err))
	}
	for _, p := range o.Secrets() {
		if strings.HasPrefix(*p, secretPrefix) {
			plain, err := open(aead, *p)
			if err != nil {
				return &avi.FieldError{Field: field, Reason: err.Error()}
			}
			*p = plain
		}
	}
	for _, ref := range o.Refs() {
		if to, ok := moved[*ref.Value]; ok {
			*ref.Value = to
		}
	}
	m := o.GetMeta()
	from := k.Kind.URL(m.UUID)
	var err error
	switch id, exists := tx.ByNameOf(o); {
	case k.Singleton:
		cur := tx.List(k.Kind)
		if len(cur) == 0 {
			return fmt.Errorf("no %s to import into", k.Kind)
		}
		m.Name = cur[0].GetMeta().Name
		// The setup state is this controller's: an import never reopens the setup wizard.
		if sc, ok := o.(*avi.SystemConfiguration); ok {
			sc.WelcomeWorkflowComplete = cur[0].(*avi.SystemConfiguration).WelcomeWorkflowComplete
		}
		err = tx.Put(cur[0].GetMeta().UUID, o)
	case exists:
		err = tx.Put(id, o)
	default:
		if _, taken := tx.Get(k.Kind, m.UUID); taken == nil {
			m.UUID = ""
		}
		err = tx.Create(o)
	}
	if err != nil {
		return prefixField(field, err)
	}
	moved[from] = m.URL
	return nil
}
