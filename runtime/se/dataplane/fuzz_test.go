package dataplane

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzChunked: the chunked body parser never panics; a body it copies whole goes out byte for
// byte as it came, and is one that checkChunked, the check made before the head goes out, also
// accepts.
func FuzzChunked(f *testing.F) {
	for _, seed := range []string{
		"0\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\n",
		"5;name=value\r\nhello\r\n6 ; a=\"q\" ;b\r\n world\r\n0\r\n\r\n",
		"5\r\nhello\r\n0\r\nX-Sum: 5\r\nX-Other: a b\r\n\r\n",
		"5;a\rb\r\nhello\r\n0\r\n\r\n",
		"5\r\nhello\r\r\n0\r\n\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"-1\r\nhello\r\n0\r\n\r\n",
		"0x5\r\nhello\r\n0\r\n\r\n",
		"3\r\nhello\r\n0\r\n\r\n",
		"0\r\nX-A: 1\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		src := bufio.NewReaderSize(bytes.NewReader(in), bufferSize)
		n, err := copyChunked(bw, src, true)
		bw.Flush()
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(src)
		body := in[:len(in)-len(rest)]
		if !bytes.Equal(out.Bytes(), body) {
			t.Fatalf("body %q went out as %q", body, out.Bytes())
		}
		if n > int64(len(body)) {
			t.Fatalf("%d bytes of data in a body of %d", n, len(body))
		}
		if err := checkChunked(body); err != nil {
			t.Fatalf("body %q copied, and refused by checkChunked: %v", body, err)
		}
	})
}

// FuzzParseResponseHead: any bytes either fail to parse or parse into fields that are what
// they claim to be; nothing panics.
func FuzzParseResponseHead(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.0 204 No Content\n\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close, X-A\r\nX-A: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		n := headEnd(in)
		if n < 0 {
			return
		}
		var rs response
		if parseResponseHead(in[:n], &rs.head) != nil {
			return
		}
		if rs.head.status < 100 || rs.head.status > 999 {
			t.Fatalf("status %d", rs.head.status)
		}
		for _, h := range rs.head.headers {
			if !isToken(h.name) || h.kind != kindOf(h.name) || bytes.ContainsAny(h.value, "\r\n\x00") {
				t.Fatalf("header %q: %q", h.name, h.value)
			}
		}
		for _, toHEAD := range []bool{false, true} {
			if rs.inspect(toHEAD) == nil && rs.length < untilClose {
				t.Fatalf("body length %d", rs.length)
			}
		}
	})
}
