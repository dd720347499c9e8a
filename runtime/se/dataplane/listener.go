package dataplane

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/avi-init/avi-init/runtime/se/lb"
)

// listener is one address the SE listens on. Its service is swapped atomically when the
// configuration changes; the connections it accepted stay with the service they started with.
type listener struct {
	addr string
	l4   bool
	ln   net.Listener
	log  *slog.Logger
	svc  atomic.Pointer[service]
	wg   sync.WaitGroup // the accept loop and every connection (L4), or the HTTP server (L7)
	once sync.Once
	srv  *http.Server // L7
}

const dialTimeout = 3 * time.Second

func (l *listener) start() {
	if !l.l4 {
		l.srv = &http.Server{Handler: http.HandlerFunc(l.serveHTTP), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(l.log.Handler(), slog.LevelDebug)}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.srv.Serve(l.ln)
		}()
		return
	}
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
			go func() {
				defer l.wg.Done()
				l.serveL4(c, l.svc.Load())
			}()
		}
	}()
}

// stop closes the listener: no new connections; those in flight finish (HTTP: requests in
// flight complete, idle keep-alive connections close).
func (l *listener) stop() {
	l.once.Do(func() {
		if l.srv == nil {
			l.ln.Close()
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			defer cancel()
			if l.srv.Shutdown(ctx) != nil {
				l.srv.Close()
			}
		}()
	})
}

// drainTimeout bounds how long a removed L7 listener waits for requests in flight.
const drainTimeout = 30 * time.Second

// dial connects to a member chosen by the pool's policy, moving on to another when one refuses
// (and counting that as a passive health failure).
func dial(p *pool, client net.IP) (net.Conn, *lb.Upstream, error) {
	if p == nil {
		return nil, nil, errors.New("no pool")
	}
	ups := p.members()
	var last error = errors.New("no member available")
	for range len(ups) {
		u := p.policy.Select(ups, client)
		if u == nil {
			break
		}
		c, err := net.DialTimeout("tcp", u.Addr, dialTimeout)
		if err == nil {
			return c, u, nil
		}
		last = err
		u.Health().Failure(err.Error())
	}
	return nil, nil, last
}

// serveL4 proxies one TCP connection: bytes copied both ways (the kernel splices TCP to TCP),
// each direction's end passed on as a half-close.
func (l *listener) serveL4(c net.Conn, svc *service) {
	defer c.Close()
	s := svc.stats
	s.newConns.Add(1)
	s.open.Add(1)
	defer s.open.Add(-1)
	var client net.IP
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		client = a.IP
	}
	up, u, err := dial(svc.pool, client)
	if err != nil {
		s.failed.Add(1)
		l.log.Debug("no upstream", "vs", svc.vs.Name, "err", err)
		return
	}
	defer up.Close()
	release := u.Acquire()
	defer release()
	done := make(chan int64, 1)
	pipe := func(dst, src net.Conn) int64 {
		n, _ := io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		return n
	}
	go func() { done <- pipe(up, c) }()
	out := pipe(c, up)
	in := <-done
	s.bytesIn.Add(in)
	s.bytesOut.Add(out)
}
