// Package storetest opens stores for tests. Tests only: product code never imports it.
package storetest

import (
	"path/filepath"
	"testing"

	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Open opens a new, empty store in a temporary directory, closed when the test ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "config.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
