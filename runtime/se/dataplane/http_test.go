package dataplane

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/testnet"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

// l7 starts a data plane with one L7 virtual service in front of the given members and returns
// its address.
func l7(t *testing.T, servers ...sechannel.Server) string {
	t.Helper()
	return proxy(t, avi.ProfileHTTP, servers...)
}

// proxy starts a data plane with one virtual service of the given profile in front of the given
// members and returns its address.
func proxy(t testing.TB, profile string, servers ...sechannel.Server) string {
	t.Helper()
	d := newDP(t)
	port := testnet.FreePort(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{vs("web", port, profile, "p", servers...)}}); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// rawClient is a client connection that writes requests by hand.
type rawClient struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{Conn: c, br: bufio.NewReader(c)}
}

// roundTrip sends raw bytes and reads one response, body included.
func (c *rawClient) roundTrip(t *testing.T, req string, method string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("response to %q: %v", req, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body of the response to %q: %v", req, err)
	}
	return resp, string(body)
}

// closed reports whether the proxy ended the connection.
func (c *rawClient) closed() bool {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.br.ReadByte()
	return err == io.EOF
}

// headersBackend answers with the request's headers, one "Name: value" per line.
func headersBackend(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Internal")
		w.Header().Set("X-Internal", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Proxy-Authenticate", "Basic")
		fmt.Fprintf(w, "Host: %s\n", r.Host)
		for k, v := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(v, " | "))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestL7HopByHopAndForwardingHeaders(t *testing.T) {
	addr := l7(t, serverOn(headersBackend(t).Listener))
	c := dialRaw(t, addr)
	resp, body := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n"+
		"Keep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Authorization: Basic x\r\n"+
		"X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-For: 10.4.5.6\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\nForwarded: for=1.2.3.4\r\nX-Kept: yes\r\n\r\n", "GET")
	if resp.StatusCode != 200 {
		t.Fatalf("status %s", resp.Status)
	}
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		seen[k] = v
	}
	for _, hop := range []string{"Connection", "X-Secret", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Proxy-Authorization", "Forwarded"} {
		if v, ok := seen[hop]; ok {
			t.Errorf("the member got %s: %s", hop, v)
		}
	}
	want := map[string]string{"Host": "shop.example", "X-Kept": "yes", "X-Forwarded-For": "10.1.2.3, 10.4.5.6, 127.0.0.1",
		"X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "http"}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("the member got %s: %q, want %q", k, seen[k], v)
		}
	}
	for _, hop := range []string{"X-Internal", "Keep-Alive", "Proxy-Authenticate"} {
		if v := resp.Header.Get(hop); v != "" {
			t.Errorf("the client got %s: %s", hop, v)
		}
	}
	if resp.Header.Get("Connection") != "" || resp.Close {
		t.Errorf("a kept-alive response says Connection: %q", resp.Header.Get("Connection"))
	}
}

func TestL7ConnectionCloseAndHTTP10(t *testing.T) {
	b := newBackend(t, "a")
	chunky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(chunky.Close)
	addr := l7(t, b.server())
	chunkyAddr := l7(t, serverOn(chunky.Listener))

	c := dialRaw(t, addr)
	resp, _ := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "GET")
	if !resp.Close || !c.closed() {
		t.Errorf("Connection: close: response Close %v, connection closed %v", resp.Close, c.closed())
	}

	c = dialRaw(t, addr)
	resp, body := c.roundTrip(t, "GET / HTTP/1.0\r\n\r\n", "GET")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "a ") || !c.closed() {
		t.Errorf("HTTP/1.0: %s %q, connection closed %v", resp.Status, body, c.closed())
	}

	c = dialRaw(t, addr)
	for i := range 3 {
		resp, body = c.roundTrip(t, "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", "GET")
		if resp.StatusCode != 200 || resp.Close || resp.Header.Get("Connection") != "keep-alive" || !strings.HasPrefix(body, "a ") {
			t.Fatalf("HTTP/1.0 keep-alive request %d: %s Connection %q %q", i, resp.Status, resp.Header.Get("Connection"), body)
		}
	}

	// A chunked response reaches an HTTP/1.0 client as plain bytes up to the close.
	c = dialRaw(t, chunkyAddr)
	io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
	raw, err := io.ReadAll(c.br)
	if err != nil || !bytes.HasSuffix(raw, []byte("\r\n\r\npart 0;part 1;part 2;")) || bytes.Contains(bytes.ToLower(raw), []byte("transfer-encoding")) {
		t.Errorf("chunked response to HTTP/1.0: %q %v", raw, err)
	}
}

