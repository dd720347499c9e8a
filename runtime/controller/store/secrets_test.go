package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
)

// secretObjects are one object of each kind that has secrets, with them set.
func secretObjects(t *testing.T) []avi.Object {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("Adm1n-Passw0rd"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return []avi.Object{
		&avi.SystemConfiguration{EmailConfiguration: &avi.EmailConfiguration{SMTPType: "SMTP_SERVER", SMTPServer: "mail.example", AuthUsername: "mailer", AuthPassword: "smtp-pass-7f3a9c"}},
		&avi.User{Meta: avi.Meta{Name: "admin"}, Username: "admin", PasswordHash: string(hash)},
		&avi.User{Meta: avi.Meta{Name: "ops"}, Username: "ops", Password: "0ps-Passw0rd"},
		&avi.CloudConnectorUser{Meta: avi.Meta{Name: "aviuser"}},
		&avi.Cloud{Meta: avi.Meta{Name: "mesos"}, Vtype: avi.CloudMesos, MesosConfiguration: &avi.MesosConfiguration{MarathonConfigurations: []avi.MarathonConfiguration{
			{MarathonURL: "http://marathon-a:8080", MarathonUsername: "u", MarathonPassword: "marathon-pass-1b2c3d"},
			{MarathonURL: "http://marathon-b:8080", MarathonToken: "marathon-token-4e5f6a"},
		}}},
	}
}

// clearValues are the secrets of objs as JSON writes them (a key's line breaks escaped), and
// each line of a PEM key.
func clearValues(t *testing.T, objs []avi.Object) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		for _, p := range o.Secrets() {
			if *p == "" {
				continue
			}
			quoted, _ := json.Marshal(*p)
			out = append(out, string(quoted[1:len(quoted)-1]))
			for line := range strings.SplitSeq(*p, "\n") {
				if len(line) > 20 && !strings.HasPrefix(line, "-----") {
					out = append(out, line)
				}
			}
		}
	}
	return out
}

// assertFileHolds checks which of values the raw store file holds.
func assertFileHolds(t *testing.T, path string, values []string, want bool) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if bytes.Contains(raw, []byte(v)) != want {
			if want {
				t.Errorf("%s does not hold %q", filepath.Base(path), v)
			} else {
				t.Errorf("%s holds the secret %q in clear", filepath.Base(path), v)
			}
		}
	}
}

