package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/avi-init/avi-init/internal/atomicfile"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
)

// Secrets at rest. Every secret field of an object (its avi.Object.Secrets) is kept in the
// store file as sealedPrefix + base64(nonce | AES-256-GCM ciphertext), under the key in
// contract.SecretsKeyFile beside the store. The object's kind and uuid and the field's JSON path
// are the additional data: a ciphertext moved to another object or field does not open.
// Objects in memory hold their secrets in clear; only the file holds them sealed.

// sealedPrefix marks a sealed secret in the store file. The export's passphrase-sealed secrets
// carry another prefix: the two never meet.
const sealedPrefix = "$avienc1$"

// secretsKeyLen is the size of the key: AES-256.
const secretsKeyLen = 32

// keyCheck is the _meta entry that holds keyCheckText sealed with the store's key. It tells a
// store whose secrets are sealed (it needs its key to start) and which key they need.
var keyCheck = []byte("secrets_key_check")

var keyCheckAD = []byte("avi-init secrets key check")

const keyCheckText = "avi-init secrets key"

// secretBox seals and opens the secrets of one store.
type secretBox struct {
	aead    cipher.AEAD
	keyPath string // named in errors
}

// readSecretsKey reads the key file; its error wraps os.ErrNotExist when there is none.
func readSecretsKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secrets key: %w", err)
	}
	if len(key) != secretsKeyLen {
		return nil, fmt.Errorf("secrets key %s holds %d bytes, want %d: it is not a key this controller wrote", path, len(key), secretsKeyLen)
	}
	return key, nil
}

// createSecretsKey writes a new random key (0600). The caller has checked that there is none:
// an existing key is never replaced, since the secrets sealed with it would be lost.
func createSecretsKey(path string) ([]byte, error) {
	key := make([]byte, secretsKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("create secrets key: %w", err)
	}
	return key, nil
}

func newSecretBox(key []byte, keyPath string) (*secretBox, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets key %s: %w", keyPath, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets key %s: %w", keyPath, err)
	}
	return &secretBox{aead: aead, keyPath: keyPath}, nil
}

// secretAD is the additional data of an object's secret at that JSON path.
func secretAD(kind avi.Kind, uuid, path string) []byte {
	return []byte("avi-init secret\x00" + string(kind) + "\x00" + uuid + "\x00" + path)
}

func (b *secretBox) seal(plain string, ad []byte) string {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(plain), ad))
}

// open returns the clear text of a sealed secret; an error when it is malformed or was not
// sealed with this key and this additional data.
func (b *secretBox) open(sealed string, ad []byte) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", errors.New("not a sealed secret")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("malformed sealed secret: %w", err)
	}
	n := b.aead.NonceSize()
	if len(raw) < n+b.aead.Overhead() {
		return "", errors.New("malformed sealed secret: too short")
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], ad)
	if err != nil {
		return "", errors.New("sealed secret does not open: another key sealed it, for another object or field, or it was changed")
	}
	return string(plain), nil
}

// encode is the JSON of o as the store file keeps it: its secrets sealed. o is left as it was.
func (b *secretBox) encode(kind avi.Kind, uuid string, o avi.Object) ([]byte, error) {
	secrets, err := avi.SecretFields(o)
	if err != nil {
		return nil, err
	}
	plain := make([]string, len(secrets))
	for i, f := range secrets {
		plain[i] = *f.Value
		if *f.Value != "" {
			*f.Value = b.seal(*f.Value, secretAD(kind, uuid, f.Path))
		}
	}
	data, err := json.Marshal(o)
	for i, f := range secrets {
		*f.Value = plain[i]
	}
	return data, err
}

// openSecrets replaces the sealed secrets of o, as read from the store file, by their clear
// text. Secrets in clear are left as they are and counted, for the store to seal them: a store
// written before secrets were sealed has only those, and a field that became a secret in a
// later version has them too. anySealed says whether the store has sealed secrets: only then
// is a value that looks sealed one.
func (b *secretBox) openSecrets(kind avi.Kind, uuid string, o avi.Object, anySealed bool) (clear int, err error) {
	secrets, err := avi.SecretFields(o)
	if err != nil {
		return 0, err
	}
	for _, f := range secrets {
		if *f.Value == "" {
			continue
		}
		if !anySealed || !strings.HasPrefix(*f.Value, sealedPrefix) {
			clear++
			continue
		}
		if *f.Value, err = b.open(*f.Value, secretAD(kind, uuid, f.Path)); err != nil {
			return 0, fmt.Errorf("%s %q (%s), %s: %w (secrets key %s)", kind, o.GetMeta().Name, uuid, f.Path, err, b.keyPath)
		}
	}
	return clear, nil
}

// openSecretsKey returns the secret box of a store with the key in keyPath. check is the
// store's key check: when it has one (a key was made for it) the key must exist and open it;
// when it has none and there is no key, a key is made.
func openSecretsKey(keyPath string, check []byte) (*secretBox, error) {
	key, err := readSecretsKey(keyPath)
	switch {
	case errors.Is(err, os.ErrNotExist) && check == nil:
		key, err = createSecretsKey(keyPath)
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("the secrets in the store are sealed with the key in %s, and that file is missing: put back the %s kept with this store (the controller does not start without it, nor makes another: that would lose the secrets)", keyPath, contract.SecretsKeyFile)
	}
	if err != nil {
		return nil, err
	}
	box, err := newSecretBox(key, keyPath)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if _, err := box.open(string(check), keyCheckAD); err != nil {
			return nil, fmt.Errorf("secrets key %s is not the key the secrets in the store are sealed with: put back the %s kept with this store", keyPath, contract.SecretsKeyFile)
		}
	}
	return box, nil
}
