// Package store is the controller's configuration store: every API object, kept in a bbolt file
// under the controller's data directory and mirrored in memory for reads. A write is on disk
// (fsync) before it is acknowledged, a transaction is all or nothing, and every committed write
// raises a configuration version that only grows.
package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/avi-init/avi-init/internal/atomicfile"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
)

// Errors the API turns into status codes.
var (
	ErrNotFound   = errors.New("object not found")         // 404
	ErrConflict   = errors.New("conflict")                 // 409
	ErrReferenced = errors.New("object is still referred") // 409
)

// openTimeout bounds the wait for another process holding the store file.
const openTimeout = 5 * time.Second

var (
	metaBucket = []byte("_meta")
	versionKey = []byte("version")
	appliedKey = []byte("raft_applied")
)

// Store holds the configuration.
type Store struct {
	db      *bolt.DB
	secrets *secretBox // seals the secrets the file holds
	now     func() time.Time

	path    string
	keyPath string // the secrets key
	// commit makes a batch durable and applies it: Apply at once on its own, or through raft.
	commit  func(batch []byte) error
	writeMu sync.Mutex // one Update at a time

	mu      sync.RWMutex
	objs    map[avi.Kind]map[string]avi.Object // kind, uuid
	names   map[avi.Kind]map[string]string     // kind, name key (nameKey): uuid
	version int64
	applied uint64        // the raft index of the last batch applied; 0 for none
	changed chan struct{} // closed and replaced on every commit
}

// Reader reads objects by kind: the Store and a Tx return copies (a Tx with its own writes), a
// View the live objects. The typed functions Get, GetByName and List read through it.
type Reader interface {
	Get(kind avi.Kind, uuid string) (avi.Object, error)
	GetByName(kind avi.Kind, name string) (avi.Object, error)
	List(kind avi.Kind) []avi.Object
}

// Get returns the object of type T (such as *avi.Pool) with that uuid.
func Get[T avi.Object](r Reader, uuid string) (T, error) {
	o, err := r.Get(avi.KindFor[T](), uuid)
	if err != nil {
		var zero T
		return zero, err
	}
	return o.(T), nil
}

// GetByName returns the object of type T with that name.
func GetByName[T avi.Object](r Reader, name string) (T, error) {
	o, err := r.GetByName(avi.KindFor[T](), name)
	if err != nil {
		var zero T
		return zero, err
	}
	return o.(T), nil
}

// List returns every object of type T, by name.
func List[T avi.Object](r Reader) []T {
	objs := r.List(avi.KindFor[T]())
	out := make([]T, len(objs))
	for i, o := range objs {
		out[i] = o.(T)
	}
	return out
}

// Open opens (creating if needed) the store file and loads it. The secrets in it are sealed
// with the key in contract.SecretsKeyFile beside it, which Open makes for a store that has none
// (a new one, or one from before secrets were sealed) and requires ever after. A store that
// holds secrets in clear is rewritten with them sealed.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, now: time.Now, path: path, keyPath: filepath.Join(filepath.Dir(path), contract.SecretsKeyFile), changed: make(chan struct{})}
	s.commit = func(batch []byte) error { return s.Apply(0, batch) }
	clear, err := s.load()
	if err == nil && clear > 0 {
		err = s.sealClearSecrets(path)
	}
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("load store %s: %w", path, err)
	}
	return s, nil
}

// load reads the store file into memory, its secrets opened with the key in keyPath, and
// returns how many secrets it holds in clear.
func (s *Store) load() (clear int, err error) {
	s.objs, s.names = map[avi.Kind]map[string]avi.Object{}, map[avi.Kind]map[string]string{}
	s.version, s.applied = 0, 0
	err = s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if v := meta.Get(versionKey); len(v) == 8 {
			s.version = int64(binary.BigEndian.Uint64(v))
		}
		if v := meta.Get(appliedKey); len(v) == 8 {
			s.applied = binary.BigEndian.Uint64(v)
		}
		check := meta.Get(keyCheck)
		if s.secrets, err = openSecretsKey(s.keyPath, check); err != nil {
			return err
		}
		for _, k := range avi.Kinds {
			b, err := tx.CreateBucketIfNotExists([]byte(k.Kind))
			if err != nil {
				return err
			}
			s.objs[k.Kind], s.names[k.Kind] = map[string]avi.Object{}, map[string]string{}
			if err := b.ForEach(func(id, data []byte) error {
				o := k.New()
				if err := json.Unmarshal(data, o); err != nil {
					return fmt.Errorf("%s %s: %w", k.Kind, id, err)
				}
				n, err := s.secrets.openSecrets(k.Kind, string(id), o, check != nil)
				if err != nil {
					return err
				}
				clear += n
				s.objs[k.Kind][string(id)] = o
				s.names[k.Kind][keyOf(k.Kind, o, s.adminURL())] = string(id)
				return nil
			}); err != nil {
				return err
			}
		}
		if check == nil && clear == 0 {
			return meta.Put(keyCheck, []byte(s.secrets.seal(keyCheckText, keyCheckAD)))
		}
		return nil
	})
	return clear, err
}