func TestL7ChunkedBodiesBothWays(t *testing.T) {
	var sawChunked atomic.Bool
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawChunked.Store(len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked")
		w.Header().Set("Trailer", "X-Count")
		// net/http does not read a body after the response has started: read it first.
		body, _ := io.ReadAll(r.Body)
		for p := body; len(p) > 0; p = p[min(len(p), 50000):] {
			w.Write(p[:min(len(p), 50000)])
			w.(http.Flusher).Flush() // no Content-Length: the response is chunked
		}
		w.Header().Set("X-Count", strconv.Itoa(len(body)))
	}))
	t.Cleanup(echo.Close)
	addr := l7(t, serverOn(echo.Listener))

	c := dialRaw(t, addr)
	resp, body := c.roundTrip(t, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", "POST")
	if resp.StatusCode != 200 || body != "hello world" || !sawChunked.Load() || resp.Trailer.Get("X-Count") != "11" {
		t.Errorf("chunked echo: %s %q chunked at the member %v trailer %v", resp.Status, body, sawChunked.Load(), resp.Trailer)
	}
	// The connection carries on after chunked bodies both ways.
	resp, body = c.roundTrip(t, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "POST")
	if resp.StatusCode != 200 || body != "abc" {
		t.Errorf("the next request: %s %q", resp.Status, body)
	}

	// A large chunked upload of unknown length, streamed.
	payload := make([]byte, 8<<20)
	rand.Read(payload)
	pr, pw := io.Pipe()
	go func() {
		for p := payload; len(p) > 0; p = p[min(len(p), 100000):] {
			pw.Write(p[:min(len(p), 100000)])
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+addr+"/echo", pr)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || !bytes.Equal(got, payload) || res.Trailer.Get("X-Count") != strconv.Itoa(len(payload)) {
		t.Errorf("8 MB chunked echo: %d bytes, equal %v, %v, trailer %v", len(got), bytes.Equal(got, payload), err, res.Trailer)
	}
}

func TestL7ExpectContinue(t *testing.T) {
	b := newBackend(t, "a")
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	t.Cleanup(refuse.Close)
	addr := l7(t, b.server())

	// The member answers 100 Continue when it reads the body; the client sends it only then.
	c := dialRaw(t, addr)
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	interim, err := http.ReadResponse(c.br, nil)
	if err != nil || interim.StatusCode != http.StatusContinue {
		t.Fatalf("before sending the body: %v %v", interim, err)
	}
	resp, body := c.roundTrip(t, "hello", "POST")
	if resp.StatusCode != 200 || body != "hello" {
		t.Errorf("after 100 Continue: %s %q", resp.Status, body)
	}

	// A member refusing the body: the client gets the refusal without sending it.
	c = dialRaw(t, l7(t, serverOn(refuse.Listener)))
	resp, _ = c.roundTrip(t, "PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n", "PUT")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("refused body: %s", resp.Status)
	}
}

