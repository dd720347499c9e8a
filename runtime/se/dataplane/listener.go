package dataplane

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// listener is one address the SE listens on. Its service is swapped atomically when the
// configuration changes; the connections it accepted stay with the service they started with
// (L4), or take the new one from their next request on (L7).
type listener struct {
	addr string
	l4   bool
	ln   net.Listener
	log  *slog.Logger
	svc  atomic.Pointer[service]
	wg   sync.WaitGroup // the accept loop, every connection, and the drain
	once sync.Once

	// L7 connections, so that stop can close the idle ones at once and the rest after
	// drainTimeout.
	draining atomic.Bool
	mu       sync.Mutex
	conns    map[*clientConn]struct{}
	drained  chan struct{} // closed when draining and the last connection has ended
}

// drainTimeout bounds how long a removed L7 listener waits for requests in flight.
const drainTimeout = 30 * time.Second

func (l *listener) start() {
	l.conns = map[*clientConn]struct{}{}
	l.drained = make(chan struct{})
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := l.ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				l.log.Warn("accept", "addr", l.addr, "err", err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			l.wg.Add(1)
			if l.l4 {
				go func() {
					defer l.wg.Done()
					l.serveL4(c, l.svc.Load())
				}()
				continue
			}
			cc := newClientConn(l, c)
			if !l.track(cc) {
				cc.close()
				l.wg.Done()
				continue
			}
			go func() {
				defer l.wg.Done()
				defer l.untrack(cc)
				defer cc.close()
				l.serveHTTP(cc)
			}()
		}
	}()
}

// track adds an L7 connection, unless the listener drains.
func (l *listener) track(c *clientConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.draining.Load() {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *listener) untrack(c *clientConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
	if l.draining.Load() && len(l.conns) == 0 {
		close(l.drained)
	}
}

// stop closes the listener: no new connections; those in flight finish. L7: idle keep-alive
// connections close now, requests in flight complete, and whatever is left after drainTimeout
// (a tunnel, a slow response) is cut.
func (l *listener) stop() {
	l.once.Do(func() {
		l.ln.Close()
		if l.l4 {
			return
		}
		l.mu.Lock()
		l.draining.Store(true)
		for c := range l.conns {
			if c.state.CompareAndSwap(connIdle, connClosing) {
				c.nc.Close()
			}
		}
		if len(l.conns) == 0 {
			close(l.drained)
		}
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			t := time.NewTimer(drainTimeout)
			defer t.Stop()
			select {
			case <-l.drained:
			case <-t.C:
				l.mu.Lock()
				for c := range l.conns {
					c.nc.Close()
				}
				l.mu.Unlock()
			}
		}()
	})
}
