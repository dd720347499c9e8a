package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, tt := range []struct {
		name string
		old  []byte // nil: no file before
		data []byte
		perm os.FileMode
	}{
		{"new secret", nil, []byte("s3cret"), 0o600},
		{"new public", nil, []byte("hello"), 0o644},
		{"replaces and tightens", []byte("old content, longer than the new"), []byte("new"), 0o600},
		{"empty", []byte("old"), nil, 0o640},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		if tt.old != nil {
			if err := os.WriteFile(path, tt.old, 0o666); err != nil {
				t.Fatal(err)
			}
		}
		if err := Write(path, tt.data, tt.perm); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(tt.data) {
			t.Errorf("%s: content %q, %v; want %q", tt.name, got, err, tt.data)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != tt.perm {
			t.Errorf("%s: mode %v, %v; want %v", tt.name, fi.Mode().Perm(), err, tt.perm)
		}
		// The temporary file is renamed or removed, never left beside.
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%s: the directory holds %d entries, want only the file", tt.name, len(entries))
		}
	}
}

// A write that cannot happen says which file, and leaves no temporary file.
func TestWriteFails(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "f")
	if err := Write(missing, []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("write into a missing directory: %v, want an error naming %s", err, missing)
	}
	// The target is a directory: the rename fails and the old entry stays as it was.
	target := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("x"), 0o600); err == nil {
		t.Error("writing over a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "d" || !entries[0].IsDir() {
		t.Errorf("after a failed write the directory holds %v, want only d/", entries)
	}
}
