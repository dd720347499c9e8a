package dataplane

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseRequestHead(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		err        error // nil: parses
		method     string
		target     string
		minor      int
		headers    int
	}{
		{name: "simple", head: "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", target: "/a?b=c", minor: 1, headers: 1},
		{name: "bare LF line ends", head: "GET / HTTP/1.1\nHost: x\nAccept: */*\n\n", method: "GET", target: "/", minor: 1, headers: 2},
		{name: "HTTP/1.0 without headers", head: "GET / HTTP/1.0\r\n\r\n", method: "GET", target: "/", minor: 0},
		{name: "HTTP/1.2 is served as 1.1", head: "GET / HTTP/1.2\r\nHost: x\r\n\r\n", method: "GET", target: "/", minor: 1, headers: 1},
		{name: "whitespace around values and empty values", head: "POST * HTTP/1.1\r\nHost:x\r\nX-Empty:\r\nX-Pad: \t v \t\r\n\r\n", method: "POST", target: "*", minor: 1, headers: 3},
		{name: "obs-text in a value", head: "GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\n\r\n", method: "GET", target: "/", minor: 1, headers: 2},
		{name: "HTTP/2 preface", head: "PRI * HTTP/2.0\r\n\r\n", err: errHTTPVersion},
		{name: "no version", head: "GET /\r\n\r\n", err: errMalformed},
		{name: "double space", head: "GET  / HTTP/1.1\r\n\r\n", err: errMalformed},
		{name: "lower-case version", head: "GET / http/1.1\r\n\r\n", err: errMalformed},
		{name: "method not a token", head: "G(T / HTTP/1.1\r\n\r\n", err: errMalformed},
		{name: "control character in target", head: "GET /\x01 HTTP/1.1\r\n\r\n", err: errMalformed},
		{name: "space before colon", head: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", err: errMalformed},
		{name: "obsolete line folding", head: "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", err: errMalformed},
		{name: "no colon", head: "GET / HTTP/1.1\r\nHost\r\n\r\n", err: errMalformed},
		{name: "empty name", head: "GET / HTTP/1.1\r\n: x\r\n\r\n", err: errMalformed},
		{name: "bare CR in a value", head: "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", err: errMalformed},
		{name: "NUL in a value", head: "GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", err: errMalformed},
		{name: "not ended", head: "GET / HTTP/1.1\r\nHost: x\r\n", err: errMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h requestHead
			err := parseRequestHead([]byte(tc.head), &h)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(h.method) != tc.method || string(h.target) != tc.target || h.minor != tc.minor || len(h.headers) != tc.headers {
				t.Errorf("got %s %s 1.%d with %d headers", h.method, h.target, h.minor, len(h.headers))
			}
		})
	}
}

func TestParseResponseHead(t *testing.T) {
	for _, tc := range []struct {
		head   string
		ok     bool
		status int
		reason string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, 200, "OK"},
		{"HTTP/1.1 404 Not Found\r\n\r\n", true, 404, "Not Found"},
		{"HTTP/1.0 204\r\n\r\n", true, 204, ""},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", true, 101, "Switching Protocols"},
		{"HTTP/1.1 20 OK\r\n\r\n", false, 0, ""},
		{"HTTP/1.1 099 Low\r\n\r\n", false, 0, ""},
		{"HTTP/1.1 2x0 OK\r\n\r\n", false, 0, ""},
		{"ICY 200 OK\r\n\r\n", false, 0, ""},
		{"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", false, 0, ""},
	} {
		var h responseHead
		err := parseResponseHead([]byte(tc.head), &h)
		if (err == nil) != tc.ok || tc.ok && (h.status != tc.status || string(h.reason) != tc.reason) {
			t.Errorf("%q: status %d reason %q err %v", tc.head, h.status, h.reason, err)
		}
	}
}

