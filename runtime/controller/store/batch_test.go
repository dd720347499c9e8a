package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
)

// openPair opens two stores sharing one secrets key, as the nodes of a cluster do.
func openPair(t *testing.T) (a, b *Store) {
	t.Helper()
	dirA, dirB := t.TempDir(), t.TempDir()
	a = open(t, filepath.Join(dirA, "config.db"))
	key, err := os.ReadFile(filepath.Join(dirA, contract.SecretsKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, contract.SecretsKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	return a, open(t, filepath.Join(dirB, "config.db"))
}

// recordBatches makes s keep the batches its writes commit.
func recordBatches(s *Store) *[][]byte {
	var batches [][]byte
	s.SetCommit(func(b []byte) error {
		batches = append(batches, b)
		return s.Apply(0, b)
	})
	return &batches
}

// A batch applies once: replayed at or below the last index applied it is skipped, and written
// against another version it is refused (the same way on every node), its index still recorded.
func TestApplyOnceAndOnlyOnItsVersion(t *testing.T) {
	a, b := openPair(t)
	batches := recordBatches(a)
	for _, name := range []string{"one", "two"} {
		if err := a.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: name}, Type: avi.HealthMonitorTCP}); err != nil {
			t.Fatal(err)
		}
	}
	first, second := (*batches)[0], (*batches)[1]
	if err := b.Apply(5, first); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(5, first); err != nil || b.Version() != 1 {
		t.Fatalf("batch 5 replayed: %v, version %d; want it skipped at version 1", err, b.Version())
	}
	if err := b.Apply(6, first); !errors.Is(err, ErrStale) || b.Version() != 1 || b.Applied() != 6 {
		t.Fatalf("a batch on version 0 applied at version 1: %v, version %d, applied %d; want ErrStale, 1, 6", err, b.Version(), b.Applied())
	}
	if err := b.Apply(7, second); err != nil || b.Version() != 2 {
		t.Fatalf("batch 7: %v, version %d; want version 2", err, b.Version())
	}
	for _, name := range []string{"one", "two"} {
		x, errA := GetByName[*avi.HealthMonitor](a, name)
		y, errB := GetByName[*avi.HealthMonitor](b, name)
		if errA != nil || errB != nil || x.UUID != y.UUID || x.LastModified != y.LastModified {
			t.Errorf("%s: %+v %v on the writer, %+v %v on the other; want the same object", name, x, errA, y, errB)
		}
	}
	b.Close()
	reopened := open(t, b.path)
	if reopened.Version() != 2 || reopened.Applied() != 7 {
		t.Errorf("reopened: version %d, applied %d; want 2, 7", reopened.Version(), reopened.Applied())
	}
}

// A snapshot image restores another store whole; an image sealed with another key is refused
// and the store is left as it was.
func TestSnapshotRestores(t *testing.T) {
	a, b := openPair(t)
	for _, name := range []string{"one", "two", "three"} {
		if err := a.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: name}, Type: avi.HealthMonitorTCP}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: "only-on-b"}, Type: avi.HealthMonitorTCP}); err != nil {
		t.Fatal(err)
	}
	img, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = img.WriteTo(&buf)
	img.Close()
	if err != nil {
		t.Fatal(err)
	}
	changed := b.Changed()
	if err := b.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Error("a restore did not signal a change")
	}
	if got, want := len(List[*avi.HealthMonitor](b)), 3; got != want || b.Version() != a.Version() {
		t.Errorf("restored: %d health monitors, version %d; want %d, %d", got, b.Version(), want, a.Version())
	}
	if _, err := GetByName[*avi.HealthMonitor](b, "only-on-b"); err == nil {
		t.Error("the restored store kept an object the image does not have")
	}

	stranger := open(t, filepath.Join(t.TempDir(), "config.db"))
	before := stranger.Version()
	if err := stranger.Restore(bytes.NewReader(buf.Bytes())); err == nil {
		t.Fatal("an image sealed with another key restored")
	}
	if stranger.Version() != before {
		t.Errorf("a refused restore changed the store: version %d, was %d", stranger.Version(), before)
	}
	if err := stranger.Create(&avi.HealthMonitor{Meta: avi.Meta{Name: "still-works"}, Type: avi.HealthMonitorTCP}); err != nil {
		t.Errorf("the store after a refused restore: %v", err)
	}
}