// sealClearSecrets replaces the store file with a copy of it in which every secret is sealed
// and the key check is set, written in one transaction. A new file rather than an update in
// place: the pages an update frees keep their old bytes, the very secrets in clear. A start
// that stops before the rename leaves the store as it was, and the next start seals it.
func (s *Store) sealClearSecrets(path string) error {
	tmp := path + ".sealing"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("seal secrets: %w", err)
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return fmt.Errorf("seal secrets: %w", err)
	}
	err = s.db.View(func(src *bolt.Tx) error {
		return dst.Update(func(out *bolt.Tx) error {
			if err := src.ForEach(func(name []byte, b *bolt.Bucket) error {
				ob, err := out.CreateBucket(name)
				if err != nil {
					return err
				}
				kind := avi.Kind(name)
				objs, isKind := s.objs[kind]
				return b.ForEach(func(id, data []byte) error {
					if data == nil {
						return fmt.Errorf("bucket %s: unexpected nested bucket %s", name, id)
					}
					if isKind {
						if data, err = s.secrets.encode(kind, string(id), objs[string(id)]); err != nil {
							return err
						}
					}
					return ob.Put(id, data)
				})
			}); err != nil {
				return err
			}
			return out.Bucket(metaBucket).Put(keyCheck, []byte(s.secrets.seal(keyCheckText, keyCheckAD)))
		})
	})
	if closeErr := dst.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = atomicfile.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("seal secrets: %w", err)
	}
	s.db.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return fmt.Errorf("open store with its secrets sealed: %w", err)
	}
	s.db = db
	return nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Version is the configuration version: it grows with every committed write.
func (s *Store) Version() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// Changed returns a channel closed at the next commit.
func (s *Store) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// clone is a deep copy of an object of one of our own types.
func clone(o avi.Object) avi.Object {
	data, err := json.Marshal(o)
	if err != nil {
		panic(fmt.Sprintf("store: %T does not marshal: %v", o, err)) // our own types always do
	}
	c := reflect.New(reflect.TypeOf(o).Elem()).Interface().(avi.Object)
	if err := json.Unmarshal(data, c); err != nil {
		panic(fmt.Sprintf("store: %T does not unmarshal: %v", o, err))
	}
	return c
}

// Get returns a copy of an object, secrets included: callers that answer clients redact.
func (s *Store) Get(kind avi.Kind, uuid string) (avi.Object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, err := View{s}.Get(kind, uuid)
	if err != nil {
		return nil, err
	}
	return clone(o), nil
}

// GetByName returns a copy of the object of that kind and name (for a tenant-scoped kind, the
// admin tenant's).
func (s *Store) GetByName(kind avi.Kind, name string) (avi.Object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, err := View{s}.GetByName(kind, name)
	if err != nil {
		return nil, err
	}
	return clone(o), nil
}

// List returns copies of every object of a kind, by name.
func (s *Store) List(kind avi.Kind) []avi.Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sorted(s.objs[kind], true)
}

// View calls fn with the store as it is, under the read lock: for the hot paths (snapshots,
// heartbeats, analytics) that read without copying. fn must not keep v or the objects it
// returns, nor change them.
func (s *Store) View(fn func(v View)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(View{s})
}

// View reads the live objects of the store, within Store.View.
type View struct{ s *Store }

// Version is the configuration version of what the view sees.
func (v View) Version() int64 { return v.s.version }

// Get returns the live object.
func (v View) Get(kind avi.Kind, uuid string) (avi.Object, error) {
	o, ok := v.s.objs[kind][uuid]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", kind, uuid, ErrNotFound)
	}
	return o, nil
}

