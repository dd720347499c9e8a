package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/avi-init/avi-init/internal/atomicfile"
	"github.com/avi-init/avi-init/model/avi"
)

// ErrStale is a batch written against another version than the store holds: another write
// (a leader's before this one, in a cluster) came first. The write may be tried again.
var ErrStale = errors.New("the configuration changed while this write was prepared; try it again")

// batch is one committed write as the cluster's log carries it: the objects a transaction
// staged, each as the store file keeps it (secrets sealed), and the version it read.
type batch struct {
	Base    int64      `json:"base"`
	Objects []batchObj `json:"objects"`
}

type batchObj struct {
	Kind    avi.Kind        `json:"kind"`
	UUID    string          `json:"uuid"`
	Data    json.RawMessage `json:"data,omitempty"`
	Deleted bool            `json:"deleted,omitempty"`
}

// encodeBatch is what tx staged, as a batch on the version it read.
func (s *Store) encodeBatch(tx *Tx) ([]byte, error) {
	b := batch{Base: s.version}
	for _, k := range avi.Kinds {
		for id, o := range tx.staged[k.Kind] {
			if o == nil {
				b.Objects = append(b.Objects, batchObj{Kind: k.Kind, UUID: id, Deleted: true})
				continue
			}
			data, err := s.secrets.encode(k.Kind, id, o)
			if err != nil {
				return nil, err
			}
			b.Objects = append(b.Objects, batchObj{Kind: k.Kind, UUID: id, Data: data})
		}
	}
	return json.Marshal(b)
}

// SetCommit makes commit the way every Update's batch is made durable: it must have Apply
// called with the batch (on every node of a cluster) before it returns.
func (s *Store) SetCommit(commit func(batch []byte) error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.commit = commit
}

// Applied is the raft index of the last batch the store applied (0 for none): a log that
// ends before it lost entries the store holds.
func (s *Store) Applied() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// Apply applies a committed batch: written to the file (fsync) and to memory, raising the
// version by one. index is the batch's raft index (0 outside raft): a batch at or below the
// last one applied is one the log replays after a restart, and is skipped. A batch written
// against another version is refused with ErrStale, the same way on every node.
func (s *Store) Apply(index uint64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index != 0 && index <= s.applied {
		return nil
	}
	var b batch
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("apply batch %d: %w", index, err)
	}
	objs := make([]avi.Object, len(b.Objects))
	stale := b.Base != s.version
	if !stale {
		for i, bo := range b.Objects {
			if bo.Deleted {
				continue
			}
			k, ok := bo.Kind.Info()
			if !ok {
				return fmt.Errorf("apply batch %d: %s: %w", index, bo.Kind, avi.ErrUnknownKind)
			}
			o := k.New()
			if err := json.Unmarshal(bo.Data, o); err != nil {
				return fmt.Errorf("apply batch %d: %s %s: %w", index, bo.Kind, bo.UUID, err)
			}
			if _, err := s.secrets.openSecrets(bo.Kind, bo.UUID, o, true); err != nil {
				return fmt.Errorf("apply batch %d: %w", index, err)
			}
			objs[i] = o
		}
	}
	version := s.version
	if !stale {
		version++
	}
	err := s.db.Update(func(btx *bolt.Tx) error {
		meta := btx.Bucket(metaBucket)
		if index != 0 {
			if err := meta.Put(appliedKey, binary.BigEndian.AppendUint64(nil, index)); err != nil {
				return err
			}
		}
		if stale {
			return nil
		}
		for _, bo := range b.Objects {
			bucket := btx.Bucket([]byte(bo.Kind))
			var err error
			if bo.Deleted {
				err = bucket.Delete([]byte(bo.UUID))
			} else {
				err = bucket.Put([]byte(bo.UUID), bo.Data)
			}
			if err != nil {
				return err
			}
		}
		return meta.Put(versionKey, binary.BigEndian.AppendUint64(nil, uint64(version)))
	})
	if err != nil {
		return fmt.Errorf("apply batch %d: %w", index, err)
	}
	if index != 0 {
		s.applied = index
	}
	if stale {
		return fmt.Errorf("batch %d on version %d, the store is at %d: %w", index, b.Base, s.version, ErrStale)
	}
	// Tenants first: the other objects' name keys depend on which one is admin.
	for _, tenants := range []bool{true, false} {
		admin := s.adminURL()
		for i, bo := range b.Objects {
			if (bo.Kind == avi.KindTenant) != tenants {
				continue
			}
			if old, ok := s.objs[bo.Kind][bo.UUID]; ok {
				delete(s.names[bo.Kind], keyOf(bo.Kind, old, admin))
			}
			if bo.Deleted {
				delete(s.objs[bo.Kind], bo.UUID)
				continue
			}
			s.objs[bo.Kind][bo.UUID] = objs[i]
			s.names[bo.Kind][keyOf(bo.Kind, objs[i], admin)] = bo.UUID
		}
	}
	s.version = version
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// Image is a consistent copy of the store file, as of when Snapshot was called: what a raft
// snapshot holds.
type Image struct{ tx *bolt.Tx }

// Snapshot starts an image of the store as it is now. It must be closed; writes go on meanwhile.
func (s *Store) Snapshot() (*Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("snapshot the store: %w", err)
	}
	return &Image{tx: tx}, nil
}

// WriteTo writes the image: a whole store file.
func (i *Image) WriteTo(w io.Writer) (int64, error) { return i.tx.WriteTo(w) }

// Close ends the image.
func (i *Image) Close() error { return i.tx.Rollback() }

// Restore replaces the store by an image (another node's, sent by the cluster's leader): the
// file is replaced whole, then read as at Open. Its secrets must be sealed with this store's
// key (the cluster's).
func (s *Store) Restore(r io.Reader) error {
	tmp := s.path + ".restore"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore the store: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore the store: %w", err)
	}
	// The image must open with this store's key before it replaces anything.
	if err := checkImage(tmp, s.keyPath); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore the store: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("restore the store: %w", err)
	}
	if err := atomicfile.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("restore the store: %w", err)
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return fmt.Errorf("restore the store: %w", err)
	}
	s.db = db
	if _, err := s.load(); err != nil {
		return fmt.Errorf("restore the store: %w", err)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// checkImage opens a store image at path with the key in keyPath and reads it whole.
func checkImage(path, keyPath string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return err
	}
	s := &Store{db: db, path: path, keyPath: keyPath, changed: make(chan struct{})}
	_, err = s.load()
	if closeErr := db.Close(); err == nil {
		err = closeErr
	}
	return err
}
