package dataplane

import (
	"bufio"
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/avi-init/avi-init/runtime/se/lb"
)

// The L7 proxy keeps connections to pool members alive between requests: each member has a
// stack of idle connections, most recently used on top, so that a busy member reuses a few warm
// connections and the rest age out.

const (
	dialTimeout = 3 * time.Second
	// upstreamIdleTimeout closes a member connection idle this long (net/http's default).
	upstreamIdleTimeout = 90 * time.Second
	// maxIdlePerMember bounds the idle connections kept per member.
	maxIdlePerMember = 256
)

var dialer = net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}

// errNoMember is a pool with no member available.
var errNoMember = errors.New("no member available")

// upstreamConn is a connection to a pool member, with its buffers.
type upstreamConn struct {
	nc     net.Conn
	rd     readDeadline
	raw    syscall.RawConn
	br     *bufio.Reader
	bw     *bufio.Writer
	member *lb.Upstream
	home   *idleConns // where it waits between requests
	reused bool       // it served a request before this one
	since  time.Time  // when it went idle

	// The liveness check's result, and the function computing it, made once so that a check
	// costs no allocation.
	peekErr error
	peek    func(fd uintptr)
}

func newUpstreamConn(nc net.Conn, u *lb.Upstream, home *idleConns) *upstreamConn {
	uc := &upstreamConn{nc: nc, rd: readDeadline{nc: nc}, br: bufio.NewReaderSize(nc, bufferSize), bw: bufio.NewWriterSize(nc, bufferSize),
		member: u, home: home}
	if sc, ok := nc.(syscall.Conn); ok {
		uc.raw, _ = sc.SyscallConn()
	}
	uc.peek = func(fd uintptr) {
		var b [1]byte
		_, _, uc.peekErr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}
	return uc
}

// alive reports whether an idle connection can carry a request: the member has not closed it
// and has sent nothing unasked. It asks the kernel without waiting, as Go's transport learns it
// from a read it keeps pending on every idle connection.
func (uc *upstreamConn) alive() bool {
	if uc.raw == nil {
		return true
	}
	if err := uc.raw.Control(uc.peek); err != nil {
		return false
	}
	return errors.Is(uc.peekErr, syscall.EAGAIN)
}

func (uc *upstreamConn) close() { uc.nc.Close() }

// release returns the connection to its member's idle stack.
func (uc *upstreamConn) release() { uc.home.put(uc) }

// idleConns are one member's idle connections, oldest first.
type idleConns struct {
	mu     sync.Mutex
	conns  []*upstreamConn
	closed bool
}

// get takes the most recently used connection that is still alive, or returns nil.
func (ic *idleConns) get() *upstreamConn {
	for {
		ic.mu.Lock()
		n := len(ic.conns)
		if n == 0 {
			ic.mu.Unlock()
			return nil
		}
		uc := ic.conns[n-1]
		ic.conns[n-1] = nil
		ic.conns = ic.conns[:n-1]
		ic.mu.Unlock()
		if uc.alive() {
			uc.reused = true
			return uc
		}
		uc.close()
	}
}

func (ic *idleConns) put(uc *upstreamConn) {
	uc.since = time.Now()
	ic.mu.Lock()
	if ic.closed || len(ic.conns) >= maxIdlePerMember {
		ic.mu.Unlock()
		uc.close()
		return
	}
	ic.conns = append(ic.conns, uc)
	ic.mu.Unlock()
}

// prune closes the connections idle since before cutoff.
func (ic *idleConns) prune(cutoff time.Time) {
	ic.mu.Lock()
	n := 0
	for n < len(ic.conns) && ic.conns[n].since.Before(cutoff) {
		n++
	}
	old := make([]*upstreamConn, n)
	copy(old, ic.conns[:n])
	ic.conns = append(ic.conns[:0], ic.conns[n:]...)
	ic.mu.Unlock()
	for _, uc := range old {
		uc.close()
	}
}

// close closes every idle connection and those returned later.
func (ic *idleConns) close() {
	ic.mu.Lock()
	conns := ic.conns
	ic.conns, ic.closed = nil, true
	ic.mu.Unlock()
	for _, uc := range conns {
		uc.close()
	}
}

// maxTries bounds the members one connection or request tries, as HAProxy's retries do: a
// member that fails is left for the next one the policy picks, a few times, not round the whole
// pool.
const maxTries = 3

// tries walks a pool's members for one connection or request: the policy picks, each member at
// most once, at most maxTries members in all.
type tries struct {
	ups    []*lb.Upstream
	policy lb.Policy
	client net.IP
	tried  [maxTries]*lb.Upstream
	n      int
}

func (p *pool) tries(client net.IP) tries {
	return tries{ups: p.members(), policy: p.policy, client: client}
}

// next returns the member to try, or nil when none is left.
func (t *tries) next() *lb.Upstream {
	if t.n >= min(len(t.ups), maxTries) {
		return nil
	}
	ups := t.ups
	if t.n > 0 {
		// Only a retry pays for leaving out the members tried already.
		ups = make([]*lb.Upstream, 0, len(t.ups))
		for _, u := range t.ups {
			if !slices.Contains(t.tried[:t.n], u) {
				ups = append(ups, u)
			}
		}
	}
	u := t.policy.Select(ups, t.client)
	if u == nil && !slices.ContainsFunc(t.ups, (*lb.Upstream).Available) {
		// Panic mode is for a pool with no member up: while one is, a retry does not reach the
		// members marked down.
		u = lb.Fallback(ups)
	}
	if u != nil {
		t.tried[t.n] = u
		t.n++
	}
	return u
}

// forget lets the last member tried be picked again: it failed through no fault of its own (a
// kept-alive connection it had closed).
func (t *tries) forget(u *lb.Upstream) {
	if t.n > 0 && t.tried[t.n-1] == u {
		t.n--
	}
}

// failed records a member's failure for its passive health.
func failed(u *lb.Upstream, err error) { u.Health().Failure(err.Error()) }

// connect offers try the members t picks until one succeeds. A member try fails on (it refused
// the connection) counts as a passive health failure.
func (t *tries) connect(try func(u *lb.Upstream) error) error {
	var last error = errNoMember
	for u := t.next(); u != nil; u = t.next() {
		err := try(u)
		if err == nil {
			return nil
		}
		last = err
		failed(u, err)
	}
	return last
}

// connect returns a connection to the next member t picks: an idle one, or a new one (always new
// when fresh).
func (p *pool) connect(t *tries, fresh bool) (*upstreamConn, error) {
	var uc *upstreamConn
	err := t.connect(func(u *lb.Upstream) error {
		home := p.idle[u]
		if !fresh {
			if uc = home.get(); uc != nil {
				return nil
			}
		}
		nc, err := dialer.Dial("tcp", u.Addr)
		if err != nil {
			return err
		}
		uc = newUpstreamConn(nc, u, home)
		return nil
	})
	return uc, err
}

// reaper closes a pool's member connections idle longer than upstreamIdleTimeout, until the
// pool is retired.
type reaper struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func startReaper(p *pool) *reaper {
	ctx, cancel := context.WithCancel(context.Background())
	r := &reaper{cancel: cancel}
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		t := time.NewTicker(upstreamIdleTimeout / 6)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				for _, ic := range p.idle {
					ic.prune(now.Add(-upstreamIdleTimeout))
				}
			}
		}
	}()
	return r
}

func (r *reaper) stop() {
	r.cancel()
	r.done.Wait()
}