// GetByName returns the live object of that kind and name (for a tenant-scoped kind, the admin
// tenant's).
func (v View) GetByName(kind avi.Kind, name string) (avi.Object, error) {
	if id, ok := v.s.names[kind][nameKey("", name)]; ok {
		return v.s.objs[kind][id], nil
	}
	return nil, fmt.Errorf("%s named %q: %w", kind, name, ErrNotFound)
}

// List returns the live objects of a kind, by name.
func (v View) List(kind avi.Kind) []avi.Object { return sorted(v.s.objs[kind], false) }

func sorted(m map[string]avi.Object, copies bool) []avi.Object {
	out := make([]avi.Object, 0, len(m))
	for _, o := range m {
		if copies {
			o = clone(o)
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].GetMeta(), out[j].GetMeta()
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.UUID < b.UUID
	})
	return out
}

// Create stores a new object, completing o in place as Tx.Create does.
func (s *Store) Create(o avi.Object) error {
	return s.Update(func(tx *Tx) error { return tx.Create(o) })
}

// Put replaces an object, completing o in place as Tx.Put does.
func (s *Store) Put(uuid string, o avi.Object) error {
	return s.Update(func(tx *Tx) error { return tx.Put(uuid, o) })
}

// Delete removes an object nothing refers to.
func (s *Store) Delete(kind avi.Kind, uuid string) error {
	return s.Update(func(tx *Tx) error { return tx.Delete(kind, uuid) })
}

// Update runs fn in a transaction: its writes are committed together, durably, or not at all.
// fn reads the store as it is; what it staged goes to the committer (a quorum of the cluster,
// through raft, in a controller) as one batch, which every node applies with Apply. Updates
// are one at a time, so that each batch is written against the version the one before left.
func (s *Store) Update(fn func(tx *Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	tx := &Tx{s: s, staged: map[avi.Kind]map[string]avi.Object{}, stagedNames: map[avi.Kind]map[string]string{}}
	err := fn(tx)
	var data []byte
	if err == nil && len(tx.staged) > 0 {
		data, err = s.encodeBatch(tx)
	}
	s.mu.RUnlock()
	if err != nil || data == nil {
		return err
	}
	if err := s.commit(data); err != nil {
		return fmt.Errorf("commit to store: %w", err)
	}
	return nil
}

// Tx is a transaction: reads see its own writes.
type Tx struct {
	s           *Store
	staged      map[avi.Kind]map[string]avi.Object // nil value: deleted
	stagedNames map[avi.Kind]map[string]string     // name keys of staged objects: uuid
}

func (tx *Tx) lookup(kind avi.Kind, uuid string) (avi.Object, bool) {
	if o, ok := tx.staged[kind][uuid]; ok {
		return o, o != nil
	}
	o, ok := tx.s.objs[kind][uuid]
	return o, ok
}

func (tx *Tx) each(kind avi.Kind, fn func(uuid string, o avi.Object)) {
	for id, o := range tx.s.objs[kind] {
		if _, staged := tx.staged[kind][id]; !staged {
			fn(id, o)
		}
	}
	for id, o := range tx.staged[kind] {
		if o != nil {
			fn(id, o)
		}
	}
}

// Get returns a copy of an object as this transaction sees it.
func (tx *Tx) Get(kind avi.Kind, uuid string) (avi.Object, error) {
	o, ok := tx.lookup(kind, uuid)
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", kind, uuid, ErrNotFound)
	}
	return clone(o), nil
}

// GetByName returns a copy of the object of that kind and name as this transaction sees it.
func (tx *Tx) GetByName(kind avi.Kind, name string) (avi.Object, error) {
	if id, ok := tx.ByName(kind, name); ok {
		return tx.Get(kind, id)
	}
	return nil, fmt.Errorf("%s named %q: %w", kind, name, ErrNotFound)
}

// ByName returns the uuid of the object of that kind and name (for a tenant-scoped kind, the
// admin tenant's).
func (tx *Tx) ByName(kind avi.Kind, name string) (string, bool) {
	return tx.byKey(kind, nameKey("", name))
}

// List returns copies of every object of a kind, by name.
func (tx *Tx) List(kind avi.Kind) []avi.Object {
	m := map[string]avi.Object{}
	tx.each(kind, func(id string, o avi.Object) { m[id] = o })
	return sorted(m, true)
}

