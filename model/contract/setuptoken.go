package contract

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/avi-init/avi-init/internal/atomicfile"
)

// SetupTokenHeader is the request header that may carry the setup token instead of the
// setup_token field.
const SetupTokenHeader = "X-Avi-Setup-Token"

// ReadSetupToken returns the setup token kept in a controller's data directory; an error
// wrapping os.ErrNotExist when there is none (the controller is set up, or has not started).
func ReadSetupToken(dataDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, SetupTokenFile))
	if err != nil {
		return "", fmt.Errorf("read setup token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("setup token file %s is empty", SetupTokenFile)
	}
	return tok, nil
}

// EnsureSetupToken returns the setup token in a controller's data directory, first writing a
// new one (0600) when there is none. created says whether it wrote one.
func EnsureSetupToken(dataDir string) (tok string, created bool, err error) {
	tok, err = ReadSetupToken(dataDir)
	if !errors.Is(err, os.ErrNotExist) {
		return tok, false, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, err
	}
	tok = hex.EncodeToString(b[:])
	if err := atomicfile.Write(filepath.Join(dataDir, SetupTokenFile), []byte(tok+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return tok, true, nil
}
