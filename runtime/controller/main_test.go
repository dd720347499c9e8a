package controller

import (
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/avi-init/avi-init/model/avi"
)

// TestMain makes password hashes cheap: these tests create many accounts and controllers, and
// at the product's cost each hash takes a quarter of a second. model/avi's tests keep its cost.
//
// A controller on its own waits to lead its cluster of one before it starts: with a short
// heartbeat that is a few milliseconds rather than one to two seconds.
func TestMain(m *testing.M) {
	avi.BcryptCost = bcrypt.MinCost
	raftHeartbeat, raftLog = 20*time.Millisecond, io.Discard
	os.Exit(m.Run())
}