func (tx *Tx) stage(kind avi.Kind, uuid string, o avi.Object) {
	if tx.staged[kind] == nil {
		tx.staged[kind], tx.stagedNames[kind] = map[string]avi.Object{}, map[string]string{}
	}
	admin := tx.adminURL()
	if prev, ok := tx.staged[kind][uuid]; ok && prev != nil {
		delete(tx.stagedNames[kind], keyOf(kind, prev, admin))
	}
	tx.staged[kind][uuid] = o
	if o != nil {
		tx.stagedNames[kind][keyOf(kind, o, admin)] = uuid
	}
}

// NewUUID returns an Avi-style identifier: the kind, a dash, a random UUID.
func NewUUID(kind avi.Kind) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", kind, b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

var uuidRE = regexp.MustCompile(`^[a-z]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// kindOf is the kind of an object to write.
func kindOf(o avi.Object) (avi.KindInfo, error) {
	if kind, ok := avi.KindOf(o); ok {
		if k, ok := kind.Info(); ok {
			return k, nil
		}
	}
	return avi.KindInfo{}, fmt.Errorf("%T: %w", o, avi.ErrUnknownKind)
}

// Create validates and stages a new object of o's kind. o is completed in place (uuid, url,
// defaults, resolved references, derived fields) and a copy of it is stored.
func (tx *Tx) Create(o avi.Object) error {
	k, err := kindOf(o)
	if err != nil {
		return err
	}
	m := o.GetMeta()
	if m.UUID == "" {
		m.UUID = NewUUID(k.Kind)
	} else if !uuidRE.MatchString(m.UUID) || !strings.HasPrefix(m.UUID, string(k.Kind)+"-") {
		return &avi.FieldError{Field: "uuid", Reason: fmt.Sprintf("%q: want %s-<uuid>, or leave it out", m.UUID, k.Kind)}
	} else if _, exists := tx.lookup(k.Kind, m.UUID); exists {
		return fmt.Errorf("%s %s exists: %w", k.Kind, m.UUID, ErrConflict)
	}
	if k.Singleton && len(tx.List(k.Kind)) > 0 {
		return fmt.Errorf("there is one %s; change it with PUT: %w", k.Kind, ErrConflict)
	}
	return tx.write(k.Kind, m.UUID, o, nil)
}

// CreateOrReplace stages o as the object of its kind, tenant and name: a replacement of the one
// that has that name, or a new object when none has.
func (tx *Tx) CreateOrReplace(o avi.Object) error {
	if _, err := kindOf(o); err != nil {
		return err
	}
	if id, ok := tx.ByNameOf(o); ok {
		return tx.Put(id, o)
	}
	return tx.Create(o)
}

// Put validates and stages a replacement of the object of o's kind with that uuid, completing
// o in place as Create does.
func (tx *Tx) Put(uuid string, o avi.Object) error {
	k, err := kindOf(o)
	if err != nil {
		return err
	}
	old, ok := tx.lookup(k.Kind, uuid)
	if !ok {
		return fmt.Errorf("%s %s: %w", k.Kind, uuid, ErrNotFound)
	}
	o.GetMeta().UUID = uuid
	return tx.write(k.Kind, uuid, o, old)
}

func (tx *Tx) write(kind avi.Kind, uuid string, o, old avi.Object) error {
	m := o.GetMeta()
	m.URL = kind.URL(uuid)
	o.Defaults()
	if p, ok := o.(avi.Preparer); ok {
		if err := p.Prepare(old); err != nil {
			return err
		}
	}
	if err := o.Validate(); err != nil {
		return err
	}
	// The tenant first: the other references and the name are looked up in it.
	refs := o.Refs()
	for _, tenantPass := range []bool{true, false} {
		for _, r := range refs {
			if (r.Kind == avi.KindTenant) != tenantPass {
				continue
			}
			resolved, err := tx.resolve(r, tenantKey(kind, o, tx.adminURL()))
			if err != nil {
				return err
			}
			*r.Value = resolved
		}
	}
	if c, ok := o.(avi.Settled); ok {
		if err := c.Settle(uuid, tx); err != nil {
			return err
		}
	}
	if other, ok := tx.ByNameOf(o); ok && other != uuid {
		return fmt.Errorf("name: a %s named %q exists already: %w", kind, m.Name, ErrConflict)
	}
	if keyed, ok := o.(avi.Keyed); ok {
		for field, v := range keyed.UniqueKeys() {
			var clash string
			tx.each(kind, func(id string, other avi.Object) {
				if k, ok := other.(avi.Keyed); ok && id != uuid && k.UniqueKeys()[field] == v {
					clash = other.GetMeta().Name
				}
			})
			if clash != "" {
				return fmt.Errorf("%s: %q is taken by %s %s: %w", field, v, kind, clash, ErrConflict)
			}
		}
	}
	m.LastModified = fmt.Sprint(tx.s.now().UnixMicro())
	tx.stage(kind, uuid, clone(o))
	if src, ok := o.(avi.Source); ok {
		return tx.settleDependents(src.Feeds(), m.URL)
	}
	return nil
}

// settleDependents settles again the objects of a kind that refer to the object at url and
// derive fields from it (a virtual service's VIP from its vsvip), staging those that change: a
// change the dependent cannot take (a port clash on the new address) refuses the whole write.
func (tx *Tx) settleDependents(kind avi.Kind, url string) error {
	var ids []string
	tx.each(kind, func(id string, o avi.Object) {
		for _, r := range o.Refs() {
			if *r.Value == url {
				ids = append(ids, id)
				return
			}
		}
	})
	sort.Strings(ids)
	for _, id := range ids {
		cur, _ := tx.lookup(kind, id)
		o := clone(cur)
		s, ok := o.(avi.Settled)
		if !ok {
			continue
		}
		if err := s.Settle(id, tx); err != nil {
			return inDependent(fmt.Sprintf("%s %s", kind, o.GetMeta().Name), err)
		}
		a, _ := json.Marshal(cur)
		b, _ := json.Marshal(o)
		if string(a) != string(b) {
			o.GetMeta().LastModified = fmt.Sprint(tx.s.now().UnixMicro())
			tx.stage(kind, id, o)
		}
	}
	return nil
}

// resolve turns a reference given as /api/kind/uuid, /api/kind?name=NAME or a full URL ending
// in either into /api/kind/uuid, checking the object exists. A name is looked up in the tenant
// of the referring object (its tenant key), then, for a shared kind, in admin.
func (tx *Tx) resolve(r avi.Ref, tenant string) (string, error) {
	v := *r.Value
	if i := strings.Index(v, "/api/"); i > 0 {
		v = v[i:]
	}
	if uuidRE.MatchString(v) {
		v = "/api/" + v[:strings.IndexByte(v, '-')] + "/" + v // a bare uuid, as Avi takes one
	}
	u, err := url.Parse(v)
	if err != nil || !strings.HasPrefix(u.Path, "/api/") {
		return "", &avi.FieldError{Field: r.Field, Reason: fmt.Sprintf("%q: want /api/%s/<uuid>, /api/%s?name=<name> or %s-<uuid>", *r.Value, r.Kind, r.Kind, r.Kind)}
	}
	// A full URL's #name and a trailing slash (/api/pool/?name=web) are Avi's too.
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(u.Path, "/api/"), "/"), "/")
	if parts[0] != string(r.Kind) {
		return "", &avi.FieldError{Field: r.Field, Reason: fmt.Sprintf("%q refers to a %s, want a %s", *r.Value, parts[0], r.Kind)}
	}
	switch {
	case len(parts) == 2 && parts[1] != "":
		if _, ok := tx.lookup(r.Kind, parts[1]); ok {
			return r.Kind.URL(parts[1]), nil
		}
	case len(parts) == 1 && u.Query().Get("name") != "":
		name := u.Query().Get("name")
		if r.Scope != nil {
			if id, ok := tx.ByNameInScope(r.Kind, tx.scopeOf(*r.Scope), name); ok {
				return r.Kind.URL(id), nil
			}
			break
		}
		if id, ok := tx.ByNameIn(r.Kind, tenant, name); ok {
			return r.Kind.URL(id), nil
		}
		if k, _ := r.Kind.Info(); k.Shared {
			if id, ok := tx.ByName(r.Kind, name); ok {
				return r.Kind.URL(id), nil
			}
		}
	default:
		return "", &avi.FieldError{Field: r.Field, Reason: fmt.Sprintf("%q: want /api/%s/<uuid>, /api/%s?name=<name> or %s-<uuid>", *r.Value, r.Kind, r.Kind, r.Kind)}
	}
	return "", &avi.FieldError{Field: r.Field, Reason: fmt.Sprintf("%q: no such %s", *r.Value, r.Kind)}
}

// Each calls fn with every object of a kind as the transaction sees it, without copying them:
// fn must not change them (avi.Lister).
func (tx *Tx) Each(kind avi.Kind, fn func(uuid string, o avi.Object)) { tx.each(kind, fn) }

// Lookup returns an object as the transaction sees it, without copying it: the caller must not
// change it (avi.Lister).
func (tx *Tx) Lookup(kind avi.Kind, uuid string) (avi.Object, bool) { return tx.lookup(kind, uuid) }

// DefaultSEGroup is the URL of a cloud's DefaultSEGroup (cloudRef empty: Default-Cloud's), or
// "" when it has none.
func (tx *Tx) DefaultSEGroup(cloudRef string) string {
	if id, ok := tx.ByNameInScope(avi.KindServiceEngineGroup, tx.scopeOf(cloudRef), avi.DefaultSEGroup); ok {
		return avi.KindServiceEngineGroup.URL(id)
	}
	return ""
}

// scopeOf is the scope a reference's Scope names: the resolved URL, or Default-Cloud's when it
// is empty.
func (tx *Tx) scopeOf(scope string) string {
	if scope != "" {
		return scope
	}
	return tx.DefaultCloud()
}

// DefaultCloud is the URL of Default-Cloud, or "" before it exists.
func (tx *Tx) DefaultCloud() string {
	if id, ok := tx.ByName(avi.KindCloud, avi.DefaultCloudName); ok {
		return avi.KindCloud.URL(id)
	}
	return ""
}

// Referrers lists the objects referring to kind/uuid, as "kind name".
func (tx *Tx) Referrers(kind avi.Kind, uuid string) []string {
	target := kind.URL(uuid)
	var out []string
	for _, k := range avi.Kinds {
		tx.each(k.Kind, func(_ string, o avi.Object) {
			for _, r := range o.Refs() {
				if *r.Value == target {
					out = append(out, string(k.Kind)+" "+o.GetMeta().Name)
					return
				}
			}
		})
	}
	sort.Strings(out)
	return out
}

// Delete stages the removal of an object nothing refers to.
func (tx *Tx) Delete(kind avi.Kind, uuid string) error {
	if _, ok := tx.lookup(kind, uuid); !ok {
		return fmt.Errorf("%s %s: %w", kind, uuid, ErrNotFound)
	}
	if refs := tx.Referrers(kind, uuid); len(refs) > 0 {
		return fmt.Errorf("%s %s is used by %s: %w", kind, uuid, strings.Join(refs, ", "), ErrReferenced)
	}
	tx.stage(kind, uuid, nil)
	return nil
}

// inDependent names the dependent object a rule refused the write for, keeping the error's type
// (which decides the status a client gets).
func inDependent(who string, err error) error {
	var fe *avi.FieldError
	var ce *avi.ConflictError
	switch {
	case errors.As(err, &fe):
		return &avi.FieldError{Field: who + ": " + fe.Field, Reason: fe.Reason}
	case errors.As(err, &ce):
		return &avi.ConflictError{Field: who + ": " + ce.Field, Reason: ce.Reason}
	}
	return fmt.Errorf("%s: %w", who, err)
}

// Change is one object a transaction wrote: Old is nil for a creation, New nil for a deletion.
type Change struct {
	Kind     avi.Kind
	UUID     string
	Old, New avi.Object
}

// Changes lists copies of what the transaction staged so far, each with the committed object it
// replaces, by kind and uuid. An object created and deleted in the transaction is no change.
func (tx *Tx) Changes() []Change {
	var out []Change
	for _, k := range avi.Kinds {
		ids := make([]string, 0, len(tx.staged[k.Kind]))
		for id := range tx.staged[k.Kind] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			c := Change{Kind: k.Kind, UUID: id}
			if o, ok := tx.s.objs[k.Kind][id]; ok {
				c.Old = clone(o)
			}
			if o := tx.staged[k.Kind][id]; o != nil {
				c.New = clone(o)
			}
			if c.Old != nil || c.New != nil {
				out = append(out, c)
			}
		}
	}
	return out
}
