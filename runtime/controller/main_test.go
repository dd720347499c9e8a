package controller

import (
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/avi-init/avi-init/model/avi"
)

// TestMain makes password hashes cheap: these tests create many accounts and controllers, and
// at the product's cost each hash takes a quarter of a second. model/avi's tests keep its cost.
func TestMain(m *testing.M) {
	avi.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}
