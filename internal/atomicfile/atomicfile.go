// Package atomicfile writes files so that a reader, or the next boot after a crash, sees either
// the old content or the new, never a mix.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data: a temporary file in the same directory, fsync, chmod, rename,
// and an fsync of the directory so the rename itself is durable.
func Write(path string, data []byte, perm os.FileMode) error {
	if err := write(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// Chmod before writing, so a secret is never readable by others, even for a moment.
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return rename(tmp.Name(), path)
}

// Rename replaces newpath with oldpath, a file the caller wrote and synced in the same
// directory, and syncs the directory so the rename itself is durable.
func Rename(oldpath, newpath string) error {
	if err := rename(oldpath, newpath); err != nil {
		return fmt.Errorf("replace %s: %w", newpath, err)
	}
	return nil
}

func rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(newpath))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