func TestRequestInspect(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		status     int // 0: accepted
		check      func(r *request) bool
	}{
		{"keep-alive by default in 1.1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(r *request) bool { return !r.close }},
		{"close asked", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\n\r\n", 0, func(r *request) bool { return r.close }},
		{"1.0 closes by default", "GET / HTTP/1.0\r\n\r\n", 0, func(r *request) bool { return r.close && !r.hasHost }},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, func(r *request) bool { return !r.close }},
		{"length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n", 0, func(r *request) bool { return r.length == 12 }},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", 0, func(r *request) bool { return r.chunked }},
		{"upgrade", "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", 0, func(r *request) bool { return string(r.upgrade) == "websocket" }},
		{"upgrade field without the token", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", 0, func(r *request) bool { return len(r.upgrade) == 0 }},
		{"absolute form", "GET http://example.com:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n", 0, func(r *request) bool {
			return string(r.host) == "example.com:81" && string(r.target) == "/p?q"
		}},
		{"TE trailers kept", "GET / HTTP/1.1\r\nHost: x\r\nTE: gzip, trailers\r\n\r\n", 0, func(r *request) bool { return r.teTrailers }},
		{"no Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400, nil},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, nil},
		{"conflicting lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, nil},
		{"signed length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", 400, nil},
		{"length and chunked", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nil},
		{"gzip transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, nil},
		{"chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, nil},
		{"authority form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r request
			if err := parseRequestHead([]byte(tc.head), &r.head); err != nil {
				t.Fatal(err)
			}
			status, err := r.inspect()
			if tc.status != 0 {
				if status != tc.status || err == nil {
					t.Fatalf("got %d %v, want %d", status, err, tc.status)
				}
				return
			}
			if err != nil || !tc.check(&r) {
				t.Fatalf("got %+v, %v", r, err)
			}
		})
	}
}

func TestReadHead(t *testing.T) {
	long := "GET / HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("c", 3*bufferSize) + "\r\n\r\n"
	for _, tc := range []struct {
		name, in string
		want     string
		err      error
	}{
		{"in the buffer, body left", "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", nil},
		{"larger than the buffer", long + "BODY", long, nil},
		{"too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("c", maxHeadBytes) + "\r\n\r\n", "", errHeadTooLarge},
		{"cut short", "GET / HTTP/1.1\r\nHost: x\r\n", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), bufferSize)
			head, err := readHead(br)
			if tc.want == "" {
				if err == nil || tc.err != nil && !errors.Is(err, tc.err) {
					t.Fatalf("got %d bytes, %v; want an error", len(head), err)
				}
				return
			}
			if err != nil || string(head) != tc.want {
				t.Fatalf("got %d bytes, %v", len(head), err)
			}
			if rest, _ := br.ReadString(0); rest != "BODY" {
				t.Errorf("after the head: %q", rest)
			}
		})
	}
}

func TestCopyChunked(t *testing.T) {
	in := "4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Sum: 1\r\n\r\nNEXT"
	for _, framing := range []bool{true, false} {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		br := bufio.NewReaderSize(strings.NewReader(in), 16)
		n, err := copyChunked(bw, br, framing)
		bw.Flush()
		want := "Wikipedia in \r\n\r\nchunks."
		if framing {
			want = strings.TrimSuffix(in, "NEXT")
		}
		if err != nil || n != 24 || out.String() != want {
			t.Errorf("framing %v: %d bytes of data, %v, wrote %q", framing, n, err, out.String())
		}
		if rest, _ := br.ReadString(0); rest != "NEXT" {
			t.Errorf("framing %v: after the body: %q", framing, rest)
		}
	}
	for _, bad := range []string{"x\r\n", "4\r\nWikiXX\r\n0\r\n\r\n", "4\r\nWi", "fffffffffffffffff\r\n", "-1\r\n"} {
		bw := bufio.NewWriter(&bytes.Buffer{})
		if _, err := copyChunked(bw, bufio.NewReader(strings.NewReader(bad)), true); err == nil {
			t.Errorf("%q copied without an error", bad)
		}
	}
}

// FuzzParseRequestHead: any bytes either fail to parse or parse into fields that are what
// they claim to be; nothing panics.
func FuzzParseRequestHead(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /p HTTP/1.0\nContent-Length: 3\n\n",
		"GET http://a/b HTTP/1.1\r\nHost: a\r\nConnection: close, X-A\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		n := headEnd(in)
		if n < 0 {
			return
		}
		var r request
		if parseRequestHead(in[:n], &r.head) != nil {
			return
		}
		if !isToken(r.head.method) || !validTarget(r.head.target) || r.head.minor > 1 {
			t.Fatalf("request line %q %q 1.%d", r.head.method, r.head.target, r.head.minor)
		}
		for _, h := range r.head.headers {
			if !isToken(h.name) || h.kind != kindOf(h.name) || bytes.ContainsAny(h.value, "\r\n\x00") {
				t.Fatalf("header %q: %q", h.name, h.value)
			}
		}
		r.inspect()
	})
}