// storeAll creates objs, the system configuration replacing the one there may be.
func storeAll(t *testing.T, s *Store, objs []avi.Object) {
	t.Helper()
	err := s.Update(func(tx *Tx) error {
		for _, o := range objs {
			if err := tx.CreateOrReplace(o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The store file holds no secret in clear; reopened with its key, the store has them all.
func TestSecretsAreSealedInTheStoreFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, contract.StoreFile)
	s := open(t, path)
	objs := secretObjects(t)
	storeAll(t, s, objs)
	secrets := clearValues(t, objs) // after the store completed them: the hashes, the generated key
	if len(secrets) < 7 {
		t.Fatalf("only %d secrets to look for: %q", len(secrets), secrets)
	}
	s.Close()

	assertFileHolds(t, path, secrets, false)
	fi, err := os.Stat(filepath.Join(dir, contract.SecretsKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Errorf("secrets key: mode %v, %d bytes; want 0600, 32 bytes", fi.Mode().Perm(), fi.Size())
	}

	s2 := open(t, path)
	admin, err := GetByName[*avi.User](s2, "admin")
	if err != nil || !admin.CheckPassword("Adm1n-Passw0rd") {
		t.Errorf("admin after reopen: %v; the password no longer matches its hash", err)
	}
	if ops, err := GetByName[*avi.User](s2, "ops"); err != nil || !ops.CheckPassword("0ps-Passw0rd") {
		t.Errorf("ops after reopen: %v; the password no longer matches its hash", err)
	}
	var reread []avi.Object
	for _, o := range objs {
		k, _ := avi.KindOf(o)
		got, err := s2.Get(k, o.GetMeta().UUID)
		if err != nil {
			t.Fatal(err)
		}
		reread = append(reread, got)
	}
	if got := clearValues(t, reread); !equalStrings(got, secrets) {
		t.Errorf("secrets after reopen %q, want %q", got, secrets)
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// Once the store has sealed secrets, it does not open without their key, nor with another, and
// never makes a new key in place of the missing one.
func TestStoreRefusesToOpenWithoutItsSecretsKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, contract.StoreFile)
	keyPath := filepath.Join(dir, contract.SecretsKeyFile)
	s := open(t, path)
	storeAll(t, s, secretObjects(t))
	s.Close()
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("open without the key: %v, want an error naming %s as missing", err, keyPath)
	}
	if _, err := os.Stat(keyPath); !os.IsNotExist(err) {
		t.Errorf("a failed open left a key behind: %v", err)
	}

	for name, wrong := range map[string][]byte{"another key": bytes.Repeat([]byte{7}, 32), "a short key": key[:16]} {
		if err := os.WriteFile(keyPath, wrong, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), keyPath) {
			t.Errorf("open with %s: %v, want an error naming %s", name, err, keyPath)
		}
		if got, _ := os.ReadFile(keyPath); !bytes.Equal(got, wrong) {
			t.Errorf("open with %s replaced the key file", name)
		}
	}

	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, path)
	if _, err := GetByName[*avi.User](s2, "admin"); err != nil {
		t.Errorf("with its key back, the store has lost the admin: %v", err)
	}
}

// writeClearStore writes a store file as avi-init wrote it before secrets were sealed: each
// object's JSON as is, and no key check.
func writeClearStore(t *testing.T, path string, objs []avi.Object) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("version"), []byte{0, 0, 0, 0, 0, 0, 0, 9}); err != nil {
			return err
		}
		for _, o := range objs {
			k, _ := avi.KindOf(o)
			b, err := tx.CreateBucketIfNotExists([]byte(k))
			if err != nil {
				return err
			}
			data, err := json.Marshal(o)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(o.GetMeta().UUID), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A store written before secrets were sealed gets a key and has every secret sealed at its
// first open: none is left in clear in the file, not even in the pages the change frees.
func TestOpenSealsTheSecretsOfAnOlderStore(t *testing.T) {
	// The objects as an older controller completed them (hashed, a key pair generated).
	s := open(t, filepath.Join(t.TempDir(), contract.StoreFile))
	objs := secretObjects(t)
	storeAll(t, s, objs)
	secrets := clearValues(t, objs)

	dir := t.TempDir()
	path := filepath.Join(dir, contract.StoreFile)
	writeClearStore(t, path, objs)
	assertFileHolds(t, path, secrets, true) // what the test looks for is there to be found

	old := open(t, path)
	if old.Version() != 9 {
		t.Errorf("version %d after sealing, want 9 as before", old.Version())
	}
	admin, err := GetByName[*avi.User](old, "admin")
	if err != nil || !admin.CheckPassword("Adm1n-Passw0rd") {
		t.Errorf("admin after sealing: %v; the password no longer matches its hash", err)
	}
	old.Close()
	assertFileHolds(t, path, secrets, false)
	if fi, err := os.Stat(filepath.Join(dir, contract.SecretsKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets key after sealing: %v %v, want mode 0600", fi, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("data directory after sealing holds %v, want the store and its key", entries)
	}

	again := open(t, path)
	cloud, err := GetByName[*avi.Cloud](again, "mesos")
	if err != nil || cloud.MesosConfiguration.MarathonConfigurations[0].MarathonPassword != "marathon-pass-1b2c3d" {
		t.Errorf("cloud after sealing and reopening: %v %+v", err, cloud)
	}
}

// rawObject and putRaw read and write an object's JSON in the store file as it is there.
func rawObject(t *testing.T, db *bolt.DB, kind avi.Kind, uuid string) map[string]any {
	t.Helper()
	var m map[string]any
	err := db.View(func(tx *bolt.Tx) error { return json.Unmarshal(tx.Bucket([]byte(kind)).Get([]byte(uuid)), &m) })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func putRaw(t *testing.T, db *bolt.DB, kind avi.Kind, uuid string, m map[string]any) {
	t.Helper()
	data, _ := json.Marshal(m)
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(kind)).Put([]byte(uuid), data) }); err != nil {
		t.Fatal(err)
	}
}

