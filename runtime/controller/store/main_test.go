package store

import (
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/avi-init/avi-init/model/avi"
)

// TestMain makes the users these tests store cheap to hash.
func TestMain(m *testing.M) {
	avi.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}
