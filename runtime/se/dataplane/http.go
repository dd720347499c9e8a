package dataplane

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The L7 proxy is written for its hot path: one goroutine per client connection reads a request
// head into the connection's buffer, parses it in place, forwards it over a kept-alive member
// connection, and streams the response back; a keep-alive request without a body costs one read
// and one write on each side and no allocation. Bodies stream both ways, their framing
// (Content-Length, chunked) passed through as is; 100-continue is left to the member to answer;
// an upgrade (websocket) turns the two connections into a tunnel.

const (
	// headerTimeout bounds reading a request head once its first byte has arrived.
	headerTimeout = 30 * time.Second
	// clientIdleTimeout closes a client connection waiting this long for its next request.
	clientIdleTimeout = 2 * time.Minute
	// responseHeaderTimeout bounds a member's wait before it answers a request sent whole.
	responseHeaderTimeout = 60 * time.Second
	// bodyAbortGrace is how long a request body still streaming when its response has ended
	// may take to finish before both connections are cut.
	bodyAbortGrace = 100 * time.Millisecond
)

// clientBodyTimeout closes a client whose request body stops coming for this long, and the
// member connection the body goes to (HAProxy's timeout client). A variable for the tests.
var clientBodyTimeout = 60 * time.Second

// Client connection states: stop closes the connections waiting for a request.
const (
	connIdle int32 = iota
	connActive
	connClosing
)

// clientConn is one client connection of an L7 listener and its per-request state, reused from
// one request to the next.
type clientConn struct {
	l      *listener
	nc     net.Conn
	rd     readDeadline
	br     *bufio.Reader
	bw     *bufio.Writer
	ip     net.IP
	ipText []byte
	port   int
	state  atomic.Int32

	req  request
	resp response
	out  []byte // a head being built
	// The request's method and target, kept for its client log after the head's buffer moved on.
	logLine   []byte
	logMethod int

	// The request's outcome.
	status              int
	server              string // the member that had the request, ip:port
	reqBytes, respBytes int64
	keep                bool // the connection may carry another request
	wroteHead           bool // the client got bytes of a response

	// A request body streaming to the member while the response comes back.
	bodyDone chan bodyResult
	headMu   sync.Mutex // orders the deadlines moved by the two goroutines
	gotHead  bool
	// bodyTimed: each read of the client moves its deadline clientBodyTimeout on (under headMu).
	bodyTimed atomic.Bool
	// fault: the status of a request body the client failed (silent, malformed) after its head
	// went out; the member connection was closed.
	fault atomic.Int32

	// The client watched while its request waits for the member (see startWatch); the
	// functions are made once so that a watch costs no allocation.
	raw       syscall.RawConn
	gone      atomic.Bool // the client went away: the request is abandoned
	watched   *upstreamConn
	watching  bool
	watchDone chan struct{}
	watch     func()
	peek      func(fd uintptr) bool
}

type bodyResult struct {
	n   int64
	err error
}

var (
	clientReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufferSize) }}
	clientWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferSize) }}
)

func newClientConn(l *listener, nc net.Conn) *clientConn {
	c := &clientConn{l: l, nc: nc, rd: readDeadline{nc: nc}, br: clientReaders.Get().(*bufio.Reader), bw: clientWriters.Get().(*bufio.Writer),
		bodyDone: make(chan bodyResult, 1), watchDone: make(chan struct{}, 1)}
	c.br.Reset(clientSource{c})
	c.bw.Reset(nc)
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.peek = func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return false
		}
		// Bytes of a next request are no sign of leaving: the watch ends there.
		if err != nil || n == 0 {
			c.gone.Store(true)
		}
		return true
	}
	c.watch = func() {
		c.raw.Read(c.peek)
		if c.gone.Load() {
			c.watched.close()
		}
		c.watchDone <- struct{}{}
	}
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.ip, c.port = a.IP, a.Port
		c.ipText = []byte(a.IP.String())
	}
	return c
}

func (c *clientConn) close() {
	c.nc.Close()
	c.br.Reset(nil)
	c.bw.Reset(nil)
	clientReaders.Put(c.br)
	clientWriters.Put(c.bw)
}

