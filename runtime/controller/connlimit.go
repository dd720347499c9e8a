package controller

import (
	"net"
	"sync"
	"time"
)

// connLimits bound what a client can hold on the controller before and while it is served.
type connLimits struct {
	readHeader, read, write, idle time.Duration
	perAddr                       int // concurrent connections from one address, on all ports
}

// defaultConnLimits: a whole configuration import (maxImportBody) fits in the read timeout on a
// management network; SE snapshot streams extend their own deadlines.
var defaultConnLimits = connLimits{
	readHeader: 10 * time.Second,
	read:       60 * time.Second,
	write:      120 * time.Second,
	idle:       120 * time.Second,
	perAddr:    64,
}

// addrLimiter counts open connections per remote address.
type addrLimiter struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newAddrLimiter(max int) *addrLimiter { return &addrLimiter{max: max, n: map[string]int{}} }

// limit wraps a listener so that a connection over an address's cap is closed at once.
func (a *addrLimiter) limit(l net.Listener) net.Listener { return &limitedListener{Listener: l, a: a} }

type limitedListener struct {
	net.Listener
	a *addrLimiter
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := hostOf(c.RemoteAddr().String())
		if !l.a.take(host) {
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: sync.OnceFunc(func() { l.a.give(host) })}, nil
	}
}

func (a *addrLimiter) take(host string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[host] >= a.max {
		return false
	}
	a.n[host]++
	return true
}

func (a *addrLimiter) give(host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[host]--; a.n[host] <= 0 {
		delete(a.n, host)
	}
}

// limitedConn gives its place back when closed, once however often it is closed.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
