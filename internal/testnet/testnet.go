// Package testnet helps tests find what they need on the loopback network.
package testnet

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Ports below Linux's default ephemeral range (32768-60999): a port picked there and bound a
// moment later cannot meanwhile become the source port of some outgoing connection, as a port
// the kernel hands out for :0 can.
const (
	firstPort = 20000
	lastPort  = 32000
)

// FreePort returns a TCP port that nothing listens on now, on any address.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		p := firstPort + rand.IntN(lastPort-firstPort)
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatal("no free TCP port between 20000 and 32000")
	return 0
}