// serveHTTP serves a client connection's requests one after another, until either side ends
// it or the listener drains.
func (l *listener) serveHTTP(c *clientConn) {
	for {
		c.rd.set(time.Now().Add(clientIdleTimeout))
		c.state.Store(connIdle)
		if l.draining.Load() {
			return
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if !c.state.CompareAndSwap(connIdle, connActive) {
			return
		}
		if buf, _ := c.br.Peek(c.br.Buffered()); headEnd(buf) < 0 {
			c.rd.set(time.Now().Add(headerTimeout))
		}
		head, err := readHead(c.br)
		if err != nil {
			if errors.Is(err, errHeadTooLarge) {
				c.refuse(431, err)
			}
			return
		}
		status := 400
		if err = parseRequestHead(head, &c.req.head); err == nil {
			status, err = c.req.inspect()
		} else if errors.Is(err, errHTTPVersion) {
			status = 505
		}
		if err != nil {
			c.refuse(status, err)
			return
		}
		if !c.serve(l.svc.Load()) {
			return
		}
	}
}

// refuse answers a request that cannot be served and ends the connection.
func (c *clientConn) refuse(code int, err error) {
	c.l.log.Debug("refused request", "addr", c.l.addr, "client", c.nc.RemoteAddr(), "status", code, "err", err)
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	fmt.Fprintf(c.bw, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%s", text, text)
	c.bw.Flush()
}

// serve proxies one request and records it; it reports whether the connection carries on.
func (c *clientConn) serve(svc *service) bool {
	start := time.Now()
	r := &c.req
	c.logLine = append(append(c.logLine[:0], r.head.method...), r.target...)
	c.logMethod = len(r.head.method)
	c.status, c.server, c.reqBytes, c.respBytes, c.keep, c.wroteHead = 0, "", 0, 0, !r.close, false
	if svc.pool == nil {
		c.keep = c.keep && r.length == 0 && !r.chunked
		c.respond(503, "no pool\n")
	} else {
		c.forward(svc.pool)
	}
	took := time.Since(start)
	s := svc.stats
	s.requests.Add(1)
	if class := c.status / 100; class >= 1 && class <= 5 {
		s.status[class].Add(1)
	} else {
		s.failed.Add(1)
	}
	s.bytesIn.Add(c.reqBytes)
	s.bytesOut.Add(c.respBytes)
	s.observe(took)
	if s.wantLog(c.status >= 400 || c.status == 0) {
		s.log(clientLog(svc.vs.UUID, c.ipText, c.port, c.logLine[:c.logMethod], c.logLine[c.logMethod:], c.status, c.server, took, c.reqBytes, c.respBytes))
	}
	// The end of the response goes out once the request is counted, so that a client that has
	// its response finds it in the next report.
	if c.bw.Flush() != nil {
		c.keep = false
	}
	return c.keep
}

// respond answers the request itself, when no member does: with a body of text, or none. The
// answer is flushed with the end of the request.
func (c *clientConn) respond(code int, body string) {
	if c.wroteHead {
		c.keep = false
		return
	}
	c.status, c.wroteHead = code, true
	b := append(c.out[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	if body != "" {
		b = append(b, "\r\nContent-Type: text/plain; charset=utf-8"...)
	}
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if !c.keep || c.l.draining.Load() {
		c.keep = false
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.out = b
	c.respBytes = int64(len(body))
	c.bw.Write(b)
}

// forward sends the request to a member and its response back. A member that refuses the
// connection is skipped (connect moves on); a kept-alive connection the member had closed is
// replaced by a new one, and a member that fails a new connection before answering is left for
// another, when the request can be sent again: the rule of the L4 proxy, for requests.
func (c *clientConn) forward(p *pool) {
	r := &c.req
	// A body already in the read buffer goes out with the head, and can be sent again.
	var body []byte
	inHand := !r.chunked && int64(c.br.Buffered()) >= r.length
	if inHand && r.length > 0 {
		body, _ = c.br.Peek(int(r.length))
		c.br.Discard(len(body))
		c.reqBytes = r.length
	}
	if r.chunked {
		if buf, _ := c.br.Peek(c.br.Buffered()); checkChunked(buf) != nil {
			c.keep = false
			c.respond(400, "")
			return
		}
	}
	replayable := inHand && (r.length == 0 || idempotent(r.head.method))
	t := p.tries(c.ip)
	for fresh := false; ; fresh = true {
		uc, err := p.connect(&t, fresh)
		if err != nil {
			c.l.log.Debug("no member for request", "addr", c.l.addr, "err", err)
			c.keep = c.keep && inHand
			c.respond(502, "")
			return
		}
		release := uc.member.Acquire()
		retry := c.roundTrip(uc, body, inHand, replayable)
		release()
		if !retry {
			c.server = uc.member.Addr
			return
		}
		if uc.reused {
			t.forget(uc.member)
		} else {
			uc.member.Unanswered()
		}
	}
}

// idempotent methods may be sent twice (RFC 9110, 9.2.2).
func idempotent(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// roundTrip is one attempt at the request over uc. It reports whether to try again on a new
// connection: only when the member answered nothing and the request can be sent again. A new
// connection failing so is the member's failure; a reused one may just have been closed by the
// member as the request went out.
func (c *clientConn) roundTrip(uc *upstreamConn, body []byte, inHand, replayable bool) (retry bool) {
	c.out = c.appendRequestHead(c.out[:0], uc.member.Addr)
	uc.bw.Write(c.out)
	uc.bw.Write(body)
	if err := uc.bw.Flush(); err != nil {
		uc.close()
		// Nothing of a body beyond the buffer was read yet: the request can always go again.
		if !uc.reused {
			failed(uc.member, fmt.Errorf("request not sent: %w", err))
		}
		return true
	}

	copying := !inHand
	reusable := false
	defer func() {
		if copying && !c.awaitBody(uc) {
			c.keep, reusable = false, false
		}
		if reusable {
			uc.release()
		} else {
			uc.close()
		}
	}()
	var sent, deadline time.Time // when the request was sent whole, and its response head's deadline
	if copying {
		c.gotHead = false
		c.fault.Store(0)
		c.bodyTimed.Store(true)
		c.rd.set(time.Now().Add(clientBodyTimeout))
		go c.copyRequestBody(uc)
	} else {
		sent = time.Now()
		deadline = sent.Add(responseHeaderTimeout)
		uc.rd.set(sent.Add(watchAfter))
	}
	defer c.stopWatch()

	rs := &c.resp
	for answered := false; ; answered = true {
		_, err := uc.br.Peek(1)
		for err != nil && !copying && !c.watching && isTimeout(err) && time.Now().Before(deadline) {
			if time.Since(sent) < watchAfter {
				// The deadline of the connection's last request, kept within its slack, fired
				// early.
				uc.rd.force(sent.Add(watchAfter))
			} else {
				// The member takes its time: from now on, a client that leaves cancels the
				// request.
				c.startWatch(uc)
				uc.rd.set(deadline)
			}
			_, err = uc.br.Peek(1)
		}
		if err == nil && !copying {
			if buf, _ := uc.br.Peek(uc.br.Buffered()); headEnd(buf) < 0 {
				// The rest of the head is to be read: under the head's deadline, not
				// watchAfter's.
				uc.rd.set(deadline)
			}
		}
		if err != nil {
			if code := c.fault.Load(); code != 0 {
				c.keep = false
				c.respond(int(code), "")
				return false
			}
			if c.gone.Load() {
				c.l.log.Debug("client went away before the response", "addr", c.l.addr, "member", uc.member.Addr)
				c.keep = false
				return false
			}
			if !answered && !isTimeout(err) && !uc.reused {
				failed(uc.member, fmt.Errorf("no response: %w", err))
			}
			// A member that read the request on a new connection may have acted on it: only
			// an idempotent method goes again.
			if !answered && !copying && replayable && (uc.reused || idempotent(c.req.head.method)) && !isTimeout(err) {
				uc.close()
				return true
			}
			c.upstreamFailed(uc, err)
			return false
		}
		head, err := readHead(uc.br)
		if err == nil {
			err = parseResponseHead(head, &rs.head)
		}
		if err == nil {
			err = rs.inspect(c.req.isHEAD)
		}
		if err != nil {
			c.upstreamFailed(uc, err)
			return false
		}
		if s := rs.head.status; s >= 200 || s == 101 {
			break
		}
		// 100 Continue and other interim responses go to HTTP/1.1 clients as they come.
		if c.req.head.minor == 1 {
			c.out = c.appendResponseHead(c.out[:0], false)
			c.bw.Write(c.out)
			c.wroteHead = true
			if c.bw.Flush() != nil {
				c.keep = false
				return false
			}
		}
	}
	if copying {
		c.headMu.Lock()
		c.gotHead = true
		c.headMu.Unlock()
	} else {
		c.stopWatch()
	}
	if rs.head.status == 101 {
		if len(c.req.upgrade) == 0 || !bytes.EqualFold(rs.upgrade, c.req.upgrade) {
			c.upstreamFailed(uc, fmt.Errorf("member switched to protocol %q when %q was asked for", rs.upgrade, c.req.upgrade))
			return false
		}
		uc.member.Responded(101)
		c.tunnel(uc)
		return false
	}

	dechunk := rs.chunked && c.req.head.minor == 0
	closeClient := !c.keep || c.l.draining.Load() || rs.length == untilClose || dechunk
	if rs.chunked || rs.length == untilClose || int64(uc.br.Buffered()) < rs.length {
		// A read of the body may wait: the response deadline no longer applies. (A body
		// wholly in the buffer needs no read.)
		uc.rd.set(time.Time{})
	}
	uc.member.Responded(rs.head.status)
	c.status, c.wroteHead = rs.head.status, true
	c.out = c.appendResponseHead(c.out[:0], closeClient)
	c.bw.Write(c.out)
	var err error
	if rs.chunked {
		c.respBytes, err = copyChunked(c.bw, uc.br, !dechunk)
	} else {
		c.respBytes, err = copyBody(c.bw, uc.br, rs.length)
	}
	if err == nil && copying {
		// The client may wait for the response before it ends its body: awaitBody must not
		// hold the response back.
		err = c.bw.Flush()
	}
	if err != nil {
		c.l.log.Debug("response cut short", "addr", c.l.addr, "member", uc.member.Addr, "err", err)
		c.keep = false
		return false
	}
	c.keep = c.keep && !closeClient
	// A member connection the watch closed (the client left as the response came) goes.
	reusable = rs.keepAlive && !c.gone.Load()
	return false
}

// upstreamFailed answers a request its member failed: 502 Bad Gateway, unless the client had
// bytes of the response already, or went away, which leaves only closing the connection. Unless
// the client went away, the failure is counted as the member's.
func (c *clientConn) upstreamFailed(uc *upstreamConn, err error) {
	c.l.log.Debug("member failed a request", "addr", c.l.addr, "member", uc.member.Addr, "err", err)
	if c.gone.Load() {
		c.keep = false
		return
	}
	uc.member.Unanswered()
	c.respond(502, "")
}

// watchAfter is how long a request waits for its member before startWatch watches its client:
// most answers come sooner, and cost no watch.
const watchAfter = 100 * time.Millisecond

// aLongTimeAgo is a deadline in the past, which wakes whatever waits on the connection.
var aLongTimeAgo = time.Unix(1, 0)

// startWatch watches the client while its request, sent whole, waits for a slow member: a client
// that closes or resets its connection abandons the request, and the member connection is closed
// so that the member sees it too (and the connection goes back to no pool). Like net/http's
// background read, it only peeks: bytes the client sends meanwhile stay for the next request.
func (c *clientConn) startWatch(uc *upstreamConn) {
	if c.raw == nil {
		return
	}
	c.watched, c.watching = uc, true
	// The client owes nothing while it waits (and an earlier watch of this request left a
	// deadline in the past).
	c.rd.set(time.Time{})
	go c.watch()
}

// stopWatch ends the watch and waits for it, before anything reads the client again.
func (c *clientConn) stopWatch() {
	if !c.watching {
		return
	}
	c.watching = false
	c.rd.set(aLongTimeAgo)
	<-c.watchDone
	c.watched = nil
}

// copyRequestBody streams a request body that was not in the buffer to the member, while the
// proxy waits for the response. The member's response deadline starts when the body is sent.
func (c *clientConn) copyRequestBody(uc *upstreamConn) {
	var res bodyResult
	if c.req.chunked {
		res.n, res.err = copyChunked(uc.bw, c.br, true)
	} else {
		res.n, res.err = copyBody(uc.bw, c.br, c.req.length)
	}
	if res.err == nil {
		res.err = uc.bw.Flush()
	}
	c.headMu.Lock()
	timedOut := c.bodyTimed.Load() && isTimeout(res.err)
	c.bodyTimed.Store(false)
	c.headMu.Unlock()
	if timedOut || errors.Is(res.err, errMalformed) {
		// The client fell silent, or sent what no member may get: both connections end, and
		// the member learns it now.
		code := int32(400)
		if timedOut {
			code = 408
		}
		c.fault.Store(code)
		uc.close()
	} else if res.err != nil {
		// The member must not wait for the rest: end what it reads, and keep what it may still
		// answer readable.
		closeWrite(uc.nc)
	} else {
		c.headMu.Lock()
		if !c.gotHead {
			uc.rd.set(time.Now().Add(responseHeaderTimeout))
		}
		c.headMu.Unlock()
	}
	c.bodyDone <- res
}

// awaitBody waits for copyRequestBody and reports whether the whole body went through. A body
// still streaming once the response has ended (the member answered without reading it all)
// gets bodyAbortGrace to finish.
func (c *clientConn) awaitBody(uc *upstreamConn) bool {
	var res bodyResult
	select {
	case res = <-c.bodyDone:
	default:
		deadline := time.Now().Add(bodyAbortGrace)
		c.headMu.Lock()
		c.bodyTimed.Store(false)
		c.rd.set(deadline)
		c.headMu.Unlock()
		uc.nc.SetWriteDeadline(deadline)
		res = <-c.bodyDone
		uc.nc.SetWriteDeadline(time.Time{})
	}
	c.reqBytes = res.n
	if res.err != nil {
		c.l.log.Debug("request body cut short", "addr", c.l.addr, "member", uc.member.Addr, "err", res.err)
	}
	return res.err == nil
}

// tunnel relays an upgraded connection (websocket) both ways until both sides have ended.
func (c *clientConn) tunnel(uc *upstreamConn) {
	c.status, c.wroteHead, c.keep = 101, true, false
	c.rd.set(time.Time{})
	uc.rd.set(time.Time{})
	c.out = c.appendResponseHead(c.out[:0], false)
	c.bw.Write(c.out)
	if c.bw.Flush() != nil {
		return
	}
	in := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(uc.nc, c.br)
		closeWrite(uc.nc)
		in <- n
	}()
	c.respBytes, _ = io.Copy(c.nc, uc.br)
	closeWrite(c.nc)
	c.reqBytes = <-in
}

// clientSource is what a client connection's read buffer reads: while a request body streams,
// each read first moves the deadline on, so that only a client silent for clientBodyTimeout is
// cut, however slowly it sends.
type clientSource struct{ c *clientConn }

func (s clientSource) Read(p []byte) (int, error) {
	c := s.c
	if c.bodyTimed.Load() {
		c.headMu.Lock()
		if c.bodyTimed.Load() {
			c.rd.set(time.Now().Add(clientBodyTimeout))
		}
		c.headMu.Unlock()
	}
	return c.nc.Read(p)
}

// closeWrite passes the end of one direction on, as a half-close where the connection has one.
func closeWrite(nc net.Conn) {
	if tc, ok := nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		return
	}
	nc.Close()
}

// readDeadline is a connection's read deadline, moved only when that matters: resetting the
// runtime's timer on every request costs more than a second of precision is worth.
type readDeadline struct {
	nc net.Conn
	at time.Time
}

// deadlineSlack is how much earlier than asked a deadline may fire.
const deadlineSlack = time.Second

// set moves the deadline to t (zero: none), unless t is less than deadlineSlack after it.
func (d *readDeadline) set(t time.Time) {
	if !t.IsZero() && !d.at.IsZero() && !t.Before(d.at) && t.Sub(d.at) < deadlineSlack {
		return
	}
	d.at = t
	d.nc.SetReadDeadline(t)
}

// force moves the deadline to t, slack or not.
func (d *readDeadline) force(t time.Time) {
	d.at = t
	d.nc.SetReadDeadline(t)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// request is a client's request as the proxy acts on it.
type request struct {
	head       requestHead
	target     []byte // in origin form
	host       []byte
	hasHost    bool
	length     int64 // of the body, when not chunked
	chunked    bool
	isHEAD     bool
	close      bool   // the client ends the connection after this request
	upgrade    []byte // the protocol asked for, when upgrading; a copy, as it outlives the head
	teTrailers bool
	connTokens [][]byte
}

// inspect reads what the proxy acts on off the parsed head. An error comes with the status to
// answer it with.
func (r *request) inspect() (int, error) {
	h := &r.head
	r.target, r.host, r.hasHost, r.length, r.chunked, r.teTrailers = h.target, nil, false, 0, false, false
	r.isHEAD = string(h.method) == "HEAD"
	r.upgrade = r.upgrade[:0]
	r.connTokens = r.connTokens[:0]
	hosts, hasLength := 0, false
	for _, f := range h.headers {
		switch f.kind {
		case hHost:
			hosts++
			r.host, r.hasHost = f.value, true
		case hContentLength:
			n, ok := parseContentLength(f.value)
			if !ok || hasLength && n != r.length {
				return 400, fmt.Errorf("%w: Content-Length %q", errMalformed, f.value)
			}
			r.length, hasLength = n, true
		case hTransferEncoding:
			if r.chunked || !equalFold(f.value, "chunked") {
				return 501, fmt.Errorf("%w: %q", errUnsupportedTE, f.value)
			}
			r.chunked = true
		case hConnection:
			r.connTokens = appendTokens(r.connTokens, f.value)
		case hUpgrade:
			r.upgrade = append(r.upgrade[:0], f.value...)
		case hTE:
			r.teTrailers = r.teTrailers || hasToken(f.value, "trailers")
		}
	}
	switch {
	case hosts > 1:
		return 400, fmt.Errorf("%w: %d Host headers", errMalformed, hosts)
	case h.minor == 1 && hosts == 0:
		return 400, fmt.Errorf("%w: no Host header", errMalformed)
	case r.chunked && hasLength:
		return 400, fmt.Errorf("%w: both Content-Length and Transfer-Encoding", errMalformed)
	}
	if len(r.target) > 0 && r.target[0] != '/' && r.target[0] != '*' {
		// Absolute form: its authority is the host (RFC 9112, 3.2.2).
		u, err := url.ParseRequestURI(string(r.target))
		if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			return 400, fmt.Errorf("%w: request target %.64q", errMalformed, r.target)
		}
		r.host, r.hasHost = []byte(u.Host), true
		r.target = []byte(u.RequestURI())
	}
	keepAlive, closeConn, upgrade := false, false, false
	for _, t := range r.connTokens {
		keepAlive = keepAlive || equalFold(t, "keep-alive")
		closeConn = closeConn || equalFold(t, "close")
		upgrade = upgrade || equalFold(t, "upgrade")
	}
	// HTTP/1.0 with Transfer-Encoding: served, then closed (RFC 9112, 6.1).
	r.close = closeConn || h.minor == 0 && (!keepAlive || r.chunked)
	if !upgrade || h.minor == 0 || r.chunked || r.length > 0 {
		// An upgrade is for a request without a body: the tunnel takes the bytes after its head.
		r.upgrade = r.upgrade[:0]
	}
	return 0, nil
}

// appendRequestHead writes the request as it goes to a member: HTTP/1.1, hop-by-hop fields
// dropped (and those the client's Connection names), X-Forwarded-For appended to, the other
// forwarding fields set anew.
func (c *clientConn) appendRequestHead(b []byte, memberAddr string) []byte {
	r := &c.req
	b = append(b, r.head.method...)
	b = append(b, ' ')
	b = append(b, r.target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	if r.hasHost {
		b = append(b, r.host...)
	} else {
		b = append(b, memberAddr...)
	}
	b = append(b, "\r\n"...)
	sentLength := false
	for _, f := range r.head.headers {
		switch f.kind {
		case hOther:
			if hasTokenIn(r.connTokens, f.name) {
				continue
			}
		case hContentLength:
			if sentLength {
				continue
			}
			sentLength = true
		case hTransferEncoding:
		default:
			continue
		}
		b = appendHeader(b, f.name, f.value)
	}
	if r.teTrailers {
		b = append(b, "TE: trailers\r\n"...)
	}
	if len(r.upgrade) > 0 {
		b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
		b = append(b, r.upgrade...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Forwarded-For: "...)
	for _, f := range r.head.headers {
		if f.kind == hXForwardedFor && len(f.value) > 0 {
			b = append(b, f.value...)
			b = append(b, ", "...)
		}
	}
	b = append(b, c.ipText...)
	if r.hasHost {
		b = append(b, "\r\nX-Forwarded-Host: "...)
		b = append(b, r.host...)
	}
	return append(b, "\r\nX-Forwarded-Proto: http\r\n\r\n"...)
}

// response is a member's response as the proxy acts on it.
type response struct {
	head       responseHead
	length     int64 // of the body, when not chunked; untilClose when the member's close ends it
	chunked    bool
	keepAlive  bool // the member keeps the connection open after it
	upgrade    []byte
	connTokens [][]byte
}

// inspect reads the response's framing and connection fields (RFC 9112, 6.3).
func (rs *response) inspect(toHEAD bool) error {
	h := &rs.head
	rs.length, rs.chunked, rs.upgrade = 0, false, nil
	rs.connTokens = rs.connTokens[:0]
	hasLength := false
	for _, f := range h.headers {
		switch f.kind {
		case hContentLength:
			n, ok := parseContentLength(f.value)
			if !ok || hasLength && n != rs.length {
				return fmt.Errorf("%w: Content-Length %q", errMalformed, f.value)
			}
			rs.length, hasLength = n, true
		case hTransferEncoding:
			if rs.chunked || !equalFold(f.value, "chunked") {
				return fmt.Errorf("%w: %q", errUnsupportedTE, f.value)
			}
			rs.chunked = true
		case hConnection:
			rs.connTokens = appendTokens(rs.connTokens, f.value)
		case hUpgrade:
			rs.upgrade = f.value
		}
	}
	keepAlive, closeConn := false, false
	for _, t := range rs.connTokens {
		keepAlive = keepAlive || equalFold(t, "keep-alive")
		closeConn = closeConn || equalFold(t, "close")
	}
	rs.keepAlive = !closeConn && (h.minor == 1 || keepAlive)
	switch s := h.status; {
	case toHEAD || s < 200 || s == 204 || s == 304:
		rs.length, rs.chunked = 0, false
	case rs.chunked:
	case !hasLength:
		rs.length, rs.keepAlive = untilClose, false
	}
	return nil
}

// appendResponseHead writes the response as it goes to the client: hop-by-hop fields dropped,
// and the client connection's fate stated.
func (c *clientConn) appendResponseHead(b []byte, closeClient bool) []byte {
	rs := &c.resp
	h := &rs.head
	dechunk := rs.chunked && c.req.head.minor == 0
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(h.status), 10)
	b = append(b, ' ')
	b = append(b, h.reason...)
	b = append(b, "\r\n"...)
	for _, f := range h.headers {
		switch f.kind {
		case hConnection, hKeepAlive, hProxyConnection, hTE, hProxyAuthenticate:
			continue
		case hUpgrade:
			if h.status != 101 {
				continue
			}
		case hTransferEncoding, hTrailer:
			if dechunk {
				continue
			}
		case hContentLength:
			if rs.chunked {
				continue
			}
		case hOther:
			if hasTokenIn(rs.connTokens, f.name) {
				continue
			}
		}
		b = appendHeader(b, f.name, f.value)
	}
	switch {
	case h.status == 101:
		b = append(b, "Connection: Upgrade\r\n"...)
	case closeClient:
		b = append(b, "Connection: close\r\n"...)
	case c.req.head.minor == 0 && h.status >= 200:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return append(b, "\r\n"...)
}

func appendHeader(b, name, value []byte) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// appendTokens appends the comma-separated tokens of a header value.
func appendTokens(dst [][]byte, v []byte) [][]byte {
	for len(v) > 0 {
		var t []byte
		t, v = cutComma(v)
		if len(t) > 0 {
			dst = append(dst, t)
		}
	}
	return dst
}

func cutComma(v []byte) (token, rest []byte) {
	for i, c := range v {
		if c == ',' {
			return trimOWS(v[:i]), v[i+1:]
		}
	}
	return trimOWS(v), nil
}

// hasToken reports whether a comma-separated header value holds token (in lower case).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v = cutComma(v)
		if equalFold(t, token) {
			return true
		}
	}
	return false
}

func hasTokenIn(tokens [][]byte, name []byte) bool {
	for _, t := range tokens {
		if bytes.EqualFold(t, name) {
			return true
		}
	}
	return false
}