// countingBackend counts the connections it accepts.
func countingBackend(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func TestL7ReusesMemberConnections(t *testing.T) {
	s, conns := countingBackend(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
	addr := l7(t, serverOn(s.Listener))
	const requests = 50
	for i := range requests {
		// A new client connection each time: member connections outlive client ones.
		c := dialRaw(t, addr)
		resp, body := c.roundTrip(t, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n%d", i%10), "POST")
		if resp.StatusCode != 200 || body != strconv.Itoa(i%10) {
			t.Fatalf("request %d: %s %q", i, resp.Status, body)
		}
		c.Close()
	}
	if n := conns.Load(); n > 2 {
		t.Errorf("the member saw %d connections for %d sequential requests", n, requests)
	}
}

// closingBackend serves one request per connection with a keep-alive response, then reads the
// next request and closes the connection without answering: a member that timed the connection
// out just as the proxy reused it.
func closingBackend(t *testing.T) (sechannel.Server, *atomic.Int64) {
	var conns atomic.Int64
	srv := tcpServer(t, func(c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		if _, err := readHead(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		readHead(br)
	})
	return srv, &conns
}

func TestL7RetriesRequestOnConnectionTheMemberClosed(t *testing.T) {
	srv, conns := closingBackend(t)
	addr := l7(t, srv)
	c := dialRaw(t, addr)
	for i, req := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /again HTTP/1.1\r\nHost: x\r\n\r\n",
		"DELETE /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
		"POST /nobody HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		resp, body := c.roundTrip(t, req, strings.Fields(req)[0])
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d over a connection the member closed: %s %q", i, resp.Status, body)
		}
	}
	if conns.Load() < 4 {
		t.Errorf("member connections: %d", conns.Load())
	}

	// A member closing idle connections outright: the proxy sees it before reusing one.
	closer, closerConns := countingBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	addr = l7(t, serverOn(closer.Listener))
	c = dialRaw(t, addr)
	for i := range 3 {
		resp, body := c.roundTrip(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", "POST")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("POST %d after the member closed its idle connections: %s %q", i, resp.Status, body)
		}
		closer.CloseClientConnections()
		time.Sleep(50 * time.Millisecond)
	}
	if closerConns.Load() != 3 {
		t.Errorf("member connections: %d, want 3", closerConns.Load())
	}
}

func TestL7RefusesMalformedRequests(t *testing.T) {
	addr := l7(t, newBackend(t, "a").server())
	for req, want := range map[string]int{
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n":                            400,
		"GET / HTTP/1.1\r\n\r\n":                                        400,
		"GET / HTTP/3.0\r\nHost: x\r\n\r\n":                             505,
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n": 501,
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n": 400,
		"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("y", maxHeadBytes) + "\r\n\r\n":              431,
	} {
		c := dialRaw(t, addr)
		go io.WriteString(c, req)
		resp, err := http.ReadResponse(c.br, nil)
		if err == nil {
			io.ReadAll(resp.Body)
		}
		if err != nil || resp.StatusCode != want || !c.closed() {
			t.Errorf("%.60q: %v %v, want %d and the connection closed", req, resp, err, want)
		}
	}
}

func TestL7DrainsOnRemoval(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "done")
	}))
	t.Cleanup(slow.Close)
	d := newDP(t)
	port := testnet.FreePort(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{vs("web", port, avi.ProfileHTTP, "p", serverOn(slow.Listener))}}); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	idle := dialRaw(t, addr)
	if resp, _ := idle.roundTrip(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	busy := dialRaw(t, addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the request reaches the member
	if err := d.Apply(sechannel.Snapshot{Version: 2}); err != nil {
		t.Fatal(err)
	}
	if !idle.closed() {
		t.Error("an idle keep-alive connection stayed open after its listener was removed")
	}
	close(release)
	resp, err := http.ReadResponse(busy.br, nil)
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("the request in flight: %v %v, want 200 with Connection: close", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "done" || !busy.closed() {
		t.Errorf("the request in flight: %q, connection closed %v", body, busy.closed())
	}
}

// TestL7TriesAnotherMemberBeforeTheResponse is the L4 rule for requests: a member that resets a
// new connection before answering is left for another member when the request can be sent again
// (no body, or an idempotent method), and answered with 502 when it cannot (POST).
func TestL7TriesAnotherMemberBeforeTheResponse(t *testing.T) {
	bad, badConns := countingMember(t, func(c net.Conn) {
		readHead(bufio.NewReader(c))
		reset(c)
	})
	good, goodHits := countingBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	d := newDP(t)
	port := testnet.FreePort(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{vs("web", port, avi.ProfileHTTP, "p", bad, serverOn(good.Listener))}}); err != nil {
		t.Fatal(err)
	}
	stayUp(d, "p")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	const requests = 100
	for i := range requests {
		if body, err := get(t, url); err != nil || body != "ok" {
			t.Fatalf("GET %d with a member resetting new connections: %q %v", i, body, err)
		}
	}
	if badConns.Load() < requests/4 {
		t.Errorf("the resetting member saw %d connections: the policy should have picked it about %d times", badConns.Load(), requests/2)
	}
	t.Logf("%d GETs answered; the resetting member took %d connections first", requests, badConns.Load())

	badConns.Store(0)
	goodHits.Store(0)
	statuses := map[int]int{}
	for i := range requests {
		resp, err := client.Post(url, "text/plain", strings.NewReader(strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[200]+statuses[502] != requests || int64(statuses[502]) != badConns.Load() || statuses[502] == 0 {
		t.Errorf("POSTs: statuses %v, the resetting member took %d: want a 502 for each of its POSTs, never sent twice", statuses, badConns.Load())
	}
}

// TestL7CancelsTheRequestOfAClientThatLeft: a client that closes its connection while its
// request waits for the member abandons the request: the member sees its connection closed,
// and the next request gets a new member connection. A client that waits gets a late answer.
func TestL7CancelsTheRequestOfAClientThatLeft(t *testing.T) {
	got := make(chan struct{}, 2)
	closed := make(chan struct{}, 2)
	member, conns := countingMember(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			head, err := readHead(br)
			if err != nil {
				return
			}
			switch {
			case bytes.HasPrefix(head, []byte("GET /quick ")):
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue
			case bytes.HasPrefix(head, []byte("GET /late ")):
				time.Sleep(3 * watchAfter)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
				continue
			}
			got <- struct{}{}
			// A slow answer: wait for the proxy to give up on it.
			if _, err := br.ReadByte(); err != nil {
				closed <- struct{}{}
			}
			return
		}
	})
	addr := l7(t, member)
	c := dialRaw(t, addr)
	if resp, body := c.roundTrip(t, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n", "GET"); resp.StatusCode != 200 || body != "late" {
		t.Fatalf("a late answer to a client that waits: %s %q", resp.Status, body)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the member never got the request")
	}
	c.Close()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the client left, and the member's connection stays open: the request was not cancelled")
	}
	resp, body := dialRaw(t, addr).roundTrip(t, "GET /quick HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("the next request: %s %q", resp.Status, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("member connections: %d, want 2 (the late answer's kept alive, then a new one): the abandoned one must not be kept alive", n)
	}
}

// TestL7ClosesAClientThatStopsSendingItsBody: a request body that stops coming for
// clientBodyTimeout ends both connections, the member's included (it does not go back to the
// pool); a body that keeps coming, however slowly, goes through.
func TestL7ClosesAClientThatStopsSendingItsBody(t *testing.T) {
	was := clientBodyTimeout
	// A silence of one second is never cut: deadlines move by deadlineSlack at most early.
	clientBodyTimeout = 3 * time.Second
	t.Cleanup(func() { clientBodyTimeout = was })
	closed := make(chan struct{}, 4)
	member, conns := countingMember(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := readHead(br); err != nil {
				closed <- struct{}{}
				return
			}
			if _, err := io.ReadFull(br, make([]byte, 6)); err != nil {
				closed <- struct{}{}
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	addr := l7(t, member)

	tests := []struct {
		name string
		sent string // the body's bytes sent before the client falls silent
	}{
		{"no body", ""},
		{"half a body", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n"+tt.sent)
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the client fell silent mid-body, and the member's connection stays open")
			}
			if _, err := io.ReadAll(c.br); err != nil {
				t.Fatalf("the client's connection: %v, want it closed", err)
			}
		})
	}

	c := dialRaw(t, addr)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
	for _, b := range "abcde" {
		time.Sleep(time.Second)
		if _, err := io.WriteString(c, string(b)); err != nil {
			t.Fatalf("a slow body that keeps coming, cut: %v", err)
		}
	}
	if resp, body := c.roundTrip(t, "f", "POST"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("a slow body that keeps coming: %s %q", resp.Status, body)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("member connections: %d, want 3: one per cut body, none reused", n)
	}
}

// TestL7ChunkedFraming: a request body in chunked framing goes to the member byte for byte when
// it follows RFC 9112 to the letter; one that does not gets 400 and a close, and the member gets
// nothing of it when the fault is in what came with the head, or sees its connection end when
// the fault comes after the head went out.
func TestL7ChunkedFraming(t *testing.T) {
	type received struct {
		body []byte
		err  error
	}
	got := make(chan received, 64)
	member, conns := countingMember(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := readHead(br); err != nil {
			return
		}
		var body []byte
		for !bytes.HasSuffix(body, []byte("\r\n\r\n")) {
			b, err := br.ReadByte()
			if err != nil {
				got <- received{body, err}
				return
			}
			body = append(body, b)
		}
		got <- received{body, nil}
		// It serves one request a connection and says so: a kept-alive answer followed by a
		// close would race the proxy's next use of the connection (a POST it cannot resend).
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
	})
	addr := l7(t, member)
	const head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

	valid := []string{
		"0\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\n",
		"5;name=value\r\nhello\r\n6 ; a=\"q\" ;b\r\n world\r\n0\r\n\r\n",
		"5\r\nhello\r\n0\r\nX-Sum: 5\r\nX-Other: a b\r\n\r\n",
		"A\r\n0123456789\r\n0;last\r\n\r\n",
	}
	for _, body := range valid {
		c := dialRaw(t, addr)
		if resp, text := c.roundTrip(t, head+body, "POST"); resp.StatusCode != 200 || text != "ok" {
			t.Fatalf("valid body %q: %s %q", body, resp.Status, text)
		}
		if r := <-got; r.err != nil || string(r.body) != body {
			t.Errorf("valid body %q: the member got %q (%v)", body, r.body, r.err)
		}
	}

	malformed := []struct {
		name string
		body string
	}{
		{"bare CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n"},
		{"CR CR LF after data", "5\r\nhello\r\r\n0\r\n\r\n"},
		{"bare LF after a size", "5\nhello\r\n0\r\n\r\n"},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n"},
		{"bare LF ends the body", "5\r\nhello\r\n0\r\n\n"},
		{"size -1", "-1\r\nhello\r\n0\r\n\r\n"},
		{"size 0x5", "0x5\r\nhello\r\n0\r\n\r\n"},
		{"data longer than its size", "3\r\nhello\r\n0\r\n\r\n"},
		{"bare LF in the trailer", "0\r\nX-A: 1\n\r\n"},
	}
	before := conns.Load()
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			if resp, _ := c.roundTrip(t, head+tt.body, "POST"); resp.StatusCode != 400 {
				t.Errorf("status %s, want 400", resp.Status)
			}
			if !c.closed() {
				t.Error("the connection stays open")
			}
		})
	}
	select {
	case r := <-got:
		t.Errorf("a malformed body reached the member: %q", r.body)
	default:
	}
	if n := conns.Load() - before; n != 0 {
		t.Errorf("malformed bodies opened %d member connections, want none", n)
	}

	t.Run("fault after the head went out", func(t *testing.T) {
		c := dialRaw(t, addr)
		io.WriteString(c, head+"5\r\nhel")
		time.Sleep(time.Second)
		io.WriteString(c, "lo\r\r\n0\r\n\r\n")
		select {
		case r := <-got:
			if r.err == nil {
				t.Errorf("the member got a whole body: %q", r.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the member's connection stays open")
		}
		if !c.closed() {
			io.ReadAll(c.br)
		}
		if _, err := c.br.ReadByte(); err != io.EOF {
			t.Errorf("the client's connection: %v, want closed", err)
		}
	})
}

// TestL7HTTP10WithTransferEncoding: an HTTP/1.0 request with Transfer-Encoding is served, and
// then its connection closes (RFC 9112, 6.1), keep-alive or not.
func TestL7HTTP10WithTransferEncoding(t *testing.T) {
	addr := l7(t, serverOn(headersBackend(t).Listener))
	c := dialRaw(t, addr)
	resp, _ := c.roundTrip(t, "POST / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST")
	if resp.StatusCode != 200 {
		t.Fatalf("status %s, want 200", resp.Status)
	}
	if !c.closed() {
		t.Error("the connection stays open after an HTTP/1.0 request with Transfer-Encoding")
	}
}
