package installer

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/avi-init/avi-init/internal/atomicfile"
)

// writePrivate writes a file atomically, creating its directory; a secret's directory is as
// private as the file.
func writePrivate(path string, data []byte, perm os.FileMode) error {
	dirPerm := os.FileMode(0o755)
	if perm&0o077 == 0 {
		dirPerm = 0o700
	}
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.Write(path, data, perm)
}