// A sealed secret opens only in the object and field it was sealed for: one copied into
// another object, or into another field, is an error naming the object, never its value.
func TestSealedSecretsDoNotMoveBetweenObjectsOrFields(t *testing.T) {
	for _, c := range []struct {
		name string
		move func(t *testing.T, db *bolt.DB, a, b *avi.User)
		want string
	}{
		{"hash into another user", func(t *testing.T, db *bolt.DB, a, b *avi.User) {
			ra, rb := rawObject(t, db, avi.KindUser, a.UUID), rawObject(t, db, avi.KindUser, b.UUID)
			rb["password_hash"] = ra["password_hash"]
			putRaw(t, db, avi.KindUser, b.UUID, rb)
		}, `user "b"`},
		{"hash into the password field", func(t *testing.T, db *bolt.DB, a, _ *avi.User) {
			ra := rawObject(t, db, avi.KindUser, a.UUID)
			ra["password"] = ra["password_hash"]
			putRaw(t, db, avi.KindUser, a.UUID, ra)
		}, `user "a" (` /* the field it was moved to */},
		{"a changed byte", func(t *testing.T, db *bolt.DB, a, _ *avi.User) {
			ra := rawObject(t, db, avi.KindUser, a.UUID)
			sealed := ra["password_hash"].(string)
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
			raw[len(raw)-1] ^= 1
			ra["password_hash"] = sealedPrefix + base64.StdEncoding.EncodeToString(raw)
			putRaw(t, db, avi.KindUser, a.UUID, ra)
		}, `user "a"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), contract.StoreFile)
			s := open(t, path)
			a := &avi.User{Meta: avi.Meta{Name: "a"}, Username: "a", Password: "Aaaa-Passw0rd"}
			b := &avi.User{Meta: avi.Meta{Name: "b"}, Username: "b", Password: "Bbbb-Passw0rd"}
			storeAll(t, s, []avi.Object{a, b})
			s.Close()

			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.move(t, db, a, b)
			db.Close()

			_, err = Open(path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "does not open") {
				t.Errorf("open: %v, want an error naming %s", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "$2a$") {
				t.Errorf("the error shows a hash: %v", err)
			}
		})
	}
}

// A field in clear in a store that has sealed secrets (one that became a secret in a later
// version) is read as it is and sealed at that open.
func TestOpenSealsAClearFieldInASealedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), contract.StoreFile)
	s := open(t, path)
	cu := &avi.CloudConnectorUser{Meta: avi.Meta{Name: "aviuser"}}
	storeAll(t, s, []avi.Object{cu})
	s.Close()

	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rawObject(t, db, avi.KindCloudConnectorUser, cu.UUID)
	r["private_key"] = cu.PrivateKey
	putRaw(t, db, avi.KindCloudConnectorUser, cu.UUID, r)
	db.Close()
	lines := clearValues(t, []avi.Object{cu})
	assertFileHolds(t, path, lines, true)

	s2 := open(t, path)
	got, err := Get[*avi.CloudConnectorUser](s2, cu.UUID)
	if err != nil || got.PrivateKey != cu.PrivateKey {
		t.Errorf("key after open: %v", err)
	}
	s2.Close()
	assertFileHolds(t, path, lines, false)
}

// The decoder of sealed secrets never panics, and opens only what the key sealed for that
// additional data: whatever else it is given is an error.
func FuzzOpenSealedSecret(f *testing.F) {
	box, err := newSecretBox(bytes.Repeat([]byte{1}, secretsKeyLen), "secrets.key")
	if err != nil {
		f.Fatal(err)
	}
	ad := secretAD(avi.KindUser, "user-1", "password_hash")
	// Seeds sealed with fixed nonces, as box.seal would with those: the fuzzing workers make the
	// same ones.
	sealed := map[string]string{} // nonce | ciphertext of each seed: its clear text
	for i, plain := range []string{"", "x", "$2a$12$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ", strings.Repeat("k", 400)} {
		nonce := bytes.Repeat([]byte{byte(i)}, box.aead.NonceSize())
		raw := box.aead.Seal(nonce, nonce, []byte(plain), ad)
		sealed[string(raw)] = plain
		f.Add(sealedPrefix + base64.StdEncoding.EncodeToString(raw))
	}
	f.Add(box.seal("random nonce", ad)[:20])
	f.Add(sealedPrefix)
	f.Add(sealedPrefix + "====")
	f.Add("$aes-gcm$AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := box.open(s, ad)
		if err != nil {
			return
		}
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, sealedPrefix))
		want, ok := sealed[string(raw)]
		if derr != nil || !ok || plain != want {
			t.Fatalf("opened %q to %q: not a ciphertext the key sealed", s, plain)
		}
		if _, err := box.open(s, secretAD(avi.KindUser, "user-2", "password_hash")); err == nil {
			t.Fatalf("%q opened for another object", s)
		}
	})
}
