package dataplane

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/avi-init/avi-init/runtime/se/lb"
)

// The L4 proxy copies bytes both ways between a client and a member. Until the member's first
// byte comes back, what the client sent is kept (up to maxReplay): a member that ends the
// connection unanswered (a reset, or a close while the client waits) is recorded as failed and
// the connection moves to another member, the client's bytes sent again, as HAProxy's retries
// and redispatch do. So a member that stops costs no client connection, even before the
// controller takes it out of the pool. Once a member has answered nothing is kept, and a failure
// is passed on to the client: its bytes may have had effects.

// maxReplay bounds what a client may send before the member answers for its connection to still
// move to another member.
const maxReplay = bufferSize

var (
	l4Buffers = sync.Pool{New: func() any {
		b := make([]byte, bufferSize)
		return &b
	}}
	replayBuffers = sync.Pool{New: func() any {
		b := make([]byte, 0, maxReplay)
		return &b
	}}
)

// serveL4 proxies one TCP connection: bytes copied both ways, each direction's end passed on as
// a half-close.
func (l *listener) serveL4(c net.Conn, svc *service) {
	defer c.Close()
	s := svc.stats
	s.newConns.Add(1)
	s.open.Add(1)
	defer s.open.Add(-1)
	if svc.pool == nil {
		s.failed.Add(1)
		l.log.Debug("no upstream", "vs", svc.vs.Name, "err", "no pool")
		return
	}
	var client net.IP
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		client = a.IP
	}
	t := svc.pool.tries(client)
	up, u, err := dialL4(&t)
	if err != nil {
		s.failed.Add(1)
		l.log.Debug("no upstream", "vs", svc.vs.Name, "err", err)
		return
	}
	fb := &firstByte{up: up}
	done := make(chan int64, 1)
	go func() { done <- fb.clientToMember(c) }()
	up, release, out := fb.memberToClient(c, up, u, &t)
	in := <-done
	release()
	up.Close()
	fb.dropSent() // no member answered: the kept bytes go back to their pool
	s.bytesIn.Add(in)
	s.bytesOut.Add(out)
}

// dialL4 connects to the next member t picks that accepts.
func dialL4(t *tries) (net.Conn, *lb.Upstream, error) {
	var c net.Conn
	var up *lb.Upstream
	err := t.connect(func(u *lb.Upstream) error {
		var err error
		c, err = dialer.Dial("tcp", u.Addr)
		up = u
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return c, up, nil
}

// firstByte is an L4 connection until its member answers, shared by the goroutine copying the
// client's bytes and the one waiting for the member's.
type firstByte struct {
	answered atomic.Bool

	mu    sync.Mutex
	up    net.Conn // where the client's bytes go
	sent  *[]byte  // what the client sent, while no member answered and it fits in maxReplay
	over  bool     // the client sent more than maxReplay
	ended bool     // the client ended its side
}

// clientToMember copies the client's bytes to the member until the client ends its side. Until
// the member answers, each read is kept for a retry; then the copy is pipeL4's.
func (fb *firstByte) clientToMember(c net.Conn) int64 {
	buf := l4Buffers.Get().(*[]byte)
	var n int64
	for !fb.answered.Load() {
		r, err := c.Read(*buf)
		n += int64(r)
		up := fb.record((*buf)[:r], err != nil)
		if r > 0 {
			// A failed write is the member failing: the other direction sees it and moves
			// the connection on, these bytes included.
			up.Write((*buf)[:r])
		}
		if err != nil {
			l4Buffers.Put(buf)
			closeWrite(up)
			return n
		}
	}
	l4Buffers.Put(buf)
	return n + pipeL4(fb.member(), c)
}

// record keeps what the client sent while no member answered, and returns the member connection
// to send it to.
func (fb *firstByte) record(b []byte, ended bool) net.Conn {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.ended = fb.ended || ended
	if len(b) == 0 || fb.over || fb.answered.Load() {
		return fb.up
	}
	if fb.sent == nil {
		fb.sent = replayBuffers.Get().(*[]byte)
	}
	if len(*fb.sent)+len(b) > maxReplay {
		fb.over = true
		fb.dropSent()
	} else {
		*fb.sent = append(*fb.sent, b...)
	}
	return fb.up
}

func (fb *firstByte) dropSent() {
	if fb.sent != nil {
		*fb.sent = (*fb.sent)[:0]
		replayBuffers.Put(fb.sent)
		fb.sent = nil
	}
}

func (fb *firstByte) member() net.Conn {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.up
}

// memberToClient waits for the first byte from up, moving the connection to another member
// while the member fails first, then copies the member's bytes to the client until the member
// ends its side. It returns the last member's connection, the end of its count of connections,
// and the bytes copied.
func (fb *firstByte) memberToClient(c, up net.Conn, u *lb.Upstream, t *tries) (net.Conn, func(), int64) {
	buf := l4Buffers.Get().(*[]byte)
	release := u.Acquire()
	for {
		r, err := up.Read(*buf)
		if r > 0 {
			u.Answered()
			fb.mu.Lock()
			fb.answered.Store(true)
			fb.dropSent()
			fb.mu.Unlock()
			_, werr := c.Write((*buf)[:r])
			l4Buffers.Put(buf)
			if werr != nil {
				closeWrite(c)
				return up, release, 0
			}
			return up, release, int64(r) + pipeL4(c, up)
		}
		next, nu := fb.redispatch(t, u, err)
		if next == nil {
			l4Buffers.Put(buf)
			closeWrite(c)
			return up, release, 0
		}
		up.Close()
		release()
		up, u, release = next, nu, nu.Acquire()
	}
}

// redispatch moves the connection on from member u, which ended it with err before answering,
// when that is safe: every byte the client sent is in hand, and u's end is not an answer (a
// close after the client ended its side may be one). u's outcome is counted; a failure moved
// on is recorded, and the next member that accepts gets the client's bytes. It returns that
// member's connection, or nil.
func (fb *firstByte) redispatch(t *tries, u *lb.Upstream, err error) (net.Conn, *lb.Upstream) {
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	fb.mu.Lock()
	answer := errors.Is(err, io.EOF) && fb.ended // the member may have had nothing to say
	retry := !fb.over && !answer
	fb.mu.Unlock()
	if answer {
		u.Answered()
	} else {
		u.Unanswered()
	}
	if !retry {
		return nil, nil
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("closed the connection")
	}
	failed(u, fmt.Errorf("%w before answering", err))
	next, nu, err := dialL4(t)
	if err != nil {
		return nil, nil
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.over {
		next.Close()
		return nil, nil
	}
	// At most maxReplay bytes to a new connection: the write does not wait for the member.
	if fb.sent != nil {
		next.Write(*fb.sent)
	}
	if fb.ended {
		closeWrite(next)
	}
	fb.up = next
	return next, nu
}

// pipeL4 copies src to dst until src ends, then passes the end on as a half-close. Messages
// smaller than a buffer (a protocol's requests and responses) go through one: a read and a
// write cost less than splicing through a pipe, which copies small payloads anyway. A read that
// fills the buffer marks a bulk transfer, which the kernel splices from then on.
func pipeL4(dst, src net.Conn) int64 {
	defer closeWrite(dst)
	buf := l4Buffers.Get().(*[]byte)
	var n int64
	for {
		r, err := src.Read(*buf)
		if r > 0 {
			w, werr := dst.Write((*buf)[:r])
			n += int64(w)
			if werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
		if r == len(*buf) {
			l4Buffers.Put(buf)
			m, _ := io.Copy(dst, src)
			return n + m
		}
	}
	l4Buffers.Put(buf)
	return n
}
