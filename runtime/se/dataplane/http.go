package dataplane

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"

	"github.com/avi-init/avi-init/runtime/se/lb"
)

// The L7 proxy is net/http/httputil.ReverseProxy: it handles hop-by-hop headers, chunked and
// streamed bodies, 100-continue and protocol upgrades (websocket). Balancing happens in the
// pool's transport, per request, so that a member refusing connections is skipped without the
// client seeing an error.

type clientIPKey struct{}

// newHTTPProxy is a pool's reverse proxy.
func newHTTPProxy(p *pool) *httputil.ReverseProxy {
	base := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", p.uuid // the transport picks the member
			pr.Out.Host = pr.In.Host
		},
		Transport: &poolTransport{pool: p, base: base},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
}

// poolTransport sends each request to a member the pool's policy picks.
type poolTransport struct {
	pool *pool
	base http.RoundTripper
}

// RoundTrip picks a member, moving on when one refuses the connection. The request was not sent
// then, so trying another is safe for any method; its body is shielded from the transport's
// Close so that it can still be sent, as long as nothing of it was read.
func (t *poolTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	client, _ := req.Context().Value(clientIPKey{}).(net.IP)
	var body *unclosedBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &unclosedBody{r: req.Body}
		req.Body = body
	}
	ups := t.pool.members()
	var last error = errors.New("no member available")
	for range len(ups) {
		u := t.pool.policy.Select(ups, client)
		if u == nil {
			break
		}
		// req is ReverseProxy's own outgoing copy: pointing it at the member is ours to do.
		req.URL.Host = u.Addr
		release := u.Acquire()
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			release()
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "dial" {
				return nil, err
			}
			u.Health().Failure(err.Error())
			last = err
			if body != nil && body.read.Load() {
				return nil, err
			}
			continue
		}
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
		return resp, nil
	}
	return nil, last
}

// unclosedBody passes a request body to one attempt after another: Close is left to the
// server, which closes the body when the handler returns.
type unclosedBody struct {
	r    io.ReadCloser
	read atomic.Bool
}

func (b *unclosedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func (b *unclosedBody) Close() error { return nil }

// releasingBody ends a member's in-flight count when the response has been read.
type releasingBody struct {
	io.ReadCloser
	release func()
	closed  atomic.Bool
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	if b.closed.CompareAndSwap(false, true) {
		b.release()
	}
	return err
}

// Write lets an upgraded (websocket) connection's body be written to, as ReverseProxy needs.
func (b *releasingBody) Write(p []byte) (int, error) {
	if w, ok := b.ReadCloser.(io.Writer); ok {
		return w.Write(p)
	}
	return 0, errors.New("body is not writable")
}

// serveHTTP is the L7 listener's handler: it proxies the request and records it.
func (l *listener) serveHTTP(w http.ResponseWriter, r *http.Request) {
	svc := l.svc.Load()
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	if svc.pool == nil {
		http.Error(rec, "no pool", http.StatusServiceUnavailable)
	} else {
		// Only consistent hashing looks at the client; the others need no context.
		if _, hashing := svc.pool.policy.(lb.ConsistentHash); hashing {
			if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
				r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, net.ParseIP(host)))
			}
		}
		svc.pool.proxy.ServeHTTP(rec, r)
	}
	took := time.Since(start)
	s := svc.stats
	s.requests.Add(1)
	if c := rec.status / 100; c >= 1 && c <= 5 {
		s.status[c].Add(1)
	} else {
		s.failed.Add(1)
	}
	reqBytes := max(r.ContentLength, 0)
	s.bytesIn.Add(reqBytes)
	s.bytesOut.Add(rec.bytes)
	s.observe(took)
	if s.wantLog(rec.status >= 400 || rec.status == 0) {
		s.log(clientLog(svc.vs.UUID, r, rec.status, took, reqBytes, rec.bytes))
	}
}
